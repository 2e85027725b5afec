/**
 * The JetStream event store alone (router/src/history/jetstream.ts; issue #17's closing figures):
 *
 *   1. publishes/s into history: append N small events (default 100 000, over 100 topics), flush;
 *   2. `history.last(100)` latency p50/p99 for one topic of a stream holding M events (default
 *      1 000 000) over T topics (default 10 000): the read the history plugin makes for
 *      wamp.topic.history.last (newest first, limit 100).
 *
 * Starts its own nats-server (-js, file storage in a temporary directory, removed at the end).
 * Build first (`npx tsc -b`), then:
 *
 *   node scripts/bench-history-jetstream.mjs [--events 100000] [--stored 1000000] [--topics 10000] [--reads 1000]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const EVENTS = flag('events', 100_000);
const STORED = flag('stored', 1_000_000);
const TOPICS = flag('topics', 10_000);
const READS = flag('reads', 1000);

const routerRequire = createRequire(new URL('../router/package.json', import.meta.url));
const { connect } = await import(pathToFileURL(routerRequire.resolve('@nats-io/transport-node')).href);
const { JetStreamStore } = await import(new URL('../router/dist/history/jetstream.js', import.meta.url).href);

const bin = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
if (bin === undefined) throw new Error('nats-server not found');

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const storeDir = mkdtempSync(join(tmpdir(), 'bench-history-js-'));
const nats = spawn(bin, ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
await new Promise((resolve, reject) => {
  let out = '';
  const seen = (chunk) => {
    out += chunk;
    if (out.includes('Server is ready')) resolve();
  };
  nats.stdout.on('data', seen);
  nats.stderr.on('data', seen);
  nats.on('exit', () => reject(new Error(`nats-server exited:\n${out}`)));
  setTimeout(() => reject(new Error(`nats-server not ready:\n${out}`)), 15_000);
});
const version = await new Promise((resolve) => {
  const v = spawn(bin, ['--version']);
  let out = '';
  v.stdout.on('data', (c) => (out += c));
  v.on('exit', () => resolve(out.trim()));
});

const nc = await connect({ servers: `nats://127.0.0.1:${port}` });
const store = await JetStreamStore.connect(nc, { prefix: 'bench', realmLimits: () => ({ limit: 100, maxAgeMs: 0 }), readTimeoutMs: 60_000 });
const policy = { limit: 100, maxAgeMs: 0 };
let publication = 1;
const event = (topic, i) => ({ at: Date.now(), publication: publication++, topic, details: {}, args: [i], kwargs: undefined, filter: {} });

try {
  // 1. publishes/s
  const pubs = await store.realm('pubs', 0);
  let cpu = process.cpuUsage();
  let t = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    pubs.append(event(`bench.pub.t${i % 100}`, i), policy);
    if (i % 20_000 === 19_999) await pubs.flush();
  }
  await pubs.flush();
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  cpu = process.cpuUsage(cpu);
  console.log(
    `${version}: append+flush ${EVENTS} events (100 topics): ${seconds.toFixed(2)} s, ${Math.round(EVENTS / seconds)} events/s, router-side CPU ${((cpu.user + cpu.system) / EVENTS).toFixed(1)} µs/event`,
  );

  // 2. last(100) with STORED events over TOPICS topics
  const big = await store.realm('big', 0);
  t = process.hrtime.bigint();
  for (let i = 0; i < STORED; i++) {
    big.append(event(`bench.big.t${i % TOPICS}`, i), policy);
    if (i % 20_000 === 19_999) await big.flush();
  }
  await big.flush();
  const loadSeconds = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(`loaded ${STORED} events over ${TOPICS} topics in ${loadSeconds.toFixed(1)} s (${Math.round(STORED / loadSeconds)} events/s)`);
  const times = [];
  for (let r = 0; r < READS; r++) {
    const topic = `bench.big.t${Math.floor(Math.random() * TOPICS)}`;
    const start = process.hrtime.bigint();
    const page = await big.query({ select: { match: 'exact', topic }, reverse: true, limit: 100 });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (page.events.length !== 100) throw new Error(`${topic}: ${page.events.length} events, not 100`);
  }
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  console.log(`last(100), one topic of ${STORED} events / ${TOPICS} topics, ${READS} reads: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms`);
  // Pattern reads: a prefix covering 11 topics (one consumer per topic), and one covering 1 111
  // topics over the last 20 000 sequences (one unfiltered consumer).
  for (const [topic, afterSeq] of [
    ['bench.big.t49', undefined],
    ['bench.big.t1', STORED - 20_000],
  ]) {
    const pt = process.hrtime.bigint();
    const pattern = await big.query({ select: { match: 'prefix', topic }, reverse: true, limit: 100, afterSeq }).catch((err) => ({ events: [], err }));
    const ms = (Number(process.hrtime.bigint() - pt) / 1e6).toFixed(1);
    console.log(
      `pattern read (prefix ${topic}${afterSeq !== undefined ? `, after seq ${afterSeq}` : ''}): ${pattern.events.length} events in ${ms} ms ${pattern.err?.message ?? ''}`,
    );
  }
  console.log('stats', JSON.stringify(store.stats), 'size', JSON.stringify(big.size));
} finally {
  await store.close();
  await nc.close();
  nats.kill('SIGTERM');
  await new Promise((resolve) => nats.on('exit', resolve));
  rmSync(storeDir, { recursive: true, force: true });
}
