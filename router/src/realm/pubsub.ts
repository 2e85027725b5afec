/**
 * Publish & subscribe in one realm: SUBSCRIBE/UNSUBSCRIBE, PUBLISH (and publishing for a session,
 * for the router, for another cluster node), retention and the retained replay, subscription
 * revocation. The broker plans (broker.ts), the gate authorizes (auth/gate.ts), the fan-out sends
 * (fanout.ts); this module checks the requests and answers them.
 */
import type { Args, Dict, Event, Kwargs, Payload, Publish, PublicationId, Subscribe, Unsubscribe, WireArgs } from '@switchboard/schemas';
import { ErrorUri, MessageCode, isReservedUri, isValidUri } from '@switchboard/schemas';
import type { MatchPolicy, UriCheck } from '@switchboard/schemas';
import type { Broker, DeliveryPlan, RecipientFilter, RetainOutcome, RetainedEvent, Subscription } from '../broker/broker.js';
import type { Allowed, Gate } from '../auth/gate.js';
import { HISTORY_UNAVAILABLE, RefusalError, STORE_FAILED, overLimit, refusal } from '../core/outcome.js';
import type { Outcome, Refusal } from '../core/outcome.js';
import { Pause } from '../core/pause.js';
import type { Handled } from '../core/pause.js';
import type { Endpoint, Hold } from '../core/endpoint.js';
import type { CatchUpReplay, CatchUpRequest } from '../history/store.js';
import { copyPpt, disclose, hasPpt, supportsPpt } from '../details.js';
import { payloadBytes } from '../limits.js';
import type { Quotas } from '../limits.js';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';
import { ACKNOWLEDGED_ORIGIN, REMOTE_ORIGIN, ROUTER_ORIGIN, SESSION_ORIGIN } from '../realm-hooks.js';
import type { CatchUpSource, PublicationOrigin, RealmHookSet } from '../realm-hooks.js';
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
const NOTHING_REPLAYED: ReadonlySet<PublicationId> = new Set();

/**
 * SUBSCRIBE.Options.history, checked: `{after: publication}` or `{last: n}` (n ≥ 1, clamped to
 * `maxPage`), nothing else. Undefined when the option is absent.
 */
