/**
 * What a cluster costs, per unit (issue #19's capacity model, docs/capacity.md): one nats-server
 * (JetStream, monitoring on), three router processes as cluster nodes a, b, c and one plain router
 * s, each a child process of this script; this process is the load generator (raw WebSocket, JSON)
 * and reads the nodes' CPU and memory over IPC (process.cpuUsage, process.memoryUsage after a full
 * GC) and nats-server's counters over its monitoring port (/connz per node connection, /jsz per
 * stream, /subsz).
 *
 *   1. heartbeats: an idle cluster for `--idle` ms, NATS messages and bytes per node per second.
 *   2. pub/sub: router CPU (µs, all nodes of the case summed) per EVENT delivered, publisher on a and
 *      subscribers on b (cluster) against the same on s (one node): 1 subscriber; 100 on one topic;
 *      100 on 100 topics; 1 on b and 1 on c (two receiving nodes); at 32 B and 4 KiB. NATS messages
 *      and bytes per publication into the server from a, out of it to b (and c), heartbeats
 *      subtracted.
 *   3. rpc: router CPU per call, caller on b, callee on a, against both on s; NATS messages and bytes
 *      per call in each direction.
 *   4. KV operations per join, subscribe, register, unregister, unsubscribe, leave on node a (the
 *      cluster otherwise idle): stream writes (/jsz last_seq per KV stream), JetStream API requests,
 *      NATS messages from a and to each node, heartbeats subtracted.
 *   5. memory per remote subscription, registration and session: heap (after GC) and RSS of node b
 *      while node a holds 10 000 subscriptions on 10 000 topics, 10 000 registrations, N sessions;
 *      the NATS subscriptions (subject interest) each node holds on nats-server (/connz?subs=1).
 *   6. KV write rate: joins/s on a at growing concurrency (WELCOME p50/p99, and how long until every
 *      join is in the `sessions` bucket), REGISTERs/s (the REGISTERED waits for the compare-and-set
 *      in the `registrations` bucket) with their p50/p99.
 *   7. failover: a callee on c with a call from a pending; c stopped cleanly (SIGTERM), then started
 *      again and killed (SIGKILL): how long until the pending call fails and until another session
 *      can register the (`single`) procedure on a.
 *
 * Default heartbeatMs 1000, nodeTimeoutMs 3000 (the router's defaults). Build first (`npx tsc -b`):
 *
 *   node scripts/bench-cluster.mjs [--runs 3] [--json results.json]
 *   node scripts/bench-cluster.mjs --phases kv,rate          # some of traffic, kv, memory, rate, failover
 *   node scripts/bench-cluster.mjs --report results.json      # the table again, from saved runs
 *
 * Each figure is the median of `--runs` runs (a fresh nats-server and fresh nodes per run). Sizes:
 * `--idle` ms of heartbeats (5000), `--events` publications per 1-subscriber case (20 000; 1/50 of
 * it with 100 subscribers on one topic, half of each at 4 KiB), `--calls` (10 000), `--kv-ops`
 * operations of each kind (200), `--routes` subscriptions and registrations for memory (10 000),
 * `--sessions` for memory (2000), `--joins` per concurrency step (400), `--registers` per step (800).
 * Results: docs/capacity.md.
 */
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';

const SELF = fileURLToPath(import.meta.url);

// ---- helpers ------------------------------------------------------------------------------

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const percentile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `check()` holds, polled every `everyMs` (bounded). */
async function until(check, what, ms = 60_000, everyMs = 5) {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** CPU seconds of a process from /proc (utime + stime, USER_HZ assumed 100). */
function procCpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

// ---- nats-server ----------------------------------------------------------------------------

async function startNats() {
  const storeDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-cluster-'));
  const port = await freePort();
  const monitorPort = await freePort();
  const child = spawn('nats-server', ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  child.stderr.on('data', (chunk) => {
    text = (text + chunk).slice(-8192);
  });
  const monitor = `http://127.0.0.1:${monitorPort}`;
  const get = async (path) => (await fetch(`${monitor}${path}`)).json();
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited:\n${text}`);
      try {
        return (await fetch(`${monitor}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    'nats-server',
    10_000,
    100,
  );
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    /** Per node connection (`switchboard-<node>`): messages and bytes in (from the node) and out (to it), and its NATS subscriptions. */
    async connz() {
      const body = await get('/connz?limit=1024&subs=1');
      const out = {};
      for (const c of body.connections ?? []) {
        if (!c.name?.startsWith('switchboard-')) continue;
        out[c.name.slice('switchboard-'.length)] = {
          inMsgs: c.in_msgs,
          outMsgs: c.out_msgs,
          inBytes: c.in_bytes,
          outBytes: c.out_bytes,
          subs: c.subscriptions_list?.length ?? c.subscriptions ?? 0,
        };
      }
      return out;
    },
    /** Last sequence of every stream (a KV bucket is stream KV_<bucket>), and JetStream API requests so far. */
    async jsz() {
      const body = await get('/jsz?accounts=true&streams=true');
      const streams = {};
      for (const a of body.account_details ?? []) for (const s of a.stream_detail ?? []) streams[s.name] = s.state.last_seq;
      return { api: body.api?.total ?? 0, streams };
    },
    async subsz() {
      return (await get('/subsz')).num_subscriptions;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

// ---- router nodes ---------------------------------------------------------------------------

const REALM = 'realm1';
const HEARTBEAT_MS = 1000;
const NODE_TIMEOUT_MS = 3000;

async function startNode(name, natsUrl) {
  const config = {
    listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, path: '/ws', maxSocketsPerIp: 100_000 }],
    realms: [{ name: REALM }],
    shutdownTimeoutMs: 1000,
    ...(natsUrl !== undefined && { cluster: { node: name, nats: { servers: [natsUrl] }, heartbeatMs: HEARTBEAT_MS, nodeTimeoutMs: NODE_TIMEOUT_MS } }),
  };
  const child = fork(SELF, ['--node', JSON.stringify(config)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 0;
  const waiting = new Map();
  const url = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`node ${name} exited (${code}) before it was ready`)));
    child.on('message', (m) => {
      if (m.kind === 'ready') resolve(m.url);
      else waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    });
  });
  const ask = (kind) =>
    new Promise((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      child.send({ kind, id });
    });
  return {
    name,
    url,
    pid: child.pid,
    child,
    async cpuUs() {
      const { cpu } = await ask('cpu');
      return cpu.user + cpu.system;
    },
    mem: () => ask('mem'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ kind: 'stop' });
      await exited;
    },
    async kill() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---- raw WAMP sessions (JSON) ---------------------------------------------------------------

