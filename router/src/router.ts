/**
 * The router: realms, listeners and their transports, start and graceful stop.
 */
import type { SessionId } from '@switchboard/schemas';
import { CloseUri, RandomIds } from '@switchboard/schemas';
import { resolveConfig } from './config/config.js';
import type { RouterConfig, RouterConfigFile, WebSocketListenerConfig, WebSocketListenerFile } from './config/config.js';
import type { RouterCore } from './core.js';
import { createLogger, limitRefusalLog } from './log.js';
import type { LogModule, Logger } from './log.js';
import { createAuthenticators } from './auth/index.js';
import type { AuthContext } from './auth/index.js';
import type { Authenticator, Authorizer, Principal } from './auth/types.js';
import { EMBEDDED_AUTHMETHOD, InternalCaller, ROUTER_AUTHMETHOD, ROUTER_PRINCIPAL } from './internal.js';
import { BRIDGE_AUTHMETHOD } from './http/bridge/local-session.js';
import type { BridgeIdentity } from './http/bridge/local-session.js';
import { connectInProcess } from '@switchboard/client';
import type { ApiContract, Session, Untyped } from '@switchboard/client';
import { HttpBridge } from './http/bridge/bridge.js';
import { HttpIntegrations } from './http/bridge/integrations.js';
import { HttpServer, sendJson } from './http/server.js';
import type { Admission } from './http/admission.js';
import type { InboundBudget } from './transports/inbound-budget.js';
import { inProcessAuthenticator } from './auth/trusted.js';
import { attachWebSocket, startRawSocketListener, startWebSocketListener } from './listeners.js';
import type { Listener, ListenerAddress, ListenerContext, UpgradeServer } from './listeners.js';
import { historyPlugin, historySizeOf, metaPlugin, widestRule } from './meta/index.js';
import { MemoryStore } from './history/memory.js';
import { openStore } from './history/open.js';
import type { ClusterPlugin } from './cluster/plugin.js';
import type { EventStore } from './history/store.js';
import { routerStatsPlugin } from './meta/stats.js';
import { RealmPlugins } from './realm-plugin.js';
import type { RealmPlugin } from './realm-plugin.js';
import { RouterStats } from './stats.js';
import { Resumption } from './resumption.js';
import { createMetrics } from './metrics.js';
import type { HistoryMetrics } from './metrics.js';
import type { Registry } from 'prom-client';
import { Realm } from './realm.js';
import { isRouterSession } from './core/sessions.js';
import { describeStart, summaryText } from './summary.js';
import { Connection, ConnectionState } from './connection.js';
import type { SessionLimits } from './connection.js';
import { OutboundCounters } from './transports/outbound.js';
import type { Peer, PeerHandler } from './transports/peer.js';
import { createInProcessConnection } from './transports/local.js';

/** A cluster node's view of the cluster (GET /ready). */
export interface ClusterStatus {
  node: string;
  /** The NATS connection is up. */
  nats: boolean;
  /** The other nodes this one hears from. */
  nodes: string[];
}

export interface RouterOptions {
  /** A config file's content; omitted fields take their defaults. */
  config?: RouterConfigFile;
  /** Defaults to a pino logger at the config's level. */
  logger?: Logger;
  /**
   * Authentication methods by authmethod name, added to every listener's (and every attached
   * server's), replacing a configured method of the same name.
   */
  authenticators?: Readonly<Record<string, Authenticator>>;
  /**
   * Replaces the authorizer the config's `roles` build: one for every realm, or one per realm
   * name. The router's own sessions (`router.session(realm)` without a role) are not asked.
   */
  authorizer?: Authorizer | ((realm: string) => Authorizer);
  /** Installed into every realm at start (in order), torn down at stop (in reverse). */
  plugins?: readonly RealmPlugin[];
}

/** `router.attach(server, options)`: a WebSocket listener's settings, minus what a server of its own would need. */
export type AttachOptions = Omit<WebSocketListenerFile, 'type' | 'host' | 'port' | 'tls' | 'rawsocket' | 'longpoll' | 'http' | 'static'>;

