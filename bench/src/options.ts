/** Command-line flags of `npm run bench`, and the presets behind --quick and the full run. */
import { isAbsolute, resolve } from 'node:path';
import type { ScenarioName } from './results.js';
import { DEFAULT_SCENARIOS, SCENARIO_NAMES, isScenarioName } from './results.js';
import type { PayloadKind } from './ipc.js';
import type { OutboundLimits, TargetName } from './targets.js';
import { isTargetName } from './targets.js';

export interface SlowConsumerSettings {
  /** Fast subscribers next to the one slow one. */
  fastSubscribers: number;
  /** The publisher's fixed rate, PUBLISHes/s. */
  ratePerSec: number;
  payloadBytes: number;
  /** Switchboard's outbound limits for this scenario (written to a --config file). */
  outbound: OutboundLimits;
}

/** The event store engines (router config `store.type`). */
export const HISTORY_STORES = ['memory', 'sqlite', 'jetstream'] as const;
export type HistoryStore = (typeof HISTORY_STORES)[number];

/** The history scenario's settings, and the fan-out rows with history on. */
export interface HistorySettings {
  /** Fan-out: also run each N on switchboard with history on the topic, once per store listed (none: no such rows). */
  fanoutStores: HistoryStore[];
  /** The history scenario: one publish case and one read case per store. */
  stores: HistoryStore[];
  /** Events in the store before the read case, spread over `topics` topics. */
  events: number;
  topics: number;
  /** Router config `store.durability`. */
  durability: 'batched' | 'ack';
  /** `wamp.topic.history.last(topic, N)`: N. */
  readLimit: number;
  /** Concurrent readers, each with one call in flight. */
  readers: number;
}

/**
 * Bytes of EVENTs the fan-out aims to keep in flight per subscriber at most: well under the
 * router's default outbound soft limit (4 MiB), past which it drops EVENTs by design, so a big
 * payload measures the router's cost, not its backpressure.
 */
export const MAX_BYTES_IN_FLIGHT = 2 * 1024 * 1024;

/**
 * Fan-out window for N subscribers (see BenchOptions.eventsInFlight), smaller for big payloads
 * (`payloadBytes`): the publisher's lead of 4 windows stays within MAX_BYTES_IN_FLIGHT.
 */
export function publishWindow(options: BenchOptions, subscribers: number, payloadBytes = 0): { window: number; maxLead: number } {
  const byBytes = Math.floor(MAX_BYTES_IN_FLIGHT / (4 * (payloadBytes + 64)));
  const window = Math.min(128, byBytes, Math.max(2, Math.ceil(options.eventsInFlight / subscribers)));
  return { window: Math.max(2, window), maxLead: 4 * Math.max(2, window) };
}

export interface BenchOptions {
  quick: boolean;
  targets: TargetName[];
  scenarios: ScenarioName[];
  routerBin: string;
  foxModule: string | undefined;
  out: string;
  warmupMs: number;
  measureMs: number;
  fanoutSubscribers: number[];
  /**
   * Fan-out over many topics: T topics with one subscriber each, the publisher going round them
   * (the one-receiver case of the targets); empty: no such rows.
   */
  fanoutTopics: number[];
  /** Padding in each PUBLISH / CALL payload, bytes: the first of `payloadSizes` (history uses it). */
  payloadBytes: number;
  /** fanout and rpc run once per size (rows per size, and the growth summary). */
  payloadSizes: number[];
  /** fanout and rpc run once per serializer: generators and the target speak it. */
  serializers: BenchSerializer[];
  /** What the fanout and rpc padding is made of (see PayloadKind). */
  payloadKind: PayloadKind;
  /**
   * zlib level for the `switchboard-z` rows (permessage-deflate, threshold `compressionThreshold`)
   * next to `switchboard` in fanout and rpc; undefined: no such rows.
   */
  compressionLevel: number | undefined;
  compressionThreshold: number;
  /**
   * Fan-out: EVENTs in flight the publisher aims for. The window of unacknowledged PUBLISHes is
   * this ÷ N (at least 2, at most 128), and the publisher keeps within 4 windows of the probe.
   */
  eventsInFlight: number;
  rpcCallers: number[];
  /** Calls in flight per caller. */
  rpcWindow: number;
  idleSessions: number;
  slow: SlowConsumerSettings;
  /** Patterns: non-matching pattern subscriptions (half prefix, half wildcard) in the realm. */
  patternMisses: number;
  /** Skip what is left once the run has taken this long, s. */
  budgetS: number;
  /**
   * Transports the switchboard target is driven over in fanout and rpc. `rawsocket` adds the
   * `switchboard-rs` rows (RawSocket on the WebSocket port) next to the WebSocket ones.
   */
  transports: BenchTransport[];
  history: HistorySettings;
}

