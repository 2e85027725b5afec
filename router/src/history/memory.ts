/**
 * The memory engine (`store: { type: "memory" }`, the default): each realm's event history in this
 * process, lost at exit. Nothing is encoded: an event's bytes are the estimate the realm uses for
 * every byte budget (payloadBytes + the topic's length), so the publish path pays no encoding.
 * Appends are stored at once (flush() has nothing to wait for); retained events stay in the
 * broker, so retain()/retained() do nothing. Pure: the clock is injected. [ap_pubsub_event_history]
 */
import type { PublicationId } from '@switchboard/schemas';
import { WildcardTrie } from '../broker/subscription-index.js';
import { payloadBytes } from '../limits.js';
import type {
  AppendOutcome,
  EventStore,
  HistoryEvent,
  HistoryPage,
  HistoryQuery,
  RealmStore,
  RetainedRecord,
  StoreStats,
  StoredEvent,
  TopicPolicy,
  TopicSelector,
} from './store.js';

export interface MemoryStoreOptions {
  /** Milliseconds since the epoch (age expiry). */
  readonly now?: () => number;
}

/** Counters shared by the realms of one store. */
interface Counters {
  expiredCount: number;
  expiredAge: number;
  expiredBytes: number;
}

/** One topic's stored events, oldest first, and the policy its last append gave. */
class Ring {
  readonly events: StoredEvent[] = [];
  readonly sizes: number[] = [];
  constructor(
    readonly topic: string,
    public policy: TopicPolicy,
  ) {}
}

const RESOLVED: Promise<void> = Promise.resolve();

class MemoryRealm implements RealmStore {
  readonly #rings = new Map<string, Ring>();
  /** Every stored event in seq order, across topics; entries whose event is gone are skipped (and compacted away). */
  #order: { ring: Ring; event: StoredEvent }[] = [];
  #head = 0;
  #seq = 0;
  #events = 0;
  #bytes = 0;

  constructor(
    public maxBytes: number,
    private readonly now: () => number,
    private readonly counters: Counters,
  ) {}