/** `router.session(realm, options)`: act as a role the realm authorizes, rather than as the router. */
export interface SessionOptions {
  authrole: string;
  /** Default `embedded`. */
  authid?: string;
  /** Milliseconds to join (default 10000). */
  openTimeoutMs?: number;
}

/** Where a listener accepts connections: owned by listeners.ts, part of the router's public surface. */
export type { ListenerAddress } from './listeners.js';

const DEFAULT_AUTHENTICATORS = createAuthenticators(undefined);

/** The handler of a connection turned away: it ignores everything. */
const CLOSED_HANDLER: PeerHandler = { onFrame: () => undefined, onBadFrame: () => undefined, onClose: () => undefined };

export class Router implements RouterCore, AsyncDisposable {
  readonly config: RouterConfig;
  readonly log: Logger;
  /** @internal */
  readonly counters = new OutboundCounters();
  readonly stats = new RouterStats();
  /** Session resumption: resumable sessions, their tokens, the detached ones (resumption.ts). */
  readonly resumption: Resumption;
  /** The metrics endpoint's URL, when `metrics` is configured and the router started. */
  metricsUrl: string | undefined;
  #ready = false;
  /** Log for a person (multi-line start summary) rather than for a machine (its fields). */
  readonly #human: boolean;
  readonly #loggers = new Map<LogModule, Logger>();
  #registry: Registry | undefined;
  #metricsServer: HttpServer | undefined;
  readonly sequentialRequestIds: boolean;
  readonly authTimeoutMs: number;
  readonly #realms = new Map<string, Realm>();
  readonly #sessions = new Set<Connection>();
  readonly #sessionIds = new RandomIds<SessionId>();
  readonly #liveIds = new Set<number>();
  readonly #listeners: Listener[] = [];
  readonly #callers = new Map<string, InternalCaller>();
  readonly #authenticators: Readonly<Record<string, Authenticator>>;
  /** An embedder's plugins (`createRouter({ plugins })`), installed after the built-in ones. */
  readonly #embedderPlugins: readonly RealmPlugin[];
  readonly #bridges: HttpBridge[] = [];
  #integrations: HttpIntegrations | undefined;
  #addresses: ListenerAddress[] = [];
  /**
   * `starting`: plugins are being installed; no connection or in-process session is admitted
   * until they are (a session must not join a realm whose meta API or hooks are half there).
   */
  #state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  /** The start in progress (settled either way), which a stop() waits for before undoing it. */
  #starting: Promise<void> | undefined;
  /** stop() was called while starting: start() gives up at its next step and undoes what it did. */
  #stopRequested = false;
  /** The stop in progress: a second stop() waits for the same one. */
  #stopping: Promise<void> | undefined;
  /** The event store, once started (closed at stop, after the plugins). */
  #store: EventStore | undefined;
  /** Present on a cluster node (config `cluster`), once started. */
  #cluster: { hasSession(id: number): boolean; status(): ClusterStatus } | undefined;
  /** What is installed in every realm at start (realm-plugin.ts), torn down in reverse at stop. */
  readonly #plugins = new RealmPlugins((name) => (name === 'cluster' ? this.logger('cluster') : this.logger('realm').child({ plugin: name })));

