/**
 * The broker: subscriptions, publish → delivery plan, retained events. Pure: no sockets, no
 * encoding, no timers. IDs and the clock are injected so tests can pin them.
 */
import type { Kwargs, MatchPolicy, PublicationId, SessionId, SubscriptionId, WireArgs } from '@switchboard/schemas';
import { RandomIds, SequentialIds } from '@switchboard/schemas';
import { SubscriptionIndex } from './subscription-index.js';
import type { Subscription } from './subscription-index.js';
import { PrefixTrie, WildcardTrie } from './subscription-index.js';

export type { Subscription } from './subscription-index.js';

/** What the broker needs to know of a session. */
export interface Subscriber {
  readonly id: SessionId;
  /** For `exclude_authid`/`eligible_authid`; undefined before authentication. */
  readonly authid?: string | undefined;
  readonly authrole?: string | undefined;
}

/**
 * Who may receive a publication. [ap_pubsub_subscriber_blackwhite_listing] A subscriber receives
 * it when it passes every list that is set: in each eligible list given, in no exclude list.
 */
export interface RecipientFilter {
  excludeMe: boolean;
  exclude?: ReadonlySet<number> | undefined;
  eligible?: ReadonlySet<number> | undefined;
  excludeAuthid?: ReadonlySet<string> | undefined;
  eligibleAuthid?: ReadonlySet<string> | undefined;
  excludeAuthrole?: ReadonlySet<string> | undefined;
  eligibleAuthrole?: ReadonlySet<string> | undefined;
}

export const NO_FILTER: RecipientFilter = { excludeMe: true };

export interface RetentionOptions {
  /** Most topics with a retained event; the oldest retained event is dropped past it. 0: retention off. */
  maxTopics: number;
  /** A retained event older than this is no longer delivered. 0: kept until replaced. */
  ttlMs: number;
  /**
   * Bytes (as the caller estimates them) all retained events may hold together; the oldest topics'
   * events are evicted to make room, and an event larger than this is not retained. Unset: no limit.
   */
  maxBytes?: number;
}

/** What retaining one event did. */
export interface RetainOutcome {
  retained: boolean;
  /** Topics whose retained events were evicted to stay within maxBytes. */
  evicted: number;
  /** The event alone is larger than maxBytes. */
  tooLarge: boolean;
  /**
   * Topics whose event for everybody the broker no longer keeps because of this call: evicted
   * for maxBytes or maxTopics, or (a restricted event too large beside it) this topic's own.
   * Whoever persists retained events forgets these (meta/history.ts). Shared and empty mostly.
   */
  evictedTopics: readonly string[];
}

const NO_TOPICS: readonly string[] = [];

export interface BrokerOptions {
  /** Draws subscription IDs (given the subscription's topic and policy, for IDs derived from them). */
  subscriptionIds?: { next(topic: string, match: MatchPolicy): SubscriptionId };
  publicationIds?: { next(): PublicationId };
  /** Milliseconds since the epoch; used for `created` timestamps and retention TTL. */
  clock?: () => number;
  retention?: RetentionOptions;
}

export interface SubscribeOutcome<S> {
  subscription: Subscription<S>;
  /** The subscription did not exist before this call (meta event `on_create`). */
  created: boolean;
  /** The session was not subscribed before (meta event `on_subscribe`). */
  added: boolean;
}

export interface UnsubscribeOutcome<S> {
  subscription: Subscription<S>;
  /** The last subscriber left, so the subscription is gone (meta event `on_delete`). */
  deleted: boolean;
}

/** Who gets an event. The realm encodes and sends. */
export interface DeliveryPlan<S> {
  publication: PublicationId;
  publisher: S | undefined;
  topic: string;
  subscriptions: readonly Subscription<S>[];
  filter: RecipientFilter;
}

