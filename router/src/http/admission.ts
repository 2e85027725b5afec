/**
 * Who may open a WebSocket on a listener, decided before the upgrade: the browser's `Origin`
 * (against cross-site WebSocket hijacking) and how many connections one IP address holds.
 * A refused upgrade gets an HTTP status and a JSON body saying why; nothing reaches a transport.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';

export interface AdmissionOptions {
  /**
   * Origins a browser page may connect from: exact (`https://app.example.com`) or with `*`
   * standing for any run of characters (`*.example.com`, `https://*.example.com:*`), as in
   * Crossbar. Matched without regard to case. Unset: every origin.
   */
  allowedOrigins?: readonly string[];
  /** With allowedOrigins: also admit `Origin: null` (sandboxed iframes, file:// pages). */
  allowNullOrigin?: boolean;
  /** Open WebSocket connections one IP address may hold on this listener. Unset or 0: no limit. */
  maxConnectionsPerIp?: number;
}

export interface Refusal {
  status: number;
  error: string;
}

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

/** One listener's admission rules, applied to each upgrade request. */
export class UpgradeAdmission {
  readonly #origins: OriginPolicy | undefined;
  readonly #perIp: ConnectionsPerIp | undefined;
  /** Upgrades refused so far, by reason; logged with each refusal. */
  readonly refused = { origin: 0, perIp: 0 };

  constructor(
    options: AdmissionOptions,
    private readonly log: Logger,
  ) {
    this.#origins = options.allowedOrigins === undefined ? undefined : new OriginPolicy(options.allowedOrigins, options.allowNullOrigin === true);
    const limit = options.maxConnectionsPerIp ?? 0;
    this.#perIp = limit > 0 ? new ConnectionsPerIp(limit) : undefined;
  }

  /**
   * Checks an upgrade request. Refused: answers it (403 or 429) and returns false. Admitted: the
   * connection holds one of its IP's slots until the socket closes, and true is returned.
   */
  admit(req: IncomingMessage, socket: Duplex): boolean {
    const refusal = this.#judge(req);
    if (refusal !== undefined) {
      refuseUpgrade(socket, refusal.status, refusal.error);
      return false;
    }
    if (this.#perIp !== undefined) {
      const perIp = this.#perIp;
      const ip = remoteIp(req.socket);
      perIp.acquire(ip);
      socket.once('close', () => perIp.release(ip));
    }
    return true;
  }

  #judge(req: IncomingMessage): Refusal | undefined {
    if (this.#origins !== undefined) {
      const header = req.headers.origin;
      const why = this.#origins.check(header);
      if (why !== undefined) {
        this.refused.origin++;
        this.log.warn({ origin: header, peer: remoteIp(req.socket), refused: this.refused.origin }, 'WebSocket upgrade refused: origin not allowed');
        return { status: 403, error: why };
      }
    }
    if (this.#perIp !== undefined) {
      const ip = remoteIp(req.socket);
      if (this.#perIp.count(ip) >= this.#perIp.limit) {
        this.refused.perIp++;
        this.log.warn({ peer: ip, limit: this.#perIp.limit, refused: this.refused.perIp }, 'WebSocket upgrade refused: too many connections from this address');
        return { status: 429, error: `Too many connections from ${ip} (at most ${this.#perIp.limit} per address)` };
      }
    }
    return undefined;
  }
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
