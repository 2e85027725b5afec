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
import type { ErrorMessage, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
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

/** Bounds of the answers forwarded for a session before it is adopted here (`deliver`). */
const EARLY_ANSWERS = 1_000;
const EARLY_SESSIONS = 1_000;
const EARLY_MS = 30_000;

/** Why a detached session ended without a resume (switchboard_session_detached_ends_total{reason}). */
export type DetachedEnd = 'expired' | 'overflow' | 'limit';

/**
 * Whether the router's message `code` answers a request of the session (RESULT, ERROR, PUBLISHED,
 * SUBSCRIBED, UNSUBSCRIBED, REGISTERED, UNREGISTERED): what a resumable session keeps and counts.
 */
export function isAnswer(code: MessageCode): boolean {
  switch (code) {
    case MessageCode.Result:
    case MessageCode.Error:
    case MessageCode.Published:
    case MessageCode.Subscribed:
    case MessageCode.Unsubscribed:
    case MessageCode.Registered:
    case MessageCode.Unregistered:
      return true;
    default:
      return false;
  }
}

/** An estimate of what keeping `msg` costs (payloadBytes of its payload and details, at least 16). */
export function answerBytes(msg: WampMessage): number {
  const m = msg as { args?: unknown; kwargs?: unknown; details?: unknown };
  return 16 + payloadBytes(m.args as never, m.kwargs as never, (m.details as never) ?? undefined);
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
  /** Handed to a transport that was open (false: kept while detached, or sent to a closed one). */
  delivered: boolean;
}

/**
 * The answers one resumable session keeps for a resume, numbered 1, 2, 3… for the session's whole
 * life, and what else a resume needs: its current token, the EVENTs it missed while detached.
 */
export class AnswerRing {
  /** The sequence number of the last answer counted. */
  seq = 0;
  /** Oldest first. */
  readonly #kept: Kept[] = [];
  #bytes = 0;
  /** An answer never handed to an open transport was let go by a bound: a resume without resume-answers is refused. */
  lost = false;
  /** The current resume token's octets; undefined until the first WELCOME that grants resumption. */
  token: Buffer | undefined;
  /** EVENTs dropped while detached, per subscription (WELCOME.Details.resume-missed). */
  missed: Map<SubscriptionId, number> | undefined;
  /** Set while detached: the expiry timer and when it fires. */
  detached: { timer: unknown; expiresAt: number } | undefined;

  constructor(readonly limits: Readonly<RealmLimits>) {}

  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#kept.length;
  }

  /** The sequence number of the oldest answer kept (seq + 1 when none is). */
  get firstKept(): number {
    return this.#kept[0]?.seq ?? this.seq + 1;
  }

  /**
   * Counts and keeps one answer. Attached, the oldest go past the bounds; detached, the bound that
   * a new answer would pass is answered (the session then ends) and nothing is kept.
   */
  keep(message: WampMessage, delivered: boolean, detached: boolean): 'maxResumeAnswers' | 'maxResumeBytes' | Kept {
    const bytes = answerBytes(message);
    const limits = this.limits;
    if (detached) {
      if (this.#kept.length + 1 > limits.maxResumeAnswers) return 'maxResumeAnswers';
      if (this.#bytes + bytes > limits.maxResumeBytes) return 'maxResumeBytes';
    }
    const kept: Kept = { seq: ++this.seq, message, bytes, delivered };
    this.#kept.push(kept);
    this.#bytes += bytes;
    while (this.#kept.length > 0 && (this.#kept.length > limits.maxResumeAnswers || this.#bytes > limits.maxResumeBytes)) {
      const dropped = this.#kept.shift()!;
      this.#bytes -= dropped.bytes;
      if (!dropped.delivered) this.lost = true;
    }
    return kept;
  }

  /** The last answer counted was not sent after all (its payload cannot be represented): uncounted. */
  unkeep(kept: Kept): void {
    if (this.#kept.at(-1) !== kept) return;
    this.#kept.pop();
    this.#bytes -= kept.bytes;
    this.seq--;
  }

  /** Whether a resume that says the client received `answers` answers can be exact. */
  resumable(answers: number | undefined): boolean {
    if (answers === undefined) return !this.lost;
    return answers <= this.seq && this.firstKept <= answers + 1;
  }

  /**
   * The answers to send right after a resumed WELCOME, oldest first, once acknowledged ones are let
   * go: those after `answers`; without it, those never handed to an open transport.
   */
  toResend(answers: number | undefined): Kept[] {
    if (answers !== undefined) {
      while (this.#kept.length > 0 && this.#kept[0]!.seq <= answers) this.#bytes -= this.#kept.shift()!.bytes;
      return [...this.#kept];
    }
    return this.#kept.filter((k) => !k.delivered);
  }

  /** The kept answers, oldest first (a hand-over's snapshot). */
  snapshot(): KeptAnswer[] {
    return this.#kept.map((k) => ({ seq: k.seq, message: k.message, delivered: k.delivered }));
  }

  /** Takes the answers of a snapshot (a session adopted from another node), each delivered or not as it was there. */
  restore(seq: number, answers: readonly KeptAnswer[]): void {
    this.seq = seq;
    for (const a of answers) {
      const bytes = answerBytes(a.message);
      this.#kept.push({ seq: a.seq, message: a.message, bytes, delivered: a.delivered === true });
      this.#bytes += bytes;
    }
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
  moveOut(forward: (msg: WampMessage) => void): void;
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
export type Refusal = 'no such session' | 'not resumable' | 'bad token' | 'wrong realm' | 'wrong authid' | 'answers lost';

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
  /** Per realm: detached sessions and the bytes of answers they keep. */
  readonly #realms = new Map<Realm, { sessions: number; bytes: number }>();
  readonly #stats: RouterStats;
  readonly #log: Logger;
  readonly #clock: ResumeClock;
  /** The router stops: a session that loses its transport ends. */
  #closed = false;
  /** The cluster's (cluster/resume.ts), set by its plugin; undefined on a single router. */
  resumeSource: ResumeSource | undefined;
  /** Answers forwarded for a session not adopted here yet (`deliver`), with the timer that drops them. */
  readonly #early = new Map<SessionId, { messages: WampMessage[]; timer: unknown }>();

  constructor(options: ResumptionOptions) {
    this.#stats = options.stats;
    this.#log = options.log;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** Resumable sessions held here (attached or detached). */
  get size(): number {
    return this.#sessions.size;
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

  /** A new AnswerRing for a session of `realm` that asked and is granted resumption. */
  ring(realm: Realm): AnswerRing {
    return new AnswerRing(realm.quotas.limits);
  }

  /**
   * Gives `session` a new resume token (at each WELCOME that grants resumption): the previous one is
   * void. Answers the token, base64; the cluster hears of its hash only.
   */
  issue(session: ResumableSession): string {
    const ring = session.ring!;
    const token = randomBytes(TOKEN_OCTETS);
    ring.token = token;
    this.#sessions.set(session.id, session);
    this.resumeSource?.issued(session.id, session.realm.name, session.identity, createHash('sha256').update(token).digest('hex'));
    return token.toString('base64');
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
    if (!tokenMatches(request.token, ring.token)) return 'bad token';
    if (request.realm !== undefined && request.realm !== session.realm.name) return 'wrong realm';
    if (request.authid !== undefined && request.authid !== session.identity.authid) return 'wrong authid';
    return session;
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
    if (realm.bytes + ring.bytes > limits.maxDetachedBytes) return this.#endPast(session, 'maxDetachedBytes', 'limit');
    session.loseCarrier();
    this.#park(session, ring, limits.resumeWindowMs);
    session.realm.detach(session);
  }

  /** Counts a detached session and arms its expiry. */
  #park(session: ResumableSession, ring: AnswerRing, windowMs: number): void {
    const realm = this.#realm(session.realm);
    realm.sessions++;
    realm.bytes += ring.bytes;
    this.#stats.sessionsDetached++;
    ring.detached = {
      expiresAt: this.#clock.now() + windowMs,
      timer: this.#clock.setTimeout(() => {
        if (ring.detached === undefined || !session.live) return;
        this.#stats.detachedEnded('expired');
        this.#log.debug({ session: session.id, realm: session.realm.name }, 'detached session expired');
        session.end();
      }, windowMs),
    };
  }

  /**
   * One answer kept while detached: `bytes` more for the realm. False: past maxDetachedBytes (the
   * caller ends the session, reason overflow).
   */
  keptDetached(session: ResumableSession, bytes: number): boolean {
    const realm = this.#realm(session.realm);
    if (realm.bytes + bytes > session.ring!.limits.maxDetachedBytes) {
      this.overflow(session, 'maxDetachedBytes');
      return false;
    }
    realm.bytes += bytes;
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
    realm.bytes -= ring.bytes;
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
   * `ResumeSource.ended` is not called: the record is the new node's now.
   */
  handOver(id: SessionId, forward: (msg: WampMessage) => void): SessionSnapshot | undefined {
    const session = this.#sessions.get(id);
    const ring = session?.ring;
    if (session === undefined || ring === undefined || !session.live) return undefined;
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
    session.moveOut(forward);
    this.#log.debug({ session: id, realm: realm.name }, 'session handed over to another node');
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
    ring.restore(snapshot.answerSeq, snapshot.answers);
    ring.lost = snapshot.answersLost === true;
    this.#sessions.set(session.id, session);
    // Detached until the resume attaches it; a resume that fails a later check leaves it to expire as it would have there.
    this.#park(session, ring, Math.max(0, snapshot.expiresAt - this.#clock.now()));
    const early = this.#early.get(session.id);
    if (early !== undefined) {
      this.#early.delete(session.id);
      this.#clock.clearTimeout(early.timer);
      for (const msg of early.messages) session.deliver(msg);
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

  #adoptFailed(session: ResumableSession, why: string): undefined {
    this.#log.error({ session: session.id, realm: session.realm.name, why }, 'a moved session could not be adopted: its route IDs differ here');
    session.end(true);
    return undefined;
  }

  /**
   * An answer forwarded from the node a session moved from (its calls as caller still running
   * there; the cluster calls this): sent through the adopted session, numbered and kept like any
   * of its answers. One that arrives before the session is adopted here waits (at most
   * EARLY_ANSWERS per session, EARLY_SESSIONS sessions, EARLY_MS); false: dropped.
   */
  deliver(id: SessionId, msg: WampMessage): boolean {
    const session = this.#sessions.get(id);
    if (session !== undefined) {
      if (!session.live) return false;
      session.deliver(msg);
      return true;
    }
    if (!isAnswer(msg.code)) return false;
    let early = this.#early.get(id);
    if (early === undefined) {
      if (this.#early.size >= EARLY_SESSIONS) return false;
      const timer = this.#clock.setTimeout(() => this.#early.delete(id), EARLY_MS);
      early = { messages: [], timer };
      this.#early.set(id, early);
    }
    if (early.messages.length >= EARLY_ANSWERS) return false;
    early.messages.push(msg);
    return true;
  }

  #realm(realm: Realm): { sessions: number; bytes: number } {
    let r = this.#realms.get(realm);
    if (r === undefined) {
      r = { sessions: 0, bytes: 0 };
      this.#realms.set(realm, r);
    }
    return r;
  }
}

/** `token` (as the client sent it) is base64 of exactly these 16 octets; compared in constant time. */
export function tokenMatches(token: string, current: Buffer): boolean {
  const octets = Buffer.from(token, 'base64');
  if (octets.length !== TOKEN_OCTETS || octets.toString('base64') !== token) return false;
  return timingSafeEqual(octets, current);
}
