/**
 * Subscription and registration meta API: the two share one shape (a pattern with a match
 * policy and a set of sessions), so one table of procedures serves both, with the spec's names.
 * [ap_pubsub_subscription_meta_api, ap_rpc_registration_meta_api]
 *
 * wamp.{subscription|registration}.list, lookup, match, get,
 *   list_subscribers|list_callees, count_subscribers|count_callees,
 *   remove_subscriber|remove_callee (revocation);
 * events on_create [session, details], on_subscribe|on_register [session, id],
 *   on_unsubscribe|on_unregister [session, id], on_delete [session, id].
 */
import type { Dict, MatchPolicy } from '@switchboard/schemas';
import { ErrorUri, WampError, isMatchPolicy, isReservedUri } from '@switchboard/schemas';
import type { Action } from '../auth/types.js';
import type { Subscription } from '../broker/broker.js';
import type { Realm, RealmObserver } from '../realm.js';
import type { Endpoint } from '../core/endpoint.js';
import type { PluginScope } from '../realm-hooks.js';
import { idArg, invalid, isoTime, optionalDict, optionalString, stringArg } from './args.js';

/** One kind of route (subscription or registration) as the meta API sees it. */
interface RouteKind<R> {
  prefix: 'wamp.subscription' | 'wamp.registration';
  members: 'subscribers' | 'callees';
  removeMember: 'remove_subscriber' | 'remove_callee';
  notFound: string;
  all(): Iterable<R>;
  byId(id: number): R | undefined;
  lookup(uri: string, match: MatchPolicy): R | undefined;
  /** Subscriptions: every match (an event goes to each); registrations: the one a call goes to. */
  match(uri: string): R[];
  /** Session IDs holding the route (on a cluster node: on every node). */
  memberIds(route: R): number[];
  /** A member on this node, for revocation. */
  member(route: R, session: number): Endpoint | undefined;
  details(route: R): Dict;
  id(route: R): number;
  policy(route: R): MatchPolicy;
  revoke(session: Endpoint, route: R, reason: string | undefined): boolean;
  /**
   * What a caller must be allowed on a route's URI (any one of them) to learn about it: subscribe
   * or publish for a subscription, call or register for a registration.
   */
  actions: readonly Action[];
  uri(route: R): string;
}

/**
 * Whether `caller` may learn about `route`: the decision the gate gives it for acting on the
 * route's URI with the route's match policy (a pattern route needs the right on every URI it can
 * match). A route says who listens or serves there, so a role that may not act on a URI does not
 * see its route either. A failing authorizer reveals nothing.
 */
async function mayLearn<R>(realm: Realm, kind: RouteKind<R>, caller: Endpoint, route: R): Promise<boolean> {
  for (const action of kind.actions) {
    // Refused, failed (logged by the gate) or dropped (the caller left): this action reveals nothing.
    if ((await realm.gate.verdict(caller, { uri: kind.uri(route), action, match: kind.policy(route) }))?.ok === true) return true;
  }
  return false;
}

/**
 * The routes `caller` may learn about. The gate is asked one route at a time, not all at once: a
 * dynamic authorizer has at most one question in flight per meta call (and the calls in flight
 * are bounded by maxPendingCallsPerSession); a caller that left stops the asking.
 */
async function learnable<R>(realm: Realm, kind: RouteKind<R>, caller: Endpoint, routes: Iterable<R>): Promise<R[]> {
  const allowed: R[] = [];
  for (const route of [...routes]) {
    if (!caller.live) return [];
    if (await mayLearn(realm, kind, caller, route)) allowed.push(route);
  }
  return allowed;
}

