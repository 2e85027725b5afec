/**
 * The longest delay a timer takes: Node and browsers keep it in a signed 32-bit integer, and run a
 * longer one after 1 ms instead (Node also warns on stderr). A duration from the wire (a CALL's
 * `timeout`, the `timeout` a dealer forwards in INVOCATION.Details) is clamped to it: a caller
 * asking for longer than 24.8 days means "a very long time", which 2^31 - 1 ms keeps.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` clamped to what a timer can wait. */
export function timerMs(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}
