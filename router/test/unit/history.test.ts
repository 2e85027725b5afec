/**
 * Event history (broker/history.ts) [ap_pubsub_event_history]: per-subscription rings of the last
 * N events, a realm-wide byte budget evicting the oldest event first, and the spec's query
 * filters. Pure: every event carries its own time (the injected clock's reading).
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId, SubscriptionId } from '@switchboard/schemas';
import { NO_FILTER } from '../../src/broker/broker.js';
import type { RecipientFilter } from '../../src/broker/broker.js';
import { EventHistory } from '../../src/broker/history.js';
import type { StoredEvent } from '../../src/broker/history.js';

const SUB = 1 as SubscriptionId;
const OTHER = 2 as SubscriptionId;
const T0 = 1_700_000_000_000;

function event(publication: number, at: number, subscription = SUB, topic = 'com.t', filter: RecipientFilter = NO_FILTER): StoredEvent {
  return { at, subscription, publication: publication as PublicationId, topic, details: {}, args: [publication], kwargs: undefined, filter };
}

const ids = (events: StoredEvent[] | undefined): number[] | undefined => events?.map((e) => e.publication);

/** A history with publications 11..15 at T0, T0+10, … T0+40 on SUB. */
function filled(): EventHistory {
  const h = new EventHistory();
  h.enable(SUB, 10);
  for (let i = 0; i < 5; i++) h.record(event(11 + i, T0 + 10 * i, SUB, i % 2 === 0 ? 'com.t' : 'com.u'));
  return h;
}

describe('EventHistory: storing', () => {
  it('stores only for enabled subscriptions; a query of one without history is undefined', () => {
    const h = new EventHistory();
    h.record(event(1, T0));
    expect(h.query(SUB, {})).toBeUndefined();
    h.enable(SUB, 3);
    expect(h.isEnabled(SUB)).toBe(true);
    h.record(event(2, T0));
    expect(ids(h.query(SUB, {}))).toEqual([2]);
    expect(h.size).toBe(1);
  });

  it('keeps the last `limit` events of a subscription, in arrival order', () => {
    const h = new EventHistory();
    h.enable(SUB, 3);
    for (let i = 1; i <= 5; i++) h.record(event(i, T0 + i));
    expect(ids(h.query(SUB, {}))).toEqual([3, 4, 5]);
  });

  it('enabling twice keeps the first ring (and its limit)', () => {
    const h = new EventHistory();
    h.enable(SUB, 2);
    h.record(event(1, T0));
    h.enable(SUB, 10);
    for (let i = 2; i <= 4; i++) h.record(event(i, T0));
    expect(ids(h.query(SUB, {}))).toEqual([3, 4]);
  });

  it('ignores publications restricted to session IDs (exclude/eligible), as the spec says', () => {
    const h = new EventHistory();
    h.enable(SUB, 5);
    h.record(event(1, T0, SUB, 'com.t', { excludeMe: true, exclude: new Set([7]) }));
    h.record(event(2, T0, SUB, 'com.t', { excludeMe: true, eligible: new Set([7]) }));
    h.record(event(3, T0, SUB, 'com.t', { excludeMe: true, excludeAuthrole: new Set(['guest']) }));
    expect(ids(h.query(SUB, {}))).toEqual([3]);
  });

  it('forget drops the ring and its bytes', () => {
    const h = new EventHistory(1000);
    h.enable(SUB, 5);
    h.record(event(1, T0), 100);
    h.forget(SUB);
    expect(h.isEnabled(SUB)).toBe(false);
    expect(h.bytes).toBe(0);
    expect(h.query(SUB, {})).toBeUndefined();
  });
});

