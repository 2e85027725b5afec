import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** The unit project: `test/unit/` of the router, the client and the schemas. */
const UNIT = '{router,client,schemas}/test/unit/**/*.test.ts';

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
    // Under CI, also a JSON report, from which .ci/run prints a one-line 'N passed, N failed' summary.
    reporters: process.env['CI'] === 'true' ? ['default', ['json', { outputFile: '.vitest-results.json' }]] : ['default'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Two projects (`vitest run --project unit`, `npm run test:unit`): `unit` is the pure logic —
    // fake endpoints, injected clocks, no socket, no child process, no router started — and runs
    // in seconds; `e2e` is everything else (real routers on ephemeral ports, CLIs, browsers,
    // system packages). `extends: true` gives both the aliases and settings above; the include
    // lists are set per project only (vite would concatenate them with a root list).
    // `npm run test:unit` adds --no-isolate (one module graph per worker instead of one per file:
    // half the time, the router's index imported once; vitest sets isolation for the whole run,
    // not per project). So unit tests must leave no global state behind: restore fake timers
    // (vi.useRealTimers) and the environment variables they change.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [UNIT],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['**/test/**/*.test.ts', '**/src/**/*.test.ts'],
          exclude: [UNIT],
          typecheck: { enabled: true, include: ['**/test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
        },
      },
    ],
  },
});
