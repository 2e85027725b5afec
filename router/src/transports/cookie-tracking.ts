/**
 * Crossbar's cookie tracking on WebSocket listeners: the upgrade response sets a random tracking
 * cookie (default name `cbtid`) that the browser sends back on later upgrades. A cookie remembers
 * who its last session authenticated as, so the `cookie` authmethod can welcome the next
 * connection with it. Values are 192 random bits; the store keeps only their SHA-256, so lookups
 * and a leaked store file give nothing to replay. Memory store, or a JSON file rewritten on change.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Dict } from '@switchboard/schemas';

/** The listener's `cookie` block (Crossbar's shape). */
export interface CookieTrackingConfig {
  /** Cookie name (default `cbtid`). */
  name?: string;
  /** Lifetime in seconds (default one day). */
  max_age?: number;
  /** Where cookies are kept (default memory: lost when the router stops). */
  store?: { type: 'memory' } | { type: 'file'; filename: string };
}

export const DEFAULT_COOKIE_NAME = 'cbtid';
export const DEFAULT_COOKIE_MAX_AGE_S = 86_400;
/** Cookies kept in memory at most (logged-in ones are dropped only when they expire). */
const MAX_COOKIES = 100_000;

/** Who a cookie's last session authenticated as (by a method other than cookie). */
export interface CookieIdentity {
  authid: string;
  authrole: string;
  authmethod: string;
  authprovider: string;
  realm: string;
  authextra?: Dict;
}

/** One connection's tracking cookie, as the session and the `cookie` authmethod see it. */
export interface TrackedCookie {
  /** Who the cookie is logged in as, if anyone. */
  identity(): CookieIdentity | undefined;
  /** A session on this cookie authenticated: the cookie now logs in as it. */
  remember(identity: CookieIdentity): void;
  /** GOODBYE wamp.close.logout: the cookie logs in as nobody. */
  forget(): void;
}

interface Entry {
  /** ms since the epoch. */
  created: number;
  identity?: CookieIdentity;
}

export class CookieJar {
  readonly name: string;
  readonly maxAgeS: number;
  readonly #entries = new Map<string, Entry>();
  readonly #file: string | undefined;

  constructor(
    config: CookieTrackingConfig,
    private readonly secure: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.name = config.name ?? DEFAULT_COOKIE_NAME;
    this.maxAgeS = config.max_age ?? DEFAULT_COOKIE_MAX_AGE_S;
    this.#file = config.store?.type === 'file' ? config.store.filename : undefined;
    if (this.#file !== undefined) this.#load(this.#file);
  }

  /**
   * The cookie of an upgrade request: the one it sent, if this jar knows it and it has not
   * expired, or a new one; `setCookie` is the Set-Cookie header value for a new one.
   */
  track(req: IncomingMessage): { cookie: TrackedCookie; setCookie?: string } {
    const sent = cookieValue(req.headers.cookie, this.name);
    if (sent !== undefined) {
      const key = hash(sent);
      const entry = this.#entries.get(key);
      if (entry !== undefined && !this.#expired(entry)) return { cookie: this.#tracked(key) };
    }
    // An unknown value is never adopted: the client gets a fresh one (no session fixation).
    const value = randomBytes(24).toString('base64url');
    const key = hash(value);
    this.#entries.set(key, { created: this.now() });
    this.#sweep();
    const attributes = [`${this.name}=${value}`, `Max-Age=${this.maxAgeS}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
    if (this.secure) attributes.push('Secure');
    return { cookie: this.#tracked(key), setCookie: attributes.join('; ') };
  }

  /** Cookies known (expired ones included until the next sweep). */
  get size(): number {
    return this.#entries.size;
  }

  #tracked(key: string): TrackedCookie {
    return {
      identity: () => {
        const entry = this.#entries.get(key);
        if (entry === undefined || this.#expired(entry)) return undefined;
        return entry.identity;
      },
      remember: (identity) => {
        const entry = this.#entries.get(key);
        if (entry === undefined) return;
        entry.identity = { ...identity };
        this.#save();
      },
      forget: () => {
        const entry = this.#entries.get(key);
        if (entry === undefined || entry.identity === undefined) return;
        delete entry.identity;
        this.#save();
      },
    };
  }

  #expired(entry: Entry): boolean {
    return this.now() - entry.created >= this.maxAgeS * 1000;
  }

  #sweepCounter = 0;

  /**
   * Drops expired cookies now and then (every 256 new ones); past MAX_COOKIES (a flood of
   * connections), the oldest cookies nobody logged in with go first.
   */
  #sweep(): void {
    if (++this.#sweepCounter % 256 !== 0 && this.#entries.size <= MAX_COOKIES) return;
    for (const [key, entry] of this.#entries) if (this.#expired(entry)) this.#entries.delete(key);
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= MAX_COOKIES * 0.9) break;
      if (entry.identity === undefined) this.#entries.delete(key);
    }
  }

  #load(file: string): void {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const value = JSON.parse(text) as { cookies?: Record<string, Entry> };
    for (const [key, entry] of Object.entries(value.cookies ?? {})) {
      if (typeof entry?.created === 'number' && !this.#expired(entry)) this.#entries.set(key, entry);
    }
  }

  /** Logins only (a cookie nobody logged in with is not worth a write); atomically replaced. */
  #save(): void {
    if (this.#file === undefined) return;
    const cookies: Record<string, Entry> = {};
    for (const [key, entry] of this.#entries) if (entry.identity !== undefined && !this.#expired(entry)) cookies[key] = entry;
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, cookies }), { mode: 0o600 });
    renameSync(tmp, this.#file);
  }
}

function hash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The value of cookie `name` in a Cookie header (RFC 6265 §5.4: `a=b; c=d`), the first if repeated. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value === '' ? undefined : value.replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}
