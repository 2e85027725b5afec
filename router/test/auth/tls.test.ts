/**
 * The `tls` authmethod: client certificates verified by Node TLS against the listener's `ca`,
 * mapped to principals by SHA-1 or SHA-256 fingerprint (static), by subject CN (`cn`), or by a
 * dynamic authenticator that gets the certificate in details.transport.client_cert. A missing,
 * unverified or unknown certificate never authenticates.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { connect } from '@switchboard/client';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import type { TlsConfig } from '../../src/auth/index.js';
import { startTestRouter, within } from '../helpers.js';
import { Raw, authenticatorComponent, selfSigned } from './support.js';
import { runPythonProbe } from '../python/support.js';
import { requireSystem } from '../../../test/support/system.js';

const openssl = (args: string[], cwd: string): Promise<void> =>
  within(
    new Promise<void>((resolve, reject) =>
      execFile(requireSystem('openssl'), args, { cwd }, (error, _out, stderr) =>
        error === null ? resolve() : reject(new Error(`openssl ${args[0]} failed: ${stderr}`)),
      ),
    ),
    15_000,
    `openssl ${args[0]}`,
  );

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

interface Pki {
  dir: string;
  /** CA file the listener trusts for client certificates. */
  ca: string;
  /** A client certificate (PEM) and key, by name. */
  client(name: string): { cert: Buffer; key: Buffer; sha1: string; sha256: string; serial: string };
}

/** A CA, a second (untrusted) CA, and client certificates: client_0 and device-7 from the CA, rogue from the other. */
async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-auth-'));
  for (const ca of ['ca', 'other-ca'])
    await openssl(['req', '-x509', ...EC, '-days', '1', '-subj', `/CN=${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.pem`], dir);
  const issue = async (name: string, ca: string): Promise<void> => {
    await openssl(['req', ...EC, '-subj', `/O=Switchboard Tests/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    await openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.pem`],
      dir,
    );
  };
  await issue('client_0', 'ca');
  await issue('device-7', 'ca');
  await issue('rogue', 'other-ca');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    client(name) {
      const cert = readFileSync(join(dir, `${name}.pem`));
      const x509 = new X509Certificate(cert);
      return { cert, key: readFileSync(join(dir, `${name}.key`)), sha1: x509.fingerprint, sha256: x509.fingerprint256, serial: x509.serialNumber };
    },
  };
}

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
  return () => rmSync(pki.dir, { recursive: true, force: true });
}, 60_000);

async function tlsRouter(
  auth: NonNullable<RouterConfigFile['listeners']>[number]['auth'],
  clientCertificates: 'request' | 'require' = 'request',
  extra: RouterConfigFile['listeners'] = [],
) {
  const server = await selfSigned();
  const router = await startTestRouter({
    listeners: [{ type: 'websocket', tls: { cert: server.cert, key: server.key, ca: pki.ca, clientCertificates }, auth }, ...(extra ?? [])],
  });
  return { router, url: router.addresses[0]!.url, serverCa: server.ca };
}

/** HELLO over wss with an optional client certificate: the WELCOME or ABORT that ends it. */
async function helloOver(
  url: string,
  serverCa: Buffer,
  client: { cert: Buffer; key: Buffer } | undefined,
  details: Record<string, unknown>,
): Promise<unknown[]> {
  const raw = await Raw.open(url, { ca: serverCa, ...(client !== undefined && { cert: client.cert, key: client.key }) });
  raw.hello('realm1', details);
  return raw.next();
}

const principals = (): TlsConfig => ({
  type: 'static',
  principals: {
    client_0: { 'certificate-sha1': pki.client('client_0').sha1, role: 'backend' },
    // Lower case without colons: the spelling does not matter.
    device: { 'certificate-sha256': pki.client('device-7').sha256.replace(/:/g, '').toLowerCase(), role: 'device' },
  },
});

