/**
 * One realm: its sessions, broker and dealer, router-side procedures (the meta API), checks and
 * authorization of what sessions ask, and the glue that turns broker plans into EVENTs (encoded
 * once per subscription per serializer; the same bytes go to every subscriber). Call lifecycles
 * are calls.ts's; a cluster node's part is cluster/'s (RealmCluster).
 */
import { createHash } from 'node:crypto';
import type {
  Args,
  WireArgs,
  Call,
  Cancel,
  Codec,
  Dict,
  EncodedTail,
  ErrorMessage,
  Event,
  Kwargs,
  MatchPolicy,
  Publish,
  PublicationId,
  Register,
  RequestId,
  RegistrationId,
  SessionId,
  SubscriptionId,
  Subscribe,
  Unregister,
  Unsubscribe,
  Yield,
} from '@switchboard/schemas';
import { ErrorUri, MessageCode, isMatchPolicy, isReservedUri, isValidPattern, isValidUri } from '@switchboard/schemas';
import type { UriCheck } from '@switchboard/schemas';
import { Broker, NO_FILTER, isRecipient } from './broker/broker.js';
import { EventHistory } from './broker/history.js';
import type { DeliveryPlan, RecipientFilter, RetainedEvent, Subscription } from './broker/broker.js';
import { Dealer, isInvocationPolicy } from './dealer/dealer.js';
import type { InvocationPolicy, Registration } from './dealer/dealer.js';
import { createAuthorizer } from './auth/index.js';
import { mayMatchReserved } from './auth/coverage.js';
import type { RouterCall } from './auth/dynamic.js';
import { sessionDetails } from './meta/sessions.js';
import type { RoleConfig } from './auth/index.js';
import type { Action, Authorizer, Decision } from './auth/types.js';
import { ALLOW } from './auth/types.js';
import type { Logger } from './log.js';
import { RouterStats } from './stats.js';
import { SharedFrame } from './transports/peer.js';
import type { RouterSession, SessionIdentity } from './session.js';
import { VERSION } from './version.js';
import { Calls } from './calls.js';
import type { RouterProcedure } from './calls.js';
import { copyPpt, disclose, hasPpt, supportsPpt } from './details.js';
import { DEFAULT_REALM_LIMITS, Quotas, payloadBytes } from './limits.js';
import type { RealmLimits } from './limits.js';

export interface RealmOptions {
  name: string;
  uriCheck: UriCheck;
  /** Event retention limits. */
  retention?: { maxTopics: number; ttlMs: number };
  /** Roles and permissions; undefined: every session may do everything. */
  roles?: RoleConfig[] | undefined;
  /** Topics (or patterns) whose last `limit` events are kept for wamp.subscription.get_events. */
  eventHistory?: { topic: string; match: MatchPolicy; limit: number }[];
  /**
   * Subscription and registration IDs: `sequential` (one router) or `derived` (a cluster node:
   * from the realm, policy and URI, so that every node gives one subscription or registration the
   * same ID and the meta API speaks of one route whatever node answers).
   */
  routeIds?: 'sequential' | 'derived';
  /** Quotas per session and byte budgets (limits.ts); defaults for what is unset. */
  limits?: Partial<RealmLimits>;
  /** Replaces the authorizer built from `roles` (an embedder's own, `createRouter({ authorizer })`). */
  authorizer?: Authorizer;
}

/** An encoded frame, or null when the payload could not be encoded. */
type Frame = SharedFrame | null;

export type { CancelMode, RouterProcedure } from './calls.js';

/** Features announced in WELCOME: exactly what this router implements. */
const BROKER_FEATURES = {
  publisher_identification: true,
  publisher_exclusion: true,
  subscriber_blackwhite_listing: true,
  pattern_based_subscription: true,
  event_retention: true,
  event_history: true,
  subscription_revocation: true,
  payload_passthru_mode: true,
  // autobahn-python's and Crossbar's name for it, with enc_algo: see details.ts.
  payload_transparency: true,
  session_meta_api: true,
  subscription_meta_api: true,
  testament_meta_api: true,
};

const DEALER_FEATURES = {
  caller_identification: true,
  pattern_based_registration: true,
  shared_registration: true,
  progressive_call_results: true,
  progressive_call_invocations: true,
  call_timeout: true,
  call_canceling: true,
  registration_revocation: true,
  payload_passthru_mode: true,
  // autobahn-python's and Crossbar's name for it, with enc_algo: see details.ts.
  payload_transparency: true,
  session_meta_api: true,
  registration_meta_api: true,
  testament_meta_api: true,
};

const ROLES = { broker: { features: BROKER_FEATURES }, dealer: { features: DEALER_FEATURES } };

