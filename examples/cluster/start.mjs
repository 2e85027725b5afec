// The cluster example on this machine, without containers (`npm start -w examples/cluster`):
// nats-server with JetStream, the three nodes of node1.json..node3.json (their `cluster` block,
// NATS pointed at the local server, each WebSocket listener on a free 127.0.0.1 port), and nginx
// with this folder's nginx.conf in front (its `server nodeN:8080` lines pointed at those ports,
// listening on 127.0.0.1:NGINX_PORT, default 8080). Then three WAMP sessions through nginx, one on
// each node: an event and a call cross nodes. It serves until Ctrl-C (or SIGTERM), then stops
// everything and removes its temporary files. docker-compose.yml runs the same in containers.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@switchboard/client';
import { Router, createLogger, loadConfig } from '@switchboard/router';
import { writeMainConfig } from '../support/nginx.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const find = (names) => names.find((p) => p !== undefined && p !== '' && existsSync(p));
const NATS_SERVER = find([process.env.NATS_SERVER, '/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server']);
const NGINX = find([process.env.NGINX, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/bin/nginx']);
if (NATS_SERVER === undefined || NGINX === undefined) {
  console.error(
    `${NATS_SERVER === undefined ? 'nats-server is not installed: apt-get install nats-server (or NATS_SERVER=/path)' : ''}${NATS_SERVER === undefined && NGINX === undefined ? '\n' : ''}${NGINX === undefined ? 'nginx is not installed: apt-get install nginx (or NGINX=/path)' : ''}`,
  );
  process.exit(1);
}
const NODES = ['node1', 'node2', 'node3'];
const nginxPort = Number(process.env.NGINX_PORT || 8080);

const dir = mkdtempSync(join(tmpdir(), 'switchboard-cluster-'));
chmodSync(dir, 0o755); // nginx's workers (when started as root) run as another user and must reach it
const children = [];
const routers = [];
const sessions = [];
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const connection of sessions) connection.close();
  for (const router of routers) await router.stop();
  for (const { child, exited } of children.reverse()) {
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void stopAll(0));

async function fail(message) {
  console.error(message);
  await stopAll(1);
}

/** A process in a group of its own (Ctrl-C reaches it once, from stopAll), output kept for errors. */
function run(name, file, args) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  exited.then((code) => {
    if (!stopping) void fail(`${name} exited (${code}):\n${output}`);
  });
  children.push({ child, exited });
  return { output: () => output };
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function accepting(port, what, output) {
  for (let deadline = Date.now() + 10_000; ; ) {
    const ok = await new Promise((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) await fail(`${what} does not accept connections on port ${port}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// 1. NATS with JetStream, its store in the temporary directory.
const natsPort = await freePort();
const nats = run('nats-server', NATS_SERVER, ['-js', '-sd', join(dir, 'jetstream'), '-a', '127.0.0.1', '-p', String(natsPort)]);
await accepting(natsPort, 'nats-server', nats.output);

// 2. The three nodes, in this process: each its own Router with its own config's cluster block.
for (const name of NODES) {
  const file = loadConfig(here(`${name}.json`)).file;
  const listeners = (file.listeners ?? []).map((l) => ({ ...l, host: '127.0.0.1', port: 0 }));
  const cluster = { ...file.cluster, nats: { ...file.cluster?.nats, servers: [`nats://127.0.0.1:${natsPort}`] } };
  const router = new Router({
    config: { ...file, listeners, cluster, shutdownTimeoutMs: 1000 },
    logger: createLogger({ level: process.env.LOG_LEVEL || 'error', pretty: false }),
  });
  await router.start();
  routers.push(router);
}
const nodePorts = routers.map((r) => r.addresses[0].port);
console.log(`nats-server -js and ${NODES.join(', ')} are running`);

// 3. nginx with the example's nginx.conf, pointed at the local nodes.
const site = readFileSync(here('nginx.conf'), 'utf8')
  .replace(/^(\s*server )node(\d):8080\b/gm, (_, head, n) => `${head}127.0.0.1:${nodePorts[Number(n) - 1]}`)
  .replace(/^(\s*listen) 8080;/gm, `$1 127.0.0.1:${nginxPort};`);
writeFileSync(join(dir, 'cluster.conf'), site);
// Its main config (what a distribution ships as /etc/nginx/nginx.conf) with every path in `dir`.
const nginx = run('nginx', NGINX, [...writeMainConfig(dir, 'cluster.conf'), '-g', 'daemon off;']);
await accepting(nginxPort, 'nginx', () => `${nginx.output()}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`);
const url = `ws://localhost:${nginxPort}/ws`;
console.log(`nginx on ${url}, least_conn over the three nodes`);

// 4. Three sessions through nginx: least_conn gives each node one. Which node has which session,
// the nodes themselves say (their realm's local sessions).
const nodeOf = (session) => NODES[routers.findIndex((r) => r.realm('realm1')?.sessions.has(session.id))] ?? 'no node';
for (let i = 0; i < 3; i++) {
  const connection = new Connection({ url: url.replace('localhost', '127.0.0.1'), realm: 'realm1', reconnect: false });
  sessions.push(connection);
}
const [a, b, c] = await Promise.all(sessions.map((s) => s.open()));
console.log(`3 sessions through nginx, on ${[a, b, c].map(nodeOf).sort().join(', ')}`);

const received = new Promise((resolve) => a.subscribe('com.example.cluster.tick', ([text]) => resolve(text)));
await b.register('com.example.cluster.add', ([x, y]) => x + y);
// Subscriptions and registrations reach the other nodes over NATS a moment later: publish until one arrives.
const ticker = setInterval(() => void c.publish('com.example.cluster.tick', ['hello'], {}, { acknowledge: true }).catch(() => {}), 100);
const text = await received;
clearInterval(ticker);
console.log(`event from ${nodeOf(c)} to ${nodeOf(a)}: ${text}`);
let sum;
for (let deadline = Date.now() + 10_000; sum === undefined; ) {
  sum = await c.call('com.example.cluster.add', [2, 3]).catch((err) => {
    if (Date.now() > deadline) return fail(`the call across nodes failed: ${err.message}`);
    return new Promise((resolve) => setTimeout(resolve, 100));
  });
}
console.log(`call from ${nodeOf(c)} to ${nodeOf(b)}: 2 + 3 = ${sum}`);
console.log(`the cluster serves ${url} (realm1); Ctrl-C stops`);
