// Types of endpoint.js, for the tests that import it (router/test/security/dashboard.test.ts).
export declare function wampUrl(location: { protocol: string; host: string }, requested: string | null): string;
