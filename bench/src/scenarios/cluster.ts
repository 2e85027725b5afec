/**
 * Cluster over NATS: what crossing nodes costs. One nats-server (JetStream, monitoring on) and
 * three router processes started as cluster nodes a, b, c, against a plain single router, same run:
 *
 * - fan-out, N subscribers (the probe among them) on one topic, the same closed loop as `fanout`:
 *   single router; cluster with publisher and subscribers all on b; publisher on a, every
 *   subscriber (the probe too) on b;
 * - rpc, K callers with a window of calls each, one echoing callee: single router; callers and
 *   callee on b; callers on a, callee on b.
 *
 * Router CPU per delivered EVENT (per call) is summed over every router process of the case (the
 * three nodes in the cluster cases; nats-server is shown apart). The requirement: the
 * cross-node case within 2× the single router's. Node c never has a session: its CPU and the
 * messages nats-server delivered to it (/connz, over the window) show that events go only where
 * there is interest (heartbeats, one per node per heartbeatMs, are all it should get).
 */
import type { Endpoint, Job } from '../ipc.js';
import { natsServerBin, startBenchNats } from '../nats.js';
import type { BenchNats, NatsConnection } from '../nats.js';
import { publishWindow } from '../options.js';
import type { Result } from '../results.js';
import { REALM, startTarget } from '../targets.js';
import type { ClusterNodeSettings, Target } from '../targets.js';
import type { Measured, ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { latency, runLoad, split, total } from './load.js';
import type { LoadRun, Watch } from './load.js';

/** The most cross-node ÷ single-router CPU per delivered EVENT (per call) may be. */
export const CLUSTER_CPU_LIMIT = 2;
export const CLUSTER_FANOUT = [10, 100];
export const CLUSTER_CALLERS = 10;
const HEARTBEAT_MS = 1000;
const NODE_TIMEOUT_MS = 3000;
const SESSIONS_PER_PROCESS = 300;
const CALLERS_PER_PROCESS = 25;

type Layout = 'single' | 'same' | 'cross';
const LAYOUT_NAMES: Record<Layout, string> = {
  single: 'single router',
  same: 'cluster, all on b',
  cross: 'cluster, a → b',
};

interface Nodes {
  nats: BenchNats;
  a: Target;
  b: Target;
  c: Target;
}

/** Where each side connects, and what to measure. */
interface Placement {
  /** Publisher / callers. */
  source: Endpoint;
  /** Subscribers (probe included) / callee. */
  sink: Endpoint;
  /** The process runLoad samples as `target`. */
  target: Target;
  watch: Watch;
  /** After the run: router CPU µs/s summed, and the per-node figures. */
  cpu(run: LoadRun): { routerUsPerS: number; values: Measured['values'] };
  /** /connz at the window's start and end, when a cluster. */
  snapshots?: Promise<NatsConnection[]>[];
}

function endpoint(t: Target): Endpoint {
  return { url: t.url, realm: REALM };
}

function singlePlacement(target: Target): Placement {
  const e = endpoint(target);
  return {
    source: e,
    sink: e,
    target,
    watch: {},
    cpu: (run) => ({ routerUsPerS: run.targetCpuUsPerS, values: {} }),
  };
}

function clusterPlacement(nodes: Nodes, layout: 'same' | 'cross'): Placement {
  const snapshots: Promise<NatsConnection[]>[] = [];
  return {
    source: endpoint(layout === 'cross' ? nodes.a : nodes.b),
    sink: endpoint(nodes.b),
    target: nodes.b,
    watch: {
      pids: [nodes.a.pid, nodes.c.pid, nodes.nats.pid],
      onWindowEdge: () => {
        snapshots.push(nodes.nats.connz().catch(() => []));
      },
    },
    cpu: (run) => {
      const [a = Number.NaN, c = Number.NaN, nats = Number.NaN] = run.watchedCpuUsPerS;
      const b = run.targetCpuUsPerS;
      return {
        routerUsPerS: a + b + c,
        values: { nodeACpuPct: a / 1e4, nodeBCpuPct: b / 1e4, idleNodeCpuPct: c / 1e4, natsCpuPct: nats / 1e4 },
      };
    },
    snapshots,
  };
}

/** Messages per node connection over the window: in (node → NATS) and out (NATS → node). */
async function natsCounts(p: Placement): Promise<Measured['values']> {
  const snapshots = p.snapshots;
  if (snapshots === undefined || snapshots.length < 2) return {};
  const [before, after] = await Promise.all([snapshots[0]!, snapshots[1]!]);
  const delta = (node: string, field: 'inMsgs' | 'outMsgs'): number => {
    const name = `switchboard-${node}`;
    const x = before.find((c) => c.name === name);
    const y = after.find((c) => c.name === name);
    return x === undefined || y === undefined ? Number.NaN : y[field] - x[field];
  };
  return { natsInFromA: delta('a', 'inMsgs'), natsInFromB: delta('b', 'inMsgs'), natsOutToB: delta('b', 'outMsgs'), natsOutToIdle: delta('c', 'outMsgs') };
}

async function fanoutRun(ctx: ScenarioContext, p: Placement, n: number, topic: string): Promise<Measured> {
  const o = ctx.options;
  const others = n - 1;
  const processes = Math.min(3, Math.ceil(others / SESSIONS_PER_PROCESS));
  const subscribers: Job[] = split(others, processes).map((sessions) => ({
    kind: 'subscribers',
    endpoint: p.sink,
    topic,
    sessions,
    pause: false,
    reportProgress: true,
    connectConcurrency: 50,
  }));
  const publisher: Job = {
    kind: 'publisher',
    endpoint: p.source,
    topic,
    mode: { kind: 'window', ...publishWindow(o, n) },
    payloadBytes: o.payloadBytes,
    probe: true,
    probeEndpoint: p.sink,
    pacedByProgress: others > 0,
  };
  const run = await runLoad(ctx.benchDist, p.target, others > 0 ? [subscribers, [publisher]] : [[publisher]], timing(ctx), p.watch);
  const eventsPerSec = total(run.reports, 'subscribers', 'receivedInWindow') / run.windowS;
  const published = total(run.reports, 'publisher', 'sent');
  const h = latency(run.reports, 'subscribers');
  const cpu = p.cpu(run);
  return {
    values: {
      eventsPerSec,
      publishesPerSec: total(run.reports, 'publisher', 'sentInWindow') / run.windowS,
      p50Us: h.percentileUs(0.5),
      p99Us: h.percentileUs(0.99),
      cpuUsPerOp: cpu.routerUsPerS / eventsPerSec,
      routerCpuPct: cpu.routerUsPerS / 1e4,
      ...cpu.values,
      ...(await natsCounts(p)),
      loadGenCpuPct: run.loadGenCpuUsPerS / 1e4,
      otherCpuPct: run.otherCpuUsPerS / 1e4,
      deliveredPct: published > 0 ? (100 * total(run.reports, 'subscribers', 'received')) / (published * n) : Number.NaN,
      sessionsLost: total(run.reports, 'subscribers', 'sessionsLost') + total(run.reports, 'publisher', 'sessionsLost'),
      errors: total(run.reports, 'publisher', 'errors') + total(run.reports, 'subscribers', 'errors'),
    },
    notes: [`topic ${topic}; window ${publishWindow(o, n).window} PUBLISHes`],
    problems: run.problems,
  };
}

async function rpcRun(ctx: ScenarioContext, p: Placement, k: number, procedure: string): Promise<Measured> {
  const o = ctx.options;
  const callee: Job = { kind: 'callee', endpoint: p.sink, procedure };
  const callers: Job[] = split(k, Math.min(2, Math.ceil(k / CALLERS_PER_PROCESS))).map((count) => ({
    kind: 'callers',
    endpoint: p.source,
    procedure,
    callers: count,
    window: o.rpcWindow,
    payloadBytes: o.payloadBytes,
  }));
  const run = await runLoad(ctx.benchDist, p.target, [[callee], callers], timing(ctx), p.watch);
  const callsPerSec = total(run.reports, 'callers', 'receivedInWindow') / run.windowS;
  const h = latency(run.reports, 'callers');
  const cpu = p.cpu(run);
  return {
    values: {
      callsPerSec,
      p50Us: h.percentileUs(0.5),
      p99Us: h.percentileUs(0.99),
      cpuUsPerOp: cpu.routerUsPerS / callsPerSec,
      routerCpuPct: cpu.routerUsPerS / 1e4,
      ...cpu.values,
      ...(await natsCounts(p)),
      loadGenCpuPct: run.loadGenCpuUsPerS / 1e4,
      otherCpuPct: run.otherCpuUsPerS / 1e4,
      sessionsLost: total(run.reports, 'callers', 'sessionsLost') + total(run.reports, 'callee', 'sessionsLost'),
      errors: total(run.reports, 'callers', 'errors'),
    },
    notes: [`procedure ${procedure}; ${o.rpcWindow} calls in flight per caller`],
    problems: run.problems,
  };
}

/** One case on the already running cluster: like measureOn, without starting a target. */
async function onCluster(ctx: ScenarioContext, caseName: string, nodes: Nodes, measure: () => Promise<Measured>): Promise<Result> {
  const result: Result = { scenario: 'cluster', case: caseName, target: 'switchboard', values: {}, ratios: {}, notes: [], problems: [] };
  if (!ctx.hasTime()) {
    result.error = 'skipped: time budget spent';
    return result;
  }
  ctx.log(`cluster ${caseName} …`);
  try {
    const measured = await measure();
    result.values = measured.values;
    result.notes.push(...(measured.notes ?? []));
    result.problems.push(...(measured.problems ?? []));
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    ctx.log(`  failed: ${result.error}`);
  }
  for (const [name, t] of [
    ['a', nodes.a],
    ['b', nodes.b],
    ['c', nodes.c],
  ] as const) {
    const printed = t.output().trim();
    if (printed !== '') result.problems.push(`node ${name} printed: ${printed.slice(-600)}`);
  }
  return result;
}

async function startNodes(ctx: ScenarioContext): Promise<Nodes> {
  const nats = await startBenchNats();
  const started: Target[] = [];
  try {
    for (const node of ['a', 'b', 'c']) {
      const cluster: ClusterNodeSettings = { node, natsUrl: nats.url, heartbeatMs: HEARTBEAT_MS, nodeTimeoutMs: NODE_TIMEOUT_MS };
      started.push(await startTarget('switchboard', { ...ctx.targetOptions, cluster }));
    }
  } catch (error) {
    await Promise.all(started.map((t) => t.stop()));
    await nats.stop();
    throw error;
  }
  const [a, b, c] = started as [Target, Target, Target];
  return { nats, a, b, c };
}

export async function cluster(ctx: ScenarioContext): Promise<Result[]> {
  const o = ctx.options;
  if (!o.targets.includes('switchboard')) {
    ctx.log('cluster: runs on the switchboard target only');
    return [];
  }
  if (natsServerBin() === undefined) throw new Error('the cluster scenario needs nats-server (apt-get install nats-server)');
  const fanoutCase = (n: number, layout: Layout): string => `fanout N=${n}: ${LAYOUT_NAMES[layout]}`;
  const rpcCase = (layout: Layout): string => `rpc K=${CLUSTER_CALLERS}: ${LAYOUT_NAMES[layout]}`;
  const byCase = new Map<string, Result>();

  // The single router first (a fresh process per case, as elsewhere), while no cluster runs.
  for (const n of CLUSTER_FANOUT) {
    byCase.set(
      fanoutCase(n, 'single'),
      await measureOn(ctx, 'cluster', fanoutCase(n, 'single'), 'switchboard', {}, (t) =>
        fanoutRun(ctx, singlePlacement(t), n, `bench.cluster.fanout.n${n}.single`),
      ),
    );
  }
  byCase.set(
    rpcCase('single'),
    await measureOn(ctx, 'cluster', rpcCase('single'), 'switchboard', {}, (t) => rpcRun(ctx, singlePlacement(t), CLUSTER_CALLERS, 'bench.cluster.echo.single')),
  );

  // Then one cluster for every cluster case.
  const clusterCases: string[] = [...CLUSTER_FANOUT.flatMap((n) => [fanoutCase(n, 'same'), fanoutCase(n, 'cross')]), rpcCase('same'), rpcCase('cross')];
  let nodes: Nodes | undefined;
  try {
    if (ctx.hasTime()) {
      ctx.log('cluster: starting nats-server and nodes a, b, c …');
      nodes = await startNodes(ctx);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    for (const c of clusterCases)
      byCase.set(c, {
        scenario: 'cluster',
        case: c,
        target: 'switchboard',
        values: {},
        ratios: {},
        notes: [],
        problems: [],
        error: message.split('\n')[0] ?? message,
      });
  }
  try {
    if (nodes !== undefined) {
      const ns = nodes;
      for (const n of CLUSTER_FANOUT) {
        for (const layout of ['same', 'cross'] as const) {
          byCase.set(
            fanoutCase(n, layout),
            await onCluster(ctx, fanoutCase(n, layout), ns, () => fanoutRun(ctx, clusterPlacement(ns, layout), n, `bench.cluster.fanout.n${n}.${layout}`)),
          );
        }
      }
      for (const layout of ['same', 'cross'] as const) {
        byCase.set(
          rpcCase(layout),
          await onCluster(ctx, rpcCase(layout), ns, () => rpcRun(ctx, clusterPlacement(ns, layout), CLUSTER_CALLERS, `bench.cluster.echo.${layout}`)),
        );
      }
    }
  } finally {
    if (nodes !== undefined) {
      await Promise.all([nodes.a.stop(), nodes.b.stop(), nodes.c.stop()]);
      await nodes.nats.stop();
    }
  }
  for (const c of clusterCases)
    if (!byCase.has(c))
      byCase.set(c, {
        scenario: 'cluster',
        case: c,
        target: 'switchboard',
        values: {},
        ratios: {},
        notes: [],
        problems: [],
        error: 'skipped: time budget spent',
      });

  // In table order, with the ratios to the single router (and to the same-node case).
  const groups: ((l: Layout) => string)[] = [...CLUSTER_FANOUT.map((n) => (l: Layout) => fanoutCase(n, l)), rpcCase];
  const results: Result[] = [];
  for (const name of groups) {
    const [single, same, cross] = (['single', 'same', 'cross'] as const).map((l) => byCase.get(name(l))!);
    const cpu = (r: Result | undefined): number | undefined => (r?.error === undefined ? r?.values.cpuUsPerOp : undefined);
    const singleCpu = cpu(single);
    const sameCpu = cpu(same);
    for (const r of [same, cross]) {
      const v = cpu(r);
      if (r === undefined || v === undefined) continue;
      if (singleCpu !== undefined) r.values.cpuRatioVsSingle = v / singleCpu;
      if (r === cross && sameCpu !== undefined) r.values.cpuRatioVsSameNode = v / sameCpu;
    }
    const ratio = cross?.values.cpuRatioVsSingle;
    if (cross !== undefined && ratio !== undefined && Number.isFinite(ratio)) {
      cross.values.clusterCpuLimitMet = ratio <= CLUSTER_CPU_LIMIT ? 1 : 0;
      if (ratio > CLUSTER_CPU_LIMIT) cross.problems.push(`router CPU per op is ${ratio.toFixed(2)}× the single router's, over the ${CLUSTER_CPU_LIMIT}× limit`);
    }
    const idleMsgs = cross?.values.natsOutToIdle;
    if (cross !== undefined && idleMsgs !== undefined && Number.isFinite(idleMsgs)) {
      const heartbeats = Math.ceil((3 * o.measureMs) / HEARTBEAT_MS) + 3;
      if (idleMsgs > heartbeats)
        cross.problems.push(
          `nats-server delivered ${idleMsgs} messages to node c (no sessions) during the window, more than the ~${heartbeats} heartbeats expected`,
        );
    }
    results.push(single!, same!, cross!);
  }
  return results;
}
