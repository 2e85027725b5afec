/** Optional dependencies (router/src/optional.ts): which errors mean "not installed", and what is said then. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { MissingDependencyError, NATS, PINO_PRETTY, SQLITE, importOptional, installCommand, missingPackage, requireOptional } from '../../src/optional.js';

const notFound = (message: string, code = 'ERR_MODULE_NOT_FOUND'): Error => Object.assign(new Error(message), { code });
const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  optionalDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

describe('optional dependencies', () => {
  it('are the router package.json optionalDependencies, not its dependencies', () => {
    for (const p of [...NATS.packages, ...SQLITE.packages, ...PINO_PRETTY.packages]) {
      expect(manifest.optionalDependencies[p], p).toBeDefined();
      expect(manifest.dependencies[p], p).toBeUndefined();
    }
  });

  it("bufferutil is one, and the router's ws finds its native build (masking and unmasking in C: without it the router's CPU per call at 64 KiB was 1.7–2.5× higher)", () => {
    expect(manifest.optionalDependencies['bufferutil']).toBeDefined();
    // Resolved as ws resolves it from the router's dependencies; its JavaScript fallback is what a
    // platform without a prebuilt binary (and no compiler at install) gets.
    const fromWs = createRequire(createRequire(new URL('../../package.json', import.meta.url)).resolve('ws'));
    expect(fromWs('bufferutil')).not.toBe(fromWs('bufferutil/fallback.js'));
  });

  it('a module-not-found error naming one of the packages (or a module in it) is that package missing', () => {
    expect(missingPackage(notFound("Cannot find package '@nats-io/kv' imported from /x/node.js"), NATS.packages)).toBe('@nats-io/kv');
    expect(missingPackage(notFound("Cannot find module '@nats-io/jetstream/internal' imported from /x"), NATS.packages)).toBe('@nats-io/jetstream');
    expect(missingPackage(notFound("Cannot find module 'pino-pretty'", 'MODULE_NOT_FOUND'), PINO_PRETTY.packages)).toBe('pino-pretty');
    // Another package missing, another error, or not an Error: not this.
    expect(missingPackage(notFound("Cannot find package 'nats-core' imported from /x"), NATS.packages)).toBeUndefined();
    expect(missingPackage(new SyntaxError("Unexpected token in '@nats-io/kv'"), NATS.packages)).toBeUndefined();
    expect(missingPackage("Cannot find package '@nats-io/kv'", NATS.packages)).toBeUndefined();
  });

  it('importOptional turns a missing package into a MissingDependencyError with the install line, and passes other errors on', async () => {
    const missing = importOptional(NATS, () => Promise.reject(notFound("Cannot find package '@nats-io/kv' imported from /x")));
    await expect(missing).rejects.toBeInstanceOf(MissingDependencyError);
    await expect(missing).rejects.toThrow(
      "the config's `cluster` block (a cluster over NATS) needs the optional packages @nats-io/transport-node, @nats-io/kv, @nats-io/jetstream; @nats-io/kv is not installed: " +
        `run \`npm install @nats-io/transport-node@${manifest.optionalDependencies['@nats-io/transport-node']} @nats-io/kv@${manifest.optionalDependencies['@nats-io/kv']} @nats-io/jetstream@${manifest.optionalDependencies['@nats-io/jetstream']}\``,
    );
    const broken = new Error('a bug in the package');
    await expect(importOptional(NATS, () => Promise.reject(broken))).rejects.toBe(broken);
    await expect(importOptional(NATS, () => Promise.resolve(42))).resolves.toBe(42);
  });

  it('installCommand pins the versions of router/package.json', () => {
    expect(installCommand(PINO_PRETTY)).toBe(`npm install pino-pretty@${manifest.optionalDependencies['pino-pretty']}`);
  });

  it('requireOptional: the package when installed, undefined when not', () => {
    expect(typeof requireOptional(PINO_PRETTY, 'pino-pretty')).toBe('function');
    expect(requireOptional({ feature: 'a test', packages: ['switchboard-no-such-package'] }, 'switchboard-no-such-package')).toBeUndefined();
    expect(() => requireOptional(PINO_PRETTY, 'switchboard-no-such-package')).toThrow(/Cannot find module/);
  });
});

describe('better-sqlite3 (store type sqlite)', () => {
  it('a missing better-sqlite3 names the store setting and the npm install line', async () => {
    const missing = importOptional(SQLITE, () => Promise.reject(notFound("Cannot find package 'better-sqlite3' imported from /x/sqlite.js")));
    await expect(missing).rejects.toThrow(
      `the config's \`store: { type: "sqlite" }\` (event history in a SQLite file) needs the optional package better-sqlite3; better-sqlite3 is not installed: run \`npm install better-sqlite3@${manifest.optionalDependencies['better-sqlite3']}\``,
    );
  });
});