const HELLO = 1;
const WELCOME = 2;
const ABORT = 3;
const GOODBYE = 6;
const ERROR = 8;
const PUBLISH = 16;
const SUBSCRIBE = 32;
const SUBSCRIBED = 33;
const UNSUBSCRIBE = 34;
const CALL = 48;
const RESULT = 50;
const REGISTER = 64;
const REGISTERED = 65;
const UNREGISTER = 66;
const INVOCATION = 68;
const YIELD = 70;
const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

/**
 * One session. Answers to requests resolve `request(msg)` by request ID; EVENTs are only counted
 * (`counter.n`, no parse); an INVOCATION is answered by `onInvocation` when set.
 */
async function session(url, counter) {
  const ws = new WebSocket(url, ['wamp.2.json'], { perMessageDeflate: false });
  const pending = new Map();
  let onWelcome;
  const s = {
    id: 0,
    req: 0,
    ws,
    onInvocation: undefined,
    send: (msg) => ws.send(JSON.stringify(msg)),
    request(msg) {
      return new Promise((resolve) => {
        pending.set(msg[1], resolve);
        ws.send(JSON.stringify(msg));
      });
    },
    async close() {
      if (ws.readyState !== WebSocket.OPEN) return;
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.send(JSON.stringify([GOODBYE, {}, 'wamp.close.close_realm']));
      await closed;
    },
  };
  ws.on('message', (data) => {
    // EVENT: [36, … — counted without parsing.
    if (data[1] === 0x33 && data[2] === 0x36 && counter !== undefined) {
      counter.n++;
      if (counter.n >= counter.target) counter.wake?.();
      return;
    }
    const msg = JSON.parse(data.toString('utf8'));
    if (msg[0] === WELCOME || msg[0] === ABORT) return onWelcome?.(msg);
    if (msg[0] === GOODBYE) return ws.close();
    if (msg[0] === INVOCATION) return s.onInvocation?.(msg);
    const id = msg[0] === ERROR ? msg[2] : msg[1];
    const resolve = pending.get(id);
    if (resolve !== undefined) {
      pending.delete(id);
      resolve(msg);
    }
  });
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const welcome = await new Promise((resolve) => {
    onWelcome = resolve;
    ws.send(JSON.stringify([HELLO, REALM, { roles: ROLES }]));
  });
  if (welcome[0] !== WELCOME) throw new Error(`no WELCOME: ${JSON.stringify(welcome)}`);
  s.id = welcome[1];
  return s;
}

async function expect(promise, code, what) {
  const msg = await promise;
  if (msg[0] !== code) throw new Error(`${what}: ${JSON.stringify(msg).slice(0, 300)}`);
  return msg;
}

/** Many sessions, `concurrency` at a time. */
async function sessions(url, n, concurrency = 20, counter = undefined) {
  const out = [];
  for (let i = 0; i < n; i += concurrency) out.push(...(await Promise.all(Array.from({ length: Math.min(concurrency, n - i) }, () => session(url, counter)))));
  return out;
}

const subscribe = async (s, topic) => (await expect(s.request([SUBSCRIBE, ++s.req, {}, topic]), SUBSCRIBED, `SUBSCRIBE ${topic}`))[2];
const register = async (s, procedure, options = {}) =>
  (await expect(s.request([REGISTER, ++s.req, options, procedure]), REGISTERED, `REGISTER ${procedure}`))[2];

// ---- measuring ------------------------------------------------------------------------------

/** Everything a case reads before and after: node CPU, nats-server CPU, /connz, /jsz. */
async function snapshot(ctx, nodes) {
  const [cpu, connz, jsz] = await Promise.all([Promise.all(nodes.map((n) => n.cpuUs())), ctx.nats.connz(), ctx.nats.jsz()]);
  return { t: performance.now(), cpu, natsCpu: procCpuUs(ctx.nats.pid), connz, jsz };
}