describe('tls authmethod (static)', () => {
  it('our client presents its certificate with the websocket option and joins as the principal', async () => {
    const { url, serverCa } = await tlsRouter({ tls: principals() });
    const client = pki.client('client_0');
    const session = await connect({
      url,
      realm: 'realm1',
      reconnect: false,
      auth: { authmethods: ['tls'] },
      websocket: { ca: serverCa, cert: client.cert, key: client.key },
    });
    expect(session.details).toMatchObject({ authid: 'client_0', authrole: 'backend', authmethod: 'tls' });
    await session.leave();
    // Without a certificate the same client is refused.
    await expect(connect({ url, realm: 'realm1', reconnect: false, auth: { authmethods: ['tls'] }, websocket: { ca: serverCa } })).rejects.toMatchObject({
      reason: 'wamp.error.authentication_failed',
    });
  });

  it('welcomes a certificate by its SHA-1 fingerprint as its principal', async () => {
    const { url, serverCa } = await tlsRouter({ tls: principals() });
    const welcome = await helloOver(url, serverCa, pki.client('client_0'), { authmethods: ['tls'] });
    expect(welcome[0]).toBe(MessageCode.Welcome);
    expect(welcome[2]).toMatchObject({ authid: 'client_0', authrole: 'backend', authmethod: 'tls', authprovider: 'static' });
  });

  it('welcomes a certificate by its SHA-256 fingerprint, and with the authid the client names', async () => {
    const { url, serverCa } = await tlsRouter({ tls: principals() });
    const welcome = await helloOver(url, serverCa, pki.client('device-7'), { authmethods: ['tls'], authid: 'device' });
    expect(welcome[2]).toMatchObject({ authid: 'device', authrole: 'device', authmethod: 'tls' });
    // Another principal's authid with this certificate is refused.
    const other = await helloOver(url, serverCa, pki.client('device-7'), { authmethods: ['tls'], authid: 'client_0' });
    expect(other).toEqual([MessageCode.Abort, { message: 'authentication failed' }, 'wamp.error.authentication_failed']);
  });

  it('refuses a verified certificate that matches no principal', async () => {
    const { url, serverCa } = await tlsRouter({
      tls: { type: 'static', principals: { client_0: { 'certificate-sha1': pki.client('client_0').sha1, role: 'backend' } } },
    });
    const abort = await helloOver(url, serverCa, pki.client('device-7'), { authmethods: ['tls'] });
    expect(abort).toEqual([MessageCode.Abort, { message: 'authentication failed' }, 'wamp.error.authentication_failed']);
  });

  it('does not offer tls to a certificate from another CA, or to no certificate', async () => {
    const { url, serverCa } = await tlsRouter({ tls: principals(), anonymous: { role: 'guest' } });
    for (const client of [pki.client('rogue'), undefined]) {
      const abort = await helloOver(url, serverCa, client, { authmethods: ['tls'] });
      expect(abort[0]).toBe(MessageCode.Abort);
      expect(abort[2]).toBe('wamp.error.authentication_failed');
      expect((abort[1] as { message: string }).message).toContain('tls: not available on this connection');
      // The client's next method is tried.
      const welcome = await helloOver(url, serverCa, client, { authmethods: ['tls', 'anonymous'] });
      expect(welcome[2]).toMatchObject({ authmethod: 'anonymous', authrole: 'guest' });
    }
  });

  it('answers no_auth_method to a client that does not ask for tls on a tls-only listener', async () => {
    const { url, serverCa } = await tlsRouter({ tls: principals() });
    const abort = await helloOver(url, serverCa, pki.client('client_0'), { authmethods: ['ticket'], authid: 'client_0' });
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.no_auth_method');
  });

  it('with clientCertificates "require", refuses a certificate from another CA during the handshake', async () => {
    const { url, serverCa } = await tlsRouter({ tls: principals() }, 'require');
    const rogue = pki.client('rogue');
    const ws = new WebSocket(url, ['wamp.2.json'], { ca: serverCa, cert: rogue.cert, key: rogue.key });
    onTestFinished(() => ws.terminate());
    const outcome = await within(
      new Promise<string>((resolve) => {
        ws.once('open', () => resolve('open'));
        ws.once('error', () => resolve('refused'));
      }),
      5000,
      'the handshake outcome',
    );
    expect(outcome).toBe('refused');
    // A certificate from the CA still gets through.
    const welcome = await helloOver(url, serverCa, pki.client('client_0'), { authmethods: ['tls'] });
    expect(welcome[2]).toMatchObject({ authid: 'client_0', authmethod: 'tls' });
  });

  it('with cn, names any other verified certificate by its subject CN', async () => {
    const { url, serverCa } = await tlsRouter({
      tls: { type: 'static', principals: { client_0: { 'certificate-sha1': pki.client('client_0').sha1, role: 'backend' } }, cn: { role: 'device' } },
    });
    expect((await helloOver(url, serverCa, pki.client('device-7'), { authmethods: ['tls'] }))[2]).toMatchObject({
      authid: 'device-7',
      authrole: 'device',
      authmethod: 'tls',
    });
    expect((await helloOver(url, serverCa, pki.client('client_0'), { authmethods: ['tls'] }))[2]).toMatchObject({ authid: 'client_0', authrole: 'backend' });
    expect((await helloOver(url, serverCa, pki.client('rogue'), { authmethods: ['tls'] }))[2]).toBe('wamp.error.authentication_failed');
  });
});

