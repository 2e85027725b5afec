/**
 * Event history as a realm plugin, on the event store (history/store.ts): the subscriptions that
 * keep history (one per `eventHistory` rule, made at install, without subscribers), the recording
 * of every publication delivered here into the store, the durability acknowledgement, retained
 * events persisted and loaded back, and the reads. [ap_pubsub_event_history]
 *
 * Reads: wamp.subscription.get_events(subscription, [limit]) with the spec's keyword filters
 * (reverse, limit, from_time/after_time/before_time/until_time (RFC 3339), topic,
 * from_publication/after_publication/before_publication/until_publication; a positional limit is
 * Crossbar's form; it answers args [events] only, as Crossbar does), and the spec's
 * wamp.topic.history.last(topic, limit), wamp.topic.history.since(topic, timestamp),
 * wamp.topic.history.after(topic, publication), which answer args [events] and kwargs {more, gap}.
 * Every read returns at most `limits.maxHistoryPage` events and `limits.maxHistoryPageBytes` bytes
 * (estimated; at least one event), `more` (and `gap`) computed from what the reader may read.
 *
 * History is payloads: a reader gets only the events it could have received by subscribing.
 * Calling a procedure is authorized like every other CALL; what it returns needs subscribe
 * permission on the subscription's topic or pattern (or else, a pattern, on each returned event's
 * topic), and the publications' authid/authrole lists are applied to the reader.
 */
import type { Dict, Kwargs, MatchPolicy, PublicationId, SubscriptionId, WireArgs } from '@switchboard/schemas';
import { ErrorUri, WampError, isId } from '@switchboard/schemas';
import type { DeliveryPlan, RecipientFilter, Subscription } from '../broker/broker.js';
import type { Verdict } from '../auth/gate.js';
import { HISTORY_UNAVAILABLE, LIMIT_EXCEEDED, RefusalError, STORE_FAILED, overLimit, refusal } from '../core/outcome.js';
import type { Outcome } from '../core/outcome.js';
import type { Endpoint } from '../core/endpoint.js';
import type {
  CatchUpReplay,
  CatchUpRequest,
  EventStore,
  HistoryEvent,
  HistoryPage,
  HistoryQuery,
  RealmStore,
  StoredEvent,
  StoredFilter,
  TopicPolicy,
  TopicSelector,
} from '../history/store.js';
import { payloadBytes } from '../limits.js';
import type { Realm } from '../realm.js';
import type { PluginScope, PublicationOrigin } from '../realm-hooks.js';
import type { RealmPlugin } from '../realm-plugin.js';
import { idArg, invalid, isoTime, stringArg } from './args.js';

/** A topic (or pattern) whose events a realm keeps (config `eventHistory`): `limit` per topic, for `maxAgeMs` (0 or absent: no age limit). */
export interface HistoryTopic {
  readonly topic: string;
  readonly match: MatchPolicy;
  readonly limit: number;
  readonly maxAgeMs?: number;
}

export interface HistoryPluginOptions {
  /** "ack": an acknowledged PUBLISH's PUBLISHED waits until the store has the event. Default "batched". */
  readonly durability?: 'ack' | 'batched';
  /** Milliseconds since the epoch (the time stored with each event). */
  readonly now?: () => number;
}

/** A rule as installed: its history subscription and the policy it alone gives a topic. */
interface Rule {
  readonly subscription: Subscription<Endpoint>;
  readonly policy: TopicPolicy;
}

/** What the plugin keeps for one realm while installed. */
interface HistoryState {
  readonly realm: Realm;
  readonly store: RealmStore;
  /** Rules by their history subscription's ID. */
  readonly rules: ReadonlyMap<SubscriptionId, Rule>;
}

const states = new WeakMap<Realm, HistoryState>();

/** The events and bytes `realm`'s history holds now, if its history plugin is installed (/metrics). */
export function historySizeOf(realm: Realm): { readonly events: number; readonly bytes: number } | undefined {
  return states.get(realm)?.store.size;
}

/** The most events one read returns in `realm` (`limits.maxHistoryPage`). */
function pageOf(realm: Realm): number {
  return realm.quotas.limits.maxHistoryPage;
}

// ---- recording -------------------------------------------------------------------------------

const NO_LISTS: StoredFilter = {};

