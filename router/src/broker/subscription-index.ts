/**
 * Topic → subscriptions. Exact subscriptions live in a Map keyed by topic, so a publish costs one
 * lookup whatever the number of subscriptions. (Prefix and wildcard indexes join here with the
 * Advanced Profile; until then the broker only creates exact subscriptions.)
 */
import type { MatchPolicy, SubscriptionId } from '@switchboard/schemas';

export interface Subscription<S> {
  readonly id: SubscriptionId;
  readonly topic: string;
  readonly match: MatchPolicy;
  /** Milliseconds since the epoch. */
  readonly created: number;
  readonly subscribers: Set<S>;
}

const NONE: readonly never[] = [];

export class SubscriptionIndex<S> {
  readonly #exact = new Map<string, Subscription<S>>();
  // One-element arrays cached per subscription so an exact publish allocates nothing.
  readonly #exactList = new Map<string, readonly Subscription<S>[]>();

  supports(match: MatchPolicy): boolean {
    return match === 'exact';
  }

  get(topic: string, match: MatchPolicy): Subscription<S> | undefined {
    return match === 'exact' ? this.#exact.get(topic) : undefined;
  }

  add(subscription: Subscription<S>): void {
    if (subscription.match !== 'exact') throw new Error(`match policy '${subscription.match}' is not indexed`);
    this.#exact.set(subscription.topic, subscription);
    this.#exactList.set(subscription.topic, [subscription]);
  }

  remove(subscription: Subscription<S>): void {
    if (this.#exact.get(subscription.topic) === subscription) {
      this.#exact.delete(subscription.topic);
      this.#exactList.delete(subscription.topic);
    }
  }

  /** Every subscription whose pattern matches `topic`. */
  match(topic: string): readonly Subscription<S>[] {
    return this.#exactList.get(topic) ?? NONE;
  }
}
