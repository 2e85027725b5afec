/**
 * HTTP long-poll [ap_transport_http_longpoll]: open, receive (held, batched), send, close; the
 * request and session timeouts; queue limits under the outbound policy; every malformed request;
 * and autobahn-js's long-poll transport routing with WebSocket sessions. A witness pair of
 * WebSocket sessions proves that nothing here touches other sessions.
 */
import { describe, expect, it } from 'vitest';
import { cborCodec, msgpackCodec, MessageCode } from '@switchboard/schemas';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter, until, within } from '../helpers.js';
import { HELLO_DETAILS, PV, connectAutobahnOver, installXMLHttpRequest, longPollOpen, post, witness } from './support.js';

type LongPollOptions = NonNullable<Extract<NonNullable<RouterConfigFile['listeners']>[number], { type: 'websocket' }>['longpoll']>;

async function routerWithLongPoll(longpoll: LongPollOptions = {}, extra: Record<string, unknown> = {}): Promise<{ router: Router; base: string }> {
  const router = await startTestRouter({ listeners: [{ type: 'websocket', longpoll, ...extra }] });
  const base = router.addresses[0]!.longpollUrl!;
  expect(base).toBe(`http://127.0.0.1:${router.addresses[0]!.port}${longpoll.path ?? '/lp'}`);
  return { router, base };
}

const json = (value: unknown): string => JSON.stringify(value);
const parse = (body: Buffer): unknown[] => JSON.parse(body.toString()) as unknown[];

/** Opens a JSON transport and joins realm1; returns its URL. */
async function joinJson(base: string): Promise<string> {
  const { transport } = await longPollOpen(base, ['wamp.2.json']);
  const url = `${base}/${transport}`;
  expect((await post(`${url}/send`, json([MessageCode.Hello, 'realm1', HELLO_DETAILS]))).status).toBe(204);
  const welcome = await post(`${url}/receive`);
  expect(welcome.status).toBe(200);
  expect(welcome.headers['content-type']).toMatch(/^application\/json/);
  expect(parse(welcome.body)[0]).toBe(MessageCode.Welcome);
  return url;
}

