/**
 * Issue #14, item 2, end to end: one hostile frame before HELLO — a CBOR bignum that took
 * seconds to minutes to convert, CBOR tags and MessagePack extensions that built Date, Set and
 * other objects, non-string keys, nesting past the limit — over WebSocket and RawSocket ABORTs
 * only that session with wamp.error.protocol_violation, at once: a witness session keeps routing
 * and /health answers. Payloads cross serializers unchanged in meaning: a text that JSON cannot
 * carry (it starts with U+0000, JSON's marker for binary) is not delivered to a JSON subscriber,
 * and a call whose answer JSON cannot carry gets an ERROR.
 */
import { describe, expect, it } from 'vitest';
import type { Codec } from '@switchboard/schemas';
import { DEFAULT_MAX_ITEMS, MessageCode, cborCodec, jsonCodec, msgpackCodec } from '@switchboard/schemas';
import { connect } from '@switchboard/client';
import type { Router } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { HELLO_DETAILS, PV, RawSocketClient, expectRawSocketViolation, witness } from '../transports/support.js';

/** A binary HELLO for realm1 whose Details hold `x: <item>`, `item` already encoded. */
function binaryHelloWith(codec: Codec, item: Uint8Array): Uint8Array {
  const head = codec.encode([MessageCode.Hello, 'realm1', HELLO_DETAILS]) as Uint8Array;
  // List header, the integer 1, "realm1" (1 + 6 bytes): the Details dict header is at offset 9.
  const out = new Uint8Array(head.length + 2 + item.length);
  out.set(head);
  const dictHeader = head[9]!;
  expect(dictHeader === 0xa1 || dictHeader === 0x81).toBe(true); // one entry, CBOR or MessagePack
  out[9] = dictHeader + 1;
  out.set([codec === cborCodec ? 0x61 : 0xa1, 0x78], head.length); // the key "x"
  out.set(item, head.length + 2);
  return out;
}

/** A CBOR bignum (tag 2) of `size` bytes: the conversion was quadratic in it. */
function cborBignum(size: number): Uint8Array {
  const out = new Uint8Array(6 + size).fill(0xff);
  out.set([0xc2, 0x5a, (size >>> 24) & 0xff, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff]);
  return out;
}

const HOSTILE: [string, Codec, () => string | Uint8Array, RegExp][] = [
  ['CBOR: a 64 KiB bignum (seconds of CPU before)', cborCodec, () => binaryHelloWith(cborCodec, cborBignum(64 * 1024)), /bignum of more than 8 bytes/],
  ['CBOR: tag 1, a Date', cborCodec, () => binaryHelloWith(cborCodec, Uint8Array.of(0xc1, 0x01)), /tag 1\b/],
  ['CBOR: tag 258, a Set', cborCodec, () => binaryHelloWith(cborCodec, Uint8Array.of(0xd9, 0x01, 0x02, 0x80)), /tag 258/],
  ['CBOR: simple value 16', cborCodec, () => binaryHelloWith(cborCodec, Uint8Array.of(0xf0)), /simple value 16/],
  ['MessagePack: a timestamp extension, a Date', msgpackCodec, () => binaryHelloWith(msgpackCodec, Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1)), /extension type/],
  [
    'MessagePack: a dict with an integer key',
    msgpackCodec,
    () => binaryHelloWith(msgpackCodec, Uint8Array.of(0x81, 0x01, 0x02)),
    /dict key that is not a string/,
  ],
  ['MessagePack: 100 000 nested lists', msgpackCodec, () => binaryHelloWith(msgpackCodec, new Uint8Array(100_000).fill(0x91)), /nested deeper than 64/],
  [
    'JSON: 100 000 nested lists',
    jsonCodec,
    () => `[1,"realm1",{"roles":{"caller":{}},"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}]`,
    /nested deeper than 64/,
  ],
  ['JSON: binary with a bad base64 tail', jsonCodec, () => '[1,"realm1",{"roles":{"caller":{}},"x":"\\u0000AQ!D"}]', /base64/],
];

async function health(router: Router): Promise<unknown> {
  const res = await within(fetch(router.url.replace('ws://', 'http://').replace(/\/ws$/, '/health')), 2000, '/health');
  expect(res.status).toBe(200);
  return res.json();
}

async function metric(router: Router, name: string): Promise<string[]> {
  const text = await router.metrics.metrics();
  return text.split('\n').filter((line) => line.startsWith(name));
}

