/**
 * A session authenticated by its TLS client certificate resumes only on a transport that presents
 * a certificate of the same principal: the listener's `tls` authenticator runs again for the new
 * transport. [ap_session_resumption]
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireSystem } from '../../../test/support/system.js';
import { selfSigned } from '../auth/support.js';
import { startTestRouter, within } from '../helpers.js';
import { dedicated, expectRefused, expectResumed, joinResumable } from './support.js';

const openssl = (args: string[], cwd: string): Promise<void> =>
  within(
    new Promise<void>((resolve, reject) =>
      execFile(requireSystem('openssl'), args, { cwd }, (error, _out, stderr) => (error === null ? resolve() : reject(new Error(`openssl failed: ${stderr}`)))),
    ),
    15_000,
    `openssl ${args[0]}`,
  );

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

describe('resume of a tls session', () => {
  it('needs a certificate of the same principal on the new transport', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-resume-tls-'));
    try {
      await openssl(['req', '-x509', ...EC, '-days', '1', '-subj', '/CN=ca', '-keyout', 'ca.key', '-out', 'ca.pem'], dir);
      for (const name of ['alice', 'bob']) {
        await openssl(['req', ...EC, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
        await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`], dir);
      }
      const client = (name: string) => ({ cert: readFileSync(join(dir, `${name}.pem`)), key: readFileSync(join(dir, `${name}.key`)) });
      const sha1 = (name: string) => new X509Certificate(readFileSync(join(dir, `${name}.pem`))).fingerprint;
      const server = await selfSigned();
      const router = await startTestRouter({
        listeners: [
          {
            type: 'websocket',
            tls: { cert: server.cert, key: server.key, ca: join(dir, 'ca.pem'), clientCertificates: 'request' },
            auth: {
              tls: {
                type: 'static',
                principals: { alice: { 'certificate-sha1': sha1('alice'), role: 'user' }, bob: { 'certificate-sha1': sha1('bob'), role: 'user' } },
              },
            },
          },
        ],
      });
      const url = router.url;
      const a = await joinResumable(url, { authmethods: ['tls'] }, { ca: server.ca, ...client('alice') });
      expect(a.welcome[2]).toMatchObject({ authid: 'alice', authmethod: 'tls' });
      a.ws.terminate();
      await within(
        new Promise<void>((resolve) => {
          const check = (): void => (router.realm('realm1')!.sessions.get(a.session as never)?.attached === false ? resolve() : void setTimeout(check, 5));
          check();
        }),
        3000,
        'the detach',
      );
      // No certificate, or another principal's: refused, and the token still works afterwards.
      expectRefused((await dedicated(url, a.session, a.token, { ca: server.ca })).answer);
      expectRefused((await dedicated(url, a.session, a.token, { ca: server.ca, ...client('bob') })).answer);
      expectResumed((await dedicated(url, a.session, a.token, { ca: server.ca, ...client('alice') })).answer, a.session);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
