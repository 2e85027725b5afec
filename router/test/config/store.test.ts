/**
 * The `store` block (where event history and retained events are kept) and the realm keys of
 * history: defaults, the schema's bounds, jetstream needing a cluster, a sqlite path relative to
 * the config file, and what `switchboard check` says about a path it could not write.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfig, loadConfig, resolveConfig } from '@switchboard/router';
import { main } from '../../src/cli.js';
import { storeProblems } from '../../src/history/open.js';
import { configError, tempDir, writeConfig } from './support.js';

const problemsOf = (value: unknown): string[] => configError(() => checkConfig(value)).problems;

/** Runs `switchboard check FILE` in this process. */
async function check(path: string): Promise<{ exit: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const exit = await main(['check', path], { out: (t) => (out += t), err: (t) => (err += t), env: {} });
  return { exit, out, err };
}

const CLUSTER = { nats: { servers: ['nats://127.0.0.1:4222'] } };

describe('store block', () => {
  it('absent: the memory store, batched', () => {
    expect(resolveConfig().store).toEqual({
      type: 'memory',
      path: './data/switchboard.db',
      durability: 'batched',
      expiryIntervalMs: 10_000,
      replicas: 1,
      storage: 'file',
    });
  });

  it('what the file sets is kept, the rest filled in', () => {
    expect(resolveConfig({ store: { type: 'sqlite', durability: 'ack' } }).store).toEqual({
      type: 'sqlite',
      path: './data/switchboard.db',
      durability: 'ack',
      expiryIntervalMs: 10_000,
      replicas: 1,
      storage: 'file',
    });
    expect(resolveConfig({ store: { type: 'jetstream', replicas: 3, storage: 'memory' }, cluster: CLUSTER }).store).toMatchObject({
      replicas: 3,
      storage: 'memory',
    });
  });

  it("cluster.nats.replicas (default 1) is the KV buckets' and, unless store.replicas is set, the history streams' (#19)", () => {
    const cluster = resolveConfig({ cluster: CLUSTER }).cluster!;
    expect([cluster.nats.replicas, cluster.nats.randomize]).toEqual([1, true]);
    const three = { nats: { ...CLUSTER.nats, replicas: 3 as const, randomize: false } };
    const resolved = resolveConfig({ store: { type: 'jetstream' }, cluster: three });
    expect([resolved.cluster?.nats.replicas, resolved.cluster?.nats.randomize, resolved.store.replicas]).toEqual([3, false, 3]);
    expect(resolveConfig({ store: { type: 'jetstream', replicas: 1 }, cluster: three }).store.replicas).toBe(1);
    expect(problemsOf({ cluster: { nats: { ...CLUSTER.nats, replicas: 2 } } })).toEqual([expect.stringMatching(/^\/cluster\/nats\/replicas: .*1.*3.*5/)]);
  });

  it('an unknown type, durability or key is refused with its pointer', () => {
    expect(problemsOf({ store: { type: 'postgres' } })).toEqual([expect.stringMatching(/^\/store\/type: .*memory.*sqlite.*jetstream/)]);
    expect(problemsOf({ store: { durability: 'sync' } })).toEqual([expect.stringMatching(/^\/store\/durability: /)]);
    expect(problemsOf({ store: { type: 'sqlite', file: 'x.db' } })).toEqual([expect.stringMatching(/^\/store.*file/)]);
    expect(problemsOf({ store: { expiryIntervalMs: 10 } })).toEqual([expect.stringMatching(/^\/store\/expiryIntervalMs: /)]);
    expect(problemsOf({ store: { type: 'sqlite', path: '' } })).toEqual([expect.stringMatching(/^\/store\/path: /)]);
  });

  it('jetstream needs the cluster block', () => {
    expect(problemsOf({ store: { type: 'jetstream' } })).toEqual([expect.stringMatching(/^\/store\/type: 'jetstream' .* no cluster block/)]);
    expect(() => checkConfig({ store: { type: 'jetstream' }, cluster: CLUSTER })).not.toThrow();
  });

  it("a relative sqlite path (and the default one) is relative to the config file's directory", () => {
    const dir = tempDir();
    expect(loadConfig(writeConfig({ store: { type: 'sqlite', path: 'db/history.db' } }, 'config.json', dir)).file.store?.path).toBe(join(dir, 'db/history.db'));
    expect(loadConfig(writeConfig({ store: { type: 'sqlite' } }, 'config.json', dir)).file.store?.path).toBe(join(dir, 'data/switchboard.db'));
    expect(loadConfig(writeConfig({ store: { type: 'sqlite', path: '/var/x.db' } }, 'config.json', dir)).file.store?.path).toBe('/var/x.db');
    // Not sqlite: no path is made up.
    expect(loadConfig(writeConfig({ store: { type: 'memory' } }, 'config.json', dir)).file.store).toEqual({ type: 'memory' });
  });

  it('storeProblems: a directory that exists or can be created is fine; under a file, or a directory as the file, is not', () => {
    const dir = tempDir();
    expect(storeProblems({ type: 'sqlite', path: 'a/b/c.db' }, dir)).toEqual([]);
    expect(storeProblems({ type: 'sqlite', path: join(dir, 'c.db') }, '/')).toEqual([]);
    writeFileSync(join(dir, 'plain'), 'x');
    expect(storeProblems({ type: 'sqlite', path: 'plain/sub/c.db' }, dir)).toEqual([
      `/store/path: ${join(dir, 'plain/sub/c.db')}: cannot create its directory: ${join(dir, 'plain')} is not a directory`,
    ]);
    mkdirSync(join(dir, 'adir'));
    expect(storeProblems({ type: 'sqlite', path: 'adir' }, dir)).toEqual([`/store/path: ${join(dir, 'adir')}: is not a file`]);
    expect(storeProblems({ type: 'memory', path: 'plain/sub/c.db' }, dir)).toEqual([]);
    expect(storeProblems(undefined, dir)).toEqual([]);
  });

  it('switchboard check: exit 2 with the pointer for a path it cannot create, or jetstream without a cluster; exit 0 for a good one', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'plain'), 'x');
    const bad = await check(writeConfig({ store: { type: 'sqlite', path: 'plain/history.db' } }, 'bad.json', dir));
    expect(bad.exit).toBe(2);
    expect(bad.err).toContain(`/store/path: ${join(dir, 'plain/history.db')}: cannot create its directory: ${join(dir, 'plain')} is not a directory`);
    const jetstream = await check(writeConfig({ store: { type: 'jetstream' } }, 'js.json', dir));
    expect(jetstream.exit).toBe(2);
    expect(jetstream.err).toContain("/store/type: 'jetstream'");
    const unknown = await check(writeConfig({ store: { type: 'redis' } }, 'redis.json', dir));
    expect(unknown.exit).toBe(2);
    expect(unknown.err).toContain('/store/type');
    const good = await check(writeConfig({ store: { type: 'sqlite', path: 'data/h.db' } }, 'good.json', dir));
    expect(good).toEqual({ exit: 0, out: `${join(dir, 'good.json')}: configuration is valid\n`, err: '' });
  });
});

