/**
 * What a realm tells its plugins, and what it asks them (realm-plugin.ts installs them). The realm
 * stays the one owner of pub/sub and call lifecycles; a plugin observes (joins and leaves, routes
 * created and deleted, publications delivered) and, for a cluster node, answers the few questions
 * only the cluster can: may this registration be made cluster-wide, whose answer is this, which
 * sessions and subscriptions live on the other nodes. A leaf: no import of the realm.
 */
import type { Args, Dict, ErrorMessage, Kwargs, MatchPolicy, WireArgs, Yield } from '@switchboard/schemas';
import type { DeliveryPlan, RetainOutcome, Subscription } from './broker/broker.js';
import type { RouterProcedure } from './calls.js';
import type { Outcome, Refusal } from './core/outcome.js';
import { refusal } from './core/outcome.js';
import type { InvocationPolicy, Registration } from './dealer/dealer.js';
import type { Endpoint } from './core/endpoint.js';
import type { CatchUpReplay, CatchUpRequest } from './history/store.js';
import type { Logger } from './log.js';
import { logRefusal } from './log.js';

/**
 * Where a delivered publication came from: a session's PUBLISH (or testament), the router itself
 * (meta events), or another cluster node (never forwarded again).
 */
export type PublicationOrigin =
  | {
      readonly kind: 'session';
      readonly retain: boolean;
      readonly acknowledged: boolean;
      /** What the broker did with a retain: true publication (undefined otherwise): persisted retained events follow it. */
      readonly retained?: RetainOutcome | undefined;
    }
  | { readonly kind: 'router' | 'remote' };

export const ROUTER_ORIGIN: PublicationOrigin = { kind: 'router' };
export const REMOTE_ORIGIN: PublicationOrigin = { kind: 'remote' };
/** A session's publication without retain, unacknowledged and acknowledged: shared, so that publishing allocates no origin. */
export const SESSION_ORIGIN: PublicationOrigin = { kind: 'session', retain: false, acknowledged: false };
export const ACKNOWLEDGED_ORIGIN: PublicationOrigin = { kind: 'session', retain: false, acknowledged: true };

/** The options of a REGISTER that a cluster-wide claim records. */
export interface ClaimOptions {
  readonly discloseCaller: boolean;
  readonly forwardTimeout: boolean;
}

/** A subscription held on another node (meta API). */
export interface RemoteSubscription {
  readonly id: number;
  readonly topic: string;
  readonly match: MatchPolicy;
  /** Milliseconds since the epoch. */
  readonly created: number;
  readonly subscribers: readonly number[];
}

/** A testament as a session left it (meta/testament.ts). */
export interface TestamentRecord {
  readonly topic: string;
  readonly args: Args;
  readonly kwargs: Kwargs;
  readonly publishOptions: Dict;
}

/** Listeners for what happens in a realm (the meta API and the cluster subscribe here). */
export interface RealmObserver {
  /**
   * The session got a transport: a new session (before onJoin, `resumed` false) or a resumed one
   * (`resumed` true). [ap_session_resumption: wamp.session.on_attach]
   */
  onAttach?(session: Endpoint, resumed: boolean): void;
  /**
   * The session lost its transport: detached and resumable (`closing` false: it lives on,
   * resumable, for the realm's resumeWindowMs), or it is closing (`closing` true: onLeave follows
   * at once). Testaments of scope `detached` are published here.
   * [ap_session_resumption: wamp.session.on_detach]
   */
  onDetach?(session: Endpoint, closing: boolean): void;
  onJoin?(session: Endpoint): void;
  /** `silent`: the session was killed by wamp.session.kill_all (no on_leave event, no testaments). */
  onLeave?(session: Endpoint, silent: boolean): void;
  onSubscriptionCreated?(session: Endpoint, subscription: Subscription<Endpoint>): void;
  onSubscribe?(session: Endpoint, subscription: Subscription<Endpoint>): void;
  onUnsubscribe?(session: Endpoint, subscription: Subscription<Endpoint>): void;
  onSubscriptionDeleted?(session: Endpoint, subscription: Subscription<Endpoint>): void;
  onRegistrationCreated?(session: Endpoint, registration: Registration<Endpoint>): void;
  onRegister?(session: Endpoint, registration: Registration<Endpoint>): void;
  onUnregister?(session: Endpoint, registration: Registration<Endpoint>): void;
  onRegistrationDeleted?(session: Endpoint, registration: Registration<Endpoint>): void;
}

