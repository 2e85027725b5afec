/**
 * One WAMP session, from WELCOME to its end (GOODBYE, ABORT, transport close): a new object per
 * handshake, with a fixed identity, the session-scope request-ID rule and the bookkeeping of its
 * progressive call invocations. It checks a routed message's request ID and hands it to its
 * realm. The connection (connection.ts) carries it: transport, outbox, limits, handshake.
 */
import type { Dict, ErrorMessage, RequestId, SessionId, SubscriptionId, WampMessage, Yield } from '@switchboard/schemas';
import { MAX_ID, MessageCode, assertNever, messageName } from '@switchboard/schemas';
import type { Abort, Authenticate, Goodbye, Hello } from '@switchboard/schemas';
import type { Endpoint, Hold, HoldLimits, PeerRole, SendOutcome, SessionIdentity, SharedEvent } from './core/endpoint.js';
import type { TransportDetails } from './transports/peer.js';
import { isAnswer, unrepresentable } from './resumption.js';
import type { AnswerRing, ResumableSession } from './resumption.js';
import { HeldEvents } from './core/hold.js';
import { rolesSupport } from './core/roles.js';
import type { Handled } from './core/pause.js';
import type { Outbox } from './core/outbox.js';
import type { Realm } from './realm.js';
import type { RouterCore } from './core.js';

export type { SessionIdentity } from './core/endpoint.js';

/** Options of a router-initiated GOODBYE (Endpoint.goodbye). */
export interface GoodbyeOptions {
  closeTimeoutMs?: number;
  silent?: boolean;
  /** A router pause (wamp.session.kill with resumable: true): a resumable session detaches instead of ending. */
  resumable?: boolean;
}

/** What a session needs from the connection that carries it. */
export interface SessionCarrier {
  readonly outbox: Outbox;
  protocolViolation(message: string): void;
  abort(reason: string, message: string, closeCode?: number): void;
  goodbye(reason: string, message: string, onDone: () => void, options?: GoodbyeOptions): void;
  /** Closes the transport without ending the session, which resumed elsewhere (close code 1000, `reason`). */
  release(reason: string): void;
}

/** The messages a session routes (the connection handles HELLO, AUTHENTICATE, GOODBYE and ABORT). */
export type Routed = Exclude<WampMessage, Hello | Authenticate | Goodbye | Abort>;

export class WampSession implements Endpoint, ResumableSession {
  #live = true;
  /**
   * Last client request ID handled: the sequential rule [bp_identifiers: session scope IDs] and
   * WELCOME.Details.resume-last-request.
   */
  #lastRequest = 0;
  /** The connection that carries the session; undefined while detached (session resumption). */
  #carrier: SessionCarrier | undefined;
  /** The transport of the last carrier (what a detached session reports in the meta API). */
  #transport: TransportDetails;
  #serializer: string;
  /** A session handed over to another cluster node: its later answers go there. */
  #forward: ((msg: WampMessage) => void) | undefined;
  /**
   * The answers a resumable session keeps for a resume (resumption.ts); undefined for every other
   * session, which pays one field check per message for resumption.
   */
  readonly ring: AnswerRing | undefined;
  /**
   * Subscriptions whose EVENTs are held for a catch-up (core/hold.ts); undefined when none, so that
   * a session that never catches up pays one check per EVENT.
   */
  #holds: Map<SubscriptionId, HeldEvents> | undefined;

  constructor(
    carrier: SessionCarrier,
    private readonly core: RouterCore,
    readonly id: SessionId,
    readonly identity: SessionIdentity,
    /** HELLO.Details.roles as the client announced them. */
    readonly roles: Dict,
    readonly realm: Realm,
    /** Present when the session is resumable (it asked, its realm and peer allow it). */
    ring?: AnswerRing,
    /** The last request ID of a session adopted from another node. */
    lastRequest = 0,
  ) {
    this.#carrier = carrier;
    this.#transport = carrier.outbox.peer.transport;
    this.#serializer = carrier.outbox.serializer;
    this.ring = ring;
    this.#lastRequest = lastRequest;
  }

