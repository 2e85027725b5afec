/**
 * Event history: the last N events of history-enabled subscriptions, in memory, in the order the
 * broker received them. [ap_pubsub_event_history] Pure: the clock is injected.
 */
import type { Dict, Kwargs, PublicationId, SubscriptionId, WireArgs } from '@switchboard/schemas';
import type { RecipientFilter } from './broker.js';

export interface StoredEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly subscription: SubscriptionId;
  readonly publication: PublicationId;
  readonly topic: string;
  readonly details: Dict;
  readonly args: WireArgs | undefined;
  readonly kwargs: Kwargs | undefined;
  /** The publication's authid/authrole lists, re-applied to whoever reads the history. */
  readonly filter: RecipientFilter;
}

/** The spec's filters for wamp.subscription.get_events; all optional, combined with AND. */
export interface HistoryQuery {
  reverse?: boolean;
  limit?: number;
  fromTime?: number;
  afterTime?: number;
  beforeTime?: number;
  untilTime?: number;
  topic?: string;
  fromPublication?: number;
  afterPublication?: number;
  beforePublication?: number;
  untilPublication?: number;
}

class Ring {
  readonly events: StoredEvent[] = [];
  /** Estimated bytes of each event, in the same order. */
  readonly sizes: number[] = [];
  /** False once its subscription is forgotten. */
  live = true;
  constructor(readonly limit: number) {}

  /** Stores an event; returns the bytes of the one dropped past `limit`, or -1 if none was. */
  push(event: StoredEvent, bytes: number): number {
    this.events.push(event);
    this.sizes.push(bytes);
    if (this.events.length <= this.limit) return -1;
    this.events.shift();
    return this.sizes.shift()!;
  }
}

/** What recording one event did to the realm's byte budget. */
export interface RecordOutcome {
  /** Older events (of any subscription) evicted to make room. */
  evicted: number;
  /** The event alone is larger than the whole budget: not stored. */
  tooLarge: boolean;
}

const NOTHING: RecordOutcome = { evicted: 0, tooLarge: false };

export class EventHistory {
  readonly #rings = new Map<SubscriptionId, Ring>();
  /** Every stored event in arrival order, across subscriptions: the oldest is evicted first. */
  #order: { ring: Ring; event: StoredEvent }[] = [];
  #orderHead = 0;
  #bytes = 0;
  #stored = 0;

  /** `maxBytes`: estimated bytes all subscriptions' events may hold together (the realm's maxHistoryBytes). */
  constructor(readonly maxBytes = Infinity) {}

  /** Estimated bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  enable(subscription: SubscriptionId, limit: number): void {
    if (!this.#rings.has(subscription)) this.#rings.set(subscription, new Ring(limit));
  }

  isEnabled(subscription: SubscriptionId): boolean {
    return this.#rings.has(subscription);
  }

  get size(): number {
    return this.#rings.size;
  }

  /**
   * Stores an event for a history-enabled subscription. Publications restricted to session IDs
   * (exclude/eligible) are not stored: [ap_pubsub_event_history] they "should be ignored by the
   * Event History mechanism and not be saved at all".
   */
  record(event: StoredEvent, bytes = 0): RecordOutcome {
    if (event.filter.exclude !== undefined || event.filter.eligible !== undefined) return NOTHING;
    const ring = this.#rings.get(event.subscription);
    if (ring === undefined) return NOTHING;
    if (bytes > this.maxBytes) return { evicted: 0, tooLarge: true };
    let evicted = 0;
    while (this.#bytes + bytes > this.maxBytes && this.#evictOldest()) evicted++;
    const dropped = ring.push(event, bytes);
    this.#bytes += bytes;
    this.#stored++;
    if (dropped >= 0) {
      this.#bytes -= dropped;
      this.#stored--;
    }
    this.#order.push({ ring, event });
    this.#compact();
    return evicted === 0 ? NOTHING : { evicted, tooLarge: false };
  }

  /**
   * Drops the oldest stored event of the realm. Rings and the arrival order are both first in,
   * first out, so the order's head is either its ring's oldest event or already gone (dropped by
   * the ring's count limit, or its subscription forgotten).
   */
  #evictOldest(): boolean {
    while (this.#orderHead < this.#order.length) {
      const { ring, event } = this.#order[this.#orderHead++]!;
      if (!ring.live || ring.events[0] !== event) continue;
      ring.events.shift();
      this.#bytes -= ring.sizes.shift()!;
      this.#stored--;
      return true;
    }
    return false;
  }

  /** Keeps the arrival order from growing with entries that are gone. */
  #compact(): void {
    const length = this.#order.length - this.#orderHead;
    if (length <= 2 * this.#stored + 1024 && this.#orderHead <= length + 1024) return;
    const live = new Set<StoredEvent>();
    for (const ring of this.#rings.values()) for (const e of ring.events) live.add(e);
    this.#order = this.#order.slice(this.#orderHead).filter((o) => live.has(o.event));
    this.#orderHead = 0;
  }

  /** Events matching the query, oldest first (newest first with `reverse`), at most `limit`. */
  query(subscription: SubscriptionId, q: HistoryQuery): StoredEvent[] | undefined {
    const ring = this.#rings.get(subscription);
    if (ring === undefined) return undefined;
    let events = ring.events;
    // Publication IDs are random, so publication bounds are positions in the stored order.
    const position = (id: number | undefined): number => (id === undefined ? -1 : events.findIndex((e) => e.publication === id));
    let from = 0;
    let to = events.length; // exclusive
    if (q.fromPublication !== undefined) from = Math.max(from, position(q.fromPublication));
    if (q.afterPublication !== undefined) from = Math.max(from, position(q.afterPublication) + 1);
    if (q.untilPublication !== undefined) to = Math.min(to, position(q.untilPublication) + 1);
    if (q.beforePublication !== undefined) to = Math.min(to, Math.max(0, position(q.beforePublication)));
    // A bound naming a publication that is not (or no longer) stored selects nothing.
    for (const id of [q.fromPublication, q.afterPublication, q.beforePublication, q.untilPublication]) if (id !== undefined && position(id) === -1) return [];
    events = events
      .slice(from, Math.max(from, to))
      .filter(
        (e) =>
          (q.fromTime === undefined || e.at >= q.fromTime) &&
          (q.afterTime === undefined || e.at > q.afterTime) &&
          (q.beforeTime === undefined || e.at < q.beforeTime) &&
          (q.untilTime === undefined || e.at <= q.untilTime) &&
          (q.topic === undefined || e.topic === q.topic),
      );
    if (q.reverse === true) events.reverse();
    if (q.limit !== undefined && events.length > q.limit) events = events.slice(0, q.limit);
    return events;
  }

  forget(subscription: SubscriptionId): void {
    const ring = this.#rings.get(subscription);
    if (ring === undefined) return;
    this.#rings.delete(subscription);
    ring.live = false;
    for (const size of ring.sizes) this.#bytes -= size;
    this.#stored -= ring.events.length;
  }
}
