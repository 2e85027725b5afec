/**
 * One node:http server per listening endpoint, shared by the WebSocket upgrade, HTTP long-poll,
 * `/health`, and later the HTTP bridge and static files. Routes are exact paths or path prefixes.
 *
 * The port is owned by a front server (node:net, or node:tls for https/wss) that hands each
 * connection to node:http, or, when RawSocket shares the port, first looks at the connection's
 * first octet: 0x7F is a RawSocket handshake (no HTTP request can start with it), anything else is
 * HTTP. [ap_transport_rawsocket: Handshake]
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { RAWSOCKET_MAGIC } from '../transports/rawsocket-framing.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
/** Takes a RawSocket connection; `head` is what was read to recognise it (starts with 0x7F). */
export type RawSocketHandler = (socket: Socket, head: Buffer) => void;

export interface TlsCredentials {
  /** PEM certificate chain. */
  cert: string | Buffer;
  /** PEM private key. */
  key: string | Buffer;
  /** PEM CAs that client certificates must chain to. */
  ca?: (string | Buffer)[];
  /** Mutual TLS: refuse clients without a certificate that verifies against `ca`. */
  requestCert?: boolean;
  /** With requestCert: refuse a client without a verified certificate (default); false lets it connect unverified. */
  rejectUnauthorized?: boolean;
}

/** node:tls server options for a listener's credentials (shared by every TLS listener). */
export function tlsServerOptions(tls: TlsCredentials): TlsOptions {
  const requestCert = tls.requestCert === true;
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca !== undefined && { ca: tls.ca }),
    requestCert,
    rejectUnauthorized: requestCert && tls.rejectUnauthorized !== false,
  };
}