/** An observer plus the questions a realm asks its plugins; every member optional. */
export interface RealmHooks extends RealmObserver {
  /**
   * A publication was delivered to this node's subscribers (after retention). Event history
   * records it; a cluster node forwards what did not come from another node. A promise returned
   * for an acknowledged publication holds its PUBLISHED until it resolves (event history with
   * durability "ack": the store has the event); a rejection makes it ERROR: the rejection's
   * refusal (a RefusalError, core/outcome.ts), else switchboard.error.store_failed. Return nothing
   * otherwise: the publish path then waits for nothing.
   */
  onPublished?(
    plan: DeliveryPlan<Endpoint>,
    details: Dict,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
    origin: PublicationOrigin,
  ): void | Promise<void> | undefined;
  /** Whether an event on `topic` may reach someone this node does not see (a cluster node: always). */
  wantsEvent?(topic: string): boolean;
  /**
   * Claims a registration (a cluster: for the whole cluster) before it is made here; a Refusal
   * refuses the REGISTER with its error.
   */
  claimRegistration?(session: Endpoint, procedure: string, match: MatchPolicy, invoke: InvocationPolicy, options: ClaimOptions): Promise<Refusal | undefined>;
  /** A YIELD or ERROR the dealer does not know: true when this plugin takes it (an invocation relayed from another node). */
  takeAnswer?(session: Endpoint, msg: Yield | ErrorMessage): boolean;
  /** A session's testaments changed; an empty list (or the session leaving) drops them. */
  onTestaments?(session: Endpoint, testaments: readonly TestamentRecord[]): void;
  /**
   * The testaments of scope `destroyed` a session moving to another node takes along (the
   * testament plugin answers; resumption.ts handOver asks, after the session detached).
   */
  testamentsOf?(session: Endpoint): readonly TestamentRecord[] | undefined;
  /** A session moved here from another node brings its testaments of scope `destroyed` (resumption.ts adopt). */
  adoptTestaments?(session: Endpoint, testaments: readonly TestamentRecord[]): void;
  /** Meta details of the realm's sessions this node does not hold. */
  remoteSessions?(): Dict[];
  remoteSession?(id: number): Dict | undefined;
  /** Subscriptions held on the other nodes; defining this says the realm spans nodes. */
  remoteSubscriptions?(): readonly RemoteSubscription[];
  /** Closes a session this node does not hold (wamp.session.kill); false if there is none. */
  killRemote?(id: number, reason: string, message: string, silent: boolean): boolean;
}

/**
 * Where a SUBSCRIBE with the `history` option gets its replay (realm/pubsub.ts): the events of
 * `subscription`'s topic (or of every topic its pattern matches) that `request` asks for, already
 * authorized for `session`, oldest first. A Refusal fails the SUBSCRIBE with its error (e.g.
 * wamp.error.history_unavailable for a topic no history rule covers). The history plugin
 * (meta/history.ts) is the realm's one source. [ap_pubsub_event_history]
 */
export type CatchUpSource = (session: Endpoint, subscription: Subscription<Endpoint>, request: CatchUpRequest) => Promise<Outcome<CatchUpReplay>>;

/** Where a plugin adds to its realm; the Realm itself is one (without the teardown bookkeeping). */
export interface PluginScope {
  /** Adds a router procedure; throws if the realm already has one with this URI. Returns its removal. */
  procedure(uri: string, handler: RouterProcedure): () => void;
  /** Adds hooks. Returns their removal. */
  observe(hooks: RealmHooks): () => void;
  /** Installs the realm's catch-up source; throws if the realm already has one. Returns its removal. */
  catchUp(source: CatchUpSource): () => void;
}

/** Who added hooks: a fault in one of them is logged with this name, on this logger. */
export interface HookOwner {
  readonly name: string;
  /** Undefined: faults go to stderr (a bare RealmHookSet, as in tests). */
  readonly log?: Logger | undefined;
}

/** What a hook that threw answers instead: nothing, no, none, or (a claim) a refusal of that REGISTER. */
type Fallback = 'none' | 'false' | 'list' | 'claim';

/** Every hook a realm calls, and what stands in for the answer of one that threw. */
const HOOK_FALLBACKS: Readonly<Record<keyof RealmHooks, Fallback>> = {
  onAttach: 'none',
  onDetach: 'none',
  onJoin: 'none',
  onLeave: 'none',
  onSubscriptionCreated: 'none',
  onSubscribe: 'none',
  onUnsubscribe: 'none',
  onSubscriptionDeleted: 'none',
  onRegistrationCreated: 'none',
  onRegister: 'none',
  onUnregister: 'none',
  onRegistrationDeleted: 'none',
  onPublished: 'none',
  wantsEvent: 'false',
  claimRegistration: 'claim',
  takeAnswer: 'false',
  onTestaments: 'none',
  testamentsOf: 'list',
  adoptTestaments: 'none',
  remoteSessions: 'list',
  remoteSession: 'none',
  remoteSubscriptions: 'list',
  killRemote: 'false',
};

