/**
 * NATS (`@nats-io/*`) and pino-pretty are optional dependencies (router/src/optional.ts): a router
 * whose config does not need them runs without them, and one that does says what to install. Each
 * test runs `switchboard start` from the built dist/ as a child process in which those packages
 * cannot be found (fixtures/hide-packages.mjs: `import` and `require` fail as for a package not
 * installed), as after `npm install --omit=optional`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, within } from './helpers.js';
import { writeConfig } from './config/support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const HIDE = fileURLToPath(new URL('./fixtures/hide-packages.mjs', import.meta.url));
const NATS = ['@nats-io/transport-node', '@nats-io/kv', '@nats-io/jetstream'];
const OPTIONAL = (JSON.parse(readFileSync(`${root}router/package.json`, 'utf8')) as { optionalDependencies: Record<string, string> }).optionalDependencies;

interface Child {
  output: { stdout: string; stderr: string };
  /** Resolves with the exit code when the process has exited and its output is read. */
  closed: Promise<number | null>;
  /** The first stdout line (parsed JSON) matching `predicate`, waiting at most `ms`. */
  line(predicate: (line: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>>;
  lines(): Record<string, unknown>[];
}

/** `switchboard start --config <config>` with `hidden` packages unresolvable; killed at the test's end. */
function startWithout(hidden: string[], config: unknown): Child {
  const proc = spawn(process.execPath, ['--import', HIDE, 'router/bin/switchboard.js', 'start', '--config', writeConfig(config)], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', SWITCHBOARD_HIDE_PACKAGES: hidden.join(',') },
  });
  const output = { stdout: '', stderr: '' };
  const waiting = new Set<() => void>();
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
    for (const check of waiting) check();
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const closed = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  onTestFinished(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await within(closed, 5000, 'the router process to close').catch(() => undefined);
  });
  const lines = (): Record<string, unknown>[] =>
    output.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = async (predicate: (line: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>> => {
    let check: (() => void) | undefined;
    try {
      return await within(
        new Promise<Record<string, unknown>>((resolve, reject) => {
          check = () => {
            const found = lines().find(predicate);
            if (found !== undefined) resolve(found);
          };
          waiting.add(check);
          check();
          void closed.then(() => reject(new Error(`the router exited before logging ${what}`)));
        }),
        ms,
        what,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stdout:\n${output.stdout}\n--- stderr:\n${output.stderr}`, { cause: err });
    } finally {
      if (check !== undefined) waiting.delete(check);
    }
  };
  return { output, closed, line, lines };
}

const LISTENER = { type: 'websocket', host: '127.0.0.1', port: 0 };

/** Joins realm1 at the URL the router logged: it serves WAMP. */
async function expectServes(child: Child): Promise<void> {
  const listening = await child.line((l) => typeof l['url'] === 'string', 15_000, 'the listening URL');
  const peer = await RawPeer.join(String(listening['url']), 'json', 'realm1');
  expect(peer.welcome[0]).toBe(MessageCode.Welcome);
  peer.ws.close();
}

describe('optional dependencies', () => {
  it('a single node starts and serves without NATS, pino-pretty and bufferutil installed', async () => {
    // Without bufferutil, ws masks and unmasks in JavaScript: slower on large frames, the same frames.
    const child = startWithout([...NATS, 'pino-pretty', 'bufferutil'], { listeners: [LISTENER], log: { pretty: false } });
    await child.line((l) => l['msg'] === 'router started', 15_000, "'router started'");
    await expectServes(child);
    expect(child.output.stderr).toBe('');
  });

  it('a cluster config without NATS installed exits at start naming the packages and the npm install line', async () => {
    const child = startWithout(NATS, { listeners: [LISTENER], cluster: { nats: { servers: ['nats://127.0.0.1:4222'] } } });
    expect(await within(child.closed, 15_000, 'the router to exit')).toBe(1);
    const install = `npm install ${NATS.map((p) => `${p}@${OPTIONAL[p]}`).join(' ')}`;
    expect(child.output.stderr).toContain(`needs the optional packages ${NATS.join(', ')}; @nats-io/transport-node is not installed: run \`${install}\``);
    expect(child.output.stderr).toMatch(/^switchboard: cannot start: the config's `cluster` block/);
    expect(child.lines().some((l) => l['msg'] === 'router started' || typeof l['url'] === 'string')).toBe(false);
  });

  it('with only @nats-io/jetstream missing (needed by @nats-io/kv), the message names it', async () => {
    const child = startWithout(['@nats-io/jetstream'], { listeners: [LISTENER], cluster: { nats: { servers: ['nats://127.0.0.1:4222'] } } });
    expect(await within(child.closed, 15_000, 'the router to exit')).toBe(1);
    expect(child.output.stderr).toContain('; @nats-io/jetstream is not installed: run `npm install @nats-io/transport-node@');
  });

  it('pretty logs without pino-pretty: JSON lines, one warning naming it, and the router serves', async () => {
    const child = startWithout(['pino-pretty'], { listeners: [LISTENER], log: { pretty: true } });
    await child.line((l) => String(l['msg']).startsWith('router started'), 15_000, "'router started'");
    await expectServes(child);
    // Every line is JSON (lines() throws otherwise), and exactly one says pino-pretty is missing.
    const warnings = child.lines().filter((l) => String(l['msg']).includes('pino-pretty'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!['level']).toBe(40);
    expect(warnings[0]!['msg']).toContain(`npm install pino-pretty@${OPTIONAL['pino-pretty']}`);
  });
});

describe('optional dependencies: better-sqlite3', () => {
  it('a config with store type sqlite without better-sqlite3 installed exits at start with the npm install line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-nosqlite-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'history.db');
    const child = startWithout(['better-sqlite3'], {
      listeners: [LISTENER],
      store: { type: 'sqlite', path },
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.example.t' }] }],
    });
    expect(await within(child.closed, 15_000, 'the router to exit')).toBe(1);
    expect(child.output.stderr).toContain(
      `needs the optional package better-sqlite3; better-sqlite3 is not installed: run \`npm install better-sqlite3@${OPTIONAL['better-sqlite3']}\``,
    );
    expect(child.output.stderr).toMatch(/^switchboard: cannot start: the config's `store: \{ type: "sqlite" \}`/);
    expect(child.lines().some((l) => l['msg'] === 'router started' || typeof l['url'] === 'string')).toBe(false);
    // Refused before anything was written: no database file.
    expect(existsSync(path)).toBe(false);
  });
});
