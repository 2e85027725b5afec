/**
 * The systems under test, each started as its own process on a fresh loopback port:
 * the Switchboard router (its CLI), the bare-`ws` baseline (plain and corked), and optionally
 * fox-wamp. Nothing here runs in the orchestrator's process.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, track } from './children.js';
import { sleep } from './clock.js';
import { openFileLimit } from './procfs.js';
import { RawPeer } from './peer.js';

export const TARGET_NAMES = ['switchboard', 'switchboard-rs', 'switchboard-z', 'baseline', 'corked', 'fox'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export function isTargetName(value: string): value is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(value);
}

/** What each target is, in one line, for the report. */
export const TARGET_LABELS: Readonly<Record<TargetName, string>> = {
  switchboard: 'Switchboard router (CLI; the serializer of --serializers, JSON by default)',
  'switchboard-rs': 'Switchboard router (CLI) driven over RawSocket on its WebSocket port (rawsocket: true)',
  'switchboard-z': 'Switchboard router (CLI) with permessage-deflate (compression: {level}), every generator session offering it',
  baseline: 'bare ws forwarder, one ws.send per recipient; decodes and encodes with the plain library of the session serializer',
  corked: 'bare ws forwarder, corked, uncork on setImmediate',
  fox: 'fox-wamp (third-party Node WAMP router)',
};

export const REALM = 'realm1';
const HOST = '127.0.0.1';

/** Switchboard's per-session outbound limits (router config `listeners[].outbound`). */
export interface OutboundLimits {
  softLimitBytes: number;
  hardLimitBytes: number;
  drainTimeoutMs: number;
}

export interface TargetOptions {
  /** Folder holding bench/dist (this package's compiled files). */
  benchDist: string;
  /** The router's CLI launcher, e.g. router/bin/switchboard.js. */
  routerBin: string;
  /** fox-wamp's package folder, for the `fox` target. */
  foxModule: string | undefined;
  /** For Switchboard: write a config file with these limits and pass --config. */
  outbound?: OutboundLimits;
  /** File descriptors the target will need (sessions + margin); raises `ulimit -n` if it can. */
  needFds?: number;
  /** For Switchboard: start it as a node of a cluster over NATS (config `cluster`). */
  cluster?: ClusterNodeSettings;
  /** For switchboard-z: the listener's `compression` block. */
  compression?: { level: number; threshold: number };
  /** For Switchboard: event history in realm1 and the store that keeps it. */
  history?: TargetHistory;
}

/** The realm's `eventHistory` rules, its history byte budget, and the config's `store` block. */
export interface TargetHistory {
  eventHistory: { topic: string; match?: 'exact' | 'prefix' | 'wildcard'; limit: number }[];
  /** `limits.maxHistoryBytes` (default: the router's). */
  maxHistoryBytes?: number;
  /** The `store` block; a sqlite store without `path` gets a file in the target's temporary folder. */
  store?: { type: string; path?: string; [key: string]: unknown };
}

/** The router config's `cluster` block for one node. */
export interface ClusterNodeSettings {
  node: string;
  natsUrl: string;
  heartbeatMs: number;
  nodeTimeoutMs: number;
}

/** The target's config file, when it needs one: the outbound limits, RawSocket on the port. */
interface ConfigNeeds {
  outbound?: OutboundLimits;
  rawsocket?: boolean;
  /** Every load generator connects from 127.0.0.1: room for all their connections (idle). */
  maxSocketsPerIp?: number;
  compression?: { level: number; threshold: number };
}

function clusterBlock(c: ClusterNodeSettings): Record<string, unknown> {
  return { node: c.node, nats: { servers: [c.natsUrl] }, heartbeatMs: c.heartbeatMs, nodeTimeoutMs: c.nodeTimeoutMs };
}