/** The one a hook's fault is reported to when its adder named no owner (`realm.observe` outside a plugin). */
const UNNAMED: HookOwner = { name: 'observer' };

/**
 * Logs a hook's fault, at most once per owner and hook per `log.refusalIntervalMs` (log.ts): a hook
 * that throws on every publication must not flood the log either.
 */
function reportFault(owner: HookOwner, hook: string, err: unknown): void {
  const fields = { plugin: owner.name, hook, err: err instanceof Error ? err.message : String(err) };
  const message = `plugin ${owner.name}: ${hook} failed; the realm goes on without it`;
  if (owner.log === undefined) {
    // No logger to rate-limit on (a test's bare RealmHookSet): still never silent.
    console.error(message, fields);
    return;
  }
  logRefusal(owner.log, `plugin ${owner.name} ${hook}`, fields, message, 'error');
}

/**
 * A copy of `hooks` whose every member catches what the plugin's code throws (or, for a claim,
 * rejects with): a bug in a plugin costs that plugin's answer, never the session being served,
 * the other plugins or the process. The original is called with itself as `this`.
 */
function guard(hooks: RealmHooks, owner: HookOwner): RealmHooks {
  const guarded: Record<string, unknown> = {};
  for (const [name, fallback] of Object.entries(HOOK_FALLBACKS) as [keyof RealmHooks, Fallback][]) {
    const hook: unknown = hooks[name];
    if (typeof hook !== 'function') continue;
    const fn = hook as (...args: unknown[]) => unknown;
    const failed = (err: unknown): unknown => {
      reportFault(owner, name, err);
      if (fallback === 'false') return false;
      if (fallback === 'list') return [];
      if (fallback === 'claim') return refusal('wamp.error.internal_error', `plugin ${owner.name} failed to claim the registration`);
      return undefined;
    };
    guarded[name] = (...args: unknown[]): unknown => {
      try {
        const answer = fn.apply(hooks, args);
        return fallback === 'claim' ? Promise.resolve(answer).catch(failed) : answer;
      } catch (err) {
        const answer = failed(err);
        return fallback === 'claim' ? Promise.resolve(answer) : answer;
      }
    };
  }
  return guarded as RealmHooks;
}

/**
 * A realm's installed hooks, in installation order, and the questions put to all of them. The
 * realm iterates `list` for observer events; the rest is asked through the methods here. What is
 * in `list` are guarded copies (see `guard`): a hook that throws is logged and skipped.
 */
export class RealmHookSet {
  /** Kept as one array (removal splices it) so that the realm may iterate it directly. */
  readonly list: RealmHooks[] = [];
  #published: RealmHooks[] = [];
  #catchUp: CatchUpSource | undefined;

  /** Adds hooks; the function returned removes them again. `owner` names them in the log of a fault. */
  add(hooks: RealmHooks, owner: HookOwner = UNNAMED): () => void {
    const guarded = guard(hooks, owner);
    this.list.push(guarded);
    this.#index();
    return () => {
      const at = this.list.indexOf(guarded);
      if (at < 0) return;
      this.list.splice(at, 1);
      this.#index();
    };
  }