  constructor(options: RouterOptions = {}) {
    this.config = resolveConfig(options.config);
    this.log = options.logger ?? createLogger(this.config.log);
    // Our own logger is pretty when it is (config, or a terminal); an injected one says so by log.pretty.
    this.#human = options.logger === undefined ? (this.config.log.pretty ?? process.stdout.isTTY === true) : this.config.log.pretty === true;
    limitRefusalLog(this.log, this.config.log.refusalIntervalMs);
    this.sequentialRequestIds = this.config.requestIds === 'sequential';
    this.resumption = new Resumption({ stats: this.stats, log: this.logger('session') });
    this.authTimeoutMs = this.config.authTimeoutMs;
    this.#authenticators = options.authenticators ?? {};
    this.#embedderPlugins = options.plugins ?? [];
    const authorizer = options.authorizer;
    for (const options of this.config.realms) {
      const realmOptions = { ...options, routeIds: this.config.cluster !== undefined ? ('derived' as const) : ('sequential' as const) };
      if (authorizer !== undefined) Object.assign(realmOptions, { authorizer: typeof authorizer === 'function' ? authorizer(options.name) : authorizer });
      const realm = new Realm(
        realmOptions,
        this.logger('realm'),
        (procedure, args, kwargs, timeoutMs) => this.internalCaller(options.name).call(procedure, args, kwargs, timeoutMs),
        this.stats,
      );
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
    // On a cluster node, IDs of sessions on the other nodes (the session registry) are skipped too.
    while (this.#liveIds.has(id) || this.#cluster?.hasSession(id) === true) id = this.#sessionIds.next();
    this.#liveIds.add(id);
    return id;
  }

  /** Starts the listeners and plugins; resolves to the router itself (`router.addresses` has where it listens). */
  async start(): Promise<this> {
    if (this.#state !== 'new') throw new Error(`cannot start a router that is ${this.#state}`);
    this.#state = 'starting';
    const run = this.#start();
    this.#starting = run.then(
      () => undefined,
      () => undefined,
    );
    await run;
    return this;
  }

  /** Gives up a start that stop() interrupted (start() then rejects, after undoing what it did). */
  #checkNotStopped(): void {
    if (this.#stopRequested) throw new Error('the router was stopped while starting');
  }

  async #start(): Promise<void> {
    try {
      const cluster = this.config.cluster;
      let clusterPlugin: ClusterPlugin | undefined;
      if (cluster !== undefined) {
        // Loaded only here: a single node never loads NATS.
        const { ClusterPlugin } = await import('./cluster/plugin.js');
        clusterPlugin = new ClusterPlugin(cluster, this, this.logger('cluster'));
        this.#cluster = clusterPlugin;
      }
      // The event store (history/store.ts): history and retained events of every realm.
      const store = this.config.store;
      this.#store = await openStore(store, {
        configDir: process.cwd(),
        log: this.logger('history'),
        memory: () => new MemoryStore(),
        onBatch: (seconds) => this.stats.historyBatch(seconds),
        ...(clusterPlugin !== undefined && {
          // On the cluster's NATS connection, made now (before the realms' plugins need the store).
          jetstream: async () => {
            const { JetStreamStore } = await import('./history/jetstream.js');
            const node = await clusterPlugin.connect();
            // No realm is linked yet, so nothing else would close the connection if JetStream fails here (not enabled on the server).
            const { client, manager } = await node.jetstream().catch(async (err: unknown) => {
              await node.stop();
              throw err;
            });
            return new JetStreamStore({
              client,
              manager,
              prefix: cluster!.prefix,
              storage: store.storage,
              replicas: store.replicas,
              realmLimits: (name) => widestRule(this.config.realms.find((r) => r.name === name)?.eventHistory),
              log: this.logger('history'),
              maxPayload: () => node.maxPayload,
            });
          },
        }),
      });
      // The built-in plugins, in this order, then an embedder's: one list for every realm.
      const plugins: RealmPlugin[] = [
        metaPlugin,
        historyPlugin(this.#store, (name) => this.config.realms.find((r) => r.name === name)?.eventHistory, {
          durability: this.config.store.durability,
        }),
        routerStatsPlugin(this),
      ];
      if (clusterPlugin !== undefined) plugins.push(clusterPlugin);
      plugins.push(...this.#embedderPlugins);
      await this.#plugins.install(this.#realms.values(), plugins);
      this.#checkNotStopped();
      // Plugins are in place: connections (attached servers, the listeners now started) and router.session() are admitted.
      this.#state = 'running';
      for (const [index, listener] of this.config.listeners.entries()) {
        const context = {
          ...this.#listenerContext(listener, listenerKey(listener, index)),
          routes: (http: HttpServer, config: WebSocketListenerConfig, admission: Admission, inbound: InboundBudget) => {
            if (config.http === undefined) return;
            const bridge = new HttpBridge(config.http, this, {
              maxBodyBytes: config.maxMessageBytes,
              maxNestingDepth: config.maxNestingDepth,
              maxMessageItems: config.maxMessageItems,
              admission,
              inbound,
            });
            bridge.mount(http);
            this.#bridges.push(bridge);
          },
        };
        const started =
          listener.type === 'rawsocket' ? await startRawSocketListener(listener, index, context) : await startWebSocketListener(listener, index, context);
        this.#listeners.push(started);
        this.#addresses.push(started.address);
        this.#checkNotStopped();
      }
      for (const bridge of this.#bridges) await bridge.start();
      if (this.config.metrics !== undefined) await this.#startMetrics(this.config.metrics);
      this.#ready = true;
      this.#integrations = await HttpIntegrations.start(
        this.config.httpIntegrations,
        (identity) => this.openBridgeSession(identity),
        this.logger('bridge'),
        this.stats,
      );
      this.#checkNotStopped();
    } catch (err) {
      // Undo what did start, without a 'router stopped' line: the caller reports why it failed.
      await this.#shutdown(CloseUri.SystemShutdown, false);
      throw err;
    }
    // What a person needs to connect a first client: one line, readable on a terminal, with fields for machines.
    const summary = describeStart(this.config, this.#addresses, this.metricsUrl);
    if (this.#human) this.log.info(summaryText(summary));
    else this.log.info({ realms: [...this.#realms.keys()], summary }, 'router started');
    this.#warnIfOpen();
  }

  /** `await using router = await createRouter(…).start()`: stops it when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** What a listener's transports need: `accept` with the listener's authenticators and limits. */
  #listenerContext(
    listener: {
      auth?: WebSocketListenerConfig['auth'];
      maxMessagesPerSecond?: number | undefined;
      helloTimeoutMs?: number | undefined;
    },
    key: string,
  ): ListenerContext {
    const context: AuthContext = {
      call: (realm, procedure, args, kwargs, timeoutMs) => this.internalCaller(realm).call(procedure, args, kwargs, timeoutMs),
      timeoutMs: this.authTimeoutMs,
      log: this.logger('auth'),
      limitExceeded: (limit) => this.stats.limitExceeded(limit),
    };
    const authenticators = new Map(createAuthenticators(listener.auth, context));
    for (const [method, authenticator] of Object.entries(this.#authenticators)) authenticators.set(method, authenticator);
    const limits: SessionLimits = {};
    if (listener.maxMessagesPerSecond !== undefined) limits.maxMessagesPerSecond = listener.maxMessagesPerSecond;
    if (listener.helloTimeoutMs !== undefined) limits.helloTimeoutMs = listener.helloTimeoutMs;
    limits.listener = key;
    return {
      accept: (peer: Peer) => this.accept(peer, authenticators, limits),
      counters: this.counters,
      log: this.logger('transport'),
      health: () => ({ status: 'ok', sessions: this.sessionCount }),
      ready: () => this.readiness(),
      refused: (limit: string) => this.stats.limitExceeded(limit),
    };
  }

  /**
   * Serves WAMP over WebSocket on a Node HTTP(S) server the router does not own (an Express or
   * Fastify app's): upgrades on `options.path` (default `/ws`) are the router's, everything else
   * stays the server's. The server is not closed at stop; the router's connections are. The
   * address returned has the server's port when it already listens (0 before). WebSocket only:
   * long-poll, RawSocket, the HTTP bridge and static files need a listener of the router's own.
   */
  attach(server: UpgradeServer, options: AttachOptions = {}): ListenerAddress {
    if (this.#state === 'stopping' || this.#state === 'stopped') throw new Error(`cannot attach to a router that is ${this.#state}`);
    const listener = resolveConfig({ listeners: [{ ...options, type: 'websocket' }] }).listeners[0] as WebSocketListenerConfig;
    const attached = attachWebSocket(server, listener, this.#listenerContext(listener, `attached/${this.#listeners.length}:${listener.path}`));
    this.#listeners.push(attached);
    return attached.address;
  }

  /**
   * An in-process `@switchboard/client` Session in `realm`: the client's whole API (typed
   * contracts, async procedures, subscriptions, progressive results, cancel) with no socket and
   * nothing encoded. Without options it acts for the router (authid `router`, authrole `trusted`,
   * not authorized); with `{ authrole }` the realm authorizes it like any session of that role.
   * `session.leave()` ends it; stopping the router ends it too.
   */
  session<Api extends ApiContract = Untyped>(realm: string, options?: SessionOptions): Promise<Session<Api>> {
    if (options === undefined) return this.openInProcess<Api>(realm, ROUTER_PRINCIPAL, ROUTER_AUTHMETHOD);
    const principal: Principal = { authid: options.authid ?? 'embedded', authrole: options.authrole, authprovider: 'embedded' };
    return this.openInProcess<Api>(realm, principal, EMBEDDED_AUTHMETHOD, options.openTimeoutMs);
  }

  /** One of the HTTP bridge's sessions (http/bridge/local-session.ts): the role's rights, the bridge's authmethod. @internal */
  openBridgeSession(identity: BridgeIdentity): Promise<Session> {
    return this.openInProcess(identity.realm, { authid: identity.authid, authrole: identity.authrole, authprovider: 'bridge' }, BRIDGE_AUTHMETHOD);
  }

  /**
   * An in-process session that joins as `principal`, by an authmethod only this connection
   * offers (no network client can name it: it is in no listener's map).
   * @internal
   */
  openInProcess<Api extends ApiContract = Untyped>(realm: string, principal: Principal, authmethod: string, openTimeoutMs?: number): Promise<Session<Api>> {
    if (this.#state !== 'running') return Promise.reject(new Error(`router.session(): the router is ${this.#state === 'new' ? 'not started' : this.#state}`));
    // Branded (auth/trusted.ts): the only kind of authenticator a reserved authprovider (router, bridge) is taken from.
    const authenticators = new Map<string, Authenticator>([[authmethod, inProcessAuthenticator(authmethod, principal)]]);
    const log = this.logger('transport');
    return connectInProcess<Api>(
      (end) => {
        const connection = createInProcessConnection({
          onMessage: (msg) => end.message(msg),
          onClose: (code, reason) => end.close(code, reason),
          onError: (err) => log.error({ err: err.message }, 'in-process connection closed after a fault'),
        });
        connection.bind(this.accept(connection.peer, authenticators));
        return connection.link;
      },
      {
        realm,
        auth: { authmethods: [authmethod], authid: principal.authid },
        agent: 'switchboard-router',
        ...(openTimeoutMs !== undefined && { openTimeoutMs }),
      },
    );
  }

  /**
   * The embedded default (realm1 without roles, anonymous clients) lets anyone join and do
   * everything, the meta API (wamp.session.kill_all) included: fine on a developer's machine, never
   * on a reachable router. Said once at start, with the listeners that admit anonymous sessions and
   * the realms without roles. Anonymous access to realms with roles is a deliberate choice and not
   * warned about. [SECURITY.md: What the defaults expose]
   */
  #warnIfOpen(): void {
    const anonymous = this.config.listeners.filter((l) => l.auth === undefined || l.auth.anonymous !== undefined);
    const unrestricted = this.config.realms.filter((r) => r.roles === undefined).map((r) => r.name);
    if (anonymous.length === 0 || unrestricted.length === 0) return;
    // Every URL of those listeners: WebSocket, and RawSocket and long-poll where they share the port.
    const listeners = anonymous.flatMap((l) => {
      const address = this.#addresses[this.config.listeners.indexOf(l)];
      return address === undefined ? [] : [address.url, address.rawsocketUrl, address.longpollUrl].filter((u): u is string => u !== undefined);
    });
    this.log.warn(
      { listeners, realms: unrestricted },
      'anonymous access is open: clients can join without credentials and, in realms without roles, do everything (the meta API included). ' +
        'These are development defaults; configure listeners[].auth and realms[].roles before this router is reachable by others (see SECURITY.md)',
    );
  }

  /**
   * Graceful stop: GOODBYE wamp.close.system_shutdown to every session, wait for the replies
   * (at most shutdownTimeoutMs), close every connection and listener.
   */
  async stop(reason: string = CloseUri.SystemShutdown): Promise<void> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  /** Waits for a start in progress (which then gives up and undoes itself), then shuts down what is left. */
  async #stop(reason: string): Promise<void> {
    if (this.#state === 'starting' || this.#state === 'running') this.#stopRequested = true;
    if (this.#starting !== undefined) await this.#starting;
    await this.#shutdown(reason, true);
  }

  async #shutdown(reason: string, announce: boolean): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#ready = false;
    for (const bridge of this.#bridges) bridge.close();
    this.#integrations?.close();
    // One router stopping ends its sessions: detached ones now, and none detaches from here on.
    this.resumption.close();
    const goodbyes: Promise<void>[] = [];
    for (const session of this.#sessions) {
      if (session.state === ConnectionState.Established) {
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
    for (const listener of this.#listeners) listener.close();
    // Give close frames a moment to leave, then drop whatever is left.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const listener of this.#listeners) listener.terminate();
    await Promise.all(this.#listeners.map((l) => l.stop()));
    // A shared store (JetStream) writes over the cluster's NATS connection, which the cluster
    // plugin's teardown closes: it lets go first, once the sessions are gone. A node-local store
    // closes after the plugins' teardown, so that what they queue is written before it lets go.
    if (this.#store?.shared === true) await this.#closeStore();
    await this.#plugins.teardown();
    await this.#closeStore();
    await this.#metricsServer?.close();
    this.#state = 'stopped';
    if (announce) this.log.info('router stopped');
  }

  /** Closes the event store once (write what is queued, release files and connections); a failure is logged. */
  async #closeStore(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    try {
      await store?.close();
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'event store failed to close');
    }
  }

  /**
   * GET /ready: every listener up and the realms loaded; false again once stopping begins. A
   * cluster node also says whether it reaches NATS and which nodes it sees (it stays ready without
   * NATS: it still serves its own sessions).
   */
  readiness(): { ready: boolean; listeners: number; realms: string[]; cluster?: ClusterStatus } {
    const out: { ready: boolean; listeners: number; realms: string[]; cluster?: ClusterStatus } = {
      ready: this.#ready,
      listeners: this.#listeners.length,
      realms: [...this.#realms.keys()],
    };
    if (this.#cluster !== undefined) out.cluster = this.#cluster.status();
    return out;
  }

  /** The Prometheus registry behind /metrics (created on first use). */
  get metrics(): Registry {
    this.#registry ??= createMetrics({
      stats: this.stats,
      counters: this.counters,
      sessionLabels: () => this.#sessionLabels(),
      history: () => this.#historyMetrics(),
    });
    return this.#registry;
  }

  /** The event store's counters and each realm's history size, at scrape time; undefined before start. */
  #historyMetrics(): HistoryMetrics | undefined {
    const store = this.#store;
    if (store === undefined) return undefined;
    const realms: [string, { events: number; bytes: number }][] = [];
    for (const [name, realm] of this.#realms) {
      const size = historySizeOf(realm);
      if (size !== undefined) realms.push([name, size]);
    }
    return { stats: store.stats, realms };
  }

  *#sessionLabels(): Iterable<[string, string, string]> {
    for (const session of this.#sessions) {
      const wamp = session.session;
      if (wamp === undefined || isRouterSession(wamp)) continue;
      yield [wamp.realm.name, session.peer.transport.type, session.peer.codec.name];
    }
  }

  async #startMetrics(config: { host: string; port: number; path: string }): Promise<void> {
    const http = new HttpServer();
    http.route(config.path, (_req, res) => {
      this.metrics.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': this.metrics.contentType });
          res.end(text);
        },
        (err: unknown) => sendJson(res, 500, { error: (err as Error).message }),
      );
    });
    http.route('/health', (_req, res) => sendJson(res, 200, { status: 'ok', sessions: this.sessionCount }));
    http.route('/ready', (_req, res) => {
      const ready = this.readiness();
      sendJson(res, ready.ready ? 200 : 503, ready);
    });
    this.#metricsServer = http;
    const address = await http.listen(config.port, config.host);
    this.metricsUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${config.path}`;
    this.log.info({ url: this.metricsUrl }, 'metrics listening');
  }

  /**
   * The logger of one part of the router (`realm`, `session`, `auth`, `transport`, `bridge`):
   * a child of the router's logger, at the level `log.modules` gives it, if any.
   * @internal
   */
  logger(module: LogModule): Logger {
    let child = this.#loggers.get(module);
    if (child === undefined) {
      const level = this.config.log.modules?.[module];
      child = level === undefined ? this.log.child({ module }) : this.log.child({ module }, { level });
      limitRefusalLog(child, this.config.log.refusalIntervalMs);
      this.#loggers.set(module, child);
    }
    return child;
  }

  get sessionLog(): Logger {
    return this.logger('session');
  }

  releaseSessionId(id: SessionId): void {
    this.#liveIds.delete(id);
  }

  /**
   * Attaches a connection from any transport (the built-in ones call this too); returns the
   * handler the transport must feed with decoded frames and its close.
   * @internal
   */
  accept(peer: Peer, authenticators: ReadonlyMap<string, Authenticator> = DEFAULT_AUTHENTICATORS, limits: SessionLimits = {}): PeerHandler {
    if (this.#state !== 'running') {
      // A connection that arrives while the router stops (a client reconnecting at once), or
      // before its plugins are installed (a server attached before start), is turned away, not
      // thrown at the transport that accepted it. 1013: try again later.
      if (this.#state === 'new' || this.#state === 'starting') peer.close(1013, 'router not started yet');
      else peer.close(1001, 'router shutting down');
      return CLOSED_HANDLER;
    }
    const connection = new Connection(peer, this, authenticators, limits);
    connection.onClosed = (closed) => this.#sessions.delete(closed);
    this.#sessions.add(connection);
    return connection;
  }

  /** The router's own caller in a realm (for dynamic authenticators and authorizers). @internal */
  internalCaller(realm: string): InternalCaller {
    let caller = this.#callers.get(realm);
    if (caller === undefined) {
      caller = new InternalCaller(() => this.session(realm));
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

/**
 * The embedding API: a router from a config (or none: realm1, anonymous, the embedded default
 * listener on port 8080 unless `config.listeners` says otherwise, `[]` for none), with the embedder's
 * authenticators, authorizer and realm plugins. Not started: `await createRouter(…).start()`
 * resolves to the router (`await using router = await createRouter(…).start()` stops it at the
 * end of the scope); `router.attach(server)` serves WAMP on an HTTP server of
 * the application's; `router.session(realm)` gives an in-process client session.
 */
export function createRouter(options: RouterOptions = {}): Router {
  return new Router(options);
}

/**
 * A config listener's identity: its place in `listeners`, its type, configured port and path (or
 * socket path). The same on every node that runs the same config, so a cluster can carry it with
 * a resumable session (SessionSnapshot.listener): a session resumes only through its listener.
 */
export function listenerKey(listener: { type: string; port?: number | undefined; path?: string | undefined }, index: number): string {
  return `listeners/${index}:${listener.type}:${listener.port ?? ''}:${listener.path ?? ''}`;
}
