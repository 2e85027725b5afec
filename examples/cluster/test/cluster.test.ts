/**
 * The cluster example: its docker-compose.yml checked with `docker-compose config` (no container
 * engine needed: the services, each node's own valid config, NATS with JetStream on a volume,
 * nginx's upstreams matching the nodes), and its nginx.conf run in real nginx (Debian's package)
 * with the three upstreams pointed at three local cluster nodes (test/support/cluster.ts):
 * WebSocket sessions through nginx land on three different nodes, and a session whose node is
 * killed reconnects through nginx to another one (both hold for any three routers); and, the
 * point of the cluster, an event and a call cross nodes through nginx.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Connection } from '@switchboard/client';
import type { CloseEvent, Session } from '@switchboard/client';
import { loadConfig } from '@switchboard/router';
import { until, within } from '../../../router/test/helpers.js';
import { startCluster } from '../../../test/support/cluster.js';
import type { Cluster } from '../../../test/support/cluster.js';
import { freePort, spawnProcess, untilAccepting } from '../../../test/support/processes.js';
import type { Spawned } from '../../../test/support/processes.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';
import { requireSystem } from '../../../test/support/system.js';
import { writeMainConfig } from '../../support/nginx.mjs';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const ROOT = here('../../../');
const EXAMPLE = here('../');
const COMPOSE = join(EXAMPLE, 'docker-compose.yml');
const NGINX_CONF = join(EXAMPLE, 'nginx.conf');
const NODES = ['node1', 'node2', 'node3'];

// ---- docker-compose.yml -----------------------------------------------------------------------

interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: (string | { type?: string; source: string; target: string })[];
  depends_on?: Record<string, { condition: string }>;
  ports?: ({ published: number | string; target: number | string } | string)[];
}

/** `docker-compose config` (validated, normalised: absolute paths, anchors merged), parsed. */
function composeConfig(): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  const compose = requireSystem('docker-compose');
  let yaml: string;
  try {
    yaml = execFileSync(compose, ['-f', COMPOSE, 'config'], { cwd: EXAMPLE, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`docker-compose config failed:\n${e.stderr ?? e.message}`);
  }
  // Debian's docker-compose (1.x) is Python with PyYAML: the same interpreter turns its output into JSON.
  const json = execFileSync(requireSystem('python3-yaml'), ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: yaml,
    encoding: 'utf8',
    timeout: 10_000,
  });
  return JSON.parse(json) as ReturnType<typeof composeConfig>;
}

/** A service's mounts as { source, target } (short `SRC:TARGET[:MODE]` or long syntax). */
function mounts(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target };
    const [source = '', target = ''] = v.split(':');
    return { source, target };
  });
}

/** The `upstream switchboard_cluster { … }` block and the `location = /ws { … }` block of nginx.conf. */
function nginxBlocks(conf: string): { upstream: string; ws: string } {
  const text = conf
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
  return { upstream: /upstream switchboard_cluster \{([^}]*)\}/.exec(text)?.[1] ?? '', ws: /location = \/ws \{([^}]*)\}/.exec(text)?.[1] ?? '' };
}

