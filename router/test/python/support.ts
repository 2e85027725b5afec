/**
 * Running the autobahn-python probes in this folder from the tests: the interpreter is Debian's
 * /usr/bin/python3 (SWITCHBOARD_PYTHON overrides it), not whatever python3 is first on PATH.
 *
 * A missing package FAILS the test, on purpose, never skips it, and the failure says what to
 * install (.ci/run installs them all): requirePythonAutobahn() and requirePyNaCl() check before a
 * probe runs, runChecksProbe() does so itself, and runPythonProbe() names the packages its caller
 * gives when the probe exits 3 (common.py's EXIT_MISSING).
 *
 * - runChecksProbe: basic.py, e2ee.py, rawsocket.py (URL SERIALIZER TIMEOUT_S …, {"ok", "results"});
 * - nodeCounterpart: the autobahn-js peer whose procedures basic.py's Probe calls;
 * - runPythonProbe: the authentication probes cryptosign.py, scram.py, tlsauth.py.
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import autobahn from 'autobahn';
import type { SerializerName } from '@switchboard/schemas';
import { runProcess, within } from '../helpers.js';
import type { ProcessRun } from '../helpers.js';
import { autobahnPublish } from '../interop/clients.js';
import type { AutobahnPeer } from '../interop/clients.js';

export const PYTHON = process.env['SWITCHBOARD_PYTHON'] ?? '/usr/bin/python3';
const PROBE_TIMEOUT_S = 15;

const probePath = (script: string): string => fileURLToPath(new URL(`./${script}`, import.meta.url));

/** Runs `PYTHON args…`; killed when the test finishes; bounded by `ms`. */
export function runPython(args: string[], ms: number, packages = 'python3-autobahn'): Promise<ProcessRun> {
  return runProcess(PYTHON, args, {
    ms,
    what: `${PYTHON} ${args.join(' ')}`,
    env: { PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' },
    required: `Debian's python3 with ${packages} is required (.ci/run installs them).`,
  });
}

/** Fails, naming what to install, unless `PYTHON -c code` exits 0; resolves with its stdout. */
async function requireImports(code: string, what: string, install: string, installedBy = ' (.ci/run does this)'): Promise<string> {
  const run = await runPython(['-c', code], 15_000, install);
  if (run.code !== 0) {
    throw new Error(
      `${PYTHON} cannot import ${what} (exit ${run.code}): ${run.stderr.trim().split('\n').pop() ?? ''}\n` +
        `Install Debian's packages: apt-get install -y ${install}${installedBy}.`,
    );
  }
  return run.stdout.trim();
}

let autobahnChecked: Promise<string> | undefined;

/** python3-autobahn, python3-cbor2 and python3-msgpack: resolves with autobahn's version. */
export function requirePythonAutobahn(): Promise<string> {
  autobahnChecked ??= requireImports(
    'import autobahn, cbor2, msgpack; print(autobahn.__version__)',
    'autobahn, cbor2 and msgpack',
    'python3-autobahn python3-cbor2 python3-msgpack',
  );
  return autobahnChecked;
}

let naclChecked: Promise<string> | undefined;

/** PyNaCl, which autobahn's cryptobox (e2ee.py) needs. */
export function requirePyNaCl(): Promise<string> {
  naclChecked ??= requireImports('import nacl; from autobahn.wamp.cryptobox import KeyRing', 'PyNaCl and autobahn.wamp.cryptobox', 'python3-nacl', '');
  return naclChecked;
}

/**
 * Runs basic.py, e2ee.py or rawsocket.py (`script URL SERIALIZER TIMEOUT_S …more`) and expects it to
 * exit 0 with {"ok": true}: its results.
 */
export async function runChecksProbe(script: string, url: string, serializer: SerializerName, more: string[] = []): Promise<Record<string, unknown>> {
  await requirePythonAutobahn();
  const run = await runPython([probePath(script), url, serializer, String(PROBE_TIMEOUT_S), ...more], (PROBE_TIMEOUT_S + 10) * 1000);
  const context = `exit ${run.code}${run.signal ? ` (${run.signal})` : ''}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.code, context).toBe(0);
  const report = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as { ok: boolean; results: Record<string, unknown> };
  expect(report.ok, context).toBe(true);
  return report.results;
}

/** Node's view of bytes in a probe's JSON output. */
export const asBytesJson = (bytes: Uint8Array): { $bytes: string } => ({ $bytes: Buffer.from(bytes).toString('base64') });

export const NODE_EVENT_BLOB = Uint8Array.from([0, 1, 2, 3, 252, 253, 254, 255]);

/** The Node-side peer of basic.py's Probe (basic.py, rawsocket.py): the procedures it calls, and the event it asks for. */
export async function nodeCounterpart(peer: AutobahnPeer): Promise<void> {
  const { session } = peer;
  await within(
    session.register('com.interop.node.echo', (args, kwargs) => new autobahn.Result(args, kwargs)),
    3000,
    'REGISTERED echo',
  );
  await within(
    session.register('com.interop.node.fail', (args) => {
      throw new autobahn.Error('com.interop.error.node', ['node says no', ...args], { code: 7, detail: { ü: 'x', n: 2 ** 53 } });
    }),
    3000,
    'REGISTERED fail',
  );
  await within(
    session.register('com.interop.node.publish_to', async (args) => {
      const topic = String(args[0]);
      const publication = await autobahnPublish(peer, topic, ['from node', 2 ** 53, Buffer.from(NODE_EVENT_BLOB)], {
        text: '日本語',
        blob: Buffer.from(NODE_EVENT_BLOB),
        nested: { n: -(2 ** 53) },
      });
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

export interface ProbeRun {
  code: number | null;
  report: Record<string, unknown>;
  stderr: string;
}

/**
 * Runs one of the authentication probes (cryptosign.py, scram.py, tlsauth.py) and reads its one-line
 * JSON report. `packages`: the Debian packages the probe needs, named in the failure when one is missing.
 */
export async function runPythonProbe(script: string, args: string[], packages: string): Promise<ProbeRun> {
  const { code, stdout, stderr } = await runPython([probePath(script), ...args], 20_000, packages);
  const last = stdout.trim().split('\n').pop() ?? '';
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`${script} printed no report (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  if (code === 3) throw new Error(`${PYTHON} lacks a package ${script} needs: ${String(report['error'])}. Install ${packages} (.ci/run does).`);
  return { code, report, stderr };
}
