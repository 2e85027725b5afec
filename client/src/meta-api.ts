/**
 * The router's own procedures and events as a URI contract (see typed.ts): the WAMP meta API
 * [ap_session_meta_api, ap_pubsub_subscription_meta_api, ap_rpc_registration_meta_api,
 * ap_pubsub_event_history, ap_session_testament_meta_api] as Switchboard's router implements it
 * (router/src/meta/), and `switchboard.router.stats`. A typed session (`connect<Api>()`) can call
 * these and subscribe to these on top of its own contract, with the shapes the router returns:
 *
 * ```ts
 * const session = await connect<Api>({ url, realm });
 * const n = await session.call('wamp.session.count'); // number
 * await session.subscribe('wamp.session.on_join', ([details]) => console.log(details.authrole));
 * ```
 *
 * A URI the app's own contract declares keeps the app's entry. Calling these is authorized like any
 * other call: a realm with roles must grant them.
 */
import type { Dict, MatchPolicy } from '@switchboard/schemas/core';
import type { InvocationPolicy } from './options.js';

/** A session as wamp.session.get and wamp.session.on_join describe it. */
export interface MetaSessionDetails {
  session: number;
  authid: string;
  authrole: string;
  authmethod: string;
  authprovider: string;
  transport: {
    /** `websocket`, `rawsocket`, `longpoll`, … */
    type: string;
    /** The WebSocket subprotocol or serializer in use, e.g. `wamp.2.json`. */
    protocol: string;
    /** The peer's address, e.g. `tcp4:127.0.0.1:53122`. */
    peer: string;
  };
  /** Present (true) for a resumable session only (session resumption, docs/resumption.md). */
  resumable?: true;
  /** A resumable session's: false while it is detached (no transport, waiting for a resume). */
  attached?: boolean;
}

/** A subscription as wamp.subscription.get and on_create describe it. */
export interface MetaSubscriptionDetails {
  id: number;
  /** ISO 8601 with milliseconds. */
  created: string;
  uri: string;
  match: MatchPolicy;
}

/** A registration as wamp.registration.get and on_create describe it. */
export interface MetaRegistrationDetails extends MetaSubscriptionDetails {
  invoke: InvocationPolicy;
}

/** The IDs of wamp.subscription.list / wamp.registration.list, by match policy. */
export interface MetaRouteIds {
  exact: number[];
  prefix: number[];
  wildcard: number[];
}

/** One stored event, as wamp.subscription.get_events returns it. */
export interface MetaStoredEvent {
  /** When it was published (ISO 8601). */
  timestamp: string;
  subscription: number;
  publication: number;
  /** The EVENT details; `topic` too for a pattern subscription. */
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** `reason` (a URI, default wamp.close.normal) and `message`, sent in the GOODBYE of a killed session. */
export interface MetaKillOptions {
  reason?: string;
  message?: string;
  /** wamp.session.kill only: pause a resumable session (GOODBYE resumable: true) instead of ending it. */
  resumable?: boolean;
}

/** Scope of a testament: published when the session is destroyed (the default) or detached. */
export interface MetaTestamentOptions {
  scope?: 'destroyed' | 'detached';
  publish_options?: Dict;
}

/** The keyword filters of wamp.subscription.get_events (times in RFC 3339). */
export interface MetaEventQuery {
  limit?: number;
  reverse?: boolean;
  topic?: string;
  from_time?: string;
  after_time?: string;
  before_time?: string;
  until_time?: string;
  from_publication?: number;
  after_publication?: number;
  before_publication?: number;
  until_publication?: number;
}

/** What switchboard.router.stats returns: the router's message counters and this realm's sessions. */
export interface RouterStats {
  /** Messages received, by type label (`publish`, `call`, …); types never seen are absent. */
  messagesIn: Record<string, number>;
  messagesOut: Record<string, number>;
  eventsDropped: number;
  slowConsumersCutOff: number;
  protocolViolations: number;
  sessions: number;
}

/** The procedures the router itself provides on every realm. */
export interface MetaProcedures {
  'wamp.session.count': { args: [filter_authroles?: string[]]; result: number };
  'wamp.session.list': { args: [filter_authroles?: string[]]; result: number[] };
  'wamp.session.get': { args: [session: number]; result: MetaSessionDetails };
  /** No result; ERROR wamp.error.no_such_session for an unknown session or the caller itself. */
  'wamp.session.kill': { args: [session: number]; kwargs: MetaKillOptions };
  /** How many sessions were closed (the caller's own is spared). */
  'wamp.session.kill_by_authid': { args: [authid: string]; kwargs: MetaKillOptions; result: number };
  'wamp.session.kill_by_authrole': { args: [authrole: string]; kwargs: MetaKillOptions; result: number };
  'wamp.session.kill_all': { kwargs: MetaKillOptions; result: number };
  'wamp.session.add_testament': { args: [topic: string, args?: unknown[], kwargs?: Dict, options?: MetaTestamentOptions]; kwargs: MetaTestamentOptions };
  'wamp.session.flush_testaments': { args: [options?: MetaTestamentOptions]; kwargs: MetaTestamentOptions };

