/**
 * What permessage-deflate costs the router per publication: an EVENT is compressed at most twice
 * per serializer however many window sizes its subscribers asked for (the configured window, and
 * the smallest, 9, for every client that asked for less), batched subscribers get their batches
 * uncompressed (no compression per receiver), and a message over `compression.maxBytes` goes
 * uncompressed on every path, intact. Compressions are counted (deflateRawSync), not timed.
 */
import type { Socket } from 'node:net';
import type * as zlib from 'node:zlib';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import { FrameQueue, RawPeer, startTestRouter, within } from '../helpers.js';

const deflations = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:zlib', async (importOriginal) => {
  const original = await importOriginal<typeof zlib>();
  return {
    ...original,
    deflateRawSync: (data: zlib.InputType, options?: zlib.ZlibOptions): Buffer => {
      deflations.count++;
      return original.deflateRawSync(data, options);
    },
  };
});

type Deflate = boolean | { serverMaxWindowBits: number };

async function join(url: string, deflate: Deflate): Promise<RawPeer & { socket: () => Socket }> {
  const peer = await RawPeer.join(url, 'json', 'realm1', { perMessageDeflate: deflate });
  const socket = (peer.ws as unknown as { _socket: Socket })._socket;
  return Object.assign(peer, { socket: () => socket });
}

async function subscribe(peer: RawPeer, topic: string): Promise<void> {
  peer.send([MessageCode.Subscribe, peer.nextRequest(), {}, topic]);
  expect((await peer.next())[0]).toBe(MessageCode.Subscribed);
}

/** A batched (wamp.2.json.batched) subscriber with permessage-deflate, joined and subscribed to `topic`. */
async function batchedSubscriber(url: string, topic: string): Promise<{ next: () => Promise<unknown[]>; socket: Socket }> {
  const ws = new WebSocket(url, ['wamp.2.json.batched'], { perMessageDeflate: true });
  onTestFinished(() => ws.terminate());
  const inbox = new FrameQueue<unknown[]>('a batched message');
  ws.on('message', (data: Buffer) => {
    for (const part of data.toString('utf8').split('\u001e')) if (part !== '') inbox.push(JSON.parse(part) as unknown[]);
  });
  const next = (): Promise<unknown[]> => inbox.next(5000);
  await within(new Promise((resolve) => ws.once('open', resolve)), 3000, 'the batched connection');
  expect(ws.extensions).toContain('permessage-deflate');
  ws.send(`[1,"realm1",{"roles":{"subscriber":{}}}]\u001e[32,1,{},"${topic}"]\u001e`);
  expect((await next())[0]).toBe(MessageCode.Welcome);
  expect((await next())[0]).toBe(MessageCode.Subscribed);
  return { next, socket: (ws as unknown as { _socket: Socket })._socket };
}

describe('permessage-deflate costs', () => {
  it('seven subscribers asking for seven window sizes (9 … 15): at most two compressions per EVENT, each inflates intact', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', compression: { threshold: 256 } }] });
    const subscribers = [];
    for (let bits = 9; bits <= 15; bits++) {
      const peer = await join(router.url, { serverMaxWindowBits: bits });
      expect(peer.ws.extensions).toContain('permessage-deflate');
      await subscribe(peer, 'com.w');
      subscribers.push(peer);
    }
    const publisher = await join(router.url, false);
    for (let round = 0; round < 3; round++) {
      // Repetitive past any window, so each subscriber's bytes show it was sent compressed.
      const payload = Array.from({ length: 4000 }, (_, i) => `item ${i % 50} of round ${round}`).join(',');
      const before = subscribers.map((s) => s.socket().bytesRead);
      deflations.count = 0;
      publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.w', [payload]]);
      for (const [i, subscriber] of subscribers.entries()) {
        const event = await subscriber.next();
        expect(event[0]).toBe(MessageCode.Event);
        expect(event[4]).toEqual([payload]);
        expect(subscriber.socket().bytesRead - before[i]!).toBeLessThan(payload.length / 4);
      }
      expect(deflations.count).toBeGreaterThanOrEqual(1);
      expect(deflations.count).toBeLessThanOrEqual(2);
    }
  });

  it('batched subscribers with deflate get their batches uncompressed and intact (no compression per receiver)', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', compression: { threshold: 256 } }] });
    const batched = [await batchedSubscriber(router.url, 'com.b'), await batchedSubscriber(router.url, 'com.b')];
    const publisher = await join(router.url, false);
    const payload = 'e'.repeat(50_000);
    const before = batched.map((b) => b.socket.bytesRead);
    publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.b', [payload]]);
    for (const [i, subscriber] of batched.entries()) {
      const event = await subscriber.next();
      expect(event[0]).toBe(MessageCode.Event);
      expect(event[4]).toEqual([payload]);
      expect(subscriber.socket.bytesRead - before[i]!).toBeGreaterThan(payload.length);
    }
  });

  it('a message over compression.maxBytes goes uncompressed and intact (EVENT and RESULT), counted once per message; one under it is compressed', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', compression: { threshold: 256, maxBytes: 64 * 1024 } }] });
    const subscribers = [await join(router.url, true), await join(router.url, { serverMaxWindowBits: 10 })];
    for (const subscriber of subscribers) await subscribe(subscriber, 'com.m');
    const publisher = await join(router.url, false);
    for (const [size, compressed] of [
      [50_000, true],
      [100_000, false],
    ] as const) {
      const payload = 'f'.repeat(size);
      const before = subscribers.map((s) => s.socket().bytesRead);
      publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.m', [payload]]);
      for (const [i, subscriber] of subscribers.entries()) {
        const event = await subscriber.next();
        expect(event[4]).toEqual([payload]);
        const read = subscriber.socket().bytesRead - before[i]!;
        if (compressed) expect(read).toBeLessThan(4096);
        else expect(read).toBeGreaterThan(size);
      }
    }
    expect(router.stats.limitsExceeded.get('compression.maxBytes')).toBe(1);

    const callee = await join(router.url, true);
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.m.big']);
    expect((await callee.next())[0]).toBe(MessageCode.Registered);
    const caller = await join(router.url, true);
    const big = 'g'.repeat(100_000);
    const request = caller.nextRequest();
    caller.send([MessageCode.Call, request, {}, 'com.m.big', [big]]);
    const invocation = await callee.next();
    expect(invocation[4]).toEqual([big]);
    const before = caller.socket().bytesRead;
    callee.send([MessageCode.Yield, invocation[1], {}, [big]]);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, [big]]);
    expect(caller.socket().bytesRead - before).toBeGreaterThan(big.length);
    // The INVOCATION and the RESULT, one each.
    expect(router.stats.limitsExceeded.get('compression.maxBytes')).toBe(3);
  });
});
