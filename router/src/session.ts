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
import { HeldEvents } from './core/hold.js';
import { rolesSupport } from './core/roles.js';
import type { Handled } from './core/pause.js';
import type { Outbox } from './core/outbox.js';
import type { Realm } from './realm.js';
import type { RouterCore } from './core.js';

export type { SessionIdentity } from './core/endpoint.js';

/** What a session needs from the connection that carries it. */
export interface SessionCarrier {
  readonly outbox: Outbox;
  protocolViolation(message: string): void;
  abort(reason: string, message: string, closeCode?: number): void;
  goodbye(reason: string, message: string, onDone: () => void, options?: { closeTimeoutMs?: number; silent?: boolean }): void;
}

/** The messages a session routes (the connection handles HELLO, AUTHENTICATE, GOODBYE and ABORT). */
export type Routed = Exclude<WampMessage, Hello | Authenticate | Goodbye | Abort>;

export class WampSession implements Endpoint {
  #live = true;
  /** Last client request ID seen, for the sequential rule. [bp_identifiers: session scope IDs] */
  #lastRequest = 0;
  /**
   * Subscriptions whose EVENTs are held for a catch-up (core/hold.ts); undefined when none, so that
   * a session that never catches up pays one check per EVENT.
   */
  #holds: Map<SubscriptionId, HeldEvents> | undefined;

  constructor(
    private readonly carrier: SessionCarrier,
    private readonly core: RouterCore,
    readonly id: SessionId,
    readonly identity: SessionIdentity,
    /** HELLO.Details.roles as the client announced them. */
    readonly roles: Dict,
    readonly realm: Realm,
  ) {}

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
    return this.carrier.outbox.peer.transport;
  }

  get serializer(): string {
    return this.carrier.outbox.serializer;
  }

  get live(): boolean {
    return this.#live;
  }

  /** Foundation seam: session resumption (#18) detaches a session from its connection. */
  get attached(): boolean {
    return true;
  }

  supports(role: PeerRole, feature: string): boolean {
    return rolesSupport(this.roles, role, feature);
  }

  // ---- outgoing: the connection's outbox, while the session lives ---------------------------

  send(msg: WampMessage): SendOutcome {
    // A late answer for an ended session must not reach the next session on the same connection.
    return this.#live ? this.carrier.outbox.send(msg) : 'gone';
  }

  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void {
    const err: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error };
    if (message !== undefined) err.args = [message];
    this.send(err);
  }

  sendEvent(event: SharedEvent): SendOutcome {
    if (!this.#live) return 'gone';
    if (this.#holds !== undefined) {
      const hold = this.#holds.get(event.subscription);
      if (hold !== undefined) {
        hold.add(event);
        return 'sent';
      }
    }
    return this.carrier.outbox.sendEvent(event);
  }

  get outboundRoom(): number {
    return this.carrier.outbox.peer.outboundRoom ?? Number.POSITIVE_INFINITY;
  }

  hold(subscription: SubscriptionId, limits: HoldLimits): Hold {
    const holds = (this.#holds ??= new Map());
    const before = holds.get(subscription);
    if (before !== undefined) {
      if (!before.marking) throw new Error(`session ${this.id} already holds the events of subscription ${subscription}`);
      // A gap mark of an earlier catch-up of this subscription: this catch-up says its own.
      before.drop();
    }
    const outbox = this.carrier.outbox;
    const hold = new HeldEvents(limits, {
      bytes: (event) => outbox.eventBytes(event),
      send: (event, gap) => {
        if (!this.#live) return;
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

  protocolViolation(message: string): void {
    if (this.#live) this.carrier.protocolViolation(message);
  }

  abort(reason: string, message: string, closeCode?: number): void {
    if (this.#live) this.carrier.abort(reason, message, closeCode);
  }

  goodbye(reason: string, message: string, onDone: () => void, options?: { closeTimeoutMs?: number; silent?: boolean }): void {
    if (this.#live) this.carrier.goodbye(reason, message, onDone, options);
    else onDone();
  }

  /** Leaves the realm and releases the ID; the session is over. `silent`: wamp.session.kill_all. */
  end(silent = false): void {
    if (!this.#live) return;
    this.#live = false;
    // What a catch-up held is never sent now.
    this.#holds = undefined;
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
    if (!this.core.sequentialRequestIds) return true;
    const expected = this.#lastRequest >= MAX_ID ? 1 : this.#lastRequest + 1;
    if (request !== expected) {
      this.protocolViolation(`request ID ${request} is not sequential (expected ${expected})`);
      return false;
    }
    this.#lastRequest = request;
    return true;
  }
}