const ROUTER_FILTER: RecipientFilter = { excludeMe: false };

/**
 * What follows the subscription ID in every EVENT of one publication — publication ID, details,
 * payload — encoded at most once per serializer and details variant (exact subscriptions get the
 * publisher's details, pattern subscriptions the same plus `topic`). Each EVENT is then its first
 * two elements plus these bytes. Throws as the codec does.
 */
class EventTails {
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

/**
 * What a cluster node adds to a realm (cluster/); undefined on a single node. The realm stays the
 * one owner of pub/sub and call lifecycles: the cluster forwards publications, claims
 * registrations cluster-wide, and relays the answers of invocations that came from other nodes.
 */
export interface RealmCluster {
  /** A publication was delivered here; hand it to the other nodes (and keep it if retained). */
  published(plan: DeliveryPlan<RouterSession>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined, retain: boolean, acknowledged?: boolean): void;
  /** Claims a registration for the whole cluster before it is made here; an error refuses it. */
  claim(session: RouterSession, procedure: string, match: MatchPolicy, invoke: InvocationPolicy, options: { discloseCaller: boolean; forwardTimeout: boolean }): Promise<{ error: string; message: string } | undefined>;
  /** A YIELD or ERROR this realm's dealer does not know: true when it answers another node's invocation. */
  relayAnswer(session: RouterSession, msg: Yield | ErrorMessage): boolean;
  /** Meta details of the realm's sessions on other nodes. */
  remoteSessions(): Dict[];
  remoteSession(id: number): Dict | undefined;
  /**
   * A session's testaments changed (wamp.session.add_testament / flush_testaments): the cluster
   * keeps a copy, so that they are published even if this node dies with the session. An empty
   * list (or the session leaving) drops it.
   */
  testaments?(session: RouterSession, testaments: readonly { topic: string; args: Args; kwargs: Kwargs; publishOptions: Dict }[]): void;
  /** Subscriptions held on the other nodes (meta API). */
  remoteSubscriptions(): readonly { id: number; topic: string; match: MatchPolicy; created: number; subscribers: number[] }[];
  /** Closes a session on another node (wamp.session.kill); false if there is none. */
  killRemote(id: number, reason: string, message: string, silent?: boolean): boolean;
}

/** Listeners for what happens in a realm (the meta API subscribes here). */
export interface RealmObserver {
  onJoin?(session: RouterSession): void;
  /** `silent`: the session was killed by wamp.session.kill_all (no on_leave event, no testaments). */
  onLeave?(session: RouterSession, silent: boolean): void;
  onSubscriptionCreated?(session: RouterSession, subscription: Subscription<RouterSession>): void;
  onSubscribe?(session: RouterSession, subscription: Subscription<RouterSession>): void;
  onUnsubscribe?(session: RouterSession, subscription: Subscription<RouterSession>): void;
  onSubscriptionDeleted?(session: RouterSession, subscription: Subscription<RouterSession>): void;
  onRegistrationCreated?(session: RouterSession, registration: Registration<RouterSession>): void;
  onRegister?(session: RouterSession, registration: Registration<RouterSession>): void;
  onUnregister?(session: RouterSession, registration: Registration<RouterSession>): void;
  onRegistrationDeleted?(session: RouterSession, registration: Registration<RouterSession>): void;
}

/** An EVENT as its wire array (trailing payload elements only when present). */
function eventWire(subscription: SubscriptionId, plan: DeliveryPlan<RouterSession>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): unknown[] {
  if (kwargs !== undefined) return [MessageCode.Event, subscription, plan.publication, details, args ?? [], kwargs];
  if (args !== undefined) return [MessageCode.Event, subscription, plan.publication, details, args];
  return [MessageCode.Event, subscription, plan.publication, details];
}

function eventMessage(subscription: SubscriptionId, plan: DeliveryPlan<RouterSession>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): Event {
  const event: Event = { code: MessageCode.Event, subscription, publication: plan.publication, details };
  if (args !== undefined) event.args = args;
  if (kwargs !== undefined) event.kwargs = kwargs;
  return event;
}

/**
 * A route's ID derived from what it is: 53 bits of SHA-256 over realm, kind, policy and URI, plus
 * one (an ID is in [1, 2^53]). Two different routes share an ID with odds of about n²/2^54.
 */
function routeId(realm: string, kind: string, match: MatchPolicy, uri: string): number {
  const digest = createHash('sha256').update(`${realm}\0${kind}\0${match}\0${uri}`).digest();
  // 48 bits, then 5 more: exactly 53, all representable in a double.
  return digest.readUIntBE(0, 6) * 32 + (digest[6]! >> 3) + 1;
}

function idSet(value: unknown): ReadonlySet<number> | undefined | null {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) return null;
  return new Set(value as number[]);
}