describe('realm history keys', () => {
  it('eventHistory: limit (per topic) 100 and maxAgeMs 0 by default; bounds checked', () => {
    const realm = resolveConfig({ realms: [{ name: 'r', eventHistory: [{ topic: 'a' }, { topic: 'b.', match: 'prefix', limit: 5, maxAgeMs: 60_000 }] }] })
      .realms[0]!;
    expect(realm.eventHistory).toEqual([
      { topic: 'a', match: 'exact', limit: 100, maxAgeMs: 0 },
      { topic: 'b.', match: 'prefix', limit: 5, maxAgeMs: 60_000 },
    ]);
    expect(problemsOf({ realms: [{ name: 'r', eventHistory: [{ topic: 'a', maxAgeMs: -1 }] }] })).toEqual([
      expect.stringMatching(/^\/realms\/0\/eventHistory\/0\/maxAgeMs: /),
    ]);
    expect(problemsOf({ realms: [{ name: 'r', eventHistory: [{ topic: 'a', limit: 1_000_001 }] }] })).toEqual([
      expect.stringMatching(/^\/realms\/0\/eventHistory\/0\/limit: /),
    ]);
  });

  it('limits.maxHistoryPage (1000, 1…100000) and limits.maxCatchUpEvents (10000)', () => {
    const limits = resolveConfig({ realms: [{ name: 'r' }] }).realms[0]!.limits;
    expect(limits.maxHistoryPage).toBe(1000);
    expect(limits.maxCatchUpEvents).toBe(10_000);
    expect(resolveConfig({ realms: [{ name: 'r', limits: { maxHistoryPage: 50, maxCatchUpEvents: 7 } }] }).realms[0]!.limits).toMatchObject({
      maxHistoryPage: 50,
      maxCatchUpEvents: 7,
    });
    expect(problemsOf({ realms: [{ name: 'r', limits: { maxHistoryPage: 0 } }] })).toEqual([expect.stringMatching(/^\/realms\/0\/limits\/maxHistoryPage: /)]);
    expect(problemsOf({ realms: [{ name: 'r', limits: { maxHistoryPage: 100_001 } }] })).toEqual([
      expect.stringMatching(/^\/realms\/0\/limits\/maxHistoryPage: /),
    ]);
    expect(problemsOf({ realms: [{ name: 'r', limits: { maxCatchUpEvents: 0 } }] })).toEqual([
      expect.stringMatching(/^\/realms\/0\/limits\/maxCatchUpEvents: /),
    ]);
  });

  it('limits.maxHistoryPageBytes (4 MiB, at least 1024)', () => {
    expect(resolveConfig({ realms: [{ name: 'r' }] }).realms[0]!.limits.maxHistoryPageBytes).toBe(4 * 1024 * 1024);
    expect(resolveConfig({ realms: [{ name: 'r', limits: { maxHistoryPageBytes: 2048 } }] }).realms[0]!.limits.maxHistoryPageBytes).toBe(2048);
    expect(problemsOf({ realms: [{ name: 'r', limits: { maxHistoryPageBytes: 1023 } }] })).toEqual([
      expect.stringMatching(/^\/realms\/0\/limits\/maxHistoryPageBytes: /),
    ]);
  });
});
