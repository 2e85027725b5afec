/**
 * The `jetstream` event store: a realm's history in one NATS JetStream stream, shared by every node
 * of a cluster (store.ts has the interface and its semantics). Used with the config's `cluster`
 * block, on the cluster's NATS connection (ClusterNode.jetstream()); loaded only then (it imports
 * the optional NATS packages).
 *
 * - One stream per realm, `<prefix>-history-<realm token>`, one subject per topic,
 *   `<prefix>.<realm token>.h.<topic tokens>` (cluster/names.ts). The stream keeps what
 *   the realm's rules allow at most: max_msgs_per_subject = the largest rule `limit`, max_age = the
 *   largest rule `maxAgeMs` (none if a rule has 0), max_bytes = the realm's `maxHistoryBytes`,
 *   discard old. A topic whose own policy is smaller is trimmed when read: each message carries
 *   its topic's policy at the time it was written (headers), and the newest message of a topic
 *   says what the topic keeps now. `seq` is the stream sequence, so every node of the cluster
 *   sees one order.
 * - Writes: `append` encodes the record and publishes it at once, asynchronously; at most
 *   `maxInFlight` publishes wait for their acknowledgement, the rest queue in memory up to
 *   `maxQueuedBytes` (past it an event is dropped and counted as a failure). A failed publish is
 *   logged (rate-limited) and counted; it never throws into the publish path. `flush()` resolves
 *   when every publish made before it is acknowledged, and rejects if one of them failed or after
 *   `flushTimeoutMs` (NATS down).
 * - Reads: an ephemeral pull consumer (ack none, in memory) filtered on the narrowest subject that
 *   covers the selection, from the first sequence the query allows (start sequence for `afterSeq`,
 *   start time for a lower time bound) up to the stream's last sequence as of the read, then the
 *   per-topic policies, the pattern (broker rule) and the query's bounds in JS. Bounded: at most
 *   `maxScan` messages and `readTimeoutMs`; the consumer is deleted after the read. A reverse read
 *   with no lower bound (last(n)) starts near the end, a window that doubles until the page is
 *   full. At most `maxConcurrentReads` reads run at once per store, `maxQueuedReads` wait; past
 *   them a read fails at once (the history plugin answers store_failed).
 *   nats-server 2.9 has neither batched direct get nor multi-subject filters (2.10/2.11), hence a
 *   consumer and one subject filter.
 * - Retained events: the cluster's `retained` KV bucket keeps them already; retain() does nothing
 *   and retained() is empty.
 * - One event is one JetStream message, so at most the NATS server's `max_payload` (1 MiB by
 *   default) with its headers: a larger event is refused at append (logged, counted as a failure;
 *   with durability "ack" its publisher gets ERROR switchboard.error.store_failed). It was still
 *   delivered, on every node. Raise the server's max_payload to keep larger events.
 */
