/**
 * Self-signed certificates for the tests that speak TLS (wss, rss, https, TLS client
 * authentication, nginx in front of the router): one openssl invocation for all of them.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { requireSystem } from './system.js';

/** Writes `cert.pem` and `key.pem` into `dir`: EC P-256, one day, for localhost and 127.0.0.1. */
export function writeSelfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'];
  args.push('-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert);
  return new Promise((resolve, reject) => {
    execFile(requireSystem('openssl'), args, { timeout: 15_000 }, (error, _stdout, stderr) =>
      error === null ? resolve({ cert, key }) : reject(new Error(`openssl failed to make a certificate: ${stderr || error.message}`)),
    );
  });
}

/** A self-signed certificate in a temporary folder removed after the test; `ca` is the certificate itself. */
export async function selfSignedCertificate(): Promise<{ cert: string; key: string; ca: Buffer }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = await writeSelfSignedCertificate(dir);
  return { cert, key, ca: readFileSync(cert) };
}
