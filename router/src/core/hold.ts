/**
 * The EVENTs of one subscription a session keeps back while a SUBSCRIBE's history replay is read
 * (realm/pubsub.ts, the `history` option): the Hold of core/endpoint.ts. A SharedEvent is built
 * per publication and never reused (realm/fanout.ts), so holding the object keeps its bytes valid.
 */
import type { PublicationId } from '@switchboard/schemas';
import type { Hold, HoldLimits, HoldOverflow, SharedEvent } from './endpoint.js';

/** Where a hold's events go: the session's outbox. */
export interface HeldEventsOutput {
  /** What one event costs the session (its serializer's encoding), counted against `maxBytes`. */
  bytes(event: SharedEvent): number;
  /**
   * Sends one released event as a message that must arrive (never dropped under backpressure:
   * the replay before it was not, and a live event lost after it would be a silent gap). `gap`:
   * the session's own copy, with details.history_gap.
   */
  send(event: SharedEvent, gap: boolean): void;
  /** The hold is over (released, marked or dropped): the session stops routing events here. */
  done(hold: HeldEvents): void;
}

export class HeldEvents implements Hold {
  #events: SharedEvent[] = [];
  #bytes = 0;
  #overflow: HoldOverflow | undefined;
  #open = true;
  /** Released with a gap nothing carried: the next live event carries it (then the hold is over). */
  #marking = false;
  /** The held publications, for `holds` (built when first asked, then kept up to date). */
  #held: Set<PublicationId> | undefined;

  constructor(
    /** Most events and bytes held; one more and the hold overflows (what it held is let go). */
    private readonly limits: HoldLimits,
    private readonly out: HeldEventsOutput,
  ) {}

  get overflow(): HoldOverflow | undefined {
    return this.#overflow;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Released, waiting to flag the next live event with history_gap. */
  get marking(): boolean {
    return this.#marking;
  }

  /** One live event of the held subscription. */
  add(event: SharedEvent): void {
    if (this.#marking) {
      this.#end();
      this.out.send(event, true);
      return;
    }
    if (this.#overflow !== undefined || !this.#open) return;
    if (this.#events.length >= this.limits.maxEvents) return this.#overflowed('events', event);
    this.#bytes += this.out.bytes(event);
    if (this.#bytes > this.limits.maxBytes) return this.#overflowed('bytes', event);
    this.#events.push(event);
    this.#held?.add(event.publication);
  }

  holds(publication: PublicationId): boolean {
    // Asked once per retained event of a get_retained (a pattern: many), so a set, built once.
    if (this.#held === undefined) {
      this.#held = new Set();
      for (const e of this.#events) this.#held.add(e.publication);
    }
    return this.#held.has(publication);
  }

  release(skip: ReadonlySet<PublicationId>, gap = false): void {
    if (!this.#open || this.#marking) return;
    const events = this.#events.filter((e) => !skip.has(e.publication));
    this.#events = [];
    this.#held = undefined;
    this.#bytes = 0;
    if (gap && events.length === 0) {
      // Nothing to carry the gap now: the next live event of the subscription will.
      this.#marking = true;
      return;
    }
    this.#end();
    for (let i = 0; i < events.length; i++) this.out.send(events[i]!, gap && i === 0);
  }

  drop(): void {
    if (!this.#open) return;
    this.#events = [];
    this.#held = undefined;
    this.#bytes = 0;
    this.#end();
  }

  #overflowed(by: HoldOverflow, last: SharedEvent): void {
    this.#overflow = by;
    if (this.limits.existing === true) {
      // [R5 of #17's second review] Live events of a subscription the session already had are
      // not the catch-up's to discard: what is held goes out, this one last, and the rest flows as usual.
      const events = this.#events;
      this.#events = [];
      this.#held = undefined;
      this.#bytes = 0;
      this.#end();
      for (const event of events) this.out.send(event, false);
      this.out.send(last, false);
      return;
    }
    this.#events = [];
    this.#held = undefined;
    this.#bytes = 0;
  }

  #end(): void {
    this.#open = false;
    this.#marking = false;
    this.out.done(this);
  }
}
