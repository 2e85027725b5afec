/**
 * The single-node durable engine: event history and retained events in one SQLite file through
 * better-sqlite3 (an optional dependency, loaded only for `store: { type: "sqlite" }`). WAL
 * journal and `synchronous = NORMAL`: a commit is one append to the WAL, readers (the
 * `switchboard history` command) never block the writer, and a power cut loses at most the last
 * commits, never the file.
 *
 * Writes cost the publish path nothing but a push: `append` queues, and once per event-loop turn
 * (setImmediate) the queue is written in one transaction, after which each topic it touched is
 * trimmed to its count limit and each realm to its byte budget (in the same transaction, so a
 * commit never leaves either exceeded). Age expiry runs on a timer (`expiryIntervalMs`,
 * unref'd) in chunks of at most 1000 rows per statement, yielding to the event loop between
 * chunks. What the engine must know on every append (each topic's row ID, policy and count, each
 * realm's events and bytes) is kept in memory, loaded from the file at open.
 *
 * Schema (version 1, in `meta`): `topics` (a row per realm and topic, with its policy),
 * `events` (seq = AUTOINCREMENT row ID, so that it keeps increasing even when the newest rows are
 * expired, across restarts), `retained` (a row per realm and topic, upserted). A file written by
 * a newer router (a higher schema version) is refused rather than misread.
 */
import { importOptional, SQLITE } from '../optional.js';
import { WildcardTrie } from '../broker/subscription-index.js';
import { decodeRecord, encodeRecord } from './codec.js';
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

// ---- the part of better-sqlite3's API used here (the package ships no types) ----------------

interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

interface Statement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

interface Database {
  prepare(sql: string): Statement;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  exec(sql: string): unknown;
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

type DatabaseConstructor = new (path: string, options?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number }) => Database;

// A name TypeScript does not resolve (the package has no types); importOptional names it when missing.
const BETTER_SQLITE3 = 'better-sqlite3';

/** Loads better-sqlite3; a MissingDependencyError with the npm install line when it is not installed. */
async function loadSqlite(): Promise<DatabaseConstructor> {
  const module: unknown = await importOptional(SQLITE, () => import(BETTER_SQLITE3) as Promise<unknown>);
  const ctor = typeof module === 'object' && module !== null && 'default' in module ? module.default : module;
  if (typeof ctor !== 'function') throw new Error('better-sqlite3 did not load as a constructor');
  return ctor as DatabaseConstructor;
}

/** The schema this code writes; a file with a higher one was written by a newer router. */
export const SQLITE_SCHEMA_VERSION = 1;

