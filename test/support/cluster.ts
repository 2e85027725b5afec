/**
 * A NATS server and router cluster nodes as child processes, for the cluster tests (issue #10).
 *
 *   const cluster = await startCluster(3);            // nats-server -js + 3 × `switchboard start`
 *   await connect({ url: cluster.nodes[0]!.url, realm: 'realm1' });
 *   await cluster.nodes[1]!.kill();                    // SIGKILL: the node dies without a word
 *   await cluster.nats.kill('SIGKILL'); await cluster.nats.restart();   // a NATS outage
 *
 * Everything is built on test/support/processes.ts: output collected (it is in every error),
 * waits bounded, and every process stopped when the test finishes — so call these inside a test
 * (`it`), not in beforeAll. Needs nats-server (Debian's `nats-server` package, at /usr/sbin; .ci/run
 * installs it) and the built CLI (`npx tsc -b`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import type { RealmFile, RouterConfigFile } from '@switchboard/router';
import { REPO_ROOT, spawnProcess, untilAccepting } from './processes.js';
import type { Spawned } from './processes.js';
import { requireSystem } from './system.js';

/** The environment variables the CLI would take over its config file: not passed to nodes. */
const CLI_ENV = ['SWITCHBOARD_CONFIG', 'SWITCHBOARD_PORT', 'PORT', 'LOG_LEVEL'];

function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of CLI_ENV) delete env[name];
  return { ...env, ...extra };
}

const running = (p: Spawned): boolean => p.child.exitCode === null && p.child.signalCode === null;

// ---- NATS -----------------------------------------------------------------------------------

export interface NatsOptions {
  /** Client port; default: a random one nats-server picks (`-p -1`), kept across restart(). */
  port?: number;
  /** Client authentication (`--user`/`--pass`, or `--auth`). */
  user?: string;
  password?: string;
  token?: string;
  /** More nats-server arguments. */
  args?: readonly string[];
  /** How long to wait for it to accept connections (default 10 s). */
  timeoutMs?: number;
}

export interface NatsServer {
  /** nats://127.0.0.1:PORT (without credentials). */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (kept across restart(), removed by stop()). */
  readonly storeDir: string;
  /** The current nats-server process (a new one after each restart()). */
  readonly process: Spawned;
  /** Output of every nats-server process this server has run, in order. */
  output(): string;
  /** Sends `signal` (default SIGKILL) and, unless it is SIGSTOP/SIGCONT, waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the running process (SIGTERM, if any) and starts a new one on the same port and store. */
  restart(): Promise<void>;
  /** Stops nats-server (SIGTERM, then SIGKILL) and removes its store directory. Idempotent. */
  stop(): Promise<void>;
}

/** nats-server with JetStream, on 127.0.0.1, its store in a temporary directory; resolves once it accepts connections. */
export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  const natsServer = requireSystem('nats-server');
  const storeDir = mkdtempSync(join(tmpdir(), 'switchboard-nats-'));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const auth = [
    ...(options.user !== undefined ? ['--user', options.user] : []),
    ...(options.password !== undefined ? ['--pass', options.password] : []),
    ...(options.token !== undefined ? ['--auth', options.token] : []),
  ];
  let port = options.port ?? -1;
  let current: Spawned | undefined;
  let earlier = '';
  let generation = 0;
  let stopped = false;

  const launch = async (): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      generation++;
      const args = ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port), '-n', `switchboard-test-${process.pid}`, ...auth, ...(options.args ?? [])];
      const p = spawnProcess(natsServer, args, { name: `nats-server #${generation}` });
      current = p;
      try {
        const [, listening] = await p.waitFor(/Listening for client connections on [^\s]*:(\d+)/, timeoutMs);
        port = Number(listening);
        await p.waitFor(/Server is ready/, timeoutMs);
        await untilAccepting(p, `connections on ${port}`, (connected) => tcpConnect({ host: '127.0.0.1', port }, connected), timeoutMs);
        return;
      } catch (err) {
        await p.stop();
        // Our fixed port taken in between (after a restart): try again, briefly.
        if (attempt < 5 && /address already in use/i.test(p.output())) {
          earlier += p.output();
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
          continue;
        }
        throw err;
      }
    }
  };

  const stop = async (): Promise<void> => {
    if (current !== undefined && running(current)) current.child.kill('SIGCONT');
    await current?.stop();
    if (!stopped) {
      stopped = true;
      rmSync(storeDir, { recursive: true, force: true });
    }
  };
  onTestFinished(stop);

  await launch();
  const server: NatsServer = {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    get process() {
      return current!;
    },
    output: () => earlier + (current?.output() ?? ''),
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const p = current;
      if (p === undefined || !running(p)) return;
      p.child.kill(signal);
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await p.exited;
    },
    async restart() {
      if (stopped) throw new Error('nats-server: restart() after stop()');
      if (current !== undefined) {
        if (running(current)) current.child.kill('SIGCONT');
        await current.stop();
        earlier += current.output();
      }
      await launch();
    },
    stop,
  };
  return server;
}

// ---- cluster nodes --------------------------------------------------------------------------

type ClusterFile = NonNullable<RouterConfigFile['cluster']>;