/** A publication restricted to session IDs: never stored. [ap_pubsub_event_history] */
function bySession(f: RecipientFilter): boolean {
  return f.exclude !== undefined || f.eligible !== undefined;
}

function storedFilter(f: RecipientFilter): StoredFilter {
  if (f.excludeAuthid === undefined && f.eligibleAuthid === undefined && f.excludeAuthrole === undefined && f.eligibleAuthrole === undefined) return NO_LISTS;
  const out: { -readonly [K in keyof StoredFilter]: StoredFilter[K] } = {};
  if (f.excludeAuthid !== undefined) out.excludeAuthid = [...f.excludeAuthid];
  if (f.eligibleAuthid !== undefined) out.eligibleAuthid = [...f.eligibleAuthid];
  if (f.excludeAuthrole !== undefined) out.excludeAuthrole = [...f.excludeAuthrole];
  if (f.eligibleAuthrole !== undefined) out.eligibleAuthrole = [...f.eligibleAuthrole];
  return out;
}

/** Whether `reader` passes a stored publication's authid/authrole lists. */
function mayRead(f: StoredFilter, reader: Endpoint): boolean {
  if (f === NO_LISTS) return true;
  if (f.excludeAuthid?.includes(reader.authid) === true) return false;
  if (f.eligibleAuthid !== undefined && !f.eligibleAuthid.includes(reader.authid)) return false;
  if (f.excludeAuthrole?.includes(reader.authrole) === true) return false;
  if (f.eligibleAuthrole !== undefined && !f.eligibleAuthrole.includes(reader.authrole)) return false;
  return true;
}

/** The policy of two rules that match one topic: the largest limit, the largest age (0, none, wins). */
/** The widest policy of a realm's rules (a shared store sizes the realm's stream by it); undefined without rules. */
export function widestRule(rules: readonly HistoryTopic[] | undefined): TopicPolicy | undefined {
  let policy: TopicPolicy | undefined;
  for (const h of rules ?? []) {
    const own: TopicPolicy = { limit: h.limit, maxAgeMs: h.maxAgeMs ?? 0 };
    policy = policy === undefined ? own : widest(policy, own);
  }
  return policy;
}

function widest(a: TopicPolicy, b: TopicPolicy): TopicPolicy {
  const limit = Math.max(a.limit, b.limit);
  const maxAgeMs = a.maxAgeMs === 0 || b.maxAgeMs === 0 ? 0 : Math.max(a.maxAgeMs, b.maxAgeMs);
  if (limit === a.limit && maxAgeMs === a.maxAgeMs) return a;
  if (limit === b.limit && maxAgeMs === b.maxAgeMs) return b;
  return { limit, maxAgeMs };
}

/**
 * The policy of a publication's topic: `widest` of the rules whose subscriptions the broker
 * matched, or undefined when none keeps history. The broker already matched the topic, so this is
 * a loop over the plan's subscriptions with a Map lookup each, and nothing to cache (the number of
 * topics is the publishers' to choose); it allocates only for rules whose policies cross.
 */
function policyOf(rules: ReadonlyMap<SubscriptionId, Rule>, subscriptions: readonly Subscription<Endpoint>[]): TopicPolicy | undefined {
  let found: TopicPolicy | undefined;
  for (const s of subscriptions) {
    const rule = rules.get(s.id);
    if (rule !== undefined) found = found === undefined ? rule.policy : widest(found, rule.policy);
  }
  return found;
}

/**
 * Event history as a realm plugin. `store`: the router's event store (its realm part is opened at
 * install with the realm's maxHistoryBytes); `rulesOf`: a realm's `eventHistory` rules.
 */
