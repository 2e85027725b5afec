/**
 * One measured run against one target: fork the load generators phase by phase, hand them a
 * shared schedule (start, warm-up, window, stop), sample the target's CPU and RSS from /proc at
 * the window's edges, then gather the workers' reports. Every wait is bounded.
 */
import { nowNs, sleep, sleepUntil } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { Job, JobKind, Schedule, WorkerReport } from '../ipc.js';
import { cpuUsOrNaN, machineBusyUs, rssBytesOrNaN } from '../procfs.js';
import type { RssSample } from '../results.js';
import type { Target } from '../targets.js';
import { Worker } from '../workers.js';

export interface LoadTiming {
  warmupMs: number;
  measureMs: number;
  /** After the senders stop, before workers report: lets in-flight messages arrive. */
  drainMs: number;
  /** Bound on each phase's setup (connect, subscribe, register). */
  setupTimeoutMs: number;
  /** Sample the target's RSS this often (0: only at the window's edges). */
  rssSampleMs?: number;
}

export interface LoadRun {
  reports: WorkerReport[];
  /** The window's length, s. */
  windowS: number;
  /** Target CPU during the window, µs per second of wall time. */
  targetCpuUsPerS: number;
  /** All load generators together, µs per second of wall time. */
  loadGenCpuUsPerS: number;
  /**
   * Everything else on the machine (other users' jobs, the kernel's own threads), µs per second.
   * Above a few % of a core, the run competed for CPU and its numbers are noisy.
   */
  otherCpuUsPerS: number;
  /** Target CPU while the workers set up (connect, join, subscribe or register), µs. */
  setupCpuUs: number;
  /** Target RSS before any worker connected, at the window's start and end, bytes. */
  rssIdleBytes: number;
  rssWindowStartBytes: number;
  rssWindowEndBytes: number;
  rssSeries: RssSample[];
  /** Problems worth a warning: frames that were not WAMP, sessions the target closed. */
  problems: string[];
  /** CPU of each `watch.pids` process during the window, µs per second of wall time (same order). */
  watchedCpuUsPerS: number[];
}

/** More processes to measure next to the target (other cluster nodes, nats-server), and a hook at the window's edges. */
export interface Watch {
  pids?: number[];
  /** Called (not awaited) right after the CPU samples at the window's start and end. */
  onWindowEdge?: (edge: 'start' | 'end') => void;
}

const START_DELAY_MS = 200;
const FINISH_TIMEOUT_MS = 15_000;

function cpuOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    const us = cpuUsOrNaN(pid);
    if (Number.isFinite(us)) total += us;
  }
  return total;
}

