/**
 * Brute-force limits: failed authentications are counted per client IP address and per authid
 * over a sliding minute. Past `failuresPerMinute`, that address (or authid) is refused for
 * `blockMs`: ABORT authentication_failed without the credentials being checked (and without a
 * dynamic authenticator being asked). Other addresses and authids are unaffected.
 *
 * A CHALLENGE that is never answered counts as a failure too: a probe that reads challenges and
 * hangs up (to learn which authids exist) is limited like one that guesses.
 *
 * The per-authid count means anyone can lock an authid out by failing on purpose: the price of
 * stopping a password guesser that spreads over many addresses. `failuresPerMinute: 0` turns the
 * limits off.
 */
import { ErrorUri } from '@switchboard/schemas';
import type { Logger } from '../log.js';
import { AUTHENTICATION_FAILED } from './failure.js';
import type { AuthResult, Authenticator, HelloInfo } from './types.js';

export interface FailureLimits {
  /** Failed authentications per address, and per authid, within a minute before it is blocked. 0: no limit. */
  failuresPerMinute: number;
  /** How long a blocked address or authid is refused. */
  blockMs: number;
}

export const DEFAULT_FAILURE_LIMITS: Readonly<FailureLimits> = { failuresPerMinute: 10, blockMs: 60_000 };

const WINDOW_MS = 60_000;
/** Keys tracked at most; past it, idle keys are swept, then the oldest dropped. */
const MAX_KEYS = 100_000;

interface Entry {
  /** Times of the failures within the window, oldest first. */
  failures: number[];
  blockedUntil: number;
  /** Attempts refused during the current block. */
  refused: number;
}

/** The counts (pure: the clock is injected). */
export class FailureLimiter {
  readonly #entries = new Map<string, Entry>();
  /** Totals since start, for logs and tests. */
  readonly totals = { failures: 0, blocks: 0, refusals: 0 };

  constructor(
    readonly limits: FailureLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limits.failuresPerMinute > 0;
  }

  /** The first of `keys` that is blocked now, counting the refusal; undefined if none is. */
  refuse(keys: readonly string[]): { key: string; refused: number; remainingMs: number } | undefined {
    if (!this.enabled) return undefined;
    const now = this.now();
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (entry === undefined || entry.blockedUntil <= now) continue;
      entry.refused++;
      this.totals.refusals++;
      return { key, refused: entry.refused, remainingMs: entry.blockedUntil - now };
    }
    return undefined;
  }

  /** Records one failure under each key; returns the keys this failure blocked. */
  fail(keys: readonly string[]): string[] {
    if (!this.enabled) return [];
    const now = this.now();
    const blocked: string[] = [];
    this.totals.failures++;
    for (const key of keys) {
      let entry = this.#entries.get(key);
      if (entry === undefined) {
        if (this.#entries.size >= MAX_KEYS) this.#evict(now);
        this.#entries.set(key, (entry = { failures: [], blockedUntil: 0, refused: 0 }));
      }
      if (entry.blockedUntil > now) continue; // a failure that raced the block changes nothing
      const failures = entry.failures;
      while (failures.length > 0 && failures[0]! <= now - WINDOW_MS) failures.shift();
      failures.push(now);
      if (failures.length >= this.limits.failuresPerMinute) {
        entry.blockedUntil = now + this.limits.blockMs;
        entry.refused = 0;
        failures.length = 0;
        this.totals.blocks++;
        blocked.push(key);
      }
    }
    return blocked;
  }

  /** Keys tracked now (tests). */
  get size(): number {
    return this.#entries.size;
  }

  #evict(now: number): void {
    for (const [key, entry] of this.#entries) {
      const last = entry.failures[entry.failures.length - 1] ?? 0;
      if (entry.blockedUntil <= now && last <= now - WINDOW_MS) this.#entries.delete(key);
    }
    // Still full of live keys (a flood of distinct ones): the oldest go first.
    for (const key of this.#entries.keys()) {
      if (this.#entries.size < MAX_KEYS * 0.9) break;
      this.#entries.delete(key);
    }
  }
}

/**
 * The client's IP address from TransportDetails.peer (`tcp4:1.2.3.4:5678`, `tcp6:::1:5678`); an
 * IPv4-mapped IPv6 address counts as the IPv4 address it is.
 */
export function clientAddress(peer: string): string {
  const m = /^tcp[46]:(.*):\d+$/.exec(peer);
  const address = m?.[1] ?? peer;
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** What one attempt is counted under. */
function keysOf(hello: HelloInfo): string[] {
  const keys = [`address ${clientAddress(hello.transport.peer)}`];
  if (hello.authid !== undefined) keys.push(`authid ${hello.authid}`);
  return keys;
}

/**
 * Wraps an authenticator in the limits: a blocked address or authid is refused before the
 * authenticator runs (at HELLO, and again at AUTHENTICATE), and every authentication_failed it
 * answers is counted.
 */
export function limitFailures(inner: Authenticator, limiter: FailureLimiter, log: Logger | undefined): Authenticator {
  if (!limiter.enabled) return inner;
  const refused = (hello: HelloInfo, keys: string[]): boolean => {
    const refusal = limiter.refuse(keys);
    if (refusal === undefined) return false;
    // Logged at 1, 2, 4, 8… refusals per block: a flood is visible without flooding the log.
    if ((refusal.refused & (refusal.refused - 1)) === 0) {
      log?.warn(
        { session: hello.session, method: inner.method, blocked: refusal.key, refused: refusal.refused, remainingMs: refusal.remainingMs },
        'authentication refused: too many failures',
      );
    }
    return true;
  };
  const fail = (hello: HelloInfo, keys: string[]): void => {
    for (const key of limiter.fail(keys)) {
      log?.warn(
        { session: hello.session, method: inner.method, blocked: key, blockMs: limiter.limits.blockMs, failuresPerMinute: limiter.limits.failuresPerMinute },
        'authentication blocked: too many failures',
      );
    }
  };
  const observe = (hello: HelloInfo, keys: string[], result: AuthResult | Promise<AuthResult>): AuthResult | Promise<AuthResult> => {
    if (result instanceof Promise) return result.then((r) => observe(hello, keys, r));
    if (result.kind === 'deny' && result.reason === ErrorUri.AuthenticationFailed) fail(hello, keys);
    else if (result.kind === 'challenge') {
      const { respond, abandoned } = result;
      return {
        ...result,
        respond: (signature, extra) => (refused(hello, keys) ? AUTHENTICATION_FAILED : observe(hello, keys, respond(signature, extra))),
        abandoned: () => {
          abandoned?.();
          fail(hello, keys);
        },
      };
    }
    return result;
  };
  return {
    method: inner.method,
    authenticate(hello) {
      const keys = keysOf(hello);
      if (refused(hello, keys)) return AUTHENTICATION_FAILED;
      return observe(hello, keys, inner.authenticate(hello));
    },
    resumeRefused(transport) {
      const keys = [`address ${clientAddress(transport.peer)}`];
      for (const key of limiter.fail(keys)) {
        log?.warn(
          { method: 'resume', blocked: key, blockMs: limiter.limits.blockMs, failuresPerMinute: limiter.limits.failuresPerMinute },
          'authentication blocked: too many failures',
        );
      }
    },
  };
}
