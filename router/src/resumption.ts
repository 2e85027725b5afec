/**
 * Session resumption on one router [ap_session_resumption]: the one owner of which sessions can be
 * resumed, their current resume tokens, the detached sessions and their expiry, the answers each
 * resumable session keeps for a resume (AnswerRing) and their bounds (realm `limits`
 * resumeWindowMs, maxDetachedSessions, maxResumeAnswers, maxResumeBytes, maxDetachedBytes), the
 * resumption metrics, and the hand-over of a session to another cluster node (`handOver`, `adopt`).
 * The connection (connection.ts) runs the handshake's checks through it; the session (session.ts)
 * keeps its answers in its AnswerRing. A session that is not resumable never reaches this module.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Dict, ErrorMessage, Kwargs, RequestId, Result, SessionId, SubscriptionId, WampMessage, WireArgs } from '@switchboard/schemas';
import { ANSWER_CODES, ErrorUri, MessageCode, rawPayloadOf } from '@switchboard/schemas';
import { clientAddress } from './auth/limits.js';
import type { Endpoint } from './core/endpoint.js';
import type { KeptAnswer, ResumeRequest, ResumeSource, SessionSnapshot } from './core/resume.js';
import type { RealmLimits } from './limits.js';
import { payloadBytes } from './limits.js';
import type { Logger } from './log.js';
import type { Realm } from './realm.js';
import type { RouterStats } from './stats.js';

/** Octets of a resume token (the spec: 16 random octets, base64). */
export const TOKEN_OCTETS = 16;

/** The one ABORT message of a refused dedicated resume: nothing tells which check failed. */
export const RESUME_REFUSED = 'no resumable session matches';

/**
 * Bounds of the answers forwarded for a session before it is adopted here (`deliver`): only while
 * a take of it is in flight here, per session in count and bytes (the default maxResumeBytes: the
 * realm is not known before the snapshot), and in bytes per node; a drop counts as limit `earlyAnswers`.
 */
const EARLY_ANSWERS = 1_000;
const EARLY_SESSIONS = 1_000;
const EARLY_MS = 30_000;
const EARLY_SESSION_BYTES = 1024 * 1024;
const EARLY_NODE_BYTES = 64 * 1024 * 1024;
/**
 * The token a resume used stays valid this long after the resumed WELCOME at most (or until the
 * client's first message): a cut before the client read the WELCOME must not cost the session, a
 * pure subscriber that never sends must not keep a used token valid for hours.
 */
const PREVIOUS_TOKEN_MS = 30_000;
/** At most this many sessions moved on from this node whose forwarded answers are still re-forwarded (`handOver`). */
const MOVED_SESSIONS = 1_000;

/** Why a detached session ended without a resume (switchboard_session_detached_ends_total{reason}). */
export type DetachedEnd = 'expired' | 'overflow' | 'limit';

/**
 * Whether the router's message `code` answers a request of the session (schemas' ANSWER_CODES,
 * the one classification the client counts by too): what a resumable session keeps and counts.
 */
export function isAnswer(code: MessageCode): boolean {
  return ANSWER_CODES.has(code);
}

/** An estimate of what keeping `msg` costs (payloadBytes of its payload and details, at least 16). */
export function answerBytes(msg: WampMessage): number {
  // Every answer's payload and details, where it has them (PUBLISHED, SUBSCRIBED… have none).
  const m: { readonly args?: WireArgs | undefined; readonly kwargs?: Kwargs | undefined; readonly details?: Dict | undefined } =
    'details' in msg || 'args' in msg ? msg : {};
  // A payload passed through is counted at its encoded size, not read: reading it would decode
  // every answer of a resumable session (our client's default), which passthrough exists to avoid.
  const raw = rawPayloadOf(msg);
  const bytes = 16 + (raw !== undefined ? raw.bytes + payloadBytes(undefined, undefined, m.details) : payloadBytes(m.args, m.kwargs, m.details));
  // The only string field outside the payload an answer carries: ERROR's URI.
  return msg.code === MessageCode.Error ? bytes + Buffer.byteLength(msg.error) : bytes;
}

/**
 * The ERROR wamp.error.invalid_argument that stands in for an answer the resumed session's
 * serializer cannot represent; undefined for an answer that names no request.
 */
export function unrepresentable(msg: WampMessage): ErrorMessage | undefined {
  // A revocation (UNSUBSCRIBED, UNREGISTERED with request 0) answers no request: nothing stands in.
  const of = (requestType: MessageCode, request: number): ErrorMessage | undefined =>
    request === 0
      ? undefined
      : {
          code: MessageCode.Error,
          requestType,
          request: request as RequestId,
          details: {},
          error: ErrorUri.InvalidArgument,
          args: ['the answer cannot be represented in the serializer of the resumed session'],
        };
  switch (msg.code) {
    case MessageCode.Result:
      return of(MessageCode.Call, msg.request);
    case MessageCode.Published:
      return of(MessageCode.Publish, msg.request);
    case MessageCode.Subscribed:
      return of(MessageCode.Subscribe, msg.request);
    case MessageCode.Unsubscribed:
      return of(MessageCode.Unsubscribe, msg.request);
    case MessageCode.Registered:
      return of(MessageCode.Register, msg.request);
    case MessageCode.Unregistered:
      return of(MessageCode.Unregister, msg.request);
    case MessageCode.Error:
      return of(msg.requestType, msg.request);
    default:
      return undefined;
  }
}

interface Kept {
  readonly seq: number;
  message: WampMessage;
  readonly bytes: number;
  /**
   * Handed to a transport that was open (false: kept while detached, or sent to a closed one).
   * Read-only outside the ring: AnswerRing.mark changes it (the ring counts undelivered bytes).
   */
  readonly delivered: boolean;
}

interface MutableKept {
  readonly seq: number;
  message: WampMessage;
  readonly bytes: number;
  delivered: boolean;
  /** No longer in the ring (let go or acknowledged): its bytes are no longer counted. */
  gone?: boolean;
}

