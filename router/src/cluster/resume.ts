/**
 * Session resumption across the cluster [ap_session_resumption]: a session detached on one node
 * resumes on another. The cluster's ResumeSource (core/resume.ts), one per node:
 *
 * - The `resumable` bucket keeps one record per resumable session, under its ID: the node holding
 *   it, the realm and identity a resume must match, and SHA-256 of its current token (the token
 *   never leaves its node). Written at each token issue, deleted at the end, both by
 *   compare-and-set at the revision this node wrote: a record another node claimed is left alone.
 * - `take`: the node a client resumes on reads the record, checks the token's hash in constant
 *   time, claims the record (compare-and-set at the revision read: a resume racing an expiry or
 *   another resume has one winner), and asks the holding node by direct message to hand the
 *   session over; the reply is its snapshot, which the core adopts.
 * - The holding node's expiry deletes the record at its revision first (`expire`): when that fails
 *   the record was claimed, and the session is handed over instead of expired.
 * - Later answers to calls the moved session made on the old node follow it by direct message.
 *
 * The core's registry (resumption.ts) is reached through ResumeHost, so that this module is
 * tested with a fake node and a fake host, without NATS or sessions.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { KvEntry } from '@nats-io/kv';
import type { Dict, MatchPolicy, RegistrationId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { isDict, parseMessage, toWire } from '@switchboard/schemas';
import type { InvocationPolicy } from '../dealer/registration.js';
import type { SessionIdentity } from '../core/endpoint.js';
import type {
  KeptAnswer,
  RegistrationSnapshot,
  ResumeRequest,
  ResumeSource,
  SessionSnapshot,
  SubscriptionSnapshot,
  TestamentSnapshot,
} from '../core/resume.js';
import type { NodeLink } from './link.js';
import { deleteAt, isConflict, json, liveEntries, parseRecord } from './link.js';
import { encodeCluster } from './wire.js';
import type { ClusterMessage } from './wire.js';

/** A resumable session's record in the `resumable` bucket. */
export interface ResumableRecord {
  /** The node holding the session, and its incarnation (a restarted node's sessions are gone). */
  node: string;
  inc: number;
  realm: string;
  authid: string;
  authrole: string;
  /** SHA-256 of the current token's 16 octets, hex. */
  tokenHash: string;
  /** The key of the listener the session's token is bound to: a resume on another is refused before the move. */
  listener?: string;
}

/** What this module needs of the core's registry of resumable sessions (resumption.ts). */
export interface ResumeHost {
  /**
   * Gives a session held here up to another node: closes its transport if attached, removes its
   * subscriptions and registrations quietly, keeps its calls as caller running (their later
   * answers go to `forward`) and answers its snapshot; undefined when no such session is held.
   */
  handOver(session: SessionId, forward: (msg: WampMessage) => void, answers?: number): SessionSnapshot | undefined | Promise<SessionSnapshot | undefined>;
  /** Sends an answer forwarded from the node a session moved from through the adopted session; false if not held here. */
  deliver(session: SessionId, msg: WampMessage, from?: string): boolean;
  /** Ends a detached session as its expiry does (a claim of its record came to nothing). */
  expire(session: SessionId): void;
  /**
   * Whether this node can adopt a session of `realm` (it serves the realm, with resumption on):
   * checked before the claim, since a session handed over and then not adopted would be lost.
   */
  accepts?(realm: string): boolean;
  /** A resume was refused past a bound of this module (switchboard_limits_exceeded_total{limit}). */
  limitExceeded?(limit: string): void;
}

/** The node as this module uses it. */
export type ResumeNode = Pick<NodeLink, 'self' | 'incarnation' | 'names' | 'log' | 'isLive' | 'sendToNode'> & {
  readonly buckets: Pick<NodeLink['buckets'], 'resumable'>;
};

export interface ClusterResumeOptions {
  /** How long a node waits for the holding node's snapshot (then the resume is refused). */
  handOverTimeoutMs: number;
  /**
   * At most this many takes waiting for a holding node at once (default 1000; past it a resume is
   * refused and counted as limit `maxPendingResumeTakes`): what a flood of resumes of sessions held
   * elsewhere can hold of this node.
   */
  maxPendingTakes?: number;
}

/**
 * This node's own record of one session: what and at which revision it last wrote (undefined once
 * deleted or lost to a claim), and its writes in order (forgotten when none is queued and no record is left).
 */