describe('tls authmethod (dynamic)', () => {
  it('hands the certificate to the authenticator in details.transport.client_cert; the CN is the default authid', async () => {
    const { router, url, serverCa } = await tlsRouter({ tls: { type: 'dynamic', authenticator: 'com.example.authenticate' } }, 'request', [
      { type: 'websocket', auth: { anonymous: {} } },
    ]);
    const calls = await authenticatorComponent(router.addresses[1]!.url, 'realm1', 'com.example.authenticate', (call) => {
      const cert = (call.details['transport'] as Record<string, unknown>)['client_cert'] as Record<string, unknown>;
      return cert['cn'] === 'client_0' ? { role: 'backend' } : { role: 'device', authid: `dev:${String(cert['cn'])}` };
    });
    const client = pki.client('client_0');
    const welcome = await helloOver(url, serverCa, client, { authmethods: ['tls'] });
    expect(welcome[2]).toMatchObject({ authid: 'client_0', authrole: 'backend', authmethod: 'tls', authprovider: 'dynamic' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.realm).toBe('realm1');
    expect(calls[0]!.details).toMatchObject({ authmethod: 'tls', transport: { type: 'websocket' } });
    const cert = (calls[0]!.details['transport'] as Record<string, unknown>)['client_cert'];
    expect(cert).toMatchObject({
      subject: { CN: 'client_0', O: 'Switchboard Tests' },
      issuer: { CN: 'ca' },
      cn: 'client_0',
      sha1: client.sha1,
      sha256: client.sha256,
      serial: client.serial.toUpperCase(),
      authorized: true,
    });
    expect(typeof (cert as Record<string, unknown>)['not_before']).toBe('string');
    expect(typeof (cert as Record<string, unknown>)['not_after']).toBe('string');
    expect((await helloOver(url, serverCa, pki.client('device-7'), { authmethods: ['tls'] }))[2]).toMatchObject({ authid: 'dev:device-7', authrole: 'device' });
    // An unverified certificate never reaches the authenticator.
    expect((await helloOver(url, serverCa, pki.client('rogue'), { authmethods: ['tls'] }))[2]).toBe('wamp.error.authentication_failed');
    expect(calls).toHaveLength(2);
  });
});

describe('tls authmethod with autobahn-python over wss', () => {
  it('joins with a client certificate; without one it is refused', { timeout: 60_000 }, async () => {
    const server = await selfSigned();
    const router = await startTestRouter({
      listeners: [{ type: 'websocket', tls: { cert: server.cert, key: server.key, ca: pki.ca, clientCertificates: 'request' }, auth: { tls: principals() } }],
    });
    // Python verifies the router against the certificate file selfSigned() made.
    const serverCa = join(pki.dir, 'server-ca.pem');
    writeFileSync(serverCa, server.ca);
    const url = router.addresses[0]!.url.replace('127.0.0.1', 'localhost');
    const joined = await runPythonProbe('tlsauth.py', [url, serverCa, join(pki.dir, 'client_0.pem'), join(pki.dir, 'client_0.key'), '10'], 'python3-autobahn');
    expect(joined.code, joined.stderr).toBe(0);
    expect(joined.report['joined'], JSON.stringify(joined.report)).toEqual({
      realm: 'realm1',
      authid: 'client_0',
      authrole: 'backend',
      authmethod: 'tls',
      authprovider: 'static',
    });
    const refused = await runPythonProbe('tlsauth.py', [url, serverCa, '-', '-', '10'], 'python3-autobahn');
    expect(refused.code, refused.stderr).toBe(0);
    expect((refused.report['aborted'] as Record<string, unknown>)['reason']).toBe('wamp.error.authentication_failed');
  });
});

describe('tls authmethod over RawSocket with TLS', () => {
  it('welcomes a client certificate on a rawsocket listener', async () => {
    const server = await selfSigned();
    const router = await startTestRouter({
      listeners: [{ type: 'rawsocket', tls: { cert: server.cert, key: server.key, ca: pki.ca, clientCertificates: 'require' }, auth: { tls: principals() } }],
    });
    const { port } = router.addresses[0]!;
    const client = pki.client('client_0');
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: server.ca, cert: client.cert, key: client.key });
    onTestFinished(() => {
      socket.destroy();
    });
    let buffered = Buffer.alloc(0);
    const waiters: (() => void)[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (const w of waiters.splice(0)) w();
    });
    const read = (n: number): Promise<Buffer> =>
      within(
        new Promise<Buffer>((resolve) => {
          const check = (): void => {
            if (buffered.length >= n) {
              const out = buffered.subarray(0, n);
              buffered = buffered.subarray(n);
              resolve(out);
            } else waiters.push(check);
          };
          check();
        }),
        3000,
        `${n} bytes`,
      );
    await within(new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject)), 3000, 'TLS connect');
    // Handshake: magic 0x7F, max length 2^24 (0xF) and JSON (1).
    socket.write(Buffer.from([0x7f, 0xf1, 0, 0]));
    const reply = await read(4);
    // The router's own maximum (high nibble) and JSON.
    expect([reply[0], reply[1]! & 0x0f]).toEqual([0x7f, 1]);
    const hello = Buffer.from(JSON.stringify([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['tls'] }]));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(hello.length);
    socket.write(Buffer.concat([header, hello]));
    const length = (await read(4)).readUInt32BE(0) & 0xffffff;
    const welcome = JSON.parse((await read(length)).toString('utf8')) as unknown[];
    expect(welcome[0]).toBe(MessageCode.Welcome);
    expect(welcome[2]).toMatchObject({ authid: 'client_0', authrole: 'backend', authmethod: 'tls' });
  });
});