export function historyPlugin(
  store: EventStore,
  rulesOf: (realm: string) => readonly HistoryTopic[] | undefined,
  options: HistoryPluginOptions = {},
): RealmPlugin {
  const now = options.now ?? Date.now;
  const ack = options.durability === 'ack';
  // A durable single-node store keeps retained events too; memory leaves them to the broker, a shared store to the cluster's KV bucket.
  const persistsRetained = store.type !== 'memory' && !store.shared;
  return {
    name: 'history',
    async install(realm, context) {
      // Persisted retained events are bounded as the broker bounds them (#17 review F10).
      const rs = await store.realm(realm.name, realm.quotas.limits.maxHistoryBytes, { maxRetainedBytes: realm.quotas.limits.maxRetainedBytes });
      const rules = new Map<SubscriptionId, Rule>();
      for (const h of rulesOf(realm.name) ?? []) {
        const subscription = realm.broker.ensureSubscription(h.topic, h.match);
        const own: TopicPolicy = { limit: h.limit, maxAgeMs: h.maxAgeMs ?? 0 };
        // Two rules for the same topic and match share one subscription: the widest of the two.
        const previous = rules.get(subscription.id)?.policy;
        rules.set(subscription.id, { subscription, policy: previous === undefined ? own : widest(previous, own) });
      }
      // Topics an earlier run stored (a durable store) take the rules' policies now: a lowered limit or a new age applies from the start.
      await rs.applyPolicies?.((topic) => policyOf(rules, realm.broker.match(topic)));
      if (persistsRetained) await loadRetained(realm, rs);
      const state: HistoryState = { realm, store: rs, rules };
      states.set(realm, state);
      installReads(realm, context, state);
      // The SUBSCRIBE `history` option replays from this store (WELCOME announces history_catch_up).
      if (rules.size > 0) context.catchUp((session, subscription, request) => catchUpReplay(realm, session, subscription, request));
      if (rules.size > 0 || persistsRetained) {
        context.observe({
          onPublished: (plan, details, args, kwargs, origin) => record(state, plan, details, args, kwargs, origin),
        });
      }
      return () => {
        states.delete(realm);
      };
    },
  };

  function record(
    state: HistoryState,
    plan: DeliveryPlan<Endpoint>,
    details: Dict,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
    origin: PublicationOrigin,
  ): Promise<void> | undefined {
    // Router-origin events (meta events) are never kept; with a shared store the publishing node wrote what another node forwards.
    if (origin.kind === 'router' || (origin.kind === 'remote' && store.shared)) return undefined;
    const policy = policyOf(state.rules, plan.subscriptions);
    // Persisted retained events follow the broker's: what it evicted is forgotten, what it refused never kept. [ap_pubsub_event_retention]
    const retained = persistsRetained && origin.kind === 'session' ? origin.retained : undefined;
    if (retained !== undefined) for (const topic of retained.evictedTopics) state.store.unretain(topic);
    if (policy === undefined && retained?.retained !== true) return undefined;
    if (bySession(plan.filter)) return undefined;
    const filter = storedFilter(plan.filter);
    const event: HistoryEvent = { at: now(), publication: plan.publication, topic: plan.topic, details, args, kwargs, filter };
    const appended = policy === undefined ? 'queued' : state.store.append(event, policy);
    // Only the topic's event for everybody is persisted (the broker keeps restricted ones in memory).
    if (retained?.retained === true && filter === NO_LISTS) state.store.retain(event);
    const acknowledged = ack && origin.kind === 'session' && origin.acknowledged;
    if (appended === 'too-large') {
      // Alone larger than the realm's history budget: never stored. "ack" says so instead of PUBLISHED (the ERROR counts it).
      const maxBytes = state.realm.quotas.limits.maxHistoryBytes;
      if (acknowledged) return Promise.reject(new RefusalError(overLimit({ limit: 'maxHistoryBytes', value: maxBytes })));
      state.realm.stats.limitExceeded('maxHistoryBytes');
    } else if (appended === 'refused' && acknowledged) {
      return Promise.reject(
        new RefusalError(refusal(STORE_FAILED, 'the event store did not take the event (it is closed or cannot take more); it was delivered')),
      );
    }
    if (acknowledged) return state.store.flush();
    return undefined;
  }
}

/** Retained events persisted by an earlier run, back into the broker, oldest first, with their original time (for ttlMs). */
async function loadRetained(realm: Realm, rs: RealmStore): Promise<void> {
  for (const r of await rs.retained()) {
    const plan: DeliveryPlan<Endpoint> = { publication: r.publication, publisher: undefined, topic: r.topic, subscriptions: [], filter: { excludeMe: false } };
    const outcome = realm.broker.retain(plan, r.args, r.kwargs, r.details, payloadBytes(r.args, r.kwargs, r.details) + r.topic.length, r.at);
    realm.stats.evicted('maxRetainedBytes', outcome.evicted);
    if (outcome.tooLarge) realm.stats.limitExceeded('maxRetainedBytes');
  }
}