describe('long-poll: the protocol', () => {
  it('open → protocol and transport ID; send HELLO, receive WELCOME; a held receive gets the EVENT', async () => {
    const { router, base } = await routerWithLongPoll();
    const opened = await longPollOpen(`${base}`, ['wamp.2.cbor.batched', 'wamp.2.json']);
    // The client's first choice that the router offers.
    expect(opened.protocol).toBe('wamp.2.cbor.batched');
    expect(opened.transport).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const url = await joinJson(base);
    expect((await post(`${url}/send`, json([MessageCode.Subscribe, 1, {}, 'com.lp']))).status).toBe(204);
    expect(parse((await post(`${url}/receive`)).body)[0]).toBe(MessageCode.Subscribed);
    // The receive is held until the WebSocket session publishes.
    const held = post(`${url}/receive`);
    const ws = await RawPeer.join(router.url, 'msgpack');
    ws.send([MessageCode.Publish, ws.nextRequest(), {}, 'com.lp', ['to long-poll']]);
    const event = parse((await held).body);
    expect(event[0]).toBe(MessageCode.Event);
    expect(event[4]).toEqual(['to long-poll']);
    // And the other way.
    ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.ws']);
    await ws.next();
    await post(`${url}/send?x=12345`, json([MessageCode.Publish, 2, {}, 'com.ws', ['from long-poll']]));
    expect((await ws.next())[4]).toEqual(['from long-poll']);
  });

  it('unbatched: one message per receive; batched: everything waiting in one response', async () => {
    const { router, base } = await routerWithLongPoll();
    const plain = await joinJson(base);
    const { transport } = await longPollOpen(base, ['wamp.2.json.batched']);
    const batched = `${base}/${transport}`;
    await post(`${batched}/send`, `${json([MessageCode.Hello, 'realm1', HELLO_DETAILS])}\x1e${json([MessageCode.Subscribe, 1, {}, 'com.b'])}\x1e`);
    const first = (await post(`${batched}/receive`)).body.toString();
    expect(first.endsWith('\x1e')).toBe(true);
    const firstMessages = first
      .split('\x1e')
      .slice(0, -1)
      .map((m) => JSON.parse(m) as unknown[]);
    expect(firstMessages.map((m) => m[0])).toEqual([MessageCode.Welcome, MessageCode.Subscribed]);
    await post(`${plain}/send`, json([MessageCode.Subscribe, 1, {}, 'com.b']));
    await post(`${plain}/receive`);
    const ws = await RawPeer.join(router.url);
    for (let i = 0; i < 3; i++) ws.send([MessageCode.Publish, ws.nextRequest(), { acknowledge: true }, 'com.b', [i]]);
    for (let i = 0; i < 3; i++) await ws.next();
    const all = (await post(`${batched}/receive`)).body
      .toString()
      .split('\x1e')
      .slice(0, -1)
      .map((m) => JSON.parse(m) as unknown[]);
    expect(all.map((m) => m[4])).toEqual([[0], [1], [2]]);
    for (let i = 0; i < 3; i++) expect(parse((await post(`${plain}/receive`)).body)[4]).toEqual([i]);
  });

  it('binary protocols: msgpack unbatched, cbor batched with length prefixes', async () => {
    const { base } = await routerWithLongPoll();
    const mp = await longPollOpen(base, ['wamp.2.msgpack']);
    await post(`${base}/${mp.transport}/send`, msgpackCodec.encode([MessageCode.Hello, 'realm1', HELLO_DETAILS]) as Uint8Array);
    const welcome = await post(`${base}/${mp.transport}/receive`);
    expect(welcome.headers['content-type']).toBe('application/x-msgpack');
    expect((msgpackCodec.decode(welcome.body) as unknown[])[0]).toBe(MessageCode.Welcome);
    const cb = await longPollOpen(base, ['wamp.2.cbor.batched']);
    const hello = cborCodec.encode([MessageCode.Hello, 'realm1', HELLO_DETAILS]) as Uint8Array;
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(hello.length);
    await post(`${base}/${cb.transport}/send`, Buffer.concat([prefix, hello]));
    const reply = (await post(`${base}/${cb.transport}/receive`)).body;
    const length = reply.readUInt32BE(0);
    expect(reply.length).toBe(4 + length);
    expect((cborCodec.decode(reply.subarray(4)) as unknown[])[0]).toBe(MessageCode.Welcome);
  });

  it('a receive with nothing to deliver is answered 204 after requestTimeoutMs', async () => {
    const { base } = await routerWithLongPoll({ requestTimeoutMs: 200 });
    const url = await joinJson(base);
    const started = Date.now();
    const reply = await post(`${url}/receive`);
    expect(reply.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('a newer receive request replaces a held one, which is answered 204', async () => {
    const { base } = await routerWithLongPoll();
    const url = await joinJson(base);
    // Two receives at once, with no sleep between them: whichever the router got first is the
    // older, and is the one answered 204; the other stays held and carries the next message.
    const receives = [post(`${url}/receive`), post(`${url}/receive`)];
    const replaced = await Promise.race(receives.map((reply, i) => reply.then((r) => ({ i, status: r.status }))));
    expect(replaced.status).toBe(204);
    await post(`${url}/send`, json([MessageCode.Subscribe, 1, {}, 'com.x']));
    expect(parse((await receives[1 - replaced.i]!).body)[0]).toBe(MessageCode.Subscribed);
  });

  it('a transport without a receive request for sessionTimeoutMs is closed, and its session ends', async () => {
    const { router, base } = await routerWithLongPoll({ sessionTimeoutMs: 200 });
    const url = await joinJson(base);
    expect(router.sessionCount).toBe(1);
    await until(() => router.sessionCount === 0, 2000, 'the expired session to end');
    expect((await post(`${url}/receive`)).status).toBe(404);
  });

  it('close → 204, the session ends, and the ID is gone', async () => {
    const { router, base } = await routerWithLongPoll();
    const url = await joinJson(base);
    const held = post(`${url}/receive`);
    expect((await post(`${url}/close`)).status).toBe(204);
    expect((await held).status).toBe(410);
    await until(() => router.sessionCount === 0, 1000, 'the session to end');
    for (const action of ['receive', 'send', 'close']) expect((await post(`${url}/${action}`, '[]')).status).toBe(404);
  });

  it('the router ABORTs a session: the client still receives the ABORT, then the transport is gone', async () => {
    const { base } = await routerWithLongPoll();
    const { transport } = await longPollOpen(base, ['wamp.2.json']);
    const url = `${base}/${transport}`;
    await post(`${url}/send`, json([MessageCode.Hello, 'no.such.realm', HELLO_DETAILS]));
    const abort = parse((await post(`${url}/receive`)).body);
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.no_such_realm');
    expect((await post(`${url}/receive`)).status).toBe(404);
  });
});

describe('long-poll: bad requests cost only their own transport', () => {
  it.each<[string, string | undefined, number, RegExp]>([
    ['not JSON', '{protocols', 400, /JSON dict with "protocols"/],
    ['no protocols', json({}), 400, /JSON dict with "protocols"/],
    ['empty protocols', json({ protocols: [] }), 400, /non-empty list/],
    ['protocols not strings', json({ protocols: [1] }), 400, /list of strings/],
    [
      'no protocol in common',
      json({ protocols: ['wamp.2.ubjson', 'mqtt'] }),
      400,
      /no supported protocol \(requested: wamp.2.ubjson, mqtt; supported: wamp.2.json, wamp.2.msgpack, wamp.2.cbor, wamp.2.json.batched/,
    ],
    ['an oversized body', json({ protocols: ['wamp.2.json'], pad: 'x'.repeat(5000) }), 413, /over 4096 octets/],
  ])('open with %s → %i', async (_name, body, status, error) => {
    const { router, base } = await routerWithLongPoll();
    const others = await witness(router);
    const reply = await post(`${base}/open`, body);
    expect(reply.status).toBe(status);
    expect((JSON.parse(reply.body.toString()) as { error: string }).error).toMatch(error);
    await others.stillWorks();
  });

  it('GET is 405; unknown transport IDs and actions are 404', async () => {
    const { router, base } = await routerWithLongPoll();
    const others = await witness(router);
    const get = await post(`${base}/open`, undefined, 3000, 'GET');
    expect(get.status).toBe(405);
    expect(get.headers['allow']).toBe('POST');
    for (const path of ['nope/receive', 'nope/send', 'nope/close', 'nope', '']) {
      const reply = await post(`${base}/${path}`, '[]');
      expect(reply.status, path).toBe(404);
      expect((JSON.parse(reply.body.toString()) as { error: string }).error).toMatch(/no long-poll transport/);
    }
    const url = await joinJson(base);
    expect((await post(`${url}/dance`)).status).toBe(404);
    await others.stillWorks();
  });

  it.each<[string, string, string | Uint8Array, RegExp]>([
    ['an undecodable JSON message', 'wamp.2.json', '[1, "realm1"', /undecodable json message/],
    ['a JSON batch without its separator', 'wamp.2.json.batched', json([MessageCode.Hello, 'realm1', HELLO_DETAILS]), /does not end with the record separator/],
    ['an empty batch', 'wamp.2.msgpack.batched', Buffer.alloc(0), /empty batch/],
    ['a truncated length prefix', 'wamp.2.cbor.batched', Buffer.from([0, 0, 1]), /truncated length prefix/],
    ['a length that overruns the batch', 'wamp.2.msgpack.batched', Buffer.from([0, 0, 0, 9, 0x90]), /overruns a batch/],
  ])('send with %s → 400, the session is ABORTed with protocol_violation; others unaffected', async (_name, protocol, body, reason) => {
    const { router, base } = await routerWithLongPoll();
    const others = await witness(router);
    const { transport } = await longPollOpen(base, [protocol]);
    const url = `${base}/${transport}`;
    const reply = await post(`${url}/send`, body);
    expect(reply.status).toBe(400);
    const received = (await post(`${url}/receive`)).body;
    const abort =
      protocol === 'wamp.2.json'
        ? parse(received)
        : protocol === 'wamp.2.json.batched'
          ? (JSON.parse(received.toString().slice(0, -1)) as unknown[])
          : ((protocol.startsWith('wamp.2.cbor') ? cborCodec : msgpackCodec).decode(received.subarray(4)) as unknown[]);
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(PV);
    expect((abort[1] as { message: string }).message).toMatch(reason);
    expect((await post(`${url}/receive`)).status).toBe(404);
    await others.stillWorks();
  });

  it('a send body over maxMessageBytes → 413 and the session fails', async () => {
    const { router, base } = await routerWithLongPoll({}, { maxMessageBytes: 2048 });
    const others = await witness(router);
    const url = await joinJson(base);
    const reply = await post(`${url}/send`, json([MessageCode.Publish, 1, {}, 'com.big', ['x'.repeat(3000)]]));
    expect(reply.status).toBe(413);
    const abort = parse((await post(`${url}/receive`)).body);
    expect(abort[2]).toBe(PV);
    expect((abort[1] as { message: string }).message).toMatch(/over the maximum of 2048 octets/);
    await others.stillWorks();
  });
});

describe('long-poll: queue limits under the outbound policy', () => {
  it('past queueMaxMessages EVENTs are dropped and counted; replies still queue', async () => {
    const { router, base } = await routerWithLongPoll({ queueMaxMessages: 5 });
    const url = await joinJson(base);
    await post(`${url}/send`, json([MessageCode.Subscribe, 1, {}, 'com.q']));
    await post(`${url}/receive`);
    const ws = await RawPeer.join(router.url);
    for (let i = 0; i < 8; i++) ws.send([MessageCode.Publish, ws.nextRequest(), { acknowledge: true }, 'com.q', [i]]);
    for (let i = 0; i < 8; i++) await ws.next();
    expect(router.counters.eventsDropped).toBe(3);
    // A reply the client waits for is not an EVENT: it queues behind the five.
    await post(`${url}/send`, json([MessageCode.Subscribe, 2, {}, 'com.q2']));
    const got: unknown[][] = [];
    for (let i = 0; i < 6; i++) got.push(parse((await post(`${url}/receive`)).body));
    expect(got.slice(0, 5).map((m) => m[4])).toEqual([[0], [1], [2], [3], [4]]);
    expect(got[5]![0]).toBe(MessageCode.Subscribed);
  });

  it('a client that stops receiving is cut off past queueMaxBytes; its ID is gone; others unaffected', async () => {
    const { router, base } = await routerWithLongPoll({ queueMaxBytes: 4096 });
    const others = await witness(router);
    const url = await joinJson(base);
    await post(`${url}/send`, json([MessageCode.Call, 1, {}, 'com.big.result', []]));
    const callee = await RawPeer.join(router.url);
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.big.result']);
    await callee.next();
    await post(`${url}/send`, json([MessageCode.Call, 2, {}, 'com.big.result', []]));
    const invocation = await callee.next();
    callee.send([MessageCode.Yield, invocation[1], {}, ['r'.repeat(5000)]]);
    await until(() => router.counters.peersCutOff === 1, 2000, 'the long-poll client to be cut off');
    expect((await post(`${url}/receive`)).status).toBe(404);
    await others.stillWorks();
  });

  it('EVENTs past the soft limit are dropped, and a client still over it after drainTimeoutMs is cut off', async () => {
    const { router, base } = await routerWithLongPoll(
      { queueMaxBytes: 64 * 1024 },
      { outbound: { softLimitBytes: 8 * 1024, hardLimitBytes: 64 * 1024, drainTimeoutMs: 100 } },
    );
    const url = await joinJson(base);
    await post(`${url}/send`, json([MessageCode.Subscribe, 1, {}, 'com.flood']));
    await post(`${url}/receive`);
    const ws = await RawPeer.join(router.url);
    const deadline = Date.now() + 3000;
    while (router.counters.peersCutOff === 0 && Date.now() < deadline) {
      ws.send([MessageCode.Publish, ws.nextRequest(), {}, 'com.flood', ['e'.repeat(1000)]]);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(router.counters.eventsDropped).toBeGreaterThan(0);
    expect(router.counters.peersCutOff).toBe(1);
    await until(() => router.sessionCount === 1, 1000, 'the long-poll session to end');
  });
});

describe('autobahn-js (npm autobahn 22.11) over long-poll', () => {
  it('pub/sub and RPC with a WebSocket session on the same realm', async () => {
    installXMLHttpRequest();
    const { router, base } = await routerWithLongPoll({ requestTimeoutMs: 2000 });
    const { session } = await connectAutobahnOver({ type: 'longpoll', url: base, request_timeout: 5000 });
    const ws = await RawPeer.join(router.url, 'cbor');
    const events: unknown[][] = [];
    await within(
      session.subscribe('com.lp.topic', (args) => events.push(args)),
      3000,
      'SUBSCRIBED',
    );
    ws.send([MessageCode.Publish, ws.nextRequest(), { acknowledge: true }, 'com.lp.topic', ['to autobahn', 7]]);
    await ws.next();
    await until(() => events.length === 1, 3000, 'the event at autobahn');
    expect(events[0]).toEqual(['to autobahn', 7]);
    await within(
      session.register('com.lp.add', (args) => (args[0] as number) + (args[1] as number)),
      3000,
      'REGISTERED',
    );
    const call = ws.nextRequest();
    ws.send([MessageCode.Call, call, {}, 'com.lp.add', [40, 2]]);
    expect(await ws.next()).toEqual([MessageCode.Result, call, {}, [42]]);
    ws.send([MessageCode.Register, ws.nextRequest(), {}, 'com.ws.greet']);
    await ws.next();
    const result = session.call('com.ws.greet', ['long-poll']);
    const invocation = await ws.next();
    ws.send([MessageCode.Yield, invocation[1], {}, [`hello ${String((invocation[4] as unknown[])[0])}`]]);
    expect(await within(result, 3000, 'RESULT at autobahn')).toBe('hello long-poll');
    ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.ws.topic']);
    await ws.next();
    await within(session.publish('com.ws.topic', ['from autobahn'], {}, { acknowledge: true })!, 3000, 'PUBLISHED');
    expect((await ws.next())[4]).toEqual(['from autobahn']);
    expect(router.sessionCount).toBe(2);
  });
});