/** Deltas between two snapshots; NATS counts per node with the heartbeat rate taken out. */
function delta(ctx, before, after) {
  const seconds = (after.t - before.t) / 1000;
  const nats = {};
  for (const [node, x] of Object.entries(after.connz)) {
    const y = before.connz[node];
    if (y === undefined) continue;
    const hb = ctx.heartbeat?.[node] ?? { inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 };
    nats[node] = {
      inMsgs: x.inMsgs - y.inMsgs - hb.inMsgs * seconds,
      outMsgs: x.outMsgs - y.outMsgs - hb.outMsgs * seconds,
      inBytes: x.inBytes - y.inBytes - hb.inBytes * seconds,
      outBytes: x.outBytes - y.outBytes - hb.outBytes * seconds,
    };
  }
  const kv = {};
  let kvWrites = 0;
  for (const [stream, seq] of Object.entries(after.jsz.streams)) {
    const d = seq - (before.jsz.streams[stream] ?? 0);
    if (d !== 0) kv[stream] = d;
    if (stream.startsWith('KV_')) kvWrites += d;
  }
  return {
    seconds,
    routerCpuUs: after.cpu.reduce((sum, c, i) => sum + c - before.cpu[i], 0),
    /** Per node of the case, in the order given (a, b, c in the cluster). */
    cpuByNode: after.cpu.map((c, i) => c - before.cpu[i]),
    natsCpuUs: after.natsCpu - before.natsCpu,
    nats,
    kv,
    kvWrites,
    api: after.jsz.api - before.jsz.api,
  };
}

/** Waits until the KV streams and nats-server's counters stop moving (an op's writes have landed). */
async function settle(ctx) {
  let last = '';
  let same = 0;
  await until(
    async () => {
      const j = await ctx.nats.jsz();
      // nats-server lists streams in no fixed order.
      const key = JSON.stringify(Object.entries(j.streams).sort(([x], [y]) => (x < y ? -1 : 1)));
      same = key === last ? same + 1 : 0;
      last = key;
      return same >= 3;
    },
    'KV writes to settle',
    60_000,
    100,
  );
}

// ---- the cases ------------------------------------------------------------------------------

/**
 * Publisher on `from`, subscriber sessions on `to` (a list of [url, count, topics]); a closed loop
 * of `count` publications with at most `window` not yet fully delivered. Router CPU over `nodes`.
 */
async function pubsubCase(ctx, { from, to, topics, count, payloadBytes, nodes }) {
  const counter = { n: 0, target: Number.POSITIVE_INFINITY, wake: undefined };
  const subs = [];
  let perPub = 0;
  for (const [url, n] of to) {
    const made = await sessions(url, n, 20, counter);
    for (let i = 0; i < made.length; i++) await subscribe(made[i], topics[i % topics.length]);
    subs.push(...made);
    perPub += topics.length === 1 ? n : n / topics.length;
  }
  const pub = await session(from);
  // The subscriptions' NATS interest reaches nats-server before the first publication.
  await sleep(300);
  const args = ['x'.repeat(payloadBytes)];
  const run = async (n) => {
    const base = counter.n;
    // In flight: at most 2000 EVENTs, and at most 512 KiB per subscriber (past the outbound soft
    // limit, 4 MiB, a router drops events for a slow subscriber: the load generator is one).
    const window = Math.max(10, Math.min(Math.floor(2000 / perPub), Math.floor((512 * 1024) / (payloadBytes + 64))));
    let sent = 0;
    const waitFor = (delivered) =>
      new Promise((resolve, reject) => {
        if (counter.n >= delivered) return resolve();
        counter.target = delivered;
        const timer = setTimeout(() => reject(new Error(`events lost: ${counter.n - base} of ${delivered - base} delivered`)), 60_000);
        counter.wake = () => {
          clearTimeout(timer);
          counter.target = Number.POSITIVE_INFINITY;
          resolve();
        };
      });
    while (sent < n) {
      const upTo = Math.min(n, sent + window);
      for (; sent < upTo; sent++) pub.send([PUBLISH, ++pub.req, {}, topics[sent % topics.length], args]);
      await waitFor(base + Math.round((sent - window / 2) * perPub));
    }
    await waitFor(base + Math.round(n * perPub));
  };
  await run(Math.ceil(count / 5)); // warm-up
  const before = await snapshot(ctx, nodes);
  await run(count);
  const after = await snapshot(ctx, nodes);
  await Promise.all([pub, ...subs].map((s) => s.close()));
  const d = delta(ctx, before, after);
  return { ...d, ops: count, delivered: count * perPub };
}

