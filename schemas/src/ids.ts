/**
 * WAMP IDs: integers in [1, 2^53]. [bp_identifiers: "IDs"]
 * Global scope (sessions, publications): random, uniform over the whole range.
 * Router scope (subscriptions, registrations) and session scope (requests): sequential.
 */

declare const brand: unique symbol;
/** A number that the type system keeps apart from other IDs. */
export type Branded<T, B extends string> = T & { readonly [brand]: B };

export type SessionId = Branded<number, 'SessionId'>;
export type PublicationId = Branded<number, 'PublicationId'>;
export type SubscriptionId = Branded<number, 'SubscriptionId'>;
export type RegistrationId = Branded<number, 'RegistrationId'>;
export type RequestId = Branded<number, 'RequestId'>;

// 2^53 is the largest integer such that it and every smaller positive integer is exact in a double.
export const MAX_ID = 9007199254740992;

export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

/**
 * Random IDs over [1, 2^53] from the platform CSPRNG (Node and browsers: globalThis.crypto).
 * Math.random is not used: V8 yields 52 random bits, so `random() * 2^53` would never be odd.
 */
export class RandomIds<T extends number = number> {
  readonly #pool = new Uint32Array(512);
  #at = this.#pool.length;

  next(): T {
    if (this.#at + 2 > this.#pool.length) {
      globalThis.crypto.getRandomValues(this.#pool);
      this.#at = 0;
    }
    const high = this.#pool[this.#at++]! & 0x1fffff; // 21 bits
    const low = this.#pool[this.#at++]!; // 32 bits
    // 53 random bits give [0, 2^53 - 1]; +1 shifts to [1, 2^53].
    return (high * 0x100000000 + low + 1) as T;
  }
}

/** Sequential IDs 1, 2, 3, … wrapping back to 1 after 2^53. */
export class SequentialIds<T extends number = number> {
  #last: number;

  /** `last`: the ID to count on from (default 0, so the first is 1), e.g. to resume after a restart. */
  constructor(options: { last?: number } = {}) {
    const last = options.last ?? 0;
    if (last !== 0 && !isId(last)) throw new RangeError(`SequentialIds: last must be 0 or an ID in [1, 2^53], got ${last}`);
    this.#last = last;
  }

  next(): T {
    this.#last = this.#last >= MAX_ID ? 1 : this.#last + 1;
    return this.#last as T;
  }

  /** The last ID handed out (0 before the first). */
  get last(): number {
    return this.#last;
  }
}
