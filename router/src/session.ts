/**
 * One router-side WAMP session over one transport: the state machine
 * (HELLO → WELCOME → … → GOODBYE), request-ID checks, and dispatch to its realm. Nothing else:
 * routing lives in the realm, broker and dealer; bytes live in the transport.
 */
import type { Dict, ErrorMessage, Hello, RequestId, SessionId, WampMessage, Yield } from '@switchboard/schemas';
import { CloseUri, DecodeError, ErrorUri, MAX_ID, MessageCode, assertNever, messageName, parseMessage, toWire } from '@switchboard/schemas';
import type { Peer, PeerHandler } from './transports/peer.js';
import type { Realm } from './realm.js';
import type { RouterCore } from './core.js';

export enum SessionState {
  /** Transport open, waiting for HELLO. */
  Opening = 0,
  /** WELCOME sent. */
  Established = 1,
  /** The router sent GOODBYE and waits for the reply. */
  Closing = 2,
  /** Transport closed or session aborted. */
  Closed = 3,
}

/** Who the session is, as announced in WELCOME. */
export interface SessionIdentity {
  authid: string;
  authrole: string;
  authmethod: string;
  authprovider: string;
}

export class RouterSession implements PeerHandler {
  state: SessionState = SessionState.Opening;
  id: SessionId = 0 as SessionId;
  realm: Realm | undefined;
  identity: SessionIdentity | undefined;
  /** HELLO.Details.roles as the client announced them. */
  roles: Dict = {};
  /** Last client request ID seen, for the sequential rule. [bp_identifiers: session scope IDs] */
  #lastRequest = 0;
  #onGoodbyeReply: (() => void) | undefined;

  constructor(
    readonly peer: Peer,
    private readonly core: RouterCore,
  ) {}

  // ---- PeerHandler -------------------------------------------------------------------------

  onFrame(frame: unknown): void {
    if (this.state === SessionState.Closed) return;
    let msg: WampMessage;
    try {
      msg = parseMessage(frame);
    } catch (err) {
      if (err instanceof DecodeError) return this.protocolViolation(err.message);
      throw err;
    }
    try {
      this.#dispatch(msg);
    } catch (err) {
      // A bug of ours must cost this session, never the process or other sessions.
      this.core.log.error({ err, session: this.id }, `internal error handling ${messageName(msg.code)}`);
      this.abort('wamp.error.internal_error', 'internal router error');
    }
  }

  onBadFrame(reason: string): void {
    if (this.state === SessionState.Closed) return;
    this.protocolViolation(reason);
  }

  onClose(): void {
    const wasInRealm = this.realm !== undefined;
    this.state = SessionState.Closed;
    if (wasInRealm) this.#leaveRealm();
    this.#onGoodbyeReply?.();
    this.#onGoodbyeReply = undefined;
    this.core.transportClosed(this);
  }

  /** Whether the client announced `feature` for `role` in HELLO (both spellings of cancel(l)ing). */
  supports(role: 'publisher' | 'subscriber' | 'caller' | 'callee', feature: string): boolean {
    const r = this.roles[role];
    if (typeof r !== 'object' || r === null) return false;
    const features = (r as Dict)['features'];
    if (typeof features !== 'object' || features === null) return false;
    const f = features as Dict;
    if (f[feature] === true) return true;
    return feature === 'call_canceling' && f['call_cancelling'] === true;
  }

  get authid(): string | undefined {
    return this.identity?.authid;
  }

  get authrole(): string | undefined {
    return this.identity?.authrole;
  }

  // ---- outgoing ----------------------------------------------------------------------------

  /**
   * The message in this session's serializer, or undefined (logged) when its payload cannot be
   * represented there. A payload one peer sent must never fail another peer's session.
   */
  encode(msg: WampMessage): string | Uint8Array | undefined {
    try {
      return this.peer.codec.encode(toWire(msg));
    } catch (err) {
      this.core.log.warn({ session: this.id, serializer: this.peer.codec.name, err: (err as Error).message }, `cannot serialize ${messageName(msg.code)}`);
      return undefined;
    }
  }