/** Callee on `calleeUrl`, `callers` caller sessions on `callerUrl` with `window` calls each in flight. */
async function rpcCase(ctx, { calleeUrl, callerUrl, count, payloadBytes, nodes, procedure }) {
  const callee = await session(calleeUrl);
  callee.onInvocation = (msg) => callee.send([YIELD, msg[1], {}, msg[4] ?? []]);
  await register(callee, procedure);
  const callers = await sessions(callerUrl, 4);
  await sleep(300);
  const args = ['x'.repeat(payloadBytes)];
  const window = 25;
  const run = async (n) => {
    let started = 0;
    const one = async (c) => {
      while (started < n) {
        started++;
        await expect(c.request([CALL, ++c.req, {}, procedure, args]), RESULT, 'CALL');
      }
    };
    await Promise.all(callers.flatMap((c) => Array.from({ length: window }, () => one(c))));
  };
  await run(Math.ceil(count / 5));
  const before = await snapshot(ctx, nodes);
  await run(count);
  const after = await snapshot(ctx, nodes);
  await Promise.all([callee, ...callers].map((s) => s.close()));
  return { ...delta(ctx, before, after), ops: count, delivered: count };
}

/** KV and NATS traffic of `n` operations on node a, the cluster otherwise idle. */
async function kvOps(ctx, n, log = () => {}) {
  const { a, b, c } = ctx.nodes;
  const cluster = [a, b, c];
  const out = {};
  const measure = async (name, op) => {
    log(`  ${name}`);
    await settle(ctx);
    const before = await snapshot(ctx, cluster);
    await op();
    await settle(ctx);
    const after = await snapshot(ctx, cluster);
    out[name] = delta(ctx, before, after);
  };
  let ss;
  const subs = [];
  const regs = [];
  await measure('join', async () => {
    ss = await sessions(a.url, n, 10);
  });
  await measure('subscribe', async () => {
    for (let i = 0; i < n; i++) subs.push(await subscribe(ss[i], `bench.kv.topic.${i}`));
  });
  await measure('register', async () => {
    for (let i = 0; i < n; i++) regs.push(await register(ss[i], `bench.kv.proc.${i}`));
  });
  await measure('unregister', async () => {
    for (let i = 0; i < n; i++) await ss[i].request([UNREGISTER, ++ss[i].req, regs[i]]);
  });
  await measure('unsubscribe', async () => {
    for (let i = 0; i < n; i++) await ss[i].request([UNSUBSCRIBE, ++ss[i].req, subs[i]]);
  });
  await measure('leave', async () => {
    for (let i = 0; i < n; i += 10) await Promise.all(ss.slice(i, i + 10).map((s) => s.close()));
  });
  return out;
}

/** Memory of node b (and a) per remote subscription, registration and session; NATS subject interest. */
async function memory(ctx, { subscriptions, registrations, sessionCount }) {
  const { a, b } = ctx.nodes;
  const out = {};
  const mem = async () => {
    await settle(ctx);
    // The buckets have settled on nats-server; give the nodes time to apply the last entries
    // (10 000 deletes take b a while), so that one measure's leftovers are not freed in the next.
    await sleep(3000);
    const [ma, mb] = await Promise.all([a.mem(), b.mem()]);
    return { a: ma, b: mb, connz: await ctx.nats.connz(), subsz: await ctx.nats.subsz() };
  };
  const per = (x, y, n) => ({
    bHeap: (y.b.heapUsed - x.b.heapUsed) / n,
    bRss: (y.b.rss - x.b.rss) / n,
    aHeap: (y.a.heapUsed - x.a.heapUsed) / n,
    aRss: (y.a.rss - x.a.rss) / n,
    aNatsSubs: y.connz.a.subs - x.connz.a.subs,
    bNatsSubs: y.connz.b.subs - x.connz.b.subs,
    serverSubs: y.subsz - x.subsz,
  });
  const perSession = 1000;
  let m0 = await mem();
  out.idleSubs = { a: m0.connz.a.subs, b: m0.connz.b.subs, c: m0.connz.c.subs, server: m0.subsz };
  // Sessions first, on nodes that have nothing else to free meanwhile.
  let holders = await sessions(a.url, sessionCount, 50);
  out.session = per(m0, await mem(), sessionCount);
  for (let i = 0; i < holders.length; i += 50) await Promise.all(holders.slice(i, i + 50).map((s) => s.close()));
  // Subscriptions on distinct topics (one NATS subscription each on a), then on shared topics.
  m0 = await mem();
  holders = await sessions(a.url, subscriptions / perSession);
  for (const [k, s] of holders.entries())
    for (let i = 0; i < perSession; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => subscribe(s, `bench.mem.t${k}.${i + j}`)));
  out.subscription = per(m0, await mem(), subscriptions);
  await Promise.all(holders.map((s) => s.close()));
  m0 = await mem();
  holders = await sessions(a.url, subscriptions / perSession);
  for (const s of holders)
    for (let i = 0; i < perSession; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => subscribe(s, `bench.mem.same.${i + j}`)));
  const shared = await mem();
  out.sharedTopicSubscription = { aNatsSubs: shared.connz.a.subs - m0.connz.a.subs, subscriptions, topics: perSession };
  await Promise.all(holders.map((s) => s.close()));
  // Registrations (1000 per session, the default limit).
  m0 = await mem();
  holders = await sessions(a.url, registrations / 1000);
  for (const [k, s] of holders.entries())
    for (let i = 0; i < 1000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => register(s, `bench.mem.p${k}.${i + j}`)));
  out.registration = per(m0, await mem(), registrations);
  await Promise.all(holders.map((s) => s.close()));
  return out;
}

