/**
 * One client connection as the router sees it: the transport (a Peer), its outbox, the abuse
 * limits (messages per second, the backlog held while a decision is pending), the hello timer and
 * the handshake (HELLO → CHALLENGE → AUTHENTICATE → WELCOME). At WELCOME it creates the WAMP
 * session (session.ts), a new object with a fixed identity, and hands it every routed message.
 * The session ends at GOODBYE, ABORT or transport close; after GOODBYE the connection waits for a
 * new HELLO, which makes a new session. Routing lives in the realm; bytes live in the transport.
 */
import type { Dict, Hello, SessionId, WampMessage } from '@switchboard/schemas';
import { MAX_ID, isDict } from '@switchboard/schemas';
import { CloseUri, DecodeError, ErrorUri, MessageCode, messageName, parseMessage } from '@switchboard/schemas';
import type { AuthResult, Authenticator, HelloInfo, Principal } from './auth/types.js';
import type { Peer, PeerHandler } from './transports/peer.js';
import type { RouterCore } from './core.js';
import { Outbox } from './core/outbox.js';
import { Pause } from './core/pause.js';
import type { Handled } from './core/pause.js';
import { WampSession } from './session.js';
import type { GoodbyeOptions, SessionCarrier } from './session.js';
import type { ResumeRequest, SessionSnapshot } from './core/resume.js';
import type { TransportDetails } from './transports/peer.js';
import { RESUME_REFUSED } from './resumption.js';
import type { ResumableSession } from './resumption.js';
import { logRefusal } from './log.js';
import { RESERVED_AUTHPROVIDERS, isInProcessAuthenticator } from './auth/trusted.js';

export enum ConnectionState {
  /** Transport open, waiting for HELLO (again after GOODBYE). */
  Opening = 0,
  /** WELCOME sent: a WAMP session is established. */
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

/** What a connection takes from its listener's config. */
export interface SessionLimits {
  /** Messages this connection may send per second (undefined: no limit). */
  maxMessagesPerSecond?: number | undefined;
  /** Time from transport open (or GOODBYE) to WELCOME (undefined: no limit, for in-process peers). */
  helloTimeoutMs?: number | undefined;
  /**
   * Not a limit: the identity of the listener the connection arrived on (router.ts listenerKey),
   * the same on every node that runs the same config. A resume token is bound to it: a session
   * resumes only through the listener it joined on (its restrictions hold). [ap_session_resumption]
   */
  listener?: string | undefined;
}

/** GOODBYE reason of a client logging out (Crossbar): its tracking cookie forgets the login. */
export const LOGOUT = 'wamp.close.logout';

/** Messages a connection may queue while a handler's Pause is pending (core/pause.ts). */
const MAX_BACKLOG = 1000;

export class Connection implements PeerHandler, SessionCarrier {
  state: ConnectionState = ConnectionState.Opening;
  /** The WAMP session, from WELCOME until it ends. */
  session: WampSession | undefined;
  /** Every message the router sends on this connection goes through here. */
  readonly outbox: Outbox;
  /** The session ID drawn at HELLO, announced in WELCOME; undefined without a handshake in progress. */
  #pendingId: SessionId | undefined;
  /** A resume sent its WELCOME and the client has sent nothing since: the token it used still works (resumption.ts issue). */
  #unproven = false;
  #onGoodbyeReply: (() => void) | undefined;
  /** A Pause the connection waits for; messages that arrive meanwhile wait in the backlog, in order. */
  #busy: Promise<void> | undefined;
  readonly #backlog: WampMessage[] = [];
  /** The outstanding CHALLENGE, answered by AUTHENTICATE. */
  #challenge:
    | { method: string; respond(signature: string, extra: Dict): AuthResult | Promise<AuthResult>; abandoned: (() => void) | undefined; timer: NodeJS.Timeout }
    | undefined;
  #hello: (HelloInfo & { roles: Dict }) | undefined;
  #windowStart = 0;
  #windowCount = 0;
  /** Runs while the transport has no established session: no WELCOME in time closes it. */
  #helloTimer: NodeJS.Timeout | undefined;
  /** Abuse limit: messages per second this connection may send (undefined: none). */
  readonly #maxMessagesPerSecond: number | undefined;
  readonly #helloTimeoutMs: number | undefined;
  /** The listener's identity (SessionLimits.listener): a resumable session is bound to it. */
  readonly #listener: string | undefined;

