/**
 * The event store: where a realm's event history and retained events live. One interface, three
 * engines — `memory` (the default: nothing to set up, lost at exit), `sqlite` (one file through
 * better-sqlite3, survives restarts of a single node) and `jetstream` (NATS JetStream streams, shared
 * by every node of a cluster). The history plugin (meta/history.ts) is the only user: it appends
 * what the broker publishes on history-enabled topics, answers the history procedures and the
 * SUBSCRIBE catch-up from `query`, and persists retained events through `retain`.
 *
 * History is kept per topic: a topic matched by one or more `eventHistory` rules keeps its last
 * `limit` events (the largest limit of the rules that match it) for at most `maxAgeMs` (the
 * largest; 0 = no age limit), and all topics of a realm together at most `maxBytes` (the realm's
 * `limits.maxHistoryBytes`): past it the realm's oldest events go first. An engine may enforce a
 * limit a little late (after a batch, on an expiry pass) but never returns what a limit excludes.
 *
 * Order: every engine gives each stored event a `seq`, increasing in the order the engine stored
 * them within a realm (a cluster's JetStream stream orders the publications of every node). Reads
 * return events in `seq` order (newest first with `reverse`).
 */
import type { Dict, Kwargs, MatchPolicy, PublicationId, WireArgs } from '@switchboard/schemas';

/**
 * The authid/authrole lists of a publication, re-applied to whoever reads it. Publications with
 * session-ID lists (exclude/eligible) are never stored. [ap_pubsub_event_history]
 */
export interface StoredFilter {
  readonly excludeAuthid?: readonly string[];
  readonly eligibleAuthid?: readonly string[];
  readonly excludeAuthrole?: readonly string[];
  readonly eligibleAuthrole?: readonly string[];
}

/** One publication as the store keeps it. Payloads round-trip exactly: binary, 64-bit integers, unicode. */
export interface HistoryEvent {
  /** When the router received it, milliseconds since the epoch. */
  readonly at: number;
  readonly publication: PublicationId;
  readonly topic: string;
  /** EVENT.Details as published: publisher disclosure, payload-passthru fields. Never `topic`/`subscription`. */
  readonly details: Dict;
  readonly args: WireArgs | undefined;
  readonly kwargs: Kwargs | undefined;
  readonly filter: StoredFilter;
}

/** A stored event and its place in the realm's order. */
export interface StoredEvent extends HistoryEvent {
  readonly seq: number;
}

/** How long a topic's history is, from the rules that match it. */
export interface TopicPolicy {
  /** Events kept per topic (the oldest goes past it). */
  readonly limit: number;
  /** Events older than this are expired; 0: no age limit. */
  readonly maxAgeMs: number;
}

/** Which topics a read covers: one topic, or every stored topic a pattern matches. */
export type TopicSelector = { readonly match: 'exact'; readonly topic: string } | { readonly match: Exclude<MatchPolicy, 'exact'>; readonly topic: string };

/**
 * A read. All bounds are optional and combine with AND (the spec's get_events filters).
 * Publication bounds name an event by its publication ID; one that is not (or no longer) stored
 * makes `gap` true and the bound is ignored for `after`/`from` (the read starts at the oldest
 * stored event) and selects nothing for `before`/`until`.
 */
export interface HistoryQuery {
  readonly select: TopicSelector;
  /** Newest first. */
  readonly reverse?: boolean;
  /** At most this many (the caller clamps it to the realm's page size). */
  readonly limit: number;
  readonly fromTime?: number;
  readonly afterTime?: number;
  readonly beforeTime?: number;
  readonly untilTime?: number;
  readonly fromPublication?: PublicationId;
  readonly afterPublication?: PublicationId;
  readonly beforePublication?: PublicationId;
  readonly untilPublication?: PublicationId;
  /** Only events with seq greater than this (catch-up and paging by position). */
  readonly afterSeq?: number;
}

export interface HistoryPage {
  readonly events: StoredEvent[];
  /** More events match than `limit` let through. */
  readonly more: boolean;
  /** A publication bound named an event the store does not hold (expired, or never stored). */
  readonly gap: boolean;
}

/** A retained event as persisted: the topic's event for everybody (restricted ones are not persisted). */
export type RetainedRecord = HistoryEvent;

