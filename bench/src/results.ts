/** The shape of what the bench measures and writes to results/latest.json. */
import type { TargetName } from './targets.js';

export const SCENARIO_NAMES = ['fanout', 'rpc', 'idle', 'slow', 'patterns', 'cluster', 'history'] as const;
/**
 * What runs without --scenarios: cluster (nats-server and three nodes) and history (a store
 * preloaded with a million events) only when asked for by name.
 */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['fanout', 'rpc', 'idle', 'slow', 'patterns'];
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export function isScenarioName(value: string): value is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(value);
}

export type Metric =
  /** EVENTs delivered to subscribers per second, summed over subscribers (fan-out). */
  | 'eventsPerSec'
  /** PUBLISHes per second (fan-out). */
  | 'publishesPerSec'
  /** Completed CALL → RESULT per second (RPC). */
  | 'callsPerSec'
  /** Latency percentiles: publish → event or call → result, µs. */
  | 'p50Us'
  | 'p99Us'
  /** Target CPU (user + system) per delivered event or per call, µs. */
  | 'cpuUsPerOp'
  /** Target CPU over the window, % of one core. */
  | 'targetCpuPct'
  /** All load-generator processes together, % of one core (up to 200 on 2 cores). */
  | 'loadGenCpuPct'
  /** Everything else that ran on the machine during the window, % of one core: noise. */
  | 'otherCpuPct'
  /** EVENTs received / (PUBLISHes × subscribers), over the whole run, %. */
  | 'deliveredPct'
  /** Sessions the target closed during the run. */
  | 'sessionsLost'
  /** ERROR replies to CALL or PUBLISH. */
  | 'errors'
  /** Idle sessions opened and held. */
  | 'sessions'
  /** Target RSS growth for all idle sessions, and per session, bytes. */
  | 'rssDeltaBytes'
  | 'rssPerSessionBytes'
  /** Target RSS before any generator session: the idle process, bytes. */
  | 'idleRssBytes'
  /** Sessions opened per second while connecting. */
  | 'connectsPerSec'
  /** Target CPU per session opened (WebSocket handshake, HELLO → WELCOME), µs. */
  | 'cpuUsPerConnect'
  /** Slow consumer: each fast subscriber's EVENTs/s alone, with the slow one, and their ratio. */
  | 'fastEventsPerSecAlone'
  | 'fastEventsPerSecWithSlow'
  | 'fastRateRatio'
  /** Slow consumer: peak target RSS growth over the run, alone and with the slow one, bytes. */
  | 'peakRssDeltaAloneBytes'
  | 'peakRssDeltaWithSlowBytes'
  /** Slow consumer: the configured soft and hard limits of the outbound queue per session, bytes. */
  | 'outboundSoftLimitBytes'
  | 'outboundLimitBytes'
  /** Slow consumer: EVENTs the slow one got after it resumed reading, and whether it was cut off (1/0). */
  | 'slowReceivedAfterResume'
  | 'slowCutOff'
  /** Patterns: subscriptions the extra generator session held (none matching the published topic). */
  | 'heldSubscriptions'
  /** Patterns: SUBSCRIBEs per second while that session set them up. */
  | 'subscribesPerSec'
  /** Patterns: EVENTs that session received (any is a matching bug). */
  | 'strayEvents'
  /** Patterns: this case's CPU per delivered EVENT and events/s ÷ the exact control's, same run. */
  | 'cpuRatioVsExact'
  | 'eventsRatioVsExact'
  /** Patterns, the case with the near misses: 1 when cpuRatioVsExact is within the limit (1.5), else 0. */
  | 'cpuLimitMet'
  /** Cluster: CPU of all router processes of the case together, % of one core. */
  | 'routerCpuPct'
  /** Cluster: nodes a (publisher / callers in the cross case), b (subscribers / callee), c (no sessions), and nats-server, % of one core. */
  | 'nodeACpuPct'
  | 'nodeBCpuPct'
  | 'idleNodeCpuPct'
  | 'natsCpuPct'
  /** Cluster: messages over the window per node connection, as nats-server counts them (/connz): from a, from b, to b, to c. */
  | 'natsInFromA'
  | 'natsInFromB'
  | 'natsOutToB'
  | 'natsOutToIdle'
  /** Cluster: router CPU per op ÷ the single router's, and (cross case) ÷ the same-node case's, same run. */
  | 'cpuRatioVsSingle'
  | 'cpuRatioVsSameNode'
  /** Cluster, cross-node case: 1 when cpuRatioVsSingle is within the limit (2), else 0. */
  | 'clusterCpuLimitMet'
  /** Fan-out with event history on the topic: CPU per delivered EVENT ÷ the same case without history, same run. */
  | 'historyCpuRatio'
  /** 1 when historyCpuRatio is within the limit (1.2), else 0. */
  | 'historyCpuLimitMet'
  /** History: events in the store before the measurement (preloaded), and how long the preload took, s. */
  | 'storedEvents'
  | 'preloadS';

