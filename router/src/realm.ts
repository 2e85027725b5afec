/**
 * One realm: its members (join and leave, the WELCOME details), and its parts wired together —
 * broker and dealer (the pure route tables), the gate (auth/gate.ts), quotas (limits.ts), call
 * lifecycles (calls.ts), pub/sub (realm/pubsub.ts, with the EVENT fan-out in realm/fanout.ts) and
 * routed RPC (realm/rpc.ts). What is not routing — meta API, event history, a cluster node's part —
 * comes from plugins (realm-plugin.ts) and hears of the realm through its hooks (realm-hooks.ts).
 */
import type { Dict, MatchPolicy, RegistrationId, SessionId, SubscriptionId } from '@switchboard/schemas';
import type { UriCheck } from '@switchboard/schemas';
import { Broker } from './broker/broker.js';
import { Dealer } from './dealer/dealer.js';
import { createAuthorizer } from './auth/index.js';
import type { Authorizer } from './auth/types.js';
import type { RouterCall } from './auth/dynamic.js';
import type { RoleConfig } from './auth/index.js';
import { Gate } from './auth/gate.js';
import { sessionDetails } from './core/sessions.js';
import type { Endpoint, SessionIdentity } from './core/endpoint.js';
import type { Logger } from './log.js';
import { RouterStats } from './stats.js';
import { VERSION } from './version.js';
import { Calls } from './calls.js';
import type { RouterProcedure } from './calls.js';
import { DEFAULT_REALM_LIMITS, Quotas } from './limits.js';
import type { RealmLimits } from './limits.js';
import { RealmHookSet } from './realm-hooks.js';
import type { CatchUpSource, RealmHooks } from './realm-hooks.js';
import { PubSub } from './realm/pubsub.js';
import { Rpc } from './realm/rpc.js';
import { routeId } from './realm/requests.js';
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
export type { RealmObserver } from './realm-hooks.js';

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
  // wamp.session.on_attach / on_detach (meta/sessions.ts). [ap_session_resumption]
  session_resumption_meta_api: true,
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
/**
 * A realm with a catch-up source (realm-hooks.ts) also announces the SUBSCRIBE `history` option
 * (a Switchboard extension, realm/pubsub.ts).
 */
