/**
 * The broker: subscriptions and publish → delivery plan. Pure: no sockets, no encoding, no timers.
 * IDs and the clock are injected so tests can pin them.
 */
import type { MatchPolicy, PublicationId, SessionId, SubscriptionId } from '@switchboard/schemas';
import { RandomIds, SequentialIds } from '@switchboard/schemas';
import { SubscriptionIndex } from './subscription-index.js';
import type { Subscription } from './subscription-index.js';

export type { Subscription } from './subscription-index.js';

/** What the broker needs to know of a session. */
export interface Subscriber {
  readonly id: SessionId;
}

export interface BrokerOptions {
  subscriptionIds?: { next(): SubscriptionId };
  publicationIds?: { next(): PublicationId };
  /** Milliseconds since the epoch; used for `created` timestamps. */
  clock?: () => number;
}

export interface SubscribeOutcome<S> {
  subscription: Subscription<S>;
  /** The subscription did not exist before this call (meta event `on_create`). */
  created: boolean;
}

export interface UnsubscribeOutcome<S> {
  subscription: Subscription<S>;
  /** The last subscriber left, so the subscription is gone (meta event `on_delete`). */
  deleted: boolean;
}

/** Who gets an event. `exclude` is the publisher when it asked not to receive its own event. */
export interface DeliveryPlan<S> {
  publication: PublicationId;
  publisher: S;
  subscriptions: readonly Subscription<S>[];
  exclude: S | undefined;
}

export class Broker<S extends Subscriber> {
  readonly #index = new SubscriptionIndex<S>();
  // Reverse index: a leaving session touches only its own subscriptions.
  readonly #bySession = new Map<S, Set<Subscription<S>>>();
  readonly #byId = new Map<SubscriptionId, Subscription<S>>();
  readonly #subscriptionIds: { next(): SubscriptionId };
  readonly #publicationIds: { next(): PublicationId };
  readonly #clock: () => number;

  constructor(options: BrokerOptions = {}) {
    this.#subscriptionIds = options.subscriptionIds ?? new SequentialIds<SubscriptionId>();
    this.#publicationIds = options.publicationIds ?? new RandomIds<PublicationId>();
    this.#clock = options.clock ?? Date.now;
  }

  /** Adds `session` to the subscription for (topic, match), creating it if needed. Idempotent. */
  subscribe(session: S, topic: string, match: MatchPolicy = 'exact'): SubscribeOutcome<S> {
    if (!this.#index.supports(match)) throw new RangeError(`match policy '${match}' is not supported`);
    let subscription = this.#index.get(topic, match);
    let created = false;
    if (subscription === undefined) {
      subscription = { id: this.#subscriptionIds.next(), topic, match, created: this.#clock(), subscribers: new Set() };
      this.#index.add(subscription);
      this.#byId.set(subscription.id, subscription);
      created = true;
    }
    subscription.subscribers.add(session);
    let mine = this.#bySession.get(session);
    if (mine === undefined) this.#bySession.set(session, (mine = new Set()));
    mine.add(subscription);
    return { subscription, created };
  }

  /** Removes `session` from a subscription it holds; undefined when it holds no such subscription. */
  unsubscribe(session: S, id: SubscriptionId): UnsubscribeOutcome<S> | undefined {
    const subscription = this.#byId.get(id);
    const mine = this.#bySession.get(session);
    if (subscription === undefined || mine === undefined || !mine.has(subscription)) return undefined;
    mine.delete(subscription);
    if (mine.size === 0) this.#bySession.delete(session);
    return { subscription, deleted: this.#detach(subscription, session) };
  }

  /** The delivery plan for one publication. The caller encodes and sends. */
  publish(publisher: S, topic: string, options: { excludeMe?: boolean } = {}): DeliveryPlan<S> {
    return {
      publication: this.#publicationIds.next(),
      publisher,
      subscriptions: this.#index.match(topic),
      // [bp_pubsub] exclude_me defaults to true.
      exclude: options.excludeMe === false ? undefined : publisher,
    };
  }

  /** Drops every subscription of a leaving session; returns what it held. */
  removeSession(session: S): UnsubscribeOutcome<S>[] {
    const mine = this.#bySession.get(session);
    if (mine === undefined) return [];
    this.#bySession.delete(session);
    const outcomes: UnsubscribeOutcome<S>[] = [];
    for (const subscription of mine) outcomes.push({ subscription, deleted: this.#detach(subscription, session) });
    return outcomes;
  }

  getSubscription(id: SubscriptionId): Subscription<S> | undefined {
    return this.#byId.get(id);
  }

  /** Subscriptions held by one session. */
  subscriptionsOf(session: S): ReadonlySet<Subscription<S>> {
    return this.#bySession.get(session) ?? EMPTY;
  }

  get subscriptionCount(): number {
    return this.#byId.size;
  }

  #detach(subscription: Subscription<S>, session: S): boolean {
    subscription.subscribers.delete(session);
    if (subscription.subscribers.size > 0) return false;
    this.#index.remove(subscription);
    this.#byId.delete(subscription.id);
    return true;
  }
}

const EMPTY: ReadonlySet<never> = new Set();
