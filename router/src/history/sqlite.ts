/**
 * The single-node durable engine: event history and retained events in one SQLite file through
 * better-sqlite3 (an optional dependency, loaded only for `store: { type: "sqlite" }`). WAL
 * journal: a commit is one append to the WAL and readers (the `switchboard history` command)
 * never block the writer. `synchronous = NORMAL` with durability "batched" (a power cut loses at
 * most the last commits, never the file), `FULL` with durability "ack" (an acknowledged event
 * survives a power cut too). One router at a time writes a file: an OS lock on `<file>-lock` (lock.ts).
 *
 * Writes cost the publish path an encode and a push: `append` queues (bounded in events and
 * bytes: past it an event is refused, and counted), and once per event-loop turn (setImmediate)
 * the queue is written in one transaction, after which each topic it touched is trimmed to its
 * count limit and each realm to its byte budget (in the same transaction, so a commit never leaves
 * either exceeded). The writer never waits for a lock (busy timeout 0): a batch that finds the
 * file locked, the disk full or an I/O error is rolled back — the counts kept in memory with it,
 * from the batch's journal — and retried on a later turn (backing off to a second) for at most
 * `retryForMs`, then dropped and counted. Age expiry runs on a timer (`expiryIntervalMs`,
 * unref'd) in chunks of at most 1000 rows, yielding to the event loop between chunks.
 *
 * Time: the store keeps each realm's `at` non-decreasing in seq order (an event recorded after the
 * clock stepped back is stored with the time of the one before it), so that a time bound is a seq
 * bound: one probe of the (realm, at) index turns `since`, age limits and age expiry into seq
 * ranges of the (topic_id, seq) index, never a scan of rows that do not match.
 *
 * What the engine must know on every append (each topic's row ID, policy and count, each realm's
 * events and bytes, its retained topics and their sizes) is kept in memory, loaded from the file at
 * open; each topic kept costs its realm's byte budget `topicBytes(topic)` besides its events, so
 * that one event per made-up topic cannot hold more memory than the budget says.
 *
 * Schema (version 1, in `meta`): `topics` (a row per realm and topic, with its policy),
 * `events` (seq = AUTOINCREMENT row ID, so that it keeps increasing even when the newest rows are
 * expired, across restarts), `retained` (a row per realm and topic, upserted; bounded per realm by
 * the broker's maxRetainedBytes and maxTopics). A file written by a newer router (a higher schema
 * version) is refused rather than misread.
 */
import { importOptional, SQLITE } from '../optional.js';
import { topicMatcher } from '../broker/subscription-index.js';
import { decodeRecord, encodeRecord } from './codec.js';
import { type FileLock, lockFile } from './lock.js';
import type {
  AppendOutcome,
  EventStore,
  HistoryEvent,
  HistoryPage,
  HistoryQuery,
  RealmStore,
  RealmStoreOptions,
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

/** Topics one expiry turn probes at most before it yields (each probe is an index lookup). */
const TOPICS_PER_TURN = 2000;

/**
 * What a topic kept costs its realm's byte budget besides its events: its entry and two map
 * slots in memory (measured: about 180 bytes for a 10-character topic), its row and index entry in
 * the file. An estimate on the safe side (#17 review F5).
 */
export function topicBytes(topic: string): number {
  return 192 + 2 * topic.length;
}

/** What a queued entry costs the write queue besides its record. */
const QUEUED_BYTES = 96;

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
  /** Open an existing file for reading only (the `switchboard history` command): no writes, no expiry, no lock. */
  readonly readonly?: boolean;
  /** "ack": every commit is synced to the disk (synchronous = FULL), so that an acknowledged event survives a power cut. Default "batched". */
  readonly durability?: 'batched' | 'ack';
  /** How often age expiry runs (ms); 0: never on its own (tests call expire()). Default 10 000. */
  readonly expiryIntervalMs?: number;
  /** Read-only opens: how long a statement waits for a lock (ms). Default 1000. The writer never waits (it retries on a later turn). */
  readonly busyTimeoutMs?: number;
  /** How long a batch that failed with a lock, a full disk or an I/O error is retried before it is dropped (ms). Default 5000. */
  readonly retryForMs?: number;
  /** Events waiting to be written at most; past it `append` refuses (and counts) them. Default 100 000. */
  readonly maxQueuedEvents?: number;
  /** Bytes (encoded) waiting to be written at most; past it `append` refuses (and counts) them. Default 64 MiB. */
  readonly maxQueuedBytes?: number;
  /** Retained topics kept per realm when the realm names no bound of its own. Default 100 000. */
  readonly maxRetainedPerRealm?: number;
  /** The clock (ms since the epoch) age expiry and age-limited reads use. */
  readonly now?: () => number;
  /** Each committed batch: its duration and events (for the write latency histogram). */
  readonly onBatch?: (seconds: number, events: number) => void;
  /** A write or expiry pass failed (the caller logs it, rate-limited). */
  readonly onError?: (err: unknown, during: 'write' | 'expiry') => void;
}

