/**
 * The adversarial review's findings on the memory engine (#17, i17-review), fixed: a pattern read
 * costs its page, not a copy and sort of every event the pattern matches (F4: binary-searched
 * bounds, a k-way merge by seq), and each stored topic counts what it costs besides its events
 * (F5: TOPIC_BYTES). The merge is checked against a plain filter-and-sort of the same events, on
 * random queries, with a clock that goes back. Pure: no sockets, no timers.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import { MemoryStore, TOPIC_BYTES } from '../../src/history/memory.js';
import type { HistoryEvent, HistoryQuery, StoredEvent } from '../../src/history/store.js';

function event(publication: number, topic: string, at: number): HistoryEvent {
  return { at, publication: publication as PublicationId, topic, details: {}, args: [publication], kwargs: undefined, filter: {} };
}

describe('review: the memory engine (the default)', () => {
  it('F4: a pattern read of one event costs about what an exact read does', () => {
    const store = new MemoryStore();
    const rs = store.realmNow('realm1', 1e12);
    for (let i = 0; i < 400_000; i++) rs.append(event(i + 1, i % 2 === 0 ? 'a.x' : 'a.y', 1000), { limit: 1_000_000, maxAgeMs: 0 });
    const t0 = performance.now();
    rs.read({ select: { match: 'exact', topic: 'a.x' }, limit: 1, reverse: true });
    const exact = performance.now() - t0;
    const t1 = performance.now();
    const page = rs.read({ select: { match: 'prefix', topic: 'a.' }, limit: 1, reverse: true });
    const pattern = performance.now() - t1;
    expect(page.events.map((e) => e.publication)).toEqual([400_000]);
    console.log(`F4: newest event, exact ${exact.toFixed(2)} ms, prefix over 2 topics ${pattern.toFixed(2)} ms (400 000 events)`);
    expect(pattern).toBeLessThan(Math.max(20, 10 * exact));
    // Bounded by time and by a publication, forward: still its page only.
    const t2 = performance.now();
    const bounded = rs.read({ select: { match: 'prefix', topic: 'a.' }, limit: 3, afterPublication: 399_000 as PublicationId, fromTime: 1000 });
    expect(bounded.events.map((e) => e.publication)).toEqual([399_001, 399_002, 399_003]);
    const afterRead = performance.now() - t2;
    console.log(`F4: 3 events after a publication 1000 back, prefix ${afterRead.toFixed(2)} ms`);
    expect(afterRead).toBeLessThan(50);
  });

  it('F5: one event per topic: the memory held stays within a small multiple of what maxHistoryBytes counts', () => {
    // The heap measured after a full collection, so that earlier tests' garbage does not count.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = new MemoryStore();
    const rs = store.realmNow('realm1', 1024 * 1024 * 1024);
    gc();
    const before = process.memoryUsage().heapUsed;
    // A publisher making up topic names under a prefix rule (one event each).
    for (let i = 0; i < 200_000; i++) rs.append(event(i + 1, `app.t${i}`, 1000), { limit: 100, maxAgeMs: 0 });
    gc();
    const held = process.memoryUsage().heapUsed - before;
    expect(rs.size.events).toBe(200_000);
    console.log(`F5: counted ${rs.size.bytes} bytes, heap grew ${held} bytes (${(held / rs.size.bytes).toFixed(1)}x)`);
    expect(held).toBeLessThan(4 * rs.size.bytes);
  });

  it('F5: a topic counts TOPIC_BYTES while it holds an event, and gives them back when emptied', () => {
    const store = new MemoryStore();
    const rs = store.realmNow('realm1', 1e12);
    rs.append(event(1, 'a', 1000), { limit: 1, maxAgeMs: 0 });
    const one = rs.size.bytes - TOPIC_BYTES;
    rs.append(event(2, 'a', 1000), { limit: 1, maxAgeMs: 0 });
    rs.append(event(3, 'b', 1000), { limit: 1, maxAgeMs: 0 });
    expect(rs.size).toEqual({ events: 2, bytes: 2 * one + 2 * TOPIC_BYTES });
    // A budget that holds one topic: the new topic's room evicts the other topic whole.
    const small = store.realmNow('small', 2 * one + TOPIC_BYTES);
    small.append(event(4, 'a', 1000), { limit: 10, maxAgeMs: 0 });
    small.append(event(5, 'a', 1000), { limit: 10, maxAgeMs: 0 });
    small.append(event(6, 'b', 1000), { limit: 10, maxAgeMs: 0 });
    expect(small.read({ select: { match: 'prefix', topic: '' }, limit: 10 }).events.map((e) => e.publication)).toEqual([6]);
    expect(small.size).toEqual({ events: 1, bytes: one + TOPIC_BYTES });
  });
});

describe('the merged read is the plain one', () => {
  /** A deterministic generator (xorshift), so that a failure repeats. */
  function random(seed: number): () => number {
    let x = seed;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 0x1_0000_0000;
    };
  }

  /** What a read must answer, by filtering and sorting everything (the old way). */
  function plain(all: StoredEvent[], q: HistoryQuery, topics: (topic: string) => boolean): { publications: number[]; more: boolean; gap: boolean } {
    const events = all.filter((e) => topics(e.topic)).sort((a, b) => a.seq - b.seq);
    let gap = false;
    const position = (id: PublicationId | undefined): number => {
      if (id === undefined) return -2;
      const at = events.findIndex((e) => e.publication === id);
      if (at < 0) gap = true;
      return at;
    };
    let from = 0;
    let to = events.length;
    const fromAt = position(q.fromPublication);
    if (fromAt >= 0) from = Math.max(from, fromAt);
    const afterAt = position(q.afterPublication);
    if (afterAt >= 0) from = Math.max(from, afterAt + 1);
    const untilAt = position(q.untilPublication);
    if (untilAt !== -2) to = Math.min(to, untilAt + 1);
    const beforeAt = position(q.beforePublication);
    if (beforeAt !== -2) to = Math.min(to, Math.max(0, beforeAt));
    if (q.afterSeq !== undefined) {
      const first = events.findIndex((e) => e.seq > q.afterSeq!);
      from = Math.max(from, first < 0 ? events.length : first);
    }
    const picked = events
      .slice(from, Math.max(from, to))
      .filter(
        (e) =>
          (q.fromTime === undefined || e.at >= q.fromTime) &&
          (q.afterTime === undefined || e.at > q.afterTime) &&
          (q.beforeTime === undefined || e.at < q.beforeTime) &&
          (q.untilTime === undefined || e.at <= q.untilTime),
      );
    if (q.reverse === true) picked.reverse();
    return { publications: picked.slice(0, q.limit).map((e) => e.publication), more: picked.length > q.limit, gap };
  }

  it('on random queries over topics whose clock sometimes goes back', () => {
    const next = random(17);
    const store = new MemoryStore({ now: () => 0 });
    const rs = store.realmNow('r', 1e12);
    const topics = ['a.x', 'a.y', 'a.z', 'b.x'];
    let at = 1000;
    for (let i = 1; i <= 300; i++) {
      // Mostly forward; now and then the clock steps back (b.x only, so that other rings stay ordered).
      const topic = topics[Math.floor(next() * topics.length)]!;
      at += topic === 'b.x' && next() < 0.3 ? -25 : Math.floor(next() * 10);
      rs.append(event(i, topic, at), { limit: 1000, maxAgeMs: 0 });
    }
    const all = rs.read({ select: { match: 'prefix', topic: '' }, limit: 1000 }).events;
    expect(all).toHaveLength(300);
    const selects: [HistoryQuery['select'], (topic: string) => boolean][] = [
      [{ match: 'exact', topic: 'a.x' }, (t) => t === 'a.x'],
      [{ match: 'exact', topic: 'b.x' }, (t) => t === 'b.x'],
      [{ match: 'prefix', topic: 'a.' }, (t) => t.startsWith('a.')],
      [{ match: 'prefix', topic: '' }, () => true],
      [{ match: 'wildcard', topic: '.x' }, (t) => t.endsWith('.x')],
    ];
    const pub = (): PublicationId => Math.floor(next() * 320) as PublicationId;
    const time = (): number => 1000 + Math.floor(next() * (at - 1000));
    for (let n = 0; n < 2000; n++) {
      const [select, topics] = selects[Math.floor(next() * selects.length)]!;
      const q: { -readonly [K in keyof HistoryQuery]: HistoryQuery[K] } = { select, limit: 1 + Math.floor(next() * 40), reverse: next() < 0.5 };
      if (next() < 0.3) q.fromPublication = pub();
      if (next() < 0.3) q.afterPublication = pub();
      if (next() < 0.2) q.untilPublication = pub();
      if (next() < 0.2) q.beforePublication = pub();
      if (next() < 0.3) q.fromTime = time();
      if (next() < 0.2) q.afterTime = time();
      if (next() < 0.2) q.beforeTime = time();
      if (next() < 0.2) q.untilTime = time();
      if (next() < 0.2) q.afterSeq = Math.floor(next() * 300);
      const got = rs.read(q);
      const want = plain(all, q, topics);
      expect({ publications: got.events.map((e) => e.publication), more: got.more, gap: got.gap }, JSON.stringify(q)).toEqual(want);
    }
  });
});
