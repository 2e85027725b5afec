/**
 * The memory engine of the event store (history/memory.ts) [ap_pubsub_event_history]: per topic
 * rings of the last `limit` events, age expiry by an injected clock, a realm-wide byte budget
 * evicting the oldest event first, and the reads store.ts documents (publication and time
 * bounds, gap, more, afterSeq, exact/prefix/wildcard selection). Pure: no sockets, no timers.
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import { MemoryStore, TOPIC_BYTES } from '../../src/history/memory.js';
import type { HistoryEvent, HistoryQuery, TopicPolicy } from '../../src/history/store.js';
import { payloadBytes } from '../../src/limits.js';

const T0 = 1_700_000_000_000;
const KEEP: TopicPolicy = { limit: 10, maxAgeMs: 0 };

function event(publication: number, at: number, topic = 'com.t', args: unknown[] = [publication]): HistoryEvent {
  return { at, publication: publication as PublicationId, topic, details: {}, args, kwargs: undefined, filter: {} };
}

function bytesOf(e: HistoryEvent): number {
  return payloadBytes(e.args, e.kwargs, e.details) + e.topic.length;
}

function store(maxBytes = Infinity, clock = { now: T0 }) {
  const s = new MemoryStore({ now: () => clock.now });
  return { s, realm: s.realmNow('r', maxBytes), clock };
}

const exact = (topic = 'com.t'): HistoryQuery['select'] => ({ match: 'exact', topic });
const ids = (page: { events: { publication: number }[] }): number[] => page.events.map((e) => e.publication);

/** Publications 11..15 at T0, T0+10, … T0+40, alternating topics com.t and com.u. */
function filled() {
  const made = store();
  for (let i = 0; i < 5; i++) made.realm.append(event(11 + i, T0 + 10 * i, i % 2 === 0 ? 'com.t' : 'com.u'), KEEP);
  return made;
}

