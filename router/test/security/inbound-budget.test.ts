/**
 * Issue #16, H1: a listener-wide budget for incoming messages in progress (maxInboundBytes).
 * maxMessageBytes bounds what one connection may hold of a message that never completes; many
 * connections each holding most of one could take the process's memory (a fragmented WebSocket
 * message without its final fragment, a RawSocket frame cut short). The budget is shared by every
 * transport on the listener: the connection whose bytes would pass it is refused (WebSocket 1013,
 * RawSocket closed), counted in switchboard_limits_exceeded_total{limit="maxInboundBytes"}, and
 * the others go on; a completed message or a closed connection gives its bytes back.
 * Scaled down: a 1 MiB budget and 400 KiB messages, so the third connection does not fit.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import { checkConfig, resolveConfig } from '@switchboard/router';
import type { Router } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { request as httpRequest } from 'node:http';
import { RawSocketClient, longPollOpen, post, rawFrame, witness } from '../transports/support.js';

const KiB = 1024;
const BUDGET = 1024 * KiB;
const MESSAGE = 400 * KiB;

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const refusals = (router: Router): Promise<number> => metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxInboundBytes"}');

/** A HELLO padded to exactly `bytes` of JSON: the router answers it with WELCOME once it is complete. */
function paddedHello(bytes: number): Buffer {
  const empty = JSON.stringify([MessageCode.Hello, 'realm1', { roles: { subscriber: {} }, pad: '' }]);
  return Buffer.from(JSON.stringify([MessageCode.Hello, 'realm1', { roles: { subscriber: {} }, pad: 'x'.repeat(bytes - empty.length) }]));
}

async function routerWithBudget(): Promise<Router> {
  return startTestRouter({
    metrics: { port: 0 },
    listeners: [
      {
        type: 'websocket',
        rawsocket: true,
        longpoll: {},
        http: { paths: { '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous' } } },
        maxMessageBytes: 512 * KiB,
        maxInboundBytes: BUDGET,
      },
    ],
  });
}

/** A WebSocket that has sent all of a 400 KiB message but its final fragment (it ends with `rest`). */
interface Partial {
  ws: WebSocket;
  closed: Promise<number>;
  message: Promise<unknown[]>;
  rest: Buffer;
}

async function partialWebSocket(url: string): Promise<Partial> {
  const ws = new WebSocket(url, ['wamp.2.json']);
  onTestFinished(() => ws.terminate());
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  const message = new Promise<unknown[]>((resolve) => ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as unknown[])));
  ws.on('error', () => {});
  await within(new Promise<void>((resolve) => ws.once('open', () => resolve())), 5000, 'WebSocket open');
  const hello = paddedHello(MESSAGE);
  ws.send(hello.subarray(0, hello.length - 10), { binary: false, fin: false });
  return { ws, closed, message, rest: hello.subarray(hello.length - 10) };
}

/** The router has read everything sent so far on `ws` (or closed it): a ping sent after it is answered. */
function readUpTo(p: Partial): Promise<unknown> {
  const pong = new Promise<void>((resolve) => p.ws.once('pong', () => resolve()));
  p.ws.ping();
  return within(Promise.race([pong, p.closed]), 5000, 'the pong');
}

describe('maxInboundBytes: WebSocket', () => {
  it('refuses the connection that would pass the budget with 1013; a completed or closed message gives its bytes back', async () => {
    const router = await routerWithBudget();
    const w = await witness(router);
    const first = await partialWebSocket(router.url);
    await readUpTo(first);
    const second = await partialWebSocket(router.url);
    await readUpTo(second);
    // 800 KiB held: a third 400 KiB message does not fit.
    const third = await partialWebSocket(router.url);
    expect(await within(third.closed, 5000, 'the third connection to close')).toBe(1013);
    expect(await refusals(router)).toBe(1);
    await w.stillWorks();
    // A completed message gives its bytes back: the first connection's HELLO is answered.
    first.ws.send(first.rest, { binary: false, fin: true });
    expect((await within(first.message, 5000, 'WELCOME'))[0]).toBe(MessageCode.Welcome);
    // A closed connection does too: with the second gone, two new 400 KiB messages fit.
    second.ws.terminate();
    await second.closed;
    first.ws.terminate();
    await first.closed;
    const again = [await partialWebSocket(router.url), await partialWebSocket(router.url)];
    for (const p of again) await readUpTo(p);
    for (const p of again) p.ws.send(p.rest, { binary: false, fin: true });
    for (const p of again) expect((await within(p.message, 5000, 'WELCOME'))[0]).toBe(MessageCode.Welcome);
    expect(await refusals(router)).toBe(1);
  });
});

describe('maxInboundBytes: WebSocket connections between messages', () => {
  it('hold nothing of the budget once their message is complete', async () => {
    const router = await routerWithBudget();
    // 20 connections that each sent one complete 60 KiB message in one frame (1200 KiB in all, past the budget).
    for (let i = 0; i < 20; i++) {
      const peer = await RawPeer.connect(router.url);
      peer.sendRaw(paddedHello(60 * KiB).toString(), false);
      expect((await peer.next())[0]).toBe(MessageCode.Welcome);
    }
    const held = [await partialWebSocket(router.url), await partialWebSocket(router.url)];
    for (const p of held) await readUpTo(p);
    for (const p of held) p.ws.send(p.rest, { binary: false, fin: true });
    for (const p of held) expect((await within(p.message, 5000, 'WELCOME'))[0]).toBe(MessageCode.Welcome);
    expect(await refusals(router)).toBe(0);
  });
});

