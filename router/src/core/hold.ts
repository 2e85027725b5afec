/**
 * The EVENTs of one subscription a session keeps back while a SUBSCRIBE's history replay is read
 * (realm/pubsub.ts, the `history` option): the Hold of core/endpoint.ts. A SharedEvent is built
 * per publication and never reused (realm/fanout.ts), so holding the object keeps its bytes valid.
 */
import type { PublicationId } from '@switchboard/schemas';
import type { Hold, SharedEvent } from './endpoint.js';

export class HeldEvents implements Hold {
  #events: SharedEvent[] = [];
  #overflowed = false;
  #open = true;

  constructor(
    /** Most events held; one more and the hold overflows (what it held is let go). */
    private readonly max: number,
    /** Sends one released event (the session's outbox). */
    private readonly send: (event: SharedEvent) => void,
    /** The hold is over (released or dropped): the session stops routing events here. */
    private readonly done: (hold: HeldEvents) => void,
  ) {}

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** One live event of the held subscription. */
  add(event: SharedEvent): void {
    if (this.#overflowed) return;
    if (this.#events.length >= this.max) {
      this.#overflowed = true;
      this.#events = [];
      return;
    }
    this.#events.push(event);
  }

  holds(publication: PublicationId): boolean {
    return this.#events.some((e) => e.publication === publication);
  }

  release(skip: ReadonlySet<PublicationId>): void {
    if (!this.#open) return;
    const events = this.#end();
    for (const event of events) if (!skip.has(event.publication)) this.send(event);
  }

  drop(): void {
    if (this.#open) this.#end();
  }

  #end(): SharedEvent[] {
    this.#open = false;
    const events = this.#events;
    this.#events = [];
    this.done(this);
    return events;
  }
}
