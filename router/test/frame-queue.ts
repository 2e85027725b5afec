/**
 * The one queue of received frames (or messages, or connections) that tests await: whatever
 * arrives is pushed; `next()` takes the oldest (or the oldest that matches a predicate), waiting at
 * most a bounded time and naming what it waited for when it gives up. Items that do not match stay
 * queued, in order, for a later `next()`. A timed-out wait leaves nothing behind, so it cannot
 * swallow the next frame. `end(reason)` is for a connection that closed: waits fail at once
 * instead of running into their timeout.
 */

/** Picks the frame a `next()` wants; the others stay queued. */
export type Predicate<T> = (item: T) => boolean;

interface Waiter<T> {
  readonly accepts: Predicate<T>;
  /** A peek (`silentFor`) sees the item but leaves it queued. */
  readonly consumes: boolean;
  readonly resolve: (item: T) => void;
  readonly reject: (error: Error) => void;
  readonly what: string;
}

const ANY = (): boolean => true;

export class FrameQueue<T> {
  readonly #items: T[] = [];
  /** In arrival order: the longest waiting consumer gets the item. */
  readonly #waiters = new Set<Waiter<T>>();
  #ended: string | undefined;

  /** `what` names an item in timeout messages ("a WAMP message", "a frame from the client"). */
  constructor(readonly what = 'a frame') {}

  /** Bound once, so it can be handed over as a callback. */
  readonly push = (item: T): void => {
    for (const waiter of this.#waiters) {
      if (!waiter.accepts(item)) continue;
      this.#waiters.delete(waiter);
      waiter.resolve(item);
      if (waiter.consumes) return;
    }
    this.#items.push(item);
  };

  /** No more items will come (the connection closed): every wait, now and later, fails at once once the queue is empty. */
  end(reason: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    for (const waiter of this.#waiters) {
      this.#waiters.delete(waiter);
      waiter.reject(new Error(`${reason} while waiting for ${waiter.what}`));
    }
  }

  /** How many items are queued (received and not yet taken). */
  get size(): number {
    return this.#items.length;
  }

  /** The oldest queued item (that matches), taken without waiting; undefined if there is none. */
  take(predicate: Predicate<T> = ANY): T | undefined {
    const i = this.#items.findIndex(predicate);
    return i === -1 ? undefined : this.#items.splice(i, 1)[0];
  }

  /**
   * The oldest item (that matches `predicate`), waiting at most `ms` for it to arrive.
   * `next(ms)` and `next(predicate, ms)` both work.
   */
  next(ms?: number): Promise<T>;
  next(predicate: Predicate<T> | undefined, ms?: number, what?: string): Promise<T>;
  next(predicateOrMs?: Predicate<T> | number, ms = 3000, what?: string): Promise<T> {
    const predicate = typeof predicateOrMs === 'function' ? predicateOrMs : ANY;
    const timeout = typeof predicateOrMs === 'number' ? predicateOrMs : ms;
    const i = this.#items.findIndex(predicate);
    if (i !== -1) return Promise.resolve(this.#items.splice(i, 1)[0]!);
    return this.#wait(predicate, true, timeout, what ?? (predicate === ANY ? this.what : `${this.what} that matches`));
  }

  /**
   * True if nothing (that matches) arrives within `ms` — for asserting that something is NOT
   * delivered, the one place a fixed wait is the test. What arrives stays queued.
   */
  async silentFor(ms: number, predicate: Predicate<T> = ANY): Promise<boolean> {
    if (this.#items.some(predicate)) return false;
    if (this.#ended !== undefined) return true;
    try {
      await this.#wait(predicate, false, ms, 'silence');
      return false;
    } catch (error) {
      if (error instanceof QueueTimeout) return true;
      throw error;
    }
  }

  #wait(accepts: Predicate<T>, consumes: boolean, ms: number, what: string): Promise<T> {
    if (this.#ended !== undefined) return Promise.reject(new Error(`${this.#ended} while waiting for ${what}`));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        accepts,
        consumes,
        what,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new QueueTimeout(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      this.#waiters.add(waiter);
    });
  }
}

/** A wait that ran out of time (told apart from a closed connection by `silentFor`). */
export class QueueTimeout extends Error {
  override name = 'QueueTimeout';
}