describe('maxInboundBytes: RawSocket on the same port', () => {
  it('closes the connection whose partial frame would pass the budget; the others complete theirs', async () => {
    const router = await routerWithBudget();
    const a = router.addresses[0]!;
    const target = { host: a.host, port: a.port };
    const frames = [0, 1, 2].map(() => rawFrame(0, paddedHello(MESSAGE)));
    const clients: RawSocketClient[] = [];
    for (const bytes of frames) {
      const client = await RawSocketClient.open(target);
      expect((await client.handshake('json'))[1]! & 0x0f).toBe(1);
      client.sendRaw(bytes.subarray(0, bytes.length - 10));
      clients.push(client);
    }
    // 1200 KiB sent against a 1 MiB budget: exactly one connection is closed (its bytes given back).
    let closed = -1;
    await within(Promise.race(clients.map((c, i) => c.closed.then(() => (closed = i)))), 5000, 'a RawSocket connection to close');
    expect(await refusals(router)).toBe(1);
    const w = await witness(router);
    await w.stillWorks();
    clients.forEach((c, i) => {
      if (i !== closed) c.sendRaw(frames[i]!.subarray(frames[i]!.length - 10));
    });
    for (const [i, c] of clients.entries()) if (i !== closed) expect((await c.next())[0]).toBe(MessageCode.Welcome);
    // Shared with the WebSocket transport of the port: with the two RawSocket frames complete, two 400 KiB WebSocket messages fit.
    const ws = [await partialWebSocket(router.url), await partialWebSocket(router.url)];
    for (const p of ws) await readUpTo(p);
    for (const p of ws) p.ws.send(p.rest, { binary: false, fin: true });
    for (const p of ws) expect((await within(p.message, 5000, 'WELCOME'))[0]).toBe(MessageCode.Welcome);
    expect(await refusals(router)).toBe(1);
  });
});

/** A POST whose body never ends: `sent` of `declared` octets; resolves at the answer's status. */
function unfinishedPost(url: string, declared: number, sent: Buffer): Promise<number> {
  return within(
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Content-Length': declared } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      onTestFinished(() => {
        req.destroy();
      });
      req.write(sent);
    }),
    5000,
    `POST ${url}`,
  );
}

describe('maxInboundBytes: long-poll send bodies', () => {
  it('answers 503 to the send body that would pass the budget, at once; the session goes on', async () => {
    const router = await routerWithBudget();
    const lp = router.addresses[0]!.longpollUrl!;
    const { transport } = await longPollOpen(lp, ['wamp.2.json']);
    const held = [await partialWebSocket(router.url), await partialWebSocket(router.url)];
    for (const p of held) await readUpTo(p);
    const hello = paddedHello(MESSAGE);
    expect(await unfinishedPost(`${lp}/${transport}/send`, hello.length, hello.subarray(0, hello.length - 10))).toBe(503);
    expect(await refusals(router)).toBe(1);
    // With one WebSocket message gone, the same body fits, and the long-poll session answers it.
    held[0]!.ws.terminate();
    await held[0]!.closed;
    expect((await post(`${lp}/${transport}/send`, hello)).status).toBe(204);
    const reply = await post(`${lp}/${transport}/receive`, '');
    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.body.toString()) as unknown[])[0]).toBe(MessageCode.Welcome);
    expect(await refusals(router)).toBe(1);
  });
});

describe('maxInboundBytes: HTTP bridge bodies', () => {
  it('answers 503 to the body that would pass the budget, at once; a body that fits is published', async () => {
    const router = await routerWithBudget();
    const base = `http://127.0.0.1:${router.addresses[0]!.port}`;
    const held = [await partialWebSocket(router.url), await partialWebSocket(router.url)];
    for (const p of held) await readUpTo(p);
    const empty = JSON.stringify({ topic: 'com.example.big', args: [''] });
    const body = Buffer.from(JSON.stringify({ topic: 'com.example.big', args: ['x'.repeat(MESSAGE - empty.length)] }));
    expect(await unfinishedPost(`${base}/publish`, body.length, body.subarray(0, body.length - 10))).toBe(503);
    expect(await refusals(router)).toBe(1);
    held[0]!.ws.terminate();
    await held[0]!.closed;
    const reply = await post(`${base}/publish`, body);
    expect(reply.status, reply.body.toString()).toBe(200);
    expect(await refusals(router)).toBe(1);
  });
});

describe('maxInboundBytes: config', () => {
  it('must be at least maxMessageBytes (the default 16 MiB too); defaults to 256 MiB', () => {
    expect(() => checkConfig({ listeners: [{ type: 'websocket', maxMessageBytes: 512 * KiB, maxInboundBytes: 256 * KiB }] })).toThrow(
      /\/listeners\/0\/maxInboundBytes: must be at least maxMessageBytes \(524288\)/,
    );
    expect(() => checkConfig({ listeners: [{ type: 'rawsocket', maxInboundBytes: 1024 * KiB }] })).toThrow(/must be at least maxMessageBytes \(16777216\)/);
    expect(resolveConfig().listeners[0]!.maxInboundBytes).toBe(256 * 1024 * KiB);
  });
});