  get authid(): string {
    return this.identity.authid;
  }

  get authrole(): string {
    return this.identity.authrole;
  }

  /** This session object: a new one at every WELCOME, so what an authorizer caches dies with it. */
  get membership(): object {
    return this;
  }

  get transport(): Endpoint['transport'] {
    return this.#transport;
  }

  get serializer(): string {
    return this.#serializer;
  }

  /** The last client request ID the router handled (WELCOME.Details.resume-last-request). */
  get lastRequest(): number {
    return this.#lastRequest;
  }

  get live(): boolean {
    return this.#live;
  }

  /** False while detached (session resumption): no transport carries the session. */
  get attached(): boolean {
    return this.#carrier !== undefined;
  }

  /**
   * A resumable session (it asked, its realm and peer allow it: it keeps answers for a resume).
   * wamp.session.get and the session meta events say so (core/sessions.ts). [ap_session_resumption]
   */
  get resumable(): boolean {
    return this.ring !== undefined;
  }

  // ---- the carrier (session resumption, resumption.ts) ---------------------------------------

  /** Detached: no transport; what a catch-up held is let go (the resume's client catches up again). */
  loseCarrier(): void {
    this.#carrier = undefined;
    if (this.#holds !== undefined) for (const hold of [...this.#holds.values()]) hold.drop();
    this.#holds = undefined;
  }

  /** Closes the carrier's transport without ending the session (it resumed on another connection or node). */
  releaseCarrier(reason: string): void {
    const carrier = this.#carrier;
    if (carrier === undefined) return;
    this.loseCarrier();
    carrier.release(reason);
  }

  /** A resume: `carrier` carries the session from now on. */
  attachCarrier(carrier: SessionCarrier): void {
    this.#carrier = carrier;
    this.#transport = carrier.outbox.peer.transport;
    this.#serializer = carrier.outbox.serializer;
  }

  /**
   * Handed over to another cluster node (resumption.ts handOver): the session is over here (not
   * live, its ID released, out of its realm quietly), but the answers of its calls still running
   * here go to `forward`, in the order they come (progressive results included).
   */
  moveOut(forward: (msg: WampMessage) => void): number[] {
    if (!this.#live) return [];
    this.#forward = forward;
    this.#live = false;
    this.#holds = undefined;
    try {
      return this.realm.moveOut(this);
    } finally {
      this.core.releaseSessionId(this.id);
    }
  }

  /**
   * An answer forwarded from the node this session moved from (resumption.ts deliver): sent, or
   * kept while detached, and numbered like every other answer of the session.
   */
  deliver(msg: WampMessage): void {
    if (this.#live && isAnswer(msg.code)) this.send(msg);
  }

  /**
   * Right after a resumed WELCOME: the kept answers the client lacks, in order (resumption.ts
   * chooses them). One the new serializer cannot represent becomes ERROR
   * wamp.error.invalid_argument for its request. Answers how many were sent.
   */
  resend(answers: number | undefined): number {
    const ring = this.ring;
    const carrier = this.#carrier;
    if (ring === undefined || carrier === undefined) return 0;
    let n = 0;
    for (const kept of ring.toResend(answers)) {
      let outcome = carrier.outbox.send(kept.message);
      if (outcome === 'unserializable') {
        const error = unrepresentable(kept.message);
        if (error !== undefined) {
          kept.message = error;
          outcome = carrier.outbox.send(error);
        }
      }
      ring.mark(kept, outcome === 'sent');
      if (outcome === 'sent') n++;
    }
    return n;
  }

  supports(role: PeerRole, feature: string): boolean {
    return rolesSupport(this.roles, role, feature);
  }

  // ---- outgoing: the connection's outbox, while the session lives ---------------------------

  send(msg: WampMessage): SendOutcome {
    // A late answer for an ended session must not reach the next session on the same connection.
    if (!this.#live) {
      // Handed over to another node: the answers of its calls still running here go there.
      if (this.#forward === undefined || !isAnswer(msg.code)) return 'gone';
      this.#forward(msg);
      return 'sent';
    }
    if (this.ring !== undefined) return this.#sendResumable(this.ring, msg);
    return this.#carrier!.outbox.send(msg);
  }

  /**
   * A resumable session's message: an answer is numbered and kept (resumption.ts, AnswerRing);
   * while detached, answers are only kept and anything else is not sent.
   */
  #sendResumable(ring: AnswerRing, msg: WampMessage): SendOutcome {
    const carrier = this.#carrier;
    if (!isAnswer(msg.code)) return carrier === undefined ? 'gone' : carrier.outbox.send(msg);
    if (carrier === undefined) {
      const kept = ring.keep(msg, false, true);
      if (typeof kept === 'string') {
        this.core.resumption.overflow(this, kept);
        return 'gone';
      }
      if (!this.core.resumption.keptDetached(this, kept.bytes)) return 'gone';
      return 'sent';
    }
    const kept = ring.keep(msg, true, false);
    if (typeof kept === 'string') return 'gone';
    const outcome = carrier.outbox.send(msg);
    // Not representable: the caller answers otherwise (that answer takes this one's number).
    if (outcome === 'unserializable') ring.unkeep(kept);
    // Sent to a transport already closed: the resume resends it.
    else if (outcome === 'gone') ring.mark(kept, false);
    return outcome;
  }

  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void {
    const err: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error };
    if (message !== undefined) err.args = [message];
    this.send(err);
  }

  sendEvent(event: SharedEvent): SendOutcome {
    if (!this.#live) return 'gone';
    const carrier = this.#carrier;
    if (carrier === undefined) {
      // Detached: not sent, counted (WELCOME.Details.resume-missed).
      this.ring?.countMissed(event.subscription);
      return 'gone';
    }
    if (this.#holds !== undefined) {
      const hold = this.#holds.get(event.subscription);
      if (hold !== undefined) {
        hold.add(event);
        return 'sent';
      }
    }
    return carrier.outbox.sendEvent(event);
  }

  get outboundRoom(): number {
    return this.#carrier?.outbox.peer.outboundRoom ?? Number.POSITIVE_INFINITY;
  }

  hold(subscription: SubscriptionId, limits: HoldLimits): Hold {
    const holds = (this.#holds ??= new Map());
    const before = holds.get(subscription);
    if (before !== undefined) {
      if (!before.marking) throw new Error(`session ${this.id} already holds the events of subscription ${subscription}`);
      // A gap mark of an earlier catch-up of this subscription: this catch-up says its own.
      before.drop();
    }
    const outbox = this.#carrier?.outbox;
    const hold = new HeldEvents(limits, {
      bytes: (event) => outbox?.eventBytes(event) ?? 0,
      send: (event, gap) => {
        // A hold is dropped at a detach; a carrier that changed meanwhile is not this hold's.
        if (!this.#live || outbox === undefined || this.#carrier?.outbox !== outbox) return;
        if (!gap) {
          outbox.sendEventSurely(event);
          return;
        }
        // This session's own copy of a shared EVENT: the gap is news to it alone.
        const shared = event.message();
        outbox.send({ ...shared, details: { ...shared.details, history_gap: true } });
      },
      done: (ended) => {
        if (this.#holds?.get(subscription) !== ended) return;
        this.#holds.delete(subscription);
        if (this.#holds.size === 0) this.#holds = undefined;
      },
    });
    (this.#holds ??= new Map()).set(subscription, hold);
    return hold;
  }

  unhold(subscription: SubscriptionId): void {
    this.#holds?.get(subscription)?.drop();
  }

  // A detached session has no transport to tell: these end it (a pause of a detached session does nothing).

  protocolViolation(message: string): void {
    if (!this.#live) return;
    if (this.#carrier !== undefined) this.#carrier.protocolViolation(message);
    else this.end();
  }

  abort(reason: string, message: string, closeCode?: number): void {
    if (!this.#live) return;
    if (this.#carrier !== undefined) this.#carrier.abort(reason, message, closeCode);
    else this.end();
  }

  goodbye(reason: string, message: string, onDone: () => void, options?: GoodbyeOptions): void {
    if (this.#live && this.#carrier !== undefined) return this.#carrier.goodbye(reason, message, onDone, options);
    if (this.#live && options?.resumable !== true) this.end(options?.silent === true);
    onDone();
  }

  /** Leaves the realm and releases the ID; the session is over. `silent`: wamp.session.kill_all. */
  end(silent = false): void {
    if (!this.#live) return;
    this.#live = false;
    // What a catch-up held is never sent now.
    this.#holds = undefined;
    if (this.ring !== undefined) this.core.resumption.ended(this);
    try {
      this.realm.leave(this, silent);
    } finally {
      // Whatever leaving ran into, the ID is not kept forever (sessionCount, ID reuse).
      this.core.releaseSessionId(this.id);
    }
  }

  // ---- incoming ----------------------------------------------------------------------------

  /** One routed message of this session; a Pause holds the session's later input (core/pause.ts). */
  handle(msg: Routed): Handled {
    const realm = this.realm;
    switch (msg.code) {
      case MessageCode.Publish:
        if (this.#checkRequest(msg.request)) return realm.pubsub.onPublish(this, msg);
        return;
      case MessageCode.Subscribe:
        if (this.#checkRequest(msg.request)) return realm.pubsub.onSubscribe(this, msg);
        return;
      case MessageCode.Unsubscribe:
        if (this.#checkRequest(msg.request)) realm.pubsub.onUnsubscribe(this, msg);
        return;
      case MessageCode.Call: {
        // A continuation of a progressive call reuses its request ID; a late chunk is discarded.
        // [ap_rpc_progressive_call_invocations]
        const incoming = realm.calls.classify(this, msg, this.#lastRequest);
        if (incoming.kind === 'late' || (incoming.kind === 'new' && !this.#checkRequest(msg.request))) return;
        return realm.rpc.onCall(this, msg, incoming);
      }
      case MessageCode.Register:
        if (this.#checkRequest(msg.request)) return realm.rpc.onRegister(this, msg);
        return;
      case MessageCode.Unregister:
        if (this.#checkRequest(msg.request)) realm.rpc.onUnregister(this, msg);
        return;
      case MessageCode.Yield:
        return this.#onYieldOrError(msg);
      case MessageCode.Error:
        if (msg.requestType !== MessageCode.Invocation) {
          return this.protocolViolation(
            `received ERROR with invalid REQUEST.Type ${messageName(msg.requestType)} (a client may only answer INVOCATION with ERROR)`,
          );
        }
        return this.#onYieldOrError(msg);
      case MessageCode.Cancel:
        return realm.rpc.onCancel(this, msg);
      case MessageCode.Welcome:
      case MessageCode.Challenge:
      case MessageCode.Published:
      case MessageCode.Subscribed:
      case MessageCode.Unsubscribed:
      case MessageCode.Event:
      case MessageCode.Result:
      case MessageCode.Registered:
      case MessageCode.Unregistered:
      case MessageCode.Invocation:
      case MessageCode.Interrupt:
        return this.protocolViolation(`received ${messageName(msg.code)}, which only a router may send`);
      default:
        return assertNever(msg);
    }
  }

  #onYieldOrError(msg: Yield | ErrorMessage): void {
    const realm = this.realm;
    if (!realm.dealer.wasIssued(this, msg.request)) {
      return this.protocolViolation(`received ${messageName(msg.code)} for INVOCATION.Request ${msg.request}, which was never sent to this session`);
    }
    realm.rpc.onCalleeAnswer(this, msg);
  }

  /** [bp_identifiers] Session-scope request IDs increase by 1 from 1; anything else is a protocol error. */
  #checkRequest(request: RequestId): boolean {
    if (!this.core.sequentialRequestIds) {
      this.#lastRequest = request;
      return true;
    }
    const expected = this.#lastRequest >= MAX_ID ? 1 : this.#lastRequest + 1;
    if (request !== expected) {
      this.protocolViolation(`request ID ${request} is not sequential (expected ${expected})`);
      return false;
    }
    this.#lastRequest = request;
    return true;
  }
}
