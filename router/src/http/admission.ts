/**
 * Who may open a connection on a listener, decided before any transport sees it: the browser's
 * `Origin` (against cross-site WebSocket hijacking and cross-site long-poll or SSE use) and how
 * many connections one IP address holds. One gate for every transport of the listener: WebSocket
 * upgrades, RawSocket connections on the same port, long-poll transports and SSE streams take
 * slots of the same per-address count, and long-poll and SSE have per-address limits of their own.
 * RawSocket carries no Origin. A refused request gets an HTTP status and a JSON body saying why (a
 * RawSocket handshake gets error 4); nothing reaches a transport. Below all of these, every TCP
 * connection the port accepts counts against maxSocketsPerIp before a byte is read (a half-sent
 * request holds a socket as surely as a session does). Refusals are counted by limit.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';

export interface AdmissionOptions {
  /**
   * Origins a browser page may connect from: exact (`https://app.example.com`) or with `*`
   * standing for any run of characters (`*.example.com`, `https://*.example.com:*`), as in
   * Crossbar. Matched without regard to case. Unset: every origin.
   */
  allowedOrigins?: readonly string[] | undefined;
  /** With allowedOrigins: also admit `Origin: null` (sandboxed iframes, file:// pages). */
  allowNullOrigin?: boolean | undefined;
  /** Open connections of every kind one IP address may hold on this listener. Unset or 0: no limit. */
  maxConnectionsPerIp?: number | undefined;
  /** Open long-poll transports one IP address may hold. Unset or 0: no limit. */
  maxLongPollTransportsPerIp?: number | undefined;
  /** Open SSE streams one IP address may hold. Unset or 0: no limit. */
  maxSseStreamsPerIp?: number | undefined;
  /**
   * TCP connections one IP address may hold on the port, counted when accepted, before a byte is
   * read (whatever they turn out to carry). Unset or 0: no limit.
   */
  maxSocketsPerIp?: number | undefined;
}

/** What an admitted connection holds until it ends; calling it more than once is harmless. */
export type Release = () => void;

export interface Refusal {
  status: number;
  error: string;
  /** The config key that refused (the metric label). */
  limit: string;
}

/** Connections that are not browser-reachable (RawSocket) have no Origin to check. */
type Kind = 'websocket' | 'rawsocket' | 'longpoll' | 'sse';

const KIND_TEXT: Record<Kind, string> = { websocket: 'WebSocket upgrade', rawsocket: 'RawSocket connection', longpoll: 'long-poll open', sse: 'SSE stream' };

/** Origins as a predicate; patterns compiled once. */
export class OriginPolicy {
  readonly #exact = new Set<string>();
  readonly #patterns: RegExp[] = [];

  constructor(
    allowed: readonly string[],
    readonly allowNull: boolean,
  ) {
    for (const origin of allowed) {
      if (origin.includes('*')) {
        const body = origin
          .split('*')
          .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
          .join('.*');
        this.#patterns.push(new RegExp(`^${body}$`, 'i'));
      } else this.#exact.add(origin.toLowerCase());
    }
  }

  /** Why `origin` is refused, or undefined if it may connect. No Origin (a non-browser client) always may. */
  check(origin: string | undefined): string | undefined {
    if (origin === undefined) return undefined;
    if (origin === 'null') return this.allowNull ? undefined : "Origin 'null' is not allowed on this endpoint";
    const lower = origin.toLowerCase();
    if (this.#exact.has(lower) || this.#patterns.some((p) => p.test(lower))) return undefined;
    return `Origin '${origin}' is not allowed on this endpoint`;
  }
}

/** Open connections per remote address. */
export class ConnectionsPerIp {
  readonly #open = new Map<string, number>();

  constructor(readonly limit: number) {}

  count(ip: string): number {
    return this.#open.get(ip) ?? 0;
  }

  /** Takes a slot for `ip`; false when it already holds `limit` connections. */
  acquire(ip: string): boolean {
    const n = this.count(ip);
    if (n >= this.limit) return false;
    this.#open.set(ip, n + 1);
    return true;
  }

  release(ip: string): void {
    const n = this.count(ip);
    if (n <= 1) this.#open.delete(ip);
    else this.#open.set(ip, n - 1);
  }
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) counts as `10.0.0.1`. */
export function remoteIp(socket: { remoteAddress?: string | undefined }): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** One listener's admission rules, applied to every connection whatever its transport. */
export class Admission {
  readonly #origins: OriginPolicy | undefined;
  readonly #perIp: ConnectionsPerIp | undefined;
  readonly #longpoll: ConnectionsPerIp | undefined;
  readonly #sse: ConnectionsPerIp | undefined;
  readonly #sockets: ConnectionsPerIp | undefined;
  /** Connections refused so far, by reason; logged with each refusal. */
  readonly refused = { origin: 0, perIp: 0, longpoll: 0, sse: 0, sockets: 0 };

  constructor(
    options: AdmissionOptions,
    private readonly log: Logger,
    /** Counts a refusal by the config key that refused it (switchboard_limits_exceeded_total). */
    private readonly onRefused: (limit: string) => void = () => undefined,
  ) {
    this.#origins = options.allowedOrigins === undefined ? undefined : new OriginPolicy(options.allowedOrigins, options.allowNullOrigin === true);
    this.#perIp = limitOf(options.maxConnectionsPerIp);
    this.#longpoll = limitOf(options.maxLongPollTransportsPerIp);
    this.#sse = limitOf(options.maxSseStreamsPerIp);
    this.#sockets = limitOf(options.maxSocketsPerIp);
  }

