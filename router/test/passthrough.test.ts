/**
 * Payload passthrough end to end (schemas/src/payload.ts): a payload goes from publisher to
 * subscriber, caller to callee and callee to caller as the bytes its sender wrote when both speak
 * one serializer, decoded once and encoded once per serializer otherwise; a payload the full
 * decoder would refuse still costs its sender the session.
 */
import { describe, expect, it } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { CODECS, DEFAULT_PASSTHROUGH_MIN_BYTES, MessageCode } from '@switchboard/schemas';
import { FrameQueue, RawPeer, startTestRouter } from './helpers.js';

type Joined = Awaited<ReturnType<typeof RawPeer.join>>;

/** Every frame `peer` receives, as it came (text or bytes). */
function rawFrames(peer: RawPeer): FrameQueue<string | Buffer> {
  const frames = new FrameQueue<string | Buffer>('a raw frame');
  peer.ws.on('message', (data: Buffer, isBinary: boolean) => frames.push(isBinary ? Buffer.from(data) : data.toString('utf8')));
  return frames;
}

async function subscribe(peer: Joined, topic: string): Promise<number> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Subscribe, request, {}, topic]);
  const subscribed = await peer.next((m) => m[0] === MessageCode.Subscribed && m[1] === request);
  return subscribed[2] as number;
}

async function register(peer: Joined, procedure: string): Promise<number> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Register, request, {}, procedure]);
  const registered = await peer.next((m) => m[0] === MessageCode.Registered && m[1] === request);
  return registered[2] as number;
}

/** A string long enough that every frame holding it is passed through (DEFAULT_PASSTHROUGH_MIN_BYTES). */
const PAD = 'p'.repeat(DEFAULT_PASSTHROUGH_MIN_BYTES);

// Escapes, paired and lone surrogates, binary by the JSON convention (with an escaped `/`), big
// integers, -0, an exponent, deep nesting, whitespace: written by hand, as no JSON.stringify would.
const JSON_TAIL = ` ["a\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\\ud800", "\\u0000AQID\\/w==", 9007199254740993, -0, 1.5E+3, [[[{"k": [null, true, false]}]]], "${PAD}"] , {"x" : {"y": []}, "": 1} `;
const JSON_VALUES = [
  ['a"b\\c/dé😀\ud800', new Uint8Array([1, 2, 3, 255]), 9007199254740992, -0, 1500, [[[{ k: [null, true, false] }]]], PAD],
  { x: { y: [] }, '': 1 },
];

/** `binary`: a lone surrogate has no UTF-8 form: MessagePack and CBOR peers read replacement characters (as before). */
function expectValues(args: unknown, kwargs: unknown, binary = false): void {
  const a = args as unknown[];
  const expected = JSON_VALUES[0] as unknown[];
  if (binary) expect((a[0] as string).startsWith('a"b\\c/dé😀')).toBe(true);
  else expect(a[0]).toBe(expected[0]);
  expect(Buffer.from(a[1] as Uint8Array).equals(Buffer.from([1, 2, 3, 255]))).toBe(true);
  // msgpackr and cbor-x write -0 as the integer 0 (as before); JSON passes the publisher's -0.
  expect(a.slice(2)).toEqual(binary ? expected.slice(2).map((v) => (Object.is(v, -0) ? 0 : v)) : expected.slice(2));
  expect(kwargs).toEqual(JSON_VALUES[1]);
}

