/**
 * The router: realms, listeners and their transports, start and graceful stop.
 */
import type { SessionId } from '@switchboard/schemas';
import { CloseUri, RandomIds, msgpackCodec } from '@switchboard/schemas';
import { resolveConfig } from './config/config.js';
import type { RouterConfig, RouterConfigFile } from './config/config.js';
import type { RouterCore } from './core.js';
import { HttpServer, sendJson } from './http/server.js';
import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { createAuthenticators } from './auth/index.js';
import type { Authenticator } from './auth/types.js';
import { InternalCaller, ROUTER_AUTHENTICATORS } from './internal.js';
import { installMetaApi } from './meta/index.js';
import { Realm } from './realm.js';
import { RouterSession, SessionState } from './session.js';
import { OutboundCounters } from './transports/outbound.js';
import type { Peer, PeerHandler } from './transports/peer.js';
import { createLocalConnection } from './transports/local.js';
import type { LocalClient } from './transports/local.js';
import { WebSocketTransport } from './transports/websocket.js';

export interface RouterOptions {
  /** A config file's content; omitted fields take their defaults. */
  config?: RouterConfigFile;
  /** Defaults to a pino logger at the config's level. */
  logger?: Logger;
}

export interface ListenerAddress {
  host: string;
  port: number;
  path: string;
  /** e.g. `ws://127.0.0.1:8080/ws` */
  url: string;
}

const DEFAULT_AUTHENTICATORS = createAuthenticators(undefined);

export class Router implements RouterCore {
  readonly config: RouterConfig;
  readonly log: Logger;
  readonly counters = new OutboundCounters();
  readonly sequentialRequestIds: boolean;
  readonly authTimeoutMs: number;
  readonly #realms = new Map<string, Realm>();
  readonly #sessions = new Set<RouterSession>();
  readonly #sessionIds = new RandomIds<SessionId>();
  readonly #liveIds = new Set<number>();
  readonly #servers: HttpServer[] = [];
  readonly #transports: WebSocketTransport[] = [];
  readonly #callers = new Map<string, InternalCaller>();
  #addresses: ListenerAddress[] = [];
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(options: RouterOptions = {}) {
    this.config = resolveConfig(options.config);
    this.log = options.logger ?? createLogger(this.config.log);
    this.sequentialRequestIds = this.config.requestIds === 'sequential';
    this.authTimeoutMs = this.config.authTimeoutMs;
    for (const options of this.config.realms) {
      const realm = new Realm(options, this.log, (procedure, args, kwargs, timeoutMs) => this.internalCaller(options.name).call(procedure, args, kwargs, timeoutMs));
      installMetaApi(realm);
      this.#realms.set(options.name, realm);
    }
  }

  get addresses(): readonly ListenerAddress[] {
    return this.#addresses;
  }

  /** The first listener's WebSocket URL. */
  get url(): string {
    const first = this.#addresses[0];
    if (first === undefined) throw new Error('router is not listening');
    return first.url;
  }

  get sessionCount(): number {
    return this.#liveIds.size;
  }

  realm(name: string): Realm | undefined {
    return this.#realms.get(name);
  }

  newSessionId(): SessionId {
    let id = this.#sessionIds.next();
    while (this.#liveIds.has(id)) id = this.#sessionIds.next();
    this.#liveIds.add(id);
    return id;
  }

  async start(): Promise<readonly ListenerAddress[]> {
    if (this.#state !== 'new') throw new Error(`cannot start a router that is ${this.#state}`);
    this.#state = 'running';
    try {
      for (const listener of this.config.listeners) {
        const http = new HttpServer();
        const authenticators = createAuthenticators(listener.auth);
        const transport = new WebSocketTransport(listener, (peer) => this.attach(peer, authenticators), this.counters, this.log);
        http.upgrade(listener.path, (req, socket, head) => transport.handleUpgrade(req, socket, head));
        http.route('/health', (_req, res) => sendJson(res, 200, { status: 'ok', sessions: this.sessionCount }));
        this.#servers.push(http);
        this.#transports.push(transport);
        const address = await http.listen(listener.port, listener.host);
        const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        this.#addresses.push({ host: address.address, port: address.port, path: listener.path, url: `ws://${host}:${address.port}${listener.path}` });
        this.log.info({ url: `ws://${host}:${address.port}${listener.path}`, serializers: listener.serializers }, 'listening');
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info({ realms: [...this.#realms.keys()] }, 'router started');
    return this.#addresses;
  }

  /**
   * Graceful stop: GOODBYE wamp.close.system_shutdown to every session, wait for the replies
   * (at most shutdownTimeoutMs), close every connection and listener.
   */
  async stop(reason: string = CloseUri.SystemShutdown): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    const goodbyes: Promise<void>[] = [];
    for (const session of this.#sessions) {
      if (session.state === SessionState.Established) {
        goodbyes.push(new Promise<void>((resolve) => session.goodbye(reason, 'The router is shutting down.', resolve)));
      }
    }
    if (goodbyes.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.shutdownTimeoutMs)));
      await Promise.race([Promise.all(goodbyes), timeout]);
      clearTimeout(timer);
    }
    for (const session of this.#sessions) session.peer.close(1001, 'router shutting down');
    for (const transport of this.#transports) transport.close(1001, 'router shutting down');
    // Give close frames a moment to leave, then drop whatever is left.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const transport of this.#transports) transport.terminate();
    await Promise.all(this.#servers.map((s) => s.close()));
    this.#state = 'stopped';
    this.log.info('router stopped');
  }

  releaseSessionId(id: SessionId): void {
    this.#liveIds.delete(id);
  }

  transportClosed(session: RouterSession): void {
    this.#sessions.delete(session);
  }

  /**
   * Attaches a connection from any transport (the built-in ones call this too); returns the
   * handler the transport must feed with decoded frames and its close.
   */
  attach(peer: Peer, authenticators: ReadonlyMap<string, Authenticator> = DEFAULT_AUTHENTICATORS): PeerHandler {
    if (this.#state !== 'running') throw new Error(`cannot attach a peer to a router that is ${this.#state}`);
    const session = new RouterSession(peer, this, authenticators);
    this.#sessions.add(session);
    return session;
  }

  /** An in-process client connection (see transports/local.ts). */
  connectLocal(options: Parameters<typeof createLocalConnection>[0], authenticators?: ReadonlyMap<string, Authenticator>): LocalClient {
    const connection = createLocalConnection(options);
    connection.bind(this.attach(connection.peer, authenticators));
    return connection.client;
  }

  /** The router's own caller in a realm (for dynamic authenticators and authorizers). */
  internalCaller(realm: string): InternalCaller {
    let caller = this.#callers.get(realm);
    if (caller === undefined) {
      caller = new InternalCaller(realm, (onMessage, onClose) => this.connectLocal({ codec: msgpackCodec, onMessage, onClose }, ROUTER_AUTHENTICATORS));
      this.#callers.set(realm, caller);
    }
    return caller;
  }
}

/** Starts a router; `await using` or `stop()` ends it. */
export async function startRouter(options: RouterOptions = {}): Promise<Router> {
  const router = new Router(options);
  await router.start();
  return router;
}