// ---- reading ---------------------------------------------------------------------------------

/** The filters of a read, from its kwargs (everything but what selects the topics). */
type Filters = Omit<HistoryQuery, 'select' | 'limit' | 'reverse' | 'afterSeq'> & { reverse?: boolean; limit?: number; topic?: string };

function time(kwargs: Dict, key: string): number | undefined {
  const v = kwargs[key];
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw invalid(`${key} must be an RFC 3339 timestamp`);
  return ms;
}

function publication(kwargs: Dict, key: string): PublicationId | undefined {
  const v = kwargs[key];
  if (v === undefined) return undefined;
  if (!isId(v)) throw invalid(`${key} must be a publication ID`);
  return v as PublicationId;
}

function positive(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalid(`${name} must be a positive integer`);
  return v;
}

function filtersOf(kwargs: Dict, positionalLimit?: unknown): Filters {
  const q: Filters = {};
  const limit = kwargs['limit'] ?? positionalLimit;
  if (limit !== undefined) q.limit = positive(limit, 'limit');
  if (kwargs['reverse'] !== undefined) {
    if (typeof kwargs['reverse'] !== 'boolean') throw invalid('reverse must be a boolean');
    q.reverse = kwargs['reverse'];
  }
  if (kwargs['topic'] !== undefined) {
    if (typeof kwargs['topic'] !== 'string') throw invalid('topic must be a URI');
    q.topic = kwargs['topic'];
  }
  const set = <K extends keyof Filters>(key: K, value: Filters[K] | undefined): void => {
    if (value !== undefined) q[key] = value;
  };
  set('fromTime', time(kwargs, 'from_time'));
  set('afterTime', time(kwargs, 'after_time'));
  set('beforeTime', time(kwargs, 'before_time'));
  set('untilTime', time(kwargs, 'until_time'));
  set('fromPublication', publication(kwargs, 'from_publication'));
  set('afterPublication', publication(kwargs, 'after_publication'));
  set('beforePublication', publication(kwargs, 'before_publication'));
  set('untilPublication', publication(kwargs, 'until_publication'));
  return q;
}

/** A store query from the read's filters, its limit clamped to the realm's page. */
function queryOf(select: TopicSelector, f: Filters, page: number): HistoryQuery {
  const { topic: _topic, limit, ...bounds } = f;
  return { ...bounds, select, limit: Math.min(limit ?? page, page) };
}

/**
 * The filter of what `caller` may read of `subscription`'s events: all of them with subscribe
 * permission on the subscription itself; otherwise, for a pattern subscription, those whose topic
 * it may subscribe to (asked once per topic, at most `limits.maxHistoryReadTopics` topics: each may be
 * a question to a dynamic authorizer; past it ERROR switchboard.error.limit_exceeded, and the caller
 * reads one topic at a time with the kwarg `topic`); for an exact one
 * none (ERROR wamp.error.not_authorized). A failing authorizer is wamp.error.authorization_failed.
 * Verdicts are kept for the read, so that a read of more than one store page asks once per topic.
 * A caller that left gets nothing.
 */
function permitted(realm: Realm, caller: Endpoint, subscription: Subscription<Endpoint>): (events: StoredEvent[]) => Promise<StoredEvent[]> {
  let whole: Verdict | undefined;
  const verdicts = new Map<string, boolean>();
  return async (events) => {
    if (whole === undefined) {
      whole = await realm.gate.verdict(caller, { uri: subscription.topic, action: 'subscribe', match: subscription.match });
      // The caller left meanwhile: nobody gets the answer.
      if (whole === undefined) return [];
    }
    if (whole.ok) return events;
    if (whole.error !== ErrorUri.NotAuthorized) throw new WampError(whole.error, [whole.message]);
    if (subscription.match === 'exact') throw new WampError(ErrorUri.NotAuthorized, [`session is not authorized to subscribe to '${subscription.topic}'`]);
    // One topic at a time: at most one question in flight to a dynamic authorizer per call; a caller that left stops the asking.
    for (const e of events) {
      if (verdicts.has(e.topic)) continue;
      const max = realm.quotas.limits.maxHistoryReadTopics;
      if (verdicts.size >= max) {
        realm.stats.limitExceeded('maxHistoryReadTopics');
        throw new WampError(
          LIMIT_EXCEEDED,
          [
            `session may not subscribe to '${subscription.topic}' (${subscription.match}) as a whole, and its events span more than ${max} topics to authorize one by one: read one topic at a time with the keyword argument topic`,
          ],
          { limit: 'maxHistoryReadTopics', value: max },
        );
      }
      if (!caller.live) return [];
      const verdict = await realm.gate.verdict(caller, { uri: e.topic, action: 'subscribe' });
      if (verdict === undefined) return [];
      if (!verdict.ok && verdict.error !== ErrorUri.NotAuthorized) throw new WampError(verdict.error, [verdict.message]);
      verdicts.set(e.topic, verdict.ok);
    }
    return events.filter((e) => verdicts.get(e.topic) === true);
  };
}