/**
 * The answers one resumable session keeps for a resume, numbered 1, 2, 3… for the session's whole
 * life, and what else a resume needs: its current token, the EVENTs it missed while detached.
 *
 * Every answer after `firstKept` is kept (a resume is exact or refused): what is let go goes from
 * the oldest end, or, while detached, the oldest *delivered* ones wherever they are, and
 * `firstKept` then moves past them.
 */
export class AnswerRing {
  /** The sequence number of the last answer counted. */
  seq = 0;
  /** Oldest first. */
  readonly #kept: MutableKept[] = [];
  #bytes = 0;
  /** Bytes of the kept answers never handed to an open transport (what a detached session costs its realm). */
  #undeliveredBytes = 0;
  /** How many kept answers are undelivered (beside their bytes: no scan when detached). */
  #undelivered = 0;
  /** The highest sequence number let go: every answer after it is kept. */
  #droppedUpTo = 0;
  /**
   * The highest sequence number of an answer let go that was never handed to an open transport
   * (0: none): a resume without resume-answers is refused until a resume acknowledges past it.
   */
  #lostUpTo = 0;
  /** The current resume token's octets; undefined until the first WELCOME that grants resumption. */
  token: Buffer | undefined;
  /**
   * The token a resume used, still valid until the client sends its first message on that resume's
   * attachment (which proves it read the WELCOME with the new token): a cut between the resumed
   * WELCOME and the client reading it must not cost the session. [F16 of #18's client review]
   */
  previousToken: Buffer | undefined;
  /** When `previousToken` stops being valid even if the client never sends (clock ms). */
  previousUntil = 0;
  /** EVENTs dropped while detached, per subscription (WELCOME.Details.resume-missed). */
  missed: Map<SubscriptionId, number> | undefined;
  /**
   * Set while detached: the expiry timer, when it fires, and the bytes the realm counts for this
   * session (resumption.ts adds and subtracts exactly these: the realm's count never drifts).
   */
  detached: { timer: unknown; expiresAt: number; bytes: number; address: string } | undefined;
  /** Set while a resume that matched this session's token is being checked further (a token is usable once). */
  resuming = false;
  /** The identity of the listener the session joined on: it resumes through that listener only. */
  listener: string | undefined;

  /** `limits` is the realm's own object (never a copy): the bounds read at each use are the realm's. */
  constructor(readonly limits: Readonly<RealmLimits>) {}

  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes of the kept answers never handed to an open transport. */
  get undeliveredBytes(): number {
    return this.#undeliveredBytes;
  }

  get length(): number {
    return this.#kept.length;
  }

  /** An answer never handed to an open transport was let go: a resume without resume-answers is refused. */
  get lost(): boolean {
    return this.#lostUpTo > 0;
  }