export interface ClusterNodeOptions {
  /** NATS URL(s) for `cluster.nats.servers`. */
  natsUrl: string | readonly string[];
  /** `cluster.node`, the node's name. */
  node: string;
  /** Default: [{ name: 'realm1' }] (anonymous). */
  realms?: RealmFile[];
  /** Merged over `cluster` (heartbeatMs 300, nodeTimeoutMs 1500 by default): prefix, credentials… */
  cluster?: Partial<ClusterFile>;
  /** More top-level config (merged over the generated one; `listeners` replaces ours — keep port 0). */
  extra?: Partial<RouterConfigFile>;
  /** --log-level (default info: the harness needs the 'listening' line). */
  logLevel?: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the node to listen (default 15 s). */
  timeoutMs?: number;
}

export interface ClusterNode {
  /** ws://127.0.0.1:PORT/ws, from the node's 'listening' line. */
  readonly url: string;
  readonly node: string;
  readonly pid: number;
  /** The config file written for it. */
  readonly configPath: string;
  readonly process: Spawned;
  /** stdout and stderr so far (JSON log lines). */
  output(): string;
  /** Sends `signal` (default SIGKILL) and, unless it is SIGSTOP/SIGCONT, waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM (graceful: GOODBYE to every session), SIGKILL after 5 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The config a cluster node gets (exported for tests that want to write variations of it). */
export function clusterNodeConfig(options: Omit<ClusterNodeOptions, 'logLevel' | 'env' | 'timeoutMs'>): RouterConfigFile {
  const servers = typeof options.natsUrl === 'string' ? [options.natsUrl] : [...options.natsUrl];
  const cluster: ClusterFile = { heartbeatMs: 300, nodeTimeoutMs: 1500, ...options.cluster, node: options.node, nats: { ...options.cluster?.nats, servers } };
  return {
    listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, path: '/ws' }],
    realms: options.realms ?? [{ name: 'realm1' }],
    ...options.extra,
    cluster,
  };
}

/** `switchboard start --config FILE` as a cluster node; resolves once it listens (and says 'router started'). */
export async function startClusterNode(options: ClusterNodeOptions): Promise<ClusterNode> {
  const dir = mkdtempSync(join(tmpdir(), `switchboard-${options.node}-`));
  const configPath = join(dir, 'router.json');
  writeFileSync(configPath, `${JSON.stringify(clusterNodeConfig(options), null, 2)}\n`);
  const bin = new URL('router/bin/switchboard.js', REPO_ROOT).pathname;
  const args = [bin, 'start', '--config', configPath, '--log-level', options.logLevel ?? 'info'];
  const p = spawnProcess(process.execPath, args, { name: `cluster node ${options.node}`, env: childEnv(options.env) });
  const stop = async (): Promise<number | null> => {
    if (running(p)) p.child.kill('SIGCONT'); // a paused node cannot act on SIGTERM
    return p.stop(5000);
  };
  onTestFinished(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const timeoutMs = options.timeoutMs ?? 15_000;
  const [line] = await p.waitFor(/^\{.*"msg":"listening".*\}$/m, timeoutMs);
  const parsed = JSON.parse(line) as { url?: unknown };
  if (typeof parsed.url !== 'string') throw new Error(`no url in ${options.node}'s 'listening' line: ${line}`);
  await p.waitFor(/"msg":"router started"/, timeoutMs);
  const url = parsed.url;
  return {
    url,
    node: options.node,
    pid: p.child.pid ?? -1,
    configPath,
    process: p,
    output: p.output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!running(p)) return;
      p.child.kill(signal);
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await p.exited;
    },
    stop,
  };
}

// ---- a whole cluster ------------------------------------------------------------------------

export interface ClusterOptions extends Omit<ClusterNodeOptions, 'natsUrl' | 'node'> {
  /** Node names (default node-a, node-b, …). */
  names?: readonly string[];
  nats?: NatsOptions;
}

export interface Cluster {
  readonly nats: NatsServer;
  readonly nodes: ClusterNode[];
  /** Each node's WebSocket URL, in order. */
  readonly urls: string[];
  /** Another node on the same NATS, with the cluster's options (appended to `nodes`). */
  addNode(node: string, options?: Partial<ClusterNodeOptions>): Promise<ClusterNode>;
  /** Every node (SIGTERM), then nats-server. */
  stop(): Promise<void>;
}

/** nats-server and `n` nodes (started one after the other, so their startup logs stay apart). */
export async function startCluster(n: number, options: ClusterOptions = {}): Promise<Cluster> {
  const { names, nats: natsOptions, ...nodeOptions } = options;
  const nats = await startNats(natsOptions);
  const credentials: Partial<ClusterFile> =
    natsOptions?.user !== undefined || natsOptions?.token !== undefined
      ? {
          nats: {
            servers: [],
            ...(natsOptions.user !== undefined && { user: natsOptions.user }),
            ...(natsOptions.password !== undefined && { password: natsOptions.password }),
            ...(natsOptions.token !== undefined && { token: natsOptions.token }),
          },
        }
      : {};
  const nodes: ClusterNode[] = [];
  const addNode = async (node: string, extra: Partial<ClusterNodeOptions> = {}): Promise<ClusterNode> => {
    const started = await startClusterNode({
      ...nodeOptions,
      ...extra,
      cluster: { ...credentials, ...nodeOptions.cluster, ...extra.cluster },
      natsUrl: extra.natsUrl ?? nats.url,
      node,
    });
    nodes.push(started);
    return started;
  };
  for (let i = 0; i < n; i++) await addNode(names?.[i] ?? `node-${String.fromCharCode(97 + i)}`);
  return {
    nats,
    nodes,
    get urls() {
      return nodes.map((node) => node.url);
    },
    addNode,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
      await nats.stop();
    },
  };
}