/** The store read, its failure an ERROR to this read (never a fault of the session). */
async function readStore(rs: RealmStore, q: HistoryQuery): Promise<HistoryPage> {
  try {
    // A read sees every event published before it.
    await rs.flush();
    return await rs.query(q);
  } catch (err) {
    throw new WampError(STORE_FAILED, [`event store read failed: ${err instanceof Error ? err.message : String(err)}`]);
  }
}

/** How many pages one read may look at to fill its page with events the reader may read. */
const SCAN_PAGES = 4;

/**
 * Reads `q` keeping what `keep` lets through (the publications' authid/authrole lists, the gate),
 * so that a page's length and `more` are the reader's: `q.limit` events it may read, and more:
 * true only when it may read another (or, past SCAN_PAGES pages scanned, when one may exist). The
 * store is asked for one event past the page (that one answers `more`); a read that lost events
 * to `keep` while the store has more is read again with a larger limit (doubled, at most
 * SCAN_PAGES × the realm's page): the store has no position to resume from in both directions.
 * In the store's order.
 */
async function collect(
  rs: RealmStore,
  q: HistoryQuery,
  page: number,
  keep: (events: StoredEvent[]) => StoredEvent[] | Promise<StoredEvent[]>,
): Promise<HistoryPage> {
  const wanted = q.limit;
  let limit = wanted + 1;
  for (;;) {
    const read = await readStore(rs, { ...q, limit });
    const kept = await keep(read.events);
    if (kept.length > wanted) return { events: kept.slice(0, wanted), more: true, gap: read.gap };
    if (!read.more || limit > SCAN_PAGES * page) return { events: kept, more: read.more, gap: read.gap };
    limit = Math.min(2 * limit, SCAN_PAGES * page + 1);
  }
}

/** An event's bytes as the realm estimates them for every byte budget (payloadBytes + the topic). */
function eventBytes(e: HistoryEvent): number {
  return payloadBytes(e.args, e.kwargs, e.details) + e.topic.length;
}

/**
 * The first events of `events` that fit in `maxBytes` (limits.maxHistoryPageBytes), at least one:
 * an event the router accepted is sent, alone if it must (else a reader paging with after() would
 * never get past it). `cut`: some were left out.
 */
function fitting<E extends HistoryEvent>(events: readonly E[], maxBytes: number): { events: E[]; cut: boolean } {
  let bytes = 0;
  for (let i = 0; i < events.length; i++) {
    bytes += eventBytes(events[i]!);
    if (bytes > maxBytes && i > 0) return { events: events.slice(0, i), cut: true };
  }
  return { events: events as E[], cut: false };
}

/** The most bytes one read returns in `realm` (`limits.maxHistoryPageBytes`). */
function pageBytesOf(realm: Realm): number {
  return realm.quotas.limits.maxHistoryPageBytes;
}

/** get_events' shape of a stored event: `subscription` the rule's, `details.topic` for a pattern rule. */
function eventOut(e: StoredEvent, subscription: Subscription<Endpoint>): Dict {
  const event: Dict = {
    timestamp: isoTime(e.at),
    subscription: subscription.id,
    publication: e.publication,
    details: subscription.match === 'exact' ? e.details : { ...e.details, topic: e.topic },
  };
  if (e.args !== undefined) event['args'] = e.args;
  if (e.kwargs !== undefined) event['kwargs'] = e.kwargs;
  return event;
}

