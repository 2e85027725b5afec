/**
 * The memory engine's publication index (review 2, R4): a publication bound is a map lookup, so
 * a bound the store does not hold costs what a held one costs, and the index follows every
 * removal (a removed publication reads as a gap, not as still stored).
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import { MemoryStore } from '../../src/history/memory.js';
import type { HistoryEvent } from '../../src/history/store.js';

function event(publication: number, topic: string, at: number): HistoryEvent {
  return { at, publication: publication as PublicationId, topic, details: {}, args: [publication], kwargs: undefined, filter: {} };
}

describe('memory store publication index', () => {
  it('an unknown publication bound costs a lookup, not a walk of every matching topic (R4)', () => {
    const store = new MemoryStore();
    const rs = store.realmNow('realm1', 1024 * 1024 * 1024);
    const policy = { limit: 100, maxAgeMs: 0 };
    let publication = 0;
    for (let round = 0; round < 100; round++) for (let t = 0; t < 2000; t++) rs.append(event(++publication, `com.m.t${t}`, 1000 + round), policy);
    const select = { match: 'prefix' as const, topic: 'com.m.' };
    const time = (after: number): number => {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) rs.read({ select, afterPublication: after as PublicationId, limit: 1000 });
      return (performance.now() - t0) / 5;
    };
    time(publication - 10);
    const known = time(publication - 10);
    const unknown = time(123_456_789_012);
    expect(unknown).toBeLessThan(Math.max(10 * known, 5));
    const page = rs.read({ select, afterPublication: 123_456_789_012 as PublicationId, limit: 10 });
    expect(page.gap).toBe(true);
  });

  it('a publication removed by count, age or bytes is no longer found; one in an unselected topic is not either', () => {
    let now = 1000;
    const store = new MemoryStore({ now: () => now });
    const rs = store.realmNow('realm1', 1024 * 1024);
    rs.append(event(1, 'a', now), { limit: 1, maxAgeMs: 0 });
    rs.append(event(2, 'a', now), { limit: 1, maxAgeMs: 0 }); // drops 1 by count
    rs.append(event(3, 'b', now), { limit: 10, maxAgeMs: 50 });
    const after = (topic: string, id: number) => rs.read({ select: { match: 'exact', topic }, afterPublication: id as PublicationId, limit: 10 });
    expect(after('a', 1).gap).toBe(true);
    expect(after('a', 2)).toEqual({ events: [], more: false, gap: false });
    expect(after('a', 3).gap).toBe(true);
    expect(after('b', 3).gap).toBe(false);
    now += 100; // 3 is past its age: read expires it, and topic b is forgotten
    expect(after('b', 3).gap).toBe(true);
    const small = store.realmNow('small', 2000);
    small.append(event(10, 'c', now), { limit: 100, maxAgeMs: 0 });
    for (let p = 11; p < 40; p++) small.append(event(p, 'c', now), { limit: 100, maxAgeMs: 0 }); // evicts 10 by bytes
    expect(small.read({ select: { match: 'exact', topic: 'c' }, afterPublication: 10 as PublicationId, limit: 1 }).gap).toBe(true);
    expect(small.read({ select: { match: 'exact', topic: 'c' }, afterPublication: 39 as PublicationId, limit: 1 }).gap).toBe(false);
  });
});
