import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; `npm test` also builds dist/ for the CLI tests.
    alias: {
      '@switchboard/schemas': here('./schemas/src/index.ts'),
      '@switchboard/router': here('./router/src/index.ts'),
    },
  },
  test: {
    include: ['**/test/**/*.test.ts', '**/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    typecheck: { enabled: true, include: ['**/test/**/*.test-d.ts'], tsconfig: './tsconfig.test.json' },
  },
});
