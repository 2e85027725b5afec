/**
 * One router-side WAMP session over one transport: the state machine
 * (HELLO → WELCOME → … → GOODBYE), request-ID checks, and dispatch to its realm. Nothing else:
 * routing lives in the realm, broker and dealer; bytes live in the transport.
 */
import type { Dict, ErrorMessage, Hello, RequestId, SessionId, WampMessage, Yield } from '@switchboard/schemas';
import { isDict } from '@switchboard/schemas';
import type { AuthResult, Authenticator, HelloInfo, Principal } from './auth/types.js';
import { CloseUri, DecodeError, ErrorUri, MAX_ID, MessageCode, assertNever, messageName, parseMessage, toWire } from '@switchboard/schemas';
import type { Peer, PeerHandler } from './transports/peer.js';
import type { Realm } from './realm.js';
import type { RouterCore } from './core.js';
import { logRefusal } from './log.js';

export enum SessionState {
  /** Transport open, waiting for HELLO. */
  Opening = 0,
  /** WELCOME sent. */
  Established = 1,
  /** The router sent GOODBYE and waits for the reply. */
  Closing = 2,
  /** Transport closed or session aborted. */
  Closed = 3,
  /** HELLO received; authentication (possibly a CHALLENGE) in progress. */
  Authenticating = 4,
}

/** ABORT reason for a session over its listener's maxMessagesPerSecond (not a spec URI). */
export const RATE_LIMITED = 'switchboard.close.rate_limited';

/**
 * ABORT reason for a connection that got no WELCOME within its listener's helloTimeoutMs: it never
 * sent HELLO, never answered a CHALLENGE, or stayed without a session after GOODBYE (not a spec URI).
 */
export const HANDSHAKE_TIMEOUT = 'switchboard.close.handshake_timeout';

/** What a session takes from its listener's config. */
export interface SessionLimits {
  /** Messages this session may send per second (undefined: no limit). */
  maxMessagesPerSecond?: number | undefined;
  /** Time from transport open (or GOODBYE) to WELCOME (undefined: no limit, for in-process peers). */
  helloTimeoutMs?: number | undefined;
}

/** GOODBYE reason of a client logging out (Crossbar): its tracking cookie forgets the login. */
export const LOGOUT = 'wamp.close.logout';