  #index(): void {
    this.#published = this.list.filter((h) => h.onPublished !== undefined);
  }

  /**
   * Installs the realm's one catch-up source; a second is a bug (two owners of one answer) and
   * throws. The source installed is guarded: what it throws or rejects with is logged with
   * `owner` and fails that one SUBSCRIBE with wamp.error.internal_error.
   */
  setCatchUp(source: CatchUpSource, owner: HookOwner = UNNAMED): () => void {
    if (this.#catchUp !== undefined) throw new Error(`the realm already has a catch-up source; ${owner.name} cannot add another`);
    const failed = (err: unknown): Refusal => {
      reportFault(owner, 'catchUp', err);
      return refusal('wamp.error.internal_error', `plugin ${owner.name} failed to read the history`);
    };
    const guarded: CatchUpSource = (session, subscription, request) => {
      try {
        return source(session, subscription, request).catch(failed);
      } catch (err) {
        return Promise.resolve(failed(err));
      }
    };
    this.#catchUp = guarded;
    return () => {
      if (this.#catchUp === guarded) this.#catchUp = undefined;
    };
  }

  /** The realm's catch-up source, if a plugin installed one (WELCOME then announces history_catch_up). */
  get catchUpSource(): CatchUpSource | undefined {
    return this.#catchUp;
  }

  // Subscriptions and registrations are told of alike: one pair of calls per kind of route, so
  // that SUBSCRIBE/UNSUBSCRIBE, REGISTER/UNREGISTER, revocation and a leaving session tell the
  // same observers the same things in the same order (meta events on_create/on_subscribe/…).

  /** A session subscribed: `created` when the subscription is new, `added` unless it already held it. */
  subscribed(session: Endpoint, subscription: Subscription<Endpoint>, created: boolean, added: boolean): void {
    if (created) for (const o of this.list) o.onSubscriptionCreated?.(session, subscription);
    if (added) for (const o of this.list) o.onSubscribe?.(session, subscription);
  }

  /** A session's subscription ended; `deleted` when it was the last subscriber. */
  unsubscribed(session: Endpoint, subscription: Subscription<Endpoint>, deleted: boolean): void {
    for (const o of this.list) o.onUnsubscribe?.(session, subscription);
    if (deleted) for (const o of this.list) o.onSubscriptionDeleted?.(session, subscription);
  }

  /** A session registered: `created` when the registration is new. */
  registered(session: Endpoint, registration: Registration<Endpoint>, created: boolean): void {
    if (created) for (const o of this.list) o.onRegistrationCreated?.(session, registration);
    for (const o of this.list) o.onRegister?.(session, registration);
  }

  /** A session's registration ended; `deleted` when it was the last callee. */
  unregistered(session: Endpoint, registration: Registration<Endpoint>, deleted: boolean): void {
    for (const o of this.list) o.onUnregister?.(session, registration);
    if (deleted) for (const o of this.list) o.onRegistrationDeleted?.(session, registration);
  }

  /** Whether any hook wants publications (so that the realm builds nothing for none). */
  get observesPublications(): boolean {
    return this.#published.length > 0;
  }

  /** Tells every observer; what some returned to wait for (durability "ack"), as one promise, or undefined when none did. */
  published(
    plan: DeliveryPlan<Endpoint>,
    details: Dict,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
    origin: PublicationOrigin,
  ): Promise<unknown> | undefined {
    let pending: Promise<unknown> | undefined;
    for (const h of this.#published) {
      const wait = h.onPublished!(plan, details, args, kwargs, origin);
      if (wait !== undefined) pending = pending === undefined ? wait : Promise.all([pending, wait]);
    }
    return pending;
  }

  wantsEvent(topic: string): boolean {
    return this.list.some((h) => h.wantsEvent?.(topic) === true);
  }

  /** Whether some hook claims registrations (REGISTER then waits for the claim). */
  get claims(): boolean {
    return this.list.some((h) => h.claimRegistration !== undefined);
  }

  /** Every claimer in order; the first refusal wins. */
  async claim(session: Endpoint, procedure: string, match: MatchPolicy, invoke: InvocationPolicy, options: ClaimOptions): Promise<Refusal | undefined> {
    for (const h of this.list) {
      const refused = await h.claimRegistration?.(session, procedure, match, invoke, options);
      if (refused !== undefined) return refused;
    }
    return undefined;
  }

  takeAnswer(session: Endpoint, msg: Yield | ErrorMessage): boolean {
    return this.list.some((h) => h.takeAnswer?.(session, msg) === true);
  }

  testaments(session: Endpoint, testaments: readonly TestamentRecord[]): void {
    for (const h of this.list) h.onTestaments?.(session, testaments);
  }

  /** The testaments of scope `destroyed` of a session moving to another node. */
  testamentsOf(session: Endpoint): TestamentRecord[] {
    return this.list.flatMap((h) => h.testamentsOf?.(session) ?? []);
  }

  /** A session moved here brings its testaments of scope `destroyed`. */
  adoptTestaments(session: Endpoint, testaments: readonly TestamentRecord[]): void {
    if (testaments.length === 0) return;
    for (const h of this.list) h.adoptTestaments?.(session, testaments);
  }

  /** Whether the realm spans other nodes (the meta API then merges their routes). */
  get spansNodes(): boolean {
    return this.list.some((h) => h.remoteSubscriptions !== undefined);
  }

  remoteSessions(): Dict[] {
    return this.list.flatMap((h) => h.remoteSessions?.() ?? []);
  }

  remoteSession(id: number): Dict | undefined {
    for (const h of this.list) {
      const details = h.remoteSession?.(id);
      if (details !== undefined) return details;
    }
    return undefined;
  }

  remoteSubscriptions(): RemoteSubscription[] {
    return this.list.flatMap((h) => h.remoteSubscriptions?.() ?? []);
  }

  killRemote(id: number, reason: string, message: string, silent = false): boolean {
    return this.list.some((h) => h.killRemote?.(id, reason, message, silent) === true);
  }
}
