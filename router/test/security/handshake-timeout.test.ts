/**
 * Issue #14, item 11: a connection that never sends HELLO, or never answers a CHALLENGE, is closed
 * after the listener's helloTimeoutMs (ABORT switchboard.close.handshake_timeout where the
 * transport can still carry it), counted in /metrics; an established session is never affected.
 * Every transport: WebSocket, RawSocket on a shared port, long-poll.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { checkConfig } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { RawSocketClient, longPollOpen, post, witness } from '../transports/support.js';

const HANDSHAKE_TIMEOUT = 'switchboard.close.handshake_timeout';

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('helloTimeoutMs', () => {
  it('closes a WebSocket that never sends HELLO, counts it, and leaves established sessions alone', async () => {
    const router = await startTestRouter({ metrics: { port: 0 }, listeners: [{ type: 'websocket', helloTimeoutMs: 300 }] });
    const others = await witness(router);
    const started = Date.now();
    const silent = await RawPeer.connect(router.url);
    const abort = await silent.next(3000);
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(HANDSHAKE_TIMEOUT);
    await silent.waitClosed(3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // The witness sessions joined before and outlived the timeout.
    await others.stillWorks();
    expect(await metric(router.metricsUrl!, 'switchboard_handshake_timeouts_total')).toBe(1);
  });

  it('frees the socket soon after, even when the client never answers the close frame', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', helloTimeoutMs: 200 }] });
    const { host, port } = router.addresses[0]!;
    const socket = connect(port, host);
    const started = Date.now();
    // A hand-made upgrade: the client reads nothing and never sends a close frame back.
    socket.write(
      `GET /ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n',
    );
    socket.resume();
    await within(new Promise<void>((resolve) => socket.once('close', () => resolve())), 10_000, 'the router to end the connection');
    // helloTimeoutMs, then a short grace for the closing handshake (ws alone waits 30 s).
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('covers a pending CHALLENGE (even when authTimeoutMs is longer)', async () => {
    const router = await startTestRouter({
      authTimeoutMs: 60_000,
      listeners: [
        { type: 'websocket', helloTimeoutMs: 300, auth: { ticket: { type: 'static', principals: { joe: { ticket: 'secret', role: 'anonymous' } } } } },
      ],
      realms: [
        {
          name: 'realm1',
          roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, subscribe: true, publish: true } }] }],
        },
      ],
    });
    const peer = await RawPeer.connect(router.url);
    peer.send([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['ticket'], authid: 'joe' }]);
    expect((await peer.next())[0]).toBe(MessageCode.Challenge);
    const abort = await peer.next(3000);
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(HANDSHAKE_TIMEOUT);
    await peer.waitClosed(3000);
  });

  it('restarts after GOODBYE: a transport left without a session is closed too', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', helloTimeoutMs: 300 }] });
    const peer = await RawPeer.join(router.url);
    peer.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect((await peer.next())[0]).toBe(MessageCode.Goodbye);
    const abort = await peer.next(3000);
    expect(abort[2]).toBe(HANDSHAKE_TIMEOUT);
    await peer.waitClosed(3000);
  });

  it('closes a RawSocket connection (shared port) that completed the RawSocket handshake but never sends HELLO', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true, helloTimeoutMs: 300 }] });
    const address = router.addresses[0]!;
    const client = await RawSocketClient.open({ host: address.host, port: address.port });
    await client.handshake('json');
    const abort = await client.next(3000);
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(HANDSHAKE_TIMEOUT);
    await client.waitClosed(3000);
  });

  it('closes a long-poll transport whose client polls but never sends HELLO', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', helloTimeoutMs: 300, longpoll: { sessionTimeoutMs: 60_000 } }] });
    const base = router.addresses[0]!.longpollUrl!;
    const { transport } = await longPollOpen(base, ['wamp.2.json']);
    const first = await post(`${base}/${transport}/receive`, undefined, 5000);
    expect(first.status).toBe(200);
    const abort = JSON.parse(first.body.toString()) as unknown[];
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(HANDSHAKE_TIMEOUT);
    // The transport is gone: its ID is forgotten.
    const after = await within(post(`${base}/${transport}/receive`), 5000, 'the next receive');
    expect(after.status).toBe(404);
  });

  it('expires a long-poll transport opened but never used, giving back its address slot', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxLongPollTransportsPerIp: 1, longpoll: { sessionTimeoutMs: 200 } }] });
    const base = router.addresses[0]!.longpollUrl!;
    await longPollOpen(base, ['wamp.2.json']);
    const open = (): Promise<number> => post(`${base}/open`, JSON.stringify({ protocols: ['wamp.2.json'] })).then((r) => r.status);
    expect(await open()).toBe(429);
    await within(
      (async () => {
        while ((await open()) !== 200);
      })(),
      3000,
      'the idle transport to expire',
    );
  });

  it('defaults to 10 s and is validated', async () => {
    const router = await startTestRouter();
    expect(router.config.listeners[0]).toMatchObject({ helloTimeoutMs: 10_000 });
    expect(() => checkConfig({ listeners: [{ type: 'websocket', helloTimeoutMs: 0 }] })).toThrow(/helloTimeoutMs/);
    expect(() => checkConfig({ listeners: [{ type: 'rawsocket', helloTimeoutMs: 5000 }] })).not.toThrow();
  });
});
