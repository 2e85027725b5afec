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
import { REPO_ROOT, freePort, spawnProcess, untilAccepting } from './processes.js';
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

// ---- a NATS cluster --------------------------------------------------------------------------

export interface NatsClusterOptions {
  /** Servers (default 3). */
  size?: number;
  /** How long to wait for a server to start, and for the cluster to form (default 20 s each). */
  timeoutMs?: number;
}

/** One server of a NATS cluster. */
export interface NatsClusterServer {
  /** server_name: n1, n2, … */
  readonly name: string;
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** The monitoring port (/jsz, /routez, /connz). */
  readonly monitorPort: number;
  readonly storeDir: string;
  /** The current process (a new one after each restart). */
  readonly process: Spawned;
  readonly running: boolean;
}

export interface NatsCluster {
  readonly servers: readonly NatsClusterServer[];
  /** Every server's URL, in order. */
  readonly urls: string[];
  /** Every server's URL, starting with server `i`'s (a router node's list that connects it to `i` first). */
  urlsFrom(i: number): string[];
  /** Output of every process of server `i`. */
  output(i: number): string;
  /** Sends `signal` (default SIGKILL) to server `i` and, unless it is SIGSTOP/SIGCONT, waits for the exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts server `i` again (same ports and store; SIGTERM first if it runs); resolves once it is back in the cluster. */
  restart(i: number): Promise<void>;
  /** Resolves once every running server has its routes to the others up and knows the JetStream meta leader. */
  ready(timeoutMs?: number): Promise<void>;
  /** A monitoring page of server `i` (JSON). */
  monitor(i: number, page: 'jsz' | 'routez' | 'connz' | 'healthz'): Promise<Record<string, unknown>>;
  /** Every server (SIGTERM, then SIGKILL), and their stores. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A NATS cluster on 127.0.0.1: `size` nats-servers (default 3), each with a server_name, JetStream
 * (its own store directory), its own client and monitoring ports, and routes to all the others.
 * Resolves once the routes are up and JetStream has a meta leader (the monitoring pages say so),
 * so that a bucket with 3 replicas can be made at once.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const natsServer = requireSystem('nats-server');
  const size = options.size ?? 3;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-nats-cluster-'));
  const name = `sb-${process.pid}`;
  interface Slot {
    name: string;
    port: number;
    monitorPort: number;
    routePort: number;
    storeDir: string;
    configPath: string;
    current: Spawned | undefined;
    earlier: string;
    generation: number;
  }
  const slots: Slot[] = [];
  for (let i = 0; i < size; i++) {
    slots.push({
      name: `n${i + 1}`,
      port: await freePort(),
      monitorPort: await freePort(),
      routePort: await freePort(),
      storeDir: join(dir, `n${i + 1}`),
      configPath: join(dir, `n${i + 1}.conf`),
      current: undefined,
      earlier: '',
      generation: 0,
    });
  }
  const routes = slots.map((s) => `nats-route://127.0.0.1:${s.routePort}`).join(', ');
  for (const s of slots) {
    writeFileSync(
      s.configPath,
      [
        `server_name: ${s.name}`,
        `listen: 127.0.0.1:${s.port}`,
        `http: 127.0.0.1:${s.monitorPort}`,
        `jetstream { store_dir: "${s.storeDir}" }`,
        `cluster { name: ${name}, listen: 127.0.0.1:${s.routePort}, routes: [${routes}] }`,
        '',
      ].join('\n'),
    );
  }
  let stopped = false;

  const launch = async (s: Slot): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      s.generation++;
      const p = spawnProcess(natsServer, ['-c', s.configPath], { name: `nats-server ${s.name} #${s.generation}` });
      s.current = p;
      try {
        await p.waitFor(/Server is ready/, timeoutMs);
        await untilAccepting(p, `connections on ${s.port}`, (connected) => tcpConnect({ host: '127.0.0.1', port: s.port }, connected), timeoutMs);
        return;
      } catch (err) {
        await p.stop();
        s.earlier += p.output();
        // One of our ports taken in between (after a restart): try again, briefly.
        if (attempt < 5 && /address already in use/i.test(p.output())) {
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
          continue;
        }
        throw err;
      }
    }
  };

  const monitor = async (i: number, page: 'jsz' | 'routez' | 'connz' | 'healthz'): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${slots[i]!.monitorPort}/${page}`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as Record<string, unknown>;
  };

  /**
   * Whether server `i` has a route to every other running server, knows the meta leader, and says
   * it is healthy (/healthz: its JetStream streams and consumers are current — a restarted server
   * has caught up, so that killing another one leaves a quorum for every bucket).
   */
  const formed = async (i: number): Promise<boolean> => {
    const others = slots.filter((s, j) => j !== i && s.current !== undefined && running(s.current)).length;
    const [routez, jsz, health] = await Promise.all([monitor(i, 'routez'), monitor(i, 'jsz'), monitor(i, 'healthz')]);
    const meta = jsz['meta_cluster'] as { leader?: string } | undefined;
    return Number(routez['num_routes']) >= others && typeof meta?.leader === 'string' && meta.leader !== '' && health['status'] === 'ok';
  };

