/**
 * Interop with autobahn-python (Debian's python3-autobahn, asyncio) over each serializer:
 * router/test/python/basic.py against a router started here, with an autobahn-js (msgpack) peer
 * on the Node side for the cross-language calls and events.
 *
 * The interpreter is Debian's /usr/bin/python3 (SWITCHBOARD_PYTHON overrides it), not whatever
 * python3 is first on PATH. Without python3-autobahn, python3-cbor2 and python3-msgpack these tests
 * FAIL, on purpose: .ci/run installs them.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import autobahn from 'autobahn';
import type { SerializerName } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { SERIALIZERS, autobahnInbox, autobahnPublish, connectAutobahn, exactNumbers, plainBytes } from './clients.js';
import type { AutobahnPeer } from './clients.js';

const PYTHON = process.env['SWITCHBOARD_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../python/basic.py', import.meta.url));
const PROBE_TIMEOUT_S = 15;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `PYTHON args…`; killed when the test finishes; bounded by `ms`. */
async function runPython(args: string[], ms: number): Promise<Run> {
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
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return within(exited, ms, `${PYTHON} ${args.join(' ')} (stderr so far: ${stderr.slice(-500)})`);
}

let prerequisites: Promise<string> | undefined;

/** Fails (never skips) with what to install when Debian's autobahn is not importable. */
function requirePythonAutobahn(): Promise<string> {
  prerequisites ??= runPython(['-c', 'import autobahn, cbor2, msgpack; print(autobahn.__version__)'], 15_000).then(
    (run) => {
      if (run.code !== 0) {
        throw new Error(
          `${PYTHON} cannot import autobahn, cbor2 and msgpack (exit ${run.code}): ${run.stderr.trim().split('\n').pop() ?? ''}\n` +
            'Install Debian\'s packages: apt-get install -y python3-autobahn python3-cbor2 python3-msgpack (.ci/run does this).',
        );
      }
      return run.stdout.trim();
    },
    (err: unknown) => {
      throw new Error(`cannot run ${PYTHON}: ${String(err)}. Debian's python3 with python3-autobahn is required (.ci/run installs it).`);
    },
  );
  return prerequisites;
}

/** Node's view of bytes in the probe's JSON output. */
const asBytesJson = (bytes: Uint8Array): { $bytes: string } => ({ $bytes: Buffer.from(bytes).toString('base64') });

const NODE_EVENT_BLOB = Uint8Array.from([0, 1, 2, 3, 252, 253, 254, 255]);