describe('MemoryStore: storing', () => {
  it('is the memory engine: not shared, flush resolves at once, retained events stay in the broker', async () => {
    const { s, realm } = store();
    expect(s.type).toBe('memory');
    expect(s.shared).toBe(false);
    await realm.flush();
    realm.retain(event(1, T0));
    expect(await realm.retained()).toEqual([]);
    expect(await s.realm('r', 100)).toBe(realm);
  });

  it('keeps the last `limit` events PER TOPIC, in arrival order, with increasing seq', () => {
    const { realm, s } = store();
    for (let i = 1; i <= 5; i++) realm.append(event(i, T0 + i), { limit: 3, maxAgeMs: 0 });
    realm.append(event(100, T0, 'com.other'), { limit: 3, maxAgeMs: 0 });
    const page = realm.read({ select: exact(), limit: 100 });
    expect(ids(page)).toEqual([3, 4, 5]);
    expect(page.events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(ids(realm.read({ select: exact('com.other'), limit: 100 }))).toEqual([100]);
    expect(realm.size.events).toBe(4);
    expect(s.stats.expired.count).toBe(2);
  });

  it('a policy that changes applies from the next append', () => {
    const { realm } = store();
    for (let i = 1; i <= 5; i++) realm.append(event(i, T0), { limit: 10, maxAgeMs: 0 });
    realm.append(event(6, T0), { limit: 2, maxAgeMs: 0 });
    expect(ids(realm.read({ select: exact(), limit: 100 }))).toEqual([5, 6]);
  });
});

describe('MemoryStore: age expiry (injected clock)', () => {
  it('expires lazily at read and at append; a topic without maxAgeMs keeps its events', () => {
    const { realm, clock, s } = store();
    realm.append(event(1, T0, 'com.t'), { limit: 10, maxAgeMs: 1000 });
    realm.append(event(2, T0 + 500, 'com.t'), { limit: 10, maxAgeMs: 1000 });
    realm.append(event(3, T0, 'com.kept'), KEEP);
    clock.now = T0 + 1200;
    expect(ids(realm.read({ select: exact(), limit: 10 }))).toEqual([2]);
    expect(s.stats.expired.age).toBe(1);
    clock.now = T0 + 5000;
    realm.append(event(4, T0 + 5000, 'com.kept'), KEEP);
    // The cheap pass at append reached publication 2 (past its topic's age) only once the realm's oldest was not blocking.
    expect(ids(realm.read({ select: exact(), limit: 10 }))).toEqual([]);
    expect(ids(realm.read({ select: exact('com.kept'), limit: 10 }))).toEqual([3, 4]);
    expect(s.stats.expired.age).toBe(2);
    expect(realm.size.events).toBe(2);
  });

  it('the pass at append drops the realm oldest events past their age without a read', () => {
    const { realm, clock } = store();
    for (let i = 1; i <= 3; i++) realm.append(event(i, T0, `com.t${i}`), { limit: 10, maxAgeMs: 100 });
    clock.now = T0 + 1000;
    realm.append(event(9, T0 + 1000, 'com.new'), KEEP);
    expect(realm.size.events).toBe(1);
  });
});

describe('MemoryStore: the realm-wide byte budget', () => {
  it('evicts the oldest events of any topic first, and counts them', () => {
    const e = (p: number, topic: string) => event(p, T0 + p, topic, ['x'.repeat(80)]);
    const size = bytesOf(e(1, 'com.a'));
    // Each topic stored costs TOPIC_BYTES besides its events (its ring and index: review F5).
    const { realm, s } = store(3 * size + 2 * TOPIC_BYTES);
    realm.append(e(1, 'com.a'), KEEP);
    realm.append(e(2, 'com.b'), KEEP);
    realm.append(e(3, 'com.a'), KEEP);
    expect(realm.size.bytes).toBe(3 * size + 2 * TOPIC_BYTES);
    realm.append(e(4, 'com.b'), KEEP);
    expect(ids(realm.read({ select: exact('com.a'), limit: 10 }))).toEqual([3]);
    expect(ids(realm.read({ select: exact('com.b'), limit: 10 }))).toEqual([2, 4]);
    expect(s.stats.expired.bytes).toBe(1);
  });

  it('does not store an event larger than the whole budget, and keeps what it has', () => {
    const { realm, s } = store(200);
    realm.append(event(1, T0, 'com.t', ['small']), KEEP);
    realm.append(event(2, T0, 'com.t', ['y'.repeat(500)]), KEEP);
    expect(ids(realm.read({ select: exact(), limit: 10 }))).toEqual([1]);
    expect(s.stats.expired.bytes).toBe(1);
  });

  it('gives back the bytes of events a topic drops past its count limit, and skips them when evicting', () => {
    const e = (p: number, topic: string) => event(p, T0 + p, topic, ['x'.repeat(80)]);
    const size = bytesOf(e(1, 'com.a'));
    const { realm } = store(2.5 * size + 2 * TOPIC_BYTES);
    realm.append(e(1, 'com.a'), { limit: 1, maxAgeMs: 0 });
    realm.append(e(2, 'com.a'), { limit: 1, maxAgeMs: 0 }); // drops 1
    expect(realm.size.bytes).toBe(size + TOPIC_BYTES);
    realm.append(e(3, 'com.b'), KEEP);
    realm.append(e(4, 'com.b'), KEEP); // evicts 2, not the gone 1
    expect(ids(realm.read({ select: exact('com.a'), limit: 10 }))).toEqual([]);
    expect(ids(realm.read({ select: exact('com.b'), limit: 10 }))).toEqual([3, 4]);
  });

  it('stays bounded over many events and topics: bytes never exceed the budget, emptied topics are forgotten', () => {
    const { realm } = store(2000);
    for (let i = 0; i < 5000; i++) {
      realm.append(event(i, T0 + i, `com.t${i % 97}`, ['x'.repeat(i % 40)]), { limit: 7, maxAgeMs: 0 });
      expect(realm.size.bytes).toBeLessThanOrEqual(2000);
    }
    expect(ids(realm.read({ select: { match: 'prefix', topic: 'com.' }, reverse: true, limit: 1 }))).toEqual([4999]);
    expect(realm.read({ select: { match: 'prefix', topic: 'com.' }, limit: 100_000 }).events.length).toBe(realm.size.events);
  });
});

describe('MemoryStore: queries (the get_events filters, ANDed)', () => {
  it('oldest first; reverse gives newest first; limit counts from the chosen end and says `more`', () => {
    const { realm } = filled();
    const all = { match: 'prefix', topic: 'com.' } as const;
    expect(realm.read({ select: all, limit: 10 })).toMatchObject({ more: false, gap: false });
    expect(ids(realm.read({ select: all, limit: 10 }))).toEqual([11, 12, 13, 14, 15]);
    const newest = realm.read({ select: all, reverse: true, limit: 2 });
    expect(ids(newest)).toEqual([15, 14]);
    expect(newest.more).toBe(true);
    expect(ids(realm.read({ select: all, limit: 2 }))).toEqual([11, 12]);
    expect(realm.read({ select: all, limit: 5 }).more).toBe(false);
  });

  it('selects one topic, a prefix or a wildcard pattern', () => {
    const { realm } = filled();
    realm.append(event(16, T0 + 50, 'org.t'), KEEP);
    expect(ids(realm.read({ select: exact('com.u'), limit: 10 }))).toEqual([12, 14]);
    expect(ids(realm.read({ select: { match: 'prefix', topic: 'com.' }, limit: 10 }))).toEqual([11, 12, 13, 14, 15]);
    expect(ids(realm.read({ select: { match: 'wildcard', topic: '.t' }, limit: 10 }))).toEqual([11, 13, 15, 16]);
    expect(ids(realm.read({ select: exact('com.none'), limit: 10 }))).toEqual([]);
  });

  it('time bounds: from/until are inclusive, after/before exclusive', () => {
    const { realm } = filled();
    const all = { match: 'prefix', topic: 'com.' } as const;
    expect(ids(realm.read({ select: all, limit: 10, fromTime: T0 + 10, untilTime: T0 + 30 }))).toEqual([12, 13, 14]);
    expect(ids(realm.read({ select: all, limit: 10, afterTime: T0 + 10, beforeTime: T0 + 30 }))).toEqual([13]);
  });

  it('publication bounds are positions in the stored order (IDs are random)', () => {
    const { realm } = filled();
    const all = { match: 'prefix', topic: 'com.' } as const;
    expect(ids(realm.read({ select: all, limit: 10, fromPublication: 12 as PublicationId, untilPublication: 14 as PublicationId }))).toEqual([12, 13, 14]);
    expect(ids(realm.read({ select: all, limit: 10, afterPublication: 12 as PublicationId, beforePublication: 14 as PublicationId }))).toEqual([13]);
    expect(ids(realm.read({ select: all, limit: 10, beforePublication: 11 as PublicationId }))).toEqual([]);
  });

  it('a publication bound that is not stored is a gap: after/from start at the oldest, before/until select nothing', () => {
    const { realm } = filled();
    const all = { match: 'prefix', topic: 'com.' } as const;
    expect(realm.read({ select: all, limit: 10, afterPublication: 99 as PublicationId })).toMatchObject({ gap: true });
    expect(ids(realm.read({ select: all, limit: 10, afterPublication: 99 as PublicationId }))).toEqual([11, 12, 13, 14, 15]);
    expect(ids(realm.read({ select: all, limit: 10, fromPublication: 99 as PublicationId }))).toEqual([11, 12, 13, 14, 15]);
    expect(realm.read({ select: all, limit: 10, untilPublication: 99 as PublicationId })).toEqual({ events: [], more: false, gap: true });
    expect(realm.read({ select: all, limit: 10, beforePublication: 99 as PublicationId })).toEqual({ events: [], more: false, gap: true });
    // A publication of another topic is not in this topic's stored order.
    expect(realm.read({ select: exact('com.t'), limit: 10, afterPublication: 12 as PublicationId }).gap).toBe(true);
  });

  it('afterSeq: only events stored after that position', () => {
    const { realm } = filled();
    const all = { match: 'prefix', topic: 'com.' } as const;
    const seq = realm.read({ select: all, limit: 10 }).events[2]!.seq;
    expect(ids(realm.read({ select: all, limit: 10, afterSeq: seq }))).toEqual([14, 15]);
    expect(ids(realm.read({ select: exact('com.u'), limit: 10, afterSeq: seq }))).toEqual([14]);
  });

  it('a reversed query does not reorder what is stored; query() answers the same asynchronously', async () => {
    const { realm } = filled();
    realm.read({ select: exact(), reverse: true, limit: 10 });
    expect(ids(await realm.query({ select: exact(), limit: 10 }))).toEqual([11, 13, 15]);
  });

  it('stats add up every realm', () => {
    const s = new MemoryStore({ now: () => T0 });
    s.realmNow('a', Infinity).append(event(1, T0), KEEP);
    s.realmNow('b', Infinity).append(event(2, T0), KEEP);
    s.realmNow('b', Infinity).append(event(3, T0), KEEP);
    expect(s.stats).toMatchObject({ events: 3, batches: 0, failures: 0 });
    // One topic in each realm.
    expect(s.stats.bytes).toBe(3 * bytesOf(event(1, T0)) + 2 * TOPIC_BYTES);
  });
});
