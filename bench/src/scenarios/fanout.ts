/**
 * Fan-out: one publisher, N subscribers on one topic, closed loop (a window of acknowledged
 * PUBLISHes, paced by a probe subscriber so queues stay bounded). Measures EVENTs delivered per
 * second, publish → event latency, and the target's CPU per delivered EVENT. With
 * --fanout-history, each N also runs on switchboard with event history on the topic (memory or
 * sqlite store), and that row's CPU per EVENT is compared with the same N without history.
 */
import type { Job } from '../ipc.js';
import { publishWindow, transportTargets } from '../options.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { Target, TargetHistory } from '../targets.js';
import type { Measured, ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { latency, runLoad, split, total } from './load.js';

const TOPIC = 'bench.fanout';
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
  for (const n of o.fanoutSubscribers) {
    for (const targetName of transportTargets(o)) {
      results.push(await measureOn(ctx, 'fanout', `N=${n}`, targetName, {}, (target) => measureFanout(ctx, n, target)));
    }
    if (!o.targets.includes('switchboard')) continue;
    const plain = results.find((r) => r.case === `N=${n}` && r.target === 'switchboard' && r.error === undefined);
    for (const store of o.history.fanoutStores) {
      const history: TargetHistory = {
        eventHistory: [{ topic: TOPIC, limit: HISTORY_LIMIT }],
        ...(store !== 'memory' && { store: { type: store, durability: o.history.durability } }),
      };
      const row = await measureOn(ctx, 'fanout', `N=${n} +history(${store})`, 'switchboard', { history }, (target) => measureFanout(ctx, n, target));
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
  return results;
}

async function measureFanout(ctx: ScenarioContext, n: number, target: Target): Promise<Measured> {
  const o = ctx.options;
  const endpoint = { url: target.url, realm: REALM, deflate: target.deflate };
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
    mode: { kind: 'window', ...publishWindow(o, n) },
    payloadBytes: o.payloadBytes,
    payloadKind: o.payloadKind,
    probe: true,
    pacedByProgress: others > 0,
  };
  const run = await runLoad(ctx.benchDist, target, others > 0 ? [subscribers, [publisher]] : [[publisher]], timing(ctx));
  const eventsPerSec = total(run.reports, 'subscribers', 'receivedInWindow') / run.windowS;
  const published = total(run.reports, 'publisher', 'sent');
  const h = latency(run.reports, 'subscribers');
  return {
    values: {
      eventsPerSec,
      publishesPerSec: total(run.reports, 'publisher', 'sentInWindow') / run.windowS,
      p50Us: h.percentileUs(0.5),
      p99Us: h.percentileUs(0.99),
      cpuUsPerOp: run.targetCpuUsPerS / eventsPerSec,
      targetCpuPct: run.targetCpuUsPerS / 1e4,
      loadGenCpuPct: run.loadGenCpuUsPerS / 1e4,
      otherCpuPct: run.otherCpuUsPerS / 1e4,
      deliveredPct: published > 0 ? (100 * total(run.reports, 'subscribers', 'received')) / (published * n) : Number.NaN,
      sessionsLost: total(run.reports, 'subscribers', 'sessionsLost') + total(run.reports, 'publisher', 'sessionsLost'),
      errors: total(run.reports, 'publisher', 'errors'),
    },
    notes: [`window ${publishWindow(o, n).window} PUBLISHes`],
    problems: run.problems,
  };
}