export function catchUpRequest(options: Dict, maxPage: number): CatchUpRequest | Refusal | undefined {
  const history = options['history'];
  if (history === undefined) return undefined;
  const wrong = refusal(ErrorUri.InvalidArgument, 'option history must be {after: <publication ID>} or {last: <count ≥ 1>}');
  if (typeof history !== 'object' || history === null || Array.isArray(history)) return wrong;
  const keys = Object.keys(history);
  if (keys.length !== 1) return wrong;
  const value: unknown = (history as Dict)[keys[0]!];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) return wrong;
  if (keys[0] === 'after') return { after: value as PublicationId };
  if (keys[0] === 'last') return { last: Math.min(value, maxPage) };
  return wrong;
}

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
    const history = catchUpRequest(msg.options, this.#quotas.limits.maxHistoryPage);
    if (history === undefined) {
      return this.#gate.pass(
        session,
        { type: MessageCode.Subscribe, id: msg.request },
        { uri: msg.topic, action: 'subscribe', match, options: msg.options },
        () => this.#subscribe(session, msg),
      );
    }
    if ('ok' in history) return refuse(this.#stats, session, MessageCode.Subscribe, msg.request, history);
    const source = this.#hooks.catchUpSource;
    if (source === undefined) {
      return refuse(this.#stats, session, MessageCode.Subscribe, msg.request, refusal(HISTORY_UNAVAILABLE, `realm '${this.name}' keeps no event history`));
    }
    return this.#gate.pass(
      session,
      { type: MessageCode.Subscribe, id: msg.request },
      { uri: msg.topic, action: 'subscribe', match, options: msg.options },
      () => this.#catchUp(session, msg, history, source),
    );
  }

  readonly #subscribe = (session: Endpoint, msg: Subscribe): void => {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const { subscription, created, added } = this.#broker.subscribe(session, msg.topic, match);
    session.send({ code: MessageCode.Subscribed, request: msg.request, subscription: subscription.id });
    this.#hooks.subscribed(session, subscription, created, added);
    if (msg.options['get_retained'] === true) this.#replayRetained(session, subscription, undefined, false);
  };

  /**
   * [ap_pubsub_event_retention] A pattern can match many retained topics, all sent at once: the
   * replay is bounded in bytes (the session's outbound soft limit by default); what does not fit
   * is left out. `skip`: publications the subscriber already got (a catch-up's replay and held
   * events). `gap`: a catch-up's history_gap is still to be said (nothing was replayed): the
   * first retained event sent carries it. Returns whether it is still to be said.
   */
  #replayRetained(session: Endpoint, subscription: Subscription<Endpoint>, skip: ((publication: PublicationId) => boolean) | undefined, gap: boolean): boolean {
    const max = this.#quotas.limits.maxRetainedReplayBytes;
    let bytes = 0;
    for (const retained of this.#broker.retainedFor(subscription, session)) {
      if (skip?.(retained.publication) === true) continue;
      bytes += retained.bytes;
      if (bytes > max) {
        this.#stats.limitExceeded('maxRetainedReplayBytes');
        break;
      }
      this.#sendRetained(session, subscription, retained, gap);
      gap = false;
    }
    return gap;
  }

  // ---- gapless catch-up: SUBSCRIBE with the `history` option -------------------------------
  //
  // The session is subscribed in the broker at once and its live EVENTs of the subscription are
  // held (core/hold.ts) while the catch-up source reads the replay; then, in one synchronous
  // block, SUBSCRIBED, the replay (details.history: true), the retained event if it was not in
  // the replay, and the held live events less those the replay contained. So the subscriber gets
  // every event once, in order: after SUBSCRIBED, the EVENTs with details.history are the replay
  // and the first without it is live.
  //
  // The SUBSCRIBE's Pause holds the session's later input until then, as an asynchronous
  // authorizer's does: a second SUBSCRIBE of the same topic, or an UNSUBSCRIBE, cannot slip in
  // between the broker subscription and its answer (the read is bounded by limits.catchUpTimeoutMs).
  //
  // [F12 of #17's review] history_gap goes on the first EVENT the subscription delivers to the
  // session after SUBSCRIBED: the first replayed one, else the retained one, else the first held
  // or (when none was held) the next live one — a copy for this session alone (core/hold.ts). So a
  // gap with nothing left to replay is still said.

  #catchUp(session: Endpoint, msg: Subscribe, request: CatchUpRequest, source: CatchUpSource): Pause {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const { subscription, created, added } = this.#broker.subscribe(session, msg.topic, match);
    const limits = this.#quotas.limits;
    const hold = session.hold(subscription.id, { maxEvents: limits.maxCatchUpEvents, maxBytes: limits.maxCatchUpBytes, existing: !added });
    this.#hooks.subscribed(session, subscription, created, added);
    let timer: NodeJS.Timeout | undefined;
    const ms = limits.catchUpTimeoutMs;
    const timeout = new Promise<Refusal>((resolve) => {
      timer = setTimeout(() => resolve(refusal(ErrorUri.Timeout, `reading the history took longer than ${ms} ms (limits.catchUpTimeoutMs)`)), ms);
    });
    const read = Promise.race([source(session, subscription, request), timeout]);
    return new Pause(
      read
        .then(
          (outcome) => this.#caughtUp(session, msg, subscription, added, hold, outcome),
          (err: unknown) => {
            // The hook set guards the source; this is a bug here, not the plugin's.
            if (added) hold.drop();
            else hold.release(NOTHING_REPLAYED);
            this.#log.error({ realm: this.name, session: session.id, err: (err as Error).message }, 'catch-up failed');
          },
        )
        .finally(() => clearTimeout(timer)),
    );
  }

  /** The replay was read (or refused): answers the SUBSCRIBE, all in one synchronous block. */
  #caughtUp(session: Endpoint, msg: Subscribe, subscription: Subscription<Endpoint>, added: boolean, hold: Hold, outcome: Outcome<CatchUpReplay>): void {
    // A session that left meanwhile: its subscription went with it; nothing is sent.
    if (!session.live) return hold.drop();
    let refused: Refusal | undefined;
    if (!outcome.ok) refused = outcome;
    else if (hold.overflow === 'events') refused = overLimit({ limit: 'maxCatchUpEvents', value: this.#quotas.limits.maxCatchUpEvents });
    else if (hold.overflow === 'bytes') refused = overLimit({ limit: 'maxCatchUpBytes', value: this.#quotas.limits.maxCatchUpBytes });
    else if (!subscription.subscribers.has(session)) refused = refusal(ErrorUri.Canceled, 'the subscription was removed while its history was read');
    else {
      // [R1 of #17's second review] What follows is queued at once as must-arrive messages: past
      // the connection's outbound hard limit it would cut the subscriber off (even SUBSCRIBED lost).
      const room = session.outboundRoom;
      if (this.#catchUpBytes(session, msg, subscription, outcome, hold) > room) refused = overLimit({ limit: 'outboundHardLimitBytes', value: room });
    }
    if (refused !== undefined) {
      if (added) {
        // Undone as if it never happened.
        hold.drop();
        const undone = this.#broker.unsubscribe(session, subscription.id);
        if (undone !== undefined) this.#hooks.unsubscribed(session, subscription, undone.deleted);
        return refuse(this.#stats, session, MessageCode.Subscribe, msg.request, refused);
      }
      // A subscription the session held before stays, and so do its live events: after the
      // refusal, what was held goes out (released, not dropped), in order.
      refuse(this.#stats, session, MessageCode.Subscribe, msg.request, refused);
      return hold.release(NOTHING_REPLAYED);
    }
    const replay = outcome as CatchUpReplay;
    session.send({ code: MessageCode.Subscribed, request: msg.request, subscription: subscription.id });
    const replayed = new Set<PublicationId>();
    const pattern = subscription.match !== 'exact';
    let gap = replay.gap;
    const lastReplayed = replay.events[replay.events.length - 1];
    for (const e of replay.events) {
      const details: Dict = { ...e.details, history: true };
      if (pattern) details['topic'] = e.topic;
      if (gap) details['history_gap'] = true;
      // The end of the replay, said: a client delivers what it held back then, whatever the link's pace.
      if (e === lastReplayed) details['history_last'] = true;
      gap = false;
      const event: Event = { code: MessageCode.Event, subscription: subscription.id, publication: e.publication, details };
      if (e.args !== undefined) event.args = e.args;
      if (e.kwargs !== undefined) event.kwargs = e.kwargs;
      session.send(event);
      replayed.add(e.publication);
    }
    if (msg.options['get_retained'] === true) gap = this.#replayRetained(session, subscription, (p) => replayed.has(p) || hold.holds(p), gap);
    hold.release(replayed, gap);
  }

  /**
   * What answering a catch-up would queue to `session` in one block: the replay and the retained
   * event (payload estimates, as history and retention count them) and the held events (their
   * encoded bytes). An upper bound: events both replayed and held count twice.
   */
  #catchUpBytes(session: Endpoint, msg: Subscribe, subscription: Subscription<Endpoint>, replay: CatchUpReplay, hold: Hold): number {
    let bytes = hold.bytes;
    const replayed = new Set<PublicationId>();
    for (const e of replay.events) {
      bytes += payloadBytes(e.args, e.kwargs, e.details);
      replayed.add(e.publication);
    }
    if (msg.options['get_retained'] === true) {
      const max = this.#quotas.limits.maxRetainedReplayBytes;
      let retained = 0;
      for (const r of this.#broker.retainedFor(subscription, session)) {
        if (replayed.has(r.publication) || hold.holds(r.publication)) continue;
        if (retained + r.bytes > max) break;
        retained += r.bytes;
      }
      bytes += retained;
    }
    return bytes;
  }

  onUnsubscribe(session: Endpoint, msg: Unsubscribe): void {
    const outcome = this.#broker.unsubscribe(session, msg.subscription);
    if (outcome === undefined) return session.sendError(MessageCode.Unsubscribe, msg.request, ErrorUri.NoSuchSubscription);
    session.unhold(msg.subscription);
    session.send({ code: MessageCode.Unsubscribed, request: msg.request });
    this.#hooks.unsubscribed(session, outcome.subscription, outcome.deleted);
  }

  /** [ap_pubsub_subscription_revocation] Removes a subscriber by the router's decision. */
  revokeSubscription(session: Endpoint, subscription: Subscription<Endpoint>, reason?: string): boolean {
    const outcome = this.#broker.unsubscribe(session, subscription.id);
    if (outcome === undefined) return false;
    session.unhold(subscription.id);
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
  /**
   * A subscription of a session moved here from another node (resumption.ts adopt): made again as
   * a SUBSCRIBE makes it (the observers hear), without an answer (the client has had its
   * SUBSCRIBED) and without authorization again (the identity is the one the old node authorized).
   */
  restore(session: Endpoint, topic: string, match: MatchPolicy): Subscription<Endpoint> {
    const { subscription, created, added } = this.#broker.subscribe(session, topic, match);
    this.#hooks.subscribed(session, subscription, created, added);
    return subscription;
  }

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
    // The PUBLISH is the payload: its args are read only where needed (payload passthrough).
    const outcome = this.publishAs(session, allowed, msg.topic, msg, msg.options);
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
          // The store will not keep it (larger than the realm's budget, store closed): its refusal.
          if (err instanceof RefusalError) return refuse(this.#stats, session, MessageCode.Publish, request, err.refusal, !session.live);
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
    payload: Payload,
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
    if (plan.subscriptions.length > 0) fanOut(this.#log, this.name, plan, details, payload);
    const retained = options['retain'] === true ? this.#retain(plan, payload.args, payload.kwargs, details) : undefined;
    if (this.#hooks.observesPublications) {
      const acknowledged = options['acknowledge'] === true;
      // Without retain, a shared origin: nothing allocated per publication for the hooks.
      const origin: PublicationOrigin =
        retained !== undefined ? { kind: 'session', retain: true, acknowledged, retained } : acknowledged ? ACKNOWLEDGED_ORIGIN : SESSION_ORIGIN;
      const stored = this.#hooks.published(plan, details, payload.args, payload.kwargs, origin);
      // Only an acknowledged publication of a history topic with durability "ack" has something to wait for.
      if (stored !== undefined) return { ok: true, publication: plan.publication, stored };
    }
    return { ok: true, publication: plan.publication };
  }

  /** Publishes an event from the router itself (meta events, testaments). */
  publishFromRouter(topic: string, args?: Args, kwargs?: Kwargs): void {
    const plan = this.#broker.publish(undefined, topic, ROUTER_FILTER);
    if (plan.subscriptions.length > 0) fanOut(this.#log, this.name, plan, {}, { args, kwargs });
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
    if (plan.subscriptions.length > 0) fanOut(this.#log, this.name, plan, details, { args, kwargs });
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
  #retain(plan: DeliveryPlan<Endpoint>, args: WireArgs | undefined, kwargs: Kwargs | undefined, details: Dict): RetainOutcome {
    const outcome = this.#broker.retain(plan, args, kwargs, details, payloadBytes(args, kwargs, details) + plan.topic.length);
    this.#stats.evicted('maxRetainedBytes', outcome.evicted);
    if (outcome.tooLarge) this.#stats.limitExceeded('maxRetainedBytes');
    return outcome;
  }

  #sendRetained(session: Endpoint, subscription: Subscription<Endpoint>, retained: RetainedEvent<Endpoint>, gap: boolean): void {
    const details: Dict = { ...retained.details, retained: true };
    if (gap) details['history_gap'] = true;
    if (subscription.match !== 'exact') details['topic'] = retained.topic;
    const event: Event = { code: MessageCode.Event, subscription: subscription.id, publication: retained.publication, details };
    if (retained.args !== undefined) event.args = retained.args;
    if (retained.kwargs !== undefined) event.kwargs = retained.kwargs;
    session.send(event);
  }
}