  /**
   * Checks a TCP connection as it is accepted, before anything is read from it: its address's
   * count of open sockets. Admitted: the slot is held until the socket closes, and true is
   * returned. Refused: the socket is destroyed at once (no answer: nothing was read to answer),
   * counted, and false is returned.
   */
  admitTcp(socket: Duplex & { remoteAddress?: string | undefined }): boolean {
    const sockets = this.#sockets;
    // A Unix socket has no address to count by.
    if (sockets === undefined || socket.remoteAddress === undefined) return true;
    const ip = remoteIp(socket);
    if (!sockets.acquire(ip)) {
      const refused = ++this.refused.sockets;
      this.onRefused('maxSocketsPerIp');
      // Rate-limited (log.refusalIntervalMs): a flood must not flood the log too.
      logRefusal(
        this.log,
        'maxSocketsPerIp',
        { peer: ip, limit: sockets.limit, key: 'maxSocketsPerIp', total: refused },
        `TCP connection from ${ip} refused: more than ${sockets.limit} sockets from this address (maxSocketsPerIp)`,
      );
      socket.destroy();
      return false;
    }
    socket.once('close', () => sockets.release(ip));
    return true;
  }

  /**
   * Checks a WebSocket upgrade request. Refused: answers it (403 or 429) and returns false.
   * Admitted: the connection holds its IP's slot until the socket closes, and true is returned.
   */
  admit(req: IncomingMessage, socket: Duplex): boolean {
    const admitted = this.admitRequest(req, 'websocket');
    if (typeof admitted !== 'function') {
      refuseUpgrade(socket, admitted.status, admitted.error);
      return false;
    }
    socket.once('close', admitted);
    return true;
  }

  /**
   * Checks an HTTP request that opens a long-poll transport or an SSE stream (or a WebSocket
   * upgrade): its Origin, then the address's slots. Admitted: the slots held, released by the
   * returned function. Refused: why, with the HTTP status to answer.
   */
  admitRequest(req: IncomingMessage, kind: 'websocket' | 'longpoll' | 'sse'): Release | Refusal {
    const refusal = this.checkOrigin(req, kind);
    if (refusal !== undefined) return refusal;
    return this.#take(remoteIp(req.socket), kind);
  }

  /** The Origin check alone (every long-poll request, not only the open). */
  checkOrigin(req: IncomingMessage, kind: Kind): Refusal | undefined {
    if (this.#origins === undefined) return undefined;
    const header = req.headers.origin;
    const why = this.#origins.check(header);
    if (why === undefined) return undefined;
    this.refused.origin++;
    this.onRefused('allowedOrigins');
    logRefusal(
      this.log,
      'allowedOrigins',
      { origin: header, peer: remoteIp(req.socket), path: req.url, total: this.refused.origin },
      `${KIND_TEXT[kind]} refused (403): ${why} (allowedOrigins)`,
    );
    return { status: 403, error: why, limit: 'allowedOrigins' };
  }

  /** Checks a RawSocket connection (no Origin): the slot held, or undefined when the address holds too many. */
  admitSocket(socket: { remoteAddress?: string | undefined }): Release | undefined {
    // A Unix socket has no address to count by.
    if (socket.remoteAddress === undefined) return () => undefined;
    const admitted = this.#take(remoteIp(socket), 'rawsocket');
    return typeof admitted === 'function' ? admitted : undefined;
  }

  #take(ip: string, kind: Kind): Release | Refusal {
    const own = kind === 'longpoll' ? this.#longpoll : kind === 'sse' ? this.#sse : undefined;
    if (this.#perIp !== undefined && this.#perIp.count(ip) >= this.#perIp.limit) {
      const refused = ++this.refused.perIp;
      return this.#refuse(
        ip,
        kind,
        'maxConnectionsPerIp',
        this.#perIp.limit,
        refused,
        `Too many connections from ${ip} (at most ${this.#perIp.limit} per address)`,
      );
    }
    if (own !== undefined && own.count(ip) >= own.limit) {
      const longpoll = kind === 'longpoll';
      const refused = longpoll ? ++this.refused.longpoll : ++this.refused.sse;
      const what = longpoll ? 'long-poll transports' : 'SSE streams';
      return this.#refuse(
        ip,
        kind,
        longpoll ? 'maxLongPollTransportsPerIp' : 'maxSseStreamsPerIp',
        own.limit,
        refused,
        `Too many ${what} from ${ip} (at most ${own.limit} per address)`,
      );
    }
    this.#perIp?.acquire(ip);
    own?.acquire(ip);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#perIp?.release(ip);
      own?.release(ip);
    };
  }

  #refuse(ip: string, kind: Kind, limit: string, value: number, refused: number, error: string): Refusal {
    this.onRefused(limit);
    logRefusal(this.log, limit, { peer: ip, limit: value, key: limit, total: refused }, `${KIND_TEXT[kind]} refused (429): ${error} (${limit})`);
    return { status: 429, error, limit };
  }
}

function limitOf(limit: number | undefined): ConnectionsPerIp | undefined {
  return limit !== undefined && limit > 0 ? new ConnectionsPerIp(limit) : undefined;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

/** Answers an upgrade request with an HTTP error and a JSON body `{ error }`, then closes. */
export function refuseUpgrade(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
