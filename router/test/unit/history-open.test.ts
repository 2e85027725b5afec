/** openStore (router/src/history/open.ts): the engine the `store` block names, opened. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { silentLogger } from '@switchboard/router';
import { DEFAULT_STORE } from '../../src/config/config.js';
import { openStore } from '../../src/history/open.js';
import type { EventStore } from '../../src/history/store.js';

const fake = (type: EventStore['type']): EventStore => ({
  type,
  shared: type === 'jetstream',
  realm: () => Promise.reject(new Error('not used')),
  stats: { events: 0, bytes: 0, expired: { count: 0, age: 0, bytes: 0 }, batches: 0, failures: 0 },
  close: () => Promise.resolve(),
});

describe('openStore', () => {
  it('memory: the factory the caller passes', async () => {
    const memory = fake('memory');
    expect(await openStore(DEFAULT_STORE, { configDir: '/', log: silentLogger(), memory: () => memory })).toBe(memory);
  });

  it('sqlite: a relative path under configDir, its directory created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-open-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const store = await openStore(
      { ...DEFAULT_STORE, type: 'sqlite', path: 'data/deeper/h.db' },
      { configDir: dir, log: silentLogger(), memory: () => fake('memory') },
    );
    onTestFinished(() => store.close());
    expect(store.type).toBe('sqlite');
    expect(store.shared).toBe(false);
    expect(existsSync(join(dir, 'data/deeper/h.db'))).toBe(true);
  });

  it('jetstream: the factory over the cluster connection; without one, a clear error', async () => {
    const js = fake('jetstream');
    const config = { ...DEFAULT_STORE, type: 'jetstream' as const };
    expect(await openStore(config, { configDir: '/', log: silentLogger(), memory: () => fake('memory'), jetstream: () => Promise.resolve(js) })).toBe(js);
    await expect(openStore(config, { configDir: '/', log: silentLogger(), memory: () => fake('memory') })).rejects.toThrow(/needs the cluster block/);
  });
});
