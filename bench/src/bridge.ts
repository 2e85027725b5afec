/**
 * HTTP bridge throughput: acknowledged publishes per second through `POST /publish` over
 * keep-alive HTTP connections (plain, and signed), next to acknowledged WAMP publishes per second
 * over WebSocket connections, against the same router process in the same run. Each connection
 * keeps one request outstanding (request → answer → next request), so both sides measure the same
 * thing: a publication the router accepted and answered. One WAMP subscriber receives everything.
 *
 *   npx tsc -b && node bench/dist/bridge.js [--connections 8] [--measure-ms 3000]
 *
 * The router runs as its own process (its CLI) on a free loopback port; the load runs here.
 */
import { spawn } from 'node:child_process';
import { createHmac, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { installCleanup, stopChild, track } from './children.js';
import { cpuUsOrNaN } from './procfs.js';

const HOST = '127.0.0.1';
const TOPIC = 'com.bench.bridge';
const KEY = 'bench';
const SECRET = 'bench-secret';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i === -1 ? undefined : Number(process.argv[i + 1]);
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${HOST}:${port}/health`);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the router did not answer /health within ${ms} ms`);
}

/** One WAMP session over WebSocket, JSON, with the request/answer plumbing the bench needs. */
async function wamp(url: string): Promise<{ ws: WebSocket; next: () => Promise<unknown[]>; onMessage: (f: (m: unknown[]) => void) => void }> {
  const ws = new WebSocket(url, ['wamp.2.json']);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let handler: ((m: unknown[]) => void) | undefined;
  const waiting: ((m: unknown[]) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString('utf8')) as unknown[];
    const w = waiting.shift();
    if (w !== undefined) w(m);
    else handler?.(m);
  });
  const next = (): Promise<unknown[]> => new Promise((resolve) => waiting.push(resolve));
  ws.send(JSON.stringify([1, 'realm1', { roles: { publisher: {}, subscriber: {} } }]));
  const welcome = await next();
  if (welcome[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
  return { ws, next, onMessage: (f) => (handler = f) };
}

interface Rate {
  perSecond: number;
  count: number;
  errors: number;
  /** The router process's CPU time per publication (µs), from /proc. */
  routerUsPer: number;
}

let routerPid = 0;

async function measure(connections: number, ms: number, one: (connection: number, i: number) => Promise<boolean>): Promise<Rate> {
  const cpu0 = cpuUsOrNaN(routerPid);
  let count = 0;
  let errors = 0;
  const deadline = Date.now() + ms;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = 0; Date.now() < deadline; i++) {
        if (await one(c, i)) count++;
        else errors++;
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: count / seconds, count, errors, routerUsPer: (cpuUsOrNaN(routerPid) - cpu0) / count };
}

function httpPublish(agent: Agent, port: number, path: string, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: HOST, port, path, method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode === 200));
      },
    );
    req.once('error', () => resolve(false));
    req.end(body);
  });
}

function signedPath(body: string, seq: number): string {
  const timestamp = new Date().toISOString();
  const nonce = String(randomInt(2 ** 47));
  const signature = createHmac('sha256', SECRET).update(KEY).update(timestamp).update(String(seq)).update(nonce).update(body).digest('base64url') + '=';
  return `/signed?${new URLSearchParams({ key: KEY, timestamp, seq: String(seq), nonce, signature }).toString()}`;
}

async function main(): Promise<void> {
  installCleanup();
  const connections = flag('connections', 8);
  const measureMs = flag('measure-ms', 3000);
  const here = fileURLToPath(new URL('.', import.meta.url));
  const routerBin = join(here, '..', '..', 'router', 'bin', 'switchboard.js');
  const dir = mkdtempSync(join(tmpdir(), 'sb-bench-bridge-'));
  const port = await freePort();
  const config = {
    listeners: [
      {
        type: 'websocket',
        host: HOST,
        port,
        http: {
          paths: {
            '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous' },
            '/signed': { type: 'publisher', realm: 'realm1', role: 'anonymous', options: { key: KEY, secret: SECRET } },
          },
        },
      },
    ],
    log: { level: 'warn' },
  };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const router = track(spawn(process.execPath, [routerBin, 'start', '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] }));
  routerPid = router.pid ?? 0;
  try {
    await waitForHealth(port, 10_000);
    const url = `ws://${HOST}:${port}/ws`;
    // One subscriber receives every publication (of every phase).
    const sub = await wamp(url);
    sub.ws.send(JSON.stringify([32, 1, {}, TOPIC]));
    await sub.next();
    let received = 0;
    sub.onMessage((m) => {
      if (m[0] === 36) received++;
    });
    const payload = (i: number): string => JSON.stringify({ topic: TOPIC, args: [i, 'hello'], kwargs: { from: 'bench' } });

    // Warm-up, then each phase in turn.
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    await measure(connections, 500, (_c, i) => httpPublish(agent, port, '/publish', payload(i)));
    const http = await measure(connections, measureMs, (_c, i) => httpPublish(agent, port, '/publish', payload(i)));
    let seq = 0;
    const signed = await measure(connections, measureMs, (_c, i) => {
      const body = payload(i);
      return httpPublish(agent, port, signedPath(body, ++seq), body);
    });
    agent.destroy();

    const publishers = await Promise.all(Array.from({ length: connections }, () => wamp(url)));
    const requests = publishers.map(() => 0);
    const wsOne = async (c: number, i: number): Promise<boolean> => {
      const p = publishers[c]!;
      const request = ++requests[c]!;
      p.ws.send(JSON.stringify([16, request, { acknowledge: true }, TOPIC, [i, 'hello'], { from: 'bench' }]));
      const answer = await p.next();
      return answer[0] === 17;
    };
    await measure(connections, 500, wsOne);
    const ws = await measure(connections, measureMs, wsOne);
    for (const p of publishers) p.ws.close();
    await new Promise((r) => setTimeout(r, 200));
    sub.ws.close();

    const row = (name: string, r: Rate): string =>
      `| ${name} | ${Math.round(r.perSecond).toLocaleString('en')} | ${r.routerUsPer.toFixed(1)} | ${r.count} | ${r.errors} |`;
    console.log(
      `\nHTTP bridge vs WebSocket: acknowledged publishes/s, ${connections} connections, one request outstanding each, ${measureMs} ms per phase, one subscriber\n`,
    );
    console.log('| path | publishes/s | router CPU µs/publish | publishes | errors |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(row('HTTP POST /publish (keep-alive)', http));
    console.log(row('HTTP POST /publish, signed (keep-alive)', signed));
    console.log(row('WebSocket PUBLISH acknowledge: true', ws));
    console.log(
      `\nbridge ÷ WebSocket: ${(http.perSecond / ws.perSecond).toFixed(2)} (signed: ${(signed.perSecond / ws.perSecond).toFixed(2)}); events received by the subscriber: ${received}`,
    );
    console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} CPUs`);
  } finally {
    await stopChild(router);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