const ROLES_CATCH_UP = deepFreeze({ broker: { features: { ...BROKER_FEATURES, history_catch_up: true } }, dealer: { features: DEALER_FEATURES } });

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
  /** Call lifecycles (calls.ts). */
  readonly calls: Calls<Endpoint>;
  /** The one authorization gate (auth/gate.ts): every route a session takes here passes it. */
  readonly gate: Gate<Endpoint>;
  /** SUBSCRIBE, UNSUBSCRIBE, PUBLISH; publishing for the router and for other nodes (realm/pubsub.ts). */
  readonly pubsub: PubSub;
  /** REGISTER, UNREGISTER, CALL, CANCEL, callee answers (realm/rpc.ts). */
  readonly rpc: Rpc;

  constructor(
    options: RealmOptions,
    readonly log: Logger,
    /** How the realm calls WAMP procedures as the router (dynamic authorizers). */
    call?: RouterCall,
    /** Counters for /metrics. */
    readonly stats: RouterStats = new RouterStats(),
  ) {
    const name = options.name;
    this.name = name;
    const authorizer =
      options.authorizer ??
      createAuthorizer(options.roles, call, (subject) => {
        const session = this.sessions.get(subject.id);
        return session === undefined ? { session: subject.id, authid: subject.authid, authrole: subject.authrole } : sessionDetails(session);
      });
    this.gate = new Gate<Endpoint>({ authorizer, log, realm: name, belongs: (session) => session.live && this.sessions.get(session.id) === session });
    const derived = options.routeIds === 'derived';
    const limits: RealmLimits = { ...DEFAULT_REALM_LIMITS, ...options.limits };
    this.broker = new Broker<Endpoint>({
      retention: { ...(options.retention ?? { maxTopics: 10_000, ttlMs: 0 }), maxBytes: limits.maxRetainedBytes },
      ...(derived && { subscriptionIds: { next: (topic: string, match: MatchPolicy) => routeId(name, 'subscription', match, topic) as SubscriptionId } }),
    });
    this.dealer = new Dealer<Endpoint>({
      maxInvocationsPerCallee: limits.maxInvocationsPerSession,
      ...(derived && {
        registrationIds: { next: (procedure: string, match: MatchPolicy) => routeId(name, 'registration', match, procedure) as RegistrationId },
      }),
    });
    this.quotas = new Quotas(limits, this.broker, this.dealer, stats);
    this.calls = new Calls<Endpoint>(this.dealer, this.#procedures, stats, log, {
      relayAnswer: (session, msg) => this.hooks.takeAnswer(session, msg),
      maxCalls: (caller) => this.quotas.callLimit(caller),
    });
    const parts = {
      name,
      log,
      stats,
      uriCheck: options.uriCheck,
      broker: this.broker,
      dealer: this.dealer,
      calls: this.calls,
      gate: this.gate,
      quotas: this.quotas,
      hooks: this.hooks,
    };
    this.pubsub = new PubSub(parts);
    this.rpc = new Rpc(parts);
  }

  /** Adds hooks (realm-hooks.ts); the function returned removes them. */
  observe(hooks: RealmHooks): () => void {
    return this.hooks.add(hooks);
  }

  /** Installs the realm's catch-up source (realm-hooks.ts); throws if it has one. The function returned removes it. */
  catchUp(source: CatchUpSource): () => void {
    return this.hooks.setCatchUp(source);
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
    const details: Dict = {
      realm: this.name,
      agent: `switchboard-${VERSION}`,
      roles: this.hooks.catchUpSource === undefined ? ROLES : ROLES_CATCH_UP,
      ...identity,
    };
    if (authextra !== undefined) details['authextra'] = authextra;
    return details;
  }

  join(session: Endpoint): void {
    this.sessions.set(session.id, session);
    // Guarded: the fields object would be built for every join even where debug is off (the default).
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        {
          realm: this.name,
          session: session.id,
          authid: session.identity.authid,
          authrole: session.identity.authrole,
          authmethod: session.identity.authmethod,
          transport: session.transport.type,
          peer: session.transport.peer,
        },
        'session joined',
      );
    for (const o of this.hooks.list) o.onAttach?.(session, false);
    for (const o of this.hooks.list) o.onJoin?.(session);
  }

  /**
   * A member lost its transport and lives on, resumable (session.ts sets `attached` false first):
   * the invocations it served end for their callers with wamp.error.session_unattached
   * (realm/rpc.ts), and the plugins hear (on_detach, testaments of scope `detached`).
   * [ap_session_resumption]
   */
  detach(session: Endpoint): void {
    if (this.sessions.get(session.id) !== session) return;
    this.rpc.detach(session);
    for (const o of this.hooks.list) o.onDetach?.(session, false);
  }

  /**
   * A member moved here from another cluster node (resumption.ts adopt), detached until its resume
   * attaches it: it joins without onAttach/onJoin (wamp.session.on_join is for a new session; the
   * resume's attach says on_attach with resumed true). [ap_session_resumption]
   */
  adopt(session: Endpoint): void {
    this.sessions.set(session.id, session);
    this.log.debug({ realm: this.name, session: session.id, authid: session.identity.authid, authrole: session.identity.authrole }, 'session moved here');
  }

  /**
   * A member moved to another cluster node (resumption.ts handOver; detached first): it leaves
   * this node quietly — no on_leave, no testaments (it lives on there) — but its subscriptions and
   * registrations end through the usual route hooks (a cluster releases its claims and updates its
   * subscription registry), the invocations it served end, and its calls as caller go on (their
   * answers are forwarded). The plugins hear onLeave silent, so they forget it as at a kill_all.
   */
  moveOut(session: Endpoint): number[] {
    if (this.sessions.get(session.id) !== session) return [];
    this.sessions.delete(session.id);
    this.gate.forget(session);
    this.pubsub.leave(session);
    const calls = this.rpc.moveOut(session);
    this.log.debug({ realm: this.name, session: session.id }, 'session moved to another node');
    for (const o of this.hooks.list) o.onLeave?.(session, true);
    return calls;
  }

  /** A detached member resumed on a new transport (session.ts sets `attached` true first). */
  attach(session: Endpoint): void {
    if (this.sessions.get(session.id) !== session) return;
    for (const o of this.hooks.list) o.onAttach?.(session, true);
  }

  leave(session: Endpoint, silent = false): void {
    if (this.sessions.get(session.id) !== session) return;
    // A session closing while attached detaches first: on_detach before on_leave. [ap_session_resumption]
    if (session.attached && !silent) for (const o of this.hooks.list) o.onDetach?.(session, true);
    this.sessions.delete(session.id);
    // What the authorizer keeps for this session dies with it.
    this.gate.forget(session);
    this.pubsub.leave(session);
    this.rpc.leave(session);
    if (this.log.isLevelEnabled('debug'))
      this.log.debug({ realm: this.name, session: session.id, authid: session.identity.authid, authrole: session.identity.authrole }, 'session left');
    for (const o of this.hooks.list) o.onLeave?.(session, silent);
  }
}
