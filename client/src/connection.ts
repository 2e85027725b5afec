/**
 * A Connection owns the transport: it opens the WebSocket (offering the configured serializers),
 * joins the realm, and when the link is lost reconnects with exponential backoff and jitter: it
 * resumes the same WAMP session when the router allows [ap_session_resumption], else joins anew and
 * has its Session subscribe and register again. It reports what happens as events:
 * `open`, `close` (with a reason), `reconnecting` (attempt and delay), `resumed`, `restored`, `error`.
 */
import type { Codec, Dict, SerializerName, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas/core';
import { CloseUri, ErrorUri, MessageCode, isDict, isSerializerName } from '@switchboard/schemas/core';
import { DEFAULT_RECONNECT, backoffDelay } from './backoff.js';
import type { ReconnectOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import {
  ConnectionLostError,
  FATAL_ABORT_REASONS,
  ProtocolViolationError,
  SessionAbortedError,
  SessionClosedError,
  UnreachableError,
  toError,
} from './errors.js';
import { join } from './join.js';
import type { AuthOptions, Welcomed } from './join.js';
import type { KeepaliveOptions } from './node-socket.js';
import { CLIENT_ROLES, Session } from './session.js';
import type { RestoreOutcome } from './session.js';
import type { SocketFactory } from './socket.js';
import { Transport } from './transport.js';
import type { ApiContract, Untyped } from './typed.js';

export const CLIENT_AGENT = 'switchboard-client/0.1.0';

/** How the client reaches the router (`local`: in the router's process, `router.session(realm)`). */
export type TransportType = 'websocket' | 'rawsocket' | 'longpoll' | 'local';

export interface TransportSpec {
  type: TransportType;
  /**
   * websocket: `ws://host:port/path` or `wss://…`; rawsocket (Node only): `rs://host:port`,
   * `tcp://host:port`, `unix:/path` or `/path`; longpoll: the base URL, `http://host:port/lp`.
   */
  url: string;
}

/** The transport a session runs on, as reported in the `open` event. */
export interface TransportInUse extends TransportSpec {
  /** The negotiated subprotocol, e.g. `wamp.2.json`. */
  protocol: string;
}

/** The transport a URL's scheme implies: ws(s) → websocket, http(s) → longpoll, rs/tcp/unix/path → rawsocket. */
export function transportTypeOf(url: string): TransportType {
  if (/^wss?:/i.test(url)) return 'websocket';
  if (/^https?:/i.test(url)) return 'longpoll';
  if (/^(rs|tcp|unix):/i.test(url) || url.startsWith('/')) return 'rawsocket';
  throw new TypeError(`cannot tell the transport of '${url}': use ws://, wss://, http(s):// (long-poll), rs:// or tcp:// (RawSocket), or pass transports`);
}

export interface ConnectOptions {
  /**
   * Where the router is; the scheme picks the transport: `ws://host:port/path` or `wss://…`
   * (WebSocket), `http(s)://host:port/lp` (long-poll), `rs://host:port`, `tcp://host:port`,
   * `unix:/path` (RawSocket, Node only). Needed unless `transports` is given.
   */
  url?: string;
  /**
   * Transports tried in order on every (re)connect until one opens, e.g.
   * `[{ type: 'websocket', url }, { type: 'longpoll', url }]` so that a network blocking
   * WebSocket falls back to long-poll. Used instead of `url`.
   */
  transports?: readonly TransportSpec[];
  realm: string;
  /**
   * Serializers to offer, in order of preference: names (`json`, `msgpack`, `cbor`; in the
   * browser build only `json` by name) or codec objects (`@switchboard/client/msgpack`).
   * Default: every serializer the entry point bundles.
   */
  serializers?: readonly (SerializerName | Codec)[];
  auth?: AuthOptions;
  /** Reconnect after a lost connection (default on); `false` never reconnects. */
  reconnect?: ReconnectOptions | false;
  /** Milliseconds to open a transport (each one tried) and join (default 10000). */
  openTimeoutMs?: number;
  /** Node only: ping every intervalMs; a missing pong after timeoutMs drops the link. `false` disables. */
  keepalive?: KeepaliveOptions | false;
  /**
   * Node only: the WebSocket's opening handshake. `headers` adds request headers (a `Cookie` for
   * the router's cookie authmethod, an `Authorization` for a proxy); `ca` is what to trust for
   * `wss://` beyond the system's CAs; `cert` and `key` present a client certificate (the router's
   * `tls` authmethod). A browser sends its own cookies and chooses certificates itself.
   */
  websocket?: NodeWebSocketOptions;
  /** HELLO.Details.agent */
  agent?: string;
  /**
   * [ap_session_resumption] Ask the router to keep the session when the connection breaks
   * (HELLO.Details.resumable; default true). A router that grants it keeps the session's
   * subscriptions, registrations and answers for a while (its `limits.resumeWindowMs`); a
   * reconnect then resumes the same session: same session ID, pending calls resolve, requests the
   * router did not get are sent again, and subscriptions catch up on the events they missed
   * (from the topic's history, else a gap notice with `details.missed`). `false`: never ask (every
   * reconnect is a new session).
   */
  resumable?: boolean;
  /** Milliseconds to wait for the router's GOODBYE reply when leaving (default 2000). */
  goodbyeTimeoutMs?: number;
}

export interface NodeWebSocketOptions {
  headers?: Record<string, string>;
  /** PEM text or bytes. */
  ca?: string | Uint8Array | readonly (string | Uint8Array)[];
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
}

/** What an entry point (node.ts, browser.ts) provides. */
export interface Runtime {
  /** The WebSocket. */
  socketFactory(options: ConnectOptions): SocketFactory;
  /** The other transports this runtime has (Node: rawsocket and longpoll; browsers: longpoll). */
  transports?: Partial<Record<Exclude<TransportType, 'websocket' | 'local'>, (options: ConnectOptions) => SocketFactory>>;
  /**
   * In process only (`@switchboard/client`'s connectInProcess): opens the one transport there is,
   * instead of `url`/`transports`, with no serializer.
   */
  inProcess?: () => Transport;
  codecs: Partial<Record<SerializerName, Codec>>;
  /** Why a serializer name is not available here (e.g. how to add msgpack in the browser). */
  missingCodecHint: string;
}

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

export type CloseReason =
  /** leave() / close() */
  | 'left'
  /** the router sent GOODBYE (e.g. wamp.close.system_shutdown) */
  | 'goodbye'
  /** the router sent ABORT */
  | 'aborted'
  /** the WebSocket dropped (or keep-alive found it dead) */
  | 'lost'
  /** the router sent something WAMP does not allow */
  | 'protocol_violation'
  /** reconnecting stopped: retries exhausted or a fatal ABORT */
  | 'gave_up';

export interface CloseEvent {
  reason: CloseReason;
  /** GOODBYE or ABORT reason URI, when there was one. */
  wampReason?: string;
  message: string;
  /** WebSocket close code, when the socket closed. */
  code?: number;
  willReconnect: boolean;
  error?: Error;
}

export interface ConnectionEvents {
  /**
   * A session is open. `reconnected`: after a lost connection; `resumed`: the router resumed the
   * same WAMP session (same ID, subscriptions and registrations kept), else it is a new one.
   */
  open: { session: Session<ApiContract>; reconnected: boolean; resumed: boolean; details: Dict; transport: TransportInUse };
  /**
   * [ap_session_resumption] A reconnect resumed the WAMP session. `durationMs`: from the start of
   * the attempt that succeeded (opening the transport) to the WELCOME; `downMs`: from the moment the
   * connection was found lost to that WELCOME (the backoff included).
   */
  resumed: { session: Session<ApiContract>; durationMs: number; downMs: number; attempt: number };
  close: CloseEvent;
  /** Before each reconnect attempt (and each retry of the first connection, with reconnect.firstConnection): why the last one failed. */
  reconnecting: { attempt: number; delayMs: number; error?: Error };
  /** After a reconnect: how subscribing and registering again went, per subscription/registration. */
  restored: { outcomes: RestoreOutcome[]; failed: RestoreOutcome[] };
  /** A user handler (event handler, onProgress) threw. Without a listener it goes to console.error. */
  error: { error: unknown; context: string };
}

interface Ending {
  reason: CloseReason;
  wampReason?: string;
  message: string;
  fatal: boolean;
  error: Error;
}

export class Connection<Api extends ApiContract = Untyped> extends Emitter<ConnectionEvents> {
  readonly session: Session<Api>;
  readonly #options: ConnectOptions;
  readonly #transports: readonly { spec: TransportSpec; open(timeoutMs: number): Promise<Transport> }[];
  #transportInUse: TransportInUse | undefined;
  readonly #reconnect: Required<ReconnectOptions> | false;
  #state: ConnectionState = 'idle';
  #transport: Transport | undefined;
  #ending: Ending | undefined;
  #opening: Promise<Session<Api>> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #wakeRetry: (() => void) | undefined;
  #goodbyeReply: (() => void) | undefined;
  /** The resumable WAMP session and its current resume token (WELCOME.Details.resume-token); undefined: none to resume. */
  #resume: { session: SessionId; token: string } | undefined;
  /** When the link was found lost (performance.now()), for the `resumed` event. */
  #lostAt = 0;
  /** The router paused the session with GOODBYE resumable: nothing was in flight. */
  #paused = false;
  /** The reconnect attempt being made (1, 2, …; 0 for the first connection). */
  #attempt = 0;
  /** Whether to ask for resumption: not in process (no link to lose; the router would not grant it). */
  readonly #asksResumption: boolean;
  /** In a browser page: ends the session when the page goes away (see the constructor). */
  #pageHide: ((event: { persisted?: boolean }) => void) | undefined;

  constructor(options: ConnectOptions, runtime: Runtime) {
    super();
    this.#options = options;
    const inProcess = runtime.inProcess;
    if (inProcess !== undefined) {
      this.#transports = [{ spec: { type: 'local', url: `local:${options.realm}` }, open: () => Promise.resolve(inProcess()) }];
    } else {
      const codecs = (options.serializers ?? (Object.keys(runtime.codecs) as SerializerName[])).map((s) => {
        if (!isSerializerName(s)) return s;
        const codec = runtime.codecs[s];
        if (codec === undefined) throw new TypeError(`serializer '${s}' is not available here: ${runtime.missingCodecHint}`);
        return codec;
      });
      if (codecs.length === 0) throw new TypeError('at least one serializer is needed');
      const specs = options.transports ?? (options.url !== undefined ? [{ type: transportTypeOf(options.url), url: options.url }] : []);
      if (specs.length === 0) throw new TypeError('a url or a non-empty transports list is needed');
      this.#transports = specs.map((spec) => {
        const make = spec.type === 'websocket' ? runtime.socketFactory : spec.type === 'local' ? undefined : runtime.transports?.[spec.type];
        if (make === undefined) throw new TypeError(`transport '${spec.type}' is not available here`);
        const socketFactory = make(options);
        const label = spec.type === 'websocket' ? 'WebSocket' : spec.type === 'rawsocket' ? 'RawSocket' : 'long-poll transport';
        return {
          spec: { type: spec.type, url: spec.url },
          open: (timeoutMs: number) => Transport.open({ url: spec.url, codecs, socketFactory, timeoutMs, label }),
        };
      });
    }
    this.#reconnect = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect };
    // [ap_session_resumption] A page that goes away (closed, reloaded, navigated) never resumes:
    // its resume token lives in its memory. It ends its session now (GOODBYE) instead of leaving
    // it detached for the router's resume window (a chat's roster would keep showing it).
    // A page kept in the back/forward cache (`persisted`) keeps its memory and may be shown again:
    // its connection is left to break, and the page resumes when it comes back.
    const page = globalThis as { document?: unknown; addEventListener?: (type: string, listener: (event: { persisted?: boolean }) => void) => void };
    if (inProcess === undefined && page.document !== undefined && typeof page.addEventListener === 'function') {
      this.#pageHide = (event) => {
        if (event.persisted !== true) void this.close();
      };
      page.addEventListener('pagehide', this.#pageHide);
    }
    this.#asksResumption = options.resumable !== false && inProcess === undefined;
    this.session = new Session<Api>(this, options.realm, {
      protocolViolation: (detail) => this.#protocolViolation(detail),
      reportHandlerError: (error, context) => this.#reportHandlerError(error, context),
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The URL of the transport in use (or last used); before that, of the first one to try. */
  get url(): string {
    return (this.#transportInUse ?? this.#transports[0]!.spec).url;
  }

  /** The transport in use (or last used); undefined before the first open. */
  get transport(): TransportInUse | undefined {
    return this.#transportInUse;
  }

  /**
   * Opens the connection and joins the realm. Rejects if the first attempt fails (unreachable,
   * refused, ABORT such as no_such_realm): reconnecting is for connections that were up, unless
   * `reconnect.firstConnection` asks to retry the first one too.
   */
  open(): Promise<Session<Api>> {
    if (this.#opening !== undefined) return this.#opening;
    if (this.#state !== 'idle') return Promise.reject(new Error(`cannot open a connection that is ${this.#state}`));
    this.#state = 'connecting';
    this.#opening = this.#establishFirst().then(
      () => this.session,
      (err: unknown) => {
        const error = toError(err);
        this.#state = 'closed';
        this.session.detach(error, true);
        throw error;
      },
    );
    return this.#opening;
  }

  /** GOODBYE (waiting briefly for the reply), close the WebSocket, stop reconnecting. */
  async close(reason: string = CloseUri.CloseRealm, message?: string): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'closing') return;
    const wasState = this.#state;
    this.#state = 'closing';
    // [ap_session_resumption] A GOODBYE from the application ends the session for good.
    const detached = wasState === 'reconnecting' ? this.#resume : undefined;
    this.#resume = undefined;
    clearTimeout(this.#retryTimer);
    this.#wakeRetry?.();
    const transport = this.#transport;
    const error = new SessionClosedError(`the session was closed by the client (${reason})`);
    this.#ending = { reason: 'left', wampReason: reason, message: message ?? 'closed by the client', fatal: true, error };
    // The router keeps a detached session (its registrations, testaments, subscriptions) for its
    // resume window: resume it once, briefly, to say GOODBYE, so that it ends now.
    if (detached !== undefined) await this.#endDetached(detached, reason, message);
    if (transport !== undefined && !transport.isClosed && wasState === 'open') {
      const replied = new Promise<void>((resolve) => (this.#goodbyeReply = resolve));
      try {
        transport.send({ code: MessageCode.Goodbye, details: message !== undefined ? { message } : {}, reason });
      } catch {
        // nothing to wait for
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([replied, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.goodbyeTimeoutMs ?? 2000)))]);
      clearTimeout(timer);
    }
    if (transport !== undefined && !transport.isClosed) {
      const closed = new Promise<void>((resolve) => {
        const previous = transport.handlers;
        transport.handlers = {
          ...previous,
          close: (c) => {
            previous.close(c);
            resolve();
          },
        };
      });
      transport.close(1000, 'wamp.close.normal');
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
    }
    this.#finish(this.#ending);
  }

  /**
   * [ap_session_resumption] close() while reconnecting: one attempt, at most goodbyeTimeoutMs (and
   * 2 s), to resume the detached session and end it with GOODBYE (not resumable). A refused resume
   * is a new session, ended the same way. If the router cannot be reached, it keeps the session
   * until its resume window ends.
   */
  async #endDetached(resume: { session: SessionId; token: string }, reason: string, message: string | undefined): Promise<void> {
    const ms = Math.min(this.#options.goodbyeTimeoutMs ?? 2000, 2000);
    let transport: Transport | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const attempt = async (): Promise<void> => {
      for (const { spec, open } of this.#transports) {
        if (done) return;
        try {
          transport = await open(ms);
        } catch {
          continue;
        }
        if (done) {
          transport.close(1000, 'wamp.close.normal'); // opened after the time was up
          return;
        }
        await join(transport, {
          url: spec.url,
          realm: this.#options.realm,
          roles: CLIENT_ROLES,
          agent: this.#options.agent ?? CLIENT_AGENT,
          auth: this.#options.auth,
          timeoutMs: ms,
          details: { 'resume-session': resume.session, 'resume-token': resume.token, 'resume-answers': this.session.answers },
        });
        const t = transport;
        const replied = new Promise<void>((resolve) => {
          t.handlers = { message: (msg) => msg.code === MessageCode.Goodbye && resolve(), badFrame: () => resolve(), close: () => resolve() };
        });
        t.send({ code: MessageCode.Goodbye, details: message !== undefined ? { message } : {}, reason });
        await replied;
        return;
      }
    };
    try {
      await Promise.race([attempt(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    } catch {
      // unreachable, refused: the router ends the session at its resume window's end
    } finally {
      done = true;
      clearTimeout(timer);
      const t = transport as Transport | undefined;
      if (t !== undefined && !t.isClosed) t.close(1000, 'wamp.close.normal');
    }
  }

  // ---- establishing ------------------------------------------------------------------------

  /**
   * The first connection: one attempt, or with `reconnect.firstConnection` attempts with backoff
   * until one succeeds, maxRetries run out, a refusal that cannot change arrives, or close().
   */
  async #establishFirst(): Promise<void> {
    const retry = this.#reconnect !== false && this.#reconnect.firstConnection ? this.#reconnect : undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#establish();
        return;
      } catch (err) {
        const error = toError(err);
        if (retry === undefined || attempt > retry.maxRetries || this.#stopped() || !worthRetrying(error)) throw error;
        const delayMs = backoffDelay(attempt, retry);
        this.emit('reconnecting', { attempt, delayMs, error });
        await new Promise<void>((resolve) => {
          this.#wakeRetry = resolve;
          this.#retryTimer = setTimeout(resolve, delayMs);
        });
        this.#wakeRetry = undefined;
        if (this.#stopped()) throw new SessionClosedError('the connection was closed while waiting to retry the first connection');
      }
    }
  }

  /** One attempt: WebSocket, join, attach; after a reconnect, resume or restore. */
  async #establish(): Promise<void> {
    const reconnected = this.#state === 'reconnecting';
    const startedAt = now();
    const timeoutMs = this.#options.openTimeoutMs ?? 10_000;
    const { transport, spec } = await this.#openTransport(timeoutMs);
    if (this.#stopped()) {
      transport.close(1000, 'closed by the client');
      throw new SessionClosedError('the connection was closed while opening');
    }
    // [ap_session_resumption] The opportunistic resume: the usual HELLO plus the session to resume.
    const resume = this.#resume;
    const details: Dict = {};
    if (this.#asksResumption) {
      details['resumable'] = true;
      if (resume !== undefined) {
        details['resume-session'] = resume.session;
        details['resume-token'] = resume.token;
        details['resume-answers'] = this.session.answers;
      }
    }
    let welcomed: Welcomed;
    try {
      welcomed = await join(transport, {
        url: spec.url,
        realm: this.#options.realm,
        roles: CLIENT_ROLES,
        agent: this.#options.agent ?? CLIENT_AGENT,
        auth: this.#options.auth,
        timeoutMs,
        details,
      });
    } catch (err) {
      // An ABORT in answer to a resume: the next attempt joins without it.
      if (err instanceof SessionAbortedError && resume !== undefined && this.#resume === resume) this.#resume = undefined;
      throw err;
    }
    if (this.#stopped()) {
      // The router made (or resumed) the session: end it now rather than leave it for its resume window.
      try {
        transport.send({ code: MessageCode.Goodbye, details: {}, reason: CloseUri.CloseRealm });
      } catch {
        // closing anyway
      }
      transport.close(1000, 'closed by the client');
      throw new SessionClosedError('the connection was closed while joining');
    }
    const resumed = resume !== undefined && welcomed.details['resumed'] === true && welcomed.session === resume.session;
    const lastRequest = resumed ? lastRequestOf(welcomed.details, this.session.lastRequestSent) : undefined;
    if (lastRequest === null) {
      // [ap_session_resumption] The router claims requests this client never sent (or a count that
      // is no count): a protocol violation. ABORT, and the next attempt joins without resuming.
      const detail = 'WELCOME.Details.resume-last-request must be an integer from 0 to the last request sent';
      this.#resume = undefined;
      try {
        transport.send({ code: MessageCode.Abort, details: { message: detail }, reason: ErrorUri.ProtocolViolation });
      } catch {
        // closing anyway
      }
      transport.close(1002, 'protocol violation');
      throw new ProtocolViolationError(detail);
    }
    const token = welcomed.details['resume-token'];
    this.#resume =
      this.#asksResumption && welcomed.details['resumable'] === true && typeof token === 'string' && token.length > 0
        ? { session: welcomed.session, token }
        : undefined;
    const paused = this.#paused;
    this.#paused = false;
    this.#transport = transport;
    const inUse: TransportInUse = { ...spec, protocol: transport.codec.subprotocol };
    this.#transportInUse = inUse;
    this.#ending = undefined;
    transport.handlers = {
      message: (msg) => this.#onMessage(transport, msg),
      badFrame: (reason) => {
        if (this.#transport === transport) this.#protocolViolation(reason);
      },
      close: ({ code, reason }) => this.#onTransportClose(transport, code, reason),
    };
    const attached = { transport, session: welcomed.session, details: welcomed.details };
    this.#state = 'open';
    const session = this.session as unknown as Session<ApiContract>;
    if (resumed) {
      const welcomedAt = now();
      // First the requests sent again; then the answers the router resent right after WELCOME;
      // then the catch-ups (the session starts them once those answers are handled).
      this.session.resume({ ...attached, lastRequest, resent: resentOf(welcomed.details), missed: missedOf(welcomed.details), exact: paused });
      for (const msg of welcomed.early) this.#onMessage(transport, msg);
      welcomed.early.length = 0;
      if (this.#transport !== transport) return;
      this.session.releaseWaiters();
      this.emit('open', { session, reconnected, resumed: true, details: welcomed.details, transport: inUse });
      this.emit('resumed', { session, durationMs: welcomedAt - startedAt, downMs: welcomedAt - this.#lostAt, attempt: this.#attempt });
      const outcomes: RestoreOutcome[] = [
        ...this.session.subscriptions.map((subscription): RestoreOutcome => ({ kind: 'subscription', uri: subscription.topic, subscription, ok: true })),
        ...this.session.registrations.map((registration): RestoreOutcome => ({ kind: 'registration', uri: registration.procedure, registration, ok: true })),
      ];
      this.emit('restored', { outcomes, failed: [] });
    } else {
      this.session.attach(attached);
      for (const msg of welcomed.early) this.#onMessage(transport, msg);
      welcomed.early.length = 0;
      if (this.#transport !== transport) return;
      if (reconnected) {
        const outcomes = await this.session.restore();
        if (this.#transport === transport) {
          this.session.releaseWaiters();
          this.emit('open', { session, reconnected, resumed: false, details: welcomed.details, transport: inUse });
          this.emit('restored', { outcomes, failed: outcomes.filter((o) => !o.ok) });
        }
      } else {
        this.session.releaseWaiters();
        this.emit('open', { session, reconnected, resumed: false, details: welcomed.details, transport: inUse });
      }
    }
    // The transport closed between WELCOME and taking it over: that close was not seen.
    if (transport.isClosed && this.#transport === transport) this.#onTransportClose(transport, 1006, 'closed while joining');
  }

  /** Tries each transport in order; the first that opens wins. Fails with the last one's error. */
  async #openTransport(timeoutMs: number): Promise<{ transport: Transport; spec: TransportSpec }> {
    let lastError: unknown;
    for (const { spec, open } of this.#transports) {
      if (this.#stopped()) break;
      try {
        return { transport: await open(timeoutMs), spec };
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError ?? new SessionClosedError('the connection was closed while opening');
  }

  /** close() was called (read through a method: the state changes across awaits). */
  #stopped(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  #onMessage(transport: Transport, msg: WampMessage): void {
    if (this.#transport !== transport) return;
    switch (msg.code) {
      case MessageCode.Goodbye:
        if (this.#state === 'closing') {
          // The reply to our GOODBYE.
          this.#goodbyeReply?.();
          this.#goodbyeReply = undefined;
          return;
        }
        // [bp_sessions] Router-initiated: answer, then close. Reconnect unless we were killed.
        try {
          transport.send({ code: MessageCode.Goodbye, details: {}, reason: CloseUri.GoodbyeAndOut });
        } catch {
          // the transport is closing anyway
        }
        {
          // [ap_session_resumption] GOODBYE.Details.resumable: the router paused the session (it
          // keeps it for a resume); otherwise the session is over.
          const pause = msg.details['resumable'] === true && this.#resume !== undefined;
          if (pause) this.#paused = true;
          else this.#resume = undefined;
          this.#ending = {
            reason: 'goodbye',
            wampReason: msg.reason,
            message: typeof msg.details['message'] === 'string' ? msg.details['message'] : `the router closed the session (${msg.reason})`,
            fatal: msg.reason === CloseUri.Killed && !pause,
            error: new ConnectionLostError(`the router closed the session with GOODBYE ${msg.reason}`),
          };
        }
        transport.close(1000, CloseUri.GoodbyeAndOut);
        return;
      case MessageCode.Abort: {
        const error = new SessionAbortedError(msg.reason, msg.details);
        this.#resume = undefined; // an ABORT ends the session: nothing to resume
        this.#ending = { reason: 'aborted', wampReason: msg.reason, message: error.message, fatal: FATAL_ABORT_REASONS.has(msg.reason), error };
        transport.close(1000, 'aborted');
        return;
      }
      default:
        if (this.#state === 'closing' && msg.code !== MessageCode.Result && msg.code !== MessageCode.Error) return;
        this.session.handle(msg);
    }
  }

  #protocolViolation(detail: string): void {
    const transport = this.#transport;
    if (transport === undefined || this.#ending !== undefined) return;
    try {
      transport.send({ code: MessageCode.Abort, details: { message: detail }, reason: ErrorUri.ProtocolViolation });
    } catch {
      // closing anyway
    }
    const error = new ProtocolViolationError(detail);
    this.#resume = undefined; // the router ends a session that violated the protocol
    this.#ending = { reason: 'protocol_violation', wampReason: ErrorUri.ProtocolViolation, message: error.message, fatal: false, error };
    transport.close(1002, 'protocol violation');
  }

  #onTransportClose(transport: Transport, code: number, reason: string): void {
    if (this.#transport !== transport) return;
    this.#transport = undefined;
    if (this.#state === 'closing') return; // close() finishes
    const ending = this.#ending ?? {
      reason: 'lost' as const,
      message: `the connection was lost (code ${code}${reason ? `, ${reason}` : ''})`,
      fatal: false,
      error: new ConnectionLostError(`WebSocket closed with code ${code}${reason ? ` (${reason})` : ''}`),
    };
    this.#ending = undefined;
    const willReconnect = this.#reconnect !== false && !ending.fatal && this.#reconnect.maxRetries > 0;
    if (!willReconnect) this.#resume = undefined;
    this.#lostAt = now();
    // A resume may follow: pending requests wait for it.
    this.session.detach(ending.error, !willReconnect, this.#resume !== undefined);
    const event: CloseEvent = { reason: ending.reason, message: ending.message, code, willReconnect, error: ending.error };
    if (ending.wampReason !== undefined) event.wampReason = ending.wampReason;
    if (!willReconnect) this.#state = 'closed';
    this.emit('close', event);
    if (willReconnect) void this.#reconnectLoop();
  }

  async #reconnectLoop(): Promise<void> {
    const options = this.#reconnect as Required<ReconnectOptions>;
    this.#state = 'reconnecting';
    let lastError: Error | undefined;
    for (let attempt = 1; attempt <= options.maxRetries; attempt++) {
      this.#attempt = attempt;
      const delayMs = backoffDelay(attempt, options);
      const event: ConnectionEvents['reconnecting'] = { attempt, delayMs };
      if (lastError !== undefined) event.error = lastError;
      this.emit('reconnecting', event);
      await new Promise<void>((resolve) => {
        this.#wakeRetry = resolve;
        this.#retryTimer = setTimeout(resolve, delayMs);
      });
      this.#wakeRetry = undefined;
      if (this.#state !== 'reconnecting') return; // closed meanwhile
      try {
        await this.#establish();
        return;
      } catch (err) {
        lastError = toError(err);
        if (this.#state !== 'reconnecting') return;
        if (lastError instanceof SessionAbortedError && FATAL_ABORT_REASONS.has(lastError.reason)) break;
      }
    }
    if (this.#state !== 'reconnecting') return;
    const error = lastError ?? new ConnectionLostError('reconnecting gave up');
    const ending: Ending = {
      reason: 'gave_up',
      message:
        lastError instanceof SessionAbortedError
          ? `reconnecting stopped: ${lastError.message}`
          : `reconnecting gave up after ${options.maxRetries} attempts: ${error.message}`,
      fatal: true,
      error,
    };
    if (lastError instanceof SessionAbortedError) ending.wampReason = lastError.reason;
    this.#finish(ending);
  }

  #finish(ending: Ending): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#resume = undefined;
    if (this.#pageHide !== undefined) {
      (globalThis as { removeEventListener?: (type: string, listener: (event: { persisted?: boolean }) => void) => void }).removeEventListener?.(
        'pagehide',
        this.#pageHide,
      );
      this.#pageHide = undefined;
    }
    this.#transport = undefined;
    this.session.detach(ending.error, true);
    const event: CloseEvent = { reason: ending.reason, message: ending.message, willReconnect: false };
    if (ending.wampReason !== undefined) event.wampReason = ending.wampReason;
    if (!(ending.error instanceof SessionClosedError)) event.error = ending.error;
    this.emit('close', event);
  }

  #reportHandlerError(error: unknown, context: string): void {
    if (this.listenerCount('error') > 0) this.emit('error', { error, context });
    else console.error(`switchboard client: ${context} threw:`, error);
  }
}

function now(): number {
  return globalThis.performance.now();
}

/**
 * WELCOME.Details.resume-last-request (a Switchboard extension): the last request the router
 * handled. Undefined: absent (a router without the extension); null: not an integer from 0 to the
 * last request sent (a protocol violation).
 */
function lastRequestOf(details: Dict, lastSent: number): number | undefined | null {
  const n = details['resume-last-request'];
  if (n === undefined) return undefined;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= lastSent ? n : null;
}

/** WELCOME.Details.resume-resent (a Switchboard extension): how many kept answers follow the WELCOME. */
function resentOf(details: Dict): number | undefined {
  const n = details['resume-resent'];
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** WELCOME.Details.resume-missed (a Switchboard extension): EVENTs dropped per subscription while detached. */
function missedOf(details: Dict): Map<SubscriptionId, number> {
  const out = new Map<SubscriptionId, number>();
  const missed = details['resume-missed'];
  if (!isDict(missed)) return out;
  for (const [key, value] of Object.entries(missed)) {
    const id = Number(key);
    if (Number.isSafeInteger(id) && id > 0 && typeof value === 'number' && Number.isSafeInteger(value) && value > 0) out.set(id as SubscriptionId, value);
  }
  return out;
}

/**
 * Whether a failed first connection may succeed if asked again: a router not up yet, a lost link,
 * too many connections (429, RawSocket 4), a router shutting down. Not: a refusal that cannot
 * change (wrong path, Origin, serializer), a fatal ABORT (no_such_realm, authentication_failed…),
 * a protocol violation, a usage error.
 */
function worthRetrying(error: Error): boolean {
  if (error instanceof UnreachableError) return !error.permanent;
  if (error instanceof SessionAbortedError) return !FATAL_ABORT_REASONS.has(error.reason);
  return error instanceof ConnectionLostError;
}

/** Both entry points' `connect()`: a Connection, opened. */
export function openConnection<Api extends ApiContract>(options: ConnectOptions, runtime: Runtime): Promise<Session<Api>> {
  return new Connection<Api>(options, runtime).open();
}
