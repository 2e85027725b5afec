/**
 * TLS on WebSocket listeners: wss with a self-signed certificate made by openssl, relative file
 * paths resolved against the config file, mutual TLS, and config errors naming field and file.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import { ConfigError, Router, loadConfig, silentLogger } from '@switchboard/router';
import { loadTls, tlsProblems } from '../../src/config/tls.js';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { selfSignedCertificate } from '../transports/support.js';
import { configError, tempDir, writeConfig } from './support.js';

/** Resolves with the error a WebSocket connection fails with (fails the test if it opens). */
function connectionError(url: string, options: WebSocket.ClientOptions): Promise<Error> {
  const ws = new WebSocket(url, ['wamp.2.json'], options);
  onTestFinished(() => ws.terminate());
  return within(
    new Promise<Error>((resolve, reject) => {
      ws.once('open', () => reject(new Error('the connection opened')));
      ws.once('error', resolve);
    }),
    5000,
    'the connection to fail',
  );
}

describe('wss', () => {
  it('a websocket listener with tls serves wss; a client trusting the certificate joins', async () => {
    const { cert, key, ca } = await selfSignedCertificate();
    const router = await startTestRouter({ listeners: [{ type: 'websocket', tls: { cert, key } }] });
    expect(router.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(router.addresses[0]?.secure).toBe(true);

    const peer = await RawPeer.join(router.url, 'json', 'realm1', { ca });
    expect(peer.welcome[0]).toBe(MessageCode.Welcome);
    peer.send([MessageCode.Subscribe, peer.nextRequest(), {}, 'com.tls']);
    expect((await peer.next())[0]).toBe(MessageCode.Subscribed);

    // A client that does not trust the certificate never gets to WAMP.
    expect((await connectionError(router.url, {})).message).toMatch(/self[- ]signed/i);
  });

  it("relative tls paths in a config file are read from the file's directory", async () => {
    const { cert, key, ca } = await selfSignedCertificate();
    const dir = tempDir();
    copyFileSync(cert, join(dir, 'server.crt'));
    copyFileSync(key, join(dir, 'server.key'));
    const path = writeConfig(
      { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, tls: { cert: 'server.crt', key: './server.key' } }] },
      'config.json',
      dir,
    );

    const { file } = loadConfig(path);
    expect(file.listeners?.[0]?.tls).toEqual({ cert: join(dir, 'server.crt'), key: join(dir, 'server.key') });

    const router = new Router({ config: file, logger: silentLogger() });
    await router.start();
    onTestFinished(() => router.stop());
    const peer = await RawPeer.join(router.url, 'cbor', 'realm1', { ca });
    expect(peer.welcome[0]).toBe(MessageCode.Welcome);
  });

  it('requestCert: only clients with a certificate signed by ca get in (mutual TLS)', async () => {
    const server = await selfSignedCertificate();
    const client = await selfSignedCertificate(); // self-signed: it is its own CA
    const router = await startTestRouter({
      listeners: [{ type: 'websocket', tls: { cert: server.cert, key: server.key, ca: client.cert, requestCert: true } }],
    });

    const peer = await RawPeer.join(router.url, 'json', 'realm1', { ca: server.ca, cert: readFileSync(client.cert), key: readFileSync(client.key) });
    expect(peer.welcome[0]).toBe(MessageCode.Welcome);

    await connectionError(router.url, { ca: server.ca });
    const stranger = await selfSignedCertificate();
    await connectionError(router.url, { ca: server.ca, cert: readFileSync(stranger.cert), key: readFileSync(stranger.key) });
  });
});

describe('loadTls', () => {
  it('reads the PEM files', async () => {
    const { cert, key, ca } = await selfSignedCertificate();
    const credentials = loadTls({ cert, key, ca: [cert] }, '/listeners/0/tls');
    expect(credentials.cert).toEqual(ca);
    expect(credentials.key).toEqual(readFileSync(key));
    expect(credentials.ca).toEqual([ca]);
    expect(credentials.requestCert).toBe(false);
  });

  it('names the field and the file of every file it cannot read', () => {
    const error = configError(() => loadTls({ cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem', ca: ['/nonexistent/ca.pem'] }, '/listeners/2/tls'));
    expect(error.problems).toEqual([
      expect.stringMatching(/^\/listeners\/2\/tls\/cert: cannot read \/nonexistent\/c\.pem: ENOENT/),
      expect.stringMatching(/^\/listeners\/2\/tls\/key: cannot read \/nonexistent\/k\.pem: ENOENT/),
      expect.stringMatching(/^\/listeners\/2\/tls\/ca\/0: cannot read \/nonexistent\/ca\.pem: ENOENT/),
    ]);
  });

  it('a key that does not belong to the certificate, or a file that is not PEM, is a config error', async () => {
    const a = await selfSignedCertificate();
    const b = await selfSignedCertificate();
    const mismatch = configError(() => loadTls({ cert: a.cert, key: b.key }, '/listeners/0/tls'));
    expect(mismatch.problems).toEqual([expect.stringMatching(new RegExp(`^/listeners/0/tls: '${a.cert}' and '${b.key}' do not make a TLS server: .*`))]);
    const notPem = writeConfig('not a certificate', 'cert.pem');
    expect(configError(() => loadTls({ cert: notPem, key: a.key }, '/listeners/0/tls')).problems).toEqual([
      expect.stringContaining('do not make a TLS server'),
    ]);
  });

  it('tlsProblems checks every listener (what `switchboard check` reports)', async () => {
    const { cert, key } = await selfSignedCertificate();
    expect(tlsProblems([{ tls: { cert, key } }, {}])).toEqual([]);
    expect(tlsProblems(undefined)).toEqual([]);
    expect(tlsProblems([{}, { tls: { cert, key: '/nonexistent/key.pem' } }])).toEqual([
      expect.stringMatching(/^\/listeners\/1\/tls\/key: cannot read \/nonexistent\/key\.pem/),
    ]);
  });

  it('a router whose tls files cannot be read does not start, and says which field', async () => {
    const router = new Router({
      config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } }] },
      logger: silentLogger(),
    });
    const error: unknown = await router.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]).toMatch(/^\/listeners\/0\/tls\/cert: cannot read \/nonexistent\/cert\.pem/);
  });
});
