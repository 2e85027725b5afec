/**
 * The embedded default speaks every transport on its one port, as Crossbar's `universal` transport
 * does: `switchboard start` with no config (or a config without listeners) accepts WebSocket at
 * /ws, RawSocket (a connection whose first octet is 0x7F) and HTTP long-poll at /lp on port 8080.
 * Run as a real process from the built dist/ (`npx tsc -b` first), on an ephemeral port (`--port 0`,
 * the URLs read back from the JSON `listening` log line). Every wait is bounded; every process
 * started here is killed when its test finishes.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openConnection, open, nextEvent, uri } from '../../../client/test/helpers.js';
import { resolveConfig } from '@switchboard/router';
import type { Session } from '@switchboard/client';
import { within } from '../helpers.js';
import { writeConfig } from '../config/support.js';
import { pythonRawSocketProbe } from './python-support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const DIST_CLI = `${root}router/dist/cli.js`;

interface Listening {
  url: string;
  rawsocket: string;
  longpoll: string;
  stdout: () => string;
}

/** `switchboard start --host 127.0.0.1 --port 0 …extra`, once it has logged its listener and 'router started'. */
async function startCli(...extra: string[]): Promise<Listening> {
  const proc = spawn(process.execPath, ['router/bin/switchboard.js', 'start', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...extra], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  onTestFinished(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await within(closed, 5000, 'the router process to close').catch(() => undefined);
  });
  let stdout = '';
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = (): Record<string, unknown>[] =>
    stdout.split('\n').flatMap((line) => {
      try {
        const value: unknown = JSON.parse(line);
        return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  const started = new Promise<void>((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (lines().some((line) => line['msg'] === 'router started')) resolve();
    });
    void closed.then(() => reject(new Error(`the router exited before 'router started'\nstdout: ${stdout}\nstderr: ${stderr}`)));
  });
  await within(started, 15_000, "the router's 'router started' line");
  const listening = lines().find((line) => line['msg'] === 'listening');
  expect(listening, stdout).toBeDefined();
  return { url: String(listening!['url']), rawsocket: String(listening!['rawsocket']), longpoll: String(listening!['longpoll']), stdout: () => stdout };
}

/** A publish from `from` reaches `to`, and a call from `to` reaches a procedure `from` registered. */
async function routesBetween(from: Session, to: Session): Promise<void> {
  const topic = uri('default.topic');
  const inbox = await to.subscribe(topic);
  await from.publish(topic, ['hello', from.serializer], {}, { acknowledge: true });
  expect((await nextEvent(inbox)).args).toEqual(['hello', from.serializer]);
  const procedure = uri('default.add');
  await from.register(procedure, (args) => (args as number[])[0]! + (args as number[])[1]!);
  expect(await to.call(procedure, [2, 3])).toBe(5);
}

beforeAll(() => {
  if (!existsSync(DIST_CLI)) throw new Error(`${DIST_CLI} is missing: run npx tsc -b at the repo root first (npm test builds before testing)`);
});

describe('the embedded default listener', () => {
  it('is one port with WebSocket at /ws, RawSocket and long-poll at /lp (resolveConfig)', () => {
    const [listener] = resolveConfig({}).listeners;
    expect(listener).toMatchObject({ type: 'websocket', host: '0.0.0.0', port: 8080, path: '/ws', rawsocket: true, longpoll: { path: '/lp' } });
    // A config with realms but no listeners gets the same listener.
    expect(resolveConfig({ realms: [{ name: 'app' }] }).listeners).toEqual(resolveConfig({}).listeners);
    // An explicit listener means what it says: RawSocket and long-poll stay opt-in there.
    const [explicit] = resolveConfig({ listeners: [{ type: 'websocket' }] }).listeners;
    expect(explicit).not.toHaveProperty('rawsocket');
    expect(explicit).not.toHaveProperty('longpoll');
  });

  it('switchboard start with no config: rs://, ws:// and http://…/lp on the same port, routing between them', { timeout: 40_000 }, async () => {
    const { url, rawsocket, longpoll } = await startCli();
    const port = /^ws:\/\/127\.0\.0\.1:(\d+)\/ws$/.exec(url)?.[1];
    expect(port, url).toBeDefined();
    expect(rawsocket).toBe(`rs://127.0.0.1:${port}`);
    expect(longpoll).toBe(`http://127.0.0.1:${port}/lp`);

    const ws = await open(url, 'json');
    const rs = await openConnection({ url: rawsocket, realm: 'realm1', serializers: ['msgpack'], reconnect: false });
    expect(rs.transport).toEqual({ type: 'rawsocket', url: rawsocket, protocol: 'wamp.2.msgpack' });
    const lp = await openConnection({ url: longpoll, realm: 'realm1', serializers: ['cbor'], reconnect: false });
    expect(lp.transport).toMatchObject({ type: 'longpoll', url: longpoll });
    await routesBetween(rs.session, ws);
    await routesBetween(ws, lp.session);
    await routesBetween(lp.session, rs.session);
  });

  it('a config file with realms and no listeners gets it too; python3-autobahn joins over rs:// on that port', { timeout: 60_000 }, async () => {
    const config = writeConfig({ realms: [{ name: 'realm1' }] });
    const { url, rawsocket } = await startCli('--config', config);
    expect(rawsocket).toBe(url.replace(/^ws:/, 'rs:').replace(/\/ws$/, ''));
    await pythonRawSocketProbe(url, rawsocket, 'json');
  });

  it('switchboard --help says what the default listener speaks', async () => {
    const proc = spawn(process.execPath, ['router/bin/switchboard.js', '--help'], { cwd: root });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    await within(new Promise((resolve) => proc.once('close', resolve)), 10_000, 'switchboard --help');
    expect(out).toContain('ws://0.0.0.0:8080/ws');
    expect(out).toContain('rs://0.0.0.0:8080');
    expect(out).toContain('http://0.0.0.0:8080/lp');
  });
});
