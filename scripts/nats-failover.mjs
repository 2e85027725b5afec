#!/usr/bin/env node
/**
 * What a NATS server failure costs a Switchboard cluster (issue #19, "A NATS cluster, not one
 * nats-server"): a 3-server NATS cluster (routes, JetStream), 3 router nodes (the CLI, router/dist)
 * each connected first to a different NATS server (`randomize: false`, `replicas: 3`, history of
 * the event topic in JetStream), and traffic across the nodes:
 *
 *   - a publisher on node A sends numbered events every `--interval` ms, every other one with
 *     `acknowledge: true`; subscribers on B and C check order and count;
 *   - calls B → callee on A and A → callee on B, one started every `--interval` ms each;
 *   - KV probes: every 250 ms a new session on C registers a new procedure, which A then calls
 *     (a join and a registration written to the KV buckets, read by another node).
 *
 * Each round SIGKILLs the NATS server one router node is connected to (round 1: A's, round 2:
 * B's, …), keeps the traffic going for `--after` seconds, stops it, waits for the answers, then
 * restarts the server and waits until it is back in the cluster. Per round it prints: events
 * sent / acknowledged / refused (ERROR) / acknowledged-but-lost and unacknowledged-lost (at a
 * node whose connection held) / lost at the victim's own subscriber only (while it changed server:
 * its reconnect gap, `gapMs`) / out of order, calls ok / error / timeout (the router's CALL timeout, `--call-timeout` s, answered a call
 * whose INVOCATION or YIELD was lost) / lost (no answer within 20 s), KV probes ok / failed, and recovery:
 * the time from the kill to the first operation of each flow from which on every operation of
 * that flow succeeded (events: arrived at both subscribers; calls: RESULT; probes: called).
 *
 *   npx tsc -b && node scripts/nats-failover.mjs [--rounds 2] [--after 10] [--interval 10] [--call-timeout 5] [--logs]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = flag('rounds', 2);
const AFTER_MS = flag('after', 10) * 1000;
const INTERVAL_MS = flag('interval', 10);
const ANSWER_MS = 20_000;
const CALL_TIMEOUT_MS = flag('call-timeout', 5) * 1000;

const { connect } = await import(new URL('../client/dist/node.js', import.meta.url).href);
const natsBin = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
if (natsBin === undefined) throw new Error('nats-server not found (apt-get install nats-server)');
const bin = new URL('../router/bin/switchboard.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'switchboard-failover-'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const children = new Set();

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Spawns a process; `waitFor(re)` resolves with the first match in its output. */
function start(command, args, name) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.add(child);
  let out = '';
  const waiters = new Set();
  const onData = (chunk) => {
    out += chunk;
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  exited.then(() => children.delete(child));
  const waitFor = (re, ms = 30_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no ${re} within ${ms} ms:\n${out.slice(-4000)}`)), ms);
      const check = () => {
        const m = out.match(re);
        if (m) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        }
      };
      waiters.add(check);
      check();
    });
  return { child, exited, waitFor, output: () => out };
}

// ---- the NATS cluster --------------------------------------------------------------------------

const nats = [];
for (let i = 0; i < 3; i++) nats.push({ name: `n${i + 1}`, port: await freePort(), http: await freePort(), route: await freePort(), proc: undefined });
const routes = nats.map((s) => `nats-route://127.0.0.1:${s.route}`).join(', ');
for (const s of nats) {
  s.conf = join(dir, `${s.name}.conf`);
  writeFileSync(
    s.conf,
    `server_name: ${s.name}\nlisten: 127.0.0.1:${s.port}\nhttp: 127.0.0.1:${s.http}\njetstream { store_dir: "${join(dir, s.name)}" }\ncluster { name: failover, listen: 127.0.0.1:${s.route}, routes: [${routes}] }\n`,
  );
}
const monitor = async (s, page) => (await fetch(`http://127.0.0.1:${s.http}/${page}`, { signal: AbortSignal.timeout(2000) })).json();
async function natsReady() {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const live = nats.filter((s) => s.proc?.child.exitCode === null && s.proc.child.signalCode === null);
    const ok = await Promise.all(
      live.map(async (s) => {
        try {
          const [r, j, h] = await Promise.all([monitor(s, 'routez'), monitor(s, 'jsz'), monitor(s, 'healthz')]);
          return r.num_routes >= live.length - 1 && Boolean(j.meta_cluster?.leader) && h.status === 'ok';
        } catch {
          return false;
        }
      }),
    );
    if (ok.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error('the NATS cluster did not form');
    await sleep(100);
  }
}
async function startServer(s) {
  s.proc = start(natsBin, ['-c', s.conf], `nats ${s.name}`);
  await s.proc.waitFor(/Server is ready/);
}
await Promise.all(nats.map(startServer));
await natsReady();

// ---- the router nodes --------------------------------------------------------------------------

const TOPIC = 'failover.events';
const urlsFrom = (i) => [...nats.slice(i), ...nats.slice(0, i)].map((s) => `nats://127.0.0.1:${s.port}`);
const routers = [];
for (const [i, node] of ['node-a', 'node-b', 'node-c'].entries()) {
  const config = join(dir, `${node}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, path: '/ws' }],
      realms: [{ name: 'realm1', eventHistory: [{ topic: TOPIC, limit: 1_000_000 }] }],
      store: { type: 'jetstream' },
      cluster: { node, nats: { servers: urlsFrom(i), randomize: false, replicas: 3 } },
    }),
  );
  const proc = start(process.execPath, [bin, 'start', '--config', config, '--log-level', 'info'], node);
  const [line] = await proc.waitFor(/^\{.*"msg":"listening".*\}$/m);
  await proc.waitFor(/"msg":"router started"/);
  routers.push({ node, url: JSON.parse(line).url, proc });
}
/** Index of the NATS server a router node is connected to (its connection name is switchboard-<node>). */
async function serverOf(node) {
  for (const [i, s] of nats.entries()) {
    if (s.proc.child.exitCode !== null || s.proc.child.signalCode !== null) continue;
    const connz = await monitor(s, 'connz').catch(() => ({ connections: [] }));
    if ((connz.connections ?? []).some((c) => c.name === `switchboard-${node}`)) return i;
  }
  return -1;
}

// ---- the clients -------------------------------------------------------------------------------

const open = (url) => connect({ url, realm: 'realm1', reconnect: false });
const [A, B, C] = routers;
const publisher = await open(A.url);
const subscribers = [await open(B.url), await open(C.url)];
const arrivals = subscribers.map(() => new Map());
const disorder = [0, 0];
const duplicates = [0, 0];
const last = [-1, -1];
for (const [k, s] of subscribers.entries()) {
  await s.subscribe(TOPIC, (args) => {
    const n = args[0];
    if (n <= last[k]) disorder[k]++;
    if (arrivals[k].has(n)) duplicates[k]++;
    last[k] = n;
    arrivals[k].set(n, Date.now());
  });
}
const calleeA = await open(A.url);
await calleeA.register('failover.echo.a', (args) => args[0]);
const calleeB = await open(B.url);
await calleeB.register('failover.echo.b', (args) => args[0]);
const callerB = await open(B.url);
const callerA = await open(A.url);
const probeCaller = await open(A.url);
const callUntilOk = async (session, procedure, ms) => {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await session.call(procedure, [1]);
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(50);
    }
  }
};
// Cross-node routes ready before measuring (interest and registrations travel through NATS).
await callUntilOk(callerB, 'failover.echo.a', 10_000);
await callUntilOk(callerA, 'failover.echo.b', 10_000);
for (;;) {
  const id = await publisher.publish(TOPIC, [-1], {}, { acknowledge: true });
  await sleep(100);
  if (arrivals.every((m) => m.has(-1))) break;
  if (id === undefined) throw new Error('no publication id');
}

let seq = 0;
async function round(victim) {
  const events = []; // { n, sent, acked: undefined | true | false }
  const calls = []; // { sent, done, ok }
  const probes = [];
  let running = true;
  const traffic = (async () => {
    while (running) {
      const n = seq++;
      const e = { n, sent: Date.now(), acked: undefined };
      events.push(e);
      if (n % 2 === 0)
        publisher.publish(TOPIC, [n], {}, { acknowledge: true }).then(
          () => (e.acked = true),
          () => (e.acked = false),
        );
      else publisher.publish(TOPIC, [n]).catch(() => (e.acked = false));
      for (const [session, proc] of [
        [callerB, 'failover.echo.a'],
        [callerA, 'failover.echo.b'],
      ]) {
        const c = { sent: Date.now(), done: undefined, ok: undefined };
        calls.push(c);
        let timer;
        const settle = (outcome) => {
          clearTimeout(timer);
          if (c.done !== undefined) return;
          c.done = Date.now();
          c.ok = outcome;
        };
        timer = setTimeout(() => settle('lost'), ANSWER_MS);
        // The router's timeout (CALL.Options.timeout) answers a call whose INVOCATION or YIELD was lost.
        session.call(proc, [n], {}, { timeout: CALL_TIMEOUT_MS }).then(
          () => settle('ok'),
          (err) => settle(err?.uri === 'wamp.error.canceled' || err?.uri === 'wamp.error.timeout' ? 'timeout' : 'error'),
        );
      }
      await sleep(INTERVAL_MS);
    }
  })();
  const probing = (async () => {
    let k = 0;
    while (running) {
      const p = { sent: Date.now(), done: undefined, ok: false };
      probes.push(p);
      const procedure = `failover.probe.${victim}.${k++}`;
      (async () => {
        const s = await open(C.url);
        try {
          await s.register(procedure, () => 'here');
          await callUntilOk(probeCaller, procedure, 10_000);
          p.ok = true;
        } catch {
          p.ok = false;
        } finally {
          p.done = Date.now();
          await s.leave().catch(() => undefined);
        }
      })();
      await sleep(250);
    }
  })();
  await sleep(3000);
  const target = routers[victim % routers.length];
  const index = await serverOf(target.node);
  const killedAt = Date.now();
  nats[index].proc.child.kill('SIGKILL');
  await nats[index].proc.exited;
  await sleep(AFTER_MS);
  const movedTo = await serverOf(target.node);
  // The victim's reconnect gap, from its log (same clock): its last 'lost' to the 'back' after it.
  const times = (re) => [...target.proc.output().matchAll(re)].map((m) => Number(m[1]));
  const lostAt = times(/"time":(\d+)[^\n]*"msg":"cluster: NATS connection lost/g).filter((t) => t >= killedAt - 1000);
  const backAt = times(/"time":(\d+)[^\n]*"msg":"cluster: NATS connection back/g).filter((t) => t >= killedAt - 1000);
  running = false;
  await traffic;
  await probing;
  // Answers and events in flight: until every call and probe is settled and no event is pending, at most 25 s.
  const deadline = Date.now() + 25_000;
  while (Date.now() < deadline) {
    const settled = calls.every((c) => c.done !== undefined) && probes.every((p) => p.done !== undefined);
    const delivered = events.every((e) => e.acked === false || arrivals.every((m) => m.has(e.n)));
    if (settled && delivered) break;
    await sleep(200);
  }
  // Lost at the victim's own subscriber only (its reconnect gap), or at both (the publisher's side).
  const own = victim % routers.length === 0 ? -1 : (victim % routers.length) - 1;
  const missing = (e) => arrivals.flatMap((m, k) => (m.has(e.n) ? [] : [k]));
  const lost = events.filter((e) => e.acked !== false && missing(e).length > 0);
  const atVictim = (e) => own >= 0 && missing(e).every((k) => k === own);
  const lostAcked = lost.filter((e) => e.acked === true && !atVictim(e)).length;
  const lostUnacked = lost.filter((e) => e.n % 2 === 1 && !atVictim(e)).length;
  const lostAtVictim = lost.filter(atVictim).length;
  /** From the kill to the first op started after it from which on every op succeeded. */
  const recovery = (ops, ok) => {
    const after = ops.filter((o) => o.sent >= killedAt);
    let from = after.length;
    while (from > 0 && ok(after[from - 1])) from--;
    if (from === after.length) return Number.NaN;
    return after[from].sent - killedAt;
  };
  const row = {
    killed: `${nats[index].name} (${target.node}'s)`,
    gapMs: lostAt.length > 0 && backAt.length > 0 ? backAt[0] - lostAt[0] : Number.NaN,
    movedTo: movedTo >= 0 ? nats[movedTo].name : '?',
    events: events.length,
    acked: events.filter((e) => e.acked === true).length,
    refused: events.filter((e) => e.acked === false).length,
    lostAcked,
    lostUnacked,
    lostAtVictim,
    disorder: disorder[0] + disorder[1],
    duplicates: duplicates[0] + duplicates[1],
    callsOk: calls.filter((c) => c.ok === 'ok').length,
    callsError: calls.filter((c) => c.ok === 'error').length,
    callsTimeout: calls.filter((c) => c.ok === 'timeout').length,
    callsLost: calls.filter((c) => c.ok === 'lost' || c.ok === undefined).length,
    probesOk: probes.filter((p) => p.ok).length,
    probesFailed: probes.filter((p) => !p.ok).length,
    recoveryEventsMs: recovery(events, (e) => e.acked !== false && arrivals.every((m) => m.has(e.n))),
    recoveryCallsMs: recovery(calls, (c) => c.ok === 'ok'),
    recoveryProbesMs: recovery(probes, (p) => p.ok),
  };
  disorder[0] = disorder[1] = duplicates[0] = duplicates[1] = 0;
  // Back into the cluster before the next kill.
  await startServer(nats[index]);
  await natsReady();
  return row;
}

const rows = [];
try {
  for (let r = 0; r < ROUNDS; r++) rows.push(await round(r));
  console.table(rows);
  console.log(`rounds: ${ROUNDS}, traffic ${AFTER_MS / 1000} s after each kill, one event and two calls every ${INTERVAL_MS} ms`);
  if (process.argv.includes('--logs')) {
    // What the router nodes warned about, counted by message.
    for (const r of routers) {
      const counts = new Map();
      for (const line of r.proc.output().split('\n')) {
        const m = line.match(/"level":(\d+).*"msg":"([^"]*)"/);
        if (m !== null && Number(m[1]) >= 40) counts.set(m[2], (counts.get(m[2]) ?? 0) + 1);
      }
      console.log(r.node, Object.fromEntries(counts));
    }
  }
} finally {
  for (const s of [publisher, ...subscribers, calleeA, calleeB, callerA, callerB, probeCaller]) await s.leave().catch(() => undefined);
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
