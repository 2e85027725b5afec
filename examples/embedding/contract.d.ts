/**
 * The typed contract the router-side procedure and its callers share: URIs, arguments, results
 * and progress, checked by TypeScript (app.mjs uses it through JSDoc).
 */
export interface Api {
  procedures: {
    /** Greets someone, reporting progress as it looks them up. */
    'com.example.greet': { args: [name: string]; result: string; progress: [step: string] };
  };
  topics: {
    /** Published by the router's own session after each greeting. */
    'com.example.greeted': { args: [name: string] };
  };
}
