/**
 * Fan-out: one publisher, N subscribers on one topic, closed loop (a window of acknowledged
 * PUBLISHes, paced by a probe subscriber so queues stay bounded). Measures EVENTs delivered per
 * second, publish → event latency, and the target's CPU per delivered EVENT.
 */
import type { Job } from '../ipc.js';
import { publishWindow, transportTargets } from '../options.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { latency, runLoad, split, total } from './load.js';

const TOPIC = 'bench.fanout';
/** Subscriber sessions per generator process, and at most this many such processes. */
const SESSIONS_PER_PROCESS = 300;
const MAX_PROCESSES = 3;

export async function fanout(ctx: ScenarioContext): Promise<Result[]> {
  const results: Result[] = [];
  const o = ctx.options;
  for (const n of o.fanoutSubscribers) {
    for (const targetName of transportTargets(o)) {
      results.push(
        await measureOn(ctx, 'fanout', `N=${n}`, targetName, {}, async (target) => {
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
        }),
      );
    }
  }
  return results;
}
