/**
 * Session resumption's figures (issue #18's closing note): how long a resume takes, and what a
 * detached session costs the router in memory.
 *
 *   1. resume time p50/p99 with a raw WebSocket client (JSON): a resumable session with one
 *      subscription and one registration; its socket is dropped (terminate: no GOODBYE, no close
 *      frame), the router detaches the session, then the clock runs from the new socket's creation
 *      to the WELCOME with `resumed: true` — the WebSocket handshake, the HELLO and the WELCOME.
 *      `--resumes` times (default 1000) in each form: opportunistic (a normal HELLO plus
 *      resume-session, resume-token and resume-answers, what @switchboard/client sends) and dedicated
 *      (HELLO with a null realm and the two keys only). Also the opportunistic form while the old
 *      socket is still attached on the router's side (the router takes the session over).
 *   2. the same through @switchboard/client: a Connection through a TCP proxy that cuts the link
 *      (both sockets destroyed), the clock from the client's `close` (lost) to its `open` with
 *      `resumed: true` (reconnect delay 0), `--resumes` times.
 *   3. memory per detached session: `--sessions` (default 10 000) resumable sessions, each with one
 *      subscription and one registration (distinct URIs), their sockets dropped; once every one is
 *      detached, heapUsed and RSS against the router alone before, after a full GC, per session.
 *
 * The router runs in this process (router/dist), realm1 with resumeWindowMs 10 minutes and room
 * for the detached sessions (also from one address: every client here is 127.0.0.1). Build first
 * (`npx tsc -b`), then:
 *
 *   node scripts/bench-resume.mjs [--resumes 1000] [--sessions 10000]
 */
import { createServer, connect as tcpConnect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RESUMES = flag('resumes', 1000);
const SESSIONS = flag('sessions', 10_000);

const { Router, silentLogger } = await import(new URL('../router/dist/index.js', import.meta.url).href);
const { Connection } = await import(new URL('../client/dist/node.js', import.meta.url).href);

const HELLO = 1;
const WELCOME = 2;
const ABORT = 3;
const SUBSCRIBE = 32;
const SUBSCRIBED = 33;
const REGISTER = 64;
const REGISTERED = 65;
const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

const router = new Router({
  config: {
    listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }],
    realms: [
      {
        name: 'realm1',
        limits: {
          resumeWindowMs: 600_000,
          maxDetachedSessions: SESSIONS + 1000,
          maxDetachedSessionsPerAddress: SESSIONS + 1000,
          maxDetachedBytes: 1024 * 1024 * 1024,
        },
      },
    ],
    shutdownTimeoutMs: 500,
  },
  logger: silentLogger(),
});
await router.start();
const url = router.url;
const realm = router.realm('realm1');

const percentile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const summary = (ms) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { n: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1), mean };
};
const fmt = (s) => `n=${s.n}  p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  max ${s.max.toFixed(2)} ms  mean ${s.mean.toFixed(2)} ms`;

