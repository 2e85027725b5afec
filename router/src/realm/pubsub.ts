/**
 * Publish & subscribe in one realm: SUBSCRIBE/UNSUBSCRIBE, PUBLISH (and publishing for a session,
 * for the router, for another cluster node), retention and the retained replay, subscription
 * revocation. The broker plans (broker.ts), the gate authorizes (auth/gate.ts), the fan-out sends
 * (fanout.ts); this module checks the requests and answers them.
 */
import type { Args, Dict, Event, Kwargs, Publish, PublicationId, Subscribe, Unsubscribe, WireArgs } from '@switchboard/schemas';
import { ErrorUri, MessageCode, isReservedUri, isValidUri } from '@switchboard/schemas';
import type { MatchPolicy, UriCheck } from '@switchboard/schemas';
import type { Broker, DeliveryPlan, RecipientFilter, RetainedEvent, Subscription } from '../broker/broker.js';
import type { Allowed, Gate } from '../auth/gate.js';
import { STORE_FAILED, refusal } from '../core/outcome.js';
import type { Outcome } from '../core/outcome.js';
import type { Handled } from '../core/pause.js';
import type { Endpoint } from '../core/endpoint.js';
import { copyPpt, disclose, hasPpt, supportsPpt } from '../details.js';
import { payloadBytes } from '../limits.js';
import type { Quotas } from '../limits.js';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';
import { REMOTE_ORIGIN, ROUTER_ORIGIN } from '../realm-hooks.js';
import type { RealmHookSet } from '../realm-hooks.js';
import type { RouterStats } from '../stats.js';
import { fanOut } from './fanout.js';
import { recipientFilter } from './filter.js';
import { matchRefusal, patternRefusal, refuse } from './requests.js';

/** What pub/sub needs of its realm. */
export interface PubSubParts {
  readonly name: string;
  readonly log: Logger;
  readonly stats: RouterStats;
  readonly uriCheck: UriCheck;
  readonly broker: Broker<Endpoint>;
  readonly gate: Gate<Endpoint>;
  readonly quotas: Quotas;
  readonly hooks: RealmHookSet;
}

const ROUTER_FILTER: RecipientFilter = { excludeMe: false };

export class PubSub {
  /** The realm's name (logs; the cluster's event forwarding). */
  readonly name: string;
  readonly #log: Logger;
  readonly #stats: RouterStats;
  readonly #uriCheck: UriCheck;
  readonly #broker: Broker<Endpoint>;
  readonly #gate: Gate<Endpoint>;
  readonly #quotas: Quotas;
  readonly #hooks: RealmHookSet;

  constructor(parts: PubSubParts) {
    this.name = parts.name;
    this.#log = parts.log;
    this.#stats = parts.stats;
    this.#uriCheck = parts.uriCheck;
    this.#broker = parts.broker;
    this.#gate = parts.gate;
    this.#quotas = parts.quotas;
    this.#hooks = parts.hooks;
  }

  // ---- subscribe ---------------------------------------------------------------------------

  onSubscribe(session: Endpoint, msg: Subscribe): Handled {
    const refused =
      this.#quotas.refusesUri(msg.topic) ??
      this.#quotas.refusesSubscribe(session, msg) ??
      matchRefusal(msg.options) ??
      patternRefusal('topic', msg.topic, (msg.options.match ?? 'exact') as MatchPolicy, this.#uriCheck);
    if (refused !== undefined) return refuse(this.#stats, session, MessageCode.Subscribe, msg.request, refused);
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    return this.#gate.pass(
      session,
      { type: MessageCode.Subscribe, id: msg.request },
      { uri: msg.topic, action: 'subscribe', match, options: msg.options },
      () => this.#subscribe(session, msg),
    );
  }

  readonly #subscribe = (session: Endpoint, msg: Subscribe): void => {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const { subscription, created, added } = this.#broker.subscribe(session, msg.topic, match);
    session.send({ code: MessageCode.Subscribed, request: msg.request, subscription: subscription.id });
    this.#hooks.subscribed(session, subscription, created, added);
    if (msg.options['get_retained'] === true) {
      // A pattern can match many retained topics, all sent at once: the replay is bounded in
      // bytes (the session's outbound soft limit by default); what does not fit is left out.
      const max = this.#quotas.limits.maxRetainedReplayBytes;
      let bytes = 0;
      for (const retained of this.#broker.retainedFor(subscription, session)) {
        bytes += retained.bytes;
        if (bytes > max) {
          this.#stats.limitExceeded('maxRetainedReplayBytes');
          break;
        }
        this.#sendRetained(session, subscription, retained);
      }
    }
  };