function stringSet(value: unknown): ReadonlySet<string> | undefined | null {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return null;
  return new Set(value as string[]);
}

export class Realm {
  readonly name: string;
  readonly broker: Broker<RouterSession>;
  readonly dealer: Dealer<RouterSession>;
  readonly sessions = new Map<SessionId, RouterSession>();
  readonly procedures = new Map<string, RouterProcedure>();
  readonly history: EventHistory;
  /** Per-session quotas (limits.ts). */
  readonly quotas: Quotas;
  readonly #observers: RealmObserver[] = [];
  readonly #uriCheck: UriCheck;
  /** Call lifecycles (calls.ts). */
  readonly calls: Calls;
  readonly authorizer: Authorizer;
  /** Set when this router is a cluster node. */
  cluster: RealmCluster | undefined;

  constructor(
    options: RealmOptions,
    readonly log: Logger,
    /** How the realm calls WAMP procedures as the router (dynamic authorizers). */
    call?: RouterCall,
    /** Counters for /metrics. */
    private readonly stats: RouterStats = new RouterStats(),
  ) {
    this.name = options.name;
    this.#uriCheck = options.uriCheck;
    this.authorizer = options.authorizer ?? createAuthorizer(options.roles, call, (subject) => {
      const session = this.sessions.get(subject.id);
      return session === undefined ? { session: subject.id, authid: subject.authid, authrole: subject.authrole } : sessionDetails(session);
    });
    const derived = options.routeIds === 'derived';
    const limits: RealmLimits = { ...DEFAULT_REALM_LIMITS, ...options.limits };
    this.history = new EventHistory(limits.maxHistoryBytes);
    this.broker = new Broker<RouterSession>({
      retention: { ...(options.retention ?? { maxTopics: 10_000, ttlMs: 0 }), maxBytes: limits.maxRetainedBytes },
      ...(derived && { subscriptionIds: { next: (topic: string, match: MatchPolicy) => routeId(this.name, 'subscription', match, topic) as SubscriptionId } }),
    });
    this.dealer = new Dealer<RouterSession>({
      maxInvocationsPerCallee: limits.maxInvocationsPerSession,
      ...(derived && { registrationIds: { next: (procedure: string, match: MatchPolicy) => routeId(this.name, 'registration', match, procedure) as RegistrationId } }),
    });
    this.quotas = new Quotas(limits, this.broker, this.dealer, stats);
    for (const h of options.eventHistory ?? []) this.history.enable(this.broker.ensureSubscription(h.topic, h.match).id, h.limit);
    this.calls = new Calls(this.dealer, this.procedures, stats, log, (session, msg) => this.cluster?.relayAnswer(session, msg));
  }

  observe(observer: RealmObserver): void {
    this.#observers.push(observer);
  }

  // ---- membership --------------------------------------------------------------------------

  welcomeDetails(identity: SessionIdentity, authextra?: Dict): Dict {
    const details: Dict = { realm: this.name, agent: `switchboard-${VERSION}`, roles: ROLES, ...identity };
    if (authextra !== undefined) details['authextra'] = authextra;
    return details;
  }

