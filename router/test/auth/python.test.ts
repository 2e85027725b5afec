/**
 * WAMP-Cryptosign with autobahn-python (Debian's python3-autobahn, asyncio, PyNaCl): its
 * CryptosignKey joins by public key alone and with an authid, over every serializer; an unknown
 * key is refused with authentication_failed. router/test/python/cryptosign.py is the client.
 *
 * As in ../interop/python.test.ts, the interpreter is /usr/bin/python3 (SWITCHBOARD_PYTHON
 * overrides it), and a missing python3-autobahn FAILS the test on purpose (.ci/run installs it).
 */
import { describe, expect, it } from 'vitest';
import { startTestRouter } from '../helpers.js';
import { runPythonProbe } from '../python/support.js';
import type { ProbeRun } from '../python/support.js';
import { SERIALIZERS, ed25519FromSeed } from './support.js';

/** Runs cryptosign.py with `args`. */
function probe(args: string[]): Promise<ProbeRun> {
  return runPythonProbe('cryptosign.py', [...args, '10'], 'python3-autobahn python3-cbor2 python3-msgpack');
}

const KEY = ed25519FromSeed('d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd');
const STRANGER = '6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b';

describe.each(SERIALIZERS)('autobahn-python cryptosign over %s', (serializer) => {
  it('joins by key alone and with its authid; an unknown key is refused', { timeout: 60_000 }, async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', roles: [{ name: 'device' }] }],
      listeners: [
        {
          type: 'websocket',
          auth: { cryptosign: { type: 'static', principals: { 'sensor@example.com': { role: 'device', authorized_keys: [KEY.publicKeyHex] } } } },
        },
      ],
    });
    for (const authid of ['-', 'sensor@example.com']) {
      const { code, report, stderr } = await probe([router.url, serializer, KEY.seedHex, authid]);
      expect(code, stderr).toBe(0);
      expect(report['pubkey']).toBe(KEY.publicKeyHex);
      expect(report['joined'], JSON.stringify(report)).toEqual({
        realm: 'realm1',
        authid: 'sensor@example.com',
        authrole: 'device',
        authmethod: 'cryptosign',
        authprovider: 'static',
      });
    }
    const refused = await probe([router.url, serializer, STRANGER, '-']);
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.report['aborted']).toEqual({ reason: 'wamp.error.authentication_failed', message: 'authentication failed' });
  });
});
