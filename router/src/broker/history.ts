/**
 * Event history: the last N events of history-enabled subscriptions, in memory, in the order the
 * broker received them. [ap_pubsub_event_history] Pure: the clock is injected.
 */
import type { Args, Dict, Kwargs, PublicationId, SubscriptionId } from '@switchboard/schemas';
import type { RecipientFilter } from './broker.js';

export interface StoredEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly subscription: SubscriptionId;
  readonly publication: PublicationId;
  readonly topic: string;
  readonly details: Dict;
  readonly args: Args | undefined;
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
  constructor(readonly limit: number) {}

  push(event: StoredEvent): void {
    this.events.push(event);
    if (this.events.length > this.limit) this.events.shift();
  }
}

export class EventHistory {
  readonly #rings = new Map<SubscriptionId, Ring>();

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
  record(event: StoredEvent): void {
    if (event.filter.exclude !== undefined || event.filter.eligible !== undefined) return;
    this.#rings.get(event.subscription)?.push(event);
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
    events = events.slice(from, Math.max(from, to)).filter(
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
    this.#rings.delete(subscription);
  }
}
