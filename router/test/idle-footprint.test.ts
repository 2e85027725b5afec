/**
 * The router at rest (issue #20): `switchboard start` with the default config, from the built
 * dist/, weighs at most 80 MiB RSS once it has started and one session has come and gone (the
 * bare `ws` forwarder of the bench weighs about 57 MiB on the same machine; the router weighed
 * 96–106 MiB while it compiled its config schema at start and loaded prom-client and hash-wasm
 * eagerly), and it loads nothing the default config does not use: neither ajv's compiler (the
 * config schema is compiled ahead of time: schemas/schema/router-config.validate.cjs), nor
 * prom-client (no `metrics`), hash-wasm (no argon2id), better-sqlite3 (no sqlite store) or the
 * NATS client (no `cluster`).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { RawPeer, until, within } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RECORD = fileURLToPath(new URL('./fixtures/record-packages.mjs', import.meta.url));
const MiB = 1024 * 1024;
/** The target. */
const MAX_IDLE_RSS = 80 * MiB;

interface Started {
  pid: number;
  url: string;
  stderr(): string;
}

/** `switchboard start --host 127.0.0.1 --port 0` (default config otherwise); resolves once it is listening and has said all it says at start. */
async function start(nodeFlags: string[]): Promise<Started> {
  const proc = spawn(process.execPath, [...nodeFlags, 'router/bin/switchboard.js', 'start', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  onTestFinished(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await within(closed, 5000, 'the router process to close').catch(() => undefined);
  });
  // The last line of a start: the warning that anonymous access is open (the default config).
  await until(() => stdout.includes('anonymous access is open') || proc.exitCode !== null, 30_000, 'the router to start');
  const url = /"url":"(ws:\/\/127\.0\.0\.1:\d+\/ws)"/.exec(stdout)?.[1];
  if (url === undefined || proc.pid === undefined) throw new Error(`the router did not start:\n${stdout}\n${stderr}`);
  return { pid: proc.pid, url, stderr: () => stderr };
}

function rssBytes(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (line === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(line[1]) * 1024;
}

/** RSS once it stops moving: two readings 250 ms apart within 256 KiB (at most 5 s of readings). */
async function settledRss(pid: number): Promise<number> {
  let last = rssBytes(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = rssBytes(pid);
    if (Math.abs(now - last) < 256 * 1024) return now;
    last = now;
  }
  return last;
}

async function oneSession(url: string): Promise<void> {
  const peer = await RawPeer.join(url);
  peer.ws.close();
  await peer.closed;
}

describe.runIf(process.platform === 'linux')('the router at rest', () => {
  it(`weighs at most ${MAX_IDLE_RSS / MiB} MiB RSS with the default config`, async () => {
    const router = await start([]);
    await oneSession(router.url);
    const rss = await settledRss(router.pid);
    expect(rss / MiB, `idle RSS ${(rss / MiB).toFixed(1)} MiB`).toBeLessThanOrEqual(MAX_IDLE_RSS / MiB);
  });

  it('loads neither ajv’s compiler, prom-client, hash-wasm, better-sqlite3 nor the NATS client', async () => {
    const router = await start(['--import', RECORD]);
    await oneSession(router.url);
    const loaded = new Set(
      router
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('LOADED '))
        .map((l) => l.slice('LOADED '.length)),
    );
    // The control: the recorder sees imports (ws, pino) and requires (ajv's runtime helpers, which
    // the compiled config validator takes through the router's createRequire).
    expect([...loaded]).toEqual(expect.arrayContaining(['ws', 'pino', 'ajv/dist/runtime/equal']));
    const unwanted = [...loaded].filter((s) => s === 'ajv' || /^(prom-client|hash-wasm|better-sqlite3|@nats-io\/)/.test(s));
    expect(unwanted).toEqual([]);
  });
});
