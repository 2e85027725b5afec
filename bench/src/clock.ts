/**
 * One clock for every bench process. process.hrtime reads CLOCK_MONOTONIC, which is system-wide on
 * Linux, so a timestamp taken in the publisher's process can be subtracted in a subscriber's.
 * As a double it stays exact to the nanosecond for 104 days of uptime.
 */
export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

/** Resolves after `ms` milliseconds. (Not unref'd: an awaited sleep must keep the process alive.) */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the clock passes `deadlineNs` (at once when it already has). */
export function sleepUntil(deadlineNs: number): Promise<void> {
  return sleep(Math.max(0, (deadlineNs - nowNs()) / 1e6));
}

/** Rejects with `what timed out after N ms` unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