  send(msg: WampMessage): boolean {
    const frame = this.encode(msg);
    return frame !== undefined && this.peer.send(frame);
  }

  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void {
    const err: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error };
    if (message !== undefined) err.args = [message];
    this.send(err);
  }

  /** ABORT wamp.error.protocol_violation, dispose the session, drop the transport. [bp_sessions: Protocol Errors] */
  protocolViolation(message: string): void {
    this.core.log.info({ session: this.id || undefined, peer: this.peer.transport.peer, reason: message }, 'protocol violation');
    this.abort(ErrorUri.ProtocolViolation, message, 1002);
  }

  abort(reason: string, message: string, closeCode = 1000): void {
    if (this.state === SessionState.Closed) return;
    this.send({ code: MessageCode.Abort, details: { message }, reason });
    this.#closeSession();
    this.peer.close(closeCode, reason.slice(0, 120));
  }

  /**
   * Router-initiated close: GOODBYE, leave the realm at once (its subscriptions, registrations
   * and calls end now), then wait for the client's GOODBYE, at most `closeTimeoutMs`, to close.
   */
  goodbye(reason: string, message: string, onDone: () => void, options: { closeTimeoutMs?: number; silent?: boolean } = {}): void {
    if (this.state !== SessionState.Established) {
      onDone();
      return;
    }
    this.send({ code: MessageCode.Goodbye, details: { message }, reason });
    this.#leaveRealm(options.silent === true);
    this.state = SessionState.Closing;
    this.#onGoodbyeReply = onDone;
    const timer = setTimeout(() => {
      if (this.state !== SessionState.Closing) return;
      this.#closeSession();
      this.peer.close(1000, reason.slice(0, 120));
    }, options.closeTimeoutMs ?? 5000);
    timer.unref();
  }

  // ---- dispatch ----------------------------------------------------------------------------

  #dispatch(msg: WampMessage): void {
    switch (this.state) {
      case SessionState.Opening:
        if (msg.code === MessageCode.Hello) return this.#onHello(msg);
        if (msg.code === MessageCode.Abort) return this.peer.close(1000, 'aborted by client');
        return this.protocolViolation(`received ${messageName(msg.code)} before the session was established (expected HELLO)`);
      case SessionState.Closing:
        // [bp_sessions statechart 14] Only the GOODBYE reply matters now; anything else is ignored.
        if (msg.code === MessageCode.Goodbye || msg.code === MessageCode.Abort) {
          this.#closeSession();
          this.peer.close(1000, CloseUri.GoodbyeAndOut);
        }
        return;
      case SessionState.Established:
        return this.#established(msg);
      case SessionState.Closed:
        return;
    }
  }

  #established(msg: WampMessage): void {
    const realm = this.realm!;
    switch (msg.code) {
      case MessageCode.Publish:
        if (this.#checkRequest(msg.request)) realm.onPublish(this, msg);
        return;
      case MessageCode.Subscribe:
        if (this.#checkRequest(msg.request)) realm.onSubscribe(this, msg);
        return;
      case MessageCode.Unsubscribe:
        if (this.#checkRequest(msg.request)) realm.onUnsubscribe(this, msg);
        return;
      case MessageCode.Call:
        // A progressive call invocation reuses its request ID. [ap_rpc_progressive_call_invocations]
        if (realm.isCallContinuation(this, msg.request, msg.procedure)) return realm.onCall(this, msg);
        // A late chunk of a progressive call that has ended is dropped without an answer.
        if (msg.options['progress'] !== undefined && msg.request >= 1 && msg.request <= this.#lastRequest) return;
        if (this.#checkRequest(msg.request)) realm.onCall(this, msg);
        return;
      case MessageCode.Register:
        if (this.#checkRequest(msg.request)) realm.onRegister(this, msg);
        return;
      case MessageCode.Unregister:
        if (this.#checkRequest(msg.request)) realm.onUnregister(this, msg);
        return;
      case MessageCode.Yield:
        return this.#onYieldOrError(msg);
      case MessageCode.Error:
        if (msg.requestType !== MessageCode.Invocation) {
          return this.protocolViolation(`received ERROR with invalid REQUEST.Type ${messageName(msg.requestType)} (a client may only answer INVOCATION with ERROR)`);
        }
        return this.#onYieldOrError(msg);
      case MessageCode.Cancel:
        return realm.onCancel(this, msg);
      case MessageCode.Goodbye:
        this.send({ code: MessageCode.Goodbye, details: {}, reason: CloseUri.GoodbyeAndOut });
        this.#closeSession();
        // The transport stays open: the spec lets a client open a new session on it.
        this.state = SessionState.Opening;
        return;
      case MessageCode.Abort:
        this.#closeSession();
        this.peer.close(1000, 'aborted by client');
        return;
      case MessageCode.Hello:
        return this.protocolViolation('received HELLO message after session was established');
      case MessageCode.Authenticate:
        return this.protocolViolation('received AUTHENTICATE message after session was established');
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

  #onHello(msg: Hello): void {
    const realm = this.core.realm(msg.realm);
    if (realm === undefined) {
      this.send({ code: MessageCode.Abort, details: { message: `no realm named '${msg.realm}' on this router` }, reason: ErrorUri.NoSuchRealm });
      this.peer.close(1000, ErrorUri.NoSuchRealm);
      this.state = SessionState.Closed;
      return;
    }
    const roles = msg.details['roles'];
    if (typeof roles !== 'object' || roles === null || Array.isArray(roles) || Object.keys(roles).length === 0) {
      return this.protocolViolation('HELLO.Details.roles must be a dict announcing at least one role');
    }
    this.roles = roles as Dict;
    this.#lastRequest = 0;
    this.id = this.core.newSessionId();
    this.identity = realm.authenticate(this, msg);
    this.realm = realm;
    this.state = SessionState.Established;
    realm.join(this);
    this.send({ code: MessageCode.Welcome, session: this.id, details: realm.welcomeDetails(this.identity) });
  }

  #onYieldOrError(msg: Yield | ErrorMessage): void {
    const realm = this.realm!;
    if (!realm.dealer.wasIssued(this, msg.request)) {
      return this.protocolViolation(`received ${messageName(msg.code)} for INVOCATION.Request ${msg.request}, which was never sent to this session`);
    }
    realm.onCalleeAnswer(this, msg);
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

  #closeSession(): void {
    if (this.realm !== undefined) this.#leaveRealm();
    this.state = SessionState.Closed;
    const done = this.#onGoodbyeReply;
    this.#onGoodbyeReply = undefined;
    done?.();
  }

  /** `silent`: no on_leave meta event and no testaments (wamp.session.kill_all). */
  #leaveRealm(silent = false): void {
    const realm = this.realm!;
    this.realm = undefined;
    realm.leave(this, silent);
    this.core.releaseSessionId(this.id);
  }
}