  constructor(
    readonly peer: Peer,
    readonly core: RouterCore,
    /** The listener's authentication methods, by authmethod name. */
    private readonly authenticators: ReadonlyMap<string, Authenticator>,
    limits: SessionLimits = {},
  ) {
    this.#maxMessagesPerSecond = limits.maxMessagesPerSecond;
    this.#helloTimeoutMs = limits.helloTimeoutMs;
    this.#listener = limits.listener;
    this.outbox = new Outbox(peer, core.stats, core.sessionLog);
    this.#armHelloTimer();
  }

  /** The current session's ID, or the one drawn for the handshake in progress (0: none). */
  get id(): number {
    return this.session?.id ?? this.#pendingId ?? 0;
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
      if (this.state !== ConnectionState.Opening && this.state !== ConnectionState.Authenticating) return;
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

  // The transports' event handlers call these four: none of them may throw into a transport (an
  // exception there is the process's). A bug of ours costs this connection, logged (#fault).

  onFrame(frame: unknown): void {
    try {
      this.#onFrame(frame);
    } catch (err) {
      this.#fault('a frame', err);
    }
  }

  /** A message, parsed by onFrame or handed over as an object by an in-process peer. */
  onMessage(msg: WampMessage): void {
    try {
      this.#onMessage(msg);
    } catch (err) {
      this.#fault('a message', err);
    }
  }

  onBadFrame(reason: string): void {
    try {
      this.#onBadFrame(reason);
    } catch (err) {
      this.#fault('a bad frame', err);
    }
  }

  onClose(): void {
    try {
      this.#onClose();
    } catch (err) {
      this.#fault('the transport close', err);
    }
  }

  /** A bug of ours while handling `what` (no closure per message: the handlers above catch it themselves). */
  #fault(what: string, err: unknown): void {
    this.core.sessionLog.error({ err, session: this.id || undefined }, `internal error handling ${what}`);
    try {
      if (this.state !== ConnectionState.Closed) this.abort('wamp.error.internal_error', 'internal router error');
    } catch (again) {
      // Aborting failed too: at least the transport goes, and the router forgets the connection.
      this.core.sessionLog.error({ err: again, session: this.id || undefined }, 'internal error aborting a connection');
      this.state = ConnectionState.Closed;
      try {
        this.peer.close(1011, 'internal router error');
      } catch {
        // The transport is gone already.
      }
    }
  }

  #onFrame(frame: unknown): void {
    if (this.state === ConnectionState.Closed) return;
    let msg: WampMessage;
    try {
      msg = parseMessage(frame);
    } catch (err) {
      if (err instanceof DecodeError) return this.protocolViolation(err.message);
      // A bug of ours in parsing: it costs this session, never the transport's event handler (the process).
      this.core.sessionLog.error({ err, session: this.id || undefined }, 'internal error parsing a message');
      return this.abort('wamp.error.internal_error', 'internal router error');
    }
    this.#onMessage(msg);
  }

  #onMessage(msg: WampMessage): void {
    if (this.state === ConnectionState.Closed) return;
    this.core.stats.countIn(msg.code);
    if (this.#maxMessagesPerSecond !== undefined && this.#overRate(this.#maxMessagesPerSecond)) {
      this.core.stats.limitExceeded('maxMessagesPerSecond');
      return this.abort(RATE_LIMITED, `more than ${this.#maxMessagesPerSecond} messages per second`, 1008);
    }
    if (this.#busy !== undefined) {
      if (this.#backlog.length >= MAX_BACKLOG) return this.abort(ErrorUri.ProtocolViolation, 'too many messages while a decision was pending', 1008);
      this.#backlog.push(msg);
      return;
    }
    this.#run(msg);
  }