  get size(): { events: number; bytes: number } {
    return { events: this.#events, bytes: this.#bytes };
  }

  append(event: HistoryEvent, policy: TopicPolicy): AppendOutcome {
    const bytes = payloadBytes(event.args, event.kwargs, event.details) + event.topic.length;
    if (bytes > this.maxBytes) {
      // Alone larger than the realm's whole budget: never stored (counted as expired by bytes).
      this.counters.expiredBytes++;
      return 'too-large';
    }
    const now = this.now();
    const existing = this.#rings.get(event.topic);
    if (existing !== undefined) {
      existing.policy = policy;
      this.#expireAged(existing, now);
    }
    this.#expireOldest(now);
    while (this.#bytes + bytes > this.maxBytes && this.#evictOldest()) this.counters.expiredBytes++;
    // Looked up again: expiry and eviction forget a topic they emptied.
    let ring = this.#rings.get(event.topic);
    if (ring === undefined) this.#rings.set(event.topic, (ring = new Ring(event.topic, policy)));
    const stored: StoredEvent = { ...event, seq: ++this.#seq };
    ring.events.push(stored);
    ring.sizes.push(bytes);
    this.#events++;
    this.#bytes += bytes;
    this.#order.push({ ring, event: stored });
    while (ring.events.length > Math.max(policy.limit, 0)) {
      this.#dropFirst(ring);
      this.counters.expiredCount++;
    }
    this.#compact();
    return 'queued';
  }

  flush(): Promise<void> {
    return RESOLVED;
  }

  query(q: HistoryQuery): Promise<HistoryPage> {
    return Promise.resolve(this.read(q));
  }

  /** The query, synchronously (the memory engine has no I/O). */
  read(q: HistoryQuery): HistoryPage {
    const now = this.now();
    const rings = this.#select(q.select);
    for (const ring of rings) this.#expireAged(ring, now);
    let events: StoredEvent[];
    if (rings.length === 1) events = rings[0]!.events;
    else {
      events = rings.flatMap((r) => r.events);
      events.sort((a, b) => a.seq - b.seq);
    }
    let gap = false;
    const position = (id: PublicationId | undefined): number => {
      if (id === undefined) return -2;
      const at = events.findIndex((e) => e.publication === id);
      if (at < 0) gap = true;
      return at;
    };
    let from = 0;
    let to = events.length; // exclusive
    const fromAt = position(q.fromPublication);
    if (fromAt >= 0) from = Math.max(from, fromAt);
    const afterAt = position(q.afterPublication);
    if (afterAt >= 0) from = Math.max(from, afterAt + 1);
    const untilAt = position(q.untilPublication);
    if (untilAt !== -2) to = Math.min(to, untilAt + 1); // not stored (-1): nothing
    const beforeAt = position(q.beforePublication);
    if (beforeAt !== -2) to = Math.min(to, Math.max(0, beforeAt)); // not stored (-1): nothing
    if (q.afterSeq !== undefined) from = Math.max(from, firstAfter(events, q.afterSeq));
    const keep = (e: StoredEvent): boolean =>
      (q.fromTime === undefined || e.at >= q.fromTime) &&
      (q.afterTime === undefined || e.at > q.afterTime) &&
      (q.beforeTime === undefined || e.at < q.beforeTime) &&
      (q.untilTime === undefined || e.at <= q.untilTime);
    const out: StoredEvent[] = [];
    let more = false;
    const take = (e: StoredEvent): boolean => {
      if (!keep(e)) return true;
      if (out.length >= q.limit) {
        more = true;
        return false;
      }
      out.push(e);
      return true;
    };
    if (q.reverse === true) {
      for (let i = to - 1; i >= from; i--) if (!take(events[i]!)) break;
    } else for (let i = from; i < to; i++) if (!take(events[i]!)) break;
    return { events: out, more, gap };
  }

  retain(_record: RetainedRecord): void {
    // The broker keeps retained events in memory; there is nothing more to keep.
  }

  unretain(_topic: string): void {
    // Likewise: nothing persisted, nothing to forget.
  }

  retained(): Promise<RetainedRecord[]> {
    return Promise.resolve([]);
  }

  /** The rings a read covers: one topic, or every stored topic the pattern matches (the broker's matching). */
  #select(select: TopicSelector): Ring[] {
    if (select.match === 'exact') {
      const ring = this.#rings.get(select.topic);
      return ring === undefined ? [] : [ring];
    }
    const out: Ring[] = [];
    if (select.match === 'prefix') {
      for (const ring of this.#rings.values()) if (ring.topic.startsWith(select.topic)) out.push(ring);
      return out;
    }
    const trie = new WildcardTrie<true>();
    trie.set(select.topic, true);
    for (const ring of this.#rings.values()) if (trie.firstMatch(ring.topic) === true) out.push(ring);
    return out;
  }

  /** Drops a ring's events older than its policy's maxAgeMs (they are oldest first). */
  #expireAged(ring: Ring, now: number): void {
    const maxAge = ring.policy.maxAgeMs;
    if (maxAge <= 0) return;
    while (ring.events.length > 0 && now - ring.events[0]!.at > maxAge) {
      this.#dropFirst(ring);
      this.counters.expiredAge++;
    }
  }

  /** The cheap pass at append: the realm's oldest events, while they are past their topic's age. */
  #expireOldest(now: number): void {
    while (this.#head < this.#order.length) {
      const { ring, event } = this.#order[this.#head]!;
      if (ring.events[0] !== event) {
        this.#head++;
        continue;
      }
      if (ring.policy.maxAgeMs <= 0 || now - event.at <= ring.policy.maxAgeMs) return;
      this.#dropFirst(ring);
      this.counters.expiredAge++;
      this.#head++;
    }
  }

  /**
   * Drops the realm's oldest stored event. Rings and the order are both first in, first out, so
   * the order's head is either its ring's oldest event or already gone.
   */
  #evictOldest(): boolean {
    while (this.#head < this.#order.length) {
      const { ring, event } = this.#order[this.#head++]!;
      if (ring.events[0] !== event) continue;
      this.#dropFirst(ring);
      return true;
    }
    return false;
  }

  #dropFirst(ring: Ring): void {
    ring.events.shift();
    this.#bytes -= ring.sizes.shift()!;
    this.#events--;
    // An empty topic is forgotten: the number of topics is bounded by what is stored.
    if (ring.events.length === 0) this.#rings.delete(ring.topic);
  }

  /** Keeps the order from growing with entries that are gone. */
  #compact(): void {
    const length = this.#order.length - this.#head;
    if (length <= 2 * this.#events + 1024 && this.#head <= length + 1024) return;
    const live = new Set<StoredEvent>();
    for (const ring of this.#rings.values()) for (const e of ring.events) live.add(e);
    this.#order = this.#order.slice(this.#head).filter((o) => live.has(o.event) && this.#rings.get(o.ring.topic) === o.ring);
    this.#head = 0;
  }
}

/** The index of the first event with seq > `seq` (events are in seq order). */
function firstAfter(events: readonly StoredEvent[], seq: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class MemoryStore implements EventStore {
  readonly type = 'memory' as const;
  readonly shared = false;
  readonly #realms = new Map<string, MemoryRealm>();
  readonly #counters: Counters = { expiredCount: 0, expiredAge: 0, expiredBytes: 0 };
  readonly #now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  realm(name: string, maxBytes: number): Promise<MemoryRealm> {
    return Promise.resolve(this.realmNow(name, maxBytes));
  }

  /** realm(), synchronously (tests, and callers that know the engine). */
  realmNow(name: string, maxBytes: number): MemoryRealm {
    let realm = this.#realms.get(name);
    if (realm === undefined) this.#realms.set(name, (realm = new MemoryRealm(maxBytes, this.#now, this.#counters)));
    else realm.maxBytes = maxBytes;
    return realm;
  }

  get stats(): StoreStats {
    let events = 0;
    let bytes = 0;
    for (const realm of this.#realms.values()) {
      const size = realm.size;
      events += size.events;
      bytes += size.bytes;
    }
    const c = this.#counters;
    return { events, bytes, expired: { count: c.expiredCount, age: c.expiredAge, bytes: c.expiredBytes }, batches: 0, failures: 0 };
  }

  close(): Promise<void> {
    return RESOLVED;
  }
}

export type { MemoryRealm };
