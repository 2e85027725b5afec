/**
 * wamp.subscription.get_events(subscription, [limit]) with the spec's keyword filters:
 * reverse, limit, from_time/after_time/before_time/until_time (RFC 3339), topic,
 * from_publication/after_publication/before_publication/until_publication.
 * [ap_pubsub_event_history] A positional limit is accepted too (Crossbar's form).
 *
 * History is payloads: a reader gets only the events it could have received by subscribing.
 * Calling the procedure is authorized like every other CALL; what it returns needs subscribe permission on
 * the subscription's topic or pattern, or else (a pattern) on each returned event's topic.
 */
import type { Dict, Kwargs, MatchPolicy, WireArgs } from '@switchboard/schemas';
import { ErrorUri, WampError, isId } from '@switchboard/schemas';
import { isRecipient } from '../broker/broker.js';
import type { DeliveryPlan, Subscription } from '../broker/broker.js';
import { EventHistory } from '../broker/history.js';
import type { HistoryQuery, StoredEvent } from '../broker/history.js';
import { payloadBytes } from '../limits.js';
import type { Verdict } from '../auth/gate.js';
import type { Realm } from '../realm.js';
import type { Endpoint } from '../core/endpoint.js';
import type { PluginScope } from '../realm-hooks.js';
import type { RealmPlugin } from '../realm-plugin.js';
import { idArg, invalid, isoTime } from './args.js';

/** Not a spec URI: Crossbar's, for a subscription that keeps no history. */
export const HISTORY_UNAVAILABLE = 'wamp.error.history_unavailable';

function time(kwargs: Dict, key: string): number | undefined {
  const v = kwargs[key];
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw invalid(`${key} must be an RFC 3339 timestamp`);
  return ms;
}

function publication(kwargs: Dict, key: string): number | undefined {
  const v = kwargs[key];
  if (v === undefined) return undefined;
  if (!isId(v)) throw invalid(`${key} must be a publication ID`);
  return v;
}