/**
 * The rule that answers for `topic`: its exact rule if there is one, else the first pattern rule
 * the broker matches (prefixes shortest first, then wildcards). Undefined: the topic keeps no history.
 */
function ruleFor(realm: Realm, state: HistoryState, topic: string): Rule | undefined {
  let found: Rule | undefined;
  for (const s of realm.broker.match(topic)) {
    const rule = state.rules.get(s.id);
    if (rule !== undefined && (found === undefined || s.match === 'exact')) found = rule;
  }
  return found;
}

/** Whether the rules cover every topic a subscription (topic, match) can receive events of. */
function coveringRule(realm: Realm, state: HistoryState, subscription: Subscription<Endpoint>): boolean {
  if (state.rules.has(subscription.id)) return true;
  if (subscription.match === 'exact') return ruleFor(realm, state, subscription.topic) !== undefined;
  // A pattern: covered by a prefix rule every matching topic starts with (the pattern's fixed start).
  const empty = subscription.match === 'wildcard' ? /(^|\.)(\.|$)/.exec(subscription.topic) : null;
  const fixed = empty === null ? subscription.topic : subscription.topic.slice(0, empty.index + (empty[1] ?? '').length);
  for (const rule of state.rules.values()) {
    if (rule.subscription.match === 'prefix' && fixed.startsWith(rule.subscription.topic)) return true;
  }
  return false;
}

function installReads(realm: Realm, scope: PluginScope, state: HistoryState): void {
  scope.procedure('wamp.subscription.get_events', async (caller, args, kwargs) => {
    const id = idArg(args, 0, 'subscription');
    const subscription = realm.broker.getSubscription(id as SubscriptionId);
    if (subscription === undefined) throw new WampError(ErrorUri.NoSuchSubscription, [`no subscription ${id}`]);
    if (!state.rules.has(subscription.id)) throw new WampError(HISTORY_UNAVAILABLE, [`subscription ${id} keeps no event history`]);
    const f = filtersOf(kwargs, args[1]);
    let select: TopicSelector = { match: subscription.match, topic: subscription.topic };
    if (f.topic !== undefined) {
      // One topic of the subscription (a pattern's); a topic it does not match selects nothing.
      if (!realm.broker.match(f.topic).includes(subscription)) return { args: [[]] };
      select = { match: 'exact', topic: f.topic };
    }
    // The publication's authid/authrole lists apply to whoever reads the history; then the gate.
    const allowed = permitted(realm, caller, subscription);
    const page = await collect(state.store, queryOf(select, f, pageOf(realm)), pageOf(realm), (events) =>
      allowed(events.filter((e) => mayRead(e.filter, caller))),
    );
    // The caller left while the gate was asked: nobody gets the answer.
    if (!caller.live) return undefined;
    // Crossbar's form, args only: with kwargs, Autobahn and other clients would hand the caller a
    // CallResult instead of the list it has always had. `more` is asked for with a next page. Cut
    // to maxHistoryPageBytes like every read.
    return { args: [fitting(page.events, pageBytesOf(realm)).events.map((e) => eventOut(e, subscription))] };
  });

  /** wamp.topic.history.*: one topic, authorized by the reader's subscribe permission on it. */
  const topicRead =
    (shape: (args: unknown[], f: Filters) => Filters & { last?: boolean }) =>
    async (caller: Endpoint, args: unknown[], kwargs: Dict): Promise<{ args: unknown[]; kwargs: Dict } | undefined> => {
      const topic = stringArg(args, 0, 'topic');
      realm.quotas.checkUri(topic);
      const rule = ruleFor(realm, state, topic);
      if (rule === undefined) throw new WampError(HISTORY_UNAVAILABLE, [`topic '${topic}' keeps no event history`]);
      const f = shape(args, filtersOf(kwargs));
      const verdict = await realm.gate.verdict(caller, { uri: topic, action: 'subscribe', match: 'exact' });
      if (verdict === undefined) return undefined;
      if (!verdict.ok) throw new WampError(verdict.error, [verdict.message]);
      const q = queryOf({ match: 'exact', topic }, f, pageOf(realm));
      // The publication's authid/authrole lists apply to whoever reads: `more` counts only what the reader may read.
      const page = await collect(state.store, f.last === true ? { ...q, reverse: true } : q, pageOf(realm), (events) =>
        events.filter((e) => mayRead(e.filter, caller)),
      );
      if (!caller.live) return undefined;
      // last(): newest first from the store, so the bytes keep the newest; answered oldest first.
      const { events, cut } = fitting(page.events, pageBytesOf(realm));
      if (f.last === true) events.reverse();
      return { args: [events.map((e) => eventOut(e, rule.subscription))], kwargs: { more: page.more || cut, gap: page.gap } };
    };

  scope.procedure(
    'wamp.topic.history.last',
    topicRead((args, f) => {
      const limit = args[1] ?? f.limit;
      if (limit === undefined) throw invalid('argument 2 (limit) must be a positive integer');
      return { ...f, limit: positive(limit, 'limit'), last: true, reverse: false };
    }),
  );
  scope.procedure(
    'wamp.topic.history.since',
    topicRead((args, f) => {
      const v = args[1];
      const ms = typeof v === 'string' ? Date.parse(v) : typeof v === 'number' && Number.isSafeInteger(v) ? v : NaN;
      if (Number.isNaN(ms)) throw invalid('argument 2 (timestamp) must be an RFC 3339 timestamp or milliseconds since the epoch');
      return { ...f, fromTime: f.fromTime === undefined ? ms : Math.max(f.fromTime, ms) };
    }),
  );
  scope.procedure(
    'wamp.topic.history.after',
    topicRead((args, f) => {
      const v = args[1];
      if (!isId(v)) throw invalid('argument 2 (publication) must be a publication ID');
      return { ...f, afterPublication: v as PublicationId };
    }),
  );
}

