/**
 * One subscription, in callback or async-iterator form. It outlives reconnects: the session
 * subscribes it again with its original topic, options and handler. `closed` resolves (never
 * rejects) when it ends: `undefined` after unsubscribe or leave, the error when the router revoked
 * it, refused it again after a reconnect, or the connection gave up.
 */
import type { Dict, SubscribeOptions as WireSubscribeOptions, SubscriptionId } from '@switchboard/schemas/core';
import type { SwitchboardError, WampError } from './errors.js';
import type { EventDetails, EventMessage } from './options.js';
import { AsyncQueue } from './queue.js';

export type EventHandler<A extends unknown[] = unknown[], K = Dict> = (args: A, kwargs: K, details: EventDetails) => void | Promise<void>;

/** What a subscription needs from its session. */
export interface SubscriptionOwner {
  unsubscribe(subscription: Subscription<unknown[], unknown>): Promise<void>;
  reportHandlerError(error: unknown, context: string): void;
}

export type ClosedReason = void | WampError | SwitchboardError;

export class Subscription<A extends unknown[] = unknown[], K = Dict> implements AsyncIterable<EventMessage<A, K>>, AsyncDisposable {
  /** The router's subscription ID in the current session (changes after a reconnect). */
  id: SubscriptionId | undefined;
  readonly closed: Promise<ClosedReason>;
  #resolveClosed!: (reason: ClosedReason) => void;
  #active = true;
  readonly #queue: AsyncQueue<EventMessage<A, K>> | undefined;

  /** @internal created by Session.subscribe */
  constructor(
    private readonly owner: SubscriptionOwner,
    readonly topic: string,
    /** Options as sent in SUBSCRIBE (sent again, unchanged, after a reconnect). */
    readonly options: WireSubscribeOptions,
    readonly handler: EventHandler<A, K> | undefined,
    queueLimit = 10_000,
  ) {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    if (handler === undefined) {
      this.#queue = new AsyncQueue(queueLimit, () => {
        void this.unsubscribe().catch(() => {});
      });
    }
  }

  /** False once unsubscribed or closed. */
  get active(): boolean {
    return this.#active;
  }

  /** Events dropped because the iterator's consumer fell more than `queueLimit` behind. */
  get dropped(): number {
    return this.#queue?.dropped ?? 0;
  }

  unsubscribe(): Promise<void> {
    if (!this.#active) return Promise.resolve();
    return this.owner.unsubscribe(this as unknown as Subscription<unknown[], unknown>);
  }

  [Symbol.asyncIterator](): AsyncIterator<EventMessage<A, K>> {
    if (this.#queue === undefined) throw new TypeError(`the subscription to '${this.topic}' has a handler; subscribe without one to iterate`);
    return this.#queue;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe().catch(() => {});
  }

  /** @internal */
  deliver(args: unknown[], kwargs: Dict, details: EventDetails): void {
    if (!this.#active) return;
    if (this.#queue !== undefined) {
      this.#queue.push({ args: args as A, kwargs: kwargs as K, details });
      return;
    }
    try {
      const out = this.handler!(args as A, kwargs as K, details);
      if (out instanceof Promise) out.catch((err: unknown) => this.owner.reportHandlerError(err, `event handler for '${this.topic}'`));
    } catch (err) {
      this.owner.reportHandlerError(err, `event handler for '${this.topic}'`);
    }
  }

  /** @internal ends the subscription for good. */
  close(reason: ClosedReason): void {
    if (!this.#active) return;
    this.#active = false;
    this.id = undefined;
    this.#queue?.end();
    this.#resolveClosed(reason);
  }
}