/** Counters an engine keeps, read by /metrics. */
export interface StoreStats {
  /** Events stored now (every realm, every topic). */
  readonly events: number;
  /** Bytes they take, as the engine counts them (encoded size). */
  readonly bytes: number;
  /** Events removed by a limit since start: per topic count, age, realm bytes. */
  readonly expired: { readonly count: number; readonly age: number; readonly bytes: number };
  /** Batches written and failed since start. */
  readonly batches: number;
  readonly failures: number;
  /** Appends refused since start (the store closed, or its write queue full): never stored. Engines without a bound leave it out. */
  readonly refused?: number;
  /** Queued events dropped since start after their batch kept failing: never stored. */
  readonly dropped?: number;
  /** Stored records that no longer decode, skipped by reads. */
  readonly undecodable?: number;
}

/** What `append` did with an event. */
export type AppendOutcome = 'queued' | 'too-large' | 'refused';

/** A realm's part of the store. */
export interface RealmStore {
  /**
   * Queues an event of a history-enabled topic. Never throws and never waits: the engine writes
   * queued events in one batch per event-loop turn (or as its own I/O allows). `policy` is the
   * topic's policy now (it may change when the config does). Says whether the event was queued, or
   * why it never will be stored: larger than the realm's whole budget (`too-large`), or the store
   * is closed or cannot take more (`refused`) — so that durability "ack" never acknowledges it.
   */
  append(event: HistoryEvent, policy: TopicPolicy): AppendOutcome;
  /** Resolves once every event appended before the call is stored (durability "ack", reads that must see them). */
  flush(): Promise<void>;
  query(q: HistoryQuery): Promise<HistoryPage>;
  /** Persists `record` as `topic`'s retained event (replacing the previous one); memory: nothing to do. */
  retain(record: RetainedRecord): void;
  /** Forgets `topic`'s persisted retained event (the broker evicted or expired it). */
  unretain(topic: string): void;
  /** Retained events persisted, to load into the broker at start (oldest first). */
  retained(): Promise<RetainedRecord[]>;
  /**
   * Brings the topics an earlier run stored up to the rules now (the history plugin calls it at
   * install with each topic's policy from the current `eventHistory`): a lowered limit or a new age
   * applies from the start, not at the topic's next event; resolves once the excess is deleted.
   * `policyOf` undefined: no rule keeps the topic any more (its events stay, unreadable, until the
   * byte budget takes them). Engines that start empty (memory) need not implement it.
   */
  applyPolicies?(policyOf: (topic: string) => TopicPolicy | undefined): Promise<void>;
  /** Events and bytes of this realm now. */
  readonly size: { readonly events: number; readonly bytes: number };
}

/** A realm's bounds on its persisted retained events: the broker's own (maxRetainedBytes, retention.maxTopics), so that the file never holds more than the broker would keep. */
export interface RealmStoreOptions {
  /** Bytes of persisted retained records (encoded size) of the realm; past it the oldest topics' rows go first. */
  readonly maxRetainedBytes?: number;
  /** Retained topics persisted for the realm; past it the oldest go first. */
  readonly maxRetainedTopics?: number;
}

export interface EventStore {
  readonly type: 'memory' | 'sqlite' | 'jetstream';
  /**
   * True when every node of a cluster writes to and reads from this one store (JetStream): a node
   * then records only publications made on it, not those another node forwarded.
   */
  readonly shared: boolean;
  /**
   * The part of the store for `realm` (created on first use). `maxBytes`: the realm's history
   * budget; `options`: the bounds of its persisted retained events (engines that persist them).
   */
  realm(name: string, maxBytes: number, options?: RealmStoreOptions): Promise<RealmStore>;
  readonly stats: StoreStats;
  /** Writes what is queued and releases files and connections. */
  close(): Promise<void>;
}

// ---- catch-up: the SUBSCRIBE `history` option ------------------------------------------------

/** What a SUBSCRIBE asks to replay before live events (Options.history). */
export type CatchUpRequest = { readonly after: PublicationId } | { readonly last: number };

/** One replayed event, as the subscriber gets it (details without `history`/`topic`: the router adds them). */
export interface ReplayEvent {
  readonly publication: PublicationId;
  readonly topic: string;
  readonly details: Dict;
  readonly args: WireArgs | undefined;
  readonly kwargs: Kwargs | undefined;
}

/** The replay of one catch-up, oldest first; `gap`: the `after` publication is no longer stored. */
export interface CatchUpReplay {
  readonly events: readonly ReplayEvent[];
  readonly gap: boolean;
}