function queryOf(args: unknown[], kwargs: Dict): HistoryQuery {
  const q: HistoryQuery = {};
  const limit = kwargs['limit'] ?? args[1];
  if (limit !== undefined) {
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) throw invalid('limit must be a positive integer');
    q.limit = limit;
  }
  if (kwargs['reverse'] !== undefined) {
    if (typeof kwargs['reverse'] !== 'boolean') throw invalid('reverse must be a boolean');
    q.reverse = kwargs['reverse'];
  }
  if (kwargs['topic'] !== undefined) {
    if (typeof kwargs['topic'] !== 'string') throw invalid('topic must be a URI');
    q.topic = kwargs['topic'];
  }
  const set = <K extends keyof HistoryQuery>(key: K, value: HistoryQuery[K] | undefined): void => {
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

/**
 * The events `caller` may read: all of them with subscribe permission on the subscription itself;
 * otherwise, for a pattern subscription, those whose topic it may subscribe to; for an exact one
 * none (ERROR wamp.error.not_authorized). A failing authorizer is wamp.error.authorization_failed.
 */
async function readable(realm: Realm, caller: Endpoint, subscription: Subscription<Endpoint>, events: StoredEvent[]): Promise<StoredEvent[]> {
  const whole = await realm.gate.verdict(caller, { uri: subscription.topic, action: 'subscribe', match: subscription.match });
  // The caller left meanwhile: nobody gets the answer.
  if (whole === undefined) return [];
  if (whole.ok) return events;
  if (whole.error !== ErrorUri.NotAuthorized) throw new WampError(whole.error, [whole.message]);
  if (subscription.match === 'exact') throw new WampError(ErrorUri.NotAuthorized, [`session is not authorized to subscribe to '${subscription.topic}'`]);
  const topics = [...new Set(events.map((e) => e.topic))];
  // One topic at a time: at most one question in flight to a dynamic authorizer per call; a caller that left stops the asking.
  const verdicts: (Verdict | undefined)[] = [];
  for (const topic of topics) {
    if (!caller.live) return [];
    verdicts.push(await realm.gate.verdict(caller, { uri: topic, action: 'subscribe' }));
  }
  const failed = verdicts.find((v) => v !== undefined && !v.ok && v.error !== ErrorUri.NotAuthorized);
  if (failed !== undefined && !failed.ok) throw new WampError(failed.error, [failed.message]);
  const allowed = new Set(topics.filter((_, i) => verdicts[i]?.ok === true));
  return events.filter((e) => allowed.has(e.topic));
}

/** A topic (or pattern) whose last `limit` events a realm keeps (config `eventHistory`). */
export interface HistoryTopic {
  readonly topic: string;
  readonly match: MatchPolicy;
  readonly limit: number;
}

/** Each realm's event store, while its history plugin is installed (the SSE bridge replays from it). */
const stores = new WeakMap<Realm, EventHistory>();

/** The events `realm` keeps, if its history plugin is installed. */
export function eventHistoryOf(realm: Realm): EventHistory | undefined {
  return stores.get(realm);
}

/**
 * Event history as a realm plugin: the store (bounded by the realm's maxHistoryBytes), the
 * subscriptions that keep history (made at install, without subscribers), the recording of every
 * publication delivered here (a session's or another node's; the router's own meta events are not
 * kept), and wamp.subscription.get_events.
 */
export function historyPlugin(topicsOf: (realm: string) => readonly HistoryTopic[] | undefined): RealmPlugin {
  return {
    name: 'history',
    install(realm, context) {
      const history = new EventHistory(realm.quotas.limits.maxHistoryBytes);
      for (const h of topicsOf(realm.name) ?? []) history.enable(realm.broker.ensureSubscription(h.topic, h.match).id, h.limit);
      stores.set(realm, history);
      installHistory(realm, context, history);
      if (history.size > 0) {
        context.observe({
          onPublished: (plan, details, args, kwargs, origin) => {
            if (origin.kind !== 'router') record(realm, history, plan, details, args, kwargs);
          },
        });
      }
      return () => {
        stores.delete(realm);
      };
    },
  };
}

function record(
  realm: Realm,
  history: EventHistory,
  plan: DeliveryPlan<Endpoint>,
  details: Dict,
  args: WireArgs | undefined,
  kwargs: Kwargs | undefined,
): void {
  const at = Date.now();
  // Estimated once, and only when some subscription keeps history.
  let bytes: number | undefined;
  for (const subscription of plan.subscriptions) {
    if (!history.isEnabled(subscription.id)) continue;
    bytes ??= payloadBytes(args, kwargs, details) + plan.topic.length;
    const outcome = history.record(
      { at, subscription: subscription.id, publication: plan.publication, topic: plan.topic, details, args, kwargs, filter: plan.filter },
      bytes,
    );
    realm.stats.evicted('maxHistoryBytes', outcome.evicted);
    if (outcome.tooLarge) realm.stats.limitExceeded('maxHistoryBytes');
  }
}

export function installHistory(realm: Realm, scope: PluginScope, history: EventHistory): void {
  scope.procedure('wamp.subscription.get_events', async (caller, args, kwargs) => {
    const id = idArg(args, 0, 'subscription');
    const subscription = realm.broker.getSubscription(id as never);
    if (subscription === undefined) throw new WampError(ErrorUri.NoSuchSubscription, [`no subscription ${id}`]);
    const events = history.query(subscription.id, queryOf(args, kwargs));
    if (events === undefined) throw new WampError(HISTORY_UNAVAILABLE, [`subscription ${id} keeps no event history`]);
    // The publication's authid/authrole lists apply to whoever reads the history.
    const visible = events.filter((e) => isRecipient({ publisher: undefined, filter: { ...e.filter, excludeMe: false } }, caller));
    const permitted = await readable(realm, caller, subscription, visible);
    // The caller left while the gate was asked: nobody gets the answer.
    if (!caller.live) return undefined;
    return {
      args: [
        permitted.map((e) => {
          const event: Dict = {
            timestamp: isoTime(e.at),
            subscription: e.subscription,
            publication: e.publication,
            details: subscription.match === 'exact' ? e.details : { ...e.details, topic: e.topic },
          };
          if (e.args !== undefined) event['args'] = e.args;
          if (e.kwargs !== undefined) event['kwargs'] = e.kwargs;
          return event;
        }),
      ],
    };
  });
}
