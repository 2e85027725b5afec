/**
 * One slow consumer among fast ones. A publisher sends at a fixed rate with large payloads to F
 * fast subscribers, twice on fresh target processes: alone, then with one more subscriber that
 * stops reading its socket (so the target's outbound queue for it can only grow). Switchboard runs
 * with a config limiting that queue. Reports the fast subscribers' rate with the slow one relative
 * to without it, and the target's RSS over time against the limit.
 */
import type { Job } from '../ipc.js';
import type { Result } from '../results.js';
import { REALM, startTarget } from '../targets.js';
import type { Target } from '../targets.js';
import type { ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { latency, runLoad } from './load.js';
import type { LoadRun } from './load.js';

const TOPIC = 'bench.slow';
const RSS_SAMPLE_MS = 200;

function fastReports(run: LoadRun): LoadRun['reports'] {
  return run.reports.filter((r) => r.kind === 'subscribers' && r.resumed === undefined);
}

function peakDelta(run: LoadRun): number {
  let peak = run.rssWindowEndBytes;
  for (const s of run.rssSeries) if (s.rssBytes > peak) peak = s.rssBytes;
  return peak - run.rssIdleBytes;
}

export async function slow(ctx: ScenarioContext): Promise<Result[]> {
  const results: Result[] = [];
  const s = ctx.options.slow;
  // The corked baseline would show nothing the plain one does not: no limit either.
  const targets = ctx.options.targets.filter((t) => t !== 'corked');
  const measureMs = Math.max(ctx.options.measureMs, 4000);

  const once = async (target: Target, withSlow: boolean): Promise<LoadRun> => {
    const endpoint = { url: target.url, realm: REALM, deflate: target.deflate };
    const fast: Job = { kind: 'subscribers', endpoint, topic: TOPIC, sessions: s.fastSubscribers, pause: false, reportProgress: false, connectConcurrency: 20 };
    const slowOne: Job = { kind: 'subscribers', endpoint, topic: TOPIC, sessions: 1, pause: true, reportProgress: false, connectConcurrency: 1 };
    const publisher: Job = {
      kind: 'publisher',
      endpoint,
      topic: TOPIC,
      mode: { kind: 'rate', perSecond: s.ratePerSec },
      payloadBytes: s.payloadBytes,
      probe: false,
      pacedByProgress: false,
    };
    return runLoad(ctx.benchDist, target, [withSlow ? [fast, slowOne] : [fast], [publisher]], timing(ctx, { measureMs, rssSampleMs: RSS_SAMPLE_MS }));
  };

  for (const targetName of targets) {
    const limited = targetName === 'switchboard';
    const extra = limited ? { outbound: s.outbound } : {};
    const caseName = `F=${s.fastSubscribers}, ${s.ratePerSec}/s × ${s.payloadBytes} B`;
    results.push(
      await measureOn(ctx, 'slow', caseName, targetName, extra, async (aloneTarget) => {
        const alone = await once(aloneTarget, false);
        let withSlow: LoadRun;
        let secondLog: string;
        const second = await startTarget(targetName, { ...ctx.targetOptions, ...extra });
        try {
          withSlow = await once(second, true);
        } finally {
          await second.stop();
          // Expected here (e.g. Switchboard's "peer cut off" warning), so a note, not a problem.
          secondLog = second.output().trim();
        }
        const windowS = alone.windowS;
        const perFast = (run: LoadRun): number => fastReports(run).reduce((sum, r) => sum + r.receivedInWindow, 0) / windowS / s.fastSubscribers;
        const resumed = withSlow.reports.find((r) => r.resumed !== undefined)?.resumed;
        const h = latency(fastReports(withSlow), 'subscribers');
        const aloneRate = perFast(alone);
        const withRate = perFast(withSlow);
        const series = withSlow.rssSeries.map((x) => ({ tMs: x.tMs, deltaBytes: x.rssBytes - withSlow.rssIdleBytes }));
        return {
          values: {
            fastEventsPerSecAlone: aloneRate,
            fastEventsPerSecWithSlow: withRate,
            fastRateRatio: withRate / aloneRate,
            p50Us: h.percentileUs(0.5),
            p99Us: h.percentileUs(0.99),
            peakRssDeltaAloneBytes: peakDelta(alone),
            peakRssDeltaWithSlowBytes: peakDelta(withSlow),
            ...(limited ? { outboundSoftLimitBytes: s.outbound.softLimitBytes, outboundLimitBytes: s.outbound.hardLimitBytes } : {}),
            slowReceivedAfterResume: resumed?.receivedAfterResume ?? Number.NaN,
            slowCutOff: resumed === undefined ? Number.NaN : resumed.closedByRouter ? 1 : 0,
            sessionsLost: fastReports(withSlow).reduce((sum, r) => sum + r.sessionsLost, 0),
            otherCpuPct: Math.max(alone.otherCpuUsPerS, withSlow.otherCpuUsPerS) / 1e4,
          },
          notes: [
            limited
              ? `outbound soft ${s.outbound.softLimitBytes} B, hard ${s.outbound.hardLimitBytes} B, drain timeout ${s.outbound.drainTimeoutMs} ms`
              : 'no outbound limit',
            ...(secondLog === '' ? [] : [`target printed, with slow: ${secondLog.slice(-600)}`]),
          ],
          problems: [...alone.problems.map((p) => `alone: ${p}`), ...withSlow.problems.map((p) => `with slow: ${p}`)],
          rssDeltaSeries: series,
        };
      }),
    );
  }
  return results;
}