/** An event kept for subscribers that ask for it with `get_retained`. [ap_pubsub_event_retention] */
export interface RetainedEvent<S> {
  readonly publication: PublicationId;
  readonly topic: string;
  readonly args: WireArgs | undefined;
  readonly kwargs: Kwargs | undefined;
  /** EVENT.Details the publisher's options gave (publisher disclosure). */
  readonly details: Readonly<Record<string, unknown>>;
  readonly publisher: S | undefined;
  readonly filter: RecipientFilter;
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** Its size as estimated by whoever retained it (for maxBytes). */
  readonly bytes: number;
}

export function isRecipient<S extends Subscriber>(plan: { publisher: S | undefined; filter: RecipientFilter }, s: S): boolean {
  const f = plan.filter;
  if (f === NO_FILTER) return s !== plan.publisher;
  if (f.excludeMe && s === plan.publisher) return false;
  if (f.exclude?.has(s.id)) return false;
  if (f.eligible !== undefined && !f.eligible.has(s.id)) return false;
  if (f.excludeAuthid !== undefined && s.authid !== undefined && f.excludeAuthid.has(s.authid)) return false;
  if (f.eligibleAuthid !== undefined && (s.authid === undefined || !f.eligibleAuthid.has(s.authid))) return false;
  if (f.excludeAuthrole !== undefined && s.authrole !== undefined && f.excludeAuthrole.has(s.authrole)) return false;
  if (f.eligibleAuthrole !== undefined && (s.authrole === undefined || !f.eligibleAuthrole.has(s.authrole))) return false;
  return true;
}

/** A topic's retained events: the one for everybody and the newest restricted ones. */
interface TopicRetention<S> {
  everyone: RetainedEvent<S> | undefined;
  restricted: RetainedEvent<S>[];
  /** Sum of its events' bytes. */
  bytes: number;
}

function isRestricted(f: RecipientFilter): boolean {
  return (
    f.exclude !== undefined ||
    f.eligible !== undefined ||
    f.excludeAuthid !== undefined ||
    f.eligibleAuthid !== undefined ||
    f.excludeAuthrole !== undefined ||
    f.eligibleAuthrole !== undefined
  );
}

export class Broker<S extends Subscriber> {
  readonly #index = new SubscriptionIndex<S>();
  // Reverse index: a leaving session touches only its own subscriptions.
  readonly #bySession = new Map<S, Set<Subscription<S>>>();
  readonly #byId = new Map<SubscriptionId, Subscription<S>>();
  readonly #subscriptionIds: { next(topic: string, match: MatchPolicy): SubscriptionId };
  readonly #publicationIds: { next(): PublicationId };
  readonly #clock: () => number;
  readonly #retention: RetentionOptions;
  // Insertion order = age, so the oldest is first when the topic limit is reached.
  readonly #retained = new Map<string, TopicRetention<S>>();
  #retainedBytes = 0;

  constructor(options: BrokerOptions = {}) {
    this.#subscriptionIds = options.subscriptionIds ?? new SequentialIds<SubscriptionId>();
    this.#publicationIds = options.publicationIds ?? new RandomIds<PublicationId>();
    this.#clock = options.clock ?? Date.now;
    this.#retention = options.retention ?? { maxTopics: 10_000, ttlMs: 0 };
  }

  /** Adds `session` to the subscription for (topic, match), creating it if needed. Idempotent. */
  subscribe(session: S, topic: string, match: MatchPolicy = 'exact'): SubscribeOutcome<S> {
    let subscription = this.#index.get(topic, match);
    let created = false;
    if (subscription === undefined) {
      subscription = this.#create(topic, match, false);
      created = true;
    }
    const added = !subscription.subscribers.has(session);
    subscription.subscribers.add(session);
    let mine = this.#bySession.get(session);
    if (mine === undefined) this.#bySession.set(session, (mine = new Set()));
    mine.add(subscription);
    return { subscription, created, added };
  }