  #run(msg: WampMessage): void {
    let handled: Handled;
    try {
      handled = this.#dispatch(msg);
    } catch (err) {
      return this.#internalError(err, msg.code);
    }
    if (handled instanceof Pause) {
      this.#busy = handled.settled.then(
        () => this.#drain(),
        (err: unknown) => {
          this.#internalError(err, msg.code);
          this.#drain();
        },
      );
    }
  }

  /** Runs what arrived while a decision was pending, until the backlog is empty or the next Pause. */
  #drain(): void {
    this.#busy = undefined;
    while (this.#busy === undefined && this.#backlog.length > 0 && this.state !== ConnectionState.Closed) this.#run(this.#backlog.shift()!);
    if (this.state === ConnectionState.Closed) this.#backlog.length = 0;
  }

  #internalError(err: unknown, code: number): void {
    // A bug of ours must cost this session, never the process or other sessions.
    this.core.sessionLog.error({ err, session: this.id }, `internal error handling ${messageName(code)}`);
    this.abort('wamp.error.internal_error', 'internal router error');
  }

  #onBadFrame(reason: string): void {
    if (this.state === ConnectionState.Closed) return;
    this.core.stats.badFrame(this.peer.codec.name);
    this.protocolViolation(reason);
  }

  #onClose(): void {
    this.#clearHelloTimer();
    this.#endAuthentication();
    const was = this.state;
    this.state = ConnectionState.Closed;
    try {
      // A resumable session outlives its transport (closed without GOODBYE): it detaches. [ap_session_resumption]
      const session = this.session;
      if (was === ConnectionState.Established && session?.ring !== undefined) {
        this.session = undefined;
        this.core.resumption.detach(session);
      }
      this.#endSession();
    } finally {
      // Even if the session's end failed, the GOODBYE waiter and the router's bookkeeping hear of the close.
      const done = this.#onGoodbyeReply;
      this.#onGoodbyeReply = undefined;
      try {
        done?.();
      } finally {
        this.onClosed?.(this);
      }
    }
  }

  /** Set by the router: the transport has closed (called once). */
  onClosed: ((connection: Connection) => void) | undefined;

  // ---- what the router does to the connection ---------------------------------------------

  /** ABORT wamp.error.protocol_violation, end the session, drop the transport. [bp_sessions: Protocol Errors] */
  protocolViolation(message: string): void {
    this.core.stats.protocolViolations++;
    this.abort(ErrorUri.ProtocolViolation, message, 1002);
  }

  abort(reason: string, message: string, closeCode = 1000): void {
    if (this.state === ConnectionState.Closed) return;
    // Why a client could not join (or was thrown out) is what its operator asks first; rate-limited per reason.
    const joined = this.state === ConnectionState.Established;
    const session = this.session;
    logRefusal(
      this.core.sessionLog,
      reason,
      {
        peer: this.peer.transport.peer,
        session: this.id || undefined,
        realm: session?.realm.name ?? this.#hello?.realm,
        authid: session?.identity.authid ?? this.#hello?.authid,
        state: ConnectionState[this.state],
      },
      `${joined ? 'session aborted' : 'join refused'}: ABORT ${reason}: ${message}`,
    );
    this.outbox.send({ code: MessageCode.Abort, details: { message }, reason });
    this.#clearHelloTimer();
    this.#endAuthentication();
    this.#closeSession();
    this.peer.close(closeCode, reason.slice(0, 120));
  }

  /**
   * Router-initiated close: GOODBYE, end the session at once (its subscriptions, registrations
   * and calls end now), then wait for the client's GOODBYE, at most `closeTimeoutMs`, to close.
   */
  goodbye(reason: string, message: string, onDone: () => void, options: GoodbyeOptions = {}): void {
    if (this.state !== ConnectionState.Established) {
      onDone();
      return;
    }
    const session = this.session;
    const resumable = session?.ring !== undefined;
    if (resumable && options.resumable === true) {
      // A router pause: the session detaches at once (or ends, past a limit of detached sessions:
      // the GOODBYE says which); the client's GOODBYE reply closes the transport.
      this.session = undefined;
      this.core.resumption.detach(session!);
      this.outbox.send({ code: MessageCode.Goodbye, details: { message, resumable: session!.live }, reason });
    } else {
      // Every other router GOODBYE to a resumable session says it cannot be resumed.
      this.outbox.send({ code: MessageCode.Goodbye, details: resumable ? { message, resumable: false } : { message }, reason });
      this.#endSession(options.silent === true);
    }
    this.state = ConnectionState.Closing;
    this.#onGoodbyeReply = onDone;
    const timer = setTimeout(() => {
      if (this.state !== ConnectionState.Closing) return;
      this.#closeSession();
      this.peer.close(1000, reason.slice(0, 120));
    }, options.closeTimeoutMs ?? 5000);
    timer.unref();
  }

  /**
   * The session resumed on another connection (or node): this transport closes without GOODBYE
   * and without ending the session. [ap_session_resumption]
   */
  release(reason: string): void {
    this.session = undefined;
    if (this.state === ConnectionState.Closed) return;
    this.state = ConnectionState.Closed;
    this.#clearHelloTimer();
    const done = this.#onGoodbyeReply;
    this.#onGoodbyeReply = undefined;
    done?.();
    this.peer.close(1000, reason);
  }

  // ---- dispatch ----------------------------------------------------------------------------

  #dispatch(msg: WampMessage): Handled {
    switch (this.state) {
      case ConnectionState.Opening:
        if (msg.code === MessageCode.Hello) return this.#onHello(msg);
        if (msg.code === MessageCode.Abort) return this.peer.close(1000, 'aborted by client');
        return this.protocolViolation(`received ${messageName(msg.code)} before the session was established (expected HELLO)`);
      case ConnectionState.Authenticating:
        if (msg.code === MessageCode.Authenticate && this.#challenge !== undefined) return this.#onAuthenticate(msg.signature, msg.extra);
        if (msg.code === MessageCode.Abort) {
          this.#endAuthentication();
          this.state = ConnectionState.Closed;
          return this.peer.close(1000, 'aborted by client');
        }
        return this.protocolViolation(
          `received ${messageName(msg.code)} during authentication${this.#challenge !== undefined ? ' (expected AUTHENTICATE)' : ''}`,
        );
      case ConnectionState.Closing:
        // [bp_sessions statechart 14] Only the GOODBYE reply matters now; anything else is ignored.
        if (msg.code === MessageCode.Goodbye || msg.code === MessageCode.Abort) {
          this.#closeSession();
          this.peer.close(1000, CloseUri.GoodbyeAndOut);
        }
        return;
      case ConnectionState.Established:
        return this.#established(msg);
      case ConnectionState.Closed:
        return;
    }
  }

  #established(msg: WampMessage): Handled {
    if (this.#unproven) {
      // The first message after a resumed WELCOME: the client has the new token.
      this.#unproven = false;
      if (this.session !== undefined) this.core.resumption.proven(this.session);
    }
    switch (msg.code) {
      case MessageCode.Goodbye: {
        // Logging out forgets the login the connection's tracking cookie remembers (cookie authmethod).
        if (msg.reason === LOGOUT) this.peer.transport.cookie?.forget();
        const session = this.session!;
        const pause = msg.details['resumable'] === true;
        if (pause && session.ring !== undefined) {
          // A pause [ap_session_resumption]: the session detaches and may resume, here or elsewhere
          // (or ends, past a limit of detached sessions: the answer says which).
          this.session = undefined;
          this.core.resumption.detach(session);
          this.outbox.send({ code: MessageCode.Goodbye, details: { resumable: session.live }, reason: CloseUri.GoodbyeAndOut });
        } else {
          const details = pause || session.ring !== undefined ? { resumable: false } : {};
          this.outbox.send({ code: MessageCode.Goodbye, details, reason: CloseUri.GoodbyeAndOut });
          this.#closeSession();
        }
        // The transport stays open: the spec lets a client open a new session on it, in time.
        this.state = ConnectionState.Opening;
        this.#armHelloTimer();
        return;
      }
      case MessageCode.Abort:
        this.#closeSession();
        this.peer.close(1000, 'aborted by client');
        return;
      case MessageCode.Hello:
        return this.protocolViolation('received HELLO message after session was established');
      case MessageCode.Authenticate:
        return this.protocolViolation('received AUTHENTICATE message after session was established');
      default:
        return this.session!.handle(msg);
    }
  }

  // ---- handshake ---------------------------------------------------------------------------

  #onHello(msg: Hello): Handled {
    const resumable = msg.details['resumable'];
    if (resumable !== undefined && typeof resumable !== 'boolean') return this.protocolViolation('HELLO.Details.resumable must be a boolean');
    const request = resumeRequest(msg, this.peer.transport);
    if (typeof request === 'string') return this.protocolViolation(request);
    // An opportunistic HELLO that says resumable: false is a plain join: its resume keys are ignored.
    if (request === undefined || (resumable === false && msg.realm !== null)) return this.#join(msg as Hello & { realm: string });
    const outcome = this.#resume(request);
    if (outcome === true) return;
    if (outcome === false) return this.#refusedResume(msg);
    // The cluster's ResumeSource, or a transport-level recheck, answers later: later input waits.
    this.state = ConnectionState.Authenticating;
    return new Pause(
      outcome.then(
        (resumed) => {
          if (resumed || this.state !== ConnectionState.Authenticating) return;
          this.state = ConnectionState.Opening;
          const next = this.#refusedResume(msg);
          return next instanceof Pause ? next.settled : undefined;
        },
        (err: unknown) => {
          this.core.sessionLog.error({ err, session: request.session }, 'internal error resuming a session');
          if (this.state === ConnectionState.Authenticating) this.abort('wamp.error.internal_error', 'internal router error');
        },
      ),
    );
  }

  /** A refused resume: a dedicated one is ABORTed (one message for every reason); an opportunistic one joins as a new session. */
  #refusedResume(msg: Hello): Handled {
    if (msg.realm === null) return this.abort(ErrorUri.NoSuchSession, RESUME_REFUSED);
    return this.#join(msg as Hello & { realm: string });
  }

  /**
   * Resume checks in order (design.md): 1 held and resumable, 2 the current token, 3 the realm and
   * authid of an opportunistic resume (resumption.ts); 4 the listener accepts the session's
   * authmethod, and a transport-level one accepts this transport as the same identity; 5 the
   * answers the client lacks are kept. True: resumed; false: refused.
   */
  #resume(request: ResumeRequest): boolean | Promise<boolean> {
    const resumption = this.core.resumption;
    const found = resumption.match(request);
    if (typeof found !== 'string') return this.#claimed(found, request);
    const source = resumption.resumeSource;
    if (found !== 'no such session' || source === undefined) return this.#refuse(request, found);
    // Not held here: the cluster may move it here from the node that holds it.
    // A snapshot that comes after take gave up (a slow holding node) is adopted anyway, parked
    // detached with its expiry, and recorded here again: a later resume or its expiry ends it properly.
    const late = (snapshot: SessionSnapshot): void => {
      void resumption
        .adopt(snapshot, (s) => this.#adopted(s))
        .then((session) => {
          if (session?.ring === undefined) return;
          session.ring.token = Buffer.from(request.token, 'base64');
          resumption.recordAgain(session);
        });
    };
    return source.take({ ...request, late, ...(this.#listener !== undefined && { listener: this.#listener }) }).then(async (snapshot) => {
      // Answers forwarded for the session while the take ran waited for its adoption: without one
      // they go on where they would have gone (a tombstone here forwards them to the holding node).
      if (snapshot === undefined) resumption.untaken(request.session);
      // Its registrations are claimed again (a cluster) before the resumed WELCOME. Adopted even if
      // this connection closed meanwhile: the old node gave the session up, so it is parked here,
      // detached, with its expiry, rather than lost.
      const session = snapshot === undefined ? undefined : await resumption.adopt(snapshot, (s) => this.#adopted(s));
      // The token the client holds (take checked it against the record) stays the session's
      // current one here until a WELCOME issues another: a resume that fails or never happens on
      // this connection can be tried again, here or on another node.
      if (session?.ring !== undefined) session.ring.token = Buffer.from(request.token, 'base64');
      if (this.state !== ConnectionState.Authenticating) return true;
      if (session === undefined) return this.#refuse(request, 'no such session');
      return this.#claimed(session, request);
    });
  }

  /**
   * Checks 4 and 5 of a session whose token matched: while they run (a transport-level recheck
   * can be asynchronous) the session is claimed, and another resume with the same token is
   * refused: a token is usable once.
   */
  #claimed(session: ResumableSession, request: ResumeRequest): boolean | Promise<boolean> {
    const ring = session.ring!;
    ring.resuming = true;
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = this.#resumeOnListener(session, request);
    } catch (err) {
      ring.resuming = false;
      throw err;
    }
    if (typeof outcome === 'boolean') {
      ring.resuming = false;
      return outcome;
    }
    return outcome.then(
      (resumed) => {
        ring.resuming = false;
        return resumed;
      },
      (err: unknown) => {
        ring.resuming = false;
        throw err;
      },
    );
  }

  #refuse(request: ResumeRequest, why: string): false {
    this.core.resumption.refused(request, why);
    // Only guessing is a failed authentication of this address where the listener limits failures
    // (auth/limits.ts): a wrong token for a session held here, and every refused dedicated resume.
    // A refused opportunistic resume for any other reason (a session this router no longer holds,
    // after a restart or an expiry) falls back to a normal join, which is authenticated and limited.
    if (why !== 'bad token' && request.realm !== undefined) return false;
    for (const authenticator of this.authenticators.values()) {
      if (authenticator.resumeRefused !== undefined) {
        authenticator.resumeRefused(this.peer.transport);
        break;
      }
    }
    return false;
  }

  /** Checks 4 and 5, then the resume. */
  #resumeOnListener(session: ResumableSession, request: ResumeRequest): boolean | Promise<boolean> {
    // The token is bound to the listener the session joined on: a resume never escapes the
    // restrictions (realm pins, principals, roles) of the listener it arrives on.
    if (session.ring!.listener !== this.#listener) return this.#refuse(request, 'another listener');
    const method = session.identity.authmethod;
    const authenticator = this.authenticators.get(method);
    if (authenticator === undefined) return this.#refuse(request, `this listener does not accept authmethod ${method}`);
    if (method !== 'tls' && method !== 'cookie') return this.#resumed(session, request);
    // A transport-level credential belongs to the transport: the new one must show it again.
    const transport = this.peer.transport;
    if (authenticator.available?.(transport, session.realm.name) === false) return this.#refuse(request, `${method} not available on this transport`);
    const hello: HelloInfo = {
      realm: session.realm.name,
      authid: undefined,
      authmethods: [method],
      authextra: {},
      details: {},
      session: session.id,
      transport,
    };
    const same = (answer: unknown): boolean => {
      const result = authResult(answer);
      if (result?.kind !== 'accept' || result.principal.authid !== session.identity.authid || result.principal.authrole !== session.identity.authrole) {
        return this.#refuse(request, `${method} does not accept this transport as the session's identity`);
      }
      return this.#resumed(session, request);
    };
    const answer: unknown = authenticator.authenticate(hello);
    if (!isThenable(answer)) return same(answer);
    return Promise.resolve(answer).then(same, () => this.#refuse(request, `${method} failed`));
  }

  /** The resume: the session attaches to this connection, WELCOME, then the answers the client lacks. */
  #resumed(session: ResumableSession & WampSession, request: ResumeRequest): boolean;
  #resumed(session: ResumableSession, request: ResumeRequest): boolean;
  #resumed(found: ResumableSession, request: ResumeRequest): boolean {
    const session = found as WampSession;
    const resumption = this.core.resumption;
    if (this.state === ConnectionState.Closed || this.state === ConnectionState.Closing || !session.live) return this.#refuse(request, 'gone meanwhile');
    if (!resumption.answersKept(session, request.answers)) return this.#refuse(request, 'answers lost');
    if (session.attached) {
      // Its old transport has not died yet (as far as the router saw): one transport at a time.
      session.releaseCarrier('session resumed on another connection');
      session.realm.detach(session);
    }
    resumption.attached(session);
    session.attachCarrier(this);
    this.session = session;
    this.#pendingId = undefined;
    this.#hello = undefined;
    this.outbox.session = session.id;
    this.state = ConnectionState.Established;
    this.#clearHelloTimer();
    const ring = session.ring!;
    const details: Dict = {
      ...session.realm.welcomeDetails(session.identity),
      resumable: true,
      resumed: true,
      'resume-token': resumption.issue(session, request.token),
      'resume-last-request': session.lastRequest,
      // How many kept answers follow this WELCOME: the client handles them (revocations, a lost
      // SUBSCRIBED) before it catches up.
      'resume-resent': ring.toResend(request.answers).length,
    };
    if (ring.missed !== undefined && ring.missed.size > 0) details['resume-missed'] = Object.fromEntries(ring.missed);
    ring.missed = undefined;
    this.core.sessionLog.debug({ session: session.id, realm: session.realm.name, peer: this.peer.transport.peer }, 'session resumed');
    this.outbox.send({ code: MessageCode.Welcome, session: session.id, details });
    this.#unproven = true;
    resumption.resent(session.resend(request.answers));
    // Only now on_attach (and anything it publishes, which may match the session's own
    // subscriptions): the resumed WELCOME is the first message on the new transport, then the kept
    // answers, then anything else. [ap_session_resumption]
    session.realm.attach(session);
    return true;
  }

  /** A session moved here from another cluster node (resumption.ts adopt): made on this connection, detached until the resume attaches it. */
  #adopted(snapshot: SessionSnapshot): ResumableSession | undefined {
    const realm = this.core.realm(snapshot.realm);
    if (realm === undefined || !this.core.resumption.grants(realm)) return undefined;
    const session = new WampSession(
      this,
      this.core,
      snapshot.id,
      snapshot.identity,
      snapshot.roles,
      realm,
      this.core.resumption.ring(realm, snapshot.listener),
      snapshot.lastRequest,
    );
    session.loseCarrier();
    // No on_join: the session is not new; the resume's attach says on_attach resumed. resumption.ts
    // subscribes and registers it again.
    realm.adopt(session);
    return session;
  }

  #join(msg: Hello & { realm: string }): Handled {
    if (this.core.realm(msg.realm) === undefined) {
      logRefusal(
        this.core.sessionLog,
        ErrorUri.NoSuchRealm,
        { peer: this.peer.transport.peer, realm: msg.realm },
        `join refused: ABORT ${ErrorUri.NoSuchRealm}: no realm named '${msg.realm}' on this router`,
      );
      this.outbox.send({ code: MessageCode.Abort, details: { message: `no realm named '${msg.realm}' on this router` }, reason: ErrorUri.NoSuchRealm });
      this.peer.close(1000, ErrorUri.NoSuchRealm);
      this.state = ConnectionState.Closed;
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
    const id = this.core.newSessionId();
    this.#pendingId = id;
    this.outbox.session = id;
    this.state = ConnectionState.Authenticating;
    const hello: HelloInfo = { realm: msg.realm, authid, authmethods: methods, authextra, details: msg.details, session: id, transport: this.peer.transport };
    this.#hello = { ...hello, roles };
    return this.#authStep(method, this.authenticators.get(method)!.authenticate(hello));
  }

  #onAuthenticate(signature: string, extra: Dict): Handled {
    const challenge = this.#challenge!;
    clearTimeout(challenge.timer);
    this.#challenge = undefined;
    return this.#authStep(challenge.method, challenge.respond(signature, extra));
  }

  /**
   * Applies an authenticator's answer; an asynchronous one (any thenable, not only a native
   * Promise) pauses later messages, in order. An answer that is not an AuthResult fails the
   * authentication, logged: an authenticator is the embedder's or a component's code.
   */
  #authStep(method: string, answer: unknown): Handled {
    if (isThenable(answer)) {
      return new Pause(
        Promise.resolve(answer).then(
          (r) => {
            if (this.state !== ConnectionState.Authenticating) return;
            const next = this.#authStep(method, r);
            return next instanceof Pause ? next.settled : undefined;
          },
          (err: unknown) => {
            this.core.sessionLog.warn({ session: this.id, method, err: err instanceof Error ? err.message : String(err) }, 'authenticator failed');
            if (this.state === ConnectionState.Authenticating) this.abort(ErrorUri.AuthenticationFailed, 'authentication failed');
          },
        ),
      );
    }
    const result = authResult(answer);
    if (result === undefined) {
      this.core.stats.authFailed(method, ErrorUri.AuthenticationFailed);
      this.core.sessionLog.warn({ session: this.id, method }, 'authenticator answered something that is not an AuthResult (accept, deny or challenge)');
      return this.abort(ErrorUri.AuthenticationFailed, 'authentication failed');
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
        this.outbox.send({ code: MessageCode.Challenge, authMethod: method, extra: result.extra });
        return;
      }
    }
  }

  #welcome(method: string, principal: Principal): void {
    const hello = this.#hello!;
    // Trust is not a string an authenticator can name: router and bridge come only from in-process connections.
    if (RESERVED_AUTHPROVIDERS.has(principal.authprovider) && !isInProcessAuthenticator(this.authenticators.get(method))) {
      this.core.stats.authFailed(method, ErrorUri.AuthenticationFailed);
      this.core.sessionLog.warn(
        { session: this.id, method, authid: principal.authid, authprovider: principal.authprovider },
        `authentication refused: authprovider '${principal.authprovider}' is reserved for the router's own sessions`,
      );
      return this.abort(ErrorUri.AuthenticationFailed, 'authentication failed');
    }
    const realm = this.core.realm(principal.realm ?? hello.realm);
    if (realm === undefined) return this.abort(ErrorUri.NoSuchRealm, `no realm named '${principal.realm ?? hello.realm}' on this router`);
    if (!realm.gate.admits(principal)) return this.abort(ErrorUri.NoSuchRole, `no role '${principal.authrole}' in realm '${realm.name}'`);
    this.#hello = undefined;
    const identity = { authid: principal.authid, authrole: principal.authrole, authmethod: method, authprovider: principal.authprovider };
    // Resumable: it asked, the realm allows it, the peer is not in-process. [ap_session_resumption]
    const asked = hello.details['resumable'] === true;
    const granted = asked && this.peer.sendMessage === undefined && this.core.resumption.grants(realm);
    // A new WAMP session: its own object, identity, request IDs and progressive-call state.
    const session = new WampSession(
      this,
      this.core,
      hello.session,
      identity,
      hello.roles,
      realm,
      granted ? this.core.resumption.ring(realm, this.#listener) : undefined,
    );
    this.#pendingId = undefined;
    this.session = session;
    this.state = ConnectionState.Established;
    this.#clearHelloTimer();
    realm.join(session);
    // A login by another method is remembered by the connection's tracking cookie, for the cookie authmethod.
    if (method !== 'cookie' && this.authenticators.has('cookie')) {
      // Not its authextra: what a method sent once (a SCRAM server signature…) is not replayed.
      this.peer.transport.cookie?.remember({ ...identity, realm: realm.name });
    }
    const details = realm.welcomeDetails(identity, principal.authextra);
    if (granted) Object.assign(details, { resumable: true, resumed: false, 'resume-token': this.core.resumption.issue(session) });
    else if (asked) Object.assign(details, { resumable: false, resumed: false });
    this.outbox.send({ code: MessageCode.Welcome, session: session.id, details });
  }

  /** Clears authentication state; releases the session ID if the handshake never got to WELCOME. */
  #endAuthentication(): void {
    const unanswered = this.#challenge;
    this.#challenge = undefined;
    if (unanswered !== undefined) {
      // A CHALLENGE read and never answered is a failed authentication (limits and metrics).
      clearTimeout(unanswered.timer);
      this.core.stats.authFailed(unanswered.method, ErrorUri.AuthenticationFailed);
      unanswered.abandoned?.();
    }
    if (this.state === ConnectionState.Authenticating && this.#pendingId !== undefined) this.core.releaseSessionId(this.#pendingId);
    this.#pendingId = undefined;
    this.#hello = undefined;
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

  #closeSession(): void {
    this.#endSession();
    this.state = ConnectionState.Closed;
    const done = this.#onGoodbyeReply;
    this.#onGoodbyeReply = undefined;
    done?.();
  }

  /** The WAMP session ends: it leaves its realm. `silent`: no on_leave meta event and no testaments (wamp.session.kill_all). */
  #endSession(silent = false): void {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    session.end(silent);
  }
}