  /** The sequence number of the oldest answer from which on every answer is kept (seq + 1 when none is). */
  get firstKept(): number {
    return Math.max(this.#kept[0]?.seq ?? this.seq + 1, this.#droppedUpTo + 1);
  }

  /**
   * Counts and keeps one answer. Attached, the oldest go past the bounds. Detached, the oldest
   * delivered answers make room first (firstKept moves past them: a resume that lacks them is
   * refused); when the undelivered ones alone leave no room, the bound is answered (the session
   * then ends) and nothing is kept.
   */
  keep(message: WampMessage, delivered: boolean, detached: boolean): 'maxResumeAnswers' | 'maxResumeBytes' | Kept {
    const bytes = answerBytes(message);
    const limits = this.limits;
    if (detached) {
      const full = () => this.#kept.length + 1 > limits.maxResumeAnswers || this.#bytes + bytes > limits.maxResumeBytes;
      if (full()) {
        // What stays if every delivered answer goes: past a bound even so, the session ends.
        if (this.#undelivered + 1 > limits.maxResumeAnswers) return 'maxResumeAnswers';
        if (this.#undeliveredBytes + bytes > limits.maxResumeBytes) return 'maxResumeBytes';
        for (let i = 0; i < this.#kept.length && full(); ) {
          const k = this.#kept[i]!;
          if (!k.delivered) {
            i++;
            continue;
          }
          this.#kept.splice(i, 1);
          k.gone = true;
          this.#bytes -= k.bytes;
          if (k.seq > this.#droppedUpTo) this.#droppedUpTo = k.seq;
        }
      }
    }
    const kept: MutableKept = { seq: ++this.seq, message, bytes, delivered };
    this.#kept.push(kept);
    this.#bytes += bytes;
    if (!delivered) {
      this.#undeliveredBytes += bytes;
      this.#undelivered++;
    }
    while (this.#kept.length > 0 && (this.#kept.length > limits.maxResumeAnswers || this.#bytes > limits.maxResumeBytes)) {
      this.#drop(this.#kept.shift()!);
    }
    return kept;
  }

  #drop(dropped: MutableKept): void {
    dropped.gone = true;
    this.#bytes -= dropped.bytes;
    if (dropped.seq > this.#droppedUpTo) this.#droppedUpTo = dropped.seq;
    if (!dropped.delivered) {
      this.#undeliveredBytes -= dropped.bytes;
      this.#undelivered--;
      if (dropped.seq > this.#lostUpTo) this.#lostUpTo = dropped.seq;
    }
  }

  /** Whether `kept` reached an open transport (a resend, or a send that found the transport closed). */
  mark(kept: Kept, delivered: boolean): void {
    const k = kept as MutableKept;
    if (k.delivered === delivered) return;
    k.delivered = delivered;
    if (k.gone === true) return;
    this.#undeliveredBytes += delivered ? -k.bytes : k.bytes;
    this.#undelivered += delivered ? -1 : 1;
  }

  /** The last answer counted was not sent after all (its payload cannot be represented): uncounted. */
  unkeep(kept: Kept): void {
    if (this.#kept.at(-1) !== kept) return;
    this.#kept.pop();
    (kept as MutableKept).gone = true;
    this.#bytes -= kept.bytes;
    if (!kept.delivered) {
      this.#undeliveredBytes -= kept.bytes;
      this.#undelivered--;
    }
    this.seq--;
  }

  /** Whether a resume that says the client received `answers` answers can be exact. */
  resumable(answers: number | undefined): boolean {
    if (answers === undefined) return !this.lost;
    return answers <= this.seq && this.firstKept <= answers + 1;
  }

  /**
   * The answers to send right after a resumed WELCOME, oldest first, once acknowledged ones are let
   * go: those after `answers`; without it, those never handed to an open transport. A resume that
   * acknowledges past the last lost answer clears the loss.
   */
  toResend(answers: number | undefined): Kept[] {
    if (answers !== undefined) {
      while (this.#kept.length > 0 && this.#kept[0]!.seq <= answers) {
        const k = this.#kept.shift()!;
        k.gone = true;
        this.#bytes -= k.bytes;
        if (!k.delivered) {
          this.#undeliveredBytes -= k.bytes;
          this.#undelivered--;
        }
      }
      if (answers > this.#droppedUpTo) this.#droppedUpTo = answers;
      if (answers >= this.#lostUpTo) this.#lostUpTo = 0;
      return [...this.#kept];
    }
    return this.#kept.filter((k) => !k.delivered);
  }

  /** The kept answers from firstKept on, oldest first (a hand-over's snapshot: a contiguous run). */
  snapshot(): KeptAnswer[] {
    return this.#kept.filter((k) => k.seq > this.#droppedUpTo).map((k) => ({ seq: k.seq, message: k.message, delivered: k.delivered }));
  }

  /** Takes the answers of a snapshot (a session adopted from another node), each delivered or not as it was there. */
  restore(seq: number, answers: readonly KeptAnswer[], lost = false): void {
    this.seq = seq;
    for (const a of answers) {
      const bytes = answerBytes(a.message);
      const delivered = a.delivered === true;
      this.#kept.push({ seq: a.seq, message: a.message, bytes, delivered });
      this.#bytes += bytes;
      if (!delivered) {
        this.#undeliveredBytes += bytes;
        this.#undelivered++;
      }
    }
    // Answers before the snapshot's first one are not here.
    this.#droppedUpTo = (answers[0]?.seq ?? seq + 1) - 1;
    // An undelivered answer was let go there: at most the last one before those kept.
    if (lost) this.#lostUpTo = Math.max(1, this.#droppedUpTo);
  }

  countMissed(subscription: SubscriptionId): void {
    const missed = (this.missed ??= new Map());
    missed.set(subscription, (missed.get(subscription) ?? 0) + 1);
  }
}

/** What the registry needs of a resumable session (WampSession implements it). */
export interface ResumableSession extends Endpoint {
  readonly realm: Realm;
  /** Present on resumable sessions only. */
  readonly ring: AnswerRing | undefined;
  /** The last client request ID the router handled (WELCOME.Details.resume-last-request). */
  readonly lastRequest: number;
  /** Leaves its transport (attached false, catch-up holds dropped); the registry does the rest. */
  loseCarrier(): void;
  /** Closes its transport, if any, without ending the session (a takeover, a hand-over). */
  releaseCarrier(reason: string): void;
  /** Moved to another node (a hand-over): over here, but the answers of its calls still running here go to `forward`. */
  /** Answers the request IDs of its calls as caller that go on here. */
  moveOut(forward: (msg: WampMessage) => void): number[];
  /** An answer forwarded from the node it moved from: sent (or kept while detached) and numbered as its own. */
  deliver(msg: WampMessage): void;
  end(silent?: boolean): void;
}

/** Timers, injectable for unit tests. */
export interface ResumeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const SYSTEM_CLOCK: ResumeClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

/** Why a resume was refused, for the log only (never for the client). */
export type Refusal = 'no such session' | 'not resumable' | 'bad token' | 'resume in progress' | 'wrong realm' | 'wrong authid' | 'answers lost';

/** A session adopted from another node (`adopt`): the router builds the session object. */
export type AdoptSession = (snapshot: SessionSnapshot) => ResumableSession | undefined;

export interface ResumptionOptions {
  readonly stats: RouterStats;
  readonly log: Logger;
  readonly clock?: ResumeClock;
}

export class Resumption {
  /** Resumable sessions of this router, attached or detached, by ID. */
  readonly #sessions = new Map<SessionId, ResumableSession>();
  /** Per realm: detached sessions, the bytes of undelivered answers they keep, and detached sessions per client address. */
  readonly #realms = new Map<Realm, RealmDetached>();
  readonly #stats: RouterStats;
  readonly #log: Logger;
  readonly #clock: ResumeClock;
  /** The router stops: a session that loses its transport ends. */
  #closed = false;
  /** The cluster's (cluster/resume.ts), set by its plugin; undefined on a single router. */
  resumeSource: ResumeSource | undefined;
  /** Answers forwarded for a session not adopted here yet (`deliver`), with the timer that drops them. */
  readonly #early = new Map<SessionId, { messages: { msg: WampMessage; from: string | undefined }[]; bytes: number; timer: unknown }>();
  #earlyBytes = 0;
  /**
   * Sessions adopted here from another node: the nodes that forward answers of their calls as
   * caller still running elsewhere, and those calls' request IDs, the only answers `deliver`
   * accepts for them.
   */
  readonly #adopted = new WeakMap<ResumableSession, Inbound>();
  /**
   * Tombstones of adopted sessions that moved on (A → B → C, or back to A): the answers the first
   * node still forwards here are re-forwarded to the session's new holder, for the realm's
   * resume window, at most MOVED_SESSIONS.
   */
  readonly #moved = new Map<SessionId, { inbound: Inbound; forward: (msg: WampMessage) => void; timer: unknown }>();

  constructor(options: ResumptionOptions) {
    this.#stats = options.stats;
    this.#log = options.log;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** Resumable sessions held here (attached or detached). */
  get size(): number {
    return this.#sessions.size;
  }

  /** What `realm`'s detached sessions count (sessions, undelivered answer bytes): for tests and metrics. */
  detachedOf(realm: Realm): { readonly sessions: number; readonly bytes: number; readonly addresses: number } {
    const r = this.#realms.get(realm);
    return { sessions: r?.sessions ?? 0, bytes: r?.bytes ?? 0, addresses: r?.addresses.size ?? 0 };
  }

  /** Detached sessions held here. */
  get detachedCount(): number {
    let n = 0;
    for (const r of this.#realms.values()) n += r.sessions;
    return n;
  }

  /** Whether a session of `realm` that asked can be resumable: the realm allows it, the router runs. */
  grants(realm: Realm): boolean {
    return realm.quotas.limits.resumeWindowMs > 0 && !this.#closed;
  }

  /**
   * A new AnswerRing for a session of `realm` that asked and is granted resumption, bound to the
   * listener it joined on (`listener`: its identity, see Connection's SessionLimits.listener).
   */
  ring(realm: Realm, listener: string | undefined): AnswerRing {
    const ring = new AnswerRing(realm.quotas.limits);
    ring.listener = listener;
    return ring;
  }

  /**
   * Gives `session` a new resume token (at each WELCOME that grants resumption): the previous one is
   * void, except `used` (the token a resume presented), which stays valid until `proven` (the
   * client's first message on the new attachment) or PREVIOUS_TOKEN_MS, whichever first; not when
   * `used` was itself the previous token (no chain). Answers the token, base64; the cluster hears of
   * its hash only (a resume with `used` works on this node only).
   */
  issue(session: ResumableSession, used?: string): string {
    const ring = session.ring!;
    const token = randomBytes(TOKEN_OCTETS);
    // A resume that used the previous token itself does not make it the previous one again (no
    // chain: a used token is void once its grace is over).
    const chained = used !== undefined && ring.previousToken !== undefined && tokenMatches(used, ring.previousToken);
    ring.previousToken = used !== undefined && !chained ? Buffer.from(used, 'base64') : undefined;
    ring.previousUntil = this.#clock.now() + PREVIOUS_TOKEN_MS;
    ring.token = token;
    this.#sessions.set(session.id, session);
    this.resumeSource?.issued(session.id, session.realm.name, session.identity, createHash('sha256').update(token).digest('hex'), session.ring?.listener);
    return token.toString('base64');
  }

  /**
   * Writes the session's record again with its current token (a session adopted after its take
   * gave up: the claim was deleted, this node holds it now).
   */
  recordAgain(session: ResumableSession): void {
    const token = session.ring?.token;
    if (token === undefined) return;
    this.resumeSource?.issued(session.id, session.realm.name, session.identity, createHash('sha256').update(token).digest('hex'), session.ring?.listener);
  }

  /** The resumable session with this ID held here, if any. */
  get(id: SessionId): ResumableSession | undefined {
    return this.#sessions.get(id);
  }

  /**
   * Checks 1 to 3 of a resume (design: held and resumable, current token, realm and authid of an
   * opportunistic resume); the listener's checks are the connection's.
   */
  match(request: ResumeRequest): ResumableSession | Refusal {
    const session = this.#sessions.get(request.session);
    if (session === undefined) return 'no such session';
    const ring = session.ring;
    if (ring?.token === undefined || !session.live) return 'not resumable';
    if (!tokenMatches(request.token, ring.token) && !this.#previousMatches(ring, request.token)) return 'bad token';
    // Another resume with this token is being checked (an asynchronous recheck): a token is usable once.
    if (ring.resuming) return 'resume in progress';
    if (request.realm !== undefined && request.realm !== session.realm.name) return 'wrong realm';
    if (request.authid !== undefined && request.authid !== session.identity.authid) return 'wrong authid';
    return session;
  }

  /** The token a resume used, within its grace (until the client's first message, at most PREVIOUS_TOKEN_MS). */
  #previousMatches(ring: AnswerRing, token: string): boolean {
    if (ring.previousToken === undefined) return false;
    if (this.#clock.now() >= ring.previousUntil) {
      ring.previousToken = undefined;
      return false;
    }
    return tokenMatches(token, ring.previousToken);
  }

  /** The client sent a message on its resumed attachment: it read the WELCOME, the token the resume used is void. */
  proven(session: ResumableSession): void {
    if (session.ring !== undefined) session.ring.previousToken = undefined;
  }

  /** Check 5: the answers the client lacks are all kept. */
  answersKept(session: ResumableSession, answers: number | undefined): boolean {
    return session.ring?.resumable(answers) === true;
  }

  /** A resume was refused; `why` goes to the log (never the token). */
  refused(request: ResumeRequest, why: string): void {
    this.#stats.resumeRefused++;
    this.#log.info({ session: request.session, peer: request.transport.peer, why }, 'resume refused');
  }

  /**
   * A resumable session lost its transport (closed without GOODBYE, GOODBYE resumable, a router
   * pause, a takeover): it detaches for resumeWindowMs, or ends at once past a limit.
   * [ap_session_resumption]
   */
  detach(session: ResumableSession): void {
    const ring = session.ring;
    if (ring === undefined || !session.live) return;
    if (ring.detached !== undefined) return;
    const limits = ring.limits;
    const realm = this.#realm(session.realm);
    if (this.#closed) return session.end();
    if (realm.sessions >= limits.maxDetachedSessions) return this.#endPast(session, 'maxDetachedSessions', 'limit');
    // One address cannot fill the realm's detached sessions (connect, HELLO resumable, drop, again).
    if ((realm.addresses.get(addressOf(session)) ?? 0) >= limits.maxDetachedSessionsPerAddress) {
      return this.#endPast(session, 'maxDetachedSessionsPerAddress', 'limit');
    }
    // Only what the client has not received counts: delivered answers can go whenever room is needed.
    if (realm.bytes + ring.undeliveredBytes > limits.maxDetachedBytes) return this.#endPast(session, 'maxDetachedBytes', 'limit');
    session.loseCarrier();
    this.#park(session, ring, limits.resumeWindowMs);
    session.realm.detach(session);
  }

  /** Counts a detached session and arms its expiry. */
  #park(session: ResumableSession, ring: AnswerRing, windowMs: number): void {
    const realm = this.#realm(session.realm);
    realm.sessions++;
    const bytes = ring.undeliveredBytes;
    realm.bytes += bytes;
    const address = addressOf(session);
    realm.addresses.set(address, (realm.addresses.get(address) ?? 0) + 1);
    this.#stats.sessionsDetached++;
    ring.detached = {
      bytes,
      address,
      expiresAt: this.#clock.now() + windowMs,
      timer: this.#clock.setTimeout(() => {
        if (ring.detached === undefined || !session.live) return;
        // In a cluster the session's record goes first: a node that claimed it meanwhile wins (the
        // session is handed over, not expired). [ap_session_resumption]
        const source = this.resumeSource;
        if (source?.expire === undefined) return this.#expire(session);
        const end = (mayEnd: boolean): void => {
          if (mayEnd) this.#expire(session);
        };
        source.expire(session.id).then(end, () => end(true));
      }, windowMs),
    };
  }

  #expire(session: ResumableSession): void {
    if (session.ring?.detached === undefined || !session.live) return;
    this.#stats.detachedEnded('expired');
    this.#log.debug({ session: session.id, realm: session.realm.name }, 'detached session expired');
    session.end();
  }

  /** Ends a detached session held here as its expiry does (the cluster: a claim of its record came to nothing). */
  expire(id: SessionId): void {
    const session = this.#sessions.get(id);
    if (session !== undefined) this.#expire(session);
  }

  /**
   * One answer kept while detached: `bytes` more for the realm. False: past maxDetachedBytes (the
   * caller ends the session, reason overflow).
   */
  keptDetached(session: ResumableSession, bytes: number): boolean {
    const realm = this.#realm(session.realm);
    const detached = session.ring!.detached;
    if (realm.bytes + bytes > session.ring!.limits.maxDetachedBytes) {
      // Not counted: the end subtracts what was (detached.bytes), never more.
      this.overflow(session, 'maxDetachedBytes');
      return false;
    }
    realm.bytes += bytes;
    if (detached !== undefined) detached.bytes += bytes;
    return true;
  }

  /** A detached session went past a bound of what it may keep: it ends (nothing is lost silently). */
  overflow(session: ResumableSession, limit: string): void {
    this.#endPast(session, limit, 'overflow');
  }

  #endPast(session: ResumableSession, limit: string, reason: DetachedEnd): void {
    this.#stats.limitExceeded(limit);
    this.#stats.detachedEnded(reason);
    this.#log.info({ session: session.id, realm: session.realm.name, limit }, `resumable session ended: ${limit} reached`);
    session.end();
  }

  /** The session attaches to a transport again (a resume): its expiry stops. */
  attached(session: ResumableSession): void {
    this.#undetach(session);
    this.#stats.resumed++;
  }

  #undetach(session: ResumableSession): void {
    const ring = session.ring;
    const detached = ring?.detached;
    if (ring === undefined || detached === undefined) return;
    this.#clock.clearTimeout(detached.timer);
    ring.detached = undefined;
    const realm = this.#realm(session.realm);
    realm.sessions--;
    // Exactly what was counted for this session (at the park and for each answer kept since).
    realm.bytes -= detached.bytes;
    const perAddress = (realm.addresses.get(detached.address) ?? 0) - 1;
    if (perAddress > 0) realm.addresses.set(detached.address, perAddress);
    else realm.addresses.delete(detached.address);
    if (realm.bytes < 0 || realm.sessions < 0) {
      this.#log.error(
        { realm: session.realm.name, bytes: realm.bytes, sessions: realm.sessions },
        'resumption: the count of detached sessions drifted below zero',
      );
      realm.bytes = Math.max(0, realm.bytes);
      realm.sessions = Math.max(0, realm.sessions);
    }
    this.#stats.sessionsDetached--;
  }

  /** Counts resent answers (switchboard_resume_answers_resent_total). */
  resent(n: number): void {
    this.#stats.resumeAnswersResent += n;
  }

  /** A resumable session ended (session.ts calls it from end()). */
  ended(session: ResumableSession): void {
    this.#undetach(session);
    if (this.#sessions.get(session.id) !== session) return;
    this.#sessions.delete(session.id);
    this.resumeSource?.ended(session.id);
  }

  /**
   * The router stops (single node: sessions end, never detach): every detached session ends now,
   * and a session that loses its transport from now on ends too.
   */
  close(): void {
    this.#closed = true;
    for (const early of this.#early.values()) this.#clock.clearTimeout(early.timer);
    this.#early.clear();
    this.#earlyBytes = 0;
    for (const moved of this.#moved.values()) this.#clock.clearTimeout(moved.timer);
    this.#moved.clear();
    for (const session of [...this.#sessions.values()]) if (!session.attached) session.end();
  }

  // ---- cluster -------------------------------------------------------------------------------

  /**
   * The holding node's part of a move (design.md, Cluster): answers the session's snapshot and
   * gives it up. An attached session detaches first, as at a takeover on one node (its transport
   * closes without GOODBYE, on_detach, the invocations it served end with session_unattached,
   * testaments of scope `detached` fire). Then it leaves this node quietly (realm.moveOut): its
   * subscriptions and registrations end through the route hooks (a cluster releases its claims),
   * no on_leave, no testaments published — it lives on there, and its testaments of scope
   * `destroyed` go along in the snapshot (the testament plugin answers them). Its calls as caller run on here: their
   * later answers (progressive results included, in order, and the router's own timeout ERROR) go
   * to `forward`, for the new node's `deliver`. Undefined: no such live resumable session here.
   * `ResumeSource.ended` is not called: the record is the new node's now. `answers`: the resume's
   * resume-answers; check 5 runs here first, and a failing one refuses (undefined, nothing moves).
   */
  handOver(id: SessionId, forward: (msg: WampMessage) => void, answers?: number): SessionSnapshot | undefined {
    const session = this.#sessions.get(id);
    const ring = session?.ring;
    if (session === undefined || ring === undefined || !session.live) return undefined;
    // Check 5 here, before the session is given up: a resume the new node would refuse must not
    // cut its live transport here.
    if (answers !== undefined && !ring.resumable(answers)) {
      this.#log.info({ session: id }, 'hand-over refused: the answers the client lacks are not all kept');
      return undefined;
    }
    const realm = session.realm;
    if (session.attached) {
      session.releaseCarrier('session resumed on another node');
      realm.detach(session);
    }
    const expiresAt = ring.detached?.expiresAt ?? this.#clock.now() + ring.limits.resumeWindowMs;
    let snapshot: SessionSnapshot = {
      id,
      realm: realm.name,
      identity: session.identity,
      roles: session.roles,
      lastRequest: session.lastRequest,
      answerSeq: ring.seq,
      answers: ring.snapshot(),
      ...(ring.lost && { answersLost: true }),
      ...(ring.listener !== undefined && { listener: ring.listener }),
      subscriptions: [...realm.broker.subscriptionsOf(session)].map((s) => ({
        id: s.id,
        topic: s.topic,
        match: s.match,
        options: s.match === 'exact' ? {} : { match: s.match },
        missed: ring.missed?.get(s.id) ?? 0,
      })),
      registrations: [...realm.dealer.registrationsOf(session)].map((r) => {
        const entry = r.callees.find((c) => c.session === session);
        return {
          id: r.id,
          procedure: r.procedure,
          match: r.match,
          invoke: r.invoke,
          options: {
            ...(r.match !== 'exact' && { match: r.match }),
            ...(r.invoke !== 'single' && { invoke: r.invoke }),
            ...(entry?.discloseCaller === true && { disclose_caller: true }),
            ...(entry?.forwardTimeout === true && { forward_timeout: true }),
          },
        };
      }),
      expiresAt,
    };
    const testaments = realm.hooks.testamentsOf(session);
    if (testaments.length > 0) snapshot = { ...snapshot, testaments };
    this.#undetach(session);
    this.#sessions.delete(id);
    const inbound = this.#adopted.get(session);
    const calls = session.moveOut(forward);
    // The calls still running on the nodes it came from follow it too (re-forwarded from here).
    if (inbound !== undefined && inbound.size > 0) {
      this.#tombstone(id, copyInbound(inbound), forward, ring.limits.resumeWindowMs);
      calls.push(...callsOf(inbound));
    }
    if (calls.length > 0) snapshot = { ...snapshot, calls };
    this.#log.debug({ session: id, realm: realm.name, calls }, 'session handed over to another node');
    return snapshot;
  }

  /**
   * The new node's part of a move: a session made from `snapshot` (by the router's `create`,
   * which joins it to its realm without on_join), resumable here, detached until the resuming
   * connection attaches it (the resume's on_attach says resumed). Its answer counter and kept
   * answers, then the answers forwarded before it was here (`deliver`), then its subscriptions
   * (with their missed-event counts) and registrations again, through the realm: registrations are
   * claimed through the realm's claimers (a cluster) before this resolves, so the resumed WELCOME
   * goes out with every route in place. A registration a claim refuses (another session took the
   * procedure meanwhile) is revoked: UNREGISTERED with the registration's ID, an answer the
   * resume delivers, to a callee that announced registration_revocation (otherwise logged). A
   * route that gets another ID here than there fails the move (the client would not know the ID):
   * undefined, as when the realm is not here or the session could not be made; the resume is
   * refused (an opportunistic one becomes a new session).
   */
  async adopt(snapshot: SessionSnapshot, create: AdoptSession): Promise<ResumableSession | undefined> {
    const session = create(snapshot);
    if (session === undefined) return undefined;
    const ring = session.ring!;
    // This realm's limits hold for a session made elsewhere (other limits there, or a hostile
    // node): past one, the move cannot be undone (the old node gave the session up), so it ends
    // here as an overflow, with on_leave and its testaments.
    const fitted = fitAnswers(snapshot.answers, ring.limits);
    const over = typeof fitted === 'string' ? fitted : this.#overAdoptLimits(session, snapshot, fitted);
    if (over !== undefined || typeof fitted === 'string') {
      this.#sessions.set(session.id, session);
      session.realm.hooks.adoptTestaments(session, snapshot.testaments ?? []);
      this.#log.warn({ session: session.id, realm: session.realm.name, limit: over }, 'a moved session is past a limit of this realm: ended');
      this.#endPast(session, over ?? 'maxResumeAnswers', 'overflow');
      return undefined;
    }
    ring.restore(snapshot.answerSeq, fitted, snapshot.answersLost === true);
    this.#sessions.set(session.id, session);
    const inbound: Inbound = new Map();
    if (snapshot.calls !== undefined && snapshot.calls.length > 0) inbound.set(snapshot.from, new Set(snapshot.calls));
    // Back here (A → B → A): held again, no longer re-forwarded. The calls its tombstone still
    // waited for are the session's again: their answers keep coming from the node that forwards
    // them here (a call it made there, before its first move here).
    const tombstone = this.#moved.get(session.id);
    if (tombstone !== undefined) mergeInbound(inbound, tombstone.inbound);
    this.#adopted.set(session, inbound);
    this.#unmoved(session.id);
    if (this.#log.isLevelEnabled('debug')) {
      this.#log.debug(
        { session: session.id, from: snapshot.from, inbound: Object.fromEntries([...inbound].map(([n, c]) => [n ?? '?', [...c]])) },
        'session adopted',
      );
    }
    // Detached until the resume attaches it; a resume that fails a later check leaves it to expire as it would have there.
    this.#park(session, ring, Math.max(0, snapshot.expiresAt - this.#clock.now()));
    const early = this.#early.get(session.id);
    if (early !== undefined) {
      this.#early.delete(session.id);
      this.#earlyBytes -= early.bytes;
      this.#clock.clearTimeout(early.timer);
      for (const { msg, from } of early.messages) this.deliver(session.id, msg, from);
    }
    const realm = session.realm;
    realm.hooks.adoptTestaments(session, snapshot.testaments ?? []);
    for (const s of snapshot.subscriptions) {
      const subscription = realm.pubsub.restore(session, s.topic, s.match);
      if (subscription.id !== s.id) return this.#adoptFailed(session, `subscription ${s.id} to '${s.topic}' would be ${subscription.id} here`);
      if (s.missed > 0) (ring.missed ??= new Map()).set(subscription.id, s.missed);
    }
    const made = await Promise.all(
      snapshot.registrations.map((r) =>
        realm.rpc.restore(session, r.procedure, r.match, r.invoke, {
          discloseCaller: r.options['disclose_caller'] === true,
          forwardTimeout: r.options['forward_timeout'] === true,
        }),
      ),
    );
    if (!session.live) return undefined;
    for (const [i, outcome] of made.entries()) {
      const r = snapshot.registrations[i]!;
      if ('ok' in outcome) {
        // Refused by a claim: the client is told its registration is gone.
        this.#log.warn({ session: session.id, procedure: r.procedure, error: outcome.error }, 'registration of a moved session refused here: revoked');
        if (session.supports('callee', 'registration_revocation')) {
          session.send({ code: MessageCode.Unregistered, request: 0 as RequestId, details: { registration: r.id, reason: outcome.error } });
        }
      } else if (outcome.id !== r.id) return this.#adoptFailed(session, `registration ${r.id} of '${r.procedure}' would be ${outcome.id} here`);
    }
    return session;
  }

  /** Keeps re-forwarding the answers forwarded here for a session this node handed on. */
  #tombstone(id: SessionId, inbound: Inbound, forward: (msg: WampMessage) => void, ms: number): void {
    this.#unmoved(id);
    if (this.#moved.size >= MOVED_SESSIONS) {
      // The oldest goes (a Map iterates in insertion order).
      const oldest = this.#moved.keys().next();
      if (oldest.done !== true) this.#unmoved(oldest.value);
    }
    const timer = this.#clock.setTimeout(() => this.#moved.delete(id), ms);
    this.#moved.set(id, { inbound, forward, timer });
  }

  #unmoved(id: SessionId): void {
    const moved = this.#moved.get(id);
    if (moved === undefined) return;
    this.#clock.clearTimeout(moved.timer);
    this.#moved.delete(id);
  }

  /** The first of this realm's limits a snapshot passes (its answers already fitted), if any. */
  #overAdoptLimits(session: ResumableSession, snapshot: SessionSnapshot, answers: readonly KeptAnswer[]): string | undefined {
    const limits = session.ring!.limits;
    if (snapshot.subscriptions.length > limits.maxSubscriptionsPerSession) return 'maxSubscriptionsPerSession';
    if (snapshot.registrations.length > limits.maxRegistrationsPerSession) return 'maxRegistrationsPerSession';
    if (snapshot.subscriptions.some((s) => s.topic.length > limits.maxUriLength)) return 'maxUriLength';
    if (snapshot.registrations.some((r) => r.procedure.length > limits.maxUriLength)) return 'maxUriLength';
    const realm = this.#realm(session.realm);
    if (realm.sessions >= limits.maxDetachedSessions) return 'maxDetachedSessions';
    let undelivered = 0;
    for (const a of answers) if (a.delivered !== true) undelivered += answerBytes(a.message);
    if (realm.bytes + undelivered > limits.maxDetachedBytes) return 'maxDetachedBytes';
    return undefined;
  }

  #adoptFailed(session: ResumableSession, why: string): undefined {
    this.#log.error({ session: session.id, realm: session.realm.name, why }, 'a moved session could not be adopted: its route IDs differ here');
    session.end(true);
    return undefined;
  }

  /**
   * An answer forwarded from the node a session moved from (its calls as caller still running
   * there; the cluster calls this, `from` the sending node when the wire says): sent through the
   * adopted session, numbered and kept like any of its answers; re-forwarded when the session
   * moved on from here (a tombstone). Only a RESULT or ERROR of a call a snapshot listed as left
   * running there, from the node that forwards it; a final one ends that call here. While a take
   * of the session is in flight here, it waits for the adoption (bounded in count, bytes, sessions
   * and EARLY_MS), even where this node keeps a tombstone of an earlier stay (A → B → A): that
   * tombstone would send it back to the node handing the session over now, which let the call go
   * already, or refuse a call made here during that stay. False: dropped (a warning and
   * switchboard_resume_forwarded_dropped_total say so).
   */
  deliver(id: SessionId, msg: WampMessage, from?: string): boolean {
    if (msg.code !== MessageCode.Result && !(msg.code === MessageCode.Error && msg.requestType === MessageCode.Call)) {
      return this.#forwardDropped(id, msg, from, 'not an answer to a call');
    }
    const session = this.#sessions.get(id);
    if (session !== undefined) {
      const inbound = this.#adopted.get(session);
      if (!session.live || inbound === undefined || !accepts(inbound, msg, from)) {
        return this.#forwardDropped(id, msg, from, 'not a call the session left running on that node');
      }
      this.#traced(id, msg, from, 'forwarded answer delivered');
      session.deliver(msg);
      return true;
    }
    if (this.resumeSource?.taking?.(id) === true) {
      this.#traced(id, msg, from, 'forwarded answer held for the take in flight');
      return this.#keepEarly(id, msg, from);
    }
    const moved = this.#moved.get(id);
    if (moved !== undefined) {
      if (!accepts(moved.inbound, msg, from)) return this.#forwardDropped(id, msg, from, 'not a call the moved session left running on that node');
      this.#traced(id, msg, from, 'forwarded answer re-forwarded to where the session moved on');
      moved.forward(msg);
      return true;
    }
    return this.#forwardDropped(id, msg, from, 'session not held, taken or moved on here');
  }

  /**
   * A take of `id` here came to nothing (refused, or the holding node did not answer in time): the
   * answers forwarded for it meanwhile go where they would have gone without the take (a tombstone
   * of an earlier stay here forwards them to the node that still holds the session).
   */
  untaken(id: SessionId): void {
    if (this.resumeSource?.taking?.(id) === true || this.#sessions.has(id)) return;
    const early = this.#early.get(id);
    if (early === undefined) return;
    this.#early.delete(id);
    this.#earlyBytes -= early.bytes;
    this.#clock.clearTimeout(early.timer);
    for (const { msg, from } of early.messages) this.deliver(id, msg, from);
  }

  /** Keeps an answer forwarded for a session whose take is in flight here, until its adoption. */
  #keepEarly(id: SessionId, msg: WampMessage, from: string | undefined): boolean {
    const bytes = answerBytes(msg);
    let early = this.#early.get(id);
    if (early === undefined && this.#early.size >= EARLY_SESSIONS) return this.#earlyDropped(id, msg, from);
    if (this.#earlyBytes + bytes > EARLY_NODE_BYTES) return this.#earlyDropped(id, msg, from);
    if (early !== undefined && (early.messages.length >= EARLY_ANSWERS || early.bytes + bytes > EARLY_SESSION_BYTES)) return this.#earlyDropped(id, msg, from);
    if (early === undefined) {
      if (bytes > EARLY_SESSION_BYTES) return this.#earlyDropped(id, msg, from);
      const timer = this.#clock.setTimeout(() => {
        const e = this.#early.get(id);
        if (e === undefined) return;
        this.#early.delete(id);
        this.#earlyBytes -= e.bytes;
        // The take never ended in an adoption here (nor said it came to nothing): they are lost.
        for (const kept of e.messages) this.#forwardDropped(id, kept.msg, kept.from, 'its take here never ended in an adoption');
      }, EARLY_MS);
      early = { messages: [], bytes: 0, timer };
      this.#early.set(id, early);
    }
    early.messages.push({ msg, from });
    early.bytes += bytes;
    this.#earlyBytes += bytes;
    return true;
  }

  /** Where a forwarded answer went, at level debug (what a stalled call's trail shows). */
  #traced(id: SessionId, msg: WampMessage, from: string | undefined, what: string): void {
    if (this.#log.isLevelEnabled('debug')) this.#log.debug({ session: id, from, code: msg.code, request: 'request' in msg ? msg.request : undefined }, what);
  }

  /** A forwarded answer goes nowhere: said and counted, never silent (its call's caller waits for it). */
  #forwardDropped(id: SessionId, msg: WampMessage, from: string | undefined, why: string): false {
    this.#stats.resumeForwardedDropped++;
    const request = 'request' in msg ? msg.request : undefined;
    this.#log.warn({ session: id, from, code: msg.code, request, why }, 'resumption: a forwarded answer dropped');
    return false;
  }

  #earlyDropped(id: SessionId, msg: WampMessage, from: string | undefined): false {
    this.#stats.limitExceeded('earlyAnswers');
    return this.#forwardDropped(id, msg, from, 'past the bounds of answers waiting for a take (limit earlyAnswers)');
  }

  #realm(realm: Realm): RealmDetached {
    let r = this.#realms.get(realm);
    if (r === undefined) {
      r = { sessions: 0, bytes: 0, addresses: new Map() };
      this.#realms.set(realm, r);
    }
    return r;
  }
}

/**
 * A snapshot's kept answers within this realm's maxResumeAnswers and maxResumeBytes: the oldest
 * delivered ones go first (the run stays contiguous); when the rest is still past a bound, that
 * bound's name (the move is refused).
 */
function fitAnswers(answers: readonly KeptAnswer[], limits: RealmLimits): readonly KeptAnswer[] | 'maxResumeAnswers' | 'maxResumeBytes' {
  let bytes = 0;
  for (const a of answers) bytes += answerBytes(a.message);
  let first = 0;
  while (first < answers.length && (answers.length - first > limits.maxResumeAnswers || bytes > limits.maxResumeBytes)) {
    const a = answers[first]!;
    if (a.delivered !== true) break;
    bytes -= answerBytes(a.message);
    first++;
  }
  if (answers.length - first > limits.maxResumeAnswers) return 'maxResumeAnswers';
  if (bytes > limits.maxResumeBytes) return 'maxResumeBytes';
  return first === 0 ? answers : answers.slice(first);
}

/**
 * Where a moved session's forwarded answers may come from, and for which calls: per forwarding
 * node (undefined: a snapshot that did not say, any node), the request IDs of its calls as caller
 * whose answers that node forwards. Usually one node (the one the session came from); more after a
 * move back (A → B → A), where the calls its tombstone here still waited for join in.
 */
type Inbound = Map<string | undefined, Set<number>>;

function copyInbound(inbound: Inbound): Inbound {
  const copy: Inbound = new Map();
  for (const [node, calls] of inbound) copy.set(node, new Set(calls));
  return copy;
}

function mergeInbound(into: Inbound, other: Inbound): void {
  for (const [node, calls] of other) {
    const mine = into.get(node);
    if (mine === undefined) into.set(node, new Set(calls));
    else for (const call of calls) mine.add(call);
  }
}

/** Every call an inbound waits for, once each. */
function callsOf(inbound: Inbound): number[] {
  const all = new Set<number>();
  for (const calls of inbound.values()) for (const call of calls) all.add(call);
  return [...all];
}

/** Whether a forwarded answer is one `inbound` waits for, from that node; a final one ends its call. */
function accepts(inbound: Inbound, msg: Result | ErrorMessage, from: string | undefined): boolean {
  for (const [node, calls] of inbound) {
    if (from !== undefined && node !== undefined && from !== node) continue;
    if (!calls.has(msg.request)) continue;
    if (msg.code === MessageCode.Error || msg.details['progress'] !== true) {
      calls.delete(msg.request);
      if (calls.size === 0) inbound.delete(node);
    }
    return true;
  }
  return false;
}

/** What one realm's detached sessions count. */
interface RealmDetached {
  sessions: number;
  /** Bytes of the answers they keep that their clients never received (maxDetachedBytes). */
  bytes: number;
  /** Detached sessions per client IP address (maxDetachedSessionsPerAddress); no entry for 0. */
  readonly addresses: Map<string, number>;
}

/** The client IP address a session's transport came from (auth/limits.ts clientAddress). */
function addressOf(session: ResumableSession): string {
  return clientAddress(session.transport.peer);
}

/** `token` (as the client sent it) is base64 of exactly these 16 octets; compared in constant time. */
export function tokenMatches(token: string, current: Buffer): boolean {
  const octets = Buffer.from(token, 'base64');
  if (octets.length !== TOKEN_OCTETS || octets.toString('base64') !== token) return false;
  return timingSafeEqual(octets, current);
}