/** Messages a session may queue while an asynchronous decision (a dynamic authorizer) is pending. */
const MAX_BACKLOG = 1000;

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
  /** A decision the session waits for; messages that arrive meanwhile wait in the backlog, in order. */
  #busy: Promise<void> | undefined;
  readonly #backlog: WampMessage[] = [];
  /** The outstanding CHALLENGE, answered by AUTHENTICATE. */
  #challenge: { method: string; respond(signature: string, extra: Dict): AuthResult | Promise<AuthResult>; abandoned: (() => void) | undefined; timer: NodeJS.Timeout } | undefined;
  #hello: HelloInfo | undefined;
  /** Request IDs of progressive call invocations this session started (the most recent 256). */
  readonly #progressiveCalls = new Set<number>();
  #windowStart = 0;
  #windowCount = 0;
  /** Runs while the transport has no established session: no WELCOME in time closes it. */
  #helloTimer: NodeJS.Timeout | undefined;
  /** Abuse limit: messages per second this session may send (undefined: none). */
  private readonly maxMessagesPerSecond: number | undefined;
  readonly #helloTimeoutMs: number | undefined;

  constructor(
    readonly peer: Peer,
    private readonly core: RouterCore,
    /** The listener's authentication methods, by authmethod name. */
    private readonly authenticators: ReadonlyMap<string, Authenticator>,
    limits: SessionLimits = {},
  ) {
    this.maxMessagesPerSecond = limits.maxMessagesPerSecond;
    this.#helloTimeoutMs = limits.helloTimeoutMs;
    this.#armHelloTimer();
  }

  /**
   * A connection that opens and never completes a handshake would be kept forever: from transport
   * open (and again after GOODBYE, which leaves the transport open) it has helloTimeoutMs to get a
   * WELCOME, CHALLENGE rounds included.
   */
  #armHelloTimer(): void {
    if (this.#helloTimeoutMs === undefined) return;
    clearTimeout(this.#helloTimer);
    const timeoutMs = this.#helloTimeoutMs;
    this.#helloTimer = setTimeout(() => {
      this.#helloTimer = undefined;
      if (this.state !== SessionState.Opening && this.state !== SessionState.Authenticating) return;
      this.core.stats.handshakeTimeouts++;
      this.abort(HANDSHAKE_TIMEOUT, `no session established within ${timeoutMs} ms`, 1008);
    }, timeoutMs);
    this.#helloTimer.unref();
  }

  #clearHelloTimer(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
  }

  // ---- PeerHandler -------------------------------------------------------------------------

  onFrame(frame: unknown): void {
    if (this.state === SessionState.Closed) return;
    let msg: WampMessage;
    try {
      msg = parseMessage(frame);
    } catch (err) {
      if (err instanceof DecodeError) return this.protocolViolation(err.message);
      // A bug of ours in parsing: it costs this session, never the transport's event handler (the process).
      this.core.sessionLog.error({ err, session: this.id || undefined }, 'internal error parsing a message');
      return this.abort('wamp.error.internal_error', 'internal router error');
    }
    this.onMessage(msg);
  }

  /** A message as an object: parsed above, or from an in-process peer (nothing to decode). */
  onMessage(msg: WampMessage): void {
    if (this.state === SessionState.Closed) return;
    this.core.stats.countIn(msg.code);
    if (this.maxMessagesPerSecond !== undefined && this.#overRate(this.maxMessagesPerSecond)) {
      this.core.stats.limitExceeded('maxMessagesPerSecond');
      return this.abort(RATE_LIMITED, `more than ${this.maxMessagesPerSecond} messages per second`, 1008);
    }
    if (this.#busy !== undefined) {
      if (this.#backlog.length >= MAX_BACKLOG) return this.abort(ErrorUri.ProtocolViolation, 'too many messages while a decision was pending', 1008);
      this.#backlog.push(msg);
      return;
    }
    this.#run(msg);
  }

  #run(msg: WampMessage): void {
    let pending: void | Promise<void>;
    try {
      pending = this.#dispatch(msg);
    } catch (err) {
      return this.#internalError(err, msg.code);
    }
    if (pending !== undefined) {
      this.#busy = pending.then(
        () => this.#drain(),
        (err: unknown) => {
          this.#internalError(err, msg.code);
          this.#drain();
        },
      );
    }
  }

  /** Runs what arrived while a decision was pending, until the backlog is empty or the next wait. */
  #drain(): void {
    this.#busy = undefined;
    while (this.#busy === undefined && this.#backlog.length > 0 && this.state !== SessionState.Closed) this.#run(this.#backlog.shift()!);
    if (this.state === SessionState.Closed) this.#backlog.length = 0;
  }

  #internalError(err: unknown, code: number): void {
    // A bug of ours must cost this session, never the process or other sessions.
    this.core.sessionLog.error({ err, session: this.id }, `internal error handling ${messageName(code)}`);
    this.abort('wamp.error.internal_error', 'internal router error');
  }

  onBadFrame(reason: string): void {
    if (this.state === SessionState.Closed) return;
    this.core.stats.badFrame(this.peer.codec.name);
    this.protocolViolation(reason);
  }

  onClose(): void {
    this.#clearHelloTimer();
    this.#endAuthentication();
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

  /**
   * This WAMP session, as opposed to the connection: a new object at every WELCOME (the identity),
   * so what an authorizer caches for alice is not bob's after GOODBYE and a new HELLO.
   */
  get membership(): object | undefined {
    return this.identity;
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
      this.core.stats.unserializableMessage(this.peer.codec.name, msg.code);
      this.core.sessionLog.warn({ session: this.id, serializer: this.peer.codec.name, err: (err as Error).message }, `cannot serialize ${messageName(msg.code)}`);
      return undefined;
    }
  }

  send(msg: WampMessage): boolean {
    // An in-process peer takes the object itself: nothing is encoded. [transports/peer.ts]
    const frame = this.peer.sendMessage !== undefined ? msg : this.encode(msg);
    if (frame === undefined || !(frame === msg ? this.peer.sendMessage!(msg) : this.peer.send(frame as string | Uint8Array))) return false;
    this.core.stats.countOut(msg.code);
    return true;
  }

  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void {
    const err: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error };
    if (message !== undefined) err.args = [message];
    this.send(err);
  }

  /** ABORT wamp.error.protocol_violation, dispose the session, drop the transport. [bp_sessions: Protocol Errors] */
  protocolViolation(message: string): void {
    this.core.stats.protocolViolations++;
    this.abort(ErrorUri.ProtocolViolation, message, 1002);
  }

  abort(reason: string, message: string, closeCode = 1000): void {
    if (this.state === SessionState.Closed) return;
    // Why a client could not join (or was thrown out) is what its operator asks first; rate-limited per reason.
    const joined = this.state === SessionState.Established;
    logRefusal(
      this.core.sessionLog,
      reason,
      { peer: this.peer.transport.peer, session: this.id || undefined, realm: this.realm?.name ?? this.#hello?.realm, authid: this.identity?.authid ?? this.#hello?.authid, state: SessionState[this.state] },
      `${joined ? 'session aborted' : 'join refused'}: ABORT ${reason}: ${message}`,
    );
    this.send({ code: MessageCode.Abort, details: { message }, reason });
    this.#clearHelloTimer();
    this.#endAuthentication();
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

  #dispatch(msg: WampMessage): void | Promise<void> {
    switch (this.state) {
      case SessionState.Opening:
        if (msg.code === MessageCode.Hello) return this.#onHello(msg);
        if (msg.code === MessageCode.Abort) return this.peer.close(1000, 'aborted by client');
        return this.protocolViolation(`received ${messageName(msg.code)} before the session was established (expected HELLO)`);
      case SessionState.Authenticating:
        if (msg.code === MessageCode.Authenticate && this.#challenge !== undefined) return this.#onAuthenticate(msg.signature, msg.extra);
        if (msg.code === MessageCode.Abort) {
          this.#endAuthentication();
          this.state = SessionState.Closed;
          return this.peer.close(1000, 'aborted by client');
        }
        return this.protocolViolation(`received ${messageName(msg.code)} during authentication${this.#challenge !== undefined ? ' (expected AUTHENTICATE)' : ''}`);
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

  #established(msg: WampMessage): void | Promise<void> {
    const realm = this.realm!;
    switch (msg.code) {
      case MessageCode.Publish:
        if (this.#checkRequest(msg.request)) return realm.onPublish(this, msg);
        return;
      case MessageCode.Subscribe:
        if (this.#checkRequest(msg.request)) return realm.onSubscribe(this, msg);
        return;
      case MessageCode.Unsubscribe:
        if (this.#checkRequest(msg.request)) realm.onUnsubscribe(this, msg);
        return;
      case MessageCode.Call:
        // A progressive call invocation reuses its request ID. [ap_rpc_progressive_call_invocations]
        if (realm.isCallContinuation(this, msg.request, msg.procedure)) return realm.onCall(this, msg);
        // A late chunk of a progressive call that has ended is discarded without an answer.
        // [ap_rpc_progressive_call_invocations: request ID verification, grace period]
        if (this.#progressiveCalls.has(msg.request) && msg.request <= this.#lastRequest) return;
        if (!this.#checkRequest(msg.request)) return;
        if (msg.options['progress'] === true) this.#rememberProgressive(msg.request);
        return realm.onCall(this, msg);
      case MessageCode.Register:
        if (this.#checkRequest(msg.request)) return realm.onRegister(this, msg);
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
        // Logging out forgets the login the connection's tracking cookie remembers (cookie authmethod).
        if (msg.reason === LOGOUT) this.peer.transport.cookie?.forget();
        this.send({ code: MessageCode.Goodbye, details: {}, reason: CloseUri.GoodbyeAndOut });
        this.#closeSession();
        // The transport stays open: the spec lets a client open a new session on it, in time.
        this.state = SessionState.Opening;
        this.#armHelloTimer();
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

  #onHello(msg: Hello): void | Promise<void> {
    if (this.core.realm(msg.realm) === undefined) {
      logRefusal(this.core.sessionLog, ErrorUri.NoSuchRealm, { peer: this.peer.transport.peer, realm: msg.realm }, `join refused: ABORT ${ErrorUri.NoSuchRealm}: no realm named '${msg.realm}' on this router`);
      this.send({ code: MessageCode.Abort, details: { message: `no realm named '${msg.realm}' on this router` }, reason: ErrorUri.NoSuchRealm });
      this.peer.close(1000, ErrorUri.NoSuchRealm);
      this.state = SessionState.Closed;
      return;
    }
    const roles = msg.details['roles'];
    if (!isDict(roles) || Object.keys(roles).length === 0) {
      return this.protocolViolation('HELLO.Details.roles must be a dict announcing at least one role');
    }
    const methods = msg.details['authmethods'] ?? ['anonymous'];
    if (!Array.isArray(methods) || !methods.every((m): m is string => typeof m === 'string')) {
      return this.protocolViolation('HELLO.Details.authmethods must be a list of strings');
    }
    const authid = msg.details['authid'];
    if (authid !== undefined && typeof authid !== 'string') return this.protocolViolation('HELLO.Details.authid must be a string');
    const authextra = msg.details['authextra'] ?? {};
    if (!isDict(authextra)) return this.protocolViolation('HELLO.Details.authextra must be a dict');
    // The client's order of preference among the methods this listener accepts.
    const listed = methods.filter((m) => this.authenticators.has(m));
    // A method may not apply to this connection (tls without a verified certificate, a cookie
    // that remembers no login): the client's next one is tried.
    const method = listed.find((m) => this.authenticators.get(m)!.available?.(this.peer.transport, msg.realm) !== false);
    if (method === undefined && listed.length > 0) {
      this.core.stats.authFailed(listed[0]!, ErrorUri.AuthenticationFailed);
      this.core.sessionLog.info({ peer: this.peer.transport.peer, methods: listed }, 'authentication denied: no method applies to this connection');
      return this.abort(ErrorUri.AuthenticationFailed, `authentication failed (${listed.join(', ')}: not available on this connection)`);
    }
    if (method === undefined) {
      this.core.stats.authFailed('none', ErrorUri.NoAuthMethod);
      const accepted = [...this.authenticators.keys()].join(', ');
      return this.abort(ErrorUri.NoAuthMethod, `no authentication method in common (client: ${methods.join(', ') || 'none'}; this listener: ${accepted})`);
    }
    this.roles = roles;
    this.#lastRequest = 0;
    this.#progressiveCalls.clear();
    this.id = this.core.newSessionId();
    this.state = SessionState.Authenticating;
    this.#hello = { realm: msg.realm, authid, authmethods: methods, authextra, details: msg.details, session: this.id, transport: this.peer.transport };
    return this.#authStep(method, this.authenticators.get(method)!.authenticate(this.#hello));
  }

  #onAuthenticate(signature: string, extra: Dict): void | Promise<void> {
    const challenge = this.#challenge!;
    clearTimeout(challenge.timer);
    this.#challenge = undefined;
    return this.#authStep(challenge.method, challenge.respond(signature, extra));
  }

  /** Applies an authenticator's answer; an asynchronous one holds later messages in order. */
  #authStep(method: string, result: AuthResult | Promise<AuthResult>): void | Promise<void> {
    if (result instanceof Promise) {
      return result.then(
        (r) => {
          if (this.state === SessionState.Authenticating) return this.#authStep(method, r);
        },
        (err: unknown) => {
          this.core.sessionLog.warn({ session: this.id, method, err: (err as Error).message }, 'authenticator failed');
          if (this.state === SessionState.Authenticating) this.abort(ErrorUri.AuthenticationFailed, 'authentication failed');
        },
      );
    }
    switch (result.kind) {
      case 'accept':
        return this.#welcome(method, result.principal);
      case 'deny':
        this.core.stats.authFailed(method, result.reason);
        this.core.sessionLog.info({ session: this.id, method, peer: this.peer.transport.peer, reason: result.reason }, 'authentication denied');
        return this.abort(result.reason, result.message);
      case 'challenge': {
        // A bounded time to answer: a client that never does must not hold the session open.
        const timer = setTimeout(() => {
          if (this.#challenge !== undefined) this.abort(ErrorUri.AuthenticationFailed, 'no AUTHENTICATE in time');
        }, this.core.authTimeoutMs);
        timer.unref();
        this.#challenge = { method, respond: result.respond, abandoned: result.abandoned, timer };
        this.send({ code: MessageCode.Challenge, authMethod: method, extra: result.extra });
        return;
      }
    }
  }

  #welcome(method: string, principal: Principal): void {
    const hello = this.#hello!;
    const realm = this.core.realm(principal.realm ?? hello.realm);
    if (realm === undefined) return this.abort(ErrorUri.NoSuchRealm, `no realm named '${principal.realm ?? hello.realm}' on this router`);
    if (principal.authprovider !== 'router' && !realm.authorizer.hasRole(principal.authrole)) return this.abort(ErrorUri.NoSuchRole, `no role '${principal.authrole}' in realm '${realm.name}'`);
    this.#hello = undefined;
    this.identity = { authid: principal.authid, authrole: principal.authrole, authmethod: method, authprovider: principal.authprovider };
    this.realm = realm;
    this.state = SessionState.Established;
    this.#clearHelloTimer();
    realm.join(this);
    // A login by another method is remembered by the connection's tracking cookie, for the cookie authmethod.
    if (method !== 'cookie' && this.authenticators.has('cookie')) {
      // Not its authextra: what a method sent once (a SCRAM server signature…) is not replayed.
      this.peer.transport.cookie?.remember({ ...this.identity, realm: realm.name });
    }
    this.send({ code: MessageCode.Welcome, session: this.id, details: realm.welcomeDetails(this.identity, principal.authextra) });
  }

  /** Clears authentication state; releases the session ID if the session never got a WELCOME. */
  #endAuthentication(): void {
    const unanswered = this.#challenge;
    this.#challenge = undefined;
    if (unanswered !== undefined) {
      // A CHALLENGE read and never answered is a failed authentication (limits and metrics).
      clearTimeout(unanswered.timer);
      this.core.stats.authFailed(unanswered.method, ErrorUri.AuthenticationFailed);
      unanswered.abandoned?.();
    }
    if (this.state === SessionState.Authenticating) this.core.releaseSessionId(this.id);
    this.#hello = undefined;
  }

  #onYieldOrError(msg: Yield | ErrorMessage): void {
    const realm = this.realm!;
    if (!realm.dealer.wasIssued(this, msg.request)) {
      return this.protocolViolation(`received ${messageName(msg.code)} for INVOCATION.Request ${msg.request}, which was never sent to this session`);
    }
    realm.onCalleeAnswer(this, msg);
  }

  /** A fixed one-second window: cheap, and exact enough for an abuse limit. */
  #overRate(limit: number): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#windowCount = 0;
    }
    return ++this.#windowCount > limit;
  }

  #rememberProgressive(request: number): void {
    this.#progressiveCalls.add(request);
    if (this.#progressiveCalls.size > 256) this.#progressiveCalls.delete(this.#progressiveCalls.values().next().value!);
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