  'wamp.subscription.list': { result: MetaRouteIds };
  'wamp.subscription.lookup': { args: [uri: string, options?: { match?: MatchPolicy }]; result: number | null };
  /** Every subscription an event on `uri` would reach; null when none. */
  'wamp.subscription.match': { args: [uri: string]; result: number[] | null };
  'wamp.subscription.get': { args: [subscription: number]; result: MetaSubscriptionDetails };
  'wamp.subscription.list_subscribers': { args: [subscription: number]; result: number[] };
  'wamp.subscription.count_subscribers': { args: [subscription: number]; result: number };
  'wamp.subscription.remove_subscriber': { args: [subscription: number, session: number, reason?: string]; kwargs: { reason?: string } };
  /** The subscription's stored events (a realm's `eventHistory`); ERROR wamp.error.history_unavailable without one. */
  'wamp.subscription.get_events': { args: [subscription: number, limit?: number]; kwargs: MetaEventQuery; result: MetaStoredEvent[] };
  /**
   * A topic's last `limit` stored events, oldest first (at most the realm's `maxHistoryPage`).
   * `callResult` gives kwargs {more, gap}: another page exists; the bound named an event no longer
   * kept. ERROR wamp.error.history_unavailable for a topic no `eventHistory` rule matches.
   */
  'wamp.topic.history.last': { args: [topic: string, limit: number]; kwargs: MetaEventQuery; result: MetaStoredEvent[] };
  /** A topic's events at or after `timestamp` (RFC 3339, or ms since the epoch), oldest first, one page. */
  'wamp.topic.history.since': { args: [topic: string, timestamp: string | number]; kwargs: MetaEventQuery; result: MetaStoredEvent[] };
  /** A topic's events after `publication`, oldest first, one page (`gap` when it is no longer kept). */
  'wamp.topic.history.after': { args: [topic: string, publication: number]; kwargs: MetaEventQuery; result: MetaStoredEvent[] };

  'wamp.registration.list': { result: MetaRouteIds };
  'wamp.registration.lookup': { args: [uri: string, options?: { match?: MatchPolicy }]; result: number | null };
  /** The registration a call to `uri` would go to; null when none. */
  'wamp.registration.match': { args: [uri: string]; result: number | null };
  'wamp.registration.get': { args: [registration: number]; result: MetaRegistrationDetails };
  'wamp.registration.list_callees': { args: [registration: number]; result: number[] };
  'wamp.registration.count_callees': { args: [registration: number]; result: number };
  'wamp.registration.remove_callee': { args: [registration: number, session: number, reason?: string]; kwargs: { reason?: string } };

  'switchboard.router.stats': { result: RouterStats };
}

/** The events the router itself publishes (to subscribers allowed to subscribe to them). */
export interface MetaTopics {
  'wamp.session.on_join': { args: [details: MetaSessionDetails] };
  'wamp.session.on_leave': { args: [session: number, authid: string, authrole: string] };
  /** A session got a transport: at its join (before on_join, `resumed` false) and at each resume. */
  'wamp.session.on_attach': { args: [details: MetaSessionDetails & { resumed: boolean }] };
  /** A session lost its transport: detached (resumable) or closing (before on_leave). */
  'wamp.session.on_detach': { args: [details: MetaSessionDetails] };
  'wamp.subscription.on_create': { args: [session: number, details: MetaSubscriptionDetails] };
  'wamp.subscription.on_subscribe': { args: [session: number, subscription: number] };
  'wamp.subscription.on_unsubscribe': { args: [session: number, subscription: number] };
  'wamp.subscription.on_delete': { args: [session: number, subscription: number] };
  'wamp.registration.on_create': { args: [session: number, details: MetaRegistrationDetails] };
  'wamp.registration.on_register': { args: [session: number, registration: number] };
  'wamp.registration.on_unregister': { args: [session: number, registration: number] };
  'wamp.registration.on_delete': { args: [session: number, registration: number] };
}

/** The router's contract: what every session may call and subscribe to besides its own. */
export interface MetaApi {
  procedures: MetaProcedures;
  topics: MetaTopics;
}
