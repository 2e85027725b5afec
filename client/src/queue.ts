/**
 * A single-consumer async queue: what subscriptions and progressive calls hand to `for await`.
 * Bounded: past `limit` the oldest item is dropped and counted (never silent growth).
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #rejectWaiter: ((error: Error) => void) | undefined;
  #done = false;
  #error: Error | undefined;
  dropped = 0;

  constructor(
    private readonly limit = Infinity,
    private readonly onReturn?: () => void,
  ) {}

  push(item: T): void {
    if (this.#done) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    if (this.#items.length >= this.limit) {
      this.#items.shift();
      this.dropped++;
    }
    this.#items.push(item);
  }

  /**
   * No more items: buffered items are still handed out first, then the iterator ends, or its
   * next() rejects with `error` when one is given.
   */
  end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter === undefined) return;
    if (error !== undefined) {
      this.#error = undefined;
      this.#rejectWaiter?.(error);
    } else waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
    if (this.#done) {
      const error = this.#error;
      this.#error = undefined;
      return error !== undefined ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter !== undefined) return Promise.reject(new Error('this iterator already has a pending next(): it has one consumer'));
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#rejectWaiter = reject;
    });
  }

  /** `break` out of `for await`: stop, drop what is buffered, tell the owner. */
  return(): Promise<IteratorResult<T>> {
    this.#items.length = 0;
    const wasDone = this.#done;
    this.end();
    if (!wasDone) this.onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