export interface HttpServerOptions {
  /** Serve https and wss (and RawSocket over TLS, when it shares the port). */
  tls?: TlsCredentials;
  /** Accept RawSocket on this port: connections starting with 0x7F go here. */
  rawSocket?: RawSocketHandler;
  /** Hears of a handler that threw (a bug): that request got a 500, the process goes on. */
  onError?: (err: unknown, path: string) => void;
  /**
   * Time to receive a request's headers (default 10 000 ms; at most requestTimeoutMs); past it 408
   * and the connection closes. Also how long a new connection may stay silent on a port shared
   * with RawSocket, and how long a TLS handshake may take.
   */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body (default 30 000 ms); past it 408. Not a held response. */
  requestTimeoutMs?: number;
  /**
   * Asked for every TCP connection the port accepts, before anything is read (the listener's
   * per-address socket count). False: it has destroyed the socket, which goes no further.
   */
  admitTcp?: (socket: Socket) => boolean;
  /** Hears of a request cut by a timeout, by the config key (switchboard_limits_exceeded_total). */
  onLimit?: (limit: string) => void;
  /**
   * Hears of a connection turned away here, before any transport saw it (a WebSocket upgrade on a
   * path with no endpoint, a malformed or late request), to log why: `reason` is a short key.
   */
  onRefused?: (reason: string, fields: Record<string, unknown>, message: string) => void;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class HttpServer {
  /** Never listens itself: the front server hands it connections. */
  readonly server: Server;
  readonly #front: NetServer;
  readonly #rawSocket: RawSocketHandler | undefined;
  readonly #routes = new Map<string, RequestHandler>();
  readonly #prefixes: { prefix: string; handler: RequestHandler }[] = [];
  readonly #upgrades = new Map<string, UpgradeHandler>();
  /** What answers a request no route claims (static files); a 404 without one. */
  #fallback: RequestHandler | undefined;
  /** Connections still being told apart (RawSocket or HTTP). */
  readonly #sniffing = new Set<Socket>();

  readonly #onError: ((err: unknown, path: string) => void) | undefined;
  readonly #onLimit: ((limit: string) => void) | undefined;
  readonly #onRefused: NonNullable<HttpServerOptions['onRefused']>;
  /** How long a connection may stay silent before its protocol is known (RawSocket sharing the port). */
  readonly #sniffTimeoutMs: number;
  /** The request each connection is on, to tell a headers timeout from a body timeout. */
  readonly #current = new WeakMap<Duplex, IncomingMessage>();

  constructor(options: HttpServerOptions = {}) {
    this.#rawSocket = options.rawSocket;
    this.#onError = options.onError;
    this.#onLimit = options.onLimit;
    this.#onRefused = options.onRefused ?? (() => undefined);
    const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // Node refuses a headers timeout longer than the request timeout.
    const headersTimeout = Math.min(options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeout);
    this.#sniffTimeoutMs = headersTimeout;
    this.server = createServer(
      {
        headersTimeout,
        requestTimeout,
        // Node checks the timeouts every this often (30 s by default, which would let a request
        // live that much longer than its timeout): a quarter of the shorter, within 50 ms … 1 s.
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 4))),
      },
      (req, res) => this.#request(req, res),
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    // A request Node's parser refuses (two Content-Length headers, a body longer than announced,
    // garbage) gets 400 with the same JSON error body as every other refusal; never an uncaught error.
    // A request not received in time gets 408, counted by the timeout that cut it.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (timedOut) {
        const req = this.#current.get(socket);
        this.#onLimit?.(req !== undefined && !req.complete ? 'httpRequestTimeoutMs' : 'httpHeadersTimeoutMs');
      }
      if (!socket.writable) return socket.destroy();
      const [status, error] = timedOut
        ? ['408 Request Timeout', 'the request was not received in time']
        : ['400 Bad Request', `malformed HTTP request (${err.code ?? err.message})`];
      this.#onRefused(timedOut ? 'http_timeout' : 'http_malformed', { peer: peerOf(socket) }, `HTTP request refused (${status}): ${error}`);
      const body = JSON.stringify({ error, args: [], kwargs: {} });
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      // A client that does not read the answer does not keep the socket.
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    const admitTcp = options.admitTcp;
    if (options.tls !== undefined) {
      const front = createTlsServer({ ...tlsServerOptions(options.tls), handshakeTimeout: headersTimeout }, (socket: TLSSocket) => this.#connection(socket));
      // Counted as the TCP connection is accepted, before the TLS handshake.
      if (admitTcp !== undefined) front.on('connection', (socket: Socket) => void admitTcp(socket));
      // A failed TLS handshake concerns that client only.
      front.on('tlsClientError', (_err, socket) => socket.destroy());
      this.#front = front;
    } else {
      this.#front = createNetServer((socket) => {
        if (admitTcp === undefined || admitTcp(socket)) this.#connection(socket);
      });
    }
  }

  route(path: string, handler: RequestHandler): void {
    this.#routes.set(path, handler);
  }

  /** Every path that starts with `prefix` (exact routes win). */
  routePrefix(prefix: string, handler: RequestHandler): void {
    this.#prefixes.push({ prefix, handler });
  }

  /**
   * Takes every request no route, prefix or WebSocket path claims: static files mounted at `/`
   * must never shadow the WebSocket path, long-poll, the HTTP bridge or /health.
   */
  fallback(handler: RequestHandler): void {
    this.#fallback = handler;
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    this.#upgrades.set(path, handler);
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#front.once('error', onError);
      this.#front.listen(port, host, () => {
        this.#front.off('error', onError);
        // node:http starts its connection tracking (headers and request timeouts,
        // closeAllConnections) on 'listening'; the front server listens in its place.
        this.server.emit('listening');
        resolve(this.#front.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#front.close(() => resolve());
      for (const socket of this.#sniffing) socket.destroy();
      this.server.closeAllConnections();
      // Stops node:http's connection checks; it never listened, so its own close has nothing else to do.
      this.server.close();
    });
  }

  #connection(socket: Socket): void {
    const rawSocket = this.#rawSocket;
    if (rawSocket === undefined) {
      this.server.emit('connection', socket);
      return;
    }
    this.#sniffing.add(socket);
    const onError = (): void => {
      socket.destroy();
    };
    const onClose = (): void => {
      this.#sniffing.delete(socket);
    };
    socket.on('error', onError);
    socket.once('close', onClose);
    socket.setTimeout(this.#sniffTimeoutMs, () => {
      this.#onLimit?.('httpHeadersTimeoutMs');
      this.#onRefused(
        'handshake_timeout',
        { peer: peerOf(socket), timeoutMs: this.#sniffTimeoutMs },
        `connection dropped: nothing received within ${this.#sniffTimeoutMs} ms (httpHeadersTimeoutMs)`,
      );
      socket.destroy();
    });
    socket.once('data', (head: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      socket.off('error', onError);
      socket.off('close', onClose);
      this.#sniffing.delete(socket);
      if (head[0] === RAWSOCKET_MAGIC) {
        try {
          rawSocket(socket, head);
        } catch (err) {
          this.#onError?.(err, 'rawsocket');
          socket.destroy();
        }
        return;
      }
      socket.unshift(head);
      this.server.emit('connection', socket);
      // node:http reads on; the unshifted octets come first.
      process.nextTick(() => socket.resume());
    });
  }

  /** A handler that throws costs its request (500), never the process. */
  #request(req: IncomingMessage, res: ServerResponse): void {
    this.#current.set(req.socket, req);
    try {
      this.#dispatch(req, res);
    } catch (err) {
      this.#onError?.(err, pathOf(req));
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: 'internal error', args: [], kwargs: {} });
    }
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    const handler = this.#routes.get(path);
    if (handler !== undefined) return handler(req, res);
    for (const { prefix, handler } of this.#prefixes) if (path.startsWith(prefix)) return handler(req, res);
    if (this.#upgrades.has(path)) {
      return sendJson(res, 426, { error: 'this path accepts WebSocket connections only (Upgrade: websocket)' }, { Upgrade: 'websocket' });
    }
    if (this.#fallback !== undefined) return this.#fallback(req, res);
    sendJson(res, 404, { error: `no resource at ${path}` });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const handler = this.#upgrades.get(pathOf(req));
    if (handler === undefined) {
      const body = JSON.stringify({ error: `no WebSocket endpoint at ${pathOf(req)}` });
      const endpoints = [...this.#upgrades.keys()];
      this.#onRefused(
        'no_endpoint',
        { peer: peerOf(req.socket), path: pathOf(req), endpoints },
        `WebSocket upgrade refused (404): no WebSocket endpoint at ${pathOf(req)} (this port has ${endpoints.join(', ') || 'none'})`,
      );
      socket.end(`HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    try {
      handler(req, socket, head);
    } catch (err) {
      // As for requests: the connection is dropped, the process goes on.
      this.#onError?.(err, pathOf(req));
      socket.destroy();
    }
  }
}

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The remote address of a connection, for logs. */
function peerOf(socket: Duplex): string | undefined {
  const address = (socket as Partial<Socket>).remoteAddress;
  return address === undefined ? undefined : address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