describe('EventHistory: the realm-wide byte budget', () => {
  it('evicts the oldest events of any subscription first, and says how many', () => {
    const h = new EventHistory(300);
    h.enable(SUB, 10);
    h.enable(OTHER, 10);
    expect(h.record(event(1, T0, SUB), 100)).toEqual({ evicted: 0, tooLarge: false });
    h.record(event(2, T0 + 1, OTHER), 100);
    h.record(event(3, T0 + 2, SUB), 100);
    expect(h.bytes).toBe(300);
    expect(h.record(event(4, T0 + 3, OTHER), 150)).toEqual({ evicted: 2, tooLarge: false });
    expect(ids(h.query(SUB, {}))).toEqual([3]);
    expect(ids(h.query(OTHER, {}))).toEqual([4]);
    expect(h.bytes).toBe(250);
  });

  it('does not store an event larger than the whole budget, and keeps what it has', () => {
    const h = new EventHistory(100);
    h.enable(SUB, 10);
    h.record(event(1, T0), 50);
    expect(h.record(event(2, T0), 101)).toEqual({ evicted: 0, tooLarge: true });
    expect(ids(h.query(SUB, {}))).toEqual([1]);
    expect(h.bytes).toBe(50);
  });

  it('gives back the bytes of events a ring drops past its count limit, and skips them when evicting', () => {
    const h = new EventHistory(250);
    h.enable(SUB, 1);
    h.enable(OTHER, 10);
    h.record(event(1, T0, SUB), 100);
    h.record(event(2, T0, SUB), 100); // the ring drops 1
    expect(h.bytes).toBe(100);
    h.record(event(3, T0, OTHER), 100);
    expect(h.record(event(4, T0, OTHER), 100)).toEqual({ evicted: 1, tooLarge: false }); // evicts 2, not the gone 1
    expect(ids(h.query(SUB, {}))).toEqual([]);
    expect(ids(h.query(OTHER, {}))).toEqual([3, 4]);
  });

  it('stays bounded over many events: bytes never exceed the budget', () => {
    const h = new EventHistory(1000);
    h.enable(SUB, 50);
    h.enable(OTHER, 7);
    for (let i = 0; i < 5000; i++) {
      h.record(event(i, T0 + i, i % 3 === 0 ? OTHER : SUB), 10 + (i % 40));
      expect(h.bytes).toBeLessThanOrEqual(1000);
    }
    expect(h.query(OTHER, {})!.length).toBeLessThanOrEqual(7);
    expect(ids(h.query(SUB, { reverse: true, limit: 1 }))).toEqual([4999]);
  });
});

describe('EventHistory: queries (wamp.subscription.get_events filters, ANDed)', () => {
  it('oldest first; reverse gives newest first; limit counts from the chosen end', () => {
    const h = filled();
    expect(ids(h.query(SUB, {}))).toEqual([11, 12, 13, 14, 15]);
    expect(ids(h.query(SUB, { reverse: true, limit: 2 }))).toEqual([15, 14]);
    expect(ids(h.query(SUB, { limit: 2 }))).toEqual([11, 12]);
  });

  it('time bounds: from/until are inclusive, after/before exclusive', () => {
    const h = filled();
    expect(ids(h.query(SUB, { fromTime: T0 + 10, untilTime: T0 + 30 }))).toEqual([12, 13, 14]);
    expect(ids(h.query(SUB, { afterTime: T0 + 10, beforeTime: T0 + 30 }))).toEqual([13]);
  });

  it('publication bounds are positions in the stored order (IDs are random)', () => {
    const h = filled();
    expect(ids(h.query(SUB, { fromPublication: 12, untilPublication: 14 }))).toEqual([12, 13, 14]);
    expect(ids(h.query(SUB, { afterPublication: 12, beforePublication: 14 }))).toEqual([13]);
    expect(ids(h.query(SUB, { beforePublication: 11 }))).toEqual([]);
  });

  it('a publication bound that is not stored selects nothing', () => {
    const h = filled();
    expect(h.query(SUB, { afterPublication: 99 })).toEqual([]);
    expect(h.query(SUB, { untilPublication: 99 })).toEqual([]);
  });

  it('filters by topic (a pattern subscription stores several), combined with the rest', () => {
    const h = filled();
    expect(ids(h.query(SUB, { topic: 'com.u' }))).toEqual([12, 14]);
    expect(ids(h.query(SUB, { topic: 'com.t', fromTime: T0 + 10, reverse: true }))).toEqual([15, 13]);
  });

  it('a reversed query does not reorder what is stored', () => {
    const h = filled();
    h.query(SUB, { reverse: true });
    expect(ids(h.query(SUB, {}))).toEqual([11, 12, 13, 14, 15]);
  });
});
