/**
 * The router under test, as a child process (`switchboard start`), so that a crash is seen as an
 * exit: every transport on one listener (WebSocket in all serializers, RawSocket, long-poll, an
 * HTTP bridge with publisher, caller and SSE paths) and the metrics endpoint, whose
 * event-loop-delay gauge (prom-client's monitorEventLoopDelay) shows stalls from inside.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Endpoints {
  /** 127.0.0.1 port of the listener (WebSocket, RawSocket, long-poll, bridge, /health). */
  port: number;
  metricsUrl: string;
}

/** The config: one listener with every transport, bridge paths acting as `anonymous`. */
export function fuzzConfig(port: number, metricsPort: number): Record<string, unknown> {
  return {
    listeners: [
      {
        type: 'websocket',
        host: '127.0.0.1',
        port,
        rawsocket: true,
        longpoll: { path: '/lp' },
        http: {
          paths: {
            '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous' },
            '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', callTimeoutMs: 2000 },
            '/events': { type: 'sse', realm: 'realm1', role: 'anonymous' },
            '/hook': { type: 'webhook', realm: 'realm1', role: 'anonymous', options: { topic: 'fuzz.hook' } },
          },
        },
      },
    ],
    realms: [
      {
        name: 'realm1',
        // Everything, as in the embedded default realm, except killing sessions (the meta API's
        // wamp.session.kill_all ends the witnesses' sessions too: a feature, not a finding).
        roles: [
          {
            name: 'anonymous',
            permissions: [
              { uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } },
              { uri: 'wamp.session.kill', match: 'prefix', allow: { subscribe: true } },
            ],
          },
        ],
        eventHistory: [{ topic: 'fuzz.', match: 'prefix', limit: 50 }],
      },
    ],
    metrics: { host: '127.0.0.1', port: metricsPort },
    // Refusals are logged at info and warn; at this rate that is noise. Errors (and crashes) stay.
    log: { level: 'error' },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Routers started and not yet stopped: killed when this process exits, so none is left behind. */
const running = new Set<ChildProcess>();
export function killRouters(): void {
  for (const child of running) child.kill('SIGKILL');
}
process.once('exit', killRouters);

export class RouterProcess {
  readonly child: ChildProcess;
  #output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stopping = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    const append = (chunk: Buffer): void => {
      this.#output += chunk.toString('utf8');
      // Keep the tail only: the stack of a crash is at the end.
      if (this.#output.length > 200_000) this.#output = this.#output.slice(-100_000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    running.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        running.delete(child);
        setImmediate(() => resolve({ code, signal }));
      }),
    );
  }

  get output(): string {
    return this.#output;
  }

  /** Exited without being asked to. */
  get crashed(): boolean {
    return !this.#stopping && (this.child.exitCode !== null || this.child.signalCode !== null);
  }

  /** Starts the router on two free ports; resolves once /health answers. */
  static async start(timeoutMs = 15_000): Promise<{ process: RouterProcess; endpoints: Endpoints }> {
    const port = await freePort();
    const metricsPort = await freePort();
    const config = fuzzConfig(port, metricsPort);
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-fuzz-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const bin = join(REPO_ROOT, 'router/bin/switchboard.js');
    const child = spawn(process.execPath, [bin, 'start', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const p = new RouterProcess(child);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const endpoints = { port, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
      if ((await answers(`http://127.0.0.1:${port}/health`)) && (await answers(endpoints.metricsUrl))) return { process: p, endpoints };
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the router exited on start:\n${p.#output}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the router did not start within ${timeoutMs} ms:\n${p.#output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}
