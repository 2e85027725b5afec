/**
 * The EVENT fan-out: a broker's delivery plan turned into EVENTs, encoded once per subscription
 * per serializer (the same bytes go to every subscriber of one subscription) and, with several
 * subscriptions (patterns), everything after the subscription ID encoded once per serializer and
 * details variant. Pure of routing decisions: the broker planned who receives; each subscriber's
 * outbox sends.
 */
import type { Codec, Dict, EncodedTail, Event, Kwargs, Payload, PublicationId, SubscriptionId, WireArgs } from '@switchboard/schemas';
import { MessageCode, carryPayload, payloadOf, rawPayloadOf } from '@switchboard/schemas';
import { isRecipient } from '../broker/broker.js';
import type { DeliveryPlan } from '../broker/broker.js';
import { FanOutEvent } from '../core/outbox.js';
import type { Endpoint } from '../core/endpoint.js';
import type { Logger } from '../log.js';

/**
 * What follows the subscription ID in every EVENT of one publication — publication ID, details,
 * payload — encoded at most once per serializer and details variant (exact subscriptions get the
 * publisher's details, pattern subscriptions the same plus `topic`). Each EVENT is then its first
 * two elements plus these bytes. Throws as the codec does.
 */
export class EventTails {
  readonly #exact = new Map<Codec, EncodedTail>();
  readonly #pattern = new Map<Codec, EncodedTail>();
  readonly #payload: unknown[];
  #patternDetails: Dict | undefined;

  constructor(
    readonly publication: PublicationId,
    readonly details: Dict,
    readonly topic: string,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
  ) {
    this.#payload = kwargs !== undefined ? [args ?? [], kwargs] : args !== undefined ? [args] : [];
  }

  tail(codec: Codec, exact: boolean): EncodedTail {
    const tails = exact ? this.#exact : this.#pattern;
    let tail = tails.get(codec);
    if (tail === undefined) {
      // A pattern subscriber learns the concrete topic. [ap_pubsub_pattern_based_subscription]
      const details = exact ? this.details : (this.#patternDetails ??= { ...this.details, topic: this.topic });
      tails.set(codec, (tail = codec.encodeTail([this.publication, details, ...this.#payload])));
    }
    return tail;
  }
}

/** An EVENT as its wire array (trailing payload elements only when present). */
function eventWire(
  subscription: SubscriptionId,
  plan: DeliveryPlan<Endpoint>,
  details: Dict,
  args: WireArgs | undefined,
  kwargs: Kwargs | undefined,
): unknown[] {
  if (kwargs !== undefined) return [MessageCode.Event, subscription, plan.publication, details, args ?? [], kwargs];
  if (args !== undefined) return [MessageCode.Event, subscription, plan.publication, details, args];
  return [MessageCode.Event, subscription, plan.publication, details];
}

/**
 * Sends one publication's EVENTs to every recipient of its plan. `realm` names the realm in logs.
 * `source`'s payload is read only where a serializer needs its values: a PUBLISH's payload still in its
 * publisher's bytes (payload passthrough) goes to the subscribers of that serializer as those
 * bytes, behind each EVENT's head.
 */
export function fanOut(log: Logger, realm: string, plan: DeliveryPlan<Endpoint>, details: Dict, source: Payload): void {
  const single = plan.subscriptions.length === 1;
  const raw = rawPayloadOf(source);
  // The payload alone: an EVENT held for a catch-up or a slow receiver keeps these closures, which
  // must not keep the PUBLISH (its options, its head) alive beside it.
  const payload: Payload = payloadOf(source);
  // Read on demand: a payload passed through is decoded only for another serializer.
  const args = (): WireArgs | undefined => payload.args;
  const kwargs = (): Kwargs | undefined => payload.kwargs;
  // One subscription (the exact-match common case): one EVENT, encoded whole once per
  // serializer. Several (patterns): everything after the subscription ID is encoded once per
  // serializer and details variant, and each subscription's EVENT only adds its own ID.
  let tails: EventTails | undefined;
  const tailsFor = (): EventTails => (tails ??= new EventTails(plan.publication, details, plan.topic, args(), kwargs()));
  for (const subscription of plan.subscriptions) {
    const exact = subscription.match === 'exact';
    // A pattern subscriber learns the concrete topic. [ap_pubsub_pattern_based_subscription]
    let eventDetails: Dict | undefined;
    const detailsFor = (): Dict => (eventDetails ??= exact ? details : { ...details, topic: plan.topic });
    // Serialized at most once per serializer for the whole subscription (the outbox of each
    // subscriber asks for its own serializer's bytes); every subscriber gets the same bytes.
    const event = new FanOutEvent(
      log,
      realm,
      subscription.id,
      plan.publication,
      (codec) => {
        // The publisher's bytes, in its serializer: only the head is encoded.
        if (raw !== undefined && raw.codec === codec.name)
          return codec.encodeWithTail([MessageCode.Event, subscription.id, plan.publication, detailsFor()], raw.tail);
        return single
          ? codec.encode(eventWire(subscription.id, plan, detailsFor(), args(), kwargs()))
          : codec.encodeWithTail([MessageCode.Event, subscription.id], tailsFor().tail(codec, exact));
      },
      () => carryPayload<Event>({ code: MessageCode.Event, subscription: subscription.id, publication: plan.publication, details: detailsFor() }, payload),
    );
    for (const subscriber of subscription.subscribers) {
      if (isRecipient(plan, subscriber)) subscriber.sendEvent(event);
    }
  }
}