import type { NatsConnection, MsgHdrs } from '@nats-io/transport-node';
import type { ConsumerConfig, JetStreamClient, JetStreamManager, JsMsg, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import type { MatchPolicy, PublicationId } from '@switchboard/schemas';
import { topicMatcher } from '../broker/subscription-index.js';
import { ClusterNames } from '../cluster/names.js';
import { decodeRecord, encodeRecord } from './codec.js';
import { logRefusal, silentLogger } from '../log.js';
import type { Logger } from '../log.js';
import { NATS, importOptional } from '../optional.js';
import type {
  AppendOutcome,
  EventStore,
  HistoryEvent,
  HistoryPage,
  HistoryQuery,
  RealmStore,
  RetainedRecord,
  StoredEvent,
  StoreStats,
  TopicPolicy,
} from './store.js';

// NATS is an optional dependency (optional.ts): this module is imported only for a cluster config.
const { headers: natsHeaders } = await importOptional(NATS, () => import('@nats-io/transport-node'));
const { jetstream: jetstreamClient, jetstreamManager } = await importOptional(NATS, () => import('@nats-io/jetstream'));

/** JetStream's refusal of a stream's replica count, said in terms of the config keys that set it. */
function replicasRefused(err: unknown, replicas: number, stream: string): unknown {
  const reason = (err as Error)?.message ?? String(err);
  if (!/replicas > 1 not supported|insufficient resources|no suitable peers/i.test(reason)) return err;
  return new Error(
    `store.replicas (default: cluster.nats.replicas): NATS refused ${replicas} replicas for the history stream '${stream}' (${reason}): a single nats-server takes 1; 3 or 5 need a NATS cluster with at least that many JetStream servers up`,
  );
}

/** The largest `limit` a rule may have (config): the stream's per-subject bound when the rules are not known. */
const MAX_RULE_LIMIT = 1_000_000;
/** How far the router's clock (an event's `at`) may be ahead of the NATS server's (the stream's time). */
const CLOCK_SKEW_MS = 60_000;
/** A pattern read covering at most this many stored topics reads each topic's subject on its own, this many at a time. */
const MAX_SUBJECT_READS = 64;
const PARALLEL_READS = 4;
/** Messages one pull request asks for. */
const FETCH_BATCH = 500;
/** Message headers: the topic's policy when the event was written. */
const LIMIT_HEADER = 'Sb-Limit';
const AGE_HEADER = 'Sb-Max-Age';
/** Bytes kept for those headers under max_payload (they take under 100). */
const POLICY_HEADER_ROOM = 256;

export interface JetStreamStoreOptions {
  client: JetStreamClient;
  manager: JetStreamManager;
  /** The cluster's subject prefix (config `cluster.prefix`). */
  prefix: string;
  /** Stream storage (config `store.storage`, default file). */
  storage?: 'file' | 'memory';
  /** Stream replicas (config `store.replicas`, default 1). */
  replicas?: number;
  /**
   * The largest `limit` and `maxAgeMs` (0 if a rule has none) of a realm's `eventHistory` rules,
   * for the stream's limits; undefined: not known (then 1 000 000 per topic and no age limit, and
   * the topics' policies are applied when read). A policy larger than the stream's, seen in
   * `append` (the config changed), raises the stream's limits.
   */
  realmLimits?: (realm: string) => TopicPolicy | undefined;
  log?: Logger;
  /** Publishes waiting for their acknowledgement at most (default 1000). */
  maxInFlight?: number;
  /** Bytes of encoded events queued behind them at most (default 64 MiB); past it an event is dropped. */
  maxQueuedBytes?: number;
  /** How long one publish waits for its acknowledgement (default 5000 ms). */
  publishTimeoutMs?: number;
  /** How long `flush()` waits at most before it rejects (default 10 000 ms). */
  flushTimeoutMs?: number;
  /** How long one read may take (default 10 000 ms). */
  readTimeoutMs?: number;
  /** Messages one read may scan at most (default 200 000); a larger read fails. */
  maxScan?: number;
  /**
   * Reads running at once per store at most (default 4); the rest wait. A read holds what it
   * fetched until it ends, so many at once multiply the heap and share the connection until they
   * all pass readTimeoutMs (review 2, R6: 20 reads of a 20 MB topic took 14.5 s, 2 failed).
   */
  maxConcurrentReads?: number;
  /** Reads waiting for one of those places at most (default 64); past it a read fails at once (store_failed). */
  maxQueuedReads?: number;
  /** How often `size` asks the stream for its message and byte counts, at most (default 2000 ms). */
  statsIntervalMs?: number;
  /** The clock for age limits (tests). */
  now?: () => number;
  /** The largest message the NATS server takes now (its max_payload; default 1 MiB): a larger event is refused. */
  maxPayload?: () => number;
}

type Resolved = Required<Omit<JetStreamStoreOptions, 'realmLimits'>> & Pick<JetStreamStoreOptions, 'realmLimits'>;

interface Counters {
  batches: number;
  failures: number;
}

/** The bound on a store's reads running at once, shared by its realms, with a bounded queue behind it. */
class ReadGate {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}

  /** Runs `read` when a place is free; rejects at once when the queue is full. */
  async run<T>(read: () => Promise<T>): Promise<T> {
    if (this.#running >= Math.max(1, this.max)) {
      if (this.#waiting.length >= this.maxQueued) throw new Error(`history store: more than ${this.maxQueued} reads are waiting for JetStream`);
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#running++;
    try {
      return await read();
    } finally {
      // The place passes to the next waiter as it is (#running unchanged), or is freed.
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}

/** The JetStream engine: one RealmStore per realm, all on one NATS connection. */
export class JetStreamStore implements EventStore {
  readonly type = 'jetstream';
  readonly shared = true;
  readonly #options: Resolved;
  readonly #names: ClusterNames;
  readonly #realms = new Map<string, Promise<JetStreamRealm>>();
  /** Realms whose stream is ready (`stats` is synchronous). */
  readonly #ready: JetStreamRealm[] = [];
  readonly #counters: Counters = { batches: 0, failures: 0 };
  readonly #reads: ReadGate;
  #closed = false;

  constructor(options: JetStreamStoreOptions) {
    this.#options = {
      storage: 'file',
      replicas: 1,
      maxInFlight: 1000,
      maxQueuedBytes: 64 * 1024 * 1024,
      publishTimeoutMs: 5000,
      flushTimeoutMs: 10_000,
      readTimeoutMs: 10_000,
      maxScan: 200_000,
      maxConcurrentReads: 4,
      maxQueuedReads: 64,
      statsIntervalMs: 2000,
      now: Date.now,
      maxPayload: () => 1024 * 1024,
      ...options,
      log: options.log ?? silentLogger(),
    };
    this.#names = new ClusterNames(options.prefix);
    this.#reads = new ReadGate(this.#options.maxConcurrentReads, this.#options.maxQueuedReads);
  }

  /** A store on `nc` (tests, tools); a router uses ClusterNode.jetstream(). */
  static async connect(nc: NatsConnection, options: Omit<JetStreamStoreOptions, 'client' | 'manager'>): Promise<JetStreamStore> {
    return new JetStreamStore({ ...options, client: jetstreamClient(nc), manager: await jetstreamManager(nc) });
  }

  realm(name: string, maxBytes: number): Promise<RealmStore> {
    if (this.#closed) return Promise.reject(new Error('history store: closed'));
    let realm = this.#realms.get(name);
    if (realm === undefined) {
      realm = JetStreamRealm.open(name, maxBytes, this.#options, this.#names, this.#counters, this.#reads);
      this.#realms.set(name, realm);
      realm.then(
        (r) => this.#ready.push(r),
        () => this.#realms.delete(name),
      );
    }
    return realm;
  }

  get stats(): StoreStats {
    let events = 0;
    let bytes = 0;
    for (const realm of this.#ready) {
      const size = realm.size;
      events += size.events;
      bytes += size.bytes;
    }
    // The stream expires by count, age and bytes itself, without telling: not counted here.
    return { events, bytes, expired: { count: 0, age: 0, bytes: 0 }, batches: this.#counters.batches, failures: this.#counters.failures };
  }

  /** Waits (bounded) for what is in flight; the NATS connection is the cluster's and stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const realms = await Promise.allSettled(this.#realms.values());
    await Promise.allSettled(realms.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  }
}

/** A flush() waiting for the publishes made before it. */
interface FlushWaiter {
  /** Resolved once every append numbered up to this one has settled. */
  readonly through: number;
  failed: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Queued {
  readonly ticket: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
}

/** A read would scan more than `maxScan` messages. */
class ScanTooLarge extends Error {
  constructor(maxScan: number) {
    super(`history store: the read would scan more than ${maxScan} events`);
  }
}

/** One read's bounds, shared by its consumers. */
interface ScanRead {
  readonly deadline: number;
  /** Messages it may still scan. */
  budget: number;
  /** The stream's last sequence when the read began: it reads no further. */
  lastSeq: number;
}

/** A message read back, with what the read needs of it. */
interface Read {
  readonly event: StoredEvent;
  readonly limit: number;
  readonly maxAgeMs: number;
}

class JetStreamRealm implements RealmStore {
  readonly #stream: string;
  readonly #headers = new Map<string, MsgHdrs>();
  /** The stream's limits as this realm last set or saw them. */
  #streamLimit: number;
  #streamAgeMs: number;
  #raising: Promise<void> | undefined;
  // writes
  #tickets = 0;
  /** Every append numbered up to this one has settled (stored, failed or dropped). */
  #settledThrough = 0;
  /** Appends settled out of order, above #settledThrough. */
  readonly #settledAbove = new Set<number>();
  /** Failed appends above #settledThrough when they failed (flush() after them rejects). */
  readonly #failedAbove = new Set<number>();
  #inFlight = 0;
  /** Publishes waiting for a place in flight; those before #queueHead are sent (undefined). */
  readonly #queue: (Queued | undefined)[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  readonly #waiters: FlushWaiter[] = [];
  // size
  #size = { events: 0, bytes: 0 };
  #sizeAt = 0;
  #sizing = false;

  private constructor(
    readonly name: string,
    readonly maxBytes: number,
    readonly options: Resolved,
    readonly names: ClusterNames,
    readonly counters: Counters,
    readonly reads: ReadGate,
    limits: TopicPolicy,
  ) {
    this.#stream = names.historyStream(name);
    this.#streamLimit = limits.limit;
    this.#streamAgeMs = limits.maxAgeMs;
  }

  /** Creates the realm's stream, or updates one that exists with other limits (never deletes it). */
  static async open(name: string, maxBytes: number, options: Resolved, names: ClusterNames, counters: Counters, reads: ReadGate): Promise<JetStreamRealm> {
    const limits = options.realmLimits?.(name) ?? { limit: MAX_RULE_LIMIT, maxAgeMs: 0 };
    const realm = new JetStreamRealm(name, maxBytes, options, names, counters, reads, limits);
    await realm.#ensureStream();
    return realm;
  }

  #streamConfig(): Partial<StreamConfig> & { name: string } {
    return {
      name: this.#stream,
      subjects: [this.names.historySubjects(this.name)],
      storage: this.options.storage,
      num_replicas: this.options.replicas,
      retention: 'limits',
      discard: 'old',
      max_msgs_per_subject: this.#streamLimit,
      max_age: this.#streamAgeMs * 1_000_000,
      max_bytes: this.maxBytes > 0 ? this.maxBytes : -1,
    };
  }

  async #ensureStream(): Promise<void> {
    const wanted = this.#streamConfig();
    let info: StreamInfo | undefined;
    try {
      info = await this.options.manager.streams.info(this.#stream);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
    }
    if (info === undefined) {
      try {
        await this.options.manager.streams.add(wanted);
        return;
      } catch (err) {
        // Another node created it in between (with other settings): update it as below.
        info = await this.options.manager.streams.info(this.#stream).catch(() => undefined);
        if (info === undefined) throw replicasRefused(err, this.options.replicas, this.#stream);
      }
    }
    const c = info.config;
    const same =
      c.max_msgs_per_subject === wanted.max_msgs_per_subject &&
      c.max_age === wanted.max_age &&
      c.max_bytes === wanted.max_bytes &&
      c.num_replicas === wanted.num_replicas &&
      c.discard === wanted.discard &&
      c.subjects.length === 1 &&
      c.subjects[0] === wanted.subjects?.[0];
    if (same) return;
    try {
      const { name: _, storage: __, retention: ___, ...update } = wanted;
      await this.options.manager.streams.update(this.#stream, update);
    } catch (err) {
      // An update the server refuses (replicas on a single server...): the stream serves as it is.
      this.options.log.warn({ err, stream: this.#stream }, 'history store: could not update the JetStream stream; keeping its settings');
    }
  }

  get size(): { readonly events: number; readonly bytes: number } {
    if (this.options.now() - this.#sizeAt >= this.options.statsIntervalMs) this.#refreshSize();
    return this.#size;
  }

  #refreshSize(): void {
    if (this.#sizing) return;
    this.#sizing = true;
    this.#sizeAt = this.options.now();
    this.options.manager.streams
      .info(this.#stream)
      .then(
        (info) => {
          this.#size = { events: info.state.messages, bytes: info.state.bytes };
        },
        () => undefined,
      )
      .finally(() => {
        this.#sizing = false;
      });
  }

  // ---- writes --------------------------------------------------------------------------------

  append(event: HistoryEvent, policy: TopicPolicy): AppendOutcome {
    const ticket = ++this.#tickets;
    let data: Uint8Array;
    try {
      data = encodeRecord(event);
    } catch (err) {
      this.#failed(ticket, err);
      return 'refused';
    }
    // The message's headers (the topic's policy) count against max_payload too.
    const maxPayload = this.options.maxPayload() - POLICY_HEADER_ROOM;
    if (data.length > maxPayload) {
      this.#failed(ticket, new Error(`history store: an event of ${data.length} bytes is larger than NATS's max_payload allows (${maxPayload} bytes)`));
      return 'refused';
    }
    if (policy.limit > this.#streamLimit || (this.#streamAgeMs !== 0 && (policy.maxAgeMs === 0 || policy.maxAgeMs > this.#streamAgeMs))) this.#raise(policy);
    const item: Queued = { ticket, subject: this.names.history(this.name, event.topic), data, headers: this.#policyHeaders(policy) };
    if (this.#inFlight < this.options.maxInFlight && this.#queueHead === this.#queue.length) {
      this.#publish(item);
      return 'queued';
    }
    if (this.#queuedBytes + data.length > this.options.maxQueuedBytes) {
      this.#failed(ticket, new Error('history store: JetStream write queue full'));
      return 'refused';
    }
    this.#queue.push(item);
    this.#queuedBytes += data.length;
    return 'queued';
  }

  /** One MsgHdrs per policy, shared by its messages (js.publish does not change them without msgID/expect). */
  #policyHeaders(policy: TopicPolicy): MsgHdrs {
    const key = `${policy.limit}/${policy.maxAgeMs}`;
    let h = this.#headers.get(key);
    if (h === undefined) {
      h = natsHeaders();
      h.set(LIMIT_HEADER, String(policy.limit));
      h.set(AGE_HEADER, String(policy.maxAgeMs));
      if (this.#headers.size >= 1000) this.#headers.clear();
      this.#headers.set(key, h);
    }
    return h;
  }

  #publish(item: Queued): void {
    this.#inFlight++;
    this.options.client.publish(item.subject, item.data, { headers: item.headers, timeout: this.options.publishTimeoutMs }).then(
      () => {
        this.counters.batches++;
        this.#settle(item.ticket);
        this.#next();
      },
      (err: unknown) => {
        this.#failed(item.ticket, err);
        this.#next();
      },
    );
  }

  #next(): void {
    this.#inFlight--;
    while (this.#inFlight < this.options.maxInFlight && this.#queueHead < this.#queue.length) {
      const item = this.#queue[this.#queueHead] as Queued;
      this.#queue[this.#queueHead++] = undefined;
      this.#queuedBytes -= item.data.length;
      this.#publish(item);
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 4096 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #failed(ticket: number, err: unknown): void {
    this.counters.failures++;
    logRefusal(
      this.options.log,
      'history_store_failed',
      { err, realm: this.name, stream: this.#stream },
      'history store: an event could not be written to JetStream',
      'warn',
    );
    this.#failedAbove.add(ticket);
    for (const w of this.#waiters) if (w.through >= ticket) w.failed = true;
    this.#settle(ticket);
  }

  #settle(ticket: number): void {
    if (ticket !== this.#settledThrough + 1) {
      this.#settledAbove.add(ticket);
      return;
    }
    this.#settledThrough = ticket;
    while (this.#settledAbove.delete(this.#settledThrough + 1)) this.#settledThrough++;
    if (this.#failedAbove.size > 0) for (const t of this.#failedAbove) if (t <= this.#settledThrough) this.#failedAbove.delete(t);
    while (this.#waiters.length > 0 && (this.#waiters[0] as FlushWaiter).through <= this.#settledThrough) {
      const w = this.#waiters.shift() as FlushWaiter;
      clearTimeout(w.timer);
      if (w.failed) w.reject(new Error('history store: events could not be written to JetStream'));
      else w.resolve();
    }
  }

  flush(): Promise<void> {
    const through = this.#tickets;
    if (through <= this.#settledThrough) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(new Error(`history store: JetStream did not acknowledge the events within ${this.options.flushTimeoutMs} ms`));
      }, this.options.flushTimeoutMs);
      timer.unref();
      const waiter: FlushWaiter = { through, failed: this.#failedAbove.size > 0, resolve, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  /** Raises the stream's limits to a policy larger than they allow (the config changed). */
  #raise(policy: TopicPolicy): void {
    if (policy.limit > this.#streamLimit) this.#streamLimit = policy.limit;
    if (policy.maxAgeMs === 0) this.#streamAgeMs = 0;
    else if (this.#streamAgeMs !== 0 && policy.maxAgeMs > this.#streamAgeMs) this.#streamAgeMs = policy.maxAgeMs;
    const previous = this.#raising ?? Promise.resolve();
    this.#raising = previous
      .then(() => this.#ensureStream())
      .catch((err: unknown) => this.options.log.warn({ err, stream: this.#stream }, 'history store: could not raise the JetStream stream limits'));
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
  }

  // ---- reads ---------------------------------------------------------------------------------

  query(q: HistoryQuery): Promise<HistoryPage> {
    return this.reads.run(() => this.#query(q));
  }

  async #query(q: HistoryQuery): Promise<HistoryPage> {
    const start = startOf(q);
    if (q.reverse === true && start.deliver_policy === undefined && !byPublication(q)) {
      const page = await this.#newest(q);
      if (page !== undefined) return page;
    }
    try {
      return select(this.#visible(await this.#scan(q, start), q.select.match, q.select.topic), q);
    } catch (err) {
      // The newest events of a selection larger than a read may scan: the stream's last
      // `maxScan` sequences hold them when they hold more than the page (`more`).
      if (!(err instanceof ScanTooLarge) || q.reverse !== true || start.deliver_policy !== undefined) throw err;
      const { state } = await this.options.manager.streams.info(this.#stream);
      const from = Math.max(state.first_seq, state.last_seq - this.options.maxScan + 1);
      const page = select(this.#visible(await this.#scan(q, { deliver_policy: 'by_start_sequence', opt_start_seq: from }), q.select.match, q.select.topic), q);
      if (!page.more) throw err;
      return page;
    }
  }

  /**
   * A reverse read with no lower bound (history.last(t, n)) from the end: the stream's last
   * sequences, a window that doubles until the page is full or the window holds the whole stream,
   * so it fetches about the page, not the topic (review 2, R6: last(t, 1) on a 20 MB topic fetched
   * 20.2 MB). The window reaches the stream's last sequence, so each topic's newest message in it
   * is its newest (its policy) and counting back from it is right. Undefined: the window became
   * the whole stream (the ordinary read, with its fallback, does that).
   */
  async #newest(q: HistoryQuery): Promise<HistoryPage | undefined> {
    const { manager } = this.options;
    const { state } = await manager.streams.info(this.#stream);
    let last = state.last_seq;
    if (q.select.match === 'exact') {
      // The topic's own last message: its events may be far behind the stream's newest.
      const m = await manager.streams
        .getMessage(this.#stream, { last_by_subj: this.names.historyFilter(this.name, q.select.topic, 'exact') })
        .catch((err: unknown) => {
          if (isNoMessage(err)) return null;
          throw err;
        });
      if (m === null) return { events: [], more: false, gap: false };
      last = m.seq;
    }
    for (let span = Math.max(2 * (q.limit + 1), 64); ; span *= 2) {
      const from = last - span + 1;
      if (from <= state.first_seq || span > this.options.maxScan) return undefined;
      const reads = (await this.#scan(q, { deliver_policy: 'by_start_sequence', opt_start_seq: from })).filter((r) => r.event.seq <= last);
      const page = select(this.#visible(reads, q.select.match, q.select.topic), q);
      // A full page with more behind it is the page the whole stream would give.
      if (page.more) return page;
    }
  }

  /**
   * Every message of the selection from where the query can start to the stream's last sequence
   * now, in seq order. A pattern that covers a few stored topics reads each topic's subject on
   * its own and merges them: nats-server 2.9 delivers a wildcard-filtered consumer slowly (it
   * matches the filter against every subject of a block for each message), an exact one fast.
   */
  async #scan(q: HistoryQuery, start: Partial<ConsumerConfig>): Promise<Read[]> {
    const { manager, readTimeoutMs, maxScan } = this.options;
    const read: ScanRead = { deadline: Date.now() + readTimeoutMs, budget: maxScan, lastSeq: Number.MAX_SAFE_INTEGER };
    const filter = this.names.historyFilter(this.name, q.select.topic, q.select.match);
    // One topic: its consumer's pending count, taken when it is created, is where the read ends.
    if (q.select.match === 'exact') return this.#read(filter, start, read);
    const info = await manager.streams.info(this.#stream, { subjects_filter: filter });
    this.#size = { events: info.state.messages, bytes: info.state.bytes };
    this.#sizeAt = this.options.now();
    read.lastSeq = info.state.last_seq;
    // The topics the pattern matches: a prefix's partial last component is matched here.
    const selects = topicMatcher(q.select.match, q.select.topic);
    const subjects = Object.keys(info.state.subjects ?? {}).filter((s) => selects(this.names.historyTopic(this.name, s)));
    if (subjects.length === 0) return [];
    if (start.opt_start_seq !== undefined && start.opt_start_seq > read.lastSeq) return [];
    if (subjects.length === 1) return this.#read(subjects[0], start, read);
    if (subjects.length > MAX_SUBJECT_READS) {
      // Many topics: the stream's range unfiltered when the read may scan all of it (fast), else
      // the wildcard filter (slow on 2.9, see above).
      const first = start.opt_start_seq ?? (start.deliver_policy === undefined ? info.state.first_seq : undefined);
      const unfiltered = filter === this.names.historySubjects(this.name) || (first !== undefined && read.lastSeq - first + 1 <= read.budget);
      return this.#read(unfiltered ? undefined : filter, start, read);
    }
    const parts: Read[][] = [];
    for (let i = 0; i < subjects.length; i += PARALLEL_READS) {
      parts.push(...(await Promise.all(subjects.slice(i, i + PARALLEL_READS).map((subject) => this.#read(subject, start, read)))));
    }
    return parts.flat().sort((a, b) => a.event.seq - b.event.seq);
  }

  /** The messages of one subject filter (undefined: all), through an ephemeral consumer deleted afterwards. */
  async #read(filter: string | undefined, start: Partial<ConsumerConfig>, read: ScanRead): Promise<Read[]> {
    const { manager, client, readTimeoutMs, maxScan } = this.options;
    const config: ConsumerConfig = {
      ack_policy: 'none',
      replay_policy: 'instant',
      deliver_policy: 'all',
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: Math.max(readTimeoutMs, 5000) * 1_000_000,
      ...start,
      ...(filter !== undefined && { filter_subject: filter }),
    };
    const ci = await manager.consumers.add(this.#stream, config);
    try {
      const pending = ci.num_pending;
      if (pending === 0) return [];
      read.budget -= pending;
      if (read.budget < 0) throw new ScanTooLarge(maxScan);
      const consumer = client.consumers.getConsumerFromInfo(ci);
      const reads: Read[] = [];
      let seen = 0;
      while (seen < pending) {
        const left = read.deadline - Date.now();
        if (left <= 0) throw new Error(`history store: the read took longer than ${readTimeoutMs} ms`);
        // The pull request lasts as long as the read may: one that expires with messages still
        // coming ends the fetch with an error (missed heartbeats) instead of a short batch.
        const batch = await consumer.fetch({ max_messages: Math.min(pending - seen, FETCH_BATCH), expires: Math.max(1000, left) });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          seen++;
          if (m.seq > read.lastSeq) {
            done = true;
            break;
          }
          const decoded = decodeRead(m);
          if (decoded !== undefined) reads.push(decoded);
          if (m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (done) {
          await batch.close().catch(() => undefined);
          break;
        }
        // Fewer than asked: messages expired while being read.
        if (got === 0) break;
      }
      return reads;
    } finally {
      manager.consumers.delete(this.#stream, ci.name).catch(() => undefined);
    }
  }

  /** The events each topic keeps now (its newest message's policy), in seq order, of the selected topics. */
  #visible(reads: Read[], match: MatchPolicy, pattern: string): StoredEvent[] {
    const now = this.options.now();
    const selects = topicMatcher(match, pattern);
    const topics = new Map<string, { limit: number; maxAgeMs: number; newer: number }>();
    const keep: boolean[] = new Array<boolean>(reads.length);
    for (let i = reads.length - 1; i >= 0; i--) {
      const r = reads[i] as Read;
      const topic = r.event.topic;
      if (!selects(topic)) {
        keep[i] = false;
        continue;
      }
      let t = topics.get(topic);
      if (t === undefined) {
        t = { limit: r.limit, maxAgeMs: r.maxAgeMs, newer: 0 };
        topics.set(topic, t);
      }
      keep[i] = t.newer < t.limit && (t.maxAgeMs === 0 || r.event.at >= now - t.maxAgeMs);
      t.newer++;
    }
    const out: StoredEvent[] = [];
    for (let i = 0; i < reads.length; i++) if (keep[i]) out.push((reads[i] as Read).event);
    return out;
  }

  retain(_record: RetainedRecord): void {
    // The cluster's `retained` KV bucket (file storage) keeps retained events.
  }
  unretain(_topic: string): void {
    // The cluster's `retained` KV bucket keeps retained events, not the stream.
  }

  retained(): Promise<RetainedRecord[]> {
    return Promise.resolve([]);
  }
}

/**
 * Where a read can start. Counting a topic's events back from its newest is right from any start,
 * so only a publication bound (it must be found to be honoured) needs the whole subject.
 */
function startOf(q: HistoryQuery): Partial<ConsumerConfig> {
  if (byPublication(q)) return {};
  if (q.afterSeq !== undefined) return { deliver_policy: 'by_start_sequence', opt_start_seq: q.afterSeq + 1 };
  const fromTime = q.fromTime ?? q.afterTime;
  if (fromTime !== undefined) return { deliver_policy: 'by_start_time', opt_start_time: new Date(Math.max(0, fromTime - CLOCK_SKEW_MS)).toISOString() };
  return {};
}

/** Whether a publication bound is set (it must be found in the whole subject to be honoured). */
function byPublication(q: HistoryQuery): boolean {
  return q.fromPublication !== undefined || q.afterPublication !== undefined || q.beforePublication !== undefined || q.untilPublication !== undefined;
}

/** A stream message get that found none (JetStream 10037, "no message found"). */
function isNoMessage(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 10037;
}

function isStreamNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === 10059;
}

/** The query's bounds over a selection's visible events (seq order): store.ts's semantics. */
function select(events: StoredEvent[], q: HistoryQuery): HistoryPage {
  let gap = false;
  let start = 0;
  let end = events.length; // exclusive
  const indexOf = (publication: PublicationId): number => {
    for (let i = events.length - 1; i >= 0; i--) if ((events[i] as StoredEvent).publication === publication) return i;
    return -1;
  };
  if (q.fromPublication !== undefined) {
    const i = indexOf(q.fromPublication);
    if (i === -1) gap = true;
    else start = Math.max(start, i);
  }
  if (q.afterPublication !== undefined) {
    const i = indexOf(q.afterPublication);
    if (i === -1) gap = true;
    else start = Math.max(start, i + 1);
  }
  if (q.beforePublication !== undefined) {
    const i = indexOf(q.beforePublication);
    if (i === -1) {
      gap = true;
      end = 0;
    } else end = Math.min(end, i);
  }
  if (q.untilPublication !== undefined) {
    const i = indexOf(q.untilPublication);
    if (i === -1) {
      gap = true;
      end = 0;
    } else end = Math.min(end, i + 1);
  }
  const chosen: StoredEvent[] = [];
  for (let i = start; i < end; i++) {
    const e = events[i] as StoredEvent;
    if (q.afterSeq !== undefined && e.seq <= q.afterSeq) continue;
    if (q.fromTime !== undefined && e.at < q.fromTime) continue;
    if (q.afterTime !== undefined && e.at <= q.afterTime) continue;
    if (q.beforeTime !== undefined && e.at >= q.beforeTime) continue;
    if (q.untilTime !== undefined && e.at > q.untilTime) continue;
    chosen.push(e);
  }
  if (q.reverse === true) chosen.reverse();
  const limit = Math.max(0, q.limit);
  const more = chosen.length > limit;
  if (more) chosen.length = limit;
  return { events: chosen, more, gap };
}

/** A message of the stream as a read sees it; undefined for one that is not a stored event (skipped, as codec.ts says). */
function decodeRead(m: JsMsg): Read | undefined {
  const event = decodeRecord(m.data);
  if (event === undefined) return undefined;
  const limit = Number(m.headers?.get(LIMIT_HEADER) ?? MAX_RULE_LIMIT);
  const maxAgeMs = Number(m.headers?.get(AGE_HEADER) ?? 0);
  return {
    event: { ...event, seq: m.seq },
    limit: Number.isSafeInteger(limit) && limit > 0 ? limit : MAX_RULE_LIMIT,
    maxAgeMs: Number.isSafeInteger(maxAgeMs) && maxAgeMs > 0 ? maxAgeMs : 0,
  };
}