export const BENCH_SERIALIZERS = ['json', 'msgpack', 'cbor'] as const;
export type BenchSerializer = (typeof BENCH_SERIALIZERS)[number];

/** One point on the payload axes of fanout and rpc: a padding size and a serializer. */
export interface PayloadVariant {
  payloadBytes: number;
  serializer: BenchSerializer;
}

/** Every (serializer, size) pair, serializers outermost, sizes ascending within each. */
export function payloadVariants(options: BenchOptions): PayloadVariant[] {
  const sizes = [...options.payloadSizes].sort((a, b) => a - b);
  return options.serializers.flatMap((serializer) => sizes.map((payloadBytes) => ({ payloadBytes, serializer })));
}

/**
 * What a case name gets for a variant: the size when more than one is measured, the serializer
 * when it is not plain JSON alone (so a default run keeps its case names: `N=1`, `K=10`).
 */
export function variantLabel(options: BenchOptions, v: PayloadVariant): string {
  const size = options.payloadSizes.length > 1 ? ` ${v.payloadBytes}B` : '';
  const serializer = options.serializers.length > 1 || options.serializers[0] !== 'json' ? ` ${v.serializer}` : '';
  return `${size}${serializer}`;
}

export const BENCH_TRANSPORTS = ['websocket', 'rawsocket'] as const;
export type BenchTransport = (typeof BENCH_TRANSPORTS)[number];

/**
 * The targets of a fanout or rpc run: `switchboard-rs` right after `switchboard` when RawSocket is
 * asked for, and `switchboard-z` after it with --compression.
 */
export function transportTargets(options: BenchOptions): TargetName[] {
  const extra: TargetName[] = [];
  if (options.transports.includes('rawsocket') && !options.targets.includes('switchboard-rs')) extra.push('switchboard-rs');
  if (options.compressionLevel !== undefined && !options.targets.includes('switchboard-z')) extra.push('switchboard-z');
  return options.targets.flatMap((t): TargetName[] => (t === 'switchboard' ? ['switchboard', ...extra] : [t]));
}

export const USAGE = `npm run bench -- [flags]

  --quick                 short windows, fewer points (under 3 minutes)
  --targets LIST          comma list of switchboard, baseline, corked, fox
                          (default: switchboard,baseline,corked; baseline is always added;
                          the patterns scenario runs on switchboard only)
  --scenarios LIST        comma list of ${SCENARIO_NAMES.join(', ')}
                          (default: all but cluster and history; cluster starts nats-server and 3
                          router nodes, compares cross-node fan-out and rpc with one node, about 1
                          minute quick; history preloads a store (see --history-*); both run only
                          when named)
  --transports LIST       websocket, rawsocket: drive the switchboard target over each in fanout
                          and rpc (default websocket); RawSocket rows are switchboard-rs
  --router-bin FILE       the router's CLI launcher (default: router/bin/switchboard.js)
  --fox DIR               fox-wamp package folder, for the fox target
  --out FILE              JSON output (default: bench/results/latest.json)
  --warmup-ms N, --measure-ms N   per-run warm-up and measurement window
  --fanout LIST           subscriber counts (default 1,10,100,1000; quick 1,100,1000)
  --in-flight N           fan-out: EVENTs in flight to aim for (default 512)
  --rpc LIST              caller counts (default 1,10,50; quick 1,50)
  --rpc-window N          calls in flight per caller (default 4)
  --idle N                idle sessions (default 10000)
  --patterns N            non-matching pattern subscriptions in the patterns scenario (default 10000)
  --fanout-topics LIST    fanout over T topics with one subscriber each, the publisher going round
                          them (default 1000; 0: none); rows 'T=1000×1'
  --payload-bytes LIST    payload padding sizes, bytes (default 64): fanout and rpc run once per
                          size, and a growth summary divides each size's CPU per event or call by
                          the smallest size's (e.g. 32,4096,65536)
  --payload N             the same with one size
  --serializers LIST      json, msgpack, cbor: fanout and rpc run once per serializer, the load
                          generators and every target speaking it (default json; fox is JSON only)
  --payload-kind K        repeat (one letter, default) or text (words; deflates about as JSON does)
  --compression LEVEL     add switchboard-z rows to fanout and rpc: the router with permessage-deflate
                          at zlib LEVEL (1-9), every generator session offering it (ws client
                          defaults); compare with the switchboard rows (use --payload-kind text and
                          a --payload over the threshold)
  --compression-threshold N   the router's compression threshold, bytes (default 1024)
  --fanout-history LIST   fanout: also run each N on switchboard with event history on the topic
                          (eventHistory limit 1000), once per store listed: memory, sqlite; the
                          rows show CPU per EVENT ÷ the same N without history (required ≤ 1.2)
  --history-stores LIST   the history scenario's stores: memory, sqlite, jetstream (default
                          memory,sqlite; jetstream starts nats-server and the router as a cluster node)
  --history-events N      events stored before the read case (default 1000000; quick 10000)
  --history-topics N      over this many topics (default 10000; quick 100)
  --history-durability D  store.durability: batched (default) or ack
  --help`;

