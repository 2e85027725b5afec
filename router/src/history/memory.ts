/**
 * The memory engine (`store: { type: "memory" }`, the default): each realm's event history in this
 * process, lost at exit. Nothing is encoded: an event's bytes are the estimate the realm uses for
 * every byte budget (payloadBytes + the topic's length), so the publish path pays no encoding;
 * each topic stored adds TOPIC_BYTES. An event alone larger than the budget is never stored; the
 * budget may be passed by one topic's TOPIC_BYTES when that topic's one event is all there is.
 * Appends are stored at once (flush() has nothing to wait for); retained events stay in the
 * broker, so retain()/retained() do nothing. Pure: the clock is injected. [ap_pubsub_event_history]
 */
import type { PublicationId } from '@switchboard/schemas';
import { topicMatcher } from '../broker/subscription-index.js';
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
  /** No event is older (`at`) than the one before it (the clock never went back): time bounds are binary searched. */
  ordered = true;
  constructor(
    readonly topic: string,
    public policy: TopicPolicy,
  ) {}
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * What one stored topic costs beyond its events, counted in the realm's bytes while the topic
 * holds an event: its ring, two arrays and the map entry. Measured (node 20, --expose-gc, 200 000
 * topics of one event each): 966 bytes of heap per topic against 370 per further event, so about
 * 600 for the topic itself; without it a publisher making up topic names under a prefix rule
 * held about 7 times what maxHistoryBytes counted (review F5).
 */
export const TOPIC_BYTES = 640;