describe('a hostile frame before HELLO costs only its session, at once', () => {
  it.each(HOSTILE)('WebSocket, %s', async (_title, codec, frame, mentions) => {
    const router = await startTestRouter();
    const others = await witness(router);
    const peer = await RawPeer.connect(router.url, codec.name);
    const sent = performance.now();
    peer.sendRaw(frame(), codec.binary);
    const abort = await peer.next();
    const ms = performance.now() - sent;
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(PV);
    expect((abort[1] as { message: string }).message).toMatch(mentions);
    expect((await peer.waitClosed()).code).toBe(1002);
    expect(ms).toBeLessThan(1000);
    await health(router);
    await others.stillWorks();
    expect(await metric(router, 'switchboard_bad_frames_total')).toContain(`switchboard_bad_frames_total{serializer="${codec.name}"} 1`);
  });

  it.each(HOSTILE.filter(([, codec]) => codec.binary))('RawSocket, %s', async (_title, codec, frame, mentions) => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true }] });
    const others = await witness(router);
    const port = Number(new URL(router.url).port);
    const client = await RawSocketClient.open({ host: '127.0.0.1', port });
    await client.handshake(codec.name);
    const payload = frame() as Uint8Array;
    const header = Buffer.from([0, (payload.length >> 16) & 0xff, (payload.length >> 8) & 0xff, payload.length & 0xff]);
    client.sendRaw(Buffer.concat([header, payload]));
    await expectRawSocketViolation(client, mentions);
    await health(router);
    await others.stillWorks();
  });

  it('a frame at the listener limit, nested as deep as maxNestingDepth allows, is accepted; one level more is not', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxNestingDepth: 8 }] });
    const ok = await RawPeer.connect(router.url, 'json');
    // HELLO (1) → Details (2) → x (3 to 8): 8 levels in all.
    ok.sendRaw(`[1,"realm1",{"roles":{"caller":{}},"x":${'['.repeat(6)}${']'.repeat(6)}}]`, false);
    expect((await ok.next())[0]).toBe(MessageCode.Welcome);
    const deep = await RawPeer.connect(router.url, 'json');
    deep.sendRaw(`[1,"realm1",{"roles":{"caller":{}},"x":${'['.repeat(7)}${']'.repeat(7)}}]`, false);
    const abort = await deep.next();
    expect([abort[0], abort[2]]).toEqual([MessageCode.Abort, PV]);
    expect((abort[1] as { message: string }).message).toMatch(/nested deeper than 8/);
  });
});

describe('maxMessageItems', () => {
  it('a message with more values than the listener allows is refused; one at the limit is not', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxMessageItems: 32 }] });
    const others = await witness(router);
    const hello = (n: number): unknown[] => [MessageCode.Hello, 'realm1', { roles: { caller: {} }, x: new Array<number>(n).fill(0) }];
    // HELLO list, 1, "realm1", Details, "roles", roles, "caller", caller, "x", x: 10 values + n.
    const ok = await RawPeer.connect(router.url, 'msgpack');
    ok.send(hello(22));
    expect((await ok.next())[0]).toBe(MessageCode.Welcome);
    const many = await RawPeer.connect(router.url, 'msgpack');
    many.send(hello(23));
    const abort = await many.next();
    expect([abort[0], abort[2]]).toEqual([MessageCode.Abort, PV]);
    expect((abort[1] as { message: string }).message).toMatch(/more than 32 values/);
    await others.stillWorks();
  });
});

describe('a frame at the limit does not cut off the sessions it is relayed to', () => {
  it('an EVENT of a PUBLISH at maxMessageItems, grown by disclosure details, reaches a client-library subscriber', async () => {
    const router = await startTestRouter();
    const session = await within(connect({ url: router.url, realm: 'realm1', serializers: ['msgpack'], reconnect: false }), 5000, 'a client session');
    const got = new Promise<number>((resolve) => void session.subscribe('com.full', (args: unknown[]) => resolve(args.length)));
    await session.call('wamp.session.count'); // the SUBSCRIBE is answered before this
    const publisher = await RawPeer.join(router.url, 'msgpack');
    // PUBLISH list, 16, request, Options, "disclose_me", true, "acknowledge", true, topic, Arguments: 10 values.
    const args = new Array<number>(DEFAULT_MAX_ITEMS - 10).fill(0);
    const request = publisher.nextRequest();
    publisher.send([MessageCode.Publish, request, { disclose_me: true, acknowledge: true }, 'com.full', args]);
    expect((await publisher.next())[0]).toBe(MessageCode.Published);
    expect(await within(got, 5000, 'the EVENT')).toBe(args.length);
    await session.leave();
  });
});

