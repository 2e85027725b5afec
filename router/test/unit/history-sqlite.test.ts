/**
 * The SQLite engine (router/src/history/sqlite.ts) on a real file in a temp folder: the engine
 * conformance suite, and what is SQLite's own — the file's schema version, read-only opening,
 * a write failure reported without throwing at the publisher, expiry in chunks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import { SqliteStore } from '../../src/history/sqlite.js';
import type { SqliteStoreOptions } from '../../src/history/sqlite.js';
import type { EventStore, HistoryEvent } from '../../src/history/store.js';
import { describeStoreConformance } from './history-conformance.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-sqlite-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The options each store of the suite was opened with, to reopen it on the same file. */
const opened = new WeakMap<EventStore, SqliteStoreOptions>();

describeStoreConformance(
  'sqlite',
  async (ctx) => {
    const options: SqliteStoreOptions = { path: join(tempDir(), 'history.db'), now: ctx.now, expiryIntervalMs: 0 };
    const store = await SqliteStore.open(options);
    opened.set(store, options);
    return store;
  },
  {
    reopen: async (store) => {
      const options = opened.get(store)!;
      await store.close();
      const again = await SqliteStore.open(options);
      opened.set(again, options);
      return again;
    },
    expire: (store) => (store as SqliteStore).expire(),
  },
);

function event(publication: number, topic = 't', at = 1000): HistoryEvent {
  return { at, publication: publication as PublicationId, topic, details: {}, args: [publication], kwargs: undefined, filter: {} };
}