// ---- catch-up: the SUBSCRIBE `history` option ------------------------------------------------

/**
 * The replay of a SUBSCRIBE with Options.history for `session`'s `subscription`: flushes, reads
 * (after: the events after that publication; last: the newest n, clamped to the page) oldest first,
 * with the publications' authid/authrole lists applied to `session`. More events after `after`
 * than a page holds: the newest page, with `gap` (the client missed the ones between). A replay
 * is at most limits.maxHistoryPageBytes: the newest events that fit (for `after`, with `gap`). A topic or
 * pattern no rule covers is ERROR wamp.error.history_unavailable; a store failure
 * switchboard.error.store_failed. The SUBSCRIBE's own authorization is the caller's.
 */
export async function catchUpReplay(
  realm: Realm,
  session: Endpoint,
  subscription: Subscription<Endpoint>,
  request: CatchUpRequest,
): Promise<Outcome<CatchUpReplay>> {
  const state = states.get(realm);
  if (state === undefined || !coveringRule(realm, state, subscription))
    return refusal(HISTORY_UNAVAILABLE, `'${subscription.topic}' (${subscription.match}) keeps no event history`);
  const page = pageOf(realm);
  const select: TopicSelector = { match: subscription.match, topic: subscription.topic };
  const visible = (events: StoredEvent[]): StoredEvent[] => events.filter((e) => mayRead(e.filter, session));
  try {
    // Newest first, so that the bytes (maxHistoryPageBytes) keep the newest; sent oldest first.
    let newest: StoredEvent[];
    let gap: boolean;
    if ('after' in request) {
      const read = await collect(state.store, { select, afterPublication: request.after, limit: page }, page, visible);
      gap = read.gap;
      newest = read.events.reverse();
      if (read.more) {
        newest = (await collect(state.store, { select, afterPublication: request.after, reverse: true, limit: page }, page, visible)).events;
        gap = true;
      }
    } else {
      newest = (await collect(state.store, { select, reverse: true, limit: Math.min(request.last, page) }, page, visible)).events;
      gap = false;
    }
    const { events, cut } = fitting(newest, pageBytesOf(realm));
    // {after}: what the bytes left out is missed (a gap); {last: n}: the newest that fit.
    if (cut && 'after' in request) gap = true;
    events.reverse();
    return {
      ok: true,
      gap,
      events: events.map((e) => ({ publication: e.publication, topic: e.topic, details: e.details, args: e.args, kwargs: e.kwargs })),
    };
  } catch (err) {
    // readStore's refusal (store_failed) as it is; anything else is the store's fault too.
    if (err instanceof WampError) return refusal(err.uri, typeof err.args[0] === 'string' ? err.args[0] : err.message);
    return refusal(STORE_FAILED, `event store read failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