describe('docker-compose.yml', () => {
  let parsed: ReturnType<typeof composeConfig> | undefined;
  const compose = (): ReturnType<typeof composeConfig> => (parsed ??= composeConfig());
  const service = (name: string): Service => {
    const s = compose().services[name];
    if (s === undefined) throw new Error(`no service ${name} in ${COMPOSE}`);
    return s;
  };

  it('passes docker-compose config, with nats, node1..node3 and nginx', () => {
    expect(Object.keys(compose().services).sort()).toEqual(['nats', 'nginx', ...NODES].sort());
  });

  it('runs NATS with JetStream, its store on a named volume', () => {
    const nats = service('nats');
    expect(nats.image).toMatch(/^nats:/);
    const command = nats.command ?? [];
    expect(command).toContain('-js');
    const store = command[command.indexOf('-sd') + 1];
    expect(store).toBeDefined();
    const volume = mounts(nats).find((m) => m.target === store);
    expect(volume, `nothing is mounted at the JetStream store ${store}`).toBeDefined();
    expect(Object.keys(compose().volumes ?? {})).toContain(volume?.source);
  });

  it.each(NODES)('%s: the repository image, its own mounted config, valid, with its node name and nats://nats:4222', (name) => {
    const node = service(name);
    expect(node.build?.context).toBe(ROOT.replace(/\/$/, ''));
    expect(node.depends_on?.['nats']).toBeDefined();
    const configPath = node.environment?.['SWITCHBOARD_CONFIG'];
    const mount = mounts(node).find((m) => m.target === configPath);
    expect(mount, `${name}: SWITCHBOARD_CONFIG ${configPath} is not mounted`).toBeDefined();
    expect(mount?.source).toBe(join(EXAMPLE, `${name}.json`));
    const file = loadConfig(mount?.source ?? '').file;
    expect(file.cluster?.node).toBe(name);
    expect(file.cluster?.nats.servers).toEqual(['nats://nats:4222']);
    const listener = file.listeners?.[0];
    expect([listener?.type, listener?.type === 'websocket' ? listener.port : undefined, listener?.type === 'websocket' ? listener.path : undefined]).toEqual([
      'websocket',
      8080,
      '/ws',
    ]);
  });

  it('nginx: mounts nginx.conf, waits for the nodes, and balances /ws over exactly node1..node3 with WebSocket upgrades and a long read timeout', () => {
    const nginx = service('nginx');
    const conf = mounts(nginx).find((m) => m.target.startsWith('/etc/nginx/conf.d/') && m.target.endsWith('.conf'));
    expect(conf?.source).toBe(NGINX_CONF);
    expect(Object.keys(nginx.depends_on ?? {}).sort()).toEqual(NODES);
    const { upstream, ws } = nginxBlocks(readFileSync(NGINX_CONF, 'utf8'));
    expect(upstream).toMatch(/^\s*least_conn;/m);
    expect([...upstream.matchAll(/^\s*server (\S+?)[\s;]/gm)].map((m) => m[1])).toEqual(NODES.map((n) => `${n}:8080`));
    expect(ws).toContain('proxy_pass http://switchboard_cluster;');
    expect(ws).toMatch(/proxy_http_version 1\.1;/);
    expect(ws).toMatch(/proxy_set_header Upgrade +\$http_upgrade;/);
    expect(ws).toMatch(/proxy_set_header Connection +\$connection_upgrade;/);
    // Longer than the router's keep-alive ping (30 s by default), so quiet sessions stay open.
    const timeout = /proxy_read_timeout (\d+)([smh]);/.exec(ws);
    const seconds = Number(timeout?.[1]) * ({ s: 1, m: 60, h: 3600 }[timeout?.[2] as 's' | 'm' | 'h'] ?? Number.NaN);
    expect(seconds).toBeGreaterThan(30);
    // The published port is the one nginx listens on.
    const listen = /^\s*listen (\d+);/m.exec(readFileSync(NGINX_CONF, 'utf8'))?.[1];
    expect((nginx.ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`))).toEqual([`${listen}:${listen}`]);
  });
});

// ---- real nginx in front of three local nodes ---------------------------------------------------

interface RunningNginx {
  nginx: Spawned;
  url: string;
  /** The access log's /ws lines as { status, upstream: the node port nginx ended up with, tried: every port tried }. */
  wsLog(): { status: number; upstream: number; tried: number[] }[];
}

/** The example's nginx.conf with its upstreams at the nodes' ports and its listen on a free loopback port, in Debian's nginx. */
async function startNginx(cluster: Cluster): Promise<RunningNginx> {
  const nginxPath = requireSystem('nginx');
  const prefix = mkdtempSync(join(tmpdir(), 'switchboard-cluster-nginx-'));
  onTestFinished(() => rmSync(prefix, { recursive: true, force: true }));
  chmodSync(prefix, 0o755); // nginx's workers drop root privileges
  const errorLog = join(prefix, 'error.log');
  const accessLog = join(prefix, 'access.log');
  const ports = cluster.urls.map((u) => Number(new URL(u).port));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    let servers = 0;
    let listens = 0;
    const site = readFileSync(NGINX_CONF, 'utf8')
      .replace(/^(\s*server )node(\d):8080\b/gm, (_, head: string, n: string) => {
        servers++;
        return `${head}127.0.0.1:${ports[Number(n) - 1]}`;
      })
      .replace(/^(\s*listen) 8080;/gm, (_, head: string) => {
        listens++;
        return `${head} 127.0.0.1:${port};`;
      });
    expect([servers, listens], 'nginx.conf: three `server nodeN:8080` lines and one `listen 8080;`').toEqual([3, 1]);
    writeFileSync(join(prefix, 'cluster.conf'), site);
    const args = writeMainConfig(prefix, 'cluster.conf', {
      errorLog,
      logLevel: 'info',
      workerConnections: 64,
      // Which node served each request ($upstream_addr lists every one tried).
      http: [`log_format upstreams '$request_method $uri $status [$upstream_addr]';`],
      accessLog: `${accessLog} upstreams`,
    });
    execFileSync(nginxPath, [...args, '-t', '-q'], { stdio: 'pipe', timeout: 10_000 });
    const nginx = spawnProcess(nginxPath, [...args, '-g', 'daemon off;'], { name: 'nginx' });
    try {
      await untilAccepting(nginx, `connections on ${port}`, (connected) => tcpConnect({ host: '127.0.0.1', port }, connected));
    } catch (err) {
      await nginx.stop();
      const log = existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '';
      if (attempt < 3 && log.includes('Address already in use')) continue;
      throw new Error(`${(err as Error).message}\nerror.log:\n${log}`, { cause: err });
    }
    const wsLog = (): { status: number; upstream: number; tried: number[] }[] =>
      (existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '')
        .split('\n')
        .map((line) => /^GET \/ws (\d+) \[([^\]]*)\]$/.exec(line))
        .filter((m) => m !== null)
        .map((m) => {
          const tried = (m[2] ?? '')
            .split(/[,:]\s*/)
            .filter((_, i, all) => i % 2 === 1 || all.length === 1)
            .map(Number);
          return { status: Number(m[1]), upstream: tried[tried.length - 1] ?? -1, tried };
        });
    return { nginx, url: `ws://127.0.0.1:${port}/ws`, wsLog };
  }
}

/** A connection through nginx that reconnects quickly, closed when the test ends. */
async function open(url: string): Promise<{ connection: Connection; session: Session; closes: CloseEvent[]; reopened: () => number }> {
  const connection = new Connection({ url, realm: 'realm1', reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
  onTestFinished(() => connection.close());
  const closes: CloseEvent[] = [];
  let reopened = 0;
  connection.on('close', (e) => void closes.push(e));
  connection.on('open', (e) => {
    if (e.reconnected) reopened++;
  });
  const session = await within(connection.open(), 10_000, `a session through nginx (${url})`);
  return { connection, session, closes, reopened: () => reopened };
}

it('nginx (the example config) spreads WebSocket sessions over three nodes, and one whose node is killed reconnects to another', {
  timeout: 60_000,
}, async () => {
  const cluster = await startCluster(3, { names: NODES });
  const ports = cluster.urls.map((u) => Number(new URL(u).port));
  const proxy = await startNginx(cluster);

  // Three sessions open at once: least_conn gives each node one.
  const first = [await open(proxy.url), await open(proxy.url), await open(proxy.url)];
  for (const c of first) expect(c.session.isOpen).toBe(true);
  for (const c of first) c.connection.close();
  // nginx logs a proxied WebSocket when it ends.
  await until(() => proxy.wsLog().length >= 3, 5000, 'nginx to log the three WebSocket sessions');
  const served = proxy.wsLog();
  expect(served.map((l) => l.status)).toEqual([101, 101, 101]);
  expect(served.map((l) => l.upstream).sort()).toEqual([...ports].sort());

  // Three more; then node2 dies (SIGKILL). Only the session on it closes, and it comes back through nginx on node1 or node3.
  const second = [await open(proxy.url), await open(proxy.url), await open(proxy.url)];
  await cluster.nodes[1]!.kill('SIGKILL');
  await until(() => second.some((c) => c.reopened() > 0), 10_000, 'the session on node2 to reconnect through nginx');
  const moved = second.filter((c) => c.closes.length > 0);
  expect(moved.length).toBe(1);
  expect(moved[0]!.closes[0]).toMatchObject({ willReconnect: true });
  expect(moved[0]!.session.isOpen).toBe(true);
  for (const c of second) c.connection.close();
  await until(() => proxy.wsLog().length >= 7, 5000, 'nginx to log every WebSocket session');
  const log = proxy.wsLog().slice(3);
  // Three sessions of the second round on three nodes (one ended by the kill), plus the reconnect, not on node2.
  const ok = log.filter((l) => l.status === 101);
  expect(ok.length).toBe(4);
  const reconnect = ok.find((l) => l.upstream !== ports[1] && ok.filter((o) => o.upstream === l.upstream).length === 2);
  expect(reconnect, JSON.stringify(log)).toBeDefined();
  expect(ok.filter((l) => l.upstream === ports[1]).length).toBe(1);

  expect(await proxy.nginx.stop()).toBe(0);
});

it('through nginx, one realm: an event and a call cross nodes', { timeout: 60_000 }, async () => {
  const cluster = await startCluster(3, { names: NODES });
  const proxy = await startNginx(cluster);
  const [a, b, c] = [await open(proxy.url), await open(proxy.url), await open(proxy.url)];

  const received: unknown[] = [];
  await a.session.subscribe('com.example.cluster.tick', (args) => void received.push(args[0]));
  await b.session.register('com.example.cluster.add', (args) => (args[0] as number) + (args[1] as number));
  // Subscriptions and registrations reach the other nodes over NATS: retry until they have.
  const deadline = Date.now() + 10_000;
  while (received.length === 0) {
    if (Date.now() > deadline) throw new Error('an event published on one node did not reach a subscriber on another within 10 s');
    await c.session.publish('com.example.cluster.tick', ['hello'], {}, { acknowledge: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(received[0]).toBe('hello');
  expect(await within(c.session.call('com.example.cluster.add', [2, 3]), 5000, 'a call across nodes')).toBe(5);

  for (const x of [a, b, c]) x.connection.close();
  await until(() => proxy.wsLog().length >= 3, 5000, 'nginx to log the three WebSocket sessions');
  expect(new Set(proxy.wsLog().map((l) => l.upstream)).size).toBe(3); // three nodes, one realm
});

it('runs as its README says (`npm start -w examples/cluster`): nats-server, three nodes, nginx; sessions on three nodes, an event and a call across them', {
  timeout: 60_000,
}, async () => {
  const { command, expected } = readmeRun('cluster');
  expect(command).toBe('npm start -w examples/cluster');
  const port = await freePort();
  const run = runCommand(command, { NGINX_PORT: String(port) });
  await run.waitFor(/Ctrl-C stops$/m, 50_000);
  expectLines(
    run.stdout(),
    expected.map((line) => line.replaceAll(':8080/', `:${port}/`)),
  );
  // The event and the call crossed nodes: sender and receiver differ.
  for (const [, from, to] of run.stdout().matchAll(/^(?:event|call) from (node\d) to (node\d)/gm)) expect(from).not.toBe(to);
  await within(run.stop(), 15_000, 'the cluster to stop');
});
