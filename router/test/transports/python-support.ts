/**
 * The python3-autobahn RawSocket probe (router/test/python/rawsocket.py) against a running router:
 * an autobahn-js peer on WebSocket registers the procedures the probe calls back, the probe runs
 * over RawSocket, and every result is checked here. Shared by python-rawsocket.test.ts and the
 * embedded-default test.
 *
 * FAILS, never skips, without python3-autobahn, python3-cbor2 and python3-msgpack (the probe then
 * exits naming the missing package; .ci/run installs them); SWITCHBOARD_PYTHON overrides
 * /usr/bin/python3.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, onTestFinished } from 'vitest';
import autobahn from 'autobahn';
import type { SerializerName } from '@switchboard/schemas';
import { within } from '../helpers.js';
import { autobahnInbox, autobahnPublish, connectAutobahn, exactNumbers } from '../interop/clients.js';
import type { AutobahnPeer } from '../interop/clients.js';

const PYTHON = process.env['SWITCHBOARD_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../python/rawsocket.py', import.meta.url));
const PROBE_TIMEOUT_S = 15;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPython(args: string[], ms: number): Promise<Run> {
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return within(exited, ms, `${PYTHON} ${args.join(' ')}`);
}

/** The procedures rawsocket.py (basic.py's Probe) calls on the Node side. */
async function nodeCounterpart(peer: AutobahnPeer): Promise<void> {
  const { session } = peer;
  await within(session.register('com.interop.node.echo', (args, kwargs) => new autobahn.Result(args, kwargs)), 3000, 'REGISTERED echo');
  await within(
    session.register('com.interop.node.fail', (args) => {
      throw new autobahn.Error('com.interop.error.node', ['node says no', ...args], { code: 7 });
    }),
    3000,
    'REGISTERED fail',
  );
  await within(
    session.register('com.interop.node.publish_to', async (args) => (await autobahnPublish(peer, String(args[0]), ['from node', 2 ** 53], { text: '日本語' })).id),
    3000,
    'REGISTERED publish_to',
  );
  await within(
    session.register('com.interop.node.call_back', async (args) => {
      const [procedure, ...rest] = args;
      const result = await session.call(String(procedure), rest, { from: 'node' });
      return result instanceof autobahn.Result ? new autobahn.Result(result.args, result.kwargs) : result;
    }),
    3000,
    'REGISTERED call_back',
  );
}

/** Runs rawsocket.py over `rsUrl` with an autobahn-js counterpart on `wsUrl` (same router, realm1). */
export async function pythonRawSocketProbe(wsUrl: string, rsUrl: string, serializer: SerializerName, cafile?: string): Promise<void> {
  const node = await connectAutobahn(wsUrl, 'msgpack');
  await nodeCounterpart(node);
  const fromPython = await autobahnInbox(node, 'com.interop.py.topic');
  const args = [SCRIPT, rsUrl, serializer, String(PROBE_TIMEOUT_S)];
  if (cafile !== undefined) args.push(cafile);
  const run = await runPython(args, (PROBE_TIMEOUT_S + 10) * 1000);
  const context = `exit ${String(run.code)}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.code, context).toBe(0);
  const report = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as { ok: boolean; results: Record<string, unknown> };
  expect(report.ok, context).toBe(true);
  const { results } = report;
  expect(results['serializer']).toBe(serializer);
  expect(results['transport']).toBe('rawsocket');
  expect(results['own_call']).toEqual({ args: [42], kwargs: { echo: { tag: 'ü', big: 2 ** 53 }, product_of: [6, 7] } });
  expect(results['node_error']).toMatchObject({ error: 'com.interop.error.node', args: ['node says no', 'why'] });
  expect(results['node_event']).toMatchObject({ args: ['from node', 2 ** 53], kwargs: { text: '日本語' } });
  expect(results['node_called_back']).toEqual([15]);
  expect(results['goodbye_reason']).toBe('wamp.close.goodbye_and_out');
  // What Python published to itself also reached the WebSocket peer, through another serializer.
  const event = await fromPython.inbox.next();
  expect(exactNumbers(event.args)).toEqual([1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', { nested: { deep: [1, 2, { x: null }] } }]);
}

