/**
 * switchboard.router.stats: the router's message counters for the dashboard (router/dashboard/).
 * Not in the `wamp.` namespace, which belongs to the spec. The counters are the router's (all
 * realms together), the same ones /metrics reads; `sessions` is this realm's live session count.
 * Restrict it with the realm's roles like any other procedure.
 */
import type { Dict } from '@switchboard/schemas';
import type { Realm } from '../realm.js';
import type { PluginScope } from '../realm-hooks.js';
import type { RealmPlugin } from '../realm-plugin.js';
import { isListed } from '../core/sessions.js';
import type { RouterStats } from '../stats.js';
import { typeLabel } from '../stats.js';
import type { OutboundCounters } from '../transports/outbound.js';

export interface StatsSources {
  stats: RouterStats;
  counters: OutboundCounters;
}

/** Nonzero counts by message type label (`publish`, `event`, …). */
function byType(counts: Float64Array): Dict {
  const out: Dict = {};
  counts.forEach((n, code) => {
    if (n > 0) out[typeLabel(code)] = n;
  });
  return out;
}

export function installRouterStats(realm: Realm, { stats, counters }: StatsSources, scope: PluginScope = realm): void {
  scope.procedure('switchboard.router.stats', () => ({
    args: [
      {
        messagesIn: byType(stats.messagesIn),
        messagesOut: byType(stats.messagesOut),
        eventsDropped: counters.eventsDropped,
        slowConsumersCutOff: counters.peersCutOff,
        protocolViolations: stats.protocolViolations,
        sessions: [...realm.sessions.values()].filter(isListed).length,
      },
    ],
  }));
}

/** switchboard.router.stats as a realm plugin. */
export function routerStatsPlugin(sources: StatsSources): RealmPlugin {
  return { name: 'stats', install: (realm, context) => installRouterStats(realm, sources, context) };
}
