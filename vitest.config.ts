import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; `npm test` also builds dist/ for the CLI tests.
    // Regex finds, so that subpaths (`@switchboard/schemas/json`) map to their own entry files.
    alias: [
      { find: /^@switchboard\/schemas$/, replacement: here('./schemas/src/index.ts') },
      { find: /^@switchboard\/schemas\/(core|json|msgpack|cbor)$/, replacement: here('./schemas/src/$1.ts') },
      { find: /^@switchboard\/router$/, replacement: here('./router/src/index.ts') },
      { find: /^@switchboard\/client$/, replacement: here('./client/src/node.ts') },
      { find: /^@switchboard\/client\/(browser|msgpack|cbor|cli|auth)$/, replacement: here('./client/src/$1.ts') },
      { find: /^@switchboard\/client\/auth\/scram$/, replacement: here('./client/src/auth/scram.ts') },
    ],
  },
  test: {
    include: ['**/test/**/*.test.ts', '**/src/**/*.test.ts'],
    // Under CI, also a JSON report, from which .ci/run prints a one-line 'N passed, N failed' summary.
    reporters: process.env['CI'] === 'true' ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    typecheck: { enabled: true, include: ['**/test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
  },
});
