/**
 * Child processes for the example and deployment tests: output collected, waits bounded, and every
 * process stopped (SIGTERM, then SIGKILL) when the test finishes. Also a free TCP port, for
 * programs that cannot listen on port 0 and report it (nginx).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { onTestFinished } from 'vitest';

export interface Spawned {
  readonly child: ChildProcess;
  readonly name: string;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (past or future); rejects on exit or after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  /** For error messages. */
  name: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export function spawnProcess(command: string, args: readonly string[], options: SpawnOptions): Spawned {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let done = false;
  const watchers = new Set<() => void>();
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    for (const watcher of watchers) watcher();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      output += `\n[spawn error] ${err.message}\n`;
      done = true;
      for (const watcher of watchers) watcher();
      resolve(null);
    });
    child.once('exit', (code) => {
      done = true;
      // 'exit' can come before the last output: let the pipes drain first.
      setImmediate(() => {
        for (const watcher of watchers) watcher();
        resolve(code);
      });
    });
  });

  const waitFor = (pattern: RegExp, ms: number): Promise<RegExpMatchArray> =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        watchers.delete(check);
        clearTimeout(timer);
      };
      const check = (): void => {
        const match = output.match(pattern);
        if (match !== null) {
          finish();
          resolve(match);
        } else if (done && child.exitCode !== null) {
          finish();
          reject(new Error(`${options.name} exited (code ${child.exitCode}) before printing ${pattern}; output:\n${output}`));
        }
      };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${ms} ms waiting for ${options.name} to print ${pattern}; output:\n${output}`));
      }, ms);
      watchers.add(check);
      check();
    });

  const stop = async (graceMs = 3000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };
  onTestFinished(async () => {
    await stop();
  });
  return { child, name: options.name, output: () => output, waitFor, exited, stop };
}

/** A TCP port that was free a moment ago on 127.0.0.1 (the caller may still lose a race for it). */
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

/** The repository root. */
export const REPO_ROOT = new URL('../../', import.meta.url);

/** Starts `switchboard start` (the built CLI) with `args`; resolves once it listens, with its first listener's URL. */
export async function startRouterProcess(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ router: Spawned; url: string }> {
  const bin = new URL('router/bin/switchboard.js', REPO_ROOT).pathname;
  const router = spawnProcess(process.execPath, [bin, 'start', ...args], { name: 'switchboard start', env: options.env ?? process.env });
  const [line] = await router.waitFor(/^\{.*"msg":"listening".*\}$/m, options.timeoutMs ?? 10_000);
  const parsed: unknown = JSON.parse(line);
  const url = typeof parsed === 'object' && parsed !== null && 'url' in parsed && typeof parsed.url === 'string' ? parsed.url : undefined;
  if (url === undefined) throw new Error(`no url in the router's 'listening' line: ${line}`);
  return { router, url };
}

/**
 * Resolves once `open` connects (it calls `connected` on connect), trying every 50 ms; rejects
 * when `process` exits first or after `ms`, with its output. `what` names the endpoint.
 */
export async function untilAccepting(process: Spawned, what: string, open: (connected: () => void) => Socket, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = open(() => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    const { exitCode, signalCode } = process.child;
    if (exitCode !== null || signalCode !== null)
      throw new Error(`${process.name} exited (${exitCode ?? signalCode}) before accepting ${what}:\n${process.output()}`);
    if (Date.now() > deadline) throw new Error(`${process.name} did not accept ${what} within ${ms} ms:\n${process.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