  /** A subscription the router keeps whether or not anyone subscribes (event history). */
  ensureSubscription(topic: string, match: MatchPolicy): Subscription<S> {
    const existing = this.#index.get(topic, match);
    if (existing === undefined) return this.#create(topic, match, true);
    existing.persistent = true;
    return existing;
  }

  #create(topic: string, match: MatchPolicy, persistent: boolean): Subscription<S> {
    const subscription: Subscription<S> = {
      id: this.#subscriptionIds.next(topic, match),
      topic,
      match,
      created: this.#clock(),
      subscribers: new Set(),
      persistent,
    };
    this.#index.add(subscription);
    this.#byId.set(subscription.id, subscription);
    return subscription;
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

  /** The delivery plan for one publication. `publisher` is undefined for router-originated events. */
  publish(publisher: S | undefined, topic: string, filter: RecipientFilter = NO_FILTER): DeliveryPlan<S> {
    return { publication: this.#publicationIds.next(), publisher, topic, subscriptions: this.#index.match(topic), filter };
  }

  /** The delivery plan for a publication whose ID was drawn elsewhere (another cluster node). */
  publishAs(publication: PublicationId, topic: string, filter: RecipientFilter): DeliveryPlan<S> {
    return { publication, publisher: undefined, topic, subscriptions: this.#index.match(topic), filter };
  }

  /**
   * Keeps the event as the topic's retained event. [ap_pubsub_event_retention] The broker keeps
   * "one event that all subscribers would receive" plus supplemental ones restricted by
   * exclude/eligible lists: an unrestricted event replaces them all, a restricted one is added
   * (the last 8 are kept) without taking the unrestricted one away from everybody else.
   */
  retain(
    plan: DeliveryPlan<S>,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
    details: Readonly<Record<string, unknown>>,
    bytes = 0,
    /** When it was published, if not now (an event persisted by an earlier run: ttlMs counts from then). */
    at?: number,
  ): RetainOutcome {
    if (this.#retention.maxTopics === 0) return { retained: false, evicted: 0, tooLarge: false, evictedTopics: NO_TOPICS };
    const maxBytes = this.#retention.maxBytes ?? Infinity;
    if (bytes > maxBytes) return { retained: false, evicted: 0, tooLarge: true, evictedTopics: NO_TOPICS };
    const event: RetainedEvent<S> = {
      publication: plan.publication,
      topic: plan.topic,
      args,
      kwargs,
      details,
      publisher: plan.publisher,
      filter: plan.filter,
      at: at ?? this.#clock(),
      bytes,
    };
    const previous = this.#retained.get(plan.topic);
    if (previous !== undefined) {
      this.#retained.delete(plan.topic); // re-inserted below as the newest topic
      this.#retainedBytes -= previous.bytes;
    }
    let evictedTopics: string[] | undefined;
    const drop = (): boolean => {
      const topic = this.#dropOldestTopic();
      if (topic === undefined) return false;
      (evictedTopics ??= []).push(topic);
      return true;
    };
    if (this.#retained.size >= this.#retention.maxTopics) drop();
    const restricted = isRestricted(plan.filter);
    let entry: TopicRetention<S>;
    if (restricted) {
      const kept = [...(previous?.restricted ?? []), event].slice(-8);
      entry = { everyone: previous?.everyone, restricted: kept, bytes: 0 };
      // The topic's own older events give way first when the topic alone is over the budget.
      entry.bytes = topicBytes(entry);
      while (entry.bytes > maxBytes && entry.restricted.length > 1) {
        entry.restricted.shift();
        entry.bytes = topicBytes(entry);
      }
      if (entry.bytes > maxBytes) {
        if (previous?.everyone !== undefined) (evictedTopics ??= []).push(plan.topic);
        entry = { everyone: undefined, restricted: [event], bytes };
      }
    } else entry = { everyone: event, restricted: [], bytes };
    let evicted = 0;
    while (this.#retainedBytes + entry.bytes > maxBytes && drop()) evicted++;
    this.#retained.set(plan.topic, entry);
    this.#retainedBytes += entry.bytes;
    return { retained: true, evicted, tooLarge: false, evictedTopics: evictedTopics ?? NO_TOPICS };
  }

  /** Drops the oldest retained topic; its name, or undefined when none is left. */
  #dropOldestTopic(): string | undefined {
    const oldest = this.#retained.entries().next();
    if (oldest.done === true) return undefined;
    this.#retained.delete(oldest.value[0]);
    this.#retainedBytes -= oldest.value[1].bytes;
    return oldest.value[0];
  }

  /** Bytes held by retained events (as estimated when they were retained). */
  get retainedBytes(): number {
    return this.#retainedBytes;
  }

  /**
   * For each retained topic a new subscription matches (oldest topic first), the most recent
   * retained event `subscriber` may receive (without a subscriber: the most recent one).
   * Exact subscriptions cost one lookup; pattern subscriptions test each retained topic
   * (bounded by `maxTopics`).
   */
  retainedFor(subscription: Subscription<S>, subscriber?: S): RetainedEvent<S>[] {
    const now = this.#clock();
    const pick = (entry: TopicRetention<S> | undefined): RetainedEvent<S> | undefined => {
      if (entry === undefined) return undefined;
      const fresh = (e: RetainedEvent<S>): boolean => this.#retention.ttlMs === 0 || now - e.at <= this.#retention.ttlMs;
      for (let i = entry.restricted.length - 1; i >= 0; i--) {
        const e = entry.restricted[i]!;
        if (fresh(e) && (subscriber === undefined || isRecipient({ publisher: e.publisher, filter: { ...e.filter, excludeMe: false } }, subscriber))) return e;
      }
      const e = entry.everyone;
      return e !== undefined && fresh(e) ? e : undefined;
    };
    const out: RetainedEvent<S>[] = [];
    const add = (entry: TopicRetention<S> | undefined): void => {
      const e = pick(entry);
      if (e !== undefined) out.push(e);
    };
    if (subscription.match === 'exact') add(this.#retained.get(subscription.topic));
    else if (subscription.match === 'prefix') {
      for (const [topic, entry] of this.#retained) if (topic.startsWith(subscription.topic)) add(entry);
    } else {
      const trie = new WildcardTrie<true>();
      trie.set(subscription.topic, true);
      for (const [topic, entry] of this.#retained) if (trie.firstMatch(topic) === true) add(entry);
    }
    return out;
  }

  get retainedCount(): number {
    return this.#retained.size;
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

  /** The subscription for exactly this (topic, match), if any. */
  lookup(topic: string, match: MatchPolicy): Subscription<S> | undefined {
    return this.#index.get(topic, match);
  }

  /** Every subscription matching a topic. */
  match(topic: string): readonly Subscription<S>[] {
    return this.#index.match(topic);
  }

  /** Whether any subscription matches `topic`. */
  hasSubscribers(topic: string): boolean {
    return this.#index.hasMatch(topic);
  }

  /** Subscriptions held by one session. */
  subscriptionsOf(session: S): ReadonlySet<Subscription<S>> {
    return this.#bySession.get(session) ?? EMPTY;
  }

  subscriptions(): IterableIterator<Subscription<S>> {
    return this.#byId.values();
  }

  get subscriptionCount(): number {
    return this.#byId.size;
  }

  #detach(subscription: Subscription<S>, session: S): boolean {
    subscription.subscribers.delete(session);
    if (subscription.subscribers.size > 0 || subscription.persistent) return false;
    this.#index.remove(subscription);
    this.#byId.delete(subscription.id);
    return true;
  }
}

const EMPTY: ReadonlySet<never> = new Set();

function topicBytes<S>(entry: TopicRetention<S>): number {
  let bytes = entry.everyone?.bytes ?? 0;
  for (const e of entry.restricted) bytes += e.bytes;
  return bytes;
}

export { PrefixTrie, WildcardTrie };