/** The Node-side peer: the procedures basic.py calls, and the event it asks for. */
async function nodeCounterpart(peer: AutobahnPeer): Promise<void> {
  const { session } = peer;
  await within(session.register('com.interop.node.echo', (args, kwargs) => new autobahn.Result(args, kwargs)), 3000, 'REGISTERED echo');
  await within(
    session.register('com.interop.node.fail', (args) => {
      throw new autobahn.Error('com.interop.error.node', ['node says no', ...args], { code: 7, detail: { 'ü': 'x', n: 2 ** 53 } });
    }),
    3000,
    'REGISTERED fail',
  );
  await within(
    session.register('com.interop.node.publish_to', async (args) => {
      const topic = String(args[0]);
      const publication = await autobahnPublish(peer, topic, ['from node', 2 ** 53, Buffer.from(NODE_EVENT_BLOB)], { text: '日本語', blob: Buffer.from(NODE_EVENT_BLOB), nested: { n: -(2 ** 53) } });
      return publication.id;
    }),
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

describe.each(SERIALIZERS)('autobahn-python over %s', (serializer: SerializerName) => {
  it('basic.py: own RPC and pub/sub, calls and events to and from an autobahn-js peer, GOODBYE', { timeout: 40_000 }, async () => {
    const version = await requirePythonAutobahn();
    expect(version).toMatch(/^\d+\.\d+/);
    const router = await startTestRouter();
    const node = await connectAutobahn(router.url, 'msgpack');
    await nodeCounterpart(node);
    // The Node peer also hears what Python publishes to itself, through another serializer.
    const fromPython = await autobahnInbox(node, 'com.interop.py.topic');

    const run = await runPython([SCRIPT, router.url, serializer, String(PROBE_TIMEOUT_S)], (PROBE_TIMEOUT_S + 10) * 1000);
    const lastLine = run.stdout.trim().split('\n').pop() ?? '';
    const context = `exit ${run.code}${run.signal ? ` (${run.signal})` : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
    expect(run.code, context).toBe(0);
    const report = JSON.parse(lastLine) as { ok: boolean; results: Record<string, unknown> };
    expect(report.ok, context).toBe(true);
    const { results } = report;

    expect(results['serializer']).toBe(serializer);
    expect(results['realm']).toBe('realm1');
    expect(Number.isSafeInteger(results['session'])).toBe(true);
    expect(results['own_call']).toEqual({ args: [42], kwargs: { echo: { tag: 'ü', big: 2 ** 53 }, product_of: [6, 7] } });
    expect(results['own_event']).toMatchObject({
      args: [1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', { nested: { deep: [1, 2, { x: null }] } }],
      kwargs: { big: 2 ** 53, blob: asBytesJson(Uint8Array.from({ length: 256 }, (_, i) => i)), text: 'Straße', empty: {}, flag: true },
    });
    expect(results['node_echo']).toEqual({
      args: [asBytesJson(Uint8Array.from([0, 1, 2, 253, 254, 255])), 'ü', 2 ** 53, -(2 ** 31) - 1, 0.5, [null, true, false]],
      kwargs: { blob: asBytesJson(Uint8Array.from([255, 255, 255])), deep: { a: { b: { c: 'd' } } }, n: 2 ** 40 },
    });
    expect(results['node_error']).toEqual({ error: 'com.interop.error.node', args: ['node says no', 'why'], kwargs: { code: 7, detail: { 'ü': 'x', n: 2 ** 53 } } });
    expect(results['node_event']).toMatchObject({
      args: ['from node', 2 ** 53, asBytesJson(NODE_EVENT_BLOB)],
      kwargs: { text: '日本語', blob: asBytesJson(NODE_EVENT_BLOB), nested: { n: -(2 ** 53) } },
    });
    expect(Number.isSafeInteger((results['node_event'] as { publication: unknown }).publication)).toBe(true);
    expect(results['node_called_back']).toEqual([15]);
    expect(results['goodbye_reason']).toBe('wamp.close.goodbye_and_out');

    // Python's own event, as the msgpack Node peer received it.
    const event = await fromPython.inbox.next();
    expect(exactNumbers(event.args)).toEqual([1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', { nested: { deep: [1, 2, { x: null }] } }]);
    expect(plainBytes(event.kwargs['blob'])).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
    expect(event.details.publication).toBe((results['own_event'] as { publication: unknown }).publication);
    expect(router.sessionCount).toBe(1); // the Python session is gone; the Node peer remains
  });
});

// ---- issue #16, item 3: end-to-end encrypted payloads (WAMP-cryptobox, payload transparency) ----

const E2EE_SCRIPT = fileURLToPath(new URL('../python/e2ee.py', import.meta.url));

let naclPrerequisite: Promise<void> | undefined;

/** Fails (never skips) with what to install when PyNaCl, which autobahn's cryptobox needs, is missing. */
function requirePyNaCl(): Promise<void> {
  naclPrerequisite ??= runPython(['-c', 'import nacl; from autobahn.wamp.cryptobox import KeyRing'], 15_000).then((run) => {
    if (run.code !== 0) {
      throw new Error(
        `${PYTHON} cannot import PyNaCl and autobahn.wamp.cryptobox (exit ${run.code}): ${run.stderr.trim().split('\n').pop() ?? ''}\n` +
          "Install Debian's package: apt-get install -y python3-nacl.",
      );
    }
  });
  return naclPrerequisite;
}

describe.each(SERIALIZERS)('autobahn-python end-to-end encryption (cryptobox) over %s', (serializer: SerializerName) => {
  it('e2ee.py: encrypted PUBLISH → EVENT, CALL → INVOCATION → YIELD → RESULT and ERROR pass the router untouched', { timeout: 40_000 }, async () => {
    await requirePythonAutobahn();
    await requirePyNaCl();
    const router = await startTestRouter();
    // A Node peer (MessagePack) on the encrypted topic sees the EVENT as the router wrote it.
    const witness = await RawPeer.join(router.url, 'msgpack');
    witness.send([MessageCode.Subscribe, witness.nextRequest(), {}, 'com.e2ee.topic']);
    expect((await witness.next())[0]).toBe(MessageCode.Subscribed);

    const run = await runPython([E2EE_SCRIPT, router.url, serializer, String(PROBE_TIMEOUT_S)], (PROBE_TIMEOUT_S + 10) * 1000);
    const lastLine = run.stdout.trim().split('\n').pop() ?? '';
    const context = `exit ${run.code}${run.signal ? ` (${run.signal})` : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
    expect(run.code, context).toBe(0);
    const report = JSON.parse(lastLine) as { ok: boolean; results: Record<string, unknown> };
    expect(report.ok, context).toBe(true);
    const { results } = report;

    expect(results['event']).toEqual({ args: ['secret', 2 ** 53, 'ünïcödé 🐍', { nested: [1, null, true] }], kwargs: { key: 'value', n: 7 }, enc_algo: 'cryptobox', topic: 'com.e2ee.topic' });
    expect(results['plain_event']).toEqual({ args: ['plain'], kwargs: {}, enc_algo: null, topic: 'com.plain.topic' });
    expect(results['invocation']).toEqual({ args: ['hello', 2 ** 40], kwargs: { tag: 'ü' }, enc_algo: 'cryptobox' });
    expect(results['result']).toMatchObject({ args: ['hello', 2 ** 40], kwargs: { tag: 'ü', reply: 'encrypted too' } });
    expect(results['error']).toEqual({ uri: 'com.e2ee.error.refused', args: ['secret reason', 'why'], kwargs: { code: 7 }, enc_algo: 'cryptobox' });

    // On the wire: the payload is one opaque binary in place of Arguments, with enc_* in Details.
    const event = await witness.next();
    expect(event[0]).toBe(MessageCode.Event);
    expect(event).toHaveLength(5);
    expect(event[3]).toMatchObject({ enc_algo: 'cryptobox', enc_serializer: 'json' });
    expect(event[4]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(event[4] as Uint8Array).toString('utf8')).not.toContain('secret');
  });
});
