/**
 * One subscription, in callback or async-iterator form. It outlives reconnects: the session
 * subscribes it again with its original topic, options and handler. `closed` resolves (never
 * rejects) when it ends: `undefined` after unsubscribe or leave, the error when the router revoked
 * it, refused it again after a reconnect, or the connection gave up.
 */
import type { Dict, PublicationId, SubscribeOptions as WireSubscribeOptions, SubscriptionId } from '@switchboard/schemas/core';
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

/**
 * A subscription's events as `for await` takes them, with the publication ID of the last one it
 * took: what an app persists to resume with `subscribe(topic, { history: { after } })`.
 */
export class SubscriptionIterator<A extends unknown[] = unknown[], K = Dict> implements AsyncIterableIterator<EventMessage<A, K>> {
  /** @internal created by Subscription */
  constructor(
    private readonly queue: AsyncQueue<EventMessage<A, K>>,
    private readonly took: (publication: PublicationId) => void,
    private readonly last: () => PublicationId | undefined,
  ) {}

  /** The publication ID of the last event this iterator handed out; undefined before the first. */
  get lastPublication(): PublicationId | undefined {
    return this.last();
  }

  async next(): Promise<IteratorResult<EventMessage<A, K>>> {
    const result = await this.queue.next();
    if (result.done !== true) this.took(result.value.details.publication);
    return result;
  }

  return(): Promise<IteratorResult<EventMessage<A, K>>> {
    return this.queue.return();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<EventMessage<A, K>> {
    return this;
  }
}

export class Subscription<A extends unknown[] = unknown[], K = Dict> implements AsyncIterable<EventMessage<A, K>>, AsyncDisposable {
  /** The router's subscription ID in the current session (changes after a reconnect). */
  id: SubscriptionId | undefined;
  readonly closed: Promise<ClosedReason>;
  #resolveClosed!: (reason: ClosedReason) => void;
  #active = true;
  readonly #queue: AsyncQueue<EventMessage<A, K>> | undefined;
  #iterator: SubscriptionIterator<A, K> | undefined;
  /** The last event handed to the handler, or taken from the iterator. */
  #lastPublication: PublicationId | undefined;
  /** The last event that reached this subscription (queued or handled): where a reconnect resumes. */
  #lastDelivered: PublicationId | undefined;
  /** A gap notice for the next event (a resumption that could not catch up): its `missed` count. */
  #gap: { missed: number | undefined } | undefined;

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

  /**
   * The publication ID of the last event given to the handler, or taken from the iterator
   * (undefined before the first): persist it to resume with `{ history: { after: lastPublication } }`.
   */
  get lastPublication(): PublicationId | undefined {
    return this.#lastPublication;
  }

  /**
   * @internal SUBSCRIBE.Options now: a subscription with the `history` option that already got
   * events resumes after the last one (a reconnect: no gap, no duplicate).
   */
  get wireOptions(): WireSubscribeOptions {
    if (this.options['history'] === undefined || this.#lastDelivered === undefined) return this.options;
    return { ...this.options, history: { after: this.#lastDelivered } };
  }

  /** Events dropped because the iterator's consumer fell more than `queueLimit` behind. */
  get dropped(): number {
    return this.#queue?.dropped ?? 0;
  }

  unsubscribe(): Promise<void> {
    if (!this.#active) return Promise.resolve();
    return this.owner.unsubscribe(this as unknown as Subscription<unknown[], unknown>);
  }

  [Symbol.asyncIterator](): SubscriptionIterator<A, K> {
    const queue = this.#queue;
    if (queue === undefined) throw new TypeError(`the subscription to '${this.topic}' has a handler; subscribe without one to iterate`);
    return (this.#iterator ??= new SubscriptionIterator(
      queue,
      (publication) => (this.#lastPublication = publication),
      () => this.#lastPublication,
    ));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unsubscribe().catch(() => {});
  }

  /**
   * @internal after a session resumption that could not replay what this subscription missed: the
   * next event carries `gap: true` and `missed` (undefined: unknown), for the handler and the
   * iterator alike. Notices before that event add up.
   */
  noticeGap(missed: number | undefined): void {
    if (!this.#active) return;
    const before = this.#gap;
    this.#gap = { missed: before === undefined ? missed : before.missed === undefined || missed === undefined ? undefined : before.missed + missed };
  }

  /** @internal */
  deliver(args: unknown[], kwargs: Dict, details: EventDetails): void {
    if (!this.#active) return;
    const gap = this.#gap;
    if (gap !== undefined) {
      this.#gap = undefined;
      details = { ...details, gap: true };
      if (gap.missed !== undefined) details.missed = gap.missed;
    }
    // A retained event may be older than replayed or live ones: resuming after it would replay them again.
    if (details.retained !== true) this.#lastDelivered = details.publication;
    if (this.#queue !== undefined) {
      this.#queue.push({ args: args as A, kwargs: kwargs as K, details });
      return;
    }
    this.#lastPublication = details.publication;
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
