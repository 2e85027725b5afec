/**
 * `Idempotency-Key` for publishers: a request repeated with the same key (by the same identity)
 * within the TTL gets the first answer again instead of publishing twice, so a client can retry
 * a publish whose answer it lost. The same key with a different body is refused (422). Answers
 * with a 5xx status are not kept: retrying those publishes again.
 *
 * Bounded: at most `maxEntries` answers (the oldest forgotten first) for at most the TTL, and a key
 * of at most MAX_IDEMPOTENCY_KEY_LENGTH characters (the publisher refuses a longer one with 400), so
 * one client cannot park large keys for ten minutes (#14).
 */

/** The longest Idempotency-Key accepted (Stripe's limit too): a UUID or an order number fits. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export interface Answer {
  status: number;
  body: unknown;
}

interface Entry {
  digest: string;
  answer: Promise<Answer>;
  expires: number;
}

export class IdempotencyCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first answer for (scope, key), or `work()`'s; 'mismatch' when the key came with another body. */
  async run(scope: string, key: string, digest: string, work: () => Promise<Answer>): Promise<Answer | 'mismatch'> {
    const now = this.now();
    for (const [k, e] of this.#entries) {
      if (e.expires > now) break;
      this.#entries.delete(k);
    }
    const id = `${scope}\0${key}`;
    const entry = this.#entries.get(id);
    if (entry !== undefined) return entry.digest === digest ? entry.answer : 'mismatch';
    const answer = work();
    const created: Entry = { digest, answer, expires: now + this.ttlMs };
    this.#entries.set(id, created);
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    const settled = await answer.catch((err: unknown) => {
      this.#forget(id, created);
      throw err;
    });
    if (settled.status >= 500 || this.ttlMs === 0) this.#forget(id, created);
    return settled;
  }

  #forget(id: string, entry: Entry): void {
    if (this.#entries.get(id) === entry) this.#entries.delete(id);
  }
}