interface TopicEntry {
  id: number;
  readonly realm: SqliteRealm;
  readonly topic: string;
  limit: number;
  maxAgeMs: number;
  /** Events stored now. */
  count: number;
}

/** A retained topic persisted: its record's size and its place in the realm's order (the oldest go first). */
interface RetainedEntry {
  readonly bytes: number;
  readonly order: number;
}

type Queued =
  | { readonly kind: 'event'; readonly realm: SqliteRealm; readonly event: HistoryEvent; readonly record: Uint8Array; readonly policy: TopicPolicy }
  | { readonly kind: 'retain'; readonly realm: SqliteRealm; readonly event: HistoryEvent; readonly record: Uint8Array }
  | { readonly kind: 'unretain'; readonly realm: SqliteRealm; readonly topic: string };

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

/** Errors that pass: another connection's lock, a full disk, an I/O error. Anything else (a row SQLite refuses) would fail again. */
function transient(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|PROTOCOL|CANTOPEN)/.test(code);
}

const byName = (a: TopicEntry, b: TopicEntry): number => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0);

/** The first index of `sorted` whose topic is not below `name`. */
function lowerBound(sorted: readonly TopicEntry[], name: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.topic < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What every topic a wildcard pattern matches starts with: its components before the first empty one (`a.b..d` → `a.b.`). */
function literalPrefix(pattern: string): string {
  const empty = pattern.split('.').indexOf('');
  if (empty === -1) return pattern;
  return pattern
    .split('.')
    .slice(0, empty)
    .map((c) => `${c}.`)
    .join('');
}

/**
 * What a batch changed in memory, to put back when its transaction rolls back (#17 review F1:
 * not a reload of the whole file). Numbers are saved on first touch; structural changes (topics
 * created or forgotten, retained entries) as undo steps, run newest first.
 */
class Journal {
  readonly topics = new Map<TopicEntry, readonly [count: number, limit: number, maxAgeMs: number]>();
  readonly realms = new Map<SqliteRealm, readonly [events: number, bytes: number, retainedBytes: number]>();
  readonly steps: (() => void)[] = [];
  readonly reordered = new Set<SqliteRealm>();

  constructor(readonly expired: { count: number; age: number; bytes: number }) {
    this.#expired = { ...expired };
  }

  readonly #expired: { count: number; age: number; bytes: number };

  topic(entry: TopicEntry): void {
    if (!this.topics.has(entry)) this.topics.set(entry, [entry.count, entry.limit, entry.maxAgeMs]);
    this.realm(entry.realm);
  }

  realm(realm: SqliteRealm): void {
    if (!this.realms.has(realm)) this.realms.set(realm, [realm.events, realm.bytes, realm.retainedBytes]);
  }

  undo(): void {
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]!();
    for (const [entry, [count, limit, maxAgeMs]] of this.topics) {
      entry.count = count;
      entry.limit = limit;
      entry.maxAgeMs = maxAgeMs;
    }
    for (const [realm, [events, bytes, retainedBytes]] of this.realms) {
      realm.events = events;
      realm.bytes = bytes;
      realm.retainedBytes = retainedBytes;
    }
    // Entries put back went to the end of their map: the realm's retained order comes back from `order`.
    for (const realm of this.reordered) {
      const sorted = [...realm.retainedTopics].sort((a, b) => a[1].order - b[1].order);
      realm.retainedTopics.clear();
      for (const [topic, entry] of sorted) realm.retainedTopics.set(topic, entry);
    }
    Object.assign(this.expired, this.#expired);
  }
}

class SqliteRealm implements RealmStore {
  readonly topics = new Map<string, TopicEntry>();
  /**
   * The topics by name, for pattern reads (a prefix is a range): built at the first pattern read,
   * then topics created since are merged in at the next one; forgotten ones are dropped then too
   * (an entry counts only while `topics` still maps its name to it).
   */
  sorted: TopicEntry[] | undefined;
  added: TopicEntry[] = [];
  events = 0;
  /** Events' encoded bytes plus topicBytes() of each topic kept. */
  bytes = 0;
  /** The latest `at` appended: the next one is at least this (times non-decreasing in seq order). */
  lastAt = -Infinity;
  /** Retained topics persisted, oldest first (a topic retained again moves to the end). */
  readonly retainedTopics = new Map<string, RetainedEntry>();
  retainedBytes = 0;
  retainedOrder = 0;
  maxRetainedBytes = Infinity;
  maxRetainedTopics: number;

  constructor(
    readonly store: SqliteStore,
    readonly name: string,
    public maxBytes: number,
    maxRetainedTopics: number,
  ) {
    this.maxRetainedTopics = maxRetainedTopics;
  }

  get size(): { events: number; bytes: number } {
    return { events: this.events, bytes: this.bytes };
  }

  append(event: HistoryEvent, policy: TopicPolicy): AppendOutcome {
    if (!this.store.writable) return 'refused';
    const at = Math.max(event.at, this.lastAt);
    const stored = at === event.at ? event : { ...event, at };
    const record = encodeRecord(stored);
    const topic = this.topics.get(event.topic);
    // Alone larger than the realm's whole budget: it would evict everything and then itself.
    if (record.length + (topic === undefined ? topicBytes(event.topic) : 0) > this.maxBytes) return this.store.tooLarge();
    if (!this.store.enqueue({ kind: 'event', realm: this, event: stored, record, policy }, record.length)) return 'refused';
    this.lastAt = at;
    return 'queued';
  }

  flush(): Promise<void> {
    return this.store.flush();
  }

  query(q: HistoryQuery): Promise<HistoryPage> {
    return Promise.resolve(this.store.read(this, q));
  }

  retain(record: RetainedRecord): void {
    if (!this.store.writable) return;
    const encoded = encodeRecord(record);
    this.store.enqueue({ kind: 'retain', realm: this, event: record, record: encoded }, encoded.length);
  }

  unretain(topic: string): void {
    if (!this.store.writable) return;
    this.store.enqueue({ kind: 'unretain', realm: this, topic }, topic.length);
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
  readonly #lock: FileLock | undefined;
  readonly #realms = new Map<string, SqliteRealm>();
  readonly #topicsById = new Map<number, TopicEntry>();
  #queue: Queued[] = [];
  #queuedBytes = 0;
  /** Settles once everything in #queue is written (or dropped); undefined when nothing is queued. */
  #batch: Deferred | undefined;
  /** A commit is due (setImmediate, or the retry timer). */
  #scheduled = false;
  #retryTimer: NodeJS.Timeout | undefined;
  /** When the batches started failing with an error that passes (undefined: the last one went through). */
  #failingSince: number | undefined;
  #retries = 0;
  #timer: NodeJS.Timeout | undefined;
  #expiring: Promise<void> | undefined;
  #closed = false;
  readonly #counters = {
    expired: { count: 0, age: 0, bytes: 0 },
    batches: 0,
    failures: 0,
    undecodable: 0,
    refused: 0,
    tooLarge: 0,
    dropped: 0,
  };
  readonly #sql: ReturnType<typeof prepare>;
  readonly #writeBatch: (batch: Queued[], journal: Journal) => void;

  /** Opens (creating if need be) the file, and takes its lock unless read-only; loads better-sqlite3 first. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const Sqlite = await loadSqlite();
    return new SqliteStore(Sqlite, options);
  }

  private constructor(Sqlite: DatabaseConstructor, options: SqliteStoreOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#readonly = options.readonly === true;
    // The writer never waits for a lock: a batch that finds the file locked is retried on a later turn (F1).
    const busy = this.#readonly ? Math.max(0, Math.floor(options.busyTimeoutMs ?? 1000)) : 0;
    const lock = this.#readonly ? undefined : lockFile(options.path, Sqlite);
    let db: Database | undefined;
    try {
      db = new Sqlite(options.path, { readonly: this.#readonly, fileMustExist: this.#readonly, timeout: busy });
      if (!this.#readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma(options.durability === 'ack' ? 'synchronous = FULL' : 'synchronous = NORMAL');
      }
      db.pragma(`busy_timeout = ${busy}`);
      SqliteStore.#checkVersion(db, options.path, this.#readonly);
      this.#sql = prepare(db);
      this.#db = db;
      this.#load();
    } catch (err) {
      db?.close();
      lock?.release();
      throw err;
    }
    this.#lock = lock;
    this.#writeBatch = db.transaction((batch: Queued[], journal: Journal) => this.#write(batch, journal));
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

  /** The topics, their counts, the realms' sizes and latest times, the retained topics, from the file (once, at open). */
  #load(): void {
    // Topics left without events (an earlier run stopped before its expiry pass) are forgotten.
    if (!this.#readonly) this.#db.exec('DELETE FROM topics WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.topic_id = topics.id)');
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
      realm.bytes += r.bytes + topicBytes(r.topic);
    }
    for (const realm of this.#realms.values()) {
      const latest = this.#sql.latestAt.get(realm.name) as { at: number | null } | undefined;
      if (typeof latest?.at === 'number') realm.lastAt = latest.at;
    }
    for (const r of this.#sql.retainedSizes.all() as { realm: string; topic: string; bytes: number }[]) {
      const realm = this.#realm(r.realm, Infinity);
      realm.retainedTopics.set(r.topic, { bytes: r.bytes, order: ++realm.retainedOrder });
      realm.retainedBytes += r.bytes;
    }
  }

  #realm(name: string, maxBytes: number): SqliteRealm {
    let realm = this.#realms.get(name);
    if (realm === undefined) this.#realms.set(name, (realm = new SqliteRealm(this, name, maxBytes, this.#options.maxRetainedPerRealm ?? 100_000)));
    return realm;
  }

  realm(name: string, maxBytes: number, options: RealmStoreOptions = {}): Promise<RealmStore> {
    const realm = this.#realm(name, maxBytes);
    realm.maxBytes = maxBytes;
    realm.maxRetainedBytes = options.maxRetainedBytes ?? Infinity;
    realm.maxRetainedTopics = Math.min(options.maxRetainedTopics ?? Infinity, this.#options.maxRetainedPerRealm ?? 100_000);
    return Promise.resolve(realm);
  }

  get stats(): StoreStats & {
    /** Stored records that no longer decode (skipped by reads). */
    readonly undecodable: number;
    /** Appends refused: the store closed, or the write queue full. */
    readonly refused: number;
    /** Appends larger than their realm's whole budget (never queued). */
    readonly tooLarge: number;
    /** Queued events and retained records dropped after their batch kept failing for retryForMs (or failed for good). */
    readonly dropped: number;
    /** Retained rows persisted and their bytes. */
    readonly retained: { readonly topics: number; readonly bytes: number };
  } {
    let events = 0;
    let bytes = 0;
    let retainedTopics = 0;
    let retainedBytes = 0;
    for (const realm of this.#realms.values()) {
      events += realm.events;
      bytes += realm.bytes;
      retainedTopics += realm.retainedTopics.size;
      retainedBytes += realm.retainedBytes;
    }
    const c = this.#counters;
    return {
      events,
      bytes,
      expired: { ...c.expired },
      batches: c.batches,
      failures: c.failures,
      undecodable: c.undecodable,
      refused: c.refused,
      tooLarge: c.tooLarge,
      dropped: c.dropped,
      retained: { topics: retainedTopics, bytes: retainedBytes },
    };
  }

  // ---- writes -------------------------------------------------------------------------------

  /** @internal Whether appends can be taken (open, not read-only). */
  get writable(): boolean {
    return !this.#closed && !this.#readonly;
  }

  /** @internal Counts an append larger than its realm's budget. */
  tooLarge(): AppendOutcome {
    this.#counters.tooLarge++;
    return 'too-large';
  }

  /** @internal Queues an event, a retained record or its removal for the next batch; false (counted) when the queue is full. */
  enqueue(entry: Queued, bytes: number): boolean {
    if (!this.writable) return false;
    const cost = bytes + QUEUED_BYTES;
    if (this.#queue.length >= (this.#options.maxQueuedEvents ?? 100_000) || this.#queuedBytes + cost > (this.#options.maxQueuedBytes ?? 64 * 1024 * 1024)) {
      this.#counters.refused++;
      return false;
    }
    this.#queue.push(entry);
    this.#queuedBytes += cost;
    this.#batch ??= deferred();
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#commit());
    }
    return true;
  }

  /** Resolves when what is queued now is committed; rejects when that batch was dropped (it kept failing). */
  flush(): Promise<void> {
    return this.#batch?.promise ?? Promise.resolve();
  }

  #commit(): void {
    this.#scheduled = false;
    this.#retryTimer = undefined;
    const batch = this.#queue;
    const done = this.#batch;
    const queuedBytes = this.#queuedBytes;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#batch = undefined;
    if (batch.length === 0) {
      done?.resolve();
      return;
    }
    const started = performance.now();
    const journal = new Journal(this.#counters.expired);
    try {
      this.#writeBatch(batch, journal);
    } catch (err) {
      // The transaction rolled back: so do the counts kept in memory.
      journal.undo();
      this.#counters.failures++;
      this.#options.onError?.(err, 'write');
      const now = Date.now();
      this.#failingSince ??= now;
      if (transient(err) && !this.#closed && now - this.#failingSince < (this.#options.retryForMs ?? 5000)) {
        // Back at the head of the queue (nothing was appended since: this runs in one turn), tried again later.
        this.#queue = batch;
        this.#queuedBytes = queuedBytes;
        this.#batch = done;
        this.#scheduled = true;
        this.#retryTimer = setTimeout(() => this.#commit(), Math.min(1000, 5 * 2 ** this.#retries++));
        return;
      }
      this.#failingSince = undefined;
      this.#retries = 0;
      this.#counters.dropped += batch.length;
      done?.reject(err);
      return;
    }
    this.#failingSince = undefined;
    this.#retries = 0;
    this.#counters.batches++;
    this.#options.onBatch?.((performance.now() - started) / 1000, batch.length);
    done?.resolve();
  }

  /** One batch, inside its transaction; what it changes in memory is noted in `journal`. */
  #write(batch: Queued[], journal: Journal): void {
    const sql = this.#sql;
    const touched = new Set<TopicEntry>();
    const realms = new Set<SqliteRealm>();
    const retainedRealms = new Set<SqliteRealm>();
    for (const entry of batch) {
      const realm = entry.realm;
      journal.realm(realm);
      if (entry.kind === 'retain') {
        this.#retain(realm, entry.event, entry.record, journal);
        retainedRealms.add(realm);
        continue;
      }
      if (entry.kind === 'unretain') {
        this.#unretain(realm, entry.topic, journal);
        continue;
      }
      const { event, record } = entry;
      const topic = this.#topic(realm, event.topic, entry.policy, journal);
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
      if (cut !== undefined) this.#deleted(sql.trimTopic.all(topic.id, cut.seq) as DeletedRow[], 'count', journal);
    }
    // In steady state a batch frees about what it added; a budget lowered a lot is caught up by
    // the expiry pass, in chunks, rather than in one long transaction here.
    for (const realm of realms) this.#overBudget(realm, batch.length + CHUNK, journal);
    for (const realm of retainedRealms) this.#retainedOverBudget(realm, batch.length + CHUNK, journal);
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

  /** The topic's entry, created or with its policy brought up to date (noted in `journal` inside a batch). */
  #topic(realm: SqliteRealm, name: string, policy: TopicPolicy, journal?: Journal): TopicEntry {
    const limit = Math.max(1, Math.floor(policy.limit));
    const maxAgeMs = Math.max(0, Math.floor(policy.maxAgeMs));
    let entry = realm.topics.get(name);
    if (entry === undefined) {
      const id = Number(this.#sql.insertTopic.run(realm.name, name, limit, maxAgeMs).lastInsertRowid);
      const created: TopicEntry = { id, realm, topic: name, limit, maxAgeMs, count: 0 };
      realm.topics.set(name, created);
      this.#topicsById.set(id, created);
      // Without pattern reads for a while, the sorted list is dropped rather than the additions piling up.
      if (realm.sorted !== undefined && realm.added.push(created) > realm.topics.size) {
        realm.sorted = undefined;
        realm.added = [];
      }
      realm.bytes += topicBytes(name);
      journal?.steps.push(() => {
        realm.topics.delete(name);
        this.#topicsById.delete(id);
      });
      entry = created;
    } else if (entry.limit !== limit || entry.maxAgeMs !== maxAgeMs) {
      journal?.topic(entry);
      this.#sql.updateTopic.run(limit, maxAgeMs, entry.id);
      entry.limit = limit;
      entry.maxAgeMs = maxAgeMs;
    }
    journal?.topic(entry);
    return entry;
  }

  /** Deletes the realm's oldest events while it is over its byte budget, at most `maxRows`; true when within it. */
  #overBudget(realm: SqliteRealm, maxRows: number, journal?: Journal): boolean {
    let rows = 0;
    while (realm.bytes > realm.maxBytes && rows < maxRows) {
      const excess = realm.bytes - realm.maxBytes;
      const oldest = this.#sql.oldest.all(realm.name, Math.min(CHUNK, maxRows - rows)) as { at: number; seq: number; bytes: number; topic_id: number }[];
      if (oldest.length === 0) break;
      let freed = 0;
      let last = oldest[0]!;
      const counts = new Map<number, number>();
      for (const row of oldest) {
        last = row;
        freed += row.bytes;
        // A topic whose last event goes is forgotten: its own cost is freed as well.
        const left = (counts.get(row.topic_id) ?? this.#topicsById.get(row.topic_id)?.count ?? 0) - 1;
        counts.set(row.topic_id, left);
        if (left === 0) freed += topicBytes(this.#topicsById.get(row.topic_id)?.topic ?? '');
        if (freed >= excess) break;
      }
      const deleted = this.#sql.deleteOldest.all(realm.name, last.at, last.at, last.seq) as DeletedRow[];
      rows += deleted.length;
      this.#deleted(deleted, 'bytes', journal);
    }
    return realm.bytes <= realm.maxBytes;
  }

  /** Brings the counts kept in memory in line with rows just deleted; topics left without events are forgotten. */
  #deleted(rows: readonly DeletedRow[], reason: 'count' | 'age' | 'bytes', journal?: Journal): void {
    let empty: TopicEntry[] | undefined;
    for (const row of rows) {
      const topic = this.#topicsById.get(row.topic_id);
      if (topic === undefined) continue;
      journal?.topic(topic);
      topic.count--;
      topic.realm.events--;
      topic.realm.bytes -= row.bytes;
      if (topic.count === 0) (empty ??= []).push(topic);
    }
    this.#counters.expired[reason] += rows.length;
    if (empty !== undefined) this.#forget(empty, journal);
  }

  /**
   * Topics left without events are forgotten at once, their rows with them (a publisher making
   * up topic names under a prefix rule must not grow the topics table and this map for ever).
   */
  #forget(topics: readonly TopicEntry[], journal?: Journal): void {
    this.#sql.deleteTopics.run(JSON.stringify(topics.map((t) => t.id)));
    for (const topic of topics) {
      const realm = topic.realm;
      if (realm.topics.get(topic.topic) !== topic) continue;
      realm.topics.delete(topic.topic);
      this.#topicsById.delete(topic.id);
      realm.bytes -= topicBytes(topic.topic);
      journal?.steps.push(() => {
        realm.topics.set(topic.topic, topic);
        this.#topicsById.set(topic.id, topic);
      });
    }
  }

  // ---- retained events ----------------------------------------------------------------------

  #retain(realm: SqliteRealm, event: HistoryEvent, record: Uint8Array, journal: Journal): void {
    // Larger than the realm's whole retained budget: the broker refuses it too, and keeps the topic's previous one.
    if (record.length > realm.maxRetainedBytes) return;
    this.#sql.upsertRetained.run(realm.name, event.topic, event.at, record);
    const previous = realm.retainedTopics.get(event.topic);
    if (previous !== undefined) {
      realm.retainedTopics.delete(event.topic);
      realm.retainedBytes -= previous.bytes;
    }
    const entry: RetainedEntry = { bytes: record.length, order: ++realm.retainedOrder };
    realm.retainedTopics.set(event.topic, entry);
    realm.retainedBytes += entry.bytes;
    journal.reordered.add(realm);
    journal.steps.push(() => {
      realm.retainedTopics.delete(event.topic);
      if (previous !== undefined) realm.retainedTopics.set(event.topic, previous);
    });
  }

  #unretain(realm: SqliteRealm, topic: string, journal?: Journal): void {
    const previous = realm.retainedTopics.get(topic);
    if (previous === undefined) return;
    this.#sql.deleteRetained.run(realm.name, topic);
    realm.retainedTopics.delete(topic);
    realm.retainedBytes -= previous.bytes;
    if (journal !== undefined) {
      journal.reordered.add(realm);
      journal.steps.push(() => realm.retainedTopics.set(topic, previous));
    }
  }

  /** Deletes the realm's oldest retained rows while past its retained bytes or topics, at most `maxRows`; true when within both. */
  #retainedOverBudget(realm: SqliteRealm, maxRows: number, journal?: Journal): boolean {
    const over = (): boolean => realm.retainedBytes > realm.maxRetainedBytes || realm.retainedTopics.size > realm.maxRetainedTopics;
    for (let rows = 0; over() && rows < maxRows; rows++) {
      const oldest = realm.retainedTopics.keys().next();
      if (oldest.done === true) break;
      journal?.realm(realm);
      this.#unretain(realm, oldest.value, journal);
    }
    return !over();
  }

  // ---- expiry -------------------------------------------------------------------------------

  /**
   * One expiry pass (the timer runs it; tests call it): each realm's events past their topic's
   * age, then past the realm's byte budget, then retained rows past the realm's retained bounds;
   * at most CHUNK rows deleted (or TOPICS_PER_TURN topics probed) per turn, the event loop served
   * between turns.
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
      await this.#expireAge(realm);
      if (this.#closed) return;
      while (!this.#closed && !this.#overBudget(realm, CHUNK)) await yieldTurn();
      while (!this.#closed && !this.#retainedOverBudget(realm, CHUNK)) await yieldTurn();
      if (this.#closed) return;
    }
  }

  /**
   * Age expiry of one realm, per topic that has an age limit (#17 review F3): times being
   * non-decreasing in seq order, "older than maxAgeMs" is "seq below the first event at or after
   * now - maxAgeMs" (one probe per distinct age), and each topic's rows below it are a range of
   * its (topic_id, seq) index: no row is read that is not deleted.
   */
  async #expireAge(realm: SqliteRealm): Promise<void> {
    const aged: TopicEntry[] = [];
    for (const topic of realm.topics.values()) if (topic.maxAgeMs > 0 && topic.count > 0) aged.push(topic);
    if (aged.length === 0) return;
    const now = this.#now();
    const cuts = new Map<number, number>();
    let rows = 0;
    let probes = 0;
    for (const topic of aged) {
      if (this.#closed) return;
      if (topic.count === 0 || realm.topics.get(topic.topic) !== topic) continue;
      let cut = cuts.get(topic.maxAgeMs);
      if (cut === undefined) cuts.set(topic.maxAgeMs, (cut = this.#firstSeqAt(realm, now - topic.maxAgeMs, false) ?? Number.MAX_SAFE_INTEGER));
      for (;;) {
        const deleted = this.#sql.expireTopic.all(topic.id, cut, CHUNK - rows) as DeletedRow[];
        this.#deleted(deleted, 'age');
        rows += deleted.length;
        probes++;
        if (rows < CHUNK && probes < TOPICS_PER_TURN) break;
        rows = 0;
        probes = 0;
        await yieldTurn();
        if (this.#closed || topic.count === 0 || realm.topics.get(topic.topic) !== topic) break;
      }
    }
  }

  /** The seq of the realm's first event at or after (`strict`: after) `at`; undefined when none is. One probe of (realm, at). */
  #firstSeqAt(realm: SqliteRealm, at: number, strict: boolean): number | undefined {
    const row = (strict ? this.#sql.firstAfter : this.#sql.firstAtOrAfter).get(realm.name, at) as { seq: number } | undefined;
    return row?.seq;
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
    if (topics.length === 1 && topics[0]!.maxAgeMs > 0) params.fromT = Math.max(params.fromT, now - topics[0]!.maxAgeMs);
    // Time bounds as seq bounds (#17 review F2): one probe of (realm, at) each, so that a bound
    // that matches nothing costs nothing. The time conditions stay in the statements as well.
    const timeBound = (at: number, strict: boolean, lower: boolean): void => {
      if (!Number.isFinite(at)) return;
      const seq = this.#firstSeqAt(realm, at, strict);
      if (lower) {
        if (seq === undefined) none = true;
        else lo = Math.max(lo, seq - 1);
      } else if (seq !== undefined) hi = Math.min(hi, seq);
    };
    timeBound(params.fromT, false, true);
    timeBound(params.afterT, true, true);
    timeBound(params.beforeT, false, false);
    timeBound(params.untilT, true, false);
    if (none || lo + 1 >= hi) return { events: [], more: false, gap };
    params.lo = lo;
    params.hi = hi;
    let rows: RecordRow[];
    if (topics.length === 1) {
      const statement = q.reverse === true ? this.#sql.readOneDesc : this.#sql.readOne;
      rows = statement.all({ ...params, topic: topics[0]!.id }) as RecordRow[];
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

  /**
   * The stored topics of `realm` a selector covers. A pattern reads the range of the realm's
   * sorted topics that starts with its literal part (a prefix; a wildcard's components before its
   * first empty one), not every topic of the realm.
   */
  #selected(realm: SqliteRealm, select: TopicSelector): TopicEntry[] {
    if (select.match === 'exact') {
      const topic = realm.topics.get(select.topic);
      return topic === undefined ? [] : [topic];
    }
    const matches = topicMatcher(select.match, select.topic);
    const prefix = select.match === 'prefix' ? select.topic : literalPrefix(select.topic);
    const sorted = this.#sortedTopics(realm);
    const out: TopicEntry[] = [];
    for (let i = lowerBound(sorted, prefix); i < sorted.length; i++) {
      const topic = sorted[i]!;
      if (!topic.topic.startsWith(prefix)) break;
      if (realm.topics.get(topic.topic) === topic && matches(topic.topic)) out.push(topic);
    }
    return out;
  }

  /** The realm's topics sorted by name: built once, then the topics created since merged in (the forgotten dropped). */
  #sortedTopics(realm: SqliteRealm): TopicEntry[] {
    const live = (t: TopicEntry): boolean => realm.topics.get(t.topic) === t;
    if (realm.sorted === undefined) {
      realm.sorted = [...realm.topics.values()].sort(byName);
      realm.added = [];
    } else if (realm.added.length > 0 || realm.sorted.length > 2 * realm.topics.size + 64) {
      const added = realm.added.filter(live).sort(byName);
      const merged: TopicEntry[] = [];
      const old = realm.sorted;
      let i = 0;
      let j = 0;
      while (i < old.length || j < added.length) {
        const next = j >= added.length || (i < old.length && old[i]!.topic <= added[j]!.topic) ? old[i++]! : added[j++]!;
        if (live(next)) merged.push(next);
      }
      realm.sorted = merged;
      realm.added = [];
    }
    return realm.sorted;
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
    // No more appends; what is queued is written first, once (a failure was reported through onError).
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#commit();
    }
    await this.flush().catch(() => undefined);
    await this.#expiring;
    this.#db.close();
    this.#lock?.release();
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
    oldest: db.prepare('SELECT at, seq, bytes, topic_id FROM events WHERE realm = ? ORDER BY at, seq LIMIT ?'),
    deleteOldest: db.prepare('DELETE FROM events WHERE realm = ? AND (at < ? OR (at = ? AND seq <= ?)) RETURNING topic_id, bytes'),
    expireTopic: db.prepare(
      'DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE topic_id = ? AND seq < ? ORDER BY seq LIMIT ?) RETURNING topic_id, bytes',
    ),
    // Times are non-decreasing in seq order within a realm: the first event at (or after) a time is where a time bound starts.
    firstAtOrAfter: db.prepare('SELECT seq FROM events WHERE realm = ? AND at >= ? ORDER BY at, seq LIMIT 1'),
    firstAfter: db.prepare('SELECT seq FROM events WHERE realm = ? AND at > ? ORDER BY at, seq LIMIT 1'),
    latestAt: db.prepare('SELECT max(at) AS at FROM events WHERE realm = ?'),
    deleteTopics: db.prepare('DELETE FROM topics WHERE id IN (SELECT value FROM json_each(?))'),
    retainedSizes: db.prepare('SELECT realm, topic, length(record) AS bytes FROM retained ORDER BY realm, at, rowid'),
    deleteRetained: db.prepare('DELETE FROM retained WHERE realm = ? AND topic = ?'),
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