function install<R>(realm: Realm, scope: PluginScope, kind: RouteKind<R>): void {
  const get = (id: number): R => {
    const route = kind.byId(id);
    if (route === undefined) throw new WampError(kind.notFound, [`no ${kind.prefix.slice(5)} ${id}`]);
    return route;
  };
  /** The route with this ID, when the caller may learn about it (#14: meta procedures check the URIs involved). */
  const getFor = async (caller: Endpoint, id: number): Promise<R> => {
    const route = get(id);
    if (!(await mayLearn(realm, kind, caller, route))) {
      throw new WampError(ErrorUri.NotAuthorized, [`session is not authorized to ${kind.actions.join(' or ')} '${kind.uri(route)}'`]);
    }
    return route;
  };
  const p = scope;
  p.procedure(`${kind.prefix}.list`, async (caller) => {
    const out: Record<MatchPolicy, number[]> = { exact: [], prefix: [], wildcard: [] };
    for (const route of await learnable(realm, kind, caller, kind.all())) out[kind.policy(route)].push(kind.id(route));
    return { args: [out] };
  });
  p.procedure(`${kind.prefix}.lookup`, async (caller, args) => {
    const uri = stringArg(args, 0, 'uri');
    const match = optionalDict(args, 1, 'options')['match'] ?? 'exact';
    if (!isMatchPolicy(match)) throw invalid(`unknown match policy '${String(match)}'`);
    const route = kind.lookup(uri, match);
    return { args: [route === undefined || !(await mayLearn(realm, kind, caller, route)) ? null : kind.id(route)] };
  });
  p.procedure(`${kind.prefix}.match`, async (caller, args) => {
    const found = await learnable(realm, kind, caller, kind.match(stringArg(args, 0, 'uri')));
    if (kind.members === 'callees') return { args: [found[0] === undefined ? null : kind.id(found[0])] };
    return { args: [found.length === 0 ? null : found.map(kind.id)] };
  });
  p.procedure(`${kind.prefix}.get`, async (caller, args) => ({ args: [kind.details(await getFor(caller, idArg(args, 0, 'id')))] }));
  p.procedure(`${kind.prefix}.list_${kind.members}`, async (caller, args) => ({ args: [kind.memberIds(await getFor(caller, idArg(args, 0, 'id')))] }));
  p.procedure(`${kind.prefix}.count_${kind.members}`, async (caller, args) => ({ args: [kind.memberIds(await getFor(caller, idArg(args, 0, 'id'))).length] }));
  p.procedure(`${kind.prefix}.${kind.removeMember}`, async (caller, args, kwargs) => {
    const route = await getFor(caller, idArg(args, 0, 'id'));
    // The caller left while the gate was asked: it no longer acts in this realm.
    if (!caller.live) return undefined;
    const sessionId = idArg(args, 1, 'session');
    const reason = typeof kwargs['reason'] === 'string' ? kwargs['reason'] : optionalString(args, 2, 'reason');
    if (!realm.sessions.has(sessionId as Endpoint['id'])) throw new WampError(ErrorUri.NoSuchSession, [`no session ${sessionId} in this realm`]);
    const session = kind.member(route, sessionId);
    if (session === undefined || !kind.revoke(session, route, reason)) {
      throw new WampError(kind.notFound, [`session ${sessionId} does not hold ${kind.prefix.slice(5)} ${kind.id(route)}`]);
    }
    return undefined;
  });
}

/**
 * Publishes `[session, payload]` on a meta topic, only when someone listens, and never about
 * routes on `wamp.*` URIs (a subscription to a meta topic would otherwise announce itself).
 */
function emit(realm: Realm, topic: string, session: Endpoint, uri: string, payload: () => unknown): void {
  if (!isReservedUri(uri) && realm.pubsub.wantsEvent(topic)) realm.pubsub.publishFromRouter(topic, [session.id, payload()]);
}

/**
 * A subscription as the meta API sees it: one of this node's, or (on a cluster node) one held on
 * another node, known from the cluster's subscription registry. One (topic, match) is one
 * subscription for the whole cluster: its subscribers are those of every node, and it is shown
 * under this node's ID when this node holds it, else under one other node's ID.
 */
interface SubscriptionView {
  readonly id: number;
  readonly topic: string;
  readonly match: MatchPolicy;
  readonly created: number;
  readonly local: Subscription<Endpoint> | undefined;
}

function patternKey(match: MatchPolicy, topic: string): string {
  return `${match} ${topic}`;
}

function matchesTopic(view: { topic: string; match: MatchPolicy }, topic: string): boolean {
  if (view.match === 'exact') return view.topic === topic;
  if (view.match === 'prefix') return topic.startsWith(view.topic);
  const pattern = view.topic.split('.');
  const parts = topic.split('.');
  return pattern.length === parts.length && pattern.every((p, i) => p === '' || p === parts[i]);
}

