/**
 * Test helpers: a router on an ephemeral port, a raw WAMP peer that speaks frames by hand (for
 * protocol-violation cases no client library would send), and a child process run to its end.
 * Every wait is bounded.
 */
import { spawn } from 'node:child_process';
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import type { Codec, SerializerName } from '@switchboard/schemas';
import { CODECS, MessageCode } from '@switchboard/schemas';
import { Router, silentLogger } from '@switchboard/router';
import type { RealmPlugin, RouterConfigFile } from '@switchboard/router';
import { FrameQueue } from './frame-queue.js';

/** Starts a router on 127.0.0.1 with a free port (with `plugins`, an embedder's); stopped when the test finishes. */
export async function startTestRouter(config: RouterConfigFile = {}, plugins: readonly RealmPlugin[] = []): Promise<Router> {
  const listeners = config.listeners ?? [{ type: 'websocket' as const }];
  const router = new Router({
    // A RawSocket listener on a Unix socket path has no host or port.
    config: {
      shutdownTimeoutMs: 500,
      ...config,
      listeners: listeners.map((l) => (l.type === 'rawsocket' && l.path !== undefined ? l : { host: '127.0.0.1', ...l, port: 0 })),
    },
    logger: silentLogger(),
    plugins,
  });
  await router.start();
  onTestFinished(() => router.stop());
  return router;
}

export { FrameQueue } from './frame-queue.js';

export interface Closed {
  code: number;
  reason: string;
}

/** Resolves with `promise`, or rejects after `ms` naming what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  /** The bound on the whole run. */
  ms: number;
  /** Named in the timeout. */
  what: string;
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Said when `command` cannot be started at all (after `cannot run <command>: <why>.`). */
  required?: string;
}

/**
 * Runs `command args…` to its end with its stdout and stderr collected; killed (SIGKILL) when the
 * test finishes, bounded by `ms`.
 */
export function runProcess(command: string, args: readonly string[], options: ProcessOptions): Promise<ProcessRun> {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<ProcessRun>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new Error(`cannot run ${command}: ${err.message}.${options.required === undefined ? '' : ` ${options.required}`}`, { cause: err })),
    );
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return within(exited, options.ms, options.what);
}

/** A WAMP peer at the frame level. */
export class RawPeer {
  readonly codec: Codec;
  readonly closed: Promise<Closed>;
  /** What has arrived, decoded, not yet taken by `next()`. */
  readonly inbox = new FrameQueue<unknown>('a WAMP message');

  private constructor(
    readonly ws: WebSocket,
    serializer: SerializerName,
  ) {
    this.codec = CODECS[serializer];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.inbox.push(this.codec.decode(isBinary ? new Uint8Array(data) : data.toString('utf8')));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })));
  }

  /** `options` go to `ws` (TLS `ca`, `origin`…). */
  static async connect(url: string, serializer: SerializerName = 'json', protocols?: string[], options?: WebSocket.ClientOptions): Promise<RawPeer> {
    const ws = new WebSocket(url, protocols ?? [CODECS[serializer].subprotocol], options);
    const peer = new RawPeer(ws, serializer);
    onTestFinished(() => ws.terminate());
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      5000,
      'WebSocket open',
    );
    return peer;
  }

  /** Connects and completes HELLO → WELCOME; resolves to the WELCOME message. */
  static async join(
    url: string,
    serializer: SerializerName = 'json',
    realm = 'realm1',
    options?: WebSocket.ClientOptions,
  ): Promise<RawPeer & { session: number; welcome: unknown[] }> {
    const peer = await RawPeer.connect(url, serializer, undefined, options);
    peer.send([MessageCode.Hello, realm, { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } }]);
    const welcome = await peer.next();
    if (welcome[0] !== MessageCode.Welcome) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
    return Object.assign(peer, { session: welcome[1] as number, welcome });
  }

  #request = 0;

  /** The next sequential request ID. */
  nextRequest(): number {
    return ++this.#request;
  }

  send(message: unknown[]): void {
    this.ws.send(this.codec.encode(message));
  }

  /** Sends bytes or text exactly as given. */
  sendRaw(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** The next decoded message (as an array) — the oldest, or the oldest that matches `predicate` — waiting at most `ms`. */
  async next(ms?: number): Promise<unknown[]>;
  async next(predicate: ((message: unknown[]) => boolean) | undefined, ms?: number): Promise<unknown[]>;
  async next(predicateOrMs?: ((message: unknown[]) => boolean) | number, ms = 3000): Promise<unknown[]> {
    const wanted = typeof predicateOrMs === 'function' ? predicateOrMs : undefined;
    const value = await this.inbox.next(
      wanted === undefined ? undefined : (v) => Array.isArray(v) && wanted(v),
      typeof predicateOrMs === 'number' ? predicateOrMs : ms,
    );
    if (!Array.isArray(value)) throw new Error(`received a non-list frame: ${JSON.stringify(value)}`);
    return value;
  }

  /** Resolves true if no message arrives within `ms` (for asserting that something is NOT delivered). */
  silentFor(ms: number): Promise<boolean> {
    return this.inbox.silentFor(ms);
  }

  /** Waits for the connection to close. */
  waitClosed(ms = 3000): Promise<Closed> {
    return within(this.closed, ms, 'the connection to close');
  }

  close(): void {
    this.ws.close(1000);
  }
}

/** Waits until `condition()` holds, checking every 5 ms, for at most `ms`. */
export function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (condition()) resolve();
        else setTimeout(check, 5).unref();
      };
      check();
    }),
    ms,
    what,
  );
}