/** Joins/s on a at growing concurrency; REGISTERs/s likewise (each waits for its KV compare-and-set). */
async function kvRate(ctx, { joins, registers }) {
  const { a } = ctx.nodes;
  const out = { joins: [], registers: [] };
  for (const concurrency of [1, 16, 64, 256]) {
    await settle(ctx);
    const before = (await ctx.nats.jsz()).streams['KV_sb-sessions'] ?? 0;
    const latencies = [];
    const opened = [];
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < joins) {
        next++;
        const t = performance.now();
        opened.push(await session(a.url));
        latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const welcomed = performance.now();
    await until(async () => ((await ctx.nats.jsz()).streams['KV_sb-sessions'] ?? 0) - before >= joins, 'the joins in the sessions bucket', 60_000, 10);
    const stored = performance.now();
    out.joins.push({
      concurrency,
      perS: joins / ((welcomed - t0) / 1000),
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      storedLagMs: stored - welcomed,
      storedPerS: joins / ((stored - t0) / 1000),
    });
    for (let i = 0; i < opened.length; i += 50) await Promise.all(opened.slice(i, i + 50).map((s) => s.close()));
  }
  // nats-server's own ceiling on this machine: KV puts from one client, no router in between.
  // The NATS packages are the router's (optional) dependencies.
  const fromRouter = createRequire(new URL('../router/package.json', import.meta.url));
  const { connect } = await import(pathToFileURL(fromRouter.resolve('@nats-io/transport-node')).href);
  const { Kvm } = await import(pathToFileURL(fromRouter.resolve('@nats-io/kv')).href);
  const nc = await connect({ servers: ctx.nats.url });
  const kv = await new Kvm(nc).create('bench-put-rate', { history: 1, storage: 'memory' });
  out.puts = [];
  for (const window of [1, 16, 256]) {
    const n = window === 1 ? 1000 : 5000;
    const value = new TextEncoder().encode('x'.repeat(200));
    let i = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (i < n) await kv.put(`k.${window}.${i++}`, value);
      }),
    );
    out.puts.push({ concurrency: window, perS: n / ((performance.now() - t0) / 1000) });
  }
  await nc.close();
  const callees = await sessions(a.url, 8);
  let round = 0;
  for (const window of [1, 4, 16, 64]) {
    round++;
    await settle(ctx);
    const latencies = [];
    const per = Math.floor(registers / callees.length);
    const t0 = performance.now();
    await Promise.all(
      callees.map(async (s, k) => {
        let i = 0;
        const worker = async () => {
          while (i < per) {
            const n = i++;
            const t = performance.now();
            await register(s, `bench.rate.r${round}.s${k}.${n}`);
            latencies.push(performance.now() - t);
          }
        };
        await Promise.all(Array.from({ length: window }, worker));
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    out.registers.push({
      concurrency: window * callees.length,
      perS: (per * callees.length) / seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
    });
    // Unregister all: close and reopen the sessions.
    await Promise.all(callees.map((s) => s.close()));
    callees.splice(0, callees.length, ...(await sessions(a.url, 8)));
  }
  await Promise.all(callees.map((s) => s.close()));
  return out;
}

/**
 * A callee of `bench.failover` on c, a caller on a with a call pending (the callee never answers);
 * `end(c)` stops or kills c: the milliseconds until the pending call fails, and until a session on
 * a can register the procedure (single, unique cluster-wide).
 */
async function failover(ctx, how) {
  const { a } = ctx.nodes;
  const c = ctx.nodes.c;
  const callee = await session(c.url);
  callee.onInvocation = () => {};
  await register(callee, 'bench.failover');
  const caller = await session(a.url);
  const taker = await session(a.url);
  // The call reaches the callee through a's stand-in for it, once a has seen the registration
  // (a NO_SUCH_PROCEDURE before that: call again, bounded).
  let answer;
  for (let attempt = 0; ; attempt++) {
    let invoked;
    const reached = new Promise((resolve) => {
      invoked = resolve;
    });
    callee.onInvocation = () => invoked('invoked');
    answer = caller.request([CALL, ++caller.req, {}, 'bench.failover', []]);
    if ((await Promise.race([reached, answer])) === 'invoked') break;
    if (attempt === 100) throw new Error('the call never reached the callee on c');
    await sleep(100);
  }
  const t0 = performance.now();
  if (how === 'kill') await c.kill();
  else await c.stop();
  let failedMs = Number.NaN;
  const failed = answer.then((msg) => {
    failedMs = performance.now() - t0;
    return msg;
  });
  let registeredMs = Number.NaN;
  for (;;) {
    const msg = await taker.request([REGISTER, ++taker.req, {}, 'bench.failover']);
    if (msg[0] === REGISTERED) {
      registeredMs = performance.now() - t0;
      break;
    }
    if (performance.now() - t0 > 30_000) break;
    await sleep(20);
  }
  const error = await Promise.race([failed, sleep(30_000).then(() => undefined)]);
  await Promise.all([caller.close(), taker.close()]);
  return { failedMs, registeredMs, error: error === undefined ? 'none in 30 s' : (error[4] ?? error[0]) };
}

// ---- one run --------------------------------------------------------------------------------

async function oneRun(options, log) {
  const nats = await startNats();
  const single = await startNode('s');
  const cluster = [];
  for (const name of ['a', 'b', 'c']) cluster.push(await startNode(name, nats.url));
  const [a, b, c] = cluster;
  const ctx = { nats, nodes: { a, b, c, s: single } };
  const result = {};
  try {
    // The nodes hear each other before anything is measured.
    await sleep(2 * HEARTBEAT_MS);
    log('heartbeats …');
    const h0 = await snapshot(ctx, cluster);
    await sleep(options.idleMs);
    const h1 = await snapshot(ctx, cluster);
    const heartbeat = {};
    const seconds = (h1.t - h0.t) / 1000;
    for (const node of ['a', 'b', 'c'])
      heartbeat[node] = Object.fromEntries(['inMsgs', 'outMsgs', 'inBytes', 'outBytes'].map((k) => [k, (h1.connz[node][k] - h0.connz[node][k]) / seconds]));
    result.heartbeat = { ...heartbeat, routerCpuUsPerS: h1.cpu.reduce((s, x, i) => s + x - h0.cpu[i], 0) / seconds };
    ctx.heartbeat = heartbeat;

    const cases = [];
    if (options.phases.has('traffic')) {
      for (const payloadBytes of [32, 4096]) {
        const big = payloadBytes > 1000 ? 2 : 1;
        const shapes = [
          ['1 subscriber', 1, 1, Math.round(options.events / big)],
          ['100 subscribers, 1 topic', 100, 1, Math.round(options.events / 50 / big)],
          ['100 subscribers, 100 topics', 100, 100, Math.round(options.events / big)],
        ];
        for (const [shape, subscribers, topicCount, count] of shapes) {
          const topics = Array.from({ length: topicCount }, (_, i) => `bench.ps.${payloadBytes}.${subscribers}.${topicCount}.${i}`);
          log(`pub/sub ${shape}, ${payloadBytes} B …`);
          cases.push({
            name: `event, ${shape}, ${payloadBytes} B`,
            layout: 'one node',
            ...(await pubsubCase(ctx, {
              from: single.url,
              to: [[single.url, subscribers]],
              topics: topics.map((t) => `${t}.s`),
              count,
              payloadBytes,
              nodes: [single],
            })),
          });
          cases.push({
            name: `event, ${shape}, ${payloadBytes} B`,
            layout: 'a → b',
            ...(await pubsubCase(ctx, { from: a.url, to: [[b.url, subscribers]], topics, count, payloadBytes, nodes: cluster })),
          });
        }
        log(`pub/sub two receiving nodes, ${payloadBytes} B …`);
        cases.push({
          name: `event, 1 subscriber on b + 1 on c, ${payloadBytes} B`,
          layout: 'a → b, c',
          ...(await pubsubCase(ctx, {
            from: a.url,
            to: [
              [b.url, 1],
              [c.url, 1],
            ],
            topics: [`bench.ps.${payloadBytes}.bc`],
            count: Math.round(options.events / big),
            payloadBytes,
            nodes: cluster,
          })),
        });
        log(`rpc ${payloadBytes} B …`);
        cases.push({
          name: `call, ${payloadBytes} B`,
          layout: 'one node',
          ...(await rpcCase(ctx, {
            calleeUrl: single.url,
            callerUrl: single.url,
            count: Math.round(options.calls / big),
            payloadBytes,
            nodes: [single],
            procedure: `bench.rpc.${payloadBytes}.s`,
          })),
        });
        cases.push({
          name: `call, ${payloadBytes} B`,
          layout: 'b → a',
          ...(await rpcCase(ctx, {
            calleeUrl: a.url,
            callerUrl: b.url,
            count: Math.round(options.calls / big),
            payloadBytes,
            nodes: cluster,
            procedure: `bench.rpc.${payloadBytes}.x`,
          })),
        });
      }
    }
    result.cases = cases;
    if (options.phases.has('kv')) {
      log('KV operations …');
      result.kv = await kvOps(ctx, options.kvOps, log);
    }
    if (options.phases.has('memory')) {
      log('memory …');
      result.memory = await memory(ctx, { subscriptions: options.memRoutes, registrations: options.memRoutes, sessionCount: options.memSessions });
    }
    if (options.phases.has('rate')) {
      log('KV write rate …');
      result.rate = await kvRate(ctx, { joins: options.joins, registers: options.registers });
    }
    if (options.phases.has('failover')) {
      log('failover: clean stop …');
      result.stop = await failover(ctx, 'stop');
      ctx.nodes.c = await startNode('c', nats.url);
      cluster[2] = ctx.nodes.c;
      await sleep(2 * HEARTBEAT_MS);
      log('failover: kill -9 …');
      result.kill = await failover(ctx, 'kill');
    }
  } finally {
    await Promise.all([single, ...cluster].map((n) => n.stop().catch(() => undefined)));
    await nats.stop();
  }
  return result;
}

// ---- report ---------------------------------------------------------------------------------

function fmt(x, digits = 1) {
  if (!Number.isFinite(x)) return '–';
  return Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(digits);
}

function report(runs) {
  const lines = [];
  const at = (path) => median(runs.map((r) => path(r)));
  const say = (s = '') => lines.push(s);
  say(`Medians of ${runs.length} runs. Router CPU is summed over the case's nodes (a, b, c in the cluster; c idle unless named).`);
  say('NATS counts are per publication / call, heartbeats subtracted; "in" = node → nats-server, "out" = nats-server → node.');
  say();
  const hb = (k, f) => at((r) => r.heartbeat[k][f]);
  say(
    `Heartbeats (idle cluster of 3, heartbeatMs ${HEARTBEAT_MS}): per node ${fmt(hb('a', 'inMsgs'), 2)} msg/s in (${fmt(hb('a', 'inBytes'))} B/s), ${fmt(hb('a', 'outMsgs'), 2)} msg/s out (${fmt(hb('a', 'outBytes'))} B/s); router CPU, 3 idle nodes: ${fmt(at((r) => r.heartbeat.routerCpuUsPerS))} µs/s`,
  );
  say();
  if (runs[0].cases?.length) {
    say(
      '| case | layout | router µs / delivered | nats-server µs / delivered | ratio to one node | NATS in from a (msgs, B) | NATS out to b (msgs, B) | NATS out to c (msgs) |',
    );
    say('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    const names = runs[0].cases.map((c) => `${c.name}|${c.layout}`);
    for (const key of names) {
      const pick = (f) => at((r) => f(r.cases.find((c) => `${c.name}|${c.layout}` === key)));
      const [name, layout] = key.split('|');
      const cpu = pick((c) => c.routerCpuUs / c.delivered);
      // Two receiving nodes: against one subscriber on one node.
      const alone = name.replace('1 subscriber on b + 1 on c', '1 subscriber');
      const single = median(runs.map((r) => r.cases.find((c) => c.name === alone && c.layout === 'one node')).map((c) => c.routerCpuUs / c.delivered));
      const natsCpu = pick((c) => c.natsCpuUs / c.delivered);
      const isCall = name.startsWith('call');
      const from = isCall ? 'b' : 'a';
      const to = isCall ? 'a' : 'b';
      const n = (node, f) => pick((c) => (c.nats[node] ? c.nats[node][f] / c.ops : Number.NaN));
      const cross = layout !== 'one node';
      say(
        `| ${name} | ${layout} | ${fmt(cpu)} | ${cross ? fmt(natsCpu) : '–'} | ${cross ? `${fmt(cpu / single, 2)}×` : '1×'} | ${cross ? `${fmt(n(from, 'inMsgs'), 2)}, ${fmt(n(from, 'inBytes'))}` : '–'} | ${cross ? `${fmt(n(to, 'outMsgs'), 2)}, ${fmt(n(to, 'outBytes'))}` : '–'} | ${cross ? fmt(n('c', 'outMsgs'), 2) : '–'} |`,
      );
      if (cross) {
        const byNode = ['a', 'b', 'c'].map((node, i) => `${node} ${fmt(pick((c) => c.cpuByNode[i] / c.delivered))}`).join(', ');
        say(`|  | by node: ${byNode} | | | | | | |`);
      }
      if (isCall && cross)
        say(
          `|  | reply: | | | | in from a ${fmt(n('a', 'inMsgs'), 2)}, ${fmt(n('a', 'inBytes'))} | out to b ${fmt(n('b', 'outMsgs'), 2)}, ${fmt(n('b', 'outBytes'))} | |`,
        );
    }
  }
  say();
  if (runs[0].kv) {
    say('KV and NATS per operation on node a (cluster of 3 otherwise idle):');
    say('| operation | KV writes | buckets written | NATS msgs in from a | out to a | out to b | out to c |');
    say('| --- | ---: | --- | ---: | ---: | ---: | ---: |');
    const ops = Object.keys(runs[0].kv);
    const n = (r) => r.kvN;
    for (const op of ops) {
      const k = (f) => at((r) => f(r.kv[op]) / n(r));
      const buckets = Object.entries(runs[0].kv[op].kv)
        .map(([s, d]) => `${s.replace(/^KV_sb-/, '')} ${fmt(d / runs[0].kvN, 2)}`)
        .join(', ');
      say(
        `| ${op} | ${fmt(
          k((x) => x.kvWrites),
          2,
        )} | ${buckets || '–'} | ${fmt(
          k((x) => x.nats.a.inMsgs),
          2,
        )} | ${fmt(
          k((x) => x.nats.a.outMsgs),
          2,
        )} | ${fmt(
          k((x) => x.nats.b.outMsgs),
          2,
        )} | ${fmt(
          k((x) => x.nats.c.outMsgs),
          2,
        )} |`,
      );
    }
  }
  say();
  if (runs[0].memory) {
    const m = (kind, f) => at((r) => r.memory[kind][f]);
    say(`Memory (heap after GC / RSS, bytes per unit; b holds the remote copy, a the local one):`);
    for (const kind of ['subscription', 'registration', 'session'])
      say(
        `  ${kind}: on b (remote) heap ${fmt(m(kind, 'bHeap'))} B, RSS ${fmt(m(kind, 'bRss'))} B; on a (local) heap ${fmt(m(kind, 'aHeap'))} B, RSS ${fmt(m(kind, 'aRss'))} B; NATS subscriptions a ${fmt(m(kind, 'aNatsSubs'), 0)}, b ${fmt(m(kind, 'bNatsSubs'), 0)}`,
      );
    say(
      `  NATS subject interest: an idle node holds ${fmt(
        at((r) => r.memory.idleSubs.a),
        0,
      )} subscriptions on nats-server; ${runs[0].memory.sharedTopicSubscription.subscriptions} subscriptions on as many topics made on a → +${fmt(m('subscription', 'aNatsSubs'), 0)} on a, +${fmt(m('subscription', 'bNatsSubs'), 0)} on b; ${runs[0].memory.sharedTopicSubscription.subscriptions} subscriptions on ${runs[0].memory.sharedTopicSubscription.topics} topics → +${fmt(
        at((r) => r.memory.sharedTopicSubscription.aNatsSubs),
        0,
      )} on a`,
    );
  }
  say();
  if (runs[0].rate) {
    say('KV write rate on node a: joins (WELCOME does not wait for the KV put) and REGISTERs (REGISTERED waits for the compare-and-set):');
    say('| concurrency | joins/s | WELCOME p50 / p99 ms | all in the bucket after (ms) | joins stored/s |');
    say('| ---: | ---: | ---: | ---: | ---: |');
    for (let i = 0; i < runs[0].rate.joins.length; i++) {
      const j = (f) => at((r) => r.rate.joins[i][f]);
      say(
        `| ${runs[0].rate.joins[i].concurrency} | ${fmt(j('perS'))} | ${fmt(j('p50'))} / ${fmt(j('p99'))} | ${fmt(j('storedLagMs'))} | ${fmt(j('storedPerS'))} |`,
      );
    }
    say('| concurrency | REGISTERs/s | REGISTERED p50 / p99 ms |');
    say('| ---: | ---: | ---: |');
    for (let i = 0; i < runs[0].rate.registers.length; i++) {
      const j = (f) => at((r) => r.rate.registers[i][f]);
      say(`| ${runs[0].rate.registers[i].concurrency} | ${fmt(j('perS'))} | ${fmt(j('p50'))} / ${fmt(j('p99'))} |`);
    }
    say(
      `KV puts straight to nats-server (one NATS client, 200 B values, memory bucket): ${runs[0].rate.puts.map((p, i) => `${fmt(at((r) => r.rate.puts[i].perS))}/s at ${p.concurrency} in flight`).join(', ')}`,
    );
  }
  say();
  if (runs[0].kill) {
    say(`Failover (heartbeatMs ${HEARTBEAT_MS}, nodeTimeoutMs ${NODE_TIMEOUT_MS}), node c holding a callee with a call from a pending:`);
    for (const how of ['stop', 'kill'])
      say(
        `  ${how === 'stop' ? 'clean stop (SIGTERM)' : 'kill -9'}: the pending call failed after ${fmt(at((r) => r[how].failedMs))} ms (${runs.map((r) => r[how].error).join(', ')}); the procedure could be registered on a after ${fmt(at((r) => r[how].registeredMs))} ms (runs: ${runs.map((r) => fmt(r[how].registeredMs)).join(', ')} ms)`,
      );
  }
  return lines.join('\n');
}

async function main() {
  const saved = flag('report', undefined);
  if (saved !== undefined) {
    console.log(report(JSON.parse(readFileSync(saved, 'utf8'))));
    return;
  }
  const runs = Number(flag('runs', '3'));
  const options = {
    idleMs: Number(flag('idle', '5000')),
    events: Number(flag('events', '20000')),
    calls: Number(flag('calls', '10000')),
    kvOps: Number(flag('kv-ops', '200')),
    memSessions: Number(flag('sessions', '2000')),
    memRoutes: Number(flag('routes', '10000')),
    phases: new Set(flag('phases', 'traffic,kv,memory,rate,failover').split(',')),
    joins: Number(flag('joins', '400')),
    registers: Number(flag('registers', '800')),
  };
  const log = (s) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
  const results = [];
  for (let i = 0; i < runs; i++) {
    log(`run ${i + 1} of ${runs}`);
    const r = await oneRun(options, log);
    r.kvN = options.kvOps;
    results.push(r);
  }
  const json = flag('json', undefined);
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  console.log(report(results));
}

// ---- a node (child process) -----------------------------------------------------------------

if (process.argv[2] === '--node') {
  const { Router, silentLogger } = await import(new URL('../router/dist/index.js', import.meta.url).href);
  const router = new Router({ config: JSON.parse(process.argv[3]), logger: silentLogger() });
  await router.start();
  process.on('message', async (m) => {
    if (m.kind === 'cpu') process.send({ kind: 'cpu', id: m.id, cpu: process.cpuUsage() });
    else if (m.kind === 'mem') {
      for (let i = 0; i < 3; i++) globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
      globalThis.gc();
      const { heapUsed, rss } = process.memoryUsage();
      process.send({ kind: 'mem', id: m.id, heapUsed, rss });
    } else if (m.kind === 'stop') {
      await router.stop();
      process.exit(0);
    }
  });
  // The script gone (finished, interrupted): this node goes too.
  process.on('disconnect', () => process.exit(0));
  process.send({ kind: 'ready', url: router.url });
} else {
  await main();
}