class MemoryRealm implements RealmStore {
  readonly #rings = new Map<string, Ring>();
  /** Every stored event in seq order, across topics; entries whose event is gone are skipped (and compacted away). */
  #order: { ring: Ring; event: StoredEvent }[] = [];
  #head = 0;
  /**
   * Each stored event by its publication ID, kept in step with the rings (set at append, deleted
   * by #dropFirst, the one place an event leaves), so a publication bound costs a lookup: without
   * it a bound the store does not hold (a resume after expiry, a forged ID) walked every event of
   * every matching topic, 414 ms per read at 200 000 events (review 2, R4). IDs are random and
   * unique per publication; should two events share one, the newer is indexed.
   */
  readonly #byPublication = new Map<PublicationId, { ring: Ring; event: StoredEvent }>();
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
    // A new topic needs room for itself too (expiry and eviction forget a topic they emptied).
    const need = (): number => bytes + (this.#rings.has(event.topic) ? 0 : TOPIC_BYTES);
    while (this.#bytes + need() > this.maxBytes && this.#evictOldest()) this.counters.expiredBytes++;
    let ring = this.#rings.get(event.topic);
    if (ring === undefined) {
      this.#rings.set(event.topic, (ring = new Ring(event.topic, policy)));
      this.#bytes += TOPIC_BYTES;
    }
    const stored: StoredEvent = { ...event, seq: ++this.#seq };
    const last = ring.events.at(-1);
    if (last !== undefined && stored.at < last.at) ring.ordered = false;
    ring.events.push(stored);
    ring.sizes.push(bytes);
    this.#events++;
    this.#bytes += bytes;
    const entry = { ring, event: stored };
    this.#order.push(entry);
    this.#byPublication.set(stored.publication, entry);
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

  /**
   * The query, synchronously (the memory engine has no I/O). Each selected topic's events are in
   * seq order already: the bounds are binary searched in each (publication bounds become seq
   * bounds), and a k-way merge by seq takes events up to `limit`, so a read costs its page and
   * the searches, not a copy and sort of everything a pattern matches.
   */
  read(q: HistoryQuery): HistoryPage {
    const now = this.now();
    const rings = this.#select(q.select);
    for (const ring of rings) this.#expireAged(ring, now);
    let gap = false;
    // Seq bounds: events with low < seq <= high.
    let low = q.afterSeq ?? 0;
    let high = Infinity;
    const seqOf = (id: PublicationId | undefined): number | undefined => {
      if (id === undefined) return undefined;
      const seq = this.#findPublication(rings, id);
      if (seq === undefined) gap = true;
      return seq ?? -1;
    };
    const from = seqOf(q.fromPublication);
    if (from !== undefined && from >= 0) low = Math.max(low, from - 1);
    const after = seqOf(q.afterPublication);
    if (after !== undefined && after >= 0) low = Math.max(low, after);
    // An until/before publication that is not stored (-1) selects nothing.
    const until = seqOf(q.untilPublication);
    if (until !== undefined) high = Math.min(high, until);
    const before = seqOf(q.beforePublication);
    if (before !== undefined) high = Math.min(high, before - 1);
    const reverse = q.reverse === true;
    const cursors: Cursor[] = [];
    for (const ring of rings) {
      const events = ring.events;
      let start = firstIndex(events, (e) => e.seq > low);
      let end = high === Infinity ? events.length : firstIndex(events, (e) => e.seq > high);
      if (ring.ordered) {
        const { fromTime, afterTime, beforeTime, untilTime } = q;
        if (fromTime !== undefined)
          start = Math.max(
            start,
            firstIndex(events, (e) => e.at >= fromTime),
          );
        if (afterTime !== undefined)
          start = Math.max(
            start,
            firstIndex(events, (e) => e.at > afterTime),
          );
        if (beforeTime !== undefined)
          end = Math.min(
            end,
            firstIndex(events, (e) => e.at >= beforeTime),
          );
        if (untilTime !== undefined)
          end = Math.min(
            end,
            firstIndex(events, (e) => e.at > untilTime),
          );
      }
      if (start < end) cursors.push(reverse ? { events, at: end - 1, stop: start } : { events, at: start, stop: end });
    }
    // A ring whose clock went back is filtered event by event.
    const keep = (e: StoredEvent): boolean =>
      (q.fromTime === undefined || e.at >= q.fromTime) &&
      (q.afterTime === undefined || e.at > q.afterTime) &&
      (q.beforeTime === undefined || e.at < q.beforeTime) &&
      (q.untilTime === undefined || e.at <= q.untilTime);
    const out: StoredEvent[] = [];
    let more = false;
    const heap = new CursorHeap(cursors, reverse);
    for (let e = heap.next(); e !== undefined; e = heap.next()) {
      if (!keep(e)) continue;
      if (out.length >= q.limit) {
        more = true;
        break;
      }
      out.push(e);
    }
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
    const selects = topicMatcher(select.match, select.topic);
    const out: Ring[] = [];
    for (const ring of this.#rings.values()) if (selects(ring.topic)) out.push(ring);
    return out;
  }

  /** The seq of publication `id` if one of `rings` holds it (a map lookup, whatever is stored). */
  #findPublication(rings: readonly Ring[], id: PublicationId): number | undefined {
    const entry = this.#byPublication.get(id);
    if (entry === undefined) return undefined;
    // Rings are few next to events; an exact read selects one.
    return rings.includes(entry.ring) ? entry.event.seq : undefined;
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
    const gone = ring.events.shift()!;
    if (this.#byPublication.get(gone.publication)?.event === gone) this.#byPublication.delete(gone.publication);
    this.#bytes -= ring.sizes.shift()!;
    this.#events--;
    // An empty topic is forgotten: the number of topics is bounded by what is stored.
    if (ring.events.length === 0) {
      this.#rings.delete(ring.topic);
      this.#bytes -= TOPIC_BYTES;
    }
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

/** The index of the first event for which `past` holds (it holds for every one after it), or the length. */
function firstIndex(events: readonly StoredEvent[], past: (e: StoredEvent) => boolean): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (past(events[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A position in one ring's events: forward from `at` up to `stop` (exclusive), or back down to `stop` (inclusive). */
interface Cursor {
  readonly events: readonly StoredEvent[];
  at: number;
  readonly stop: number;
}

/** The k-way merge of ring cursors by seq: a binary heap, the smallest seq first (largest when reversed). */
class CursorHeap {
  readonly #heap: Cursor[];

  constructor(
    cursors: Cursor[],
    private readonly reverse: boolean,
  ) {
    this.#heap = cursors;
    for (let i = (cursors.length >>> 1) - 1; i >= 0; i--) this.#down(i);
  }

  /** The next event in seq order, or undefined when every cursor is done. */
  next(): StoredEvent | undefined {
    const top = this.#heap[0];
    if (top === undefined) return undefined;
    const event = top.events[top.at]!;
    top.at += this.reverse ? -1 : 1;
    if (this.reverse ? top.at < top.stop : top.at >= top.stop) {
      const last = this.#heap.pop()!;
      if (this.#heap.length === 0) return event;
      this.#heap[0] = last;
    }
    this.#down(0);
    return event;
  }

  /** Whether cursor a comes before cursor b. */
  #before(a: Cursor, b: Cursor): boolean {
    const x = a.events[a.at]!.seq;
    const y = b.events[b.at]!.seq;
    return this.reverse ? x > y : x < y;
  }

  #down(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) return;
      const right = left + 1;
      const child = right < heap.length && this.#before(heap[right]!, heap[left]!) ? right : left;
      if (!this.#before(heap[child]!, heap[i]!)) return;
      const swapped = heap[i]!;
      heap[i] = heap[child]!;
      heap[child] = swapped;
      i = child;
    }
  }
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