export interface Target {
  readonly name: TargetName;
  readonly pid: number;
  readonly url: string;
  /** Load generators offer permessage-deflate (switchboard-z). */
  readonly deflate: boolean;
  /** The last lines the target printed (stdout and stderr), for error reports. */
  output(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

const OUTPUT_TAIL_BYTES = 8192;

/** Keeps the last few KB a child printed, and keeps its pipes drained so it never blocks. */
function tail(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

function command(name: TargetName, port: number, options: TargetOptions, configFile: string | undefined): string[] {
  switch (name) {
    case 'switchboard':
    case 'switchboard-rs':
    case 'switchboard-z': {
      const args = [options.routerBin, 'start', '--host', HOST, '--port', String(port), '--log-level', 'warn'];
      if (configFile !== undefined) args.push('--config', configFile);
      return args;
    }
    case 'baseline':
    case 'corked':
      return [join(options.benchDist, 'baseline.js'), '--host', HOST, '--port', String(port), '--mode', name === 'corked' ? 'corked' : 'plain'];
    case 'fox':
      if (options.foxModule === undefined) throw new Error('the fox target needs --fox <path to the fox-wamp package>');
      return [join(options.benchDist, 'fox-target.js'), '--module', options.foxModule, '--port', String(port)];
  }
}

function writeConfig(
  port: number,
  needs: ConfigNeeds,
  cluster: ClusterNodeSettings | undefined,
  history: TargetHistory | undefined,
): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  const file = join(dir, 'router.json');
  const realm: Record<string, unknown> = { name: REALM };
  if (history !== undefined) {
    realm['eventHistory'] = history.eventHistory;
    if (history.maxHistoryBytes !== undefined) realm['limits'] = { maxHistoryBytes: history.maxHistoryBytes };
  }
  const store = history?.store;
  const config = {
    listeners: [{ type: 'websocket', host: HOST, port, path: '/ws', ...needs }],
    realms: [realm],
    log: { level: 'warn' },
    ...(cluster !== undefined && { cluster: clusterBlock(cluster) }),
    ...(store !== undefined && { store: store.type === 'sqlite' && store.path === undefined ? { ...store, path: join(dir, 'history.db') } : store }),
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return { file, dir };
}

/**
 * Spawns `node args…`, through `sh -c 'ulimit -n N; exec …'` when the target needs more file
 * descriptors than our soft limit allows (the hard limit still caps it).
 */
function spawnNode(args: string[], needFds: number | undefined): ChildProcess {
  const limit = openFileLimit();
  const stdio: ['pipe', 'pipe', 'pipe'] = ['pipe', 'pipe', 'pipe'];
  if (needFds !== undefined && needFds > limit.soft && limit.hard >= needFds) {
    const script = `ulimit -n ${needFds} && exec "$0" "$@"`;
    return spawn('/bin/sh', ['-c', script, process.execPath, ...args], { stdio });
  }
  return spawn(process.execPath, args, { stdio });
}

/** Starts a target and resolves once a WAMP session can join realm1 on it. */
export async function startTarget(name: TargetName, options: TargetOptions): Promise<Target> {
  const port = await freePort();
  const needs: ConfigNeeds = {};
  const router = name === 'switchboard' || name === 'switchboard-rs' || name === 'switchboard-z';
  if (name === 'switchboard-rs') needs.rawsocket = true;
  if (name === 'switchboard-z') needs.compression = options.compression ?? { level: 1, threshold: 1024 };
  if (router && options.outbound !== undefined) needs.outbound = options.outbound;
  if (router && options.needFds !== undefined) needs.maxSocketsPerIp = options.needFds;
  const cluster = router ? options.cluster : undefined;
  const history = router ? options.history : undefined;
  const config = Object.keys(needs).length > 0 || cluster !== undefined || history !== undefined ? writeConfig(port, needs, cluster, history) : undefined;
  const child = track(spawnNode(command(name, port, options, config?.file), options.needFds));
  const output = tail(child);
  // RawSocket shares the WebSocket port: the first octet (0x7F) tells them apart.
  const url = name === 'switchboard-rs' ? `rs://${HOST}:${port}` : `ws://${HOST}:${port}/ws`;
  const deflate = name === 'switchboard-z';
  const stop = async (): Promise<void> => {
    child.stdin?.end();
    await stopChild(child);
    if (config !== undefined) rmSync(config.dir, { recursive: true, force: true });
  };
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${String(code)}`}`;
  });
  // Bounded: 150 tries 100 ms apart, about 15 s for a slow first start.
  for (let attempt = 0; attempt < 150; attempt++) {
    if (exited !== undefined) break;
    try {
      const peer = await RawPeer.open({ url, realm: REALM, timeoutMs: 2000, deflate });
      peer.close();
      if (child.pid === undefined) break;
      return { name, pid: child.pid, url, deflate, output, stop };
    } catch {
      await sleep(100);
    }
  }
  await stop();
  throw new Error(`target ${name} did not accept a WAMP session on ${url} (${exited ?? 'still running'}):\n${output()}`);
}