interface Held {
  record: ResumableRecord | undefined;
  revision: number | undefined;
  queue: Promise<unknown>;
  queued: number;
}

interface PendingTake {
  resolve(snapshot: unknown): void;
  timer: NodeJS.Timeout;
}

/** A take that gave up waiting: a snapshot that still comes is adopted (ResumeRequest.late). */
interface LateTake {
  session: SessionId;
  holder: string;
  late: ((snapshot: SessionSnapshot) => void) | undefined;
  timer: NodeJS.Timeout;
}

/** How long a take that gave up still accepts a late snapshot. */
const LATE_MS = 60_000;

const TOKEN_OCTETS = 16;

/** SHA-256 of a token's octets, hex (what `issued` receives and the record keeps). */
export function tokenHash(token: string): string | undefined {
  const octets = Buffer.from(token, 'base64');
  if (octets.length !== TOKEN_OCTETS || octets.toString('base64') !== token) return undefined;
  return createHash('sha256').update(octets).digest('hex');
}

/** Whether two hex hashes are equal, in time independent of where they differ. */
function sameHash(a: string, b: unknown): boolean {
  if (typeof b !== 'string' || b.length !== a.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export class ClusterResume implements ResumeSource {
  /** The core's registry (set by the cluster plugin once the router has one). */
  host: ResumeHost | undefined;
  readonly #held = new Map<SessionId, Held>();
  readonly #pending = new Map<number, PendingTake>();
  readonly #late = new Map<number, LateTake>();
  /** Sessions with a take in flight here, and how many (answers forwarded for them early may wait). */
  readonly #taking = new Map<SessionId, number>();
  /** Sessions whose expiry lost to a claim: ended if the claimer never asks for them. */
  readonly #claimed = new Map<SessionId, NodeJS.Timeout>();
  /**
   * Records this node failed to delete while NATS was away (session → the revision it wrote):
   * deleted at the resync, at that revision (a record rewritten since is another's), so that a
   * session that ended during a partition leaves no record behind.
   */
  readonly #lostDeletes = new Map<SessionId, number>();
  #nextTake = 0;
  readonly #timeoutMs: number;
  readonly #maxPending: number;

  constructor(
    readonly node: ResumeNode,
    options: ClusterResumeOptions,
  ) {
    this.#timeoutMs = options.handOverTimeoutMs;
    this.#maxPending = options.maxPendingTakes ?? 1000;
  }

  #key(session: SessionId): string {
    return this.node.names.resumableKey(session);
  }

  /** Runs a bucket operation on a session's record after the ones before it. */
  #enqueue<T>(session: SessionId, op: (held: Held) => Promise<T>): Promise<T> {
    let held = this.#held.get(session);
    if (held === undefined) {
      held = { record: undefined, revision: undefined, queue: Promise.resolve(), queued: 0 };
      this.#held.set(session, held);
    }
    const h = held;
    h.queued++;
    const run = h.queue.then(() => op(h));
    h.queue = run
      .catch(() => undefined)
      .then(() => {
        if (--h.queued === 0 && h.revision === undefined && this.#held.get(session) === h) this.#held.delete(session);
      });
    return run;
  }

  issued(session: SessionId, realm: string, identity: SessionIdentity, hash: string, listener?: string): void {
    const record: ResumableRecord = {
      node: this.node.self,
      inc: this.node.incarnation,
      realm,
      authid: identity.authid,
      authrole: identity.authrole,
      tokenHash: hash,
      ...(listener !== undefined && { listener }),
    };
    const { resumable } = this.node.buckets;
    void this.#enqueue(session, async (held) => {
      held.record = record;
      try {
        // At the revision written before: a record another node claimed meanwhile is not taken back.
        held.revision =
          held.revision === undefined
            ? await resumable.put(this.#key(session), json(record))
            : await resumable.update(this.#key(session), json(record), held.revision);
      } catch (err) {
        this.node.log.warn({ session, err: (err as Error).message }, 'cluster: resumable session not recorded (it resumes on this node only)');
      }
    });
  }

  ended(session: SessionId): void {
    if (!this.#held.has(session)) return;
    void this.#enqueue(session, (held) => this.#delete(session, held));
  }

  /** Deletes this node's record at the revision it wrote; false when another node claimed it meanwhile. */
  async #delete(session: SessionId, held: Held): Promise<boolean> {
    const revision = held.revision;
    // Whatever comes of it, the record is no longer this node's to write at that revision: a token
    // issued after (a resume here while the expiry ran) writes a new one.
    held.revision = undefined;
    held.record = undefined;
    if (revision === undefined) return true;
    try {
      await this.node.buckets.resumable.delete(this.#key(session), { previousSeq: revision });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      this.node.log.warn({ session, err: (err as Error).message }, 'cluster: resumable record not deleted (retried when NATS is back)');
      this.#lostDeletes.set(session, revision);
      return true;
    }
  }

  /**
   * A detached session's window passed: true when this node may end it (its record is gone),
   * false when another node claimed the record first: the session is then handed over when that
   * node asks, or ended after the hand-over timeout if it never does.
   */
  async expire(session: SessionId): Promise<boolean> {
    if (!this.#held.has(session)) return true;
    const mayEnd = await this.#enqueue(session, (held) => this.#delete(session, held));
    if (!mayEnd) {
      this.node.log.info({ session }, 'cluster: resumable session claimed by another node as it expired; kept for the hand-over');
      const timer = setTimeout(() => {
        this.#claimed.delete(session);
        this.host?.expire(session);
      }, this.#timeoutMs * 2);
      timer.unref();
      this.#claimed.set(session, timer);
    }
    return mayEnd;
  }

  async take(request: ResumeRequest): Promise<SessionSnapshot | undefined> {
    const refuse = (why: string): undefined => {
      this.node.log.info({ session: request.session, why }, 'cluster: resume refused');
      return undefined;
    };
    const hash = tokenHash(request.token);
    if (hash === undefined) return refuse('malformed token');
    const { resumable } = this.node.buckets;
    const key = this.#key(request.session);
    let entry: KvEntry | null;
    try {
      entry = await resumable.get(key);
    } catch (err) {
      return refuse(`bucket unreachable: ${(err as Error).message}`);
    }
    if (entry === null || entry.operation !== 'PUT') return refuse('no record');
    const record = parseRecord<ResumableRecord>(entry);
    if (record === undefined || typeof record.node !== 'string' || typeof record.inc !== 'number') return refuse('unreadable record');
    if (!sameHash(hash, record.tokenHash)) return refuse('token');
    if (request.realm !== undefined && request.realm !== record.realm) return refuse('realm');
    if (request.authid !== undefined && request.authid !== record.authid) return refuse('authid');
    if (record.node === this.node.self) return refuse('held by this node, which does not know it');
    // Check 4's listener part, before anything moves: a token never escapes its listener.
    if (record.listener !== undefined && request.listener !== undefined && record.listener !== request.listener) return refuse('another listener');
    if (this.host?.accepts?.(record.realm) === false) return refuse(`realm ${record.realm} not resumable on this node`);
    if (!this.node.isLive(record.node, record.inc)) {
      // Its sessions died with it (their testaments fired): the record is only a leftover.
      resumable.delete(key, { previousSeq: entry.revision }).catch(() => undefined);
      return refuse('holding node dead');
    }
    if (this.#pending.size >= this.#maxPending) {
      this.host?.limitExceeded?.('maxPendingResumeTakes');
      return refuse('too many resumes waiting for their nodes');
    }
    const claim: ResumableRecord = { ...record, node: this.node.self, inc: this.node.incarnation };
    let revision: number;
    try {
      revision = await resumable.update(key, json(claim), entry.revision);
    } catch (err) {
      return refuse(isConflict(err) ? 'lost the race (expired, resumed or reissued meanwhile)' : `claim failed: ${(err as Error).message}`);
    }
    this.#taking.set(request.session, (this.#taking.get(request.session) ?? 0) + 1);
    let answer: unknown;
    try {
      answer = await this.#ask(record.node, request.session, request.late, request.answers);
    } finally {
      const n = (this.#taking.get(request.session) ?? 1) - 1;
      if (n > 0) this.#taking.set(request.session, n);
      else this.#taking.delete(request.session);
    }
    const wired = answer === null ? undefined : snapshotFromWire(answer);
    // Only the node it came from may forward the answers of its calls left running there.
    const snapshot = wired === undefined ? undefined : { ...wired, from: record.node };
    if (snapshot === undefined || snapshot.id !== request.session) {
      // Nothing to adopt: the claim is void.
      resumable.delete(key, { previousSeq: revision }).catch(() => undefined);
      return refuse(answer === null ? 'holding node gave nothing (ended, or silent)' : 'malformed snapshot');
    }
    this.#held.set(request.session, { record: claim, revision, queue: Promise.resolve(), queued: 0 });
    return snapshot;
  }

  taking(session: SessionId): boolean {
    return this.#taking.has(session);
  }

  /** Asks `node` for a session's snapshot; null when it has none or does not answer in time. */
  #ask(node: string, session: SessionId, late?: (snapshot: SessionSnapshot) => void, answers?: number): Promise<unknown> {
    const id = ++this.#nextTake;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.node.log.warn({ session, holder: node }, 'cluster: no hand-over answer in time; resume refused');
        // The holding node may still answer (a stall): its snapshot is then adopted, not lost.
        if (this.#late.size < this.#maxPending) {
          const lateTimer = setTimeout(() => this.#late.delete(id), LATE_MS);
          lateTimer.unref();
          this.#late.set(id, { session, holder: node, late, timer: lateTimer });
        }
        resolve(null);
      }, this.#timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, timer });
      if (!this.node.sendToNode(node, encodeCluster({ kind: 'r', from: this.node.self, id, session, ...(answers !== undefined && { answers }) }))) {
        clearTimeout(timer);
        this.#pending.delete(id);
        resolve(null);
      }
    });
  }

  /** A hand-over request, its reply, or a forwarded answer. */
  onDirect(m: ClusterMessage): void {
    if (m.kind === 'r') void this.#handOver(m.from, m.id, m.session, m.answers);
    else if (m.kind === 's') {
      const pending = this.#pending.get(m.id);
      if (pending === undefined) {
        const late = this.#late.get(m.id);
        if (late === undefined || m.snapshot === null) return;
        this.#late.delete(m.id);
        clearTimeout(late.timer);
        const snapshot = snapshotFromWire(m.snapshot);
        if (snapshot === undefined || snapshot.id !== late.session || late.late === undefined) {
          this.node.log.error({ session: late.session }, 'cluster: a session was handed over after its resume gave up and cannot be adopted; it is lost');
          return;
        }
        this.node.log.warn({ session: late.session }, 'cluster: a session was handed over after its resume gave up; adopted detached');
        late.late({ ...snapshot, from: late.holder });
        return;
      }
      this.#pending.delete(m.id);
      clearTimeout(pending.timer);
      pending.resolve(m.snapshot);
    } else if (m.kind === 'f') {
      let msg: WampMessage;
      try {
        msg = parseMessage(m.wire);
      } catch (err) {
        this.node.log.warn({ session: m.session, from: m.from, err: (err as Error).message }, 'cluster: unreadable forwarded answer dropped');
        return;
      }
      // The registry says (a warning and a counter) when it cannot place the answer.
      if (this.host === undefined) this.node.log.warn({ session: m.session, from: m.from }, 'cluster: forwarded answer dropped: no session registry yet');
      else this.host.deliver(m.session, msg, m.from);
    }
  }

  /** The holding node's side: gives the session up if `from` holds its record now. */
  async #handOver(from: string, id: number, session: SessionId, answers?: number): Promise<void> {
    let snapshot: SessionSnapshot | undefined;
    try {
      const entry = await this.node.buckets.resumable.get(this.#key(session));
      const record = entry === null || entry.operation !== 'PUT' ? undefined : parseRecord<ResumableRecord>(entry);
      if (entry !== null && record?.node === from && this.host !== undefined) {
        const held = this.#held.get(session);
        snapshot = await this.host.handOver(
          session,
          (msg) => {
            // Its caller waits for it on the other node: a forward NATS cannot take is said.
            if (!this.node.sendToNode(from, encodeCluster({ kind: 'f', session, wire: toWire(msg), from: this.node.self })))
              this.node.log.warn({ session, to: from, code: msg.code }, 'cluster: forwarded answer not sent (NATS connection closed)');
          },
          answers,
        );
        if (snapshot !== undefined) {
          const claimed = this.#claimed.get(session);
          if (claimed !== undefined) clearTimeout(claimed);
          this.#claimed.delete(session);
          // The record is the new node's now: this node's `ended` must not touch it.
          if (this.#held.get(session) === held) this.#held.delete(session);
        } else if (held?.record !== undefined && this.#claimed.get(session) === undefined) {
          // Refused here (check 5) while still held: the claim is rolled back to this node's record
          // before the (empty) answer goes: the claimer's delete at its revision then fails.
          const mine = held.record;
          const revision = entry.revision;
          await this.#enqueue(session, async (h) => {
            try {
              h.revision = await this.node.buckets.resumable.update(this.#key(session), json(mine), revision);
              h.record = mine;
            } catch (err) {
              this.node.log.warn({ session, err: (err as Error).message }, 'cluster: resumable record not restored after a refused hand-over');
            }
          });
        }
      }
    } catch (err) {
      this.node.log.error({ session, err }, 'cluster: hand-over failed');
      snapshot = undefined;
    }
    this.node.sendToNode(from, encodeCluster({ kind: 's', id, snapshot: snapshot === undefined ? null : snapshotToWire(snapshot) }));
  }

  /**
   * After NATS comes back: this node's records that are missing (a nats-server restart loses the
   * memory bucket) are written again; one another node claimed meanwhile is left alone; the
   * deletes lost while NATS was away are made.
   */
  resync(): void {
    const { resumable } = this.node.buckets;
    for (const [session, revision] of [...this.#lostDeletes]) {
      this.#lostDeletes.delete(session);
      resumable.delete(this.#key(session), { previousSeq: revision }).catch(() => undefined);
    }
    for (const session of [...this.#held.keys()]) {
      void this.#enqueue(session, async (h) => {
        if (h.record === undefined) return;
        try {
          const entry = await resumable.get(this.#key(session));
          if (entry !== null && entry.operation === 'PUT') return;
          h.revision = await resumable.put(this.#key(session), json(h.record));
        } catch (err) {
          this.node.log.warn({ session, err: (err as Error).message }, 'cluster: resumable record not restored');
        }
      });
    }
  }

  /** Removes a dead node's records (done by one live node, with its sessions). */
  async purge(dead: string, inc: number): Promise<void> {
    const { resumable } = this.node.buckets;
    for (const entry of await liveEntries(resumable)) {
      const record = parseRecord<ResumableRecord>(entry);
      if (record?.node === dead && record.inc === inc) await deleteAt(resumable, entry.key, entry.revision);
    }
  }

  stop(): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve(null);
    }
    this.#pending.clear();
    for (const late of this.#late.values()) clearTimeout(late.timer);
    this.#late.clear();
    for (const timer of this.#claimed.values()) clearTimeout(timer);
    this.#claimed.clear();
  }
}

// ---- the snapshot on the wire ----------------------------------------------------------------
// Plain MessagePack data; kept answers as WAMP arrays (toWire/parseMessage), so that payloads keep
// their binary and 64-bit values. Read back with every field checked: a malformed one refuses the resume.

export function snapshotToWire(s: SessionSnapshot): Dict {
  const w: Dict = {
    id: s.id,
    realm: s.realm,
    identity: { ...s.identity },
    roles: s.roles,
    lastRequest: s.lastRequest,
    answerSeq: s.answerSeq,
    answers: s.answers.map((a) => [a.seq, toWire(a.message), a.delivered === true]),
    subscriptions: s.subscriptions.map((x) => ({ ...x })),
    registrations: s.registrations.map((x) => ({ ...x })),
    expiresAt: s.expiresAt,
  };
  if (s.answersLost === true) w['answersLost'] = true;
  if (s.listener !== undefined) w['listener'] = s.listener;
  if (s.testaments !== undefined && s.testaments.length > 0) w['testaments'] = s.testaments.map((t) => ({ ...t }));
  if (s.calls !== undefined && s.calls.length > 0) w['calls'] = [...s.calls];
  return w;
}

/**
 * Sane maxima of a snapshot read from the wire (far above any default limit; the adopting realm's
 * own limits are applied by resumption.ts adopt): a malformed or hostile one is refused whole.
 */
const MAX_CALLS = 100_000;
const MAX_ROUTES = 100_000;
const MAX_ANSWERS = 100_000;
const MAX_TESTAMENTS = 10_000;
const MAX_URI = 65_536;
const MATCHES: readonly string[] = ['exact', 'prefix', 'wildcard'];
const POLICIES: readonly string[] = ['single', 'roundrobin', 'random', 'first', 'last'];
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** A WAMP ID (1..2^53): route IDs and session IDs. */
const isId = (v: unknown): v is number => isCount(v) && v > 0;

export function snapshotFromWire(w: unknown): SessionSnapshot | undefined {
  if (!isDict(w)) return undefined;
  const { id, realm, identity, roles, lastRequest, answerSeq, answers, answersLost, listener, subscriptions, registrations, testaments, expiresAt, calls } = w;
  // The request IDs of its calls left running on the old node.
  if (calls !== undefined && (!Array.isArray(calls) || calls.length > MAX_CALLS || !calls.every(isId))) return undefined;
  if (!isId(id) || typeof realm !== 'string' || !isDict(roles) || !isCount(lastRequest) || !isCount(answerSeq)) return undefined;
  if (typeof expiresAt !== 'number' || !isDict(identity)) return undefined;
  if (answersLost !== undefined && typeof answersLost !== 'boolean') return undefined;
  // The listener key the token is bound to (a config identity: short).
  if (listener !== undefined && (typeof listener !== 'string' || listener.length > 1024)) return undefined;
  const { authid, authrole, authmethod, authprovider } = identity;
  if (typeof authid !== 'string' || typeof authrole !== 'string' || typeof authmethod !== 'string' || typeof authprovider !== 'string') return undefined;
  if (!Array.isArray(answers) || !Array.isArray(subscriptions) || !Array.isArray(registrations)) return undefined;
  if (answers.length > MAX_ANSWERS || subscriptions.length > MAX_ROUTES || registrations.length > MAX_ROUTES) return undefined;
  const kept: KeptAnswer[] = [];
  for (const a of answers) {
    if (!Array.isArray(a) || !isCount(a[0]) || !Array.isArray(a[1]) || (a[2] !== undefined && typeof a[2] !== 'boolean')) return undefined;
    try {
      kept.push({ seq: a[0], message: parseMessage(a[1]), delivered: a[2] === true });
    } catch {
      return undefined;
    }
  }
  const subs: SubscriptionSnapshot[] = [];
  for (const x of subscriptions) {
    if (
      !isDict(x) ||
      !isId(x['id']) ||
      typeof x['topic'] !== 'string' ||
      x['topic'].length > MAX_URI ||
      !MATCHES.includes(x['match'] as string) ||
      !isDict(x['options']) ||
      !isCount(x['missed'])
    )
      return undefined;
    subs.push({ id: x['id'] as SubscriptionId, topic: x['topic'], match: x['match'] as MatchPolicy, options: x['options'], missed: x['missed'] });
  }
  const regs: RegistrationSnapshot[] = [];
  for (const x of registrations) {
    if (
      !isDict(x) ||
      !isId(x['id']) ||
      typeof x['procedure'] !== 'string' ||
      x['procedure'].length > MAX_URI ||
      !MATCHES.includes(x['match'] as string) ||
      !POLICIES.includes(x['invoke'] as string) ||
      !isDict(x['options'])
    )
      return undefined;
    regs.push({
      id: x['id'] as RegistrationId,
      procedure: x['procedure'],
      match: x['match'] as MatchPolicy,
      invoke: x['invoke'] as InvocationPolicy,
      options: x['options'],
    });
  }
  let wills: TestamentSnapshot[] | undefined;
  if (testaments !== undefined) {
    if (!Array.isArray(testaments) || testaments.length > MAX_TESTAMENTS) return undefined;
    wills = [];
    for (const x of testaments) {
      if (!isDict(x) || typeof x['topic'] !== 'string' || !Array.isArray(x['args']) || !isDict(x['kwargs']) || !isDict(x['publishOptions'])) return undefined;
      wills.push({ topic: x['topic'], args: x['args'], kwargs: x['kwargs'], publishOptions: x['publishOptions'] });
    }
  }
  return {
    id: id as SessionId,
    realm,
    identity: { authid, authrole, authmethod, authprovider },
    roles,
    lastRequest,
    answerSeq,
    answers: kept,
    ...(answersLost === true && { answersLost: true }),
    ...(listener !== undefined && { listener }),
    subscriptions: subs,
    registrations: regs,
    ...(wills !== undefined && wills.length > 0 && { testaments: wills }),
    ...(calls !== undefined && calls.length > 0 && { calls: calls as number[] }),
    expiresAt,
  };
}
