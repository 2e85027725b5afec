/**
 * Write batching shared by the transports: work registered during one event-loop turn runs once,
 * together, in one setImmediate at the end of that turn (uncork a socket, send a batch, answer a
 * held long-poll request). A burst of messages to one peer then leaves in one write.
 */
export class EndOfTurn<T> {
  #pending: T[] = [];
  #spare: T[] = [];

  /** `run` is called once per item added in a turn; callers keep their own "already added" flag. */
  constructor(private readonly run: (item: T) => void) {}

  add(item: T): void {
    this.#pending.push(item);
    if (this.#pending.length === 1) setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    // Swap first: an item added while running belongs to the next turn.
    const items = this.#pending;
    this.#pending = this.#spare;
    for (let i = 0; i < items.length; i++) this.run(items[i]!);
    items.length = 0;
    this.#spare = items;
  };
}
