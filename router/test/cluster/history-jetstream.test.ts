/**
 * The JetStream event store (router/src/history/jetstream.ts) on a real nats-server with JetStream:
 * the store alone, on NATS connections of its own (two connections = two cluster nodes). The
 * cluster end to end through routers comes with the store's wiring.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { PublicationId } from '@switchboard/schemas';
import { JetStreamStore } from '../../src/history/jetstream.js';
import type { JetStreamStoreOptions } from '../../src/history/jetstream.js';
import type { HistoryEvent, HistoryQuery, RealmStore, StoredEvent, TopicPolicy } from '../../src/history/store.js';
import { startNats } from '../../../test/support/cluster.js';
import type { NatsServer } from '../../../test/support/cluster.js';

const POLICY: TopicPolicy = { limit: 100, maxAgeMs: 0 };

async function natsConnection(nats: NatsServer): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100, waitOnFirstConnect: false });
  onTestFinished(async () => {
    if (!nc.isClosed()) await nc.close();
  });
  return nc;
}

async function openStore(nats: NatsServer, options: Partial<JetStreamStoreOptions> = {}): Promise<{ store: JetStreamStore; nc: NatsConnection }> {
  const nc = await natsConnection(nats);
  const store = await JetStreamStore.connect(nc, { prefix: 'sbt', ...options });
  onTestFinished(() => store.close());
  return { store, nc };
}

let nextPublication = 1000;
function event(topic: string, extra: Partial<HistoryEvent> = {}): HistoryEvent {
  return { at: Date.now(), publication: nextPublication++ as PublicationId, topic, details: {}, args: [topic], kwargs: undefined, filter: {}, ...extra };
}

function page(realm: RealmStore, q: Partial<HistoryQuery> & Pick<HistoryQuery, 'select'>): Promise<{ events: StoredEvent[]; more: boolean; gap: boolean }> {
  return realm.query({ limit: 1000, ...q });
}

/** Buffers (what the MessagePack decoder gives, a Uint8Array subclass) as plain Uint8Arrays, for toEqual. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const pubs = (events: readonly StoredEvent[]): number[] => events.map((e) => e.publication);

describe('JetStreamStore', () => {
  it('stores in order and reads forward, reversed, and in pages with `more`', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats);
    const realm = await store.realm('realm1', 0);
    const written = Array.from({ length: 10 }, (_, i) => event('app.t', { args: [i] }));
    for (const e of written) realm.append(e, POLICY);
    await realm.flush();
    const all = await page(realm, { select: { match: 'exact', topic: 'app.t' } });
    expect(pubs(all.events)).toEqual(written.map((e) => e.publication));
    expect(all).toMatchObject({ more: false, gap: false });
    const seqs = all.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(10);

    const last3 = await page(realm, { select: { match: 'exact', topic: 'app.t' }, reverse: true, limit: 3 });
    expect(pubs(last3.events)).toEqual(
      written
        .slice(-3)
        .reverse()
        .map((e) => e.publication),
    );
    expect(last3.more).toBe(true);

    const first4 = await page(realm, { select: { match: 'exact', topic: 'app.t' }, limit: 4 });
    expect(pubs(first4.events)).toEqual(written.slice(0, 4).map((e) => e.publication));
    expect(first4.more).toBe(true);
    const rest = await page(realm, { select: { match: 'exact', topic: 'app.t' }, afterSeq: (first4.events[3] as StoredEvent).seq, limit: 100 });
    expect(pubs(rest.events)).toEqual(written.slice(4).map((e) => e.publication));
    expect(rest.more).toBe(false);
  });

  it('keeps payloads exactly: binary, integers past 32 bits, unicode, kwargs, details and filters', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats);
    const realm = await store.realm('realm1', 0);
    const e = event('app.bin', {
      details: { publisher: 42, publisher_authid: 'ünï', enc_algo: 'cryptobox' },
      args: [new Uint8Array([0, 1, 255]), Number.MAX_SAFE_INTEGER, -(2 ** 40), 2 ** 33 + 1, 'héllo ✓ 🎉'],
      kwargs: { nested: { list: [1.5, null, true], bin: new Uint8Array([7]) } },
      filter: { eligibleAuthrole: ['admin'], excludeAuthid: ['mallory'] },
    });
    const passthru = event('app.bin', { args: new Uint8Array([9, 8, 7]) });
    realm.append(e, POLICY);
    realm.append(passthru, POLICY);
    await realm.flush();
    const [got, raw] = (await page(realm, { select: { match: 'exact', topic: 'app.bin' } })).events;
    expect(plain(got)).toEqual({ ...e, seq: got?.seq });
    expect(plain(raw?.args)).toEqual(new Uint8Array([9, 8, 7]));
  });

  it('selects by time and by publication; a publication no longer stored is a gap', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats);
    const realm = await store.realm('realm1', 0);
    const t0 = Date.now() - 10_000;
    const written = Array.from({ length: 6 }, (_, i) => event('app.time', { at: t0 + i * 1000 }));
    for (const e of written) realm.append(e, POLICY);
    await realm.flush();
    const select = { match: 'exact', topic: 'app.time' } as const;
    const p = (i: number): PublicationId => (written[i] as HistoryEvent).publication;
    expect(pubs((await page(realm, { select, fromTime: t0 + 2000 })).events)).toEqual([p(2), p(3), p(4), p(5)]);
    expect(pubs((await page(realm, { select, afterTime: t0 + 2000 })).events)).toEqual([p(3), p(4), p(5)]);
    expect(pubs((await page(realm, { select, beforeTime: t0 + 2000 })).events)).toEqual([p(0), p(1)]);
    expect(pubs((await page(realm, { select, untilTime: t0 + 2000 })).events)).toEqual([p(0), p(1), p(2)]);
    expect(pubs((await page(realm, { select, fromTime: t0 + 1000, untilTime: t0 + 3000, reverse: true })).events)).toEqual([p(3), p(2), p(1)]);

    expect(await page(realm, { select, afterPublication: p(3) })).toMatchObject({ gap: false });
    expect(pubs((await page(realm, { select, afterPublication: p(3) })).events)).toEqual([p(4), p(5)]);
    expect(pubs((await page(realm, { select, fromPublication: p(3) })).events)).toEqual([p(3), p(4), p(5)]);
    expect(pubs((await page(realm, { select, beforePublication: p(2) })).events)).toEqual([p(0), p(1)]);
    expect(pubs((await page(realm, { select, untilPublication: p(2) })).events)).toEqual([p(0), p(1), p(2)]);

    // Unknown publication: `after` reads from the oldest stored event, `before` selects nothing.
    const unknown = 1 as PublicationId;
    const after = await page(realm, { select, afterPublication: unknown });
    expect(after.gap).toBe(true);
    expect(pubs(after.events)).toEqual(written.map((e) => e.publication));
    expect(await page(realm, { select, beforePublication: unknown })).toEqual({ events: [], more: false, gap: true });

    // Trimmed by the topic's limit: no longer stored, a gap.
    realm.append(event('app.time'), { limit: 3, maxAgeMs: 0 });
    await realm.flush();
    const trimmed = await page(realm, { select, afterPublication: p(1) });
    expect(trimmed.gap).toBe(true);
    expect(pubs(trimmed.events)).toEqual([p(4), p(5), trimmed.events[2]?.publication]);
  });

  it('selects exact topics, prefixes (string prefix) and wildcards (one component each)', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats);
    const realm = await store.realm('realm1', 0);
    const topics = ['a.b', 'a.bc', 'a.b.c', 'a.x.c', 'a.b.d', 'b.b.c', 'a.ü.c'];
    const byTopic = new Map(topics.map((t) => [t, event(t)]));
    for (const e of byTopic.values()) realm.append(e, POLICY);
    await realm.flush();
    const topicsOf = async (match: 'exact' | 'prefix' | 'wildcard', topic: string): Promise<string[]> =>
      (await page(realm, { select: { match, topic } as HistoryQuery['select'] })).events.map((e) => e.topic);
    expect(await topicsOf('exact', 'a.b')).toEqual(['a.b']);
    expect(await topicsOf('prefix', 'a.b')).toEqual(['a.b', 'a.bc', 'a.b.c', 'a.b.d']);
    expect(await topicsOf('prefix', 'a')).toEqual(['a.b', 'a.bc', 'a.b.c', 'a.x.c', 'a.b.d', 'a.ü.c']);
    expect(await topicsOf('wildcard', 'a..c')).toEqual(['a.b.c', 'a.x.c', 'a.ü.c']);
    expect(await topicsOf('wildcard', '.b.c')).toEqual(['a.b.c', 'b.b.c']);
    expect(await topicsOf('exact', 'a.ü.c')).toEqual(['a.ü.c']);
    expect(await topicsOf('exact', 'nothing.here')).toEqual([]);
  });

  it('reads a pattern over many topics (more than read one by one): the unfiltered range, or the wildcard filter past the scan bound', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats, { maxScan: 100 });
    const realm = await store.realm('realm1', 0);
    const wanted = Array.from({ length: 70 }, (_, i) => event(`many.t${i}.x`));
    for (let i = 0; i < 40; i++) realm.append(event(`other.t${i}`), POLICY);
    for (const e of wanted) realm.append(e, POLICY);
    await realm.flush();
    // 110 events in the stream, more than maxScan: the wildcard filter (70 events).
    const wildcard = await page(realm, { select: { match: 'wildcard', topic: 'many..x' } });
    expect(pubs(wildcard.events)).toEqual(wanted.map((e) => e.publication));
    // From a sequence that leaves fewer than maxScan: the range unfiltered, the pattern applied here.
    const afterSeq = (wildcard.events[9] as StoredEvent).seq;
    const prefix = await page(realm, { select: { match: 'prefix', topic: 'many.t' }, afterSeq, limit: 5 });
    expect(pubs(prefix.events)).toEqual(wanted.slice(10, 15).map((e) => e.publication));
    expect(prefix.more).toBe(true);
    // A read that would scan more than maxScan fails (the realm holds 110 events).
    await expect(page(realm, { select: { match: 'prefix', topic: '' } })).rejects.toThrow(/at most 100|more than 100/);
  });

  it('a topic larger than one read may scan: its newest events are read from the end of the stream; the rest fails', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats, { maxScan: 50 });
    const realm = await store.realm('realm1', 0);
    const written = Array.from({ length: 80 }, () => event('app.long'));
    for (const e of written) realm.append(e, POLICY);
    await realm.flush();
    const select = { match: 'exact', topic: 'app.long' } as const;
    const newest = await page(realm, { select, reverse: true, limit: 10 });
    expect(pubs(newest.events)).toEqual(
      written
        .slice(-10)
        .reverse()
        .map((e) => e.publication),
    );
    expect(newest.more).toBe(true);
    await expect(page(realm, { select, limit: 10 })).rejects.toThrow(/more than 50/);
    await expect(page(realm, { select, reverse: true, limit: 60 })).rejects.toThrow(/more than 50/);
  });

  it("applies each topic's own limit and age when read, and the largest in the stream", async () => {
    const nats = await startNats();
    const { store } = await openStore(nats, { realmLimits: () => ({ limit: 5, maxAgeMs: 0 }) });
    const realm = await store.realm('realm1', 0);
    const small = Array.from({ length: 6 }, () => event('app.small'));
    const big = Array.from({ length: 7 }, () => event('app.big'));
    for (let i = 0; i < 7; i++) {
      if (i < 6) realm.append(small[i] as HistoryEvent, { limit: 2, maxAgeMs: 0 });
      realm.append(big[i] as HistoryEvent, { limit: 5, maxAgeMs: 0 });
    }
    await realm.flush();
    expect(pubs((await page(realm, { select: { match: 'exact', topic: 'app.small' } })).events)).toEqual(small.slice(-2).map((e) => e.publication));
    expect(pubs((await page(realm, { select: { match: 'exact', topic: 'app.big' } })).events)).toEqual(big.slice(-5).map((e) => e.publication));
    const both = await page(realm, { select: { match: 'prefix', topic: 'app.' } });
    expect(both.events).toHaveLength(7);
    // The stream itself keeps at most 5 per topic.
    const jsm = await jetstreamManager(await natsConnection(nats));
    const info = await jsm.streams.info('sbt-history-realm1', { subjects_filter: '>' });
    expect(info.config.max_msgs_per_subject).toBe(5);
    expect(info.state.subjects).toEqual({ 'sbt.realm1.h.app.small': 5, 'sbt.realm1.h.app.big': 5 });

    // Age: the topic's newest policy says 5 s; an event received 10 s ago is not returned.
    const old = event('app.aged', { at: Date.now() - 10_000 });
    const fresh = event('app.aged');
    realm.append(old, { limit: 5, maxAgeMs: 5000 });
    realm.append(fresh, { limit: 5, maxAgeMs: 5000 });
    await realm.flush();
    expect(pubs((await page(realm, { select: { match: 'exact', topic: 'app.aged' } })).events)).toEqual([fresh.publication]);

    // A larger policy than the stream's (config changed) raises the stream's limit.
    for (let i = 0; i < 8; i++) realm.append(event('app.more'), { limit: 8, maxAgeMs: 0 });
    await realm.flush();
    await expect.poll(async () => (await jsm.streams.info('sbt-history-realm1')).config.max_msgs_per_subject).toBe(8);
  });

  it('one stream per realm with the configured settings; an existing stream with other settings is updated, not replaced', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats, { realmLimits: () => ({ limit: 10, maxAgeMs: 60_000 }) });
    const realm = await store.realm('realm1', 1_000_000);
    const other = await store.realm('realm two', 0);
    realm.append(event('t'), { limit: 10, maxAgeMs: 60_000 });
    other.append(event('t'), { limit: 10, maxAgeMs: 60_000 });
    await Promise.all([realm.flush(), other.flush()]);
    expect((await page(other, { select: { match: 'exact', topic: 't' } })).events).toHaveLength(1);
    const jsm = await jetstreamManager(await natsConnection(nats));
    const info = await jsm.streams.info('sbt-history-realm1');
    expect(info.config).toMatchObject({
      max_msgs_per_subject: 10,
      max_age: 60_000 * 1e6,
      max_bytes: 1_000_000,
      discard: 'old',
      storage: 'file',
      num_replicas: 1,
    });
    expect(info.state.messages).toBe(1);
    await store.close();

    // Another node with other settings: the stream is updated and keeps its messages.
    const { store: second } = await openStore(nats, { realmLimits: () => ({ limit: 20, maxAgeMs: 0 }) });
    const again = await second.realm('realm1', 2_000_000);
    const updated = await jsm.streams.info('sbt-history-realm1');
    expect(updated.config).toMatchObject({ max_msgs_per_subject: 20, max_age: 0, max_bytes: 2_000_000 });
    expect(updated.state.messages).toBe(1);
    expect((await page(again, { select: { match: 'exact', topic: 't' } })).events).toHaveLength(1);
  });

  it('two stores on two NATS connections (two nodes) read each other’s writes in one order', async () => {
    const nats = await startNats();
    const { store: a } = await openStore(nats);
    const { store: b } = await openStore(nats);
    const [ra, rb] = await Promise.all([a.realm('realm1', 0), b.realm('realm1', 0)]);
    for (let i = 0; i < 20; i++) (i % 2 === 0 ? ra : rb).append(event('app.shared', { args: [i] }), POLICY);
    await Promise.all([ra.flush(), rb.flush()]);
    const fromA = await page(ra, { select: { match: 'exact', topic: 'app.shared' } });
    const fromB = await page(rb, { select: { match: 'exact', topic: 'app.shared' } });
    expect(fromA.events).toHaveLength(20);
    expect(fromB.events).toEqual(fromA.events);
    expect(a.shared).toBe(true);
    await expect.poll(() => rb.size.events, { timeout: 10_000 }).toBe(20);
  });

  it('a store opened after the first one closed (a node replaced) reads everything', async () => {
    const nats = await startNats();
    const first = await openStore(nats);
    const realm = await first.store.realm('realm1', 0);
    const written = Array.from({ length: 5 }, () => event('app.kept'));
    for (const e of written) realm.append(e, POLICY);
    await first.store.close();
    await first.nc.close();
    const { store } = await openStore(nats);
    const replaced = await store.realm('realm1', 0);
    expect(pubs((await page(replaced, { select: { match: 'exact', topic: 'app.kept' } })).events)).toEqual(written.map((e) => e.publication));
  });

  it('keeps the history across a nats-server restart on the same store directory', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats);
    const realm = await store.realm('realm1', 0);
    const written = Array.from({ length: 5 }, () => event('app.durable'));
    for (const e of written) realm.append(e, POLICY);
    await realm.flush();
    await nats.kill('SIGKILL');
    await nats.restart();
    // The same connection reconnects; reads are retried until JetStream is back.
    let events: StoredEvent[] = [];
    await expect
      .poll(
        async () => {
          events = (await page(realm, { select: { match: 'exact', topic: 'app.durable' } }).catch(() => ({ events: [] }))).events;
          return events.length;
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(5);
    expect(pubs(events)).toEqual(written.map((e) => e.publication));
    // And writes go on.
    const after = event('app.durable');
    realm.append(after, POLICY);
    await realm.flush();
    expect(pubs((await page(realm, { select: { match: 'exact', topic: 'app.durable' }, reverse: true, limit: 1 })).events)).toEqual([after.publication]);
  }, 40_000);

  it('NATS down: append never throws, flush rejects within its bound, and failures are counted', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats, { publishTimeoutMs: 500, flushTimeoutMs: 1500 });
    const realm = await store.realm('realm1', 0);
    realm.append(event('app.down'), POLICY);
    await realm.flush();
    await nats.kill('SIGKILL');
    const started = Date.now();
    expect(() => {
      for (let i = 0; i < 50; i++) realm.append(event('app.down'), POLICY);
    }).not.toThrow();
    await expect(realm.flush()).rejects.toThrow(/history store/);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect.poll(() => store.stats.failures, { timeout: 5000 }).toBeGreaterThan(0);
  });

  it('bounds the write queue: past maxQueuedBytes an event is dropped and counted, and a flush covering it rejects', async () => {
    const nats = await startNats();
    const { store } = await openStore(nats, { maxInFlight: 1, maxQueuedBytes: 200 });
    const realm = await store.realm('realm1', 0);
    const big = { payload: 'x'.repeat(150) };
    for (let i = 0; i < 3; i++) realm.append(event('app.queue', { kwargs: big }), POLICY);
    await expect(realm.flush()).rejects.toThrow(/history store/);
    expect(store.stats.failures).toBe(1);
    // Stored: the one in flight and the one queued.
    expect((await page(realm, { select: { match: 'exact', topic: 'app.queue' } })).events).toHaveLength(2);
    // A later flush, after the failure settled, resolves.
    realm.append(event('app.queue'), POLICY);
    await realm.flush();
  });

  it("refuses an event larger than NATS's max_payload at append (counted: the history plugin answers store_failed); smaller ones are kept", async () => {
    const nats = await startNats();
    let maxPayload = 0;
    const { store, nc } = await openStore(nats, { maxPayload: () => maxPayload });
    maxPayload = nc.info!.max_payload;
    const realm = await store.realm('realm1', 0);
    expect(realm.append(event('app.big', { args: ['x'.repeat(maxPayload)] }), POLICY)).toBe('refused');
    expect(store.stats.failures).toBe(1);
    const fits = event('app.big', { args: ['y'.repeat(maxPayload - 1024)] });
    expect(realm.append(fits, POLICY)).toBe('queued');
    await realm.flush();
    expect(pubs((await page(realm, { select: { match: 'exact', topic: 'app.big' } })).events)).toEqual([fits.publication]);
  });
});
