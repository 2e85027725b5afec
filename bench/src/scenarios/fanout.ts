/**
 * Fan-out: one publisher, N subscribers on one topic, closed loop (a window of acknowledged
 * PUBLISHes, paced by a probe subscriber so queues stay bounded). Measures EVENTs delivered per
 * second, publish → event latency, and the target's CPU per delivered EVENT. With
 * --fanout-history, each N also runs on switchboard with event history on the topic (memory or
 * sqlite store), and that row's CPU per EVENT is compared with the same N without history.
 */
import type { Endpoint, Job } from '../ipc.js';
import { payloadVariants, publishWindow, transportTargets, variantLabel } from '../options.js';
import type { PayloadVariant } from '../options.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { Target, TargetHistory } from '../targets.js';
import type { Measured, ScenarioContext } from './context.js';
import { measureOn, measureVariant, timing } from './context.js';
import { runFigures, runLoad, split, total } from './load.js';

const TOPIC = 'bench.fanout';
/** The many-topics case: topic i is `bench.topics.i`. */
const TOPICS_PREFIX = 'bench.topics.';
/** Subscriber sessions per generator process, and at most this many such processes. */
const SESSIONS_PER_PROCESS = 300;
const MAX_PROCESSES = 3;

/** Fan-out CPU per delivered EVENT with history on the topic ÷ without: what history may cost (issue #17). */
export const HISTORY_CPU_LIMIT = 1.2;
/** Events kept for the fan-out topic when history is on. */
const HISTORY_LIMIT = 1000;

export async function fanout(ctx: ScenarioContext): Promise<Result[]> {
  const results: Result[] = [];
  const o = ctx.options;
  const variants = payloadVariants(o);
  for (const n of o.fanoutSubscribers) {
    for (const v of variants) {
      for (const targetName of transportTargets(o)) {
        results.push(await measureVariant(ctx, 'fanout', `N=${n}`, v, targetName, (target) => measureFanout(ctx, n, target, v)));
      }
    }
    if (!o.targets.includes('switchboard')) continue;
    const v0 = variants[0]!;
    const plain = results.find((r) => r.case === `N=${n}${variantLabel(o, v0)}` && r.target === 'switchboard' && r.error === undefined);
    for (const store of o.history.fanoutStores) {
      const history: TargetHistory = {
        eventHistory: [{ topic: TOPIC, limit: HISTORY_LIMIT }],
        ...(store !== 'memory' && { store: { type: store, durability: o.history.durability } }),
      };
      const row = await measureOn(ctx, 'fanout', `N=${n}${variantLabel(o, v0)} +history(${store})`, 'switchboard', { history }, (target) =>
        measureFanout(ctx, n, target, v0),
      );
      const withHistory = row.values.cpuUsPerOp;
      const without = plain?.values.cpuUsPerOp;
      if (row.error === undefined && withHistory !== undefined && without !== undefined && without > 0) {
        row.values.historyCpuRatio = withHistory / without;
        row.values.historyCpuLimitMet = row.values.historyCpuRatio <= HISTORY_CPU_LIMIT ? 1 : 0;
        if (row.values.historyCpuLimitMet === 0)
          row.problems.push(`CPU per EVENT with history is ${row.values.historyCpuRatio.toFixed(2)}× the same N without (required ≤ ${HISTORY_CPU_LIMIT})`);
      }
      row.notes.push(
        `eventHistory [{topic: '${TOPIC}', limit: ${HISTORY_LIMIT}}], store ${store}${store === 'memory' ? '' : ` (durability ${o.history.durability})`}`,
      );
      results.push(row);
    }
  }
  for (const t of o.fanoutTopics) {
    for (const v of variants) {
      for (const targetName of transportTargets(o)) {
        results.push(await measureVariant(ctx, 'fanout', `T=${t}×1`, v, targetName, (target) => measureTopics(ctx, t, target, v)));
      }
    }
  }
  return results;
}

function endpointOf(target: Target, v: PayloadVariant): Endpoint {
  return { url: target.url, realm: REALM, deflate: target.deflate, serializer: v.serializer };
}

/**
 * T topics, one subscriber session each, one publisher going round them: every PUBLISH has one
 * receiver, as in N=1, but the router holds T topics and T sessions and each EVENT goes to a
 * different socket (no burst to one peer to batch). The probe is the subscriber of topic 0.
 * Pacing: a session sees every T-th publication, so the lead allowed over the slowest session's
 * last one is T more than N=1's.
 */