/** Rows one expiry statement deletes at most, before it yields to the event loop. */
const CHUNK = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topics (
  id INTEGER PRIMARY KEY,
  realm TEXT NOT NULL,
  topic TEXT NOT NULL,
  limit_ INTEGER NOT NULL,
  max_age_ms INTEGER NOT NULL,
  UNIQUE (realm, topic)
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  realm TEXT NOT NULL,
  topic_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  publication INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_topic_seq ON events (topic_id, seq);
CREATE INDEX IF NOT EXISTS events_realm_at ON events (realm, at);
CREATE INDEX IF NOT EXISTS events_realm_publication ON events (realm, publication);
CREATE TABLE IF NOT EXISTS retained (
  realm TEXT NOT NULL,
  topic TEXT NOT NULL,
  at INTEGER NOT NULL,
  record BLOB NOT NULL,
  PRIMARY KEY (realm, topic)
);
`;

export interface SqliteStoreOptions {
  /** The database file (created with its directory's permission; the directory must exist). */
  readonly path: string;
  /** Open an existing file for reading only (the `switchboard history` command): no writes, no expiry. */
  readonly readonly?: boolean;
  /** How often age expiry runs (ms); 0: never on its own (tests call expire()). Default 10 000. */
  readonly expiryIntervalMs?: number;
  /** How long a statement waits for a lock another process holds (ms). Default 1000. */
  readonly busyTimeoutMs?: number;
  /** Retained events kept per realm (the oldest go past it): the broker holds fewer, this bounds the file. Default 100 000. */
  readonly maxRetainedPerRealm?: number;
  /** The clock (ms since the epoch) age expiry and age-limited reads use. */
  readonly now?: () => number;
  /** Each committed batch: its duration and events (for the write latency histogram). */
  readonly onBatch?: (seconds: number, events: number) => void;
  /** A write or expiry pass failed (the caller logs it, rate-limited). */
  readonly onError?: (err: unknown, during: 'write' | 'expiry') => void;
}

interface TopicEntry {
  readonly id: number;
  readonly realm: SqliteRealm;
  readonly topic: string;
  limit: number;
  maxAgeMs: number;
  /** Events stored now. */
  count: number;
}

interface Queued {
  readonly realm: SqliteRealm;
  readonly event: HistoryEvent;
  readonly policy: TopicPolicy;
  /** A retained record rather than an event. */
  readonly retained: boolean;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting: a failed batch is reported through onError, not as an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

interface DeletedRow {
  readonly topic_id: number;
  readonly bytes: number;
}

interface RecordRow {
  readonly seq: number;
  readonly record: Uint8Array;
}

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `topic` is one the selector covers: the broker's own matching rules (subscription-index.ts). */
function selectorMatcher(select: TopicSelector): (topic: string) => boolean {
  if (select.match === 'exact') return (topic) => topic === select.topic;
  if (select.match === 'prefix') return (topic) => topic.startsWith(select.topic);
  const trie = new WildcardTrie<true>();
  trie.set(select.topic, true);
  return (topic) => trie.firstMatch(topic) !== undefined;
}

class SqliteRealm implements RealmStore {
  readonly topics = new Map<string, TopicEntry>();
  events = 0;
  bytes = 0;

  constructor(
    readonly store: SqliteStore,
    readonly name: string,
    public maxBytes: number,
  ) {}

  get size(): { events: number; bytes: number } {
    return { events: this.events, bytes: this.bytes };
  }

  append(event: HistoryEvent, policy: TopicPolicy): AppendOutcome {
    this.store.enqueue({ realm: this, event, policy, retained: false });
    return 'queued';
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  query(q: HistoryQuery): Promise<HistoryPage> {
    return Promise.resolve(this.store.read(this, q));
  }

  retain(record: RetainedRecord): void {
    this.store.enqueue({ realm: this, event: record, policy: { limit: 0, maxAgeMs: 0 }, retained: true });
  }

  unretain(_topic: string): void {
    // TODO(#17 review F10): delete the row.
  }

  async retained(): Promise<RetainedRecord[]> {
    await this.store.flush();
    return this.store.readRetained(this);
  }

  applyPolicies(policyOf: (topic: string) => TopicPolicy | undefined): Promise<void> {
    return this.store.applyPolicies(this, policyOf);
  }
}

export class SqliteStore implements EventStore {
  readonly type = 'sqlite';
  readonly shared = false;

  readonly #db: Database;
  readonly #now: () => number;
  readonly #options: SqliteStoreOptions;
  readonly #readonly: boolean;
  readonly #realms = new Map<string, SqliteRealm>();
  readonly #topicsById = new Map<number, TopicEntry>();
  #queue: Queued[] = [];
  /** The batch the queued entries will be written in; undefined when nothing is queued. */
  #batch: Deferred | undefined;
  #timer: NodeJS.Timeout | undefined;
  #expiring: Promise<void> | undefined;
  #closed = false;
  readonly #counters = { expired: { count: 0, age: 0, bytes: 0 }, batches: 0, failures: 0, undecodable: 0 };
  readonly #sql: ReturnType<typeof prepare>;
  readonly #writeBatch: (batch: Queued[]) => void;

  /** Opens (creating if need be) the file; loads better-sqlite3 first. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const Sqlite = await loadSqlite();
    return new SqliteStore(Sqlite, options);
  }

  private constructor(Sqlite: DatabaseConstructor, options: SqliteStoreOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#readonly = options.readonly === true;
    const db = new Sqlite(options.path, { readonly: this.#readonly, fileMustExist: this.#readonly, timeout: options.busyTimeoutMs ?? 1000 });
    try {
      if (!this.#readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 1000))}`);
      SqliteStore.#checkVersion(db, options.path, this.#readonly);
      this.#sql = prepare(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    this.#writeBatch = db.transaction((batch: Queued[]) => this.#write(batch));
    this.#load();
    const interval = options.expiryIntervalMs ?? 10_000;
    if (!this.#readonly && interval > 0) {
      this.#timer = setInterval(() => void this.expire(), interval);
      this.#timer.unref();
    }
  }

  static #checkVersion(db: Database, path: string, readonly: boolean): void {
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    const row = hasMeta ? db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() : undefined;
    const version = typeof row === 'object' && row !== null && 'value' in row ? Number(row.value) : undefined;
    if (version !== undefined && version > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `${path}: the event store was written by a newer Switchboard (schema version ${version}; this router reads version ${SQLITE_SCHEMA_VERSION}): upgrade the router, or point store.path at another file`,
      );
    }
    if (readonly) {
      if (version === undefined) throw new Error(`${path}: not a Switchboard event store (no schema version)`);
      return;
    }
    db.exec(SCHEMA);
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)").run(SQLITE_SCHEMA_VERSION);
  }

  /** The topics, their counts and the realms' sizes, from the file. */
  #load(): void {
    this.#topicsById.clear();
    for (const realm of this.#realms.values()) {
      realm.topics.clear();
      realm.events = 0;
      realm.bytes = 0;
    }
    const rows = this.#db
      .prepare(
        'SELECT t.id AS id, t.realm AS realm, t.topic AS topic, t.limit_ AS limit_, t.max_age_ms AS max_age_ms, count(e.seq) AS count, coalesce(sum(e.bytes), 0) AS bytes FROM topics t LEFT JOIN events e ON e.topic_id = t.id GROUP BY t.id',
      )
      .all() as { id: number; realm: string; topic: string; limit_: number; max_age_ms: number; count: number; bytes: number }[];
    for (const r of rows) {
      const realm = this.#realm(r.realm, Infinity);
      const entry: TopicEntry = { id: r.id, realm, topic: r.topic, limit: r.limit_, maxAgeMs: r.max_age_ms, count: r.count };
      realm.topics.set(r.topic, entry);
      this.#topicsById.set(r.id, entry);
      realm.events += r.count;
      realm.bytes += r.bytes;
    }
  }

  #realm(name: string, maxBytes: number): SqliteRealm {
    let realm = this.#realms.get(name);
    if (realm === undefined) this.#realms.set(name, (realm = new SqliteRealm(this, name, maxBytes)));
    return realm;
  }

  realm(name: string, maxBytes: number): Promise<RealmStore> {
    const realm = this.#realm(name, maxBytes);
    realm.maxBytes = maxBytes;
    return Promise.resolve(realm);
  }

  get stats(): StoreStats & { readonly undecodable: number } {
    let events = 0;
    let bytes = 0;
    for (const realm of this.#realms.values()) {
      events += realm.events;
      bytes += realm.bytes;
    }
    const c = this.#counters;
    return { events, bytes, expired: { ...c.expired }, batches: c.batches, failures: c.failures, undecodable: c.undecodable };
  }

  // ---- writes -------------------------------------------------------------------------------

  /** @internal Queues an event or a retained record for this turn's batch. */
  enqueue(entry: Queued): void {
    if (this.#closed || this.#readonly) return;
    this.#queue.push(entry);
    if (this.#batch === undefined) {
      this.#batch = deferred();
      setImmediate(() => this.#commit());
    }
  }

  /** Resolves when what is queued now is committed; rejects when that batch failed. */
  flush(): Promise<void> {
    return this.#batch?.promise ?? Promise.resolve();
  }

  #commit(): void {
    const batch = this.#queue;
    const done = this.#batch;
    this.#queue = [];
    this.#batch = undefined;
    if (batch.length === 0) {
      done?.resolve();
      return;
    }
    const started = performance.now();
    try {
      this.#writeBatch(batch);
    } catch (err) {
      this.#counters.failures++;
      // The transaction rolled back: the counts kept in memory come back from the file.
      try {
        this.#load();
      } catch {
        // The file is unreadable as well; the next batch reports it again.
      }
      this.#options.onError?.(err, 'write');
      done?.reject(err);
      return;
    }
    this.#counters.batches++;
    this.#options.onBatch?.((performance.now() - started) / 1000, batch.length);
    done?.resolve();
  }

  /** One batch, inside its transaction. */
  #write(batch: Queued[]): void {
    const sql = this.#sql;
    const touched = new Set<TopicEntry>();
    const realms = new Set<SqliteRealm>();
    for (const { realm, event, policy, retained } of batch) {
      const record = encodeRecord(event);
      if (retained) {
        sql.upsertRetained.run(realm.name, event.topic, event.at, record);
        continue;
      }
      if (record.length > realm.maxBytes) {
        // Alone larger than the realm's whole budget: it would evict everything and then itself.
        this.#counters.expired.bytes++;
        continue;
      }
      const topic = this.#topic(realm, event.topic, policy);
      sql.insertEvent.run(realm.name, topic.id, event.at, event.publication, record.length, record);
      topic.count++;
      realm.events++;
      realm.bytes += record.length;
      touched.add(topic);
      realms.add(realm);
    }
    for (const topic of touched) {
      if (topic.count <= topic.limit) continue;
      const cut = sql.nthOldest.get(topic.id, topic.count - topic.limit - 1) as { seq: number } | undefined;
      if (cut !== undefined) this.#deleted(sql.trimTopic.all(topic.id, cut.seq) as DeletedRow[], 'count');
    }
    // In steady state a batch frees about what it added; a budget lowered a lot is caught up by
    // the expiry pass, in chunks, rather than in one long transaction here.
    for (const realm of realms) this.#overBudget(realm, batch.length + CHUNK);
  }

  /**
   * @internal The stored topics of `realm` given the policies of the rules now (RealmStore.applyPolicies):
   * the new limits and ages in one transaction, then each topic past its new limit trimmed, at
   * most CHUNK rows per statement with the event loop served between statements.
   */
  async applyPolicies(realm: SqliteRealm, policyOf: (topic: string) => TopicPolicy | undefined): Promise<void> {
    if (this.#readonly || this.#closed) return;
    const over: TopicEntry[] = [];
    this.#db.transaction(() => {
      for (const entry of realm.topics.values()) {
        const policy = policyOf(entry.topic);
        if (policy === undefined) continue;
        this.#topic(realm, entry.topic, policy);
        if (entry.count > entry.limit) over.push(entry);
      }
    })();
    for (const topic of over) {
      while (topic.count > topic.limit && !this.#closed) {
        const cut = this.#sql.nthOldest.get(topic.id, Math.min(CHUNK, topic.count - topic.limit) - 1) as { seq: number } | undefined;
        if (cut === undefined) break;
        this.#deleted(this.#sql.trimTopic.all(topic.id, cut.seq) as DeletedRow[], 'count');
        await yieldTurn();
      }
    }
    // A budget lowered since (RealmStore.realm set it) too, rather than at the next batch or expiry pass.
    while (!this.#closed && !this.#overBudget(realm, CHUNK)) await yieldTurn();
  }

  /** The topic's entry, created or with its policy brought up to date. */
  #topic(realm: SqliteRealm, name: string, policy: TopicPolicy): TopicEntry {
    const limit = Math.max(1, Math.floor(policy.limit));
    const maxAgeMs = Math.max(0, Math.floor(policy.maxAgeMs));
    let entry = realm.topics.get(name);
    if (entry === undefined) {
      const id = Number(this.#sql.insertTopic.run(realm.name, name, limit, maxAgeMs).lastInsertRowid);
      entry = { id, realm, topic: name, limit, maxAgeMs, count: 0 };
      realm.topics.set(name, entry);
      this.#topicsById.set(id, entry);
    } else if (entry.limit !== limit || entry.maxAgeMs !== maxAgeMs) {
      this.#sql.updateTopic.run(limit, maxAgeMs, entry.id);
      entry.limit = limit;
      entry.maxAgeMs = maxAgeMs;
    }
    return entry;
  }

  /** Deletes the realm's oldest events while it is over its byte budget, at most `maxRows`; true when within it. */
  #overBudget(realm: SqliteRealm, maxRows: number): boolean {
    let rows = 0;
    while (realm.bytes > realm.maxBytes && rows < maxRows) {
      const excess = realm.bytes - realm.maxBytes;
      const oldest = this.#sql.oldest.all(realm.name, Math.min(CHUNK, maxRows - rows)) as { at: number; seq: number; bytes: number }[];
      if (oldest.length === 0) break;
      let freed = 0;
      let last = oldest[0]!;
      for (const row of oldest) {
        last = row;
        freed += row.bytes;
        if (freed >= excess) break;
      }
      const deleted = this.#sql.deleteOldest.all(realm.name, last.at, last.at, last.seq) as DeletedRow[];
      rows += deleted.length;
      this.#deleted(deleted, 'bytes');
    }
    return realm.bytes <= realm.maxBytes;
  }

  /** Brings the counts kept in memory in line with rows just deleted. */
  #deleted(rows: readonly DeletedRow[], reason: 'count' | 'age' | 'bytes'): void {
    for (const row of rows) {
      const topic = this.#topicsById.get(row.topic_id);
      if (topic === undefined) continue;
      topic.count--;
      topic.realm.events--;
      topic.realm.bytes -= row.bytes;
    }
    this.#counters.expired[reason] += rows.length;
  }

  // ---- expiry -------------------------------------------------------------------------------

  /**
   * One expiry pass (the timer runs it; tests call it): each realm's events past their topic's
   * age, then past the realm's byte budget, then topics left empty, then retained rows past
   * maxRetainedPerRealm; at most
   * CHUNK rows per statement, the event loop served between statements.
   */
  expire(): Promise<void> {
    if (this.#readonly || this.#closed) return Promise.resolve();
    this.#expiring ??= this.#expirePass()
      .catch((err: unknown) => {
        this.#counters.failures++;
        this.#options.onError?.(err, 'expiry');
      })
      .finally(() => {
        this.#expiring = undefined;
      });
    return this.#expiring;
  }

  async #expirePass(): Promise<void> {
    for (const realm of [...this.#realms.values()]) {
      let youngest = Infinity;
      for (const topic of realm.topics.values()) if (topic.maxAgeMs > 0 && topic.count > 0) youngest = Math.min(youngest, topic.maxAgeMs);
      if (youngest !== Infinity) {
        for (;;) {
          if (this.#closed) return;
          const now = this.#now();
          const deleted = this.#sql.expireAge.all(realm.name, now - youngest, now, CHUNK) as DeletedRow[];
          this.#deleted(deleted, 'age');
          if (deleted.length < CHUNK) break;
          await yieldTurn();
        }
      }
      while (!this.#closed && !this.#overBudget(realm, CHUNK)) await yieldTurn();
      if (this.#closed) return;
      // Topics left without events are forgotten (a publisher making up topic names under a
      // prefix rule must not grow the topics table and this map for ever).
      for (;;) {
        const empty: TopicEntry[] = [];
        for (const topic of realm.topics.values()) if (topic.count === 0 && empty.push(topic) >= CHUNK) break;
        if (empty.length === 0) break;
        this.#sql.deleteTopics.run(JSON.stringify(empty.map((t) => t.id)));
        for (const topic of empty) {
          realm.topics.delete(topic.topic);
          this.#topicsById.delete(topic.id);
        }
        if (empty.length < CHUNK || this.#closed) break;
        await yieldTurn();
      }
      const max = this.#options.maxRetainedPerRealm ?? 100_000;
      for (;;) {
        const { n } = this.#sql.countRetained.get(realm.name) as { n: number };
        if (n <= max || this.#closed) break;
        this.#sql.trimRetained.run(realm.name, Math.min(CHUNK, n - max), realm.name);
        await yieldTurn();
      }
    }
  }

  // ---- reads --------------------------------------------------------------------------------

  /** @internal A query of one realm (see HistoryQuery for the semantics). */
  read(realm: SqliteRealm, q: HistoryQuery): HistoryPage {
    const topics = this.#selected(realm, q.select);
    const now = this.#now();
    let lo = q.afterSeq ?? 0; // exclusive
    let hi = Number.MAX_SAFE_INTEGER; // exclusive
    let gap = false;
    let none = false;
    const bound = (publication: number | undefined, apply: (seq: number) => void, missing: () => void): void => {
      if (publication === undefined) return;
      const seq = this.#seqOf(realm, topics, publication, now);
      if (seq === undefined) {
        gap = true;
        missing();
      } else apply(seq);
    };
    const ignore = (): void => undefined;
    const empty = (): void => {
      none = true;
    };
    bound(q.fromPublication, (s) => (lo = Math.max(lo, s - 1)), ignore);
    bound(q.afterPublication, (s) => (lo = Math.max(lo, s)), ignore);
    bound(q.beforePublication, (s) => (hi = Math.min(hi, s)), empty);
    bound(q.untilPublication, (s) => (hi = Math.min(hi, s + 1)), empty);
    const limit = Math.max(0, Math.floor(q.limit));
    if (none || topics.length === 0 || lo + 1 >= hi) return { events: [], more: false, gap };
    const params = {
      lo,
      hi,
      fromT: q.fromTime ?? -Infinity,
      afterT: q.afterTime ?? -Infinity,
      beforeT: q.beforeTime ?? Infinity,
      untilT: q.untilTime ?? Infinity,
      n: limit + 1,
      now,
    };
    let rows: RecordRow[];
    if (topics.length === 1) {
      const topic = topics[0]!;
      const ageFrom = topic.maxAgeMs > 0 ? now - topic.maxAgeMs : -Infinity;
      const statement = q.reverse === true ? this.#sql.readOneDesc : this.#sql.readOne;
      rows = statement.all({ ...params, topic: topic.id, fromT: Math.max(params.fromT, ageFrom) }) as RecordRow[];
    } else {
      // Two plans for several topics: each topic's range of its (topic_id, seq) index, merged and
      // sorted (costs the selected topics' events), or the realm's events in seq order, filtered
      // by topic, until the page is full (costs about page × realm events / selected events).
      // The counts kept in memory say which reads fewer rows.
      let selected = 0;
      for (const t of topics) selected += t.count;
      const scan = selected * selected > (limit + 1) * realm.events;
      const statement = scan
        ? q.reverse === true
          ? this.#sql.scanManyDesc
          : this.#sql.scanMany
        : q.reverse === true
          ? this.#sql.readManyDesc
          : this.#sql.readMany;
      rows = statement.all({ ...params, realm: realm.name, topics: JSON.stringify(topics.map((t) => t.id)) }) as RecordRow[];
    }
    const more = rows.length > limit;
    const events: StoredEvent[] = [];
    for (let i = 0; i < rows.length && i < limit; i++) {
      const row = rows[i]!;
      const event = decodeRecord(row.record);
      if (event === undefined) this.#counters.undecodable++;
      else events.push({ ...event, seq: row.seq });
    }
    return { events, more, gap };
  }

  /** The stored topics of `realm` a selector covers. */
  #selected(realm: SqliteRealm, select: TopicSelector): TopicEntry[] {
    if (select.match === 'exact') {
      const topic = realm.topics.get(select.topic);
      return topic === undefined ? [] : [topic];
    }
    const matches = selectorMatcher(select);
    const out: TopicEntry[] = [];
    for (const topic of realm.topics.values()) if (matches(topic.topic)) out.push(topic);
    return out;
  }

  /** The seq of `publication` when it is stored in one of `topics` and within its topic's age; else undefined. */
  #seqOf(realm: SqliteRealm, topics: readonly TopicEntry[], publication: number, now: number): number | undefined {
    const rows = this.#sql.byPublication.all(realm.name, publication) as { seq: number; topic_id: number; at: number }[];
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i]!;
      const topic = topics.find((t) => t.id === row.topic_id);
      if (topic !== undefined && (topic.maxAgeMs === 0 || row.at >= now - topic.maxAgeMs)) return row.seq;
    }
    return undefined;
  }

  /** @internal The retained records of `realm`, oldest first. */
  readRetained(realm: SqliteRealm): RetainedRecord[] {
    const out: RetainedRecord[] = [];
    for (const row of this.#sql.retained.all(realm.name) as { record: Uint8Array }[]) {
      const record = decodeRecord(row.record);
      if (record === undefined) this.#counters.undecodable++;
      else out.push(record);
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // No more appends; what is queued is written first (a failure was reported through onError).
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.flush().catch(() => undefined);
    await this.#expiring;
    this.#db.close();
  }
}

/** Every statement, prepared once. */
function prepare(db: Database) {
  const bounds = 'seq > @lo AND seq < @hi AND at >= @fromT AND at > @afterT AND at < @beforeT AND at <= @untilT';
  const many = `SELECT e.seq AS seq, e.record AS record FROM events e JOIN topics t ON t.id = e.topic_id
    WHERE e.topic_id IN (SELECT value FROM json_each(@topics))
      AND e.seq > @lo AND e.seq < @hi AND e.at >= @fromT AND e.at > @afterT AND e.at < @beforeT AND e.at <= @untilT
      AND (t.max_age_ms = 0 OR e.at >= @now - t.max_age_ms)`;
  const scan = `SELECT e.seq AS seq, e.record AS record FROM events e JOIN topics t ON t.id = e.topic_id
    WHERE +e.realm = @realm AND +e.topic_id IN (SELECT value FROM json_each(@topics))
      AND e.seq > @lo AND e.seq < @hi AND e.at >= @fromT AND e.at > @afterT AND e.at < @beforeT AND e.at <= @untilT
      AND (t.max_age_ms = 0 OR e.at >= @now - t.max_age_ms)`;
  return {
    insertTopic: db.prepare('INSERT INTO topics (realm, topic, limit_, max_age_ms) VALUES (?, ?, ?, ?)'),
    updateTopic: db.prepare('UPDATE topics SET limit_ = ?, max_age_ms = ? WHERE id = ?'),
    insertEvent: db.prepare('INSERT INTO events (realm, topic_id, at, publication, bytes, record) VALUES (?, ?, ?, ?, ?, ?)'),
    nthOldest: db.prepare('SELECT seq FROM events WHERE topic_id = ? ORDER BY seq LIMIT 1 OFFSET ?'),
    trimTopic: db.prepare('DELETE FROM events WHERE topic_id = ? AND seq <= ? RETURNING topic_id, bytes'),
    oldest: db.prepare('SELECT at, seq, bytes FROM events WHERE realm = ? ORDER BY at, seq LIMIT ?'),
    deleteOldest: db.prepare('DELETE FROM events WHERE realm = ? AND (at < ? OR (at = ? AND seq <= ?)) RETURNING topic_id, bytes'),
    expireAge: db.prepare(
      `DELETE FROM events WHERE seq IN (
        SELECT e.seq FROM events e JOIN topics t ON t.id = e.topic_id
        WHERE e.realm = ? AND e.at < ? AND t.max_age_ms > 0 AND e.at < ? - t.max_age_ms LIMIT ?
      ) RETURNING topic_id, bytes`,
    ),
    deleteTopics: db.prepare('DELETE FROM topics WHERE id IN (SELECT value FROM json_each(?))'),
    countRetained: db.prepare('SELECT count(*) AS n FROM retained WHERE realm = ?'),
    trimRetained: db.prepare('DELETE FROM retained WHERE rowid IN (SELECT rowid FROM retained WHERE realm = ? ORDER BY at LIMIT ?) AND realm = ?'),
    upsertRetained: db.prepare(
      'INSERT INTO retained (realm, topic, at, record) VALUES (?, ?, ?, ?) ON CONFLICT (realm, topic) DO UPDATE SET at = excluded.at, record = excluded.record',
    ),
    retained: db.prepare('SELECT record FROM retained WHERE realm = ? ORDER BY at, rowid'),
    byPublication: db.prepare('SELECT seq, topic_id, at FROM events WHERE realm = ? AND publication = ? ORDER BY seq'),
    readOne: db.prepare(`SELECT seq, record FROM events WHERE topic_id = @topic AND ${bounds} ORDER BY seq LIMIT @n`),
    readOneDesc: db.prepare(`SELECT seq, record FROM events WHERE topic_id = @topic AND ${bounds} ORDER BY seq DESC LIMIT @n`),
    readMany: db.prepare(`${many} ORDER BY e.seq LIMIT @n`),
    readManyDesc: db.prepare(`${many} ORDER BY e.seq DESC LIMIT @n`),
    // The unary + keeps SQLite off the topic and realm indexes: the row ID order is the plan.
    scanMany: db.prepare(`${scan} ORDER BY e.seq LIMIT @n`),
    scanManyDesc: db.prepare(`${scan} ORDER BY e.seq DESC LIMIT @n`),
  };
}
