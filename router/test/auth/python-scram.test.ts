/**
 * WAMP-SCRAM with autobahn-python (Debian's python3-autobahn with python3-argon2 and
 * python3-passlib, asyncio): autobahn's derive_scram_credential and our scramCredentials agree on
 * the stored values; its AuthScram joins with argon2id-13 over every serializer and verifies the
 * router's server signature; a wrong password and an unknown authid are refused alike.
 * router/test/python/scram.py is the client.
 *
 * As in ./python.test.ts, the interpreter is /usr/bin/python3 (SWITCHBOARD_PYTHON overrides it),
 * and missing packages FAIL the test on purpose (.ci/run installs them).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { scramCredentials } from '@switchboard/router';
import type { RouterConfigFile, ScramPrincipal } from '@switchboard/router';
import { startTestRouter, within } from '../helpers.js';
import { SERIALIZERS } from './support.js';

const PYTHON = process.env['SWITCHBOARD_PYTHON'] ?? '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../python/scram.py', import.meta.url));

/** Runs the probe; killed when the test finishes; bounded. */
async function probe(args: string[]): Promise<{ code: number | null; report: Record<string, unknown>; stderr: string }> {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await within(
    new Promise<number | null>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot run ${PYTHON}: ${err.message}. Debian's python3 with python3-autobahn and python3-argon2 is required (.ci/run installs them).`)));
      child.once('close', (c) => resolve(c));
    }),
    20_000,
    `${PYTHON} scram.py (stderr so far: ${stderr.slice(-500)})`,
  );
  const last = stdout.trim().split('\n').pop() ?? '';
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`scram.py printed no report (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  if (code === 3) throw new Error(`${PYTHON} lacks autobahn's SCRAM support: ${String(report['error'])}. Install python3-autobahn python3-argon2 python3-passlib python3-cbor2 python3-msgpack (.ci/run does).`);
  return { code, report, stderr };
}

const AUTHID = 'alice@example.com';
const PASSWORD = 'wonderland';
const SALT = '000102030405060708090a0b0c0d0e0f';
/** autobahn's derive_scram_credential parameters. */
const DERIVE = { kdf: 'argon2id-13', iterations: 4096, memory: 512, salt: SALT } as const;

describe('autobahn-python scram', () => {
  it('derive_scram_credential and scramCredentials compute the same stored values', { timeout: 30_000 }, async () => {
    const { code, report, stderr } = await probe(['--derive', AUTHID, PASSWORD, SALT]);
    expect(code, stderr).toBe(0);
    expect(await scramCredentials(PASSWORD, DERIVE)).toEqual(report);
  });

  describe.each(SERIALIZERS)('over %s', (serializer) => {
    it('joins with argon2id-13 and verifies the server signature; a wrong password and an unknown authid are refused', { timeout: 60_000 }, async () => {
      const principal: ScramPrincipal = { role: 'frontend', ...(await scramCredentials(PASSWORD, DERIVE)) };
      const config: RouterConfigFile = {
        realms: [{ name: 'realm1', roles: [{ name: 'frontend' }] }],
        listeners: [{ type: 'websocket', auth: { scram: { type: 'static', principals: { [AUTHID]: principal } } } }],
      };
      const router = await startTestRouter(config);
      const joined = await probe([router.url, serializer, AUTHID, PASSWORD, '10']);
      expect(joined.code, joined.stderr).toBe(0);
      expect(joined.report['joined'], JSON.stringify(joined.report)).toEqual({ realm: 'realm1', authid: AUTHID, authrole: 'frontend', authmethod: 'scram', authprovider: 'static' });
      expect(joined.report['server_verified']).toBe(true);
      const failed = { reason: 'wamp.error.authentication_failed', message: 'authentication failed' };
      const wrong = await probe([router.url, serializer, AUTHID, 'looking-glass', '10']);
      expect(wrong.code, wrong.stderr).toBe(0);
      expect(wrong.report['aborted']).toEqual(failed);
      const unknown = await probe([router.url, serializer, 'mallory@example.com', PASSWORD, '10']);
      expect(unknown.code, unknown.stderr).toBe(0);
      expect(unknown.report['aborted']).toEqual(failed);
    });
  });
});