export function installRouteMeta(realm: Realm, scope: PluginScope = realm): void {
  const { broker, dealer } = realm;
  const localView = (s: Subscription<Endpoint>): SubscriptionView => ({ id: s.id, topic: s.topic, match: s.match, created: s.created, local: s });
  /** Every subscription of the cluster, one per (topic, match). */
  const views = (): SubscriptionView[] => {
    const out = new Map<string, SubscriptionView>();
    for (const s of broker.subscriptions()) if (s.subscribers.size > 0 || !realm.hooks.spansNodes) out.set(patternKey(s.match, s.topic), localView(s));
    for (const r of realm.hooks.remoteSubscriptions()) {
      const key = patternKey(r.match, r.topic);
      if (!out.has(key)) out.set(key, { id: r.id, topic: r.topic, match: r.match, created: r.created, local: undefined });
    }
    return [...out.values()];
  };
  const remoteMembers = (view: SubscriptionView): number[] => {
    const ids: number[] = [];
    for (const r of realm.hooks.remoteSubscriptions()) if (r.match === view.match && r.topic === view.topic) ids.push(...r.subscribers);
    return ids;
  };
  install<SubscriptionView>(realm, scope, {
    prefix: 'wamp.subscription',
    members: 'subscribers',
    removeMember: 'remove_subscriber',
    notFound: ErrorUri.NoSuchSubscription,
    all: () => (!realm.hooks.spansNodes ? [...broker.subscriptions()].map(localView) : views()),
    byId: (id) => {
      const local = broker.getSubscription(id as never);
      if (local !== undefined) return localView(local);
      const remote = realm.hooks.remoteSubscriptions().find((r) => r.id === id);
      if (remote === undefined) return undefined;
      // Shown under this node's ID when this node holds the same subscription.
      const here = broker.lookup(remote.topic, remote.match);
      return here !== undefined ? localView(here) : { id: remote.id, topic: remote.topic, match: remote.match, created: remote.created, local: undefined };
    },
    lookup: (uri, match) => {
      const local = broker.lookup(uri, match);
      if (local !== undefined) return localView(local);
      return views().find((v) => v.match === match && v.topic === uri);
    },
    match: (uri) => (!realm.hooks.spansNodes ? [...broker.match(uri)].map(localView) : views().filter((v) => matchesTopic(v, uri))),
    memberIds: (v) => [...[...(v.local?.subscribers ?? [])].map((s) => s.id), ...remoteMembers(v)],
    member: (v, id) => [...(v.local?.subscribers ?? [])].find((s) => s.id === id),
    details: (v) => ({ id: v.id, created: isoTime(v.created), uri: v.topic, match: v.match }),
    id: (v) => v.id,
    policy: (v) => v.match,
    revoke: (session, v, reason) => v.local !== undefined && realm.pubsub.revokeSubscription(session, v.local, reason),
    actions: ['subscribe', 'publish'],
    uri: (v) => v.topic,
  });
  install(realm, scope, {
    prefix: 'wamp.registration',
    members: 'callees',
    removeMember: 'remove_callee',
    notFound: ErrorUri.NoSuchRegistration,
    all: () => dealer.registrations(),
    byId: (id) => dealer.getRegistration(id as never),
    lookup: (uri, match) => dealer.lookup(uri, match),
    match: (uri) => {
      const best = dealer.resolve(uri);
      return best === undefined ? [] : [best];
    },
    memberIds: (r) => r.callees.map((c) => c.session.id),
    member: (r, id) => r.callees.find((c) => c.session.id === id)?.session,
    details: (r) => ({ id: r.id, created: isoTime(r.created), uri: r.procedure, match: r.match, invoke: r.invoke }),
    id: (r) => r.id,
    policy: (r) => r.match,
    revoke: (session, r, reason) => realm.rpc.revokeRegistration(session, r, reason),
    actions: ['call', 'register'],
    uri: (r) => r.procedure,
  });

  const observer: RealmObserver = {
    onSubscriptionCreated: (session, s) =>
      emit(realm, 'wamp.subscription.on_create', session, s.topic, () => ({ id: s.id, created: isoTime(s.created), uri: s.topic, match: s.match })),
    onSubscribe: (session, s) => emit(realm, 'wamp.subscription.on_subscribe', session, s.topic, () => s.id),
    onUnsubscribe: (session, s) => emit(realm, 'wamp.subscription.on_unsubscribe', session, s.topic, () => s.id),
    onSubscriptionDeleted: (session, s) => emit(realm, 'wamp.subscription.on_delete', session, s.topic, () => s.id),
    onRegistrationCreated: (session, r) =>
      emit(realm, 'wamp.registration.on_create', session, r.procedure, () => ({
        id: r.id,
        created: isoTime(r.created),
        uri: r.procedure,
        match: r.match,
        invoke: r.invoke,
      })),
    onRegister: (session, r) => emit(realm, 'wamp.registration.on_register', session, r.procedure, () => r.id),
    onUnregister: (session, r) => emit(realm, 'wamp.registration.on_unregister', session, r.procedure, () => r.id),
    onRegistrationDeleted: (session, r) => emit(realm, 'wamp.registration.on_delete', session, r.procedure, () => r.id),
  };
  scope.observe(observer);
}