export interface RssSample {
  /** ms since the publisher started. */
  tMs: number;
  rssBytes: number;
}

export interface Result {
  scenario: ScenarioName;
  /** The point on the scenario's axis, e.g. `N=100`, `K=10`, `10000 sessions`. */
  case: string;
  target: TargetName;
  /**
   * fanout and rpc: the case without its payload variant (`K=10`, `N=1`, `T=1000×1`), the padding
   * size and the serializer, for the growth summary.
   */
  group?: string;
  payloadBytes?: number;
  serializer?: string;
  /** Set when this run failed; the values are then partial or empty. */
  error?: string;
  values: Partial<Record<Metric, number>>;
  /** value ÷ the plain baseline's value in the same scenario and case, same run. */
  ratios: Partial<Record<Metric, number>>;
  /** Slow consumer: target RSS growth over the pre-run RSS, with the slow one, over time. */
  rssDeltaSeries?: { tMs: number; deltaBytes: number }[];
  /** How the case was set up (window sizes, limits). */
  notes: string[];
  /** What went wrong or looks suspect: printed after the tables. */
  problems: string[];
}

export interface BenchReport {
  startedAt: string;
  /** 1-minute load average before the run: above ~0.5, something else was using the CPUs. */
  loadAverageBefore: number;
  durationS: number;
  quick: boolean;
  machine: { node: string; cpus: number; platform: string; clockTicksPerSecond: number; openFiles: { soft: number; hard: number } };
  targets: Partial<Record<TargetName, string>>;
  settings: Record<string, unknown>;
  results: Result[];
  /**
   * switchboard-rs ÷ switchboard (RawSocket ÷ WebSocket) and switchboard-z ÷ switchboard
   * (permessage-deflate ÷ none), per fanout and rpc case run on both.
   */
  transportRatios: TransportRatio[];
  /** fanout and rpc: CPU per event or call at each payload size ÷ at the smallest, per target and serializer. */
  payloadGrowth: PayloadGrowth[];
}

export interface PayloadGrowth {
  scenario: ScenarioName;
  /** `K=10`, `N=1`, `T=1000×1`. */
  group: string;
  serializer: string;
  target: TargetName;
  /** The smallest size measured, bytes, and its CPU per event or call, µs. */
  baseBytes: number;
  baseCpuUsPerOp: number;
  /** Per larger size: CPU per op ÷ the smallest size's, and the limit where one applies. */
  sizes: { payloadBytes: number; cpuUsPerOp: number; growth: number; limit?: number; met?: boolean }[];
}

export interface TransportRatio {
  /** switchboard-rs or switchboard-z: the numerator. */
  target: TargetName;
  scenario: ScenarioName;
  case: string;
  /** The target's rate (events/s or calls/s) ÷ plain WebSocket's: above 1 is better. */
  rate: number;
  /** CPU per event or call: below 1 is better. */
  cpuPerOp: number;
  p50: number;
  p99: number;
}
