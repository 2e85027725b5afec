/**
 * One realm: its sessions, broker and dealer, router-side procedures (the meta API), checks and
 * authorization of what sessions ask, and the glue that turns broker plans into EVENTs (encoded
 * once per subscription per serializer; the same bytes go to every subscriber). Call lifecycles
 * are calls.ts's. What is not routing — meta API, event history, a cluster node's part — comes
 * from plugins (realm-plugin.ts) and hears of the realm through its hooks (realm-hooks.ts).
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
import type { DeliveryPlan, RecipientFilter, RetainedEvent, Subscription } from './broker/broker.js';
import { Dealer, isInvocationPolicy } from './dealer/dealer.js';
import type { InvocationPolicy, Registration } from './dealer/dealer.js';
import { createAuthorizer } from './auth/index.js';
import type { Authorizer } from './auth/types.js';
import { mayMatchReserved } from './auth/coverage.js';
import type { RouterCall } from './auth/dynamic.js';
import { sessionDetails } from './meta/sessions.js';
import type { RoleConfig } from './auth/index.js';
import { Gate } from './auth/gate.js';
import { refusal } from './core/outcome.js';
import type { Outcome } from './core/outcome.js';
import type { Allowed } from './auth/gate.js';
import type { Logger } from './log.js';
import { RouterStats } from './stats.js';
import { FanOutEvent } from './core/outbox.js';
import { Pause } from './core/pause.js';
import type { Handled } from './core/pause.js';
import type { Endpoint, SessionIdentity } from './core/endpoint.js';
import { VERSION } from './version.js';
import { Calls } from './calls.js';
import type { IncomingCall, RouterProcedure } from './calls.js';
import { copyPpt, disclose, hasPpt, supportsPpt } from './details.js';
import { DEFAULT_REALM_LIMITS, Quotas, payloadBytes } from './limits.js';
import type { RealmLimits } from './limits.js';
import { REMOTE_ORIGIN, ROUTER_ORIGIN, RealmHookSet } from './realm-hooks.js';
import type { RealmHooks } from './realm-hooks.js';
import { deepFreeze } from './core/freeze.js';

export interface RealmOptions {
  name: string;
  uriCheck: UriCheck;
  /** Event retention limits. */
  retention?: { maxTopics: number; ttlMs: number };
  /** Roles and permissions; undefined: every session may do everything. */
  roles?: RoleConfig[] | undefined;
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

/** Deep-frozen: every WELCOME, in-process ones too, hands out this one object. */
const ROLES = deepFreeze({ broker: { features: BROKER_FEATURES }, dealer: { features: DEALER_FEATURES } });

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

export type { RealmObserver } from './realm-hooks.js';

