/** Reconnect delays: exponential backoff with jitter, in milliseconds. */

export interface ReconnectOptions {
  /** Attempts after a lost connection before giving up (default Infinity). */
  maxRetries?: number;
  /** Delay before the first attempt (default 500 ms). */
  initialDelayMs?: number;
  /** Upper bound for any delay (default 30000 ms). */
  maxDelayMs?: number;
  /** Growth factor per attempt (default 2). */
  multiplier?: number;
  /**
   * Fraction of each delay that is random (default 0.5): the delay is drawn from
   * [base × (1 − jitter), base], so clients cut off together do not come back together.
   */
  jitter?: number;
  /**
   * Also retry the first connection (default false): connect() then waits for a router that is not
   * up yet, with this backoff and at most maxRetries retries, emitting `reconnecting` for each, and
   * rejects with the last error when they run out, at once on a refusal that cannot change (a wrong
   * path, Origin or serializer: UnreachableError.permanent; a fatal ABORT such as no_such_realm or
   * authentication_failed), or when close() is called. Off by default so that a mistyped URL or a
   * router that is down fails fast where a person is watching.
   */
  firstConnection?: boolean;
}

export const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  maxRetries: Infinity,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.5,
  firstConnection: false,
};

/** The delay before attempt `attempt` (1-based). `random` in [0, 1) is injectable for tests. */
export function backoffDelay(attempt: number, options: ReconnectOptions = {}, random: () => number = Math.random): number {
  const o = { ...DEFAULT_RECONNECT, ...options };
  const jitter = Math.min(1, Math.max(0, o.jitter));
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.multiplier ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter * random()));
}
