/**
 * `npm run bench`: starts each target in its own process, drives it from forked load-generator
 * processes, prints one table per scenario and writes bench/results/latest.json. A benchmark, not
 * a test: it asserts nothing and always exits 0 once it has reported (1 on a usage or setup error).
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanup, killAll } from './children.js';
import { nowNs } from './clock.js';
import { USAGE, UsageError, parseOptions, transportTargets } from './options.js';
import type { BenchOptions } from './options.js';
import { clockTicksPerSecond, openFileLimit } from './procfs.js';
import {
  computeRatios,
  formatPayloadGrowth,
  formatProblems,
  formatTables,
  formatTransportRatios,
  growthProblems,
  payloadGrowth,
  transportRatios,
  writeJson,
} from './report.js';
import type { BenchReport, Result, ScenarioName } from './results.js';
import type { ScenarioContext } from './scenarios/context.js';
import { HISTORY_CPU_LIMIT, fanout } from './scenarios/fanout.js';
import { history } from './scenarios/history.js';
import { idle } from './scenarios/idle.js';
import { CLUSTER_CPU_LIMIT, cluster } from './scenarios/cluster.js';
import { PATTERN_CPU_LIMIT, patterns } from './scenarios/patterns.js';
import { rpc } from './scenarios/rpc.js';
import { slow } from './scenarios/slow.js';
import { TARGET_LABELS } from './targets.js';

const SCENARIOS: Record<ScenarioName, (ctx: ScenarioContext) => Promise<Result[]>> = { fanout, rpc, idle, slow, patterns, cluster, history };

const benchDist = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(benchDist, '../..');

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function checkPrerequisites(options: BenchOptions): void {
  if (options.targets.includes('switchboard') && !existsSync(resolve(repoRoot, 'router/dist/cli.js'))) {
    throw new UsageError(`the switchboard target needs the router built (router/dist/cli.js is missing): run npx tsc -b, or pass --targets baseline,corked`);
  }
  if (!existsSync(options.routerBin) && options.targets.includes('switchboard')) {
    throw new UsageError(`router CLI not found at ${options.routerBin}`);
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed: BenchOptions | 'help';
  try {
    parsed = parseOptions(argv, repoRoot);
    if (parsed !== 'help') checkPrerequisites(parsed);
  } catch (error) {
    if (error instanceof UsageError) {
      log(`bench: ${error.message}`);
      return 1;
    }
    throw error;
  }
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = parsed;
  installCleanup();

  const loadAverageBefore = loadavg()[0] ?? 0;
  if (loadAverageBefore > 0.5) {
    log(
      `bench: warning: load average ${loadAverageBefore.toFixed(2)} before starting; other jobs on this machine will make the numbers noisy (see the 'other CPU%' column)`,
    );
  }
  const startedNs = nowNs();
  const startedAt = new Date().toISOString();
  const ctx: ScenarioContext = {
    options,
    benchDist,
    targetOptions: {
      benchDist,
      routerBin: options.routerBin,
      foxModule: options.foxModule,
      ...(options.compressionLevel !== undefined && { compression: { level: options.compressionLevel, threshold: options.compressionThreshold } }),
    },
    log,
    hasTime: () => (nowNs() - startedNs) / 1e9 < options.budgetS,
  };
  log(`bench: ${options.quick ? 'quick' : 'full'} run, targets ${options.targets.join(', ')}, scenarios ${options.scenarios.join(', ')}`);

  const results: Result[] = [];
  for (const scenario of options.scenarios) results.push(...(await SCENARIOS[scenario](ctx)));
  computeRatios(results);

  const durationS = (nowNs() - startedNs) / 1e9;
  const report: BenchReport = {
    startedAt,
    loadAverageBefore,
    durationS,
    quick: options.quick,
    machine: {
      node: process.version,
      cpus: cpus().length,
      platform: `${process.platform} ${process.arch}`,
      clockTicksPerSecond: clockTicksPerSecond(),
      openFiles: openFileLimit(),
    },
    targets: Object.fromEntries(transportTargets(options).map((t) => [t, TARGET_LABELS[t]])),
    settings: {
      warmupMs: options.warmupMs,
      measureMs: options.measureMs,
      payloadBytes: options.payloadBytes,
      payloadSizes: options.payloadSizes,
      serializers: options.serializers,
      fanoutTopics: options.fanoutTopics,
      payloadKind: options.payloadKind,
      compression: options.compressionLevel === undefined ? null : { level: options.compressionLevel, threshold: options.compressionThreshold },
      eventsInFlight: options.eventsInFlight,
      rpcWindow: options.rpcWindow,
      idleSessions: options.idleSessions,
      slow: options.slow,
      patternMisses: options.patternMisses,
      patternCpuLimit: PATTERN_CPU_LIMIT,
      clusterCpuLimit: CLUSTER_CPU_LIMIT,
      transports: options.transports,
      history: options.history,
      historyCpuLimit: HISTORY_CPU_LIMIT,
    },
    results,
    transportRatios: transportRatios(results),
    payloadGrowth: payloadGrowth(results),
  };
  writeJson(options.out, report);

  process.stdout.write(`\n${formatTables(results)}\n\n`);
  if (results.some((r) => r.scenario !== 'patterns' && r.scenario !== 'cluster' && r.scenario !== 'history'))
    process.stdout.write(
      `×base = value ÷ the plain bare-ws baseline's, same case, same run.${
        options.serializers.some((s) => s !== 'json')
          ? ' The baseline speaks each serializer with its plain library (JSON.parse/stringify, msgpackr, cbor-x): a msgpack row is compared with a msgpack forwarder.'
          : ''
      }\n`,
    );
  if (options.fanoutTopics.length > 0 && results.some((r) => r.group?.startsWith('T=') === true))
    process.stdout.write(`fanout T=…×1: T topics with one subscriber session each, the publisher going round them (one receiver per PUBLISH).\n`);
  if (results.some((r) => r.scenario === 'patterns')) {
    process.stdout.write(
      `patterns/exact = CPU per delivered EVENT with the pattern subscriptions ÷ the exact control's, same run (required: ≤ ${PATTERN_CPU_LIMIT}).\n`,
    );
  }
  if (results.some((r) => r.scenario === 'cluster')) {
    process.stdout.write(
      `cluster: router CPU = all router processes of the case (the 3 nodes in cluster rows; nats-server apart); ÷single = router CPU per op ÷ the single router's, same run (required for a → b: ≤ ${CLUSTER_CPU_LIMIT}); NATS columns = messages over the window per node connection (/connz): a→ from node a, →b / →c to nodes b and c (c has no sessions: heartbeats only, 1 per node per s).\n`,
    );
  }
  if (results.some((r) => r.values.historyCpuRatio !== undefined)) {
    process.stdout.write(
      `fanout +history(STORE): CPU ÷ no history = CPU per delivered EVENT with history on the topic ÷ the same N without, same run (required: ≤ ${HISTORY_CPU_LIMIT}).\n`,
    );
  }
  if (results.some((r) => r.scenario === 'history')) {
    process.stdout.write(
      `history: last(N) rows = wamp.topic.history.last(topic, N) reads/s and call → result latency with 'stored events' in the store; publish rows = acknowledged PUBLISHes/s into history, no subscribers.\n`,
    );
  }
  if (report.transportRatios.length > 0) process.stdout.write(`\n${formatTransportRatios(report.transportRatios)}\n\n`);
  if (report.payloadGrowth.length > 0) process.stdout.write(`\n${formatPayloadGrowth(report.payloadGrowth)}\n\n`);
  process.stdout.write(`Took ${durationS.toFixed(0)} s. JSON: ${options.out}\n`);
  const problems = [formatProblems(results), ...growthProblems(report.payloadGrowth)].filter((p) => p !== '').join('\n');
  if (problems !== '') process.stdout.write(`\n${problems}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    killAll();
    process.exit(code);
  },
  (error: unknown) => {
    log(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAll();
    process.exit(1);
  },
);