/** Resolves once `check()` holds, looking after each turn of the event loop (bounded). */
async function until(check, what, ms = 10_000) {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A raw JSON WebSocket with a queue of decoded messages. */
function rawSocket() {
  const ws = new WebSocket(url, ['wamp.2.json'], { perMessageDeflate: false });
  const inbox = [];
  let wake;
  ws.on('message', (data) => {
    inbox.push(JSON.parse(data.toString('utf8')));
    wake?.();
  });
  ws.on('error', () => {});
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = async (ms = 10_000) => {
    const end = performance.now() + ms;
    while (inbox.length === 0) {
      if (performance.now() > end) throw new Error('timed out waiting for a message');
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
      wake = undefined;
    }
    return inbox.shift();
  };
  return { ws, opened, next, send: (message) => ws.send(JSON.stringify(message)) };
}

/** A new resumable session with one subscription and one registration; its socket and state. */
async function resumableSession(n) {
  const peer = rawSocket();
  await peer.opened;
  peer.send([HELLO, 'realm1', { roles: ROLES, resumable: true }]);
  const welcome = await peer.next();
  if (welcome[0] !== WELCOME || welcome[2].resumable !== true) throw new Error(`not resumable: ${JSON.stringify(welcome)}`);
  peer.send([SUBSCRIBE, 1, {}, `bench.resume.topic.${n}`]);
  peer.send([REGISTER, 2, {}, `bench.resume.proc.${n}`]);
  const answers = [await peer.next(), await peer.next()];
  if (answers[0][0] !== SUBSCRIBED || answers[1][0] !== REGISTERED) throw new Error(`unexpected ${JSON.stringify(answers)}`);
  return { peer, id: welcome[1], token: welcome[2]['resume-token'], answers: 2 };
}

const detached = (id) => realm.sessions.get(id)?.attached === false;

/** One resume of `state` in `form`; the milliseconds from the new socket to the resumed WELCOME. */
async function resumeOnce(state, form) {
  const t0 = performance.now();
  const peer = rawSocket();
  await peer.opened;
  const details = { 'resume-session': state.id, 'resume-token': state.token };
  if (form === 'dedicated') peer.send([HELLO, null, details]);
  else peer.send([HELLO, 'realm1', { roles: ROLES, resumable: true, ...details, 'resume-answers': state.answers }]);
  const welcome = await peer.next();
  const ms = performance.now() - t0;
  if (welcome[0] === ABORT || welcome[2]?.resumed !== true || welcome[1] !== state.id) throw new Error(`not resumed: ${JSON.stringify(welcome)}`);
  state.peer = peer;
  state.token = welcome[2]['resume-token'];
  return ms;
}

async function rawResumes(form, waitDetached, count = RESUMES) {
  const state = await resumableSession(`${form}.${waitDetached}.${count}`);
  const times = [];
  for (let i = 0; i < count; i++) {
    state.peer.ws.terminate();
    if (waitDetached) await until(() => detached(state.id), 'the detach');
    times.push(await resumeOnce(state, form));
  }
  state.peer.ws.close();
  return summary(times);
}

/** A TCP proxy in front of the router that can cut its links (both sockets destroyed). */
async function cuttingProxy(port) {
  const links = new Set();
  const server = createServer({ noDelay: true }, (client) => {
    const upstream = tcpConnect({ host: '127.0.0.1', port, noDelay: true });
    const link = [client, upstream];
    links.add(link);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of link) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${server.address().port}/ws`,
    cut: () => {
      for (const [client, upstream] of links) {
        client.destroy();
        upstream.destroy();
      }
      links.clear();
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function clientResumes() {
  const proxy = await cuttingProxy(router.addresses[0].port);
  const connection = new Connection({
    url: proxy.url,
    realm: 'realm1',
    serializers: ['json'],
    reconnect: { initialDelayMs: 0, maxDelayMs: 0, jitter: 0 },
    keepalive: false,
  });
  const session = await connection.open();
  const id = session.id;
  await session.subscribe('bench.resume.client.topic', () => {});
  await session.register('bench.resume.client.proc', () => null);
  const times = [];
  let lostAt = 0;
  let opened;
  connection.on('close', () => {
    lostAt = performance.now();
  });
  connection.on('open', (e) => opened?.(e));
  for (let i = 0; i < RESUMES; i++) {
    const reopen = new Promise((resolve) => (opened = resolve));
    proxy.cut();
    const e = await reopen;
    times.push(performance.now() - lostAt);
    if (e.details.resumed !== true || connection.session.id !== id) throw new Error(`reopen ${i} was not a resume: ${JSON.stringify(e.details)}`);
  }
  await connection.close();
  await proxy.close();
  return summary(times);
}

async function detachedMemory() {
  const sessionsBefore = realm.sessions.size;
  gc();
  gc();
  const before = process.memoryUsage();
  const ids = [];
  const BATCH = 200;
  for (let from = 0; from < SESSIONS; from += BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(BATCH, SESSIONS - from) }, (_, k) => resumableSession(`mem.${from + k}`)));
    for (const state of batch) {
      ids.push(state.id);
      state.peer.ws.terminate();
    }
  }
  await until(() => ids.every(detached), `${SESSIONS} detached sessions`, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 500)); // the client sockets' last callbacks
  gc();
  gc();
  const after = process.memoryUsage();
  if (realm.sessions.size - sessionsBefore !== SESSIONS) throw new Error(`${realm.sessions.size - sessionsBefore} sessions, expected ${SESSIONS}`);
  const kib = (bytes) => (bytes / 1024).toFixed(2);
  const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);
  return [
    `heapUsed ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB: ${kib((after.heapUsed - before.heapUsed) / SESSIONS)} KiB per detached session`,
    `RSS      ${mib(before.rss)} → ${mib(after.rss)} MiB: ${kib((after.rss - before.rss) / SESSIONS)} KiB per detached session`,
  ];
}

try {
  console.log(`bench-resume: node ${process.version}, router ${url}, ${RESUMES} resumes per row, ${SESSIONS} detached sessions`);
  await rawResumes('opportunistic', true, 100); // warm-up (JIT), not counted
  await rawResumes('dedicated', true, 100);
  console.log(`resume time, raw WebSocket (JSON), new socket → WELCOME resumed:true:`);
  console.log(`  opportunistic, detached   ${fmt(await rawResumes('opportunistic', true))}`);
  console.log(`  dedicated, detached       ${fmt(await rawResumes('dedicated', true))}`);
  console.log(`  opportunistic, take-over  ${fmt(await rawResumes('opportunistic', false))}`);
  console.log(`resume time, @switchboard/client through a cutting proxy, close (lost) → open resumed:true:`);
  console.log(`  ${fmt(await clientResumes())}`);
  console.log('memory per detached session (one subscription, one registration, their 2 answers kept):');
  for (const line of await detachedMemory()) console.log(`  ${line}`);
} finally {
  await router.stop();
}