describe('SqliteStore', () => {
  it('applyPolicies: a reopened file takes the rules now — a lowered limit trimmed in chunks, a new age, a lowered budget — before any append', async () => {
    const path = join(tempDir(), 'h.db');
    const now = 10_000;
    const writer = await SqliteStore.open({ path, expiryIntervalMs: 0, now: () => now });
    const before = await writer.realm('r', 1e9);
    for (let i = 1; i <= 2500; i++) before.append(event(i, 'many', 1000), { limit: 5000, maxAgeMs: 0 });
    before.append(event(9001, 'aged', 1000), { limit: 10, maxAgeMs: 0 });
    before.append(event(9002, 'gone', 1000), { limit: 10, maxAgeMs: 0 });
    await before.flush();
    await writer.close();

    const store = await SqliteStore.open({ path, expiryIntervalMs: 0, now: () => now });
    onTestFinished(() => store.close());
    const realm = await store.realm('r', 1e9);
    const policies = new Map([
      ['many', { limit: 3, maxAgeMs: 0 }],
      ['aged', { limit: 10, maxAgeMs: 5000 }],
    ]);
    // Chunks of at most 1000 rows, the event loop served between them.
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    await realm.applyPolicies!((topic) => policies.get(topic));
    clearInterval(counting);
    expect(turns).toBeGreaterThanOrEqual(1);
    const read = async (topic: string): Promise<unknown[]> =>
      (await realm.query({ select: { match: 'exact', topic }, limit: 100 })).events.map((e) => e.publication);
    expect(await read('many')).toEqual([2498, 2499, 2500]);
    expect(store.stats.expired.count).toBe(2497);
    // The new age applies to reads at once (now - at = 9000 > 5000), the rows go on the expiry pass.
    expect(await read('aged')).toEqual([]);
    // A topic no rule keeps any more stays as it was.
    expect(await read('gone')).toEqual([9002]);
    expect(realm.size.events).toBe(5);
    await store.expire();
    expect(realm.size.events).toBe(4);
    // A budget lowered since: applied at once too, oldest first.
    const small = await store.realm('r', 1);
    await small.applyPolicies!((topic) => policies.get(topic));
    expect(small.size.events).toBe(0);
  });

  it('WAL journal; a file of a newer schema version is refused with a message that says so', async () => {
    const path = join(tempDir(), 'h.db');
    const store = await SqliteStore.open({ path, expiryIntervalMs: 0 });
    await store.close();
    const { default: Database } = (await import('better-sqlite3' as string)) as {
      default: new (p: string) => { pragma(s: string, o?: { simple: boolean }): unknown; exec(s: string): void; close(): void };
    };
    const db = new Database(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.exec("UPDATE meta SET value = 99 WHERE key = 'schema'");
    db.close();
    await expect(SqliteStore.open({ path, expiryIntervalMs: 0 })).rejects.toThrow(
      /written by a newer Switchboard \(schema version 99; this router reads version 1\)/,
    );
  });

  it('read-only: reads what a writer stored, writes nothing, refuses a file that is not a store', async () => {
    const dir = tempDir();
    const path = join(dir, 'h.db');
    const writer = await SqliteStore.open({ path, expiryIntervalMs: 0 });
    const realm = await writer.realm('r', 1e9);
    realm.append(event(1), { limit: 10, maxAgeMs: 0 });
    realm.append(event(2), { limit: 10, maxAgeMs: 0 });
    await realm.flush();
    const reader = await SqliteStore.open({ path, readonly: true });
    onTestFinished(() => reader.close());
    const read = await reader.realm('r', 1e9);
    expect((await read.query({ select: { match: 'exact', topic: 't' }, limit: 10 })).events.map((e) => e.publication)).toEqual([1, 2]);
    read.append(event(3), { limit: 10, maxAgeMs: 0 });
    await read.flush();
    expect(read.size.events).toBe(2);
    await writer.close();
    await expect(SqliteStore.open({ path: join(dir, 'missing.db'), readonly: true })).rejects.toThrow();
  });

  it('a failed batch rejects flush, is counted and reported, and the store goes on', async () => {
    const path = join(tempDir(), 'h.db');
    const errors: unknown[] = [];
    const batches: number[] = [];
    const store = await SqliteStore.open({ path, expiryIntervalMs: 0, onError: (err) => errors.push(err), onBatch: (_s, n) => batches.push(n) });
    onTestFinished(() => store.close());
    const realm = await store.realm('r', 1e9);
    // A publication ID SQLite cannot take as an integer makes the insert fail (NOT NULL on a NaN).
    realm.append({ ...event(1), publication: Number.NaN as PublicationId }, { limit: 10, maxAgeMs: 0 });
    await expect(realm.flush()).rejects.toThrow();
    expect(store.stats.failures).toBe(1);
    expect(errors).toHaveLength(1);
    expect(realm.size.events).toBe(0);
    realm.append(event(2), { limit: 10, maxAgeMs: 0 });
    await realm.flush();
    expect(realm.size.events).toBe(1);
    expect(batches).toEqual([1]);
    expect(store.stats.batches).toBe(1);
  });

  it('age expiry deletes in chunks of at most 1000 rows, yielding between them', async () => {
    let now = 1_000_000;
    const path = join(tempDir(), 'h.db');
    const store = await SqliteStore.open({ path, expiryIntervalMs: 0, now: () => now });
    onTestFinished(() => store.close());
    const realm = await store.realm('r', 1e12);
    for (let i = 1; i <= 2500; i++) realm.append(event(i, `t${i % 7}`, now), { limit: 10_000, maxAgeMs: 100 });
    await realm.flush();
    expect(realm.size.events).toBe(2500);
    now += 1000;
    // The first statement runs at once and deletes 1000; the rest waits for later turns.
    const pass = store.expire();
    expect(realm.size.events).toBe(1500);
    await pass;
    expect(realm.size.events).toBe(0);
    expect(store.stats.expired.age).toBe(2500);
    expect(realm.size.bytes).toBe(0);
    // The topics left empty are forgotten as well (the file's topics table with them).
    const { default: Database } = (await import('better-sqlite3' as string)) as {
      default: new (p: string, o: { readonly: boolean }) => { prepare(s: string): { get(): unknown }; close(): void };
    };
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM topics').get()).toEqual({ n: 0 });
    db.close();
    // A topic used again starts afresh.
    realm.append(event(9999, 't1', now), { limit: 10, maxAgeMs: 100 });
    await realm.flush();
    expect((await realm.query({ select: { match: 'exact', topic: 't1' }, limit: 10 })).events.map((e) => e.publication)).toEqual([9999]);
  });

  it('reads over several topics give the same answers whichever plan the counts pick (per-topic ranges, or the realm in seq order)', async () => {
    const store = await SqliteStore.open({ path: join(tempDir(), 'h.db'), expiryIntervalMs: 0 });
    onTestFinished(() => store.close());
    const realm = await store.realm('r', 1e12);
    const other = await store.realm('other', 1e12);
    const all: HistoryEvent[] = [];
    for (let i = 1; i <= 2000; i++) {
      // 20 topics unevenly filled, and another realm's rows interleaved in the file.
      const e = event(i, `com.t${(i * 7) % 20 < 3 ? 0 : i % 20}`, 1000 + i);
      all.push(e);
      realm.append(e, { limit: 10_000, maxAgeMs: 0 });
      other.append(event(100_000 + i, e.topic, 1000 + i), { limit: 10_000, maxAgeMs: 0 });
    }
    await realm.flush();
    const cases: { prefix: string; limit: number; reverse: boolean; after?: number }[] = [
      { prefix: 'com.t', limit: 100, reverse: false }, // every topic: the scan
      { prefix: 'com.t', limit: 100, reverse: true },
      { prefix: 'com.t1', limit: 50, reverse: false }, // t1, t10…t19: about half
      { prefix: 'com.t1', limit: 1000, reverse: true },
      { prefix: 'com.t0', limit: 10, reverse: false }, // one topic through the prefix path
      { prefix: 'com.t', limit: 100, reverse: false, after: 1500 },
      { prefix: 'com.t1', limit: 5, reverse: true, after: 1990 },
    ];
    for (const c of cases) {
      const matching = all.filter((e) => e.topic.startsWith(c.prefix) && (c.after === undefined || e.publication > c.after));
      const ordered = c.reverse ? [...matching].reverse() : matching;
      const page = await realm.query({
        select: { match: 'prefix', topic: c.prefix },
        limit: c.limit,
        reverse: c.reverse,
        ...(c.after !== undefined && { afterPublication: c.after as PublicationId }),
      });
      expect(
        page.events.map((e) => e.publication),
        JSON.stringify(c),
      ).toEqual(ordered.slice(0, c.limit).map((e) => e.publication));
      expect(page.more, JSON.stringify(c)).toBe(ordered.length > c.limit);
    }
  });
});