describe('payloads cross serializers unchanged in meaning', () => {
  it('a text starting with U+0000 reaches MessagePack and CBOR subscribers as text, and JSON subscribers not at all', async () => {
    const router = await startTestRouter();
    const json = await RawPeer.join(router.url, 'json');
    const msgpack = await RawPeer.join(router.url, 'msgpack');
    const cbor = await RawPeer.join(router.url, 'cbor');
    for (const sub of [json, msgpack, cbor]) {
      sub.send([MessageCode.Subscribe, sub.nextRequest(), {}, 'com.text']);
      expect((await sub.next())[0]).toBe(MessageCode.Subscribed);
    }
    const publisher = await RawPeer.join(router.url, 'msgpack');
    const request = publisher.nextRequest();
    publisher.send([MessageCode.Publish, request, { acknowledge: true }, 'com.text', ['\u0000AQID']]);
    expect((await publisher.next())[0]).toBe(MessageCode.Published);
    for (const sub of [msgpack, cbor]) {
      const event = await sub.next();
      expect(event[0]).toBe(MessageCode.Event);
      expect(event[4]).toEqual(['\u0000AQID']);
    }
    // The next publication, which JSON can carry, is the first thing the JSON subscriber gets.
    publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, 'com.text', ['plain']]);
    const first = await json.next();
    expect(first[0]).toBe(MessageCode.Event);
    expect(first[4]).toEqual(['plain']);
    expect(await metric(router, 'switchboard_unserializable_messages_total')).toContain(
      'switchboard_unserializable_messages_total{serializer="json",type="event"} 1',
    );
  });

  it('a JSON number past the double range (1e400 reads as Infinity) reaches every subscriber as null, as JSON writes it', async () => {
    const router = await startTestRouter();
    const subscribers = await Promise.all([RawPeer.join(router.url, 'json'), RawPeer.join(router.url, 'msgpack'), RawPeer.join(router.url, 'cbor')]);
    for (const sub of subscribers) {
      sub.send([MessageCode.Subscribe, sub.nextRequest(), {}, 'com.inf']);
      expect((await sub.next())[0]).toBe(MessageCode.Subscribed);
    }
    const publisher = await RawPeer.connect(router.url, 'json');
    publisher.send([MessageCode.Hello, 'realm1', HELLO_DETAILS]);
    expect((await publisher.next())[0]).toBe(MessageCode.Welcome);
    publisher.sendRaw('[16,1,{"acknowledge":true},"com.inf",[1e400,-1e400,1.5],{"deep":{"x":[1e999]}}]', false);
    expect((await publisher.next())[0]).toBe(MessageCode.Published);
    // A MessagePack or CBOR float Infinity would cost those subscribers their session (their
    // decoders refuse it): each gets the event, with null where JSON has null.
    for (const sub of subscribers) {
      const event = await sub.next();
      expect(event[0]).toBe(MessageCode.Event);
      expect(event.slice(4)).toEqual([[null, null, 1.5], { deep: { x: [null] } }]);
    }
  });

  it('a JSON caller gets an ERROR when the result cannot be written in JSON', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url, 'cbor');
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.nul']);
    expect((await callee.next())[0]).toBe(MessageCode.Registered);
    const caller = await RawPeer.join(router.url, 'json');
    const request = caller.nextRequest();
    caller.send([MessageCode.Call, request, {}, 'com.nul', []]);
    const invocation = await callee.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    callee.send([MessageCode.Yield, invocation[1], {}, ['\u0000not binary']]);
    const answer = await caller.next();
    expect(answer.slice(0, 3)).toEqual([MessageCode.Error, MessageCode.Call, request]);
    expect(answer[4]).toBe('wamp.error.invalid_argument');
    // The callee's session and the caller's both go on.
    const again = caller.nextRequest();
    caller.send([MessageCode.Call, again, {}, 'com.nul', []]);
    const next = await callee.next();
    callee.send([MessageCode.Yield, next[1], {}, ['fine']]);
    expect(await caller.next()).toEqual([MessageCode.Result, again, {}, ['fine']]);
  });

  it('a JSON callee is not invoked with arguments it cannot read; the caller gets an ERROR', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url, 'json');
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.json']);
    expect((await callee.next())[0]).toBe(MessageCode.Registered);
    const caller = await RawPeer.join(router.url, 'msgpack');
    const request = caller.nextRequest();
    caller.send([MessageCode.Call, request, {}, 'com.json', [], { k: '\u0000x' }]);
    const answer = await caller.next();
    expect(answer.slice(0, 3)).toEqual([MessageCode.Error, MessageCode.Call, request]);
    expect(answer[4]).toBe('wamp.error.invalid_argument');
  });
});