async function measureTopics(ctx: ScenarioContext, t: number, target: Target, v: PayloadVariant): Promise<Measured> {
  const o = ctx.options;
  const endpoint = endpointOf(target, v);
  const topics = Array.from({ length: t }, (_, i) => `${TOPICS_PREFIX}${i}`);
  const others = topics.slice(1);
  const processes = Math.min(MAX_PROCESSES, Math.ceil(others.length / SESSIONS_PER_PROCESS));
  let from = 0;
  const subscribers: Job[] = split(others.length, processes).map((sessions) => {
    const mine = others.slice(from, from + sessions);
    from += sessions;
    return {
      kind: 'subscribers',
      endpoint,
      topic: mine[0]!,
      sessions,
      pause: false,
      reportProgress: true,
      connectConcurrency: 50,
      patterns: mine.map((topic) => ({ topic, match: 'exact' as const })),
    };
  });
  const { window, maxLead } = publishWindow(o, 1, v.payloadBytes);
  const publisher: Job = {
    kind: 'publisher',
    endpoint,
    topic: topics[0]!,
    topics,
    mode: { kind: 'window', window, maxLead: maxLead + t },
    payloadBytes: v.payloadBytes,
    payloadKind: o.payloadKind,
    probe: true,
    pacedByProgress: others.length > 0,
  };
  const run = await runLoad(ctx.benchDist, target, others.length > 0 ? [subscribers, [publisher]] : [[publisher]], timing(ctx));
  return {
    values: fanOutValues(run, 1, total(run.reports, 'publisher', 'errors') + total(run.reports, 'subscribers', 'errors')),
    notes: [`${t} topics × 1 subscriber, published in turn; window ${window} PUBLISHes`],
    problems: run.problems,
  };
}

async function measureFanout(ctx: ScenarioContext, n: number, target: Target, v: PayloadVariant): Promise<Measured> {
  const o = ctx.options;
  const endpoint = endpointOf(target, v);
  // The probe, in the publisher's process, is the N-th subscriber and subscribes last.
  const others = n - 1;
  const processes = Math.min(MAX_PROCESSES, Math.ceil(others / SESSIONS_PER_PROCESS));
  const subscribers: Job[] = split(others, processes).map((sessions) => ({
    kind: 'subscribers',
    endpoint,
    topic: TOPIC,
    sessions,
    pause: false,
    reportProgress: true,
    connectConcurrency: 50,
  }));
  const publisher: Job = {
    kind: 'publisher',
    endpoint,
    topic: TOPIC,
    mode: { kind: 'window', ...publishWindow(o, n, v.payloadBytes) },
    payloadBytes: v.payloadBytes,
    payloadKind: o.payloadKind,
    probe: true,
    pacedByProgress: others > 0,
  };
  const run = await runLoad(ctx.benchDist, target, others > 0 ? [subscribers, [publisher]] : [[publisher]], timing(ctx));
  return {
    values: fanOutValues(run, n, total(run.reports, 'publisher', 'errors')),
    notes: [`window ${publishWindow(o, n, v.payloadBytes).window} PUBLISHes`],
    problems: run.problems,
  };
}

/**
 * A fan-out run's figures: `deliveries` EVENTs expected per PUBLISH (N subscribers of one topic;
 * 1 for topics of one subscriber each).
 */
export function fanOutValues(run: Awaited<ReturnType<typeof runLoad>>, deliveries: number, errors: number): Measured['values'] {
  const eventsPerSec = total(run.reports, 'subscribers', 'receivedInWindow') / run.windowS;
  const published = total(run.reports, 'publisher', 'sent');
  return {
    eventsPerSec,
    publishesPerSec: total(run.reports, 'publisher', 'sentInWindow') / run.windowS,
    ...runFigures(run, 'subscribers', eventsPerSec),
    deliveredPct: published > 0 ? (100 * total(run.reports, 'subscribers', 'received')) / (published * deliveries) : Number.NaN,
    sessionsLost: total(run.reports, 'subscribers', 'sessionsLost') + total(run.reports, 'publisher', 'sessionsLost'),
    errors,
  };
}
