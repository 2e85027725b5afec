/** Ratios against the plain baseline, the printed tables, and the JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BenchReport, Metric, PayloadGrowth, Result, ScenarioName, TransportRatio } from './results.js';
import type { TargetName } from './targets.js';
import { CLUSTER_CPU_LIMIT } from './scenarios/cluster.js';
import { PATTERN_CPU_LIMIT } from './scenarios/patterns.js';
import { HISTORY_CPU_LIMIT } from './scenarios/fanout.js';

/** Fills each result's `ratios`: its value ÷ the plain baseline's for the same scenario and case. */
export function computeRatios(results: Result[]): void {
  for (const r of results) {
    const base = results.find((b) => b.target === 'baseline' && b.scenario === r.scenario && b.case === r.case && b.error === undefined);
    if (base === undefined || r.error !== undefined) continue;
    for (const [metric, value] of Object.entries(r.values) as [Metric, number][]) {
      const b = base.values[metric];
      if (b !== undefined && Number.isFinite(b) && b !== 0 && Number.isFinite(value)) r.ratios[metric] = value / b;
    }
  }
}

interface Column {
  header: string;
  cell(r: Result): string;
}

function num(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function mib(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '-' : (v / 1048576).toFixed(1);
}

function ratio(r: Result, metric: Metric): string {
  if (r.target === 'baseline') return r.error === undefined && r.values[metric] !== undefined ? '1.00' : '-';
  const v = r.ratios[metric];
  return v === undefined ? '-' : v.toFixed(2);
}

const head: Column[] = [
  { header: 'case', cell: (r) => r.case },
  { header: 'target', cell: (r) => r.target },
];

const columns: Record<ScenarioName, Column[]> = {
  fanout: [
    ...head,
    { header: 'events/s', cell: (r) => num(r.values.eventsPerSec) },
    { header: '×base', cell: (r) => ratio(r, 'eventsPerSec') },
    { header: 'pub/s', cell: (r) => num(r.values.publishesPerSec) },
    { header: 'p50 µs', cell: (r) => num(r.values.p50Us) },
    { header: 'p99 µs', cell: (r) => num(r.values.p99Us) },
    { header: 'CPU µs/event', cell: (r) => num(r.values.cpuUsPerOp, 2) },
    { header: '×base', cell: (r) => ratio(r, 'cpuUsPerOp') },
    { header: 'target CPU%', cell: (r) => num(r.values.targetCpuPct) },
    { header: 'gen CPU%', cell: (r) => num(r.values.loadGenCpuPct) },
    { header: 'other CPU%', cell: (r) => num(r.values.otherCpuPct) },
    { header: 'delivered%', cell: (r) => num(r.values.deliveredPct, 1) },
    { header: 'lost', cell: (r) => num(r.values.sessionsLost) },
    { header: 'CPU ÷ no history', cell: (r) => num(r.values.historyCpuRatio, 2) },
    { header: `≤${HISTORY_CPU_LIMIT}×`, cell: (r) => (r.values.historyCpuLimitMet === undefined ? '' : r.values.historyCpuLimitMet === 1 ? 'yes' : 'NO') },
  ],
  rpc: [
    ...head,
    { header: 'calls/s', cell: (r) => num(r.values.callsPerSec) },
    { header: '×base', cell: (r) => ratio(r, 'callsPerSec') },
    { header: 'p50 µs', cell: (r) => num(r.values.p50Us) },
    { header: 'p99 µs', cell: (r) => num(r.values.p99Us) },
    { header: 'CPU µs/call', cell: (r) => num(r.values.cpuUsPerOp, 2) },
    { header: '×base', cell: (r) => ratio(r, 'cpuUsPerOp') },
    { header: 'target CPU%', cell: (r) => num(r.values.targetCpuPct) },
    { header: 'gen CPU%', cell: (r) => num(r.values.loadGenCpuPct) },
    { header: 'other CPU%', cell: (r) => num(r.values.otherCpuPct) },
    { header: 'errors', cell: (r) => num(r.values.errors) },
    { header: 'lost', cell: (r) => num(r.values.sessionsLost) },
  ],
  idle: [
    ...head,
    { header: 'idle RSS MiB', cell: (r) => mib(r.values.idleRssBytes) },
    { header: '×base', cell: (r) => ratio(r, 'idleRssBytes') },
    { header: 'sessions', cell: (r) => num(r.values.sessions) },
    { header: 'RSS Δ MiB', cell: (r) => mib(r.values.rssDeltaBytes) },
    { header: 'KiB/session', cell: (r) => num((r.values.rssPerSessionBytes ?? Number.NaN) / 1024, 1) },
    { header: '×base', cell: (r) => ratio(r, 'rssPerSessionBytes') },
    { header: 'connects/s', cell: (r) => num(r.values.connectsPerSec) },
    { header: 'CPU µs/connect', cell: (r) => num(r.values.cpuUsPerConnect) },
    { header: '×base', cell: (r) => ratio(r, 'cpuUsPerConnect') },
    { header: 'lost', cell: (r) => num(r.values.sessionsLost) },
  ],
  slow: [
    ...head,
    {
      header: 'limit soft/hard MiB',
      cell: (r) => (r.values.outboundLimitBytes === undefined ? '-' : `${mib(r.values.outboundSoftLimitBytes)}/${mib(r.values.outboundLimitBytes)}`),
    },
    { header: 'fast ev/s alone', cell: (r) => num(r.values.fastEventsPerSecAlone) },
    { header: 'with slow', cell: (r) => num(r.values.fastEventsPerSecWithSlow) },
    { header: 'with/alone', cell: (r) => num(r.values.fastRateRatio, 2) },
    { header: 'fast p99 µs', cell: (r) => num(r.values.p99Us) },
    { header: 'peak RSS Δ alone MiB', cell: (r) => mib(r.values.peakRssDeltaAloneBytes) },
    { header: 'with slow MiB', cell: (r) => mib(r.values.peakRssDeltaWithSlowBytes) },
    {
      header: 'slow cut off',
      cell: (r) => (r.values.slowCutOff === undefined || !Number.isFinite(r.values.slowCutOff) ? '-' : r.values.slowCutOff === 1 ? 'yes' : 'no'),
    },
    { header: 'slow got after resume', cell: (r) => num(r.values.slowReceivedAfterResume) },
    { header: 'other CPU%', cell: (r) => num(r.values.otherCpuPct) },
  ],
  patterns: [
    ...head,
    { header: 'events/s', cell: (r) => num(r.values.eventsPerSec) },
    { header: '×exact', cell: (r) => num(r.values.eventsRatioVsExact, 2) },
    { header: 'pub/s', cell: (r) => num(r.values.publishesPerSec) },
    { header: 'p50 µs', cell: (r) => num(r.values.p50Us) },
    { header: 'p99 µs', cell: (r) => num(r.values.p99Us) },
    { header: 'CPU µs/event', cell: (r) => num(r.values.cpuUsPerOp, 2) },
    { header: 'patterns/exact', cell: (r) => num(r.values.cpuRatioVsExact, 2) },
    { header: `≤${PATTERN_CPU_LIMIT}×`, cell: (r) => (r.values.cpuLimitMet === undefined ? '' : r.values.cpuLimitMet === 1 ? 'yes' : 'NO') },
    { header: 'target CPU%', cell: (r) => num(r.values.targetCpuPct) },
    { header: 'gen CPU%', cell: (r) => num(r.values.loadGenCpuPct) },
    { header: 'other CPU%', cell: (r) => num(r.values.otherCpuPct) },
    { header: 'delivered%', cell: (r) => num(r.values.deliveredPct, 1) },
    { header: 'held subs', cell: (r) => num(r.values.heldSubscriptions) },
    { header: 'subscribes/s', cell: (r) => num(r.values.subscribesPerSec) },
    { header: 'stray', cell: (r) => num(r.values.strayEvents) },
    { header: 'errors', cell: (r) => num(r.values.errors) },
    { header: 'lost', cell: (r) => num(r.values.sessionsLost) },
  ],
  cluster: [
    { header: 'case', cell: (r) => r.case },
    { header: 'events|calls/s', cell: (r) => num(r.values.eventsPerSec ?? r.values.callsPerSec) },
    { header: 'p50 µs', cell: (r) => num(r.values.p50Us) },
    { header: 'p99 µs', cell: (r) => num(r.values.p99Us) },
    { header: 'router CPU µs/op', cell: (r) => num(r.values.cpuUsPerOp, 2) },
    { header: '÷single', cell: (r) => num(r.values.cpuRatioVsSingle, 2) },
    { header: `≤${CLUSTER_CPU_LIMIT}×`, cell: (r) => (r.values.clusterCpuLimitMet === undefined ? '' : r.values.clusterCpuLimitMet === 1 ? 'yes' : 'NO') },
    { header: '÷same node', cell: (r) => num(r.values.cpuRatioVsSameNode, 2) },
    { header: 'router CPU%', cell: (r) => num(r.values.routerCpuPct) },
    { header: 'a CPU%', cell: (r) => num(r.values.nodeACpuPct) },
    { header: 'b CPU%', cell: (r) => num(r.values.nodeBCpuPct) },
    { header: 'c (idle) CPU%', cell: (r) => num(r.values.idleNodeCpuPct, 1) },
    { header: 'nats CPU%', cell: (r) => num(r.values.natsCpuPct) },
    { header: 'NATS a→', cell: (r) => num(r.values.natsInFromA) },
    { header: 'NATS →b', cell: (r) => num(r.values.natsOutToB) },
    { header: 'NATS →c', cell: (r) => num(r.values.natsOutToIdle) },
    { header: 'gen CPU%', cell: (r) => num(r.values.loadGenCpuPct) },
    { header: 'other CPU%', cell: (r) => num(r.values.otherCpuPct) },
    { header: 'delivered%', cell: (r) => num(r.values.deliveredPct, 1) },
    { header: 'errors', cell: (r) => num(r.values.errors) },
    { header: 'lost', cell: (r) => num(r.values.sessionsLost) },
  ],
  history: [
    ...head,
    { header: 'pub/s', cell: (r) => num(r.values.publishesPerSec) },
    { header: 'reads/s', cell: (r) => num(r.values.callsPerSec) },
    { header: 'read p50 µs', cell: (r) => num(r.values.p50Us) },
    { header: 'read p99 µs', cell: (r) => num(r.values.p99Us) },
    { header: 'CPU µs/op', cell: (r) => num(r.values.cpuUsPerOp, 2) },
    { header: 'stored events', cell: (r) => num(r.values.storedEvents) },
    { header: 'preload s', cell: (r) => num(r.values.preloadS, 1) },
    { header: 'target CPU%', cell: (r) => num(r.values.targetCpuPct) },
    { header: 'other CPU%', cell: (r) => num(r.values.otherCpuPct) },
    { header: 'errors', cell: (r) => num(r.values.errors) },
    { header: 'lost', cell: (r) => num(r.values.sessionsLost) },
  ],
};

const TITLES: Record<ScenarioName, string> = {
  fanout: 'Fan-out: 1 publisher → N subscribers (closed loop)',
  rpc: 'RPC: K callers → 1 callee',
  idle: 'Idle sessions: target memory',
  slow: 'Slow consumer among fast subscribers',
  cluster:
    'Cluster over NATS (switchboard only): fan-out and rpc across nodes a → b, against all on one node of the cluster and a single router; node c has no sessions',
  history: 'Event history (switchboard only): publishes/s into history (no subscribers), and wamp.topic.history.last latency with the store preloaded',
  patterns: 'Pattern subscriptions: 3 prefix + 3 wildcard matching, alone and with `held subs` near misses, against an all-exact control (switchboard only)',
};

function table(rows: Result[], cols: Column[]): string {
  const cells = rows.map((r) => cols.map((c) => c.cell(r)));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const left = cols[1]?.header === 'target' ? 2 : 1;
  const line = (values: string[]): string => values.map((v, i) => (i < left ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const out = [line(cols.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  ')];
  rows.forEach((r, i) => {
    const who = left === 2 ? `${r.case.padEnd(widths[0]!)}  ${r.target.padEnd(widths[1]!)}` : r.case.padEnd(widths[0]!);
    out.push(r.error === undefined ? line(cells[i]!) : `${who}  FAILED: ${r.error.split('\n')[0] ?? ''}`);
  });
  return out.join('\n');
}

export function formatTables(results: Result[]): string {
  const parts: string[] = [];
  for (const scenario of Object.keys(columns) as ScenarioName[]) {
    const rows = results.filter((r) => r.scenario === scenario);
    if (rows.length === 0) continue;
    parts.push(`${TITLES[scenario]}\n${table(rows, columns[scenario])}`);
  }
  return parts.join('\n\n');
}

/** One line per problem, after the tables. */
export function formatProblems(results: Result[]): string {
  const lines: string[] = [];
  for (const r of results) for (const p of r.problems) lines.push(`! ${r.scenario} ${r.case} on ${r.target}: ${p}`);
  return lines.join('\n');
}

export function writeJson(file: string, report: BenchReport): void {
  mkdirSync(dirname(file), { recursive: true });
  // NaN is not JSON: write null for a value that could not be measured.
  writeFileSync(file, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
}

/**
 * RawSocket ÷ WebSocket and permessage-deflate ÷ none for the switchboard router: each case that
 * ran on both.
 */
export function transportRatios(results: Result[]): TransportRatio[] {
  const out: TransportRatio[] = [];
  for (const rs of results) {
    if ((rs.target !== 'switchboard-rs' && rs.target !== 'switchboard-z') || rs.error !== undefined) continue;
    const ws = results.find((r) => r.target === 'switchboard' && r.scenario === rs.scenario && r.case === rs.case && r.error === undefined);
    if (ws === undefined) continue;
    const rate: Metric = rs.scenario === 'rpc' ? 'callsPerSec' : 'eventsPerSec';
    const over = (metric: Metric): number => (rs.values[metric] ?? Number.NaN) / (ws.values[metric] ?? Number.NaN);
    out.push({
      target: rs.target,
      scenario: rs.scenario,
      case: rs.case,
      rate: over(rate),
      cpuPerOp: over('cpuUsPerOp'),
      p50: over('p50Us'),
      p99: over('p99Us'),
    });
  }
  return out;
}

const RATIO_HEADINGS: Partial<Record<TargetName, string>> = {
  'switchboard-rs': 'RawSocket ÷ WebSocket (switchboard-rs ÷ switchboard, same case, same run; rate above 1 and CPU below 1 favour RawSocket)',
  'switchboard-z': 'permessage-deflate ÷ none (switchboard-z ÷ switchboard, same case, same run; CPU above 1 is the cost of compressing)',
};

export function formatTransportRatios(all: TransportRatio[]): string {
  const lines: string[] = [];
  for (const target of ['switchboard-rs', 'switchboard-z'] as const) {
    const rows = all.filter((r) => r.target === target);
    if (rows.length === 0) continue;
    if (lines.length > 0) lines.push('');
    lines.push(RATIO_HEADINGS[target]!);
    lines.push(...ratioLines(rows));
  }
  return lines.join('\n');
}

function ratioLines(rows: TransportRatio[]): string[] {
  const lines: string[] = [];
  for (const r of rows) {
    const rate = r.scenario === 'rpc' ? 'calls/s' : 'events/s';
    const cpu = r.scenario === 'rpc' ? 'CPU/call' : 'CPU/event';
    lines.push(
      `  ${r.scenario.padEnd(6)} ${r.case.padEnd(7)}  ${rate} ${num(r.rate, 2)}  ${cpu} ${num(r.cpuPerOp, 2)}  p50 ${num(r.p50, 2)}  p99 ${num(r.p99, 2)}`,
    );
  }
  return lines;
}

/**
 * The issue's targets (#20), as growth of CPU per op with the payload: RPC K=10 at 4 KiB ≤ 1.5× and
 * at 64 KiB ≤ 3× the 32 B figure; one-subscriber topics (N=1, T topics × 1) at 4 KiB ≤ 1.5×.
 * They bind the router; other targets' rows show the same ratios without a verdict.
 */
export function growthLimit(scenario: ScenarioName, group: string, payloadBytes: number): number | undefined {
  if (scenario === 'rpc' && group === 'K=10') return payloadBytes === 4096 ? 1.5 : payloadBytes === 65536 ? 3 : undefined;
  if (scenario === 'fanout' && (group === 'N=1' || /^T=\d+×1$/.test(group))) return payloadBytes === 4096 ? 1.5 : undefined;
  return undefined;
}

/** Per (scenario, group, serializer, target): CPU per op at each size ÷ at the smallest size measured. */
export function payloadGrowth(results: Result[]): PayloadGrowth[] {
  const out: PayloadGrowth[] = [];
  const keyed = new Map<string, Result[]>();
  for (const r of results) {
    if (r.group === undefined || r.payloadBytes === undefined || r.error !== undefined) continue;
    const key = `${r.scenario}\u0000${r.group}\u0000${r.serializer ?? 'json'}\u0000${r.target}`;
    const list = keyed.get(key) ?? [];
    list.push(r);
    keyed.set(key, list);
  }
  for (const rows of keyed.values()) {
    if (rows.length < 2) continue;
    rows.sort((a, b) => (a.payloadBytes ?? 0) - (b.payloadBytes ?? 0));
    const base = rows[0]!;
    const baseCpu = base.values.cpuUsPerOp;
    if (baseCpu === undefined || !Number.isFinite(baseCpu) || baseCpu <= 0) continue;
    const router = base.target.startsWith('switchboard');
    out.push({
      scenario: base.scenario,
      group: base.group!,
      serializer: base.serializer ?? 'json',
      target: base.target,
      baseBytes: base.payloadBytes!,
      baseCpuUsPerOp: baseCpu,
      sizes: rows.slice(1).map((r) => {
        const cpuUsPerOp = r.values.cpuUsPerOp ?? Number.NaN;
        const growth = cpuUsPerOp / baseCpu;
        const limit = router ? growthLimit(r.scenario, r.group!, r.payloadBytes!) : undefined;
        return { payloadBytes: r.payloadBytes!, cpuUsPerOp, growth, ...(limit !== undefined && { limit, met: growth <= limit }) };
      }),
    });
  }
  return out;
}

/** The growth summary: one line per (scenario, case, serializer, target). */
export function formatPayloadGrowth(all: PayloadGrowth[]): string {
  const lines = [
    'Payload growth: CPU per event or call at each size ÷ at the smallest size, same target, same serializer, same run',
    '(targets, #20: rpc K=10 ≤1.5× at 4096 B and ≤3× at 65536 B; fanout N=1 and T=…×1 ≤1.5× at 4096 B, for the router)',
  ];
  const width = Math.max(...all.map((g) => `${g.scenario} ${g.group}`.length));
  const targetWidth = Math.max(...all.map((g) => g.target.length));
  for (const g of all) {
    const cells = g.sizes.map((s) => {
      const verdict = s.limit === undefined ? '' : ` (≤${s.limit}: ${s.met === true ? 'yes' : 'NO'})`;
      return `${s.payloadBytes} B ${num(s.growth, 2)}×${verdict}`;
    });
    lines.push(
      `  ${`${g.scenario} ${g.group}`.padEnd(width)}  ${g.serializer.padEnd(7)}  ${g.target.padEnd(targetWidth)}  ${num(g.baseCpuUsPerOp, 2)} µs at ${g.baseBytes} B;  ${cells.join(';  ')}`,
    );
  }
  return lines.join('\n');
}

/** Growth past a limit, as problems (listed after the tables). */
export function growthProblems(all: PayloadGrowth[]): string[] {
  const lines: string[] = [];
  for (const g of all)
    for (const s of g.sizes)
      if (s.met === false)
        lines.push(
          `! ${g.scenario} ${g.group} ${g.serializer} on ${g.target}: CPU per op at ${s.payloadBytes} B is ${num(s.growth, 2)}× the ${g.baseBytes} B figure (target ≤ ${s.limit})`,
        );
  return lines;
}
