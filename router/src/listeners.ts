/**
 * What one entry of the config's `listeners` starts: a port (or Unix socket) and the transports
 * behind it. A `websocket` listener is an HTTP server (WebSocket upgrades, long-poll, /health,
 * optionally RawSocket on the same port, optionally TLS); a `rawsocket` listener is RawSocket only.
 * Transports hand every connection to `accept` (Router.accept); none of this knows about realms.
 */
import { unlinkSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect, createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { loadTls as loadTlsFiles } from './config/tls.js';
import type { RawSocketListenerConfig, TlsFile, WebSocketListenerConfig } from './config/config.js';
import { Admission } from './http/admission.js';
import { HttpServer, sendJson, tlsServerOptions } from './http/server.js';
import { StaticFiles } from './http/static.js';
import type { HttpServerOptions, TlsCredentials } from './http/server.js';
import { logRefusal } from './log.js';
import type { Logger } from './log.js';
import { LongPollTransport } from './transports/longpoll.js';
import type { OutboundCounters } from './transports/outbound.js';
import type { AcceptPeer } from './transports/peer.js';
import { MAX_RAWSOCKET_MESSAGE_BYTES } from './transports/rawsocket-framing.js';
import { RawSocketTransport } from './transports/rawsocket.js';
import { WebSocketTransport } from './transports/websocket.js';
import { InboundBudget } from './transports/inbound-budget.js';
import { CookieJar } from './transports/cookie-tracking.js';

/** Where a listener accepts connections (`router.addresses`, the start summary). */
export interface ListenerAddress {
  type: 'websocket' | 'rawsocket';
  /** Empty for a Unix socket. */
  host: string;
  /** 0 for a Unix socket. */
  port: number;
  /** The WebSocket URL path, or a RawSocket listener's Unix socket path (empty for TCP). */
  path: string;
  /** e.g. `ws://127.0.0.1:8080/ws`, `wss://…`; `rs://127.0.0.1:8081`, `rss://…`, `rs://unix:/run/sb.sock` */
  url: string;
  /** TLS (wss, https, rss). */
  secure: boolean;
  /** Where RawSocket is accepted: a rawsocket listener's URL, or a websocket listener's port with `rawsocket: true`. */
  rawsocketUrl?: string;
  /** The long-poll base URL, e.g. `http://127.0.0.1:8080/lp`. */
  longpollUrl?: string;
}

export interface ListenerContext {
  accept: AcceptPeer;
  counters: OutboundCounters;
  log: Logger;
  /** The body of GET /health (the process is alive). */
  health(): unknown;
  /** GET /ready: 200 once every listener is up and the realms are loaded, 503 before and while stopping. */
  ready?(): { ready: boolean } & Record<string, unknown>;
  /**
   * Adds routes of its own to a websocket listener's server (the HTTP bridge); SSE streams go
   * through `admission`, request bodies are charged to `inbound` (maxInboundBytes).
   */
  routes?(http: HttpServer, config: WebSocketListenerConfig, admission: Admission, inbound: InboundBudget): void;
  /** Counts a connection refused by a limit (switchboard_limits_exceeded_total), by config key. */
  refused?(limit: string): void;
}

export interface Listener {
  readonly address: ListenerAddress;
  /** Closes every connection after what was queued to it. */
  close(): void;
  /** Drops every connection at once. */
  terminate(): void;
  /** Stops listening (and removes a Unix socket file). */
  stop(): Promise<void>;
}

/** A listener's PEM files, read and checked (config/tls.ts); problems name the field and the file. */
function loadTls(tls: TlsFile, index: number): TlsCredentials {
  return loadTlsFiles(tls, `/listeners/${index}/tls`);
}

function hostForUrl(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

/**
 * The WebSocket transport of a listener's port or of an attached server, with what the port's
 * other transports share: the budget of incoming messages in progress (maxInboundBytes) and the
 * cookie jar (configured, or on with defaults for the `cookie` authmethod).
 */
function webSocketTransport(config: WebSocketListenerConfig, ctx: ListenerContext, secure: boolean): { websocket: WebSocketTransport; inbound: InboundBudget } {
  const cookies = config.cookie !== undefined || config.auth?.cookie !== undefined ? new CookieJar(config.cookie ?? {}, secure) : undefined;
  const inbound = new InboundBudget(config.maxInboundBytes);
  const onLimit = ctx.refused;
  const websocket = new WebSocketTransport(
    { ...config, inbound, ...(cookies !== undefined && { cookies }), ...(onLimit !== undefined && { onLimit }) },
    ctx.accept,
    ctx.counters,
    ctx.log,
  );
  return { websocket, inbound };
}

export async function startWebSocketListener(config: WebSocketListenerConfig, index: number, ctx: ListenerContext): Promise<Listener> {
  const tls = config.tls === undefined ? undefined : loadTls(config.tls, index);
  // Directories are checked before anything opens: a missing one fails the start, naming its field.
  const staticFiles = config.static === undefined ? undefined : new StaticFiles(config.static, `/listeners/${index}/static`);
  const { websocket, inbound } = webSocketTransport(config, ctx, tls !== undefined);
  const onLimit = ctx.refused;
  // One gate for every transport on this port: origins, and connections per address of every kind.
  const admission = new Admission(config, ctx.log, ctx.refused);
  const rawsocket =
    config.rawsocket === true
      ? new RawSocketTransport(
          {
            serializers: config.serializers,
            maxMessageBytes: Math.min(config.maxMessageBytes, MAX_RAWSOCKET_MESSAGE_BYTES),
            maxNestingDepth: config.maxNestingDepth,
            maxMessageItems: config.maxMessageItems,
            outbound: config.outbound,
            admit: (socket) => admission.admitSocket(socket),
            inbound,
            ...(onLimit !== undefined && { onLimit }),
          },
          ctx.accept,
          ctx.counters,
          ctx.log,
        )
      : undefined;
  const longpollConfig = config.longpoll;
  const longpoll =
    longpollConfig === undefined
      ? undefined
      : new LongPollTransport(
          {
            ...longpollConfig,
            serializers: config.serializers,
            batched: config.batched,
            maxMessageBytes: config.maxMessageBytes,
            maxNestingDepth: config.maxNestingDepth,
            maxMessageItems: config.maxMessageItems,
            outbound: config.outbound,
            admission,
            inbound,
            ...(onLimit !== undefined && { onLimit }),
          },
          ctx.accept,
          ctx.counters,
          ctx.log,
        );
  const options: HttpServerOptions = {
    onError: (err, path) => ctx.log.error({ err, path }, 'HTTP handler failed: that request or connection ended, the router goes on'),
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    admitTcp: (socket) => admission.admitTcp(socket),
    onLimit: (limit) => ctx.refused?.(limit),
    onRefused: (reason, fields, message) => logRefusal(ctx.log, reason, fields, message),
  };
  if (tls !== undefined) options.tls = tls;
  if (rawsocket !== undefined) options.rawSocket = (socket, head) => rawsocket.handle(socket, head);
  const http = new HttpServer(options);
  // Origin and per-address limits are checked before the transport sees the upgrade.
  for (const path of config.paths ?? [config.path]) {
    http.upgrade(path, (req, socket, head) => {
      if (admission.admit(req, socket)) websocket.handleUpgrade(req, socket, head);
    });
  }
  if (longpoll !== undefined && longpollConfig !== undefined) http.routePrefix(`${longpollConfig.path}/`, (req, res) => longpoll.handle(req, res));
  http.route('/health', (_req, res) => sendJson(res, 200, ctx.health()));
  http.route('/ready', (_req, res) => {
    const ready = ctx.ready?.() ?? { ready: true };
    sendJson(res, ready.ready ? 200 : 503, ready);
  });
  ctx.routes?.(http, config, admission, inbound);
  if (staticFiles !== undefined) http.fallback(staticFiles.handle);
  const close = (): void => {
    websocket.close(1001, 'router shutting down');
    rawsocket?.close();
    longpoll?.close();
  };
  const terminate = (): void => {
    websocket.terminate();
    rawsocket?.terminate();
    longpoll?.terminate();
  };
  let bound: AddressInfo;
  try {
    bound = await http.listen(config.port, config.host);
  } catch (err) {
    terminate();
    await http.close();
    throw err;
  }
  const host = hostForUrl(bound);
  const secure = tls !== undefined;
  const address: ListenerAddress = {
    type: 'websocket',
    host: bound.address,
    port: bound.port,
    path: config.path,
    url: `${secure ? 'wss' : 'ws'}://${host}:${bound.port}${config.path}`,
    secure,
  };
  if (rawsocket !== undefined) address.rawsocketUrl = `${secure ? 'rss' : 'rs'}://${host}:${bound.port}`;
  if (longpollConfig !== undefined) address.longpollUrl = `${secure ? 'https' : 'http'}://${host}:${bound.port}${longpollConfig.path}`;
  ctx.log.info({ url: address.url, rawsocket: address.rawsocketUrl, longpoll: address.longpollUrl, serializers: config.serializers }, 'listening');
  return { address, close, terminate, stop: () => http.close() };
}

/** A Node HTTP(S) server the router does not own: an Express or Fastify app's, say. */
export interface UpgradeServer {
  on(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  off(event: 'upgrade', listener: (req: IncomingMessage, socket: Duplex, head: Buffer) => void): unknown;
  listeners(event: 'upgrade'): unknown[];
}

type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The router's one 'upgrade' listener on a server, and its path → handler table for every attach(). */
interface Dispatcher {
  readonly routes: Map<string, UpgradeHandler>;
  readonly dispatch: UpgradeHandler;
}
const dispatchers = new WeakMap<UpgradeServer, Dispatcher>();

/**
 * Routes upgrades on `paths` of `server` to `handler`; returns the undo. Whatever attach() calls
 * come, the server gets one 'upgrade' listener of the router's, which decides per request: a path
 * of the router's goes to its handler; another path is left to the server's other 'upgrade'
 * listeners (the app's own WebSocket endpoints, added before or after), and refused with 404 only
 * when there is none (a socket nobody takes would hang).
 */
function routeUpgrades(server: UpgradeServer, paths: ReadonlySet<string>, handler: UpgradeHandler): () => void {
  let dispatcher = dispatchers.get(server);
  if (dispatcher === undefined) {
    const routes = new Map<string, UpgradeHandler>();
    const dispatch: UpgradeHandler = (req, socket, head) => {
      const path = (req.url ?? '/').split('?', 1)[0]!;
      const route = routes.get(path);
      if (route !== undefined) route(req, socket, head);
      else if (server.listeners('upgrade').length <= 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    };
    server.on('upgrade', dispatch);
    dispatchers.set(server, (dispatcher = { routes, dispatch }));
  }
  const { routes, dispatch } = dispatcher;
  for (const path of paths) {
    if (routes.has(path)) throw new Error(`the router is already attached to path ${path} of this server`);
  }
  for (const path of paths) routes.set(path, handler);
  return () => {
    for (const path of paths) if (routes.get(path) === handler) routes.delete(path);
    if (routes.size > 0 || dispatchers.get(server)?.dispatch !== dispatch) return;
    dispatchers.delete(server);
    server.off('upgrade', dispatch);
  };
}

/**
 * WebSocket on someone else's server (`Router.attach`): upgrades on the listener's paths go to the
 * router, through the same admission (origins, connections per address) as a listener of its own;
 * every other request and upgrade is left to the server's owner. The server is never closed:
 * `stop` only unhooks. No long-poll, RawSocket, bridge or static routes: those need a server of
 * the router's own (a `listeners` entry).
 */
export function attachWebSocket(server: UpgradeServer, config: WebSocketListenerConfig, ctx: ListenerContext): Listener {
  const { websocket } = webSocketTransport(config, ctx, false);
  const admission = new Admission(config, ctx.log, ctx.refused);
  const paths = new Set(config.paths ?? [config.path]);
  const detach = routeUpgrades(server, paths, (req, socket, head) => {
    if (admission.admit(req, socket)) websocket.handleUpgrade(req, socket, head);
  });
  const address: ListenerAddress = { type: 'websocket', host: '', port: 0, path: config.path, url: `ws://attached${config.path}`, secure: false };
  const bound = (server as { address?: () => unknown }).address?.();
  if (typeof bound === 'object' && bound !== null && 'port' in bound) {
    const info = bound as AddressInfo;
    Object.assign(address, { host: info.address, port: info.port, url: `ws://${hostForUrl(info)}:${info.port}${config.path}` });
  }
  ctx.log.info({ path: [...paths], serializers: config.serializers }, 'attached to an HTTP server');
  return {
    address,
    close: () => websocket.close(1001, 'router shutting down'),
    terminate: () => websocket.terminate(),
    stop: () => {
      detach();
      return Promise.resolve();
    },
  };
}

export async function startRawSocketListener(config: RawSocketListenerConfig, index: number, ctx: ListenerContext): Promise<Listener> {
  const tls = config.tls === undefined ? undefined : loadTls(config.tls, index);
  const admission = new Admission({ maxConnectionsPerIp: config.maxConnectionsPerIp }, ctx.log, ctx.refused);
  const transport = new RawSocketTransport(
    {
      admit: (socket) => admission.admitSocket(socket),
      serializers: config.serializers,
      maxMessageBytes: config.maxMessageBytes,
      maxNestingDepth: config.maxNestingDepth,
      maxMessageItems: config.maxMessageItems,
      minPeerMaxMessageBytes: config.minPeerMaxMessageBytes,
      maxConnections: config.maxConnections,
      pingIntervalMs: config.pingIntervalMs,
      outbound: config.outbound,
      inbound: new InboundBudget(config.maxInboundBytes),
      ...(ctx.refused !== undefined && { onLimit: ctx.refused }),
      ...(config.path !== undefined && { socketPath: config.path }),
    },
    ctx.accept,
    ctx.counters,
    ctx.log,
  );
  let server: NetServer;
  if (tls !== undefined) {
    const secure = createTlsServer(tlsServerOptions(tls), (socket) => transport.handle(socket));
    secure.on('tlsClientError', (_err, socket) => socket.destroy());
    server = secure;
  } else server = createNetServer((socket) => transport.handle(socket));
  const secure = tls !== undefined;
  const scheme = secure ? 'rss' : 'rs';
  let address: ListenerAddress;
  try {
    if (config.path !== undefined) {
      await listenUnix(server, config.path);
      address = { type: 'rawsocket', host: '', port: 0, path: config.path, url: `${scheme}://unix:${config.path}`, secure };
    } else {
      const bound = await listenTcp(server, config.port, config.host);
      address = { type: 'rawsocket', host: bound.address, port: bound.port, path: '', url: `${scheme}://${hostForUrl(bound)}:${bound.port}`, secure };
    }
  } catch (err) {
    transport.terminate();
    throw err;
  }
  address.rawsocketUrl = address.url;
  ctx.log.info({ url: address.url, serializers: config.serializers, maxMessageBytes: transport.maxMessageBytes }, 'listening');
  return {
    address,
    close: () => transport.close(),
    terminate: () => transport.terminate(),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function listenTcp(server: NetServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function listenOnPath(server: NetServer, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Listens on a Unix socket path. A socket file left by a process that died is removed (nobody
 * accepts on it); one that another process still serves is an error.
 */
async function listenUnix(server: NetServer, path: string): Promise<void> {
  try {
    await listenOnPath(server, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (await someoneListens(path))) throw err;
    unlinkSync(path);
    await listenOnPath(server, path);
  }
}

function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
