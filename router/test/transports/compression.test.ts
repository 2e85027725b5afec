/**
 * permessage-deflate (RFC 7692) on a WebSocket listener: opt-in with `compression`, negotiated only
 * with clients that offer it, messages under `threshold` sent as they are, every path (EVENTs on
 * the shared-frame path, RESULTs, batched ones uncompressed) intact and in order, and the size limit applied to the
 * inflated message: a small compressed frame that inflates past maxMessageBytes closes its
 * connection with 1009 and is counted, and the router goes on.
 */
import type { Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { FrameQueue, RawPeer, startTestRouter, within } from '../helpers.js';
import { witness } from './support.js';

/** Joins with a client that offers permessage-deflate (or not); `socket` counts the bytes the router sent. */
async function join(
  url: string,
  deflate: boolean | { serverMaxWindowBits: number },
  serializer: 'json' | 'msgpack' = 'json',
): Promise<RawPeer & { socket: () => Socket }> {
  const peer = await RawPeer.join(url, serializer, 'realm1', { perMessageDeflate: deflate });
  // ws keeps the TCP socket in a private field (the upgrade response that also had it is gone by now).
  const socket = (peer.ws as unknown as { _socket: Socket })._socket;
  return Object.assign(peer, { socket: () => socket });
}

async function subscribe(peer: RawPeer, topic: string): Promise<void> {
  peer.send([MessageCode.Subscribe, peer.nextRequest(), {}, topic]);
  expect((await peer.next())[0]).toBe(MessageCode.Subscribed);
}

/** The args of the next message, which must be an EVENT. */
async function nextEvent(peer: RawPeer): Promise<unknown[]> {
  const event = await peer.next();
  expect(event[0]).toBe(MessageCode.Event);
  return event[4] as unknown[];
}

const compressed = (threshold = 256): RouterConfigFile => ({ listeners: [{ type: 'websocket', compression: { threshold } }] });

describe('permessage-deflate', () => {
  it('is not negotiated when the listener has no compression (the default), even when the client offers it', async () => {
    const router = await startTestRouter();
    const peer = await join(router.url, true);
    expect(peer.ws.extensions).toBe('');
  });

  it('with compression on: negotiated with a client that offers it, not with one that does not', async () => {
    const router = await startTestRouter(compressed());
    const offering = await join(router.url, true);
    expect(offering.ws.extensions).toContain('permessage-deflate');
    // Each message compressed on its own: one compression serves every subscriber of an EVENT.
    // And clients compress theirs on their own too, so they can skip small ones (ws's threshold).
    const header = await negotiated(router.url, true);
    expect(header).toMatch(/^permessage-deflate;.*server_no_context_takeover/);
    expect(header).toContain('client_no_context_takeover');
    const plain = await join(router.url, false);
    expect(plain.ws.extensions).toBe('');
  });

  it('EVENTs under and over the threshold arrive intact and in order, compressed only over it, beside a peer without deflate', async () => {
    const router = await startTestRouter(compressed(256));
    const deflated = await join(router.url, true);
    // A client that asks for a smaller window gets frames compressed with it (a second variant of the shared frame).
    const narrow = await join(router.url, { serverMaxWindowBits: 10 });
    expect(await negotiated(router.url, { serverMaxWindowBits: 10 })).toContain('server_max_window_bits=10');
    const plain = await join(router.url, false);
    await subscribe(deflated, 'com.z');
    await subscribe(narrow, 'com.z');
    await subscribe(plain, 'com.z');
    const publisher = await join(router.url, false, 'msgpack');

    // Small first: sent as it is (a 100-byte run of one letter would deflate to a few bytes).
    const small = 'a'.repeat(100);
    let before = deflated.socket().bytesRead;
    publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.z', [small]]);
    expect(await nextEvent(deflated)).toEqual([small]);
    expect(deflated.socket().bytesRead - before).toBeGreaterThan(100);
    expect(await nextEvent(narrow)).toEqual([small]);
    expect(await nextEvent(plain)).toEqual([small]);

    // Large: 64 KiB of one letter crosses the socket in far fewer bytes to the deflate peer.
    const large = 'b'.repeat(64 * 1024);
    before = deflated.socket().bytesRead;
    const plainBefore = plain.socket().bytesRead;
    const narrowBefore = narrow.socket().bytesRead;
    publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.z', [large]]);
    expect(await nextEvent(deflated)).toEqual([large]);
    expect(deflated.socket().bytesRead - before).toBeLessThan(4096);
    expect(await nextEvent(narrow)).toEqual([large]);
    expect(narrow.socket().bytesRead - narrowBefore).toBeLessThan(4096);
    expect(await nextEvent(plain)).toEqual([large]);
    expect(plain.socket().bytesRead - plainBefore).toBeGreaterThan(64 * 1024);

    // Interleaved in one burst (no waiting): compressed and plain frames keep their order.
    const sizes = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 20_000 + i : 10 + i));
    for (const [i, size] of sizes.entries()) publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.z', [i, 'c'.repeat(size)]]);
    for (const [i, size] of sizes.entries()) {
      expect(await nextEvent(deflated)).toEqual([i, 'c'.repeat(size)]);
      expect(await nextEvent(narrow)).toEqual([i, 'c'.repeat(size)]);
      expect(await nextEvent(plain)).toEqual([i, 'c'.repeat(size)]);
    }
  });

  it('RESULTs are compressed too, and batched subprotocols negotiate deflate but get batches uncompressed, intact', async () => {
    const router = await startTestRouter(compressed(256));
    const callee = await join(router.url, true);
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.z.big']);
    const registered = await callee.next();
    expect(registered[0]).toBe(MessageCode.Registered);
    const caller = await RawPeer.join(router.url, 'json', 'realm1', { perMessageDeflate: true });
    const big = 'd'.repeat(50_000);
    const request = caller.nextRequest();
    caller.send([MessageCode.Call, request, {}, 'com.z.big', [big]]);
    const invocation = await callee.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    expect(invocation[4]).toEqual([big]);
    const socket = (caller.ws as unknown as { _socket: Socket })._socket;
    const before = socket.bytesRead;
    callee.send([MessageCode.Yield, invocation[1], {}, [big, big]]);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, [big, big]]);
    expect(socket.bytesRead - before).toBeLessThan(4096);

    // Batched (several WAMP messages per WebSocket message): a batch is one receiver's alone, sent as it is.
    const batched = new WebSocket(router.url, ['wamp.2.json.batched'], { perMessageDeflate: true });
    onTestFinished(() => batched.terminate());
    const inbox = new FrameQueue<unknown[]>('a batched message');
    batched.on('message', (data: Buffer) => {
      for (const part of data.toString('utf8').split('\u001e')) if (part !== '') inbox.push(JSON.parse(part) as unknown[]);
    });
    const next = (): Promise<unknown[]> => inbox.next(3000);
    await within(new Promise((resolve) => batched.once('open', resolve)), 3000, 'the batched connection');
    expect(batched.extensions).toContain('permessage-deflate');
    batched.send('[1,"realm1",{"roles":{"subscriber":{}}}]\u001e[32,1,{},"com.z.batched"]\u001e');
    expect((await next())[0]).toBe(MessageCode.Welcome);
    expect((await next())[0]).toBe(MessageCode.Subscribed);
    const batchedSocket = (batched as unknown as { _socket: Socket })._socket;
    const batchedBefore = batchedSocket.bytesRead;
    caller.send([MessageCode.Publish, caller.nextRequest(), {}, 'com.z.batched', [big]]);
    expect((await next())[4]).toEqual([big]);
    expect(batchedSocket.bytesRead - batchedBefore).toBeGreaterThan(big.length);
  });

  it('a compressed frame that inflates past maxMessageBytes (16 MiB of zeros in a few KiB) closes with 1009, counted; the router goes on', {
    timeout: 30_000,
  }, async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxMessageBytes: 1024 * 1024, compression: {} }] });
    const others = await witness(router);
    const bomber = await join(router.url, true);
    // ws compresses what it sends: 16 MiB of '0' leaves as some 16 KiB.
    const sent = deflatedBytes(bomber);
    bomber.send([MessageCode.Publish, bomber.nextRequest(), {}, 'com.z.bomb', ['0'.repeat(16 * 1024 * 1024)]]);
    const closed = await bomber.waitClosed(10_000);
    expect(closed.code).toBe(1009);
    expect(sent()).toBeLessThan(100 * 1024);
    expect(router.stats.limitsExceeded.get('maxMessageBytes')).toBe(1);
    await others.stillWorks();
  });
});

/** The Sec-WebSocket-Extensions header the router answers an upgrade with (ws.extensions names the extension only). */
async function negotiated(url: string, deflate: boolean | { serverMaxWindowBits: number }): Promise<string> {
  const ws = new WebSocket(url, ['wamp.2.json'], { perMessageDeflate: deflate });
  onTestFinished(() => ws.terminate());
  const header = await within(
    new Promise<string>((resolve) => ws.once('upgrade', (res) => resolve(String(res.headers['sec-websocket-extensions'] ?? '')))),
    3000,
    'the upgrade response',
  );
  ws.close();
  return header;
}

/** Bytes the peer's socket has written since now. */
function deflatedBytes(peer: RawPeer & { socket: () => Socket }): () => number {
  const start = peer.socket().bytesWritten;
  return () => peer.socket().bytesWritten - start;
}