export async function runLoad(benchDist: string, target: Target, phases: Job[][], timing: LoadTiming, watch: Watch = {}): Promise<LoadRun> {
  const watched = watch.pids ?? [];
  const workers: Worker[] = [];
  try {
    const rssIdleBytes = rssBytesOrNaN(target.pid);
    const setupCpu0 = cpuUsOrNaN(target.pid);
    for (const [p, phase] of phases.entries()) {
      const started = phase.map((job, i) => Worker.start(benchDist, job, `${job.kind}#${p}.${i}`));
      workers.push(...started);
      await Promise.all(started.map((w) => w.ready(timing.setupTimeoutMs)));
    }

    const setupCpuUs = cpuUsOrNaN(target.pid) - setupCpu0;
    relayProgress(workers);
    const startNs = nowNs() + START_DELAY_MS * 1e6;
    const schedule: Schedule = {
      startNs,
      measureFromNs: startNs + timing.warmupMs * 1e6,
      measureToNs: startNs + (timing.warmupMs + timing.measureMs) * 1e6,
      stopNs: startNs + (timing.warmupMs + timing.measureMs) * 1e6,
    };
    for (const w of workers) w.go(schedule);

    const rssSeries: RssSample[] = [];
    const sampler =
      timing.rssSampleMs !== undefined && timing.rssSampleMs > 0
        ? setInterval(() => {
            const t = nowNs();
            if (t >= startNs) rssSeries.push({ tMs: Math.round((t - startNs) / 1e6), rssBytes: rssBytesOrNaN(target.pid) });
          }, timing.rssSampleMs)
        : undefined;

    const genPids = workers.map((w) => w.pid);
    await sleepUntil(schedule.measureFromNs);
    const t0 = nowNs();
    const cpu0 = cpuUsOrNaN(target.pid);
    const watched0 = watched.map((pid) => cpuUsOrNaN(pid));
    const gen0 = cpuOf(genPids);
    const busy0 = machineBusyUs();
    const self0 = process.cpuUsage();
    const rssWindowStartBytes = rssBytesOrNaN(target.pid);
    watch.onWindowEdge?.('start');
    await sleepUntil(schedule.measureToNs);
    const t1 = nowNs();
    const cpu1 = cpuUsOrNaN(target.pid);
    const watched1 = watched.map((pid) => cpuUsOrNaN(pid));
    const gen1 = cpuOf(genPids);
    const busy1 = machineBusyUs();
    const self = process.cpuUsage(self0);
    const rssWindowEndBytes = rssBytesOrNaN(target.pid);
    watch.onWindowEdge?.('end');
    // Sampling goes on through the drain, so a slow consumer's backlog shows to the end.
    await sleep(timing.drainMs);
    if (sampler !== undefined) clearInterval(sampler);

    const reports = (await Promise.all(workers.map((w) => w.finish(FINISH_TIMEOUT_MS)))).flat();
    const wallS = (t1 - t0) / 1e9;
    const watchedUs = watched.map((_, i) => (watched1[i] ?? Number.NaN) - (watched0[i] ?? Number.NaN));
    const watchedSum = watchedUs.reduce((sum, us) => (Number.isFinite(us) ? sum + us : sum), 0);
    const problems: string[] = [];
    for (const r of reports) {
      if (r.decodeErrors > 0) problems.push(`${r.kind}: ${r.decodeErrors} malformed frames from the target, first: ${r.firstDecodeError ?? '?'}`);
      // A paused subscriber being cut off is the policy at work; its own metric reports it.
      if (r.sessionsLost > 0 && r.resumed === undefined) problems.push(`${r.kind}: the target closed ${r.sessionsLost} of ${r.sessions} sessions`);
    }
    return {
      reports,
      windowS: timing.measureMs / 1000,
      targetCpuUsPerS: (cpu1 - cpu0) / wallS,
      loadGenCpuUsPerS: (gen1 - gen0) / wallS,
      otherCpuUsPerS: Math.max(0, busy1 - busy0 - (cpu1 - cpu0) - watchedSum - (gen1 - gen0) - self.user - self.system) / wallS,
      setupCpuUs,
      rssIdleBytes,
      rssWindowStartBytes,
      rssWindowEndBytes,
      rssSeries,
      problems,
      watchedCpuUsPerS: watchedUs.map((us) => us / wallS),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

/** Tells each publisher the lowest sequence number that every reporting subscriber worker has seen. */
function relayProgress(workers: Worker[]): void {
  const reporting = workers.filter((w) => w.job.kind === 'subscribers' && w.job.reportProgress);
  const publishers = workers.filter((w) => w.job.kind === 'publisher' && w.job.pacedByProgress);
  if (reporting.length === 0 || publishers.length === 0) return;
  const seen = new Float64Array(reporting.length);
  let relayed = 0;
  reporting.forEach((w, i) => {
    w.onProgress = (seq: number): void => {
      seen[i] = seq;
      let low = seq;
      for (const s of seen) if (s < low) low = s;
      if (low > relayed) {
        relayed = low;
        for (const p of publishers) p.progress(low);
      }
    };
  });
}

type Counted = 'sessions' | 'sessionsLost' | 'sent' | 'sentInWindow' | 'received' | 'receivedInWindow' | 'errors';

export function total(reports: WorkerReport[], kind: JobKind, field: Counted): number {
  let sum = 0;
  for (const r of reports) if (r.kind === kind) sum += r[field];
  return sum;
}

export function latency(reports: WorkerReport[], kind: JobKind): Histogram {
  const h = new Histogram();
  for (const r of reports) if (r.kind === kind) h.merge(r.latency);
  return h;
}

/**
 * The figures every closed-loop case reports: `kind`'s latency percentiles, and the target's CPU
 * per operation at `opsPerSec` beside the CPU shares of target, load generators and the rest.
 */
export function runFigures(run: LoadRun, kind: JobKind, opsPerSec: number) {
  const h = latency(run.reports, kind);
  return {
    p50Us: h.percentileUs(0.5),
    p99Us: h.percentileUs(0.99),
    cpuUsPerOp: run.targetCpuUsPerS / opsPerSec,
    targetCpuPct: run.targetCpuUsPerS / 1e4,
    loadGenCpuPct: run.loadGenCpuUsPerS / 1e4,
    otherCpuPct: run.otherCpuUsPerS / 1e4,
  };
}

/** Splits `count` sessions over at most `processes` workers, about evenly. */
export function split(count: number, processes: number): number[] {
  const n = Math.max(1, Math.min(processes, count));
  return Array.from({ length: n }, (_, i) => Math.floor(count / n) + (i < count % n ? 1 : 0)).filter((c) => c > 0);
}
