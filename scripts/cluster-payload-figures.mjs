/**
 * Issue #19's figures for large messages between cluster nodes: the time and the router CPU to
 * move one event of 1 MiB and one of 16 MiB (a MessagePack binary; the WAMP frame just under the
 * default maxMessageBytes) from a publisher on node B to a subscriber on node A, over one
 * nats-server with its default max_payload (1 MiB: both cross in chunks), and the same for a 1 KiB
 * event (no chunks) for comparison.
 *
 * Each size is published `--runs` times (default 5) with acknowledge; the clock runs from the
 * PUBLISH to the subscriber's EVENT; CPU is each router process's user + system time
 * (/proc/<pid>/stat) over the run, divided by the events. Needs nats-server and the build
 * (`npx tsc -b`):
 *
 *   node scripts/cluster-payload-figures.mjs [--runs 5]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@switchboard/client';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg === -1 ? 5 : Number(process.argv[runsArg + 1]);
const MiB = 1024 * 1024;
const TICK_MS = 10; // USER_HZ 100 on Linux
const dir = mkdtempSync(join(tmpdir(), 'switchboard-figures-'));
const children = [];

function start(command, args, ready) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  children.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      const match = ready.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, match });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command} exited (${code}):\n${output}`)));
  });
}

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

async function node(name, natsUrl) {
  const config = join(dir, `${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, path: '/ws' }],
      realms: [{ name: 'realm1' }],
      cluster: { node: name, nats: { servers: [natsUrl] }, nodeTimeoutMs: 15_000 },
    }),
  );
  const { child, match } = await start(
    process.execPath,
    [join(ROOT, 'router/bin/switchboard.js'), 'start', '--config', config, '--log-level', 'info'],
    /"url":"(ws:[^"]+)"/,
  );
  return { pid: child.pid, url: match[1] };
}

const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

try {
  const { match } = await start(
    'nats-server',
    ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', '-1'],
    /Listening for client connections on [^\s]*:(\d+)[\s\S]*Server is ready/,
  );
  const natsUrl = `nats://127.0.0.1:${match[1]}`;
  const a = await node('node-a', natsUrl);
  const b = await node('node-b', natsUrl);
  const subscriber = await connect({ url: a.url, realm: 'realm1', serializers: ['msgpack'], reconnect: false });
  const publisher = await connect({ url: b.url, realm: 'realm1', serializers: ['msgpack'], reconnect: false });
  let arrived = () => undefined;
  await subscriber.subscribe('com.figures.big', () => arrived());
  // Interest travels to NATS with the subscription: probe until an event arrives.
  for (let got = false; !got; ) {
    const once = new Promise((resolve) => (arrived = () => resolve(true)));
    await publisher.publish('com.figures.big', [new Uint8Array(1)], {}, { acknowledge: true });
    got = await Promise.race([once, new Promise((resolve) => setTimeout(() => resolve(false), 200))]);
  }
  console.log(`nats-server max_payload 1 MiB (default); ${RUNS} events per size; publisher on node B, subscriber on node A, msgpack\n`);
  console.log('event            time p50 (ms)   node B CPU/event (ms)   node A CPU/event (ms)');
  for (const [label, bytes] of [
    ['1 KiB', 1024],
    ['1 MiB', MiB],
    ['16 MiB - 1 KiB', 16 * MiB - 1024],
  ]) {
    const payload = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) payload[i] = (i * 7) & 0xff;
    const times = [];
    const cpuA = cpuMs(a.pid);
    const cpuB = cpuMs(b.pid);
    for (let run = 0; run < RUNS; run++) {
      const received = new Promise((resolve) => (arrived = resolve));
      const started = performance.now();
      await publisher.publish('com.figures.big', [payload], {}, { acknowledge: true });
      await received;
      times.push(performance.now() - started);
    }
    const perA = (cpuMs(a.pid) - cpuA) / RUNS;
    const perB = (cpuMs(b.pid) - cpuB) / RUNS;
    console.log(`${label.padEnd(16)} ${median(times).toFixed(1).padStart(14)} ${perB.toFixed(1).padStart(23)} ${perA.toFixed(1).padStart(23)}`);
  }
  await publisher.leave();
  await subscriber.leave();
} finally {
  for (const child of children.reverse()) child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 500));
  rmSync(dir, { recursive: true, force: true });
}