  /**
   * Runs `then` with the authorizer's decision, at once or when it arrives (the session holds its
   * later messages meanwhile). A denial answers ERROR wamp.error.not_authorized, a failing
   * authorizer wamp.error.authorization_failed; `quiet` (unacknowledged PUBLISH) answers nothing.
   */
  #authorized<M extends { request: RequestId }>(
    session: RouterSession,
    msg: M,
    requestType: MessageCode,
    uri: string,
    action: Action,
    match: MatchPolicy,
    options: Dict,
    then: (session: RouterSession, msg: M, decision: Decision) => void | Promise<void>,
    quiet = false,
  ): void | Promise<void> {
    // The router's own session is not authorized: it acts for the router.
    if (session.identity?.authprovider === 'router') return then(session, msg, ALLOW);
    let decision: Decision | Promise<Decision>;
    try {
      decision = this.authorizer.authorize(session, uri, action, match, options);
    } catch (err) {
      return this.#authorizationFailed(session, msg.request, requestType, uri, err, quiet);
    }
    if (decision instanceof Promise) {
      return decision.then(
        (d) => (session.realm === this ? this.#decided(session, msg, requestType, uri, action, then, quiet, d) : undefined),
        (err: unknown) => this.#authorizationFailed(session, msg.request, requestType, uri, err, quiet),
      );
    }
    return this.#decided(session, msg, requestType, uri, action, then, quiet, decision);
  }

  /**
   * The authorizer's decision on something the router does for `session` outside a message of its
   * own: a meta procedure that reveals events (wamp.subscription.get_events asks `subscribe`), a
   * testament published when the session leaves (`publish`). Throws or rejects as the authorizer.
   */
  decide(session: RouterSession, uri: string, action: Action, match: MatchPolicy = 'exact', options: Dict = {}): Decision | Promise<Decision> {
    if (session.identity?.authprovider === 'router') return ALLOW;
    return this.authorizer.authorize(session, uri, action, match, options);
  }

  #decided<M extends { request: RequestId }>(
    session: RouterSession,
    msg: M,
    requestType: MessageCode,
    uri: string,
    action: Action,
    then: (session: RouterSession, msg: M, decision: Decision) => void | Promise<void>,
    quiet: boolean,
    decision: Decision,
  ): void | Promise<void> {
    if (decision.allow) return then(session, msg, decision);
    if (!quiet) session.sendError(requestType, msg.request, ErrorUri.NotAuthorized, `session is not authorized to ${action} '${uri}'`);
  }

  #authorizationFailed(session: RouterSession, request: RequestId, requestType: MessageCode, uri: string, err: unknown, quiet: boolean): void {
    this.log.warn({ realm: this.name, session: session.id, uri, err: (err as Error).message }, 'authorizer failed');
    if (!quiet && session.realm === this) session.sendError(requestType, request, ErrorUri.AuthorizationFailed, 'authorization failed');
  }

  join(session: RouterSession): void {
    this.sessions.set(session.id, session);
    this.log.debug({ realm: this.name, session: session.id, authid: session.identity?.authid, authrole: session.identity?.authrole, authmethod: session.identity?.authmethod, transport: session.peer.transport.type, peer: session.peer.transport.peer }, 'session joined');
    for (const o of this.#observers) o.onJoin?.(session);
  }

  leave(session: RouterSession, silent = false): void {
    if (!this.sessions.delete(session.id)) return;
    // What the authorizer keeps for this session dies with it.
    this.authorizer.forget?.(session);
    for (const { subscription, deleted } of this.broker.removeSession(session)) {
      for (const o of this.#observers) o.onUnsubscribe?.(session, subscription);
      if (deleted) for (const o of this.#observers) o.onSubscriptionDeleted?.(session, subscription);
    }
    const removal = this.dealer.removeSession(session);
    for (const { registration, deleted } of removal.registrations) {
      for (const o of this.#observers) o.onUnregister?.(session, registration);
      if (deleted) for (const o of this.#observers) o.onRegistrationDeleted?.(session, registration);
    }
    // A callee left: every call pending on it ends now, not at some timeout.
    for (const call of removal.orphanedCalls) this.calls.calleeGone(call, 'callee left the realm before answering');
    // A caller left: callees that can be interrupted are told. [ap_rpc_call_canceling]
    for (const call of removal.abandonedCalls) this.calls.callerGone(call);
    this.log.debug({ realm: this.name, session: session.id, authid: session.identity?.authid, authrole: session.identity?.authrole }, 'session left');
    for (const o of this.#observers) o.onLeave?.(session, silent);
  }

  // ---- publish & subscribe -----------------------------------------------------------------

  onSubscribe(session: RouterSession, msg: Subscribe): void | Promise<void> {
    if (this.quotas.refusesUri(session, MessageCode.Subscribe, msg.request, msg.topic) || this.quotas.refusesSubscribe(session, msg)) return;
    const match = msg.options.match ?? 'exact';
    if (!isMatchPolicy(match)) {
      return session.sendError(MessageCode.Subscribe, msg.request, ErrorUri.InvalidArgument, `unknown match policy '${String(match)}' (exact, prefix or wildcard)`);
    }
    if (!isValidPattern(msg.topic, match, this.#uriCheck)) {
      return session.sendError(MessageCode.Subscribe, msg.request, ErrorUri.InvalidUri, `invalid topic ${match === 'exact' ? 'URI' : `${match} pattern`} '${msg.topic}'`);
    }
    return this.#authorized(session, msg, MessageCode.Subscribe, msg.topic, 'subscribe', match, msg.options, this.#subscribe);
  }

  readonly #subscribe = (session: RouterSession, msg: Subscribe): void => {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const { subscription, created, added } = this.broker.subscribe(session, msg.topic, match);
    session.send({ code: MessageCode.Subscribed, request: msg.request, subscription: subscription.id });
    if (created) for (const o of this.#observers) o.onSubscriptionCreated?.(session, subscription);
    if (added) for (const o of this.#observers) o.onSubscribe?.(session, subscription);
    if (msg.options['get_retained'] === true) {
      // A pattern can match many retained topics, all sent at once: the replay is bounded in
      // bytes (the session's outbound soft limit by default); what does not fit is left out.
      const max = this.quotas.limits.maxRetainedReplayBytes;
      let bytes = 0;
      for (const retained of this.broker.retainedFor(subscription, session)) {
        bytes += retained.bytes;
        if (bytes > max) {
          this.stats.limitExceeded('maxRetainedReplayBytes');
          break;
        }
        this.#sendRetained(session, subscription, retained);
      }
    }
  };

  onUnsubscribe(session: RouterSession, msg: Unsubscribe): void {
    const outcome = this.broker.unsubscribe(session, msg.subscription);
    if (outcome === undefined) return session.sendError(MessageCode.Unsubscribe, msg.request, ErrorUri.NoSuchSubscription);
    session.send({ code: MessageCode.Unsubscribed, request: msg.request });
    this.#unsubscribed(session, outcome.subscription, outcome.deleted);
  }

  /** [ap_pubsub_subscription_revocation] Removes a subscriber by the router's decision. */
  revokeSubscription(session: RouterSession, subscription: Subscription<RouterSession>, reason?: string): boolean {
    const outcome = this.broker.unsubscribe(session, subscription.id);
    if (outcome === undefined) return false;
    // [ap_pubsub_subscription_revocation] Only a subscriber that announced the feature is told.
    if (session.supports('subscriber', 'subscription_revocation')) {
      const details: Dict = { subscription: subscription.id };
      if (reason !== undefined) details['reason'] = reason;
      session.send({ code: MessageCode.Unsubscribed, request: 0, details });
    }
    this.#unsubscribed(session, subscription, outcome.deleted);
    return true;
  }

  #unsubscribed(session: RouterSession, subscription: Subscription<RouterSession>, deleted: boolean): void {
    for (const o of this.#observers) o.onUnsubscribe?.(session, subscription);
    if (deleted) for (const o of this.#observers) o.onSubscriptionDeleted?.(session, subscription);
  }

  onPublish(session: RouterSession, msg: Publish): void | Promise<void> {
    if (this.quotas.refusesUri(session, MessageCode.Publish, msg.request, msg.topic, msg.options.acknowledge !== true)) return;
    if (hasPpt(msg.options) && !supportsPpt(session, 'publisher')) {
      return session.protocolViolation('PUBLISH with ppt_scheme or enc_algo from a publisher that announced neither payload_passthru_mode nor payload_transparency');
    }
    return this.#authorized(session, msg, MessageCode.Publish, msg.topic, 'publish', 'exact', msg.options, this.#publish, msg.options.acknowledge !== true);
  }

  readonly #publish = (session: RouterSession, msg: Publish, decision: Decision): void => {
    const outcome = this.publishAs(session, msg.topic, msg.args, msg.kwargs, msg.options, decision.disclose === true);
    if (msg.options.acknowledge !== true) return;
    if (typeof outcome === 'object') session.sendError(MessageCode.Publish, msg.request, outcome.error, outcome.message);
    else session.send({ code: MessageCode.Published, request: msg.request, publication: outcome });
  };

  /**
   * Publishes with PUBLISH.Options semantics (filters, disclosure, retention, passthru) on behalf
   * of a session: a PUBLISH, or a testament of a leaving session. Returns the publication ID, or
   * the error the publisher gets if it asked for an acknowledgement.
   */
  publishAs(session: RouterSession, topic: string, args: WireArgs | undefined, kwargs: Kwargs | undefined, options: Dict, discloseAlways = false): PublicationId | { error: string; message: string } {
    if (!isValidUri(topic, this.#uriCheck)) return { error: ErrorUri.InvalidUri, message: `invalid topic URI '${topic}'` };
    if (isReservedUri(topic)) return { error: ErrorUri.InvalidUri, message: `topic '${topic}' uses the reserved 'wamp' prefix` };
    const filter = this.#filter(options);
    if (typeof filter === 'string') return { error: ErrorUri.InvalidArgument, message: filter };
    const details: Dict = {};
    if (discloseAlways || options['disclose_me'] === true) disclose(session, details, 'publisher');
    if (hasPpt(options)) copyPpt(options, details);
    const plan = this.broker.publish(session, topic, filter);
    if (plan.subscriptions.length > 0) this.#deliver(plan, details, args, kwargs);
    const retain = options['retain'] === true;
    if (retain) this.#retain(plan, args, kwargs, details);
    if (this.history.size > 0) this.#record(plan, details, args, kwargs);
    this.cluster?.published(plan, details, args, kwargs, retain, options['acknowledge'] === true);
    return plan.publication;
  }

  /** Publishes an event from the router itself (meta events, testaments). */
  publishFromRouter(topic: string, args?: Args, kwargs?: Kwargs): void {
    const plan = this.broker.publish(undefined, topic, ROUTER_FILTER);
    if (plan.subscriptions.length > 0) this.#deliver(plan, {}, args, kwargs);
    this.cluster?.published(plan, {}, args, kwargs, false);
  }

  /**
   * Whether an event on `topic` may reach anyone: a local subscriber, or (on a cluster node) a
   * subscriber elsewhere, which NATS knows and this node does not.
   */
  wantsEvent(topic: string): boolean {
    return this.cluster !== undefined || this.broker.hasSubscribers(topic);
  }

  /** A publication from another node, delivered to this node's subscribers (never forwarded again). */
  deliverRemote(topic: string, publication: PublicationId, details: Dict, filter: RecipientFilter, args: WireArgs | undefined, kwargs: Kwargs | undefined): number {
    const plan = this.broker.publishAs(publication, topic, filter);
    if (plan.subscriptions.length > 0) this.#deliver(plan, details, args, kwargs);
    if (this.history.size > 0) this.#record(plan, details, args, kwargs);
    return plan.subscriptions.length;
  }

  /** A retained event published on another node. */
  retainRemote(topic: string, publication: PublicationId, details: Dict, filter: RecipientFilter, args: WireArgs | undefined, kwargs: Kwargs | undefined): void {
    this.#retain({ publication, publisher: undefined, topic, subscriptions: [], filter }, args, kwargs, details);
  }

  /** Retains within the realm's maxRetainedBytes; evictions and refusals are counted. */
  #retain(plan: DeliveryPlan<RouterSession>, args: WireArgs | undefined, kwargs: Kwargs | undefined, details: Dict): void {
    const outcome = this.broker.retain(plan, args, kwargs, details, payloadBytes(args, kwargs, details) + plan.topic.length);
    this.stats.evicted('maxRetainedBytes', outcome.evicted);
    if (outcome.tooLarge) this.stats.limitExceeded('maxRetainedBytes');
  }

  /** The recipient filter of PUBLISH.Options, or a message saying which option is malformed. */
  #filter(options: Dict): RecipientFilter | string {
    const excludeMe = options['exclude_me'] !== false;
    if (
      options['exclude'] === undefined &&
      options['eligible'] === undefined &&
      options['exclude_authid'] === undefined &&
      options['eligible_authid'] === undefined &&
      options['exclude_authrole'] === undefined &&
      options['eligible_authrole'] === undefined
    ) {
      return excludeMe ? NO_FILTER : { excludeMe: false };
    }
    const exclude = idSet(options['exclude']);
    const eligible = idSet(options['eligible']);
    const excludeAuthid = stringSet(options['exclude_authid']);
    const eligibleAuthid = stringSet(options['eligible_authid']);
    const excludeAuthrole = stringSet(options['exclude_authrole']);
    const eligibleAuthrole = stringSet(options['eligible_authrole']);
    if (exclude === null || eligible === null) return 'exclude and eligible must be lists of session IDs';
    if (excludeAuthid === null || eligibleAuthid === null) return 'exclude_authid and eligible_authid must be lists of strings';
    if (excludeAuthrole === null || eligibleAuthrole === null) return 'exclude_authrole and eligible_authrole must be lists of strings';
    return { excludeMe, exclude, eligible, excludeAuthid, eligibleAuthid, excludeAuthrole, eligibleAuthrole };
  }

  #record(plan: DeliveryPlan<RouterSession>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): void {
    const at = Date.now();
    // Estimated once, and only when some subscription keeps history.
    let bytes: number | undefined;
    for (const subscription of plan.subscriptions) {
      if (!this.history.isEnabled(subscription.id)) continue;
      bytes ??= payloadBytes(args, kwargs, details) + plan.topic.length;
      const outcome = this.history.record({ at, subscription: subscription.id, publication: plan.publication, topic: plan.topic, details, args, kwargs, filter: plan.filter }, bytes);
      this.stats.evicted('maxHistoryBytes', outcome.evicted);
      if (outcome.tooLarge) this.stats.limitExceeded('maxHistoryBytes');
    }
  }

  #deliver(plan: DeliveryPlan<RouterSession>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): void {
    const single = plan.subscriptions.length === 1;
    // One subscription (the exact-match common case): one EVENT, encoded whole once per
    // serializer. Several (patterns): everything after the subscription ID is encoded once per
    // serializer and details variant, and each subscription's EVENT only adds its own ID.
    const tails = single ? undefined : new EventTails(plan.publication, details, plan.topic, args, kwargs);
    for (const subscription of plan.subscriptions) {
      const exact = subscription.match === 'exact';
      // Serialize once per subscription per serializer; every subscriber gets the same bytes.
      // The first serializer seen is kept in locals: most realms use one.
      let codec0: Codec | undefined;
      let frame0: Frame = null;
      let others: Map<Codec, Frame> | undefined;
      for (const subscriber of subscription.subscribers) {
        if (!isRecipient(plan, subscriber)) continue;
        // An in-process subscriber takes the EVENT as an object: nothing to encode. [transports/peer.ts]
        if (subscriber.peer.sendMessage !== undefined) {
          if (subscriber.peer.sendMessage(eventMessage(subscription.id, plan, exact ? details : { ...details, topic: plan.topic }, args, kwargs))) this.stats.countOut(MessageCode.Event);
          continue;
        }
        const codec = subscriber.peer.codec;
        let frame: Frame | undefined;
        if (codec === codec0) frame = frame0;
        else {
          frame = others?.get(codec);
          if (frame === undefined) {
            frame =
              tails === undefined
                ? this.#encodeEvent(codec, () => codec.encode(eventWire(subscription.id, plan, exact ? details : { ...details, topic: plan.topic }, args, kwargs)))
                : this.#encodeEvent(codec, () => codec.encodeWithTail([MessageCode.Event, subscription.id], tails.tail(codec, exact)));
            if (codec0 === undefined) {
              codec0 = codec;
              frame0 = frame;
            } else (others ??= new Map()).set(codec, frame);
          }
        }
        if (frame === null) this.stats.unserializableMessage(codec.name, MessageCode.Event);
        else if (subscriber.peer.sendDroppable(frame)) this.stats.countOut(MessageCode.Event);
      }
    }
  }

  #sendRetained(session: RouterSession, subscription: Subscription<RouterSession>, retained: RetainedEvent<RouterSession>): void {
    const details: Dict = { ...retained.details, retained: true };
    if (subscription.match !== 'exact') details['topic'] = retained.topic;
    const event: Event = { code: MessageCode.Event, subscription: subscription.id, publication: retained.publication, details };
    if (retained.args !== undefined) event.args = retained.args;
    if (retained.kwargs !== undefined) event.kwargs = retained.kwargs;
    session.send(event);
  }

  /**
   * null when the payload cannot be represented in this serializer: those subscribers miss the
   * event.
   */
  #encodeEvent(codec: Codec, encode: () => string | Uint8Array): Frame {
    try {
      return new SharedFrame(encode(), !codec.binary);
    } catch (err) {
      this.log.warn({ realm: this.name, serializer: codec.name, err: (err as Error).message }, 'cannot serialize EVENT: not delivered to these subscribers');
      return null;
    }
  }

  // ---- routed RPC --------------------------------------------------------------------------

  onRegister(session: RouterSession, msg: Register): void | Promise<void> {
    if (this.quotas.refusesUri(session, MessageCode.Register, msg.request, msg.procedure) || this.quotas.refusesRegister(session, msg)) return;
    const match = msg.options.match ?? 'exact';
    if (!isMatchPolicy(match)) {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidArgument, `unknown match policy '${String(match)}' (exact, prefix or wildcard)`);
    }
    const invoke = msg.options.invoke ?? 'single';
    if (!isInvocationPolicy(invoke)) {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidArgument, `unknown invocation policy '${String(invoke)}' (single, roundrobin, random, first or last)`);
    }
    if (!isValidPattern(msg.procedure, match, this.#uriCheck)) {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidUri, `invalid procedure ${match === 'exact' ? 'URI' : `${match} pattern`} '${msg.procedure}'`);
    }
    // A pattern that could take calls to a wamp.* procedure is refused as an exact one is.
    if (mayMatchReserved(msg.procedure, match)) {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidUri, `procedure ${match === 'exact' ? '' : `${match} pattern `}'${msg.procedure}' ${match === 'exact' ? 'uses' : 'reaches'} the reserved 'wamp' prefix`);
    }
    return this.#authorized(session, msg, MessageCode.Register, msg.procedure, 'register', match, msg.options, this.#register);
  }

  readonly #register = (session: RouterSession, msg: Register): void | Promise<void> => {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const invoke = (msg.options.invoke ?? 'single') as InvocationPolicy;
    const options = { discloseCaller: msg.options['disclose_caller'] === true, forwardTimeout: msg.options['forward_timeout'] === true };
    const cluster = this.cluster;
    if (cluster === undefined) return this.#registerHere(session, msg, match, invoke, options);
    // A conflict this node already sees is answered at once; otherwise the cluster decides.
    const existing = this.dealer.lookup(msg.procedure, match);
    if (existing !== undefined && (existing.invoke !== invoke || invoke === 'single')) return this.#registerHere(session, msg, match, invoke, options);
    return cluster.claim(session, msg.procedure, match, invoke, options).then((refused) => {
      if (session.realm !== this) return;
      if (refused !== undefined) return session.sendError(MessageCode.Register, msg.request, refused.error, refused.message);
      this.#registerHere(session, msg, match, invoke, options);
    });
  };

  #registerHere(session: RouterSession, msg: Register, match: MatchPolicy, invoke: InvocationPolicy, options: { discloseCaller: boolean; forwardTimeout: boolean }): void {
    const outcome = this.dealer.register(session, msg.procedure, { match, invoke, ...options });
    if (!outcome.ok) return session.sendError(MessageCode.Register, msg.request, outcome.error, outcome.message);
    session.send({ code: MessageCode.Registered, request: msg.request, registration: outcome.registration.id });
    if (outcome.created) for (const o of this.#observers) o.onRegistrationCreated?.(session, outcome.registration);
    for (const o of this.#observers) o.onRegister?.(session, outcome.registration);
  }

  /**
   * Removes a stand-in for a callee on another node (it left, or its node is gone): calls pending
   * on it end now with wamp.error.canceled. Not a session of this realm: no meta events.
   */
  dropRemoteCallee(session: RouterSession, reason: string): void {
    for (const call of this.dealer.removeSession(session).orphanedCalls) this.calls.calleeGone(call, reason);
  }

  onUnregister(session: RouterSession, msg: Unregister): void {
    const outcome = this.dealer.unregister(session, msg.registration);
    if (outcome === undefined) return session.sendError(MessageCode.Unregister, msg.request, ErrorUri.NoSuchRegistration);
    session.send({ code: MessageCode.Unregistered, request: msg.request });
    this.#unregistered(session, outcome.registration, outcome.deleted);
  }

  /** [ap_rpc_registration_revocation] Removes a callee by the router's decision. */
  revokeRegistration(session: RouterSession, registration: Registration<RouterSession>, reason?: string): boolean {
    const outcome = this.dealer.unregister(session, registration.id);
    if (outcome === undefined) return false;
    if (session.supports('callee', 'registration_revocation')) {
      const details: Dict = { registration: registration.id };
      if (reason !== undefined) details['reason'] = reason;
      session.send({ code: MessageCode.Unregistered, request: 0, details });
    }
    this.#unregistered(session, registration, outcome.deleted);
    return true;
  }

  #unregistered(session: RouterSession, registration: Registration<RouterSession>, deleted: boolean): void {
    for (const o of this.#observers) o.onUnregister?.(session, registration);
    if (deleted) for (const o of this.#observers) o.onRegistrationDeleted?.(session, registration);
  }

  /**
   * Whether a CALL with this request ID continues a progressive call invocation (same request ID,
   * same procedure). [ap_rpc_progressive_call_invocations]
   */
  isCallContinuation(session: RouterSession, request: number, procedure: string): boolean {
    const call = this.dealer.pendingCall(session, request);
    return call !== undefined && call.callerStreaming && call.procedure === procedure;
  }

  onCall(session: RouterSession, msg: Call): void | Promise<void> {
    const continued = this.dealer.pendingCall(session, msg.request);
    if (continued !== undefined && continued.callerStreaming) return this.calls.continueCall(continued, msg);
    if (this.quotas.refusesUri(session, MessageCode.Call, msg.request, msg.procedure) || this.quotas.refusesCall(session, msg.request)) return;
    if (!isValidUri(msg.procedure, this.#uriCheck)) {
      return session.sendError(MessageCode.Call, msg.request, ErrorUri.InvalidUri, `invalid procedure URI '${msg.procedure}'`);
    }
    const timeout = msg.options.timeout ?? 0;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0) {
      return session.sendError(MessageCode.Call, msg.request, ErrorUri.InvalidArgument, 'timeout must be a non-negative integer (milliseconds)');
    }
    const progressive = msg.options['progress'] === true;
    if (progressive && !session.supports('caller', 'progressive_call_invocations')) {
      return session.protocolViolation('CALL with progress: true from a caller that did not announce progressive_call_invocations');
    }
    const ppt = hasPpt(msg.options);
    if (ppt && !supportsPpt(session, 'caller')) {
      return session.protocolViolation('CALL with ppt_scheme or enc_algo from a caller that announced neither payload_passthru_mode nor payload_transparency');
    }
    return this.#authorized(session, msg, MessageCode.Call, msg.procedure, 'call', 'exact', msg.options, this.calls.route);
  }

  onCancel(session: RouterSession, msg: Cancel): void {
    this.calls.cancel(session, msg);
  }

  onCalleeAnswer(session: RouterSession, msg: Yield | ErrorMessage): void {
    this.calls.answer(session, msg);
  }


}