/** An EVENT as its wire array (trailing payload elements only when present). */
function eventWire(subscription: SubscriptionId, plan: DeliveryPlan<Endpoint>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): unknown[] {
  if (kwargs !== undefined) return [MessageCode.Event, subscription, plan.publication, details, args ?? [], kwargs];
  if (args !== undefined) return [MessageCode.Event, subscription, plan.publication, details, args];
  return [MessageCode.Event, subscription, plan.publication, details];
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

const isNumber = (v: unknown): v is number => typeof v === 'number';
const isString = (v: unknown): v is string => typeof v === 'string';
const SESSION_IDS = 'exclude and eligible must be lists of session IDs';
const AUTHIDS = 'exclude_authid and eligible_authid must be lists of strings';
const AUTHROLES = 'exclude_authrole and eligible_authrole must be lists of strings';

/** A list option of PUBLISH.Options as a set (undefined when absent), or the refusal `message` when it is no such list. */
function setOption<T>(options: Dict, key: string, is: (v: unknown) => v is T, message: string): Outcome<{ set: ReadonlySet<T> | undefined }> {
  const value = options[key];
  if (value === undefined) return { ok: true, set: undefined };
  if (!Array.isArray(value) || !value.every(is)) return refusal(ErrorUri.InvalidArgument, message);
  return { ok: true, set: new Set(value) };
}

/** The two filters without lists, answered without allocating (every plain PUBLISH). */
const NO_FILTER_OUTCOME = { ok: true, filter: NO_FILTER } as const;
const INCLUDE_ME_OUTCOME = { ok: true, filter: { excludeMe: false } } as const;

export class Realm {
  readonly name: string;
  readonly broker: Broker<Endpoint>;
  readonly dealer: Dealer<Endpoint>;
  readonly sessions = new Map<SessionId, Endpoint>();
  /** Router procedures (the meta API, plugins'), by URI: added through `procedure`. */
  readonly #procedures = new Map<string, RouterProcedure>();
  /** Per-session quotas (limits.ts). */
  readonly quotas: Quotas;
  /** What plugins observe and answer (realm-hooks.ts). */
  readonly hooks = new RealmHookSet();
  readonly #observers = this.hooks.list;
  readonly #uriCheck: UriCheck;
  /** Call lifecycles (calls.ts). */
  readonly calls: Calls<Endpoint>;
  /** The one authorization gate (auth/gate.ts): every route a session takes here passes it. */
  readonly gate: Gate<Endpoint>;

  constructor(
    options: RealmOptions,
    readonly log: Logger,
    /** How the realm calls WAMP procedures as the router (dynamic authorizers). */
    call?: RouterCall,
    /** Counters for /metrics. */
    readonly stats: RouterStats = new RouterStats(),
  ) {
    this.name = options.name;
    this.#uriCheck = options.uriCheck;
    const authorizer = options.authorizer ?? createAuthorizer(options.roles, call, (subject) => {
      const session = this.sessions.get(subject.id);
      return session === undefined ? { session: subject.id, authid: subject.authid, authrole: subject.authrole } : sessionDetails(session);
    });
    this.gate = new Gate<Endpoint>({ authorizer, log, realm: this.name, belongs: (session) => session.live && this.sessions.get(session.id) === session });
    const derived = options.routeIds === 'derived';
    const limits: RealmLimits = { ...DEFAULT_REALM_LIMITS, ...options.limits };
    this.broker = new Broker<Endpoint>({
      retention: { ...(options.retention ?? { maxTopics: 10_000, ttlMs: 0 }), maxBytes: limits.maxRetainedBytes },
      ...(derived && { subscriptionIds: { next: (topic: string, match: MatchPolicy) => routeId(this.name, 'subscription', match, topic) as SubscriptionId } }),
    });
    this.dealer = new Dealer<Endpoint>({
      maxInvocationsPerCallee: limits.maxInvocationsPerSession,
      ...(derived && { registrationIds: { next: (procedure: string, match: MatchPolicy) => routeId(this.name, 'registration', match, procedure) as RegistrationId } }),
    });
    this.quotas = new Quotas(limits, this.broker, this.dealer, stats);
    this.calls = new Calls<Endpoint>(this.dealer, this.#procedures, stats, log, {
      relayAnswer: (session, msg) => this.hooks.takeAnswer(session, msg),
      maxCalls: (caller) => this.quotas.callLimit(caller),
    });
  }

  /** Adds hooks (realm-hooks.ts); the function returned removes them. */
  observe(hooks: RealmHooks): () => void {
    return this.hooks.add(hooks);
  }

  /**
   * Adds a router procedure (the meta API, a plugin's). Two owners of one URI are a bug: the
   * second is refused with an Error. The function returned removes this one.
   */
  procedure(uri: string, handler: RouterProcedure): () => void {
    if (this.#procedures.has(uri)) throw new Error(`realm '${this.name}' already has a router procedure '${uri}'`);
    this.#procedures.set(uri, handler);
    return () => {
      if (this.#procedures.get(uri) === handler) this.#procedures.delete(uri);
    };
  }

  /** The router procedure with this URI, if any. */
  routerProcedure(uri: string): RouterProcedure | undefined {
    return this.#procedures.get(uri);
  }

  // ---- membership --------------------------------------------------------------------------

  welcomeDetails(identity: SessionIdentity, authextra?: Dict): Dict {
    const details: Dict = { realm: this.name, agent: `switchboard-${VERSION}`, roles: ROLES, ...identity };
    if (authextra !== undefined) details['authextra'] = authextra;
    return details;
  }

  join(session: Endpoint): void {
    this.sessions.set(session.id, session);
    this.log.debug({ realm: this.name, session: session.id, authid: session.identity.authid, authrole: session.identity.authrole, authmethod: session.identity.authmethod, transport: session.transport.type, peer: session.transport.peer }, 'session joined');
    for (const o of this.#observers) o.onJoin?.(session);
  }

  leave(session: Endpoint, silent = false): void {
    if (!this.sessions.delete(session.id)) return;
    // What the authorizer keeps for this session dies with it.
    this.gate.forget(session);
    for (const { subscription, deleted } of this.broker.removeSession(session)) {
      for (const o of this.#observers) o.onUnsubscribe?.(session, subscription);
      if (deleted) for (const o of this.#observers) o.onSubscriptionDeleted?.(session, subscription);
    }
    const removal = this.dealer.removeSession(session);
    for (const { registration, deleted } of removal.registrations) {
      for (const o of this.#observers) o.onUnregister?.(session, registration);
      if (deleted) for (const o of this.#observers) o.onRegistrationDeleted?.(session, registration);
    }
    // Every call the session served or made ends now, not at some timeout.
    this.calls.leave(session, removal);
    this.log.debug({ realm: this.name, session: session.id, authid: session.identity.authid, authrole: session.identity.authrole }, 'session left');
    for (const o of this.#observers) o.onLeave?.(session, silent);
  }

  // ---- publish & subscribe -----------------------------------------------------------------

  onSubscribe(session: Endpoint, msg: Subscribe): Handled {
    if (this.quotas.refusesUri(session, MessageCode.Subscribe, msg.request, msg.topic) || this.quotas.refusesSubscribe(session, msg)) return;
    const match = msg.options.match ?? 'exact';
    if (!isMatchPolicy(match)) {
      return session.sendError(MessageCode.Subscribe, msg.request, ErrorUri.InvalidArgument, `unknown match policy '${String(match)}' (exact, prefix or wildcard)`);
    }
    if (!isValidPattern(msg.topic, match, this.#uriCheck)) {
      return session.sendError(MessageCode.Subscribe, msg.request, ErrorUri.InvalidUri, `invalid topic ${match === 'exact' ? 'URI' : `${match} pattern`} '${msg.topic}'`);
    }
    return this.gate.pass(session, { type: MessageCode.Subscribe, id: msg.request }, { uri: msg.topic, action: 'subscribe', match, options: msg.options }, () => this.#subscribe(session, msg));
  }

  readonly #subscribe = (session: Endpoint, msg: Subscribe): void => {
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

  onUnsubscribe(session: Endpoint, msg: Unsubscribe): void {
    const outcome = this.broker.unsubscribe(session, msg.subscription);
    if (outcome === undefined) return session.sendError(MessageCode.Unsubscribe, msg.request, ErrorUri.NoSuchSubscription);
    session.send({ code: MessageCode.Unsubscribed, request: msg.request });
    this.#unsubscribed(session, outcome.subscription, outcome.deleted);
  }

  /** [ap_pubsub_subscription_revocation] Removes a subscriber by the router's decision. */
  revokeSubscription(session: Endpoint, subscription: Subscription<Endpoint>, reason?: string): boolean {
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

  #unsubscribed(session: Endpoint, subscription: Subscription<Endpoint>, deleted: boolean): void {
    for (const o of this.#observers) o.onUnsubscribe?.(session, subscription);
    if (deleted) for (const o of this.#observers) o.onSubscriptionDeleted?.(session, subscription);
  }

  onPublish(session: Endpoint, msg: Publish): Handled {
    if (this.quotas.refusesUri(session, MessageCode.Publish, msg.request, msg.topic, msg.options.acknowledge !== true)) return;
    if (hasPpt(msg.options) && !supportsPpt(session, 'publisher')) {
      return session.protocolViolation('PUBLISH with ppt_scheme or enc_algo from a publisher that announced neither payload_passthru_mode nor payload_transparency');
    }
    const quiet = msg.options.acknowledge !== true;
    return this.gate.pass(session, { type: MessageCode.Publish, id: msg.request, quiet }, { uri: msg.topic, action: 'publish', options: msg.options }, (allowed) => this.#publish(session, msg, allowed));
  }

  #publish(session: Endpoint, msg: Publish, allowed: Allowed): void {
    const outcome = this.publishAs(session, allowed, msg.topic, msg.args, msg.kwargs, msg.options);
    if (msg.options.acknowledge !== true) return;
    if (!outcome.ok) session.sendError(MessageCode.Publish, msg.request, outcome.error, outcome.message);
    else session.send({ code: MessageCode.Published, request: msg.request, publication: outcome.publication });
  }

  /**
   * Publishes with PUBLISH.Options semantics (filters, disclosure, retention, passthru) on behalf
   * of a session: a PUBLISH, or a testament of a leaving session. `allowed` is the gate's answer
   * for publishing to `topic` (auth/gate.ts): nothing publishes for a session without one.
   * Returns the publication ID, or the refusal the publisher gets if it asked for an
   * acknowledgement.
   */
  publishAs(session: Endpoint, allowed: Allowed, topic: string, args: WireArgs | undefined, kwargs: Kwargs | undefined, options: Dict): Outcome<{ publication: PublicationId }> {
    if (!isValidUri(topic, this.#uriCheck)) return refusal(ErrorUri.InvalidUri, `invalid topic URI '${topic}'`);
    if (isReservedUri(topic)) return refusal(ErrorUri.InvalidUri, `topic '${topic}' uses the reserved 'wamp' prefix`);
    const filtered = this.#filter(options);
    if (!filtered.ok) return filtered;
    const filter = filtered.filter;
    const details: Dict = {};
    if (allowed.disclose || options['disclose_me'] === true) disclose(session, details, 'publisher');
    if (hasPpt(options)) copyPpt(options, details);
    const plan = this.broker.publish(session, topic, filter);
    if (plan.subscriptions.length > 0) this.#deliver(plan, details, args, kwargs);
    const retain = options['retain'] === true;
    if (retain) this.#retain(plan, args, kwargs, details);
    if (this.hooks.observesPublications) this.hooks.published(plan, details, args, kwargs, { kind: 'session', retain, acknowledged: options['acknowledge'] === true });
    return { ok: true, publication: plan.publication };
  }

  /** Publishes an event from the router itself (meta events, testaments). */
  publishFromRouter(topic: string, args?: Args, kwargs?: Kwargs): void {
    const plan = this.broker.publish(undefined, topic, ROUTER_FILTER);
    if (plan.subscriptions.length > 0) this.#deliver(plan, {}, args, kwargs);
    this.hooks.published(plan, {}, args, kwargs, ROUTER_ORIGIN);
  }

  /**
   * Whether an event on `topic` may reach anyone: a local subscriber, or one a plugin knows of
   * (on a cluster node, a subscriber elsewhere, which NATS knows and this node does not).
   */
  wantsEvent(topic: string): boolean {
    return this.broker.hasSubscribers(topic) || this.hooks.wantsEvent(topic);
  }

  /** A publication from another node, delivered to this node's subscribers (never forwarded again). */
  deliverRemote(topic: string, publication: PublicationId, details: Dict, filter: RecipientFilter, args: WireArgs | undefined, kwargs: Kwargs | undefined): number {
    const plan = this.broker.publishAs(publication, topic, filter);
    if (plan.subscriptions.length > 0) this.#deliver(plan, details, args, kwargs);
    this.hooks.published(plan, details, args, kwargs, REMOTE_ORIGIN);
    return plan.subscriptions.length;
  }

  /** A retained event published on another node. */
  retainRemote(topic: string, publication: PublicationId, details: Dict, filter: RecipientFilter, args: WireArgs | undefined, kwargs: Kwargs | undefined): void {
    this.#retain({ publication, publisher: undefined, topic, subscriptions: [], filter }, args, kwargs, details);
  }

  /** Retains within the realm's maxRetainedBytes; evictions and refusals are counted. */
  #retain(plan: DeliveryPlan<Endpoint>, args: WireArgs | undefined, kwargs: Kwargs | undefined, details: Dict): void {
    const outcome = this.broker.retain(plan, args, kwargs, details, payloadBytes(args, kwargs, details) + plan.topic.length);
    this.stats.evicted('maxRetainedBytes', outcome.evicted);
    if (outcome.tooLarge) this.stats.limitExceeded('maxRetainedBytes');
  }

  /** The recipient filter of PUBLISH.Options, or a refusal saying which option is malformed. */
  #filter(options: Dict): Outcome<{ filter: RecipientFilter }> {
    const excludeMe = options['exclude_me'] !== false;
    if (
      options['exclude'] === undefined &&
      options['eligible'] === undefined &&
      options['exclude_authid'] === undefined &&
      options['eligible_authid'] === undefined &&
      options['exclude_authrole'] === undefined &&
      options['eligible_authrole'] === undefined
    ) {
      return excludeMe ? NO_FILTER_OUTCOME : INCLUDE_ME_OUTCOME;
    }
    const exclude = setOption(options, 'exclude', isNumber, SESSION_IDS);
    if (!exclude.ok) return exclude;
    const eligible = setOption(options, 'eligible', isNumber, SESSION_IDS);
    if (!eligible.ok) return eligible;
    const excludeAuthid = setOption(options, 'exclude_authid', isString, AUTHIDS);
    if (!excludeAuthid.ok) return excludeAuthid;
    const eligibleAuthid = setOption(options, 'eligible_authid', isString, AUTHIDS);
    if (!eligibleAuthid.ok) return eligibleAuthid;
    const excludeAuthrole = setOption(options, 'exclude_authrole', isString, AUTHROLES);
    if (!excludeAuthrole.ok) return excludeAuthrole;
    const eligibleAuthrole = setOption(options, 'eligible_authrole', isString, AUTHROLES);
    if (!eligibleAuthrole.ok) return eligibleAuthrole;
    return {
      ok: true,
      filter: { excludeMe, exclude: exclude.set, eligible: eligible.set, excludeAuthid: excludeAuthid.set, eligibleAuthid: eligibleAuthid.set, excludeAuthrole: excludeAuthrole.set, eligibleAuthrole: eligibleAuthrole.set },
    };
  }

  #deliver(plan: DeliveryPlan<Endpoint>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): void {
    const single = plan.subscriptions.length === 1;
    // One subscription (the exact-match common case): one EVENT, encoded whole once per
    // serializer. Several (patterns): everything after the subscription ID is encoded once per
    // serializer and details variant, and each subscription's EVENT only adds its own ID.
    const tails = single ? undefined : new EventTails(plan.publication, details, plan.topic, args, kwargs);
    for (const subscription of plan.subscriptions) {
      const exact = subscription.match === 'exact';
      // A pattern subscriber learns the concrete topic. [ap_pubsub_pattern_based_subscription]
      let eventDetails: Dict | undefined;
      const detailsFor = (): Dict => (eventDetails ??= exact ? details : { ...details, topic: plan.topic });
      // Serialized at most once per serializer for the whole subscription (the outbox of each
      // subscriber asks for its own serializer's bytes); every subscriber gets the same bytes.
      const event = new FanOutEvent(
        this.log,
        this.name,
        tails === undefined
          ? (codec) => codec.encode(eventWire(subscription.id, plan, detailsFor(), args, kwargs))
          : (codec) => codec.encodeWithTail([MessageCode.Event, subscription.id], tails.tail(codec, exact)),
        () => {
          const message: Event = { code: MessageCode.Event, subscription: subscription.id, publication: plan.publication, details: detailsFor() };
          if (args !== undefined) message.args = args;
          if (kwargs !== undefined) message.kwargs = kwargs;
          return message;
        },
      );
      for (const subscriber of subscription.subscribers) {
        if (isRecipient(plan, subscriber)) subscriber.sendEvent(event);
      }
    }
  }

  #sendRetained(session: Endpoint, subscription: Subscription<Endpoint>, retained: RetainedEvent<Endpoint>): void {
    const details: Dict = { ...retained.details, retained: true };
    if (subscription.match !== 'exact') details['topic'] = retained.topic;
    const event: Event = { code: MessageCode.Event, subscription: subscription.id, publication: retained.publication, details };
    if (retained.args !== undefined) event.args = retained.args;
    if (retained.kwargs !== undefined) event.kwargs = retained.kwargs;
    session.send(event);
  }

  // ---- routed RPC --------------------------------------------------------------------------

  onRegister(session: Endpoint, msg: Register): Handled {
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
    return this.gate.pass(session, { type: MessageCode.Register, id: msg.request }, { uri: msg.procedure, action: 'register', match, options: msg.options }, () => this.#register(session, msg));
  }

  readonly #register = (session: Endpoint, msg: Register): Handled => {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const invoke = (msg.options.invoke ?? 'single') as InvocationPolicy;
    const options = { discloseCaller: msg.options['disclose_caller'] === true, forwardTimeout: msg.options['forward_timeout'] === true };
    if (!this.hooks.claims) return this.#registerHere(session, msg, match, invoke, options);
    // A conflict this node already sees is answered at once; otherwise the claimers (a cluster) decide.
    const existing = this.dealer.lookup(msg.procedure, match);
    if (existing !== undefined && (existing.invoke !== invoke || invoke === 'single')) return this.#registerHere(session, msg, match, invoke, options);
    return new Pause(
      this.hooks.claim(session, msg.procedure, match, invoke, options).then((refused) => {
        if (!session.live) return;
        if (refused !== undefined) return session.sendError(MessageCode.Register, msg.request, refused.error, refused.message);
        this.#registerHere(session, msg, match, invoke, options);
      }),
    );
  };

  #registerHere(session: Endpoint, msg: Register, match: MatchPolicy, invoke: InvocationPolicy, options: { discloseCaller: boolean; forwardTimeout: boolean }): void {
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
  dropRemoteCallee(session: Endpoint, reason: string): void {
    this.calls.leave(session, this.dealer.removeSession(session), reason);
  }

  onUnregister(session: Endpoint, msg: Unregister): void {
    const outcome = this.dealer.unregister(session, msg.registration);
    if (outcome === undefined) return session.sendError(MessageCode.Unregister, msg.request, ErrorUri.NoSuchRegistration);
    session.send({ code: MessageCode.Unregistered, request: msg.request });
    this.#unregistered(session, outcome.registration, outcome.deleted);
  }

  /** [ap_rpc_registration_revocation] Removes a callee by the router's decision. */
  revokeRegistration(session: Endpoint, registration: Registration<Endpoint>, reason?: string): boolean {
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

  #unregistered(session: Endpoint, registration: Registration<Endpoint>, deleted: boolean): void {
    for (const o of this.#observers) o.onUnregister?.(session, registration);
    if (deleted) for (const o of this.#observers) o.onRegistrationDeleted?.(session, registration);
  }

  /**
   * A CALL, as `calls.classify` found it (session.ts asks once): a continuation goes on to its
   * callee; a new call is checked, authorized and routed (calls.route asks the dealer once,
   * quota included). [ap_rpc_progressive_call_invocations]
   */
  onCall(session: Endpoint, msg: Call, incoming: IncomingCall<Endpoint>): Handled {
    if (incoming.kind === 'continuation') return this.calls.continueCall(incoming.call, msg);
    if (incoming.kind === 'late') return;
    if (this.quotas.refusesUri(session, MessageCode.Call, msg.request, msg.procedure)) return;
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
    return this.gate.pass(session, { type: MessageCode.Call, id: msg.request }, { uri: msg.procedure, action: 'call', options: msg.options }, (allowed) =>
      this.calls.route(session, msg, { allow: true, disclose: allowed.disclose }),
    );
  }

  onCancel(session: Endpoint, msg: Cancel): void {
    this.calls.cancel(session, msg);
  }

  onCalleeAnswer(session: Endpoint, msg: Yield | ErrorMessage): void {
    this.calls.answer(session, msg);
  }


}