describe('payload passthrough', () => {
  it('a JSON publication reaches a JSON subscriber as the bytes published, msgpack and CBOR subscribers as the same values', async () => {
    const router = await startTestRouter();
    const url = router.url!;
    const publisher = await RawPeer.join(url, 'json');
    const subscribers = new Map<SerializerName, { peer: Joined; frames: FrameQueue<string | Buffer>; subscription: number }>();
    for (const name of ['json', 'msgpack', 'cbor'] as const) {
      const peer = await RawPeer.join(url, name);
      const frames = rawFrames(peer);
      const subscription = await subscribe(peer, 'com.example.pass');
      subscribers.set(name, { peer, frames, subscription });
    }
    const request = publisher.nextRequest();
    publisher.sendRaw(`[16, ${request}, {"acknowledge": true}, "com.example.pass",${JSON_TAIL}]`, false);
    await publisher.next((m) => m[0] === MessageCode.Published && m[1] === request);
    const json = subscribers.get('json')!;
    const text = (await json.frames.next((f) => typeof f === 'string' && f.startsWith('[36,'), 3000)) as string;
    // The head is the router's; everything after it is the publisher's text, byte for byte.
    expect(text.endsWith(`,${JSON_TAIL}]`)).toBe(true);
    expect(text.startsWith(`[36,${json.subscription},`)).toBe(true);
    const event = await json.peer.next((m) => m[0] === MessageCode.Event);
    expectValues(event[4], event[5]);
    for (const name of ['msgpack', 'cbor'] as const) {
      const { peer } = subscribers.get(name)!;
      const e = await peer.next((m) => m[0] === MessageCode.Event);
      expect(e[0]).toBe(MessageCode.Event);
      expectValues(e[4], e[5], true);
    }
  });

  it('calls across serializers and within one: the payload arrives as sent, each way', async () => {
    const router = await startTestRouter();
    const url = router.url!;
    for (const [callerName, calleeName] of [
      ['json', 'json'],
      ['msgpack', 'msgpack'],
      ['cbor', 'cbor'],
      ['json', 'msgpack'],
      ['cbor', 'json'],
      ['msgpack', 'cbor'],
    ] as const) {
      const callee = await RawPeer.join(url, calleeName);
      const calleeFrames = rawFrames(callee);
      const procedure = `com.example.${callerName}.${calleeName}`;
      await register(callee, procedure);
      const caller = await RawPeer.join(url, callerName);
      const callerFrames = rawFrames(caller);
      const args = [1, 'two', { three: [3.5, null] }, 2 ** 53, new Uint8Array([0, 1]), PAD];
      const kwargs = { nested: { list: [true, false] } };
      const callFrame = CODECS[callerName].encode([MessageCode.Call, 1, {}, procedure, args, kwargs]);
      caller.sendRaw(callFrame, CODECS[callerName].binary);
      const invocation = await callee.next((m) => m[0] === MessageCode.Invocation);
      const received = invocation[4] as unknown[];
      expect(received.slice(0, 4)).toEqual(args.slice(0, 4));
      expect([...(received[4] as Uint8Array)]).toEqual([0, 1]);
      expect(received[5]).toBe(PAD);
      expect(invocation[5]).toEqual(kwargs);
      if (callerName === calleeName) {
        // Same serializer: the INVOCATION ends with the CALL's payload bytes.
        const invocationFrame = await calleeFrames.next((f) => (CODECS[calleeName].decode(f) as unknown[])[0] === MessageCode.Invocation, 3000);
        const tail = CODECS[callerName].encodeTail([args, kwargs]).encoded;
        if (typeof tail === 'string') expect((invocationFrame as string).endsWith(`,${tail}]`)).toBe(true);
        else
          expect(
            Buffer.from(invocationFrame as Buffer)
              .subarray(-tail.length)
              .equals(Buffer.from(tail)),
          ).toBe(true);
      }
      const yieldFrame = CODECS[calleeName].encode([MessageCode.Yield, invocation[1], {}, ['result', -1, PAD], { ok: true }]);
      callee.sendRaw(yieldFrame, CODECS[calleeName].binary);
      const result = await caller.next((m) => m[0] === MessageCode.Result);
      expect(result).toEqual([MessageCode.Result, 1, {}, ['result', -1, PAD], { ok: true }]);
      if (callerName === calleeName) {
        const resultFrame = await callerFrames.next((f) => (CODECS[callerName].decode(f) as unknown[])[0] === MessageCode.Result, 3000);
        const tail = CODECS[calleeName].encodeTail([['result', -1, PAD], { ok: true }]).encoded;
        if (typeof tail === 'string') expect((resultFrame as string).endsWith(`,${tail}]`)).toBe(true);
        else
          expect(
            Buffer.from(resultFrame as Buffer)
              .subarray(-tail.length)
              .equals(Buffer.from(tail)),
          ).toBe(true);
      }
      caller.close();
      callee.close();
    }
  });

  it('an ERROR from a callee passes its payload to the caller', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url!, 'json');
    await register(callee, 'com.example.fails');
    const caller = await RawPeer.join(router.url!, 'json');
    caller.send([MessageCode.Call, 1, {}, 'com.example.fails', [1]]);
    const invocation = await callee.next((m) => m[0] === MessageCode.Invocation);
    callee.sendRaw(`[8, 68, ${invocation[1] as number}, {}, "com.example.error", ["why \\u00e9", "${PAD}"], {"code": 42}]`, false);
    expect(await caller.next((m) => m[0] === MessageCode.Error)).toEqual([
      MessageCode.Error,
      MessageCode.Call,
      1,
      {},
      'com.example.error',
      ['why é', PAD],
      { code: 42 },
    ]);
  });

  const malformed = [
    '[16, 1, {}, "com.example.pass", [1, 2,]]',
    '[16, 1, {}, "com.example.pass", ["\\x"]]',
    '[16, 1, {}, "com.example.pass", [01]]',
    '[16, 1, {}, "com.example.pass", ["\\u0000not base64!"]]',
    '[16, 1, {}, "com.example.pass", [1], {"a" 1}]',
    '[48, 1, {}, "com.example.pass", [tru]]',
  ];
  // Each twice: as it is (decoded whole) and with a long string first (passed through).
  for (const [frame, padded] of malformed.flatMap((f) => [[f, false] as const, [f, true] as const])) {
    it(`a payload the full decoder refuses still costs the session${padded ? ' when passed through' : ''}: ${frame}`, async () => {
      const router = await startTestRouter();
      const peer = await RawPeer.join(router.url!, 'json');
      const sent = padded ? frame.replace('"com.example.pass", [', `"com.example.pass", ["${PAD}", `) : frame;
      expect(sent.length >= DEFAULT_PASSTHROUGH_MIN_BYTES).toBe(padded);
      peer.sendRaw(sent, false);
      const abort = await peer.next((m) => m[0] === MessageCode.Abort);
      expect(abort[2]).toBe('wamp.error.protocol_violation');
    });
  }

  it("a frame under DEFAULT_PASSTHROUGH_MIN_BYTES is decoded and encoded whole: its numbers are written the encoder's way", async () => {
    const router = await startTestRouter();
    const subscriber = await RawPeer.join(router.url!, 'json');
    const frames = rawFrames(subscriber);
    await subscribe(subscriber, 'com.example.small');
    const publisher = await RawPeer.join(router.url!, 'json');
    publisher.sendRaw('[16, 1, {"acknowledge": true}, "com.example.small", [1.5E+3, "\\u00e9"]]', false);
    await publisher.next((m) => m[0] === MessageCode.Published);
    const text = (await frames.next((f) => typeof f === 'string' && f.startsWith('[36,'), 3000)) as string;
    expect(text.endsWith(',[1500,"é"]]')).toBe(true);
  });

  it('a payload nested past maxNestingDepth is refused, at the limit it passes', async () => {
    const router = await startTestRouter();
    const nest = (n: number): string => (n === 0 ? '1' : `[${nest(n - 1)}]`);
    const subscriber = await RawPeer.join(router.url!, 'json');
    await subscribe(subscriber, 'com.example.deep');
    const publisher = await RawPeer.join(router.url!, 'json');
    // The message is level 1, Arguments level 2: 62 more reach the default limit of 64.
    publisher.sendRaw(`[16, 1, {"acknowledge": true}, "com.example.deep", ["${PAD}", ${nest(62)}]]`, false);
    await publisher.next((m) => m[0] === MessageCode.Published);
    expect((await subscriber.next())[0]).toBe(MessageCode.Event);
    publisher.sendRaw(`[16, 2, {"acknowledge": true}, "com.example.deep", ["${PAD}", ${nest(63)}]]`, false);
    const abort = await publisher.next((m) => m[0] === MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.protocol_violation');
  });
});
