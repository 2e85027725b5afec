/**
 * Interop over RawSocket with Debian's python3-autobahn (asyncio): router/test/python/rawsocket.py
 * runs basic.py's checks (own RPC and pub/sub; calls and events to and from an autobahn-js peer on
 * WebSocket, same realm) over rs:// with each serializer, over rss:// (TLS) and over a Unix socket.
 *
 * Like interop/python.test.ts these FAIL, never skip, without python3-autobahn, python3-cbor2 and
 * python3-msgpack (.ci/run installs them); SWITCHBOARD_PYTHON overrides /usr/bin/python3.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, onTestFinished } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { startTestRouter } from '../helpers.js';
import { pythonRawSocketProbe } from './python-support.js';
import { selfSignedCertificate } from './support.js';

async function probe(config: RouterConfigFile, url: (router: Router) => string, serializer: SerializerName, cafile?: string): Promise<void> {
  const router = await startTestRouter(config);
  await pythonRawSocketProbe(router.url, url(router), serializer, cafile);
}

describe.each(['json', 'msgpack', 'cbor'] as const)('autobahn-python over RawSocket (TCP) with %s', (serializer) => {
  it('rawsocket.py: RPC and pub/sub with an autobahn-js WebSocket peer on the same realm', { timeout: 40_000 }, async () => {
    await probe({ listeners: [{ type: 'websocket' }, { type: 'rawsocket' }] }, (router) => router.addresses[1]!.url, serializer);
  });
});

describe('autobahn-python over RawSocket, other carriers', () => {
  it('on the WebSocket port (rawsocket: true), json', { timeout: 40_000 }, async () => {
    await probe({ listeners: [{ type: 'websocket', rawsocket: true }] }, (router) => router.addresses[0]!.rawsocketUrl!, 'json');
  });

  it('over a Unix domain socket, msgpack', { timeout: 40_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-py-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'router.sock');
    await probe({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', path }] }, () => `rs://unix:${path}`, 'msgpack');
  });

  it('over TLS (rss://, self-signed certificate), cbor', { timeout: 40_000 }, async () => {
    const { cert, key } = await selfSignedCertificate();
    await probe(
      { listeners: [{ type: 'websocket' }, { type: 'rawsocket', tls: { cert, key } }] },
      (router) => router.addresses[1]!.url.replace('127.0.0.1', 'localhost'),
      'cbor',
      cert,
    );
  });
});