export class UsageError extends Error {
  override name = 'UsageError';
}

function numbers(flag: string, value: string): number[] {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`${flag}: expected positive integers, got '${value}'`);
  return list;
}

function positive(flag: string, value: string): number {
  const [n] = numbers(flag, value);
  if (n === undefined) throw new UsageError(`${flag}: expected a positive integer`);
  return n;
}

function stores(flag: string, value: string): HistoryStore[] {
  const names = value.split(',').map((v) => v.trim());
  const bad = names.filter((n) => !(HISTORY_STORES as readonly string[]).includes(n));
  if (bad.length > 0) throw new UsageError(`${flag}: unknown store ${bad.join(', ')} (${HISTORY_STORES.join(', ')})`);
  return names as HistoryStore[];
}

/** Parses argv (without node and script); `repoRoot` anchors the default paths. */
export function parseOptions(argv: readonly string[], repoRoot: string): BenchOptions | 'help' {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    quick,
    targets: ['switchboard', 'baseline', 'corked'],
    scenarios: [...DEFAULT_SCENARIOS],
    routerBin: resolve(repoRoot, 'router/bin/switchboard.js'),
    foxModule: undefined,
    out: resolve(repoRoot, 'bench/results/latest.json'),
    warmupMs: quick ? 1000 : 2000,
    measureMs: quick ? 2500 : 8000,
    fanoutSubscribers: quick ? [1, 100, 1000] : [1, 10, 100, 1000],
    fanoutTopics: [1000],
    payloadBytes: 64,
    payloadSizes: [64],
    serializers: ['json'],
    payloadKind: 'repeat',
    compressionLevel: undefined,
    compressionThreshold: 1024,
    eventsInFlight: 512,
    rpcCallers: quick ? [1, 50] : [1, 10, 50],
    rpcWindow: 4,
    idleSessions: 10_000,
    slow: {
      fastSubscribers: quick ? 4 : 10,
      ratePerSec: 2000,
      payloadBytes: 4096,
      outbound: { softLimitBytes: 1024 * 1024, hardLimitBytes: 4 * 1024 * 1024, drainTimeoutMs: 2000 },
    },
    patternMisses: 10_000,
    budgetS: quick ? 170 : 570,
    transports: ['websocket'],
    history: {
      fanoutStores: [],
      stores: ['memory', 'sqlite'],
      events: quick ? 10_000 : 1_000_000,
      topics: quick ? 100 : 10_000,
      durability: 'batched',
      readLimit: 100,
      readers: 4,
    },
  };
  let scenariosGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--quick') continue;
    if (flag === '--help' || flag === '-h') return 'help';
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value (see --help)`);
    i++;
    const path = (v: string): string => (isAbsolute(v) ? v : resolve(process.cwd(), v));
    switch (flag) {
      case '--targets': {
        const names = value.split(',').map((v) => v.trim());
        const bad = names.filter((n) => !isTargetName(n));
        if (bad.length > 0) throw new UsageError(`--targets: unknown target ${bad.join(', ')}`);
        options.targets = names.filter(isTargetName);
        break;
      }
      case '--scenarios': {
        const names = value.split(',').map((v) => v.trim());
        const bad = names.filter((n) => !isScenarioName(n));
        if (bad.length > 0) throw new UsageError(`--scenarios: unknown scenario ${bad.join(', ')}`);
        options.scenarios = names.filter(isScenarioName);
        scenariosGiven = true;
        break;
      }
      case '--router-bin':
        options.routerBin = path(value);
        break;
      case '--fox':
        options.foxModule = path(value);
        break;
      case '--out':
        options.out = path(value);
        break;
      case '--warmup-ms':
        options.warmupMs = positive(flag, value);
        break;
      case '--measure-ms':
        options.measureMs = positive(flag, value);
        break;
      case '--fanout':
        options.fanoutSubscribers = numbers(flag, value);
        break;
      case '--in-flight':
        options.eventsInFlight = positive(flag, value);
        break;
      case '--rpc':
        options.rpcCallers = numbers(flag, value);
        break;
      case '--rpc-window':
        options.rpcWindow = positive(flag, value);
        break;
      case '--idle':
        options.idleSessions = positive(flag, value);
        break;
      case '--patterns':
        options.patternMisses = positive(flag, value);
        break;
      case '--transports': {
        const names = value.split(',').map((v) => v.trim());
        const bad = names.filter((n) => !(BENCH_TRANSPORTS as readonly string[]).includes(n));
        if (bad.length > 0) throw new UsageError(`--transports: unknown transport ${bad.join(', ')} (websocket, rawsocket)`);
        options.transports = names as BenchTransport[];
        break;
      }
      case '--payload':
      case '--payload-bytes':
        options.payloadSizes = [...new Set(numbers(flag, value))].sort((a, b) => a - b);
        options.payloadBytes = options.payloadSizes[0]!;
        break;
      case '--fanout-topics':
        options.fanoutTopics = value.trim() === '0' ? [] : numbers(flag, value);
        break;
      case '--serializers': {
        const names = [...new Set(value.split(',').map((v) => v.trim()))];
        const bad = names.filter((n) => !(BENCH_SERIALIZERS as readonly string[]).includes(n));
        if (bad.length > 0) throw new UsageError(`--serializers: unknown serializer ${bad.join(', ')} (json, msgpack, cbor)`);
        options.serializers = names as BenchSerializer[];
        break;
      }
      case '--payload-kind':
        if (value !== 'repeat' && value !== 'text') throw new UsageError(`--payload-kind: expected repeat or text, got '${value}'`);
        options.payloadKind = value;
        break;
      case '--compression': {
        const level = positive(flag, value);
        if (level > 9) throw new UsageError(`--compression: a zlib level 1 to 9, got ${level}`);
        options.compressionLevel = level;
        break;
      }
      case '--compression-threshold':
        options.compressionThreshold = Number(value);
        if (!Number.isInteger(options.compressionThreshold) || options.compressionThreshold < 0)
          throw new UsageError(`--compression-threshold: expected a byte count, got '${value}'`);
        break;
      case '--fanout-history':
        options.history.fanoutStores = stores(flag, value);
        if (options.history.fanoutStores.includes('jetstream'))
          throw new UsageError(`${flag}: memory or sqlite (jetstream needs a cluster: see --history-stores)`);
        break;
      case '--history-stores':
        options.history.stores = stores(flag, value);
        break;
      case '--history-events':
        options.history.events = positive(flag, value);
        break;
      case '--history-topics':
        options.history.topics = positive(flag, value);
        break;
      case '--history-durability':
        if (value !== 'batched' && value !== 'ack') throw new UsageError(`${flag}: expected batched or ack, got '${value}'`);
        options.history.durability = value;
        break;
      default:
        throw new UsageError(`unknown flag ${flag} (see --help)`);
    }
  }
  // Every ratio is against the plain baseline, so it always runs, and first.
  options.targets = ['baseline', ...new Set(options.targets.filter((t) => t !== 'baseline'))];
  if (options.targets.includes('fox') && options.foxModule === undefined) throw new UsageError('the fox target needs --fox DIR');
  // Pattern subscriptions need a real router: the ws forwarders cannot match them, so the patterns
  // scenario measures switchboard alone (against its own exact-subscription control). Without it
  // the scenario has nothing to run: an error when asked for by name, dropped from the default list.
  if (options.scenarios.includes('patterns') && !options.targets.includes('switchboard')) {
    if (scenariosGiven) throw new UsageError('the patterns scenario runs on the switchboard target only: add it to --targets');
    options.scenarios = options.scenarios.filter((s) => s !== 'patterns');
  }
  if (options.scenarios.includes('cluster') && !options.targets.includes('switchboard')) {
    throw new UsageError('the cluster scenario runs on the switchboard target only: add it to --targets');
  }
  if (options.scenarios.includes('history') && !options.targets.includes('switchboard')) {
    throw new UsageError('the history scenario runs on the switchboard target only: add it to --targets');
  }
  if (options.history.topics > options.history.events) throw new UsageError('--history-topics: more topics than --history-events');
  return options;
}