  onUnsubscribe(session: Endpoint, msg: Unsubscribe): void {
    const outcome = this.#broker.unsubscribe(session, msg.subscription);
    if (outcome === undefined) return session.sendError(MessageCode.Unsubscribe, msg.request, ErrorUri.NoSuchSubscription);
    session.send({ code: MessageCode.Unsubscribed, request: msg.request });
    this.#hooks.unsubscribed(session, outcome.subscription, outcome.deleted);
  }

  /** [ap_pubsub_subscription_revocation] Removes a subscriber by the router's decision. */
  revokeSubscription(session: Endpoint, subscription: Subscription<Endpoint>, reason?: string): boolean {
    const outcome = this.#broker.unsubscribe(session, subscription.id);
    if (outcome === undefined) return false;
    // [ap_pubsub_subscription_revocation] Only a subscriber that announced the feature is told.
    if (session.supports('subscriber', 'subscription_revocation')) {
      const details: Dict = { subscription: subscription.id };
      if (reason !== undefined) details['reason'] = reason;
      session.send({ code: MessageCode.Unsubscribed, request: 0, details });
    }
    this.#hooks.unsubscribed(session, subscription, outcome.deleted);
    return true;
  }

  /** A leaving session's subscriptions end (observers told of each). */
  leave(session: Endpoint): void {
    for (const { subscription, deleted } of this.#broker.removeSession(session)) this.#hooks.unsubscribed(session, subscription, deleted);
  }

  // ---- publish -----------------------------------------------------------------------------

  onPublish(session: Endpoint, msg: Publish): Handled {
    const quiet = msg.options.acknowledge !== true;
    const overLimit = this.#quotas.refusesUri(msg.topic);
    if (overLimit !== undefined) return refuse(this.#stats, session, MessageCode.Publish, msg.request, overLimit, quiet);
    if (hasPpt(msg.options) && !supportsPpt(session, 'publisher')) {
      return session.protocolViolation(
        'PUBLISH with ppt_scheme or enc_algo from a publisher that announced neither payload_passthru_mode nor payload_transparency',
      );
    }
    return this.#gate.pass(
      session,
      { type: MessageCode.Publish, id: msg.request, quiet },
      { uri: msg.topic, action: 'publish', options: msg.options },
      (allowed) => this.#publish(session, msg, allowed),
    );
  }

  #publish(session: Endpoint, msg: Publish, allowed: Allowed): void {
    const outcome = this.publishAs(session, allowed, msg.topic, msg.args, msg.kwargs, msg.options);
    if (msg.options.acknowledge !== true) return;
    if (!outcome.ok) refuse(this.#stats, session, MessageCode.Publish, msg.request, outcome);
    else if (outcome.stored === undefined) session.send({ code: MessageCode.Published, request: msg.request, publication: outcome.publication });
    else {
      // Durability "ack" (event history): PUBLISHED once the store has the event.
      const request = msg.request;
      const publication = outcome.publication;
      outcome.stored.then(
        () => {
          if (session.live) session.send({ code: MessageCode.Published, request, publication });
        },
        (err: unknown) => {
          const fields = { realm: this.name, err: err instanceof Error ? err.message : String(err) };
          logRefusal(this.#log, 'store_failed', fields, 'event store write failed: an acknowledged PUBLISH answered with ERROR', 'warn');
          if (session.live)
            refuse(this.#stats, session, MessageCode.Publish, request, refusal(STORE_FAILED, 'the event store failed to write the event (it was delivered)'));
        },
      );
    }
  }

  /**
   * Publishes with PUBLISH.Options semantics (filters, disclosure, retention, passthru) on behalf
   * of a session: a PUBLISH, or a testament of a leaving session. `allowed` is the gate's answer
   * for publishing to `topic` (auth/gate.ts): nothing publishes for a session without one.
   * Returns the publication ID, or the refusal the publisher gets if it asked for an
   * acknowledgement.
   */
  publishAs(
    session: Endpoint,
    allowed: Allowed,
    topic: string,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
    options: Dict,
  ): Outcome<{ publication: PublicationId; stored?: Promise<unknown> }> {
    if (!isValidUri(topic, this.#uriCheck)) return refusal(ErrorUri.InvalidUri, `invalid topic URI '${topic}'`);
    if (isReservedUri(topic)) return refusal(ErrorUri.InvalidUri, `topic '${topic}' uses the reserved 'wamp' prefix`);
    const filtered = recipientFilter(options);
    if (!filtered.ok) return filtered;
    const details: Dict = {};
    if (allowed.disclose || options['disclose_me'] === true) disclose(session, details, 'publisher');
    if (hasPpt(options)) copyPpt(options, details);
    const plan = this.#broker.publish(session, topic, filtered.filter);
    if (plan.subscriptions.length > 0) fanOut(this.#log, this.name, plan, details, args, kwargs);
    const retain = options['retain'] === true;
    if (retain) this.#retain(plan, args, kwargs, details);
    if (this.#hooks.observesPublications) {
      const stored = this.#hooks.published(plan, details, args, kwargs, { kind: 'session', retain, acknowledged: options['acknowledge'] === true });
      // Only an acknowledged publication of a history topic with durability "ack" has something to wait for.
      if (stored !== undefined) return { ok: true, publication: plan.publication, stored };
    }
    return { ok: true, publication: plan.publication };
  }

  /** Publishes an event from the router itself (meta events, testaments). */
  publishFromRouter(topic: string, args?: Args, kwargs?: Kwargs): void {
    const plan = this.#broker.publish(undefined, topic, ROUTER_FILTER);
    if (plan.subscriptions.length > 0) fanOut(this.#log, this.name, plan, {}, args, kwargs);
    this.#hooks.published(plan, {}, args, kwargs, ROUTER_ORIGIN);
  }

  /**
   * Whether an event on `topic` may reach anyone: a local subscriber, or one a plugin knows of
   * (on a cluster node, a subscriber elsewhere, which NATS knows and this node does not).
   */
  wantsEvent(topic: string): boolean {
    return this.#broker.hasSubscribers(topic) || this.#hooks.wantsEvent(topic);
  }

  /** A publication from another node, delivered to this node's subscribers (never forwarded again). */
  deliverRemote(
    topic: string,
    publication: PublicationId,
    details: Dict,
    filter: RecipientFilter,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
  ): number {
    const plan = this.#broker.publishAs(publication, topic, filter);
    if (plan.subscriptions.length > 0) fanOut(this.#log, this.name, plan, details, args, kwargs);
    this.#hooks.published(plan, details, args, kwargs, REMOTE_ORIGIN);
    return plan.subscriptions.length;
  }

  /** A retained event published on another node. */
  retainRemote(
    topic: string,
    publication: PublicationId,
    details: Dict,
    filter: RecipientFilter,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
  ): void {
    this.#retain({ publication, publisher: undefined, topic, subscriptions: [], filter }, args, kwargs, details);
  }

  // ---- retention ---------------------------------------------------------------------------

  /** Retains within the realm's maxRetainedBytes; evictions and refusals are counted. */
  #retain(plan: DeliveryPlan<Endpoint>, args: WireArgs | undefined, kwargs: Kwargs | undefined, details: Dict): void {
    const outcome = this.#broker.retain(plan, args, kwargs, details, payloadBytes(args, kwargs, details) + plan.topic.length);
    this.#stats.evicted('maxRetainedBytes', outcome.evicted);
    if (outcome.tooLarge) this.#stats.limitExceeded('maxRetainedBytes');
  }

  #sendRetained(session: Endpoint, subscription: Subscription<Endpoint>, retained: RetainedEvent<Endpoint>): void {
    const details: Dict = { ...retained.details, retained: true };
    if (subscription.match !== 'exact') details['topic'] = retained.topic;
    const event: Event = { code: MessageCode.Event, subscription: subscription.id, publication: retained.publication, details };
    if (retained.args !== undefined) event.args = retained.args;
    if (retained.kwargs !== undefined) event.kwargs = retained.kwargs;
    session.send(event);
  }
}
