/**
 * WAMP-Cryptosign with autobahn-python (Debian's python3-autobahn, asyncio, PyNaCl): its
 * CryptosignKey joins by public key alone and with an authid, over every serializer; an unknown
 * key is refused with authentication_failed. router/test/python/cryptosign.py is the client.
 *
 * As in ../interop/python.test.ts, the interpreter is /usr/bin/python3 (SWITCHBOARD_PYTHON
 * overrides it), and a missing python3-autobahn FAILS the test on purpose (.ci/run installs it).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startTestRouter, within } from '../helpers.js';
import { SERIALIZERS, ed25519FromSeed } from './support.js';

const PYTHON = process.env['SWITCHBOARD_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../python/cryptosign.py', import.meta.url));

/** Runs the probe; killed when the test finishes; bounded. */
async function probe(args: string[]): Promise<{ code: number | null; report: Record<string, unknown>; stderr: string }> {
  const child = spawn(PYTHON, [SCRIPT, ...args, '10'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await within(
    new Promise<number | null>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot run ${PYTHON}: ${err.message}. Debian's python3 with python3-autobahn is required (.ci/run installs it).`)));
      child.once('close', (c) => resolve(c));
    }),
    20_000,
    `${PYTHON} cryptosign.py (stderr so far: ${stderr.slice(-500)})`,
  );
  const last = stdout.trim().split('\n').pop() ?? '';
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`cryptosign.py printed no report (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  if (code === 3) throw new Error(`${PYTHON} lacks autobahn, cbor2 or msgpack: ${String(report['error'])}. Install python3-autobahn python3-cbor2 python3-msgpack (.ci/run does).`);
  return { code, report, stderr };
}

const KEY = ed25519FromSeed('d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd');
const STRANGER = '6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b';

describe.each(SERIALIZERS)('autobahn-python cryptosign over %s', (serializer) => {
  it('joins by key alone and with its authid; an unknown key is refused', { timeout: 60_000 }, async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', roles: [{ name: 'device' }] }],
      listeners: [{ type: 'websocket', auth: { cryptosign: { type: 'static', principals: { 'sensor@example.com': { role: 'device', authorized_keys: [KEY.publicKeyHex] } } } } }],
    });
    for (const authid of ['-', 'sensor@example.com']) {
      const { code, report, stderr } = await probe([router.url, serializer, KEY.seedHex, authid]);
      expect(code, stderr).toBe(0);
      expect(report['pubkey']).toBe(KEY.publicKeyHex);
      expect(report['joined'], JSON.stringify(report)).toEqual({ realm: 'realm1', authid: 'sensor@example.com', authrole: 'device', authmethod: 'cryptosign', authprovider: 'static' });
    }
    const refused = await probe([router.url, serializer, STRANGER, '-']);
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.report['aborted']).toEqual({ reason: 'wamp.error.authentication_failed', message: 'authentication failed' });
  });
});