/**
 * HELLO's resume keys (resume-session, resume-token, resume-answers), checked for shape: undefined
 * when there are none, a string saying what is wrong (a protocol violation). [ap_session_resumption]
 */
function resumeRequest(msg: Hello, transport: TransportDetails): ResumeRequest | string | undefined {
  const d = msg.details;
  const session = d['resume-session'];
  const token = d['resume-token'];
  const answers = d['resume-answers'];
  if (session === undefined && token === undefined) {
    if (msg.realm === null) return 'HELLO.Realm may be null only in a dedicated resume';
    if (answers !== undefined) return 'HELLO.Details.resume-answers without resume-session and resume-token';
    return undefined;
  }
  if (session === undefined || token === undefined) return 'HELLO.Details.resume-session and resume-token go together';
  if (typeof session !== 'number' || !Number.isInteger(session) || session < 1 || session > MAX_ID) {
    return 'HELLO.Details.resume-session must be a session ID';
  }
  if (typeof token !== 'string' || token.length > 64) return 'HELLO.Details.resume-token must be a string of at most 64 characters';
  if (answers !== undefined && (typeof answers !== 'number' || !Number.isSafeInteger(answers) || answers < 0)) {
    return 'HELLO.Details.resume-answers must be an integer from 0';
  }
  const authid = d['authid'];
  if (authid !== undefined && typeof authid !== 'string') return 'HELLO.Details.authid must be a string';
  return {
    session: session as SessionId,
    token,
    answers: answers as number | undefined,
    realm: msg.realm ?? undefined,
    authid: authid as string | undefined,
    transport,
  };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** `answer` as an AuthResult, or undefined when it is not one (checked field by field: it is someone else's code). */
function authResult(answer: unknown): AuthResult | undefined {
  if (!isDict(answer)) return undefined;
  switch (answer['kind']) {
    case 'accept': {
      const p = answer['principal'];
      if (!isDict(p) || !isString(p['authid']) || !isString(p['authrole']) || !isString(p['authprovider'])) return undefined;
      if (p['realm'] !== undefined && !isString(p['realm'])) return undefined;
      if (p['authextra'] !== undefined && !isDict(p['authextra'])) return undefined;
      return answer as AuthResult;
    }
    case 'deny':
      return isString(answer['reason']) && isString(answer['message']) ? (answer as AuthResult) : undefined;
    case 'challenge':
      return isDict(answer['extra']) && typeof answer['respond'] === 'function' ? (answer as AuthResult) : undefined;
    default:
      return undefined;
  }
}
