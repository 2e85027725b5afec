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
import { describe, expect, it } from 'vitest';
import { scramCredentials } from '@switchboard/router';
import type { RouterConfigFile, ScramPrincipal } from '@switchboard/router';
import { startTestRouter } from '../helpers.js';
import { runPythonProbe } from '../python/support.js';
import type { ProbeRun } from '../python/support.js';
import { SERIALIZERS } from './support.js';

/** Runs scram.py with `args`. */
function probe(args: string[]): Promise<ProbeRun> {
  return runPythonProbe('scram.py', args, 'python3-autobahn python3-argon2 python3-passlib python3-cbor2 python3-msgpack');
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
      expect(joined.report['joined'], JSON.stringify(joined.report)).toEqual({
        realm: 'realm1',
        authid: AUTHID,
        authrole: 'frontend',
        authmethod: 'scram',
        authprovider: 'static',
      });
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
