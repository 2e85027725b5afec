/**
 * A listener's budget for incoming messages in progress: bytes received of a message (or HTTP
 * body) that is not complete yet, summed over every connection of every transport on the
 * listener. maxMessageBytes bounds one connection; this bounds them all together, so many
 * connections each holding most of a large unfinished message cannot take the process's memory.
 * A connection charges bytes as they arrive and releases them when its message completes or the
 * connection ends; a charge that would take the listener past its budget is refused, and the
 * transport refuses the connection (or request) that brought it. One integer add per chunk.
 */
export class InboundBudget {
  #used = 0;

  constructor(
    /** Bytes of incomplete messages the listener may hold at once. */
    readonly limit: number,
  ) {}

  /** Bytes charged now. */
  get used(): number {
    return this.#used;
  }

  /** A connection's (or request's) account against this budget. */
  account(): InboundAccount {
    return new InboundAccount(this);
  }

  /** Takes `bytes`; false (nothing taken) if that would pass the limit. */
  take(bytes: number): boolean {
    if (this.#used + bytes > this.limit) return false;
    this.#used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#used -= bytes;
  }
}

/** What one connection or request holds of its listener's inbound budget. */
export class InboundAccount {
  #held = 0;

  constructor(private readonly budget: InboundBudget) {}

  get held(): number {
    return this.#held;
  }

  /** Charges `bytes` more; false (nothing charged) if the listener's budget would be passed. */
  add(bytes: number): boolean {
    if (!this.budget.take(bytes)) return false;
    this.#held += bytes;
    return true;
  }

  /** Lowers the charge to `bytes` (what is still held); never raises it. */
  lower(bytes: number): void {
    if (bytes >= this.#held) return;
    this.budget.give(this.#held - bytes);
    this.#held = bytes;
  }

  /** Gives everything back (message complete, connection closed); harmless when repeated. */
  release(): void {
    this.lower(0);
  }
}