  const ready = async (ms = timeoutMs): Promise<void> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const live = slots.map((s, i) => ({ s, i })).filter(({ s }) => s.current !== undefined && running(s.current));
      const states = await Promise.all(live.map(({ i }) => formed(i).catch(() => false)));
      if (states.every(Boolean)) return;
      if (Date.now() > deadline) {
        const log = live.map(({ s }) => `--- ${s.name}\n${s.earlier}${s.current?.output() ?? ''}`).join('\n');
        throw new Error(`the NATS cluster did not form within ${ms} ms (routes and a JetStream meta leader):\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const stop = async (): Promise<void> => {
    await Promise.all(
      slots.map(async (s) => {
        if (s.current !== undefined && running(s.current)) s.current.child.kill('SIGCONT');
        await s.current?.stop();
      }),
    );
    if (!stopped) {
      stopped = true;
      rmSync(dir, { recursive: true, force: true });
    }
  };
  onTestFinished(stop);

  await Promise.all(slots.map((s) => launch(s)));
  await ready();
  const slot = (i: number): Slot => {
    const s = slots[i];
    if (s === undefined) throw new Error(`no NATS server #${i} (the cluster has ${size})`);
    return s;
  };
  const servers = slots.map(
    (s): NatsClusterServer => ({
      name: s.name,
      url: `nats://127.0.0.1:${s.port}`,
      port: s.port,
      monitorPort: s.monitorPort,
      storeDir: s.storeDir,
      get process() {
        return s.current!;
      },
      get running() {
        return s.current !== undefined && running(s.current);
      },
    }),
  );
  return {
    servers,
    get urls() {
      return servers.map((s) => s.url);
    },
    urlsFrom: (i) => [...servers.slice(i), ...servers.slice(0, i)].map((s) => s.url),
    output: (i) => slot(i).earlier + (slot(i).current?.output() ?? ''),
    async kill(i, signal: NodeJS.Signals = 'SIGKILL') {
      const p = slot(i).current;
      if (p === undefined || !running(p)) return;
      p.child.kill(signal);
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await p.exited;
    },
    async restart(i) {
      if (stopped) throw new Error('NATS cluster: restart() after stop()');
      const s = slot(i);
      if (s.current !== undefined) {
        if (running(s.current)) s.current.child.kill('SIGCONT');
        await s.current.stop();
        s.earlier += s.current.output();
      }
      await launch(s);
      await ready();
    },
    ready,
    monitor,
    stop,
  };
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

/**
 * What router nodes logged about the cluster (their last `lines` lines with 'cluster:'), for a
 * failure message: a bucket left wrong says little without what the nodes did about it.
 */
export function clusterSaid(nodes: readonly ClusterNode[], lines = 25): string {
  return nodes
    .map(
      (n) =>
        `--- ${n.node}\n${n
          .output()
          .split('\n')
          .filter((line) => line.includes('cluster:'))
          .slice(-lines)
          .join('\n')}`,
    )
    .join('\n');
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
