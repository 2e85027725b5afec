/**
 * Payload passthrough (payload.ts, splice.ts): a frame decoded with `passthrough` and sent again
 * with the splice must mean what today's full decode and encode mean — the same values always,
 * the same bytes where today's encoder gives the same bytes — and every frame the full decoder
 * refuses must still be refused. Property tests across the three codecs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CODECS,
  DecodeError,
  EncodeError,
  MessageCode,
  PASSTHROUGH,
  SplitFrame,
  carryPayload,
  payloadOf as payloadApart,
  encodeMessage,
  joined,
  parseMessage,
  rawPayloadOf,
  toWire,
  wireHead,
} from '../../src/index.js';
import type { BatchCount, Call as CallMessage, Codec, DecodeOptions, Encoded, Invocation, Publish, WampMessage } from '../../src/index.js';

const PASS: DecodeOptions = { passthrough: { ...PASSTHROUGH, minBytes: 0 } };

/** The full decode (today's path), or the DecodeError it throws. */
function full(codec: Codec, frame: Encoded, options: DecodeOptions = {}): WampMessage | DecodeError {
  try {
    return parseMessage(codec.decode(joined(frame), options));
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
}

function passed(codec: Codec, frame: string | Uint8Array, options: DecodeOptions = {}): WampMessage | DecodeError {
  return full(codec, frame, { ...options, ...PASS });
}

function payloadOf(msg: WampMessage): unknown[] {
  const m = msg as { args?: unknown; kwargs?: unknown };
  return [m.args, m.kwargs];
}

/** Values as compared: binary as its hex (Buffer and Uint8Array alike), -0 kept. */
function norm(value: unknown): unknown {
  if (value instanceof Uint8Array) return { binary: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(norm);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: norm(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}

function wire(msg: WampMessage | DecodeError): unknown {
  return msg instanceof DecodeError ? msg : norm(toWire(msg));
}

function bytes(encoded: Encoded): Uint8Array {
  const frame = joined(encoded);
  return typeof frame === 'string' ? new TextEncoder().encode(frame) : new Uint8Array(frame);
}

// ---- generators ------------------------------------------------------------------------------

/** Any UTF-16 code unit: lone and paired surrogates, controls, U+0000. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const jsonString = fc.oneof(
  fc.string({ unit: anyUnit, maxLength: 12 }),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', '"', '\\', '/', '\u2028', '😀', '\ud83d', '\ude00'),
);
/** Text a binary codec carries: well-formed (lone surrogates do not survive UTF-8). */
const wellFormed = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.constantFrom('', '\u0000x', '\u0000', '😀', 'ü'));

const doubles = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(-0, 0.1, 1e300, -1e-300, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 63)),
);
const integers = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -1, 2 ** 31, 2 ** 32, 2 ** 53 - 1));

function values(text: fc.Arbitrary<string>, big: boolean): fc.Arbitrary<unknown> {
  const scalar = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    integers,
    doubles,
    text,
    fc.uint8Array({ maxLength: 20 }),
    ...(big ? [fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }), fc.constantFrom(2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, -(2n ** 63n))] : []),
  );
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('dict')),
    list: fc.array(tie('value'), { maxLength: 4 }),
    dict: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  }));
  return value;
}

/** A payload: no payload, args only, args and kwargs, empty ones, kwargs without args ([]). */
function payloads(text: fc.Arbitrary<string>, big: boolean): fc.Arbitrary<unknown[]> {
  const v = values(text, big);
  return fc.oneof<fc.Arbitrary<unknown[]>[]>(
    fc.constant<unknown[]>([]),
    fc.array(v, { maxLength: 5 }).map((a) => [a]),
    fc.tuple(fc.array(v, { maxLength: 5 }), fc.dictionary(text, v, { maxKeys: 5 })),
    fc.dictionary(text, v, { maxKeys: 5 }).map((k) => [[], k]),
    fc.constant<unknown[]>([[], {}]),
  );
}

/** A message with a payload, as today's encoder would write its array. */
function messages(text: fc.Arbitrary<string>, big: boolean): fc.Arbitrary<unknown[]> {
  const id = fc.integer({ min: 1, max: 2 ** 53 });
  const details = fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.boolean()), { maxKeys: 3 });
  const heads = fc.oneof(
    fc.tuple(id, details).map(([r, d]) => [MessageCode.Publish, r, d, 'com.example.topic']),
    fc.tuple(id, details).map(([r, d]) => [MessageCode.Call, r, d, 'com.example.proc']),
    fc.tuple(id, details).map(([r, d]) => [MessageCode.Yield, r, d]),
    fc.tuple(id, details).map(([r, d]) => [MessageCode.Error, MessageCode.Invocation, r, d, 'com.example.error']),
    fc.tuple(id, id, details).map(([s, p, d]) => [MessageCode.Event, s, p, d]),
    fc.tuple(id, details).map(([r, d]) => [MessageCode.Result, r, d]),
    fc.tuple(id, id, details).map(([r, g, d]) => [MessageCode.Invocation, r, g, d]),
  );
  return fc.tuple(heads, payloads(text, big)).map(([h, p]) => [...h, ...p]);
}

/**
 * JSON text of `value` as other encoders write it: random whitespace, characters escaped as
 * \uXXXX, `/` as `\/`, numbers in exponent form. Binary as "\u0000" + base64.
 */
function looseJson(value: unknown, rnd: () => number): string {
  const sp = (): string => (rnd() < 0.2 ? [' ', '\n', '\t', '\r', '  '][Math.floor(rnd() * 5)]! : '');
  const str = (s: string): string => {
    let out = '"';
    for (const ch of s) {
      const c = ch.charCodeAt(0);
      if (ch.length === 1 && (c < 0x20 || ch === '"' || ch === '\\' || (c >= 0xd800 && c <= 0xdfff))) out += `\\u${c.toString(16).padStart(4, '0')}`;
      else if (ch === '/' && rnd() < 0.5) out += '\\/';
      else if (rnd() < 0.1) for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')}`;
      else out += ch;
    }
    return `${out}"`;
  };
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    if (Number.isInteger(value) && Math.abs(value) < 1e15 && rnd() < 0.2) return `${value}.0e+0`;
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return str(value);
  if (value instanceof Uint8Array)
    return `"\\u0000${Buffer.from(value)
      .toString('base64')
      .replace(/\//g, rnd() < 0.5 ? '\\/' : '/')}"`;
  if (Array.isArray(value)) return `[${sp()}${value.map((v) => `${looseJson(v, rnd)}${sp()}`).join(`,${sp()}`)}]`;
  const dict = value as Record<string, unknown>;
  return `{${sp()}${Object.keys(dict)
    .map((k) => `${str(k)}${sp()}:${sp()}${looseJson(dict[k], rnd)}${sp()}`)
    .join(`,${sp()}`)}}`;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

// ---- the properties --------------------------------------------------------------------------

/** What a frame must give in both paths: same refusal, same head, same values, same count. */
function agree(codec: Codec, frame: string | Uint8Array): void {
  const a: BatchCount = { items: 0 };
  const b: BatchCount = { items: 0 };
  const today = full(codec, frame, { batch: a });
  const pass = passed(codec, frame, { batch: b });
  if (today instanceof DecodeError) {
    expect(pass).toBeInstanceOf(DecodeError);
    return;
  }
  expect(pass).not.toBeInstanceOf(DecodeError);
  expect(b.items).toBe(a.items);
  const msg = pass as WampMessage;
  expect(wire(msg)).toEqual(wire(today));
  // Sent again with the splice, in the same codec: the frame decodes to the same message.
  const fresh = passed(codec, frame) as WampMessage;
  const spliced = encodeMessage(codec, fresh);
  const again = full(codec, spliced);
  expect(again).not.toBeInstanceOf(DecodeError);
  // Passed through, the payload is the sender's (-0 stays -0); decoded whole (a payload the
  // scan leaves to the full decode), it is what today's encoder makes of it.
  const reencoded = codec.encode(toWire(today));
  const canonical = full(codec, reencoded) as WampMessage;
  expect(norm(wireHead(again as WampMessage))).toEqual(norm(wireHead(canonical)));
  expect(norm(payloadOf(again as WampMessage))).toEqual(norm(payloadOf(rawPayloadOf(fresh) !== undefined ? today : canonical)));
  // Where today's re-encoding gives the received bytes back, so does the splice.
  if (Buffer.from(bytes(reencoded)).equals(Buffer.from(bytes(frame)))) expect(Buffer.from(bytes(spliced)).equals(Buffer.from(bytes(frame)))).toBe(true);
  // In another serializer: the values, decoded once, encoded as today.
  for (const other of Object.values(CODECS)) {
    if (other === codec) continue;
    let expected: string | Uint8Array | undefined;
    try {
      expected = other.encode(toWire(today));
    } catch {
      expected = undefined;
    }
    const m = passed(codec, frame) as WampMessage;
    if (expected === undefined) expect(() => encodeMessage(other, m)).toThrow();
    else expect(Buffer.from(bytes(encodeMessage(other, m))).equals(Buffer.from(bytes(expected)))).toBe(true);
  }
}

describe('payload passthrough: property tests', () => {
  for (const name of ['msgpack', 'cbor'] as const) {
    const codec = CODECS[name];
    it(`${name}: decode with passthrough, splice, compare with the full decode and encode`, () => {
      fc.assert(
        fc.property(messages(wellFormed, true), (message) => {
          agree(codec, codec.encode(message));
        }),
        { numRuns: 150 },
      );
    }, 120_000);
    it(`${name}: a mutated or cut frame is refused exactly when the full decode refuses it`, () => {
      fc.assert(
        fc.property(messages(wellFormed, true), fc.nat(), fc.nat(255), fc.boolean(), (message, at, byte, cut) => {
          const frame = new Uint8Array(codec.encode(message) as Uint8Array);
          const i = at % frame.length;
          const bad = cut ? frame.subarray(0, i) : (frame.set([byte], i), frame);
          agree(codec, bad);
        }),
        { numRuns: 300 },
      );
    }, 120_000);
  }

  const json = CODECS.json;
  it('json: text as other encoders write it (escapes, surrogates, whitespace, binary), as a string and as bytes', () => {
    fc.assert(
      fc.property(messages(jsonString, false), fc.integer(), (message, seed) => {
        const text = looseJson(message, seeded(seed));
        agree(json, text);
        agree(json, new TextEncoder().encode(text));
        // A text starting with U+0000 (jsonString can make one) has no JSON form: encode refuses it.
        let encoded: string | Uint8Array | undefined;
        try {
          encoded = json.encode(message);
        } catch (err) {
          if (!(err instanceof EncodeError && /starts with U\+0000/.test(err.message))) throw err;
        }
        if (encoded !== undefined) agree(json, encoded);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
  it('json: a mutated or cut text is refused exactly when the full decode refuses it', () => {
    const chars = ['"', '\\', ',', ']', '[', '{', '}', ':', '0', '-', 'e', '.', 'u', 'x', ' ', '\u0001', 'n', 't'];
    fc.assert(
      fc.property(
        messages(jsonString, false),
        fc.integer(),
        fc.nat(),
        fc.constantFrom(...chars),
        fc.constantFrom('insert', 'replace', 'delete', 'cut'),
        (message, seed, at, ch, how) => {
          const text = looseJson(message, seeded(seed));
          const i = at % text.length;
          const bad =
            how === 'insert'
              ? text.slice(0, i) + ch + text.slice(i)
              : how === 'replace'
                ? text.slice(0, i) + ch + text.slice(i + 1)
                : how === 'delete'
                  ? text.slice(0, i) + text.slice(i + 1)
                  : text.slice(0, i);
          agree(json, bad);
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);
});

describe('payload passthrough: cases a scanner could get wrong', () => {
  const json = CODECS.json;
  const cases = [
    '[16,1,{},"t",["\\ud83d\\ude00","\\ud800","\\udc00x","\\u0000AQID","\\u0000AQ\\/D"]]',
    '[16,1,{},"t",[-0,1E2,1.5e-3,9007199254740993,18446744073709551615,0.0]]',
    '[16,1,{},"t",[],{"__proto__":{"a":1},"a":1,"a":2,"":null}]',
    '[16,1,{},"t",[true,false,null,"\\"\\\\\\/\\b\\f\\n\\r\\t"]]',
    ' [ 48 , 7 , { } , "p" , [ 1 , [ ] , { } ] , { "k" : [ ] } ] \n',
    '[70,5,{"x":"\\u0000AQID"},[1]]',
    // Long strings (the scan's fast path past 16 characters): escapes, pairs, a quote at the end.
    `[16,1,{},"t",["${'x'.repeat(40)}\\"${'y'.repeat(40)}\\u00e9${'z'.repeat(20)}😀${'w'.repeat(30)}","${'v'.repeat(4096)}"],{"${'k'.repeat(30)}":"${'x'.repeat(50)}\\\\"}]`,
    `[16,1,{},"t",["${'a'.repeat(20)}\\ud800${'b'.repeat(20)}"]]`,
  ];
  it('passes a lone surrogate written as itself (a string frame) only by decoding it whole', () => {
    const text = `[16,1,{},"t",["${'a'.repeat(20)}\ud800${'b'.repeat(20)}"]]`;
    expect(rawPayloadOf(passed(json, text) as WampMessage)).toBeUndefined();
    agree(json, text);
  });
  // As a string (the text scan) and as the UTF-8 bytes a socket gives (the byte scan where ASCII).
  for (const text of cases)
    it(`accepts and passes ${JSON.stringify(text).slice(0, 60)}`, () => {
      agree(json, text);
      agree(json, new TextEncoder().encode(text));
    });

  const refused = [
    '[16,1,{},"t",[1e400]]', // accepted today (as Infinity): decoded whole, not passed
    '[16,1,{},"t",[01]]',
    '[16,1,{},"t",[1.]]',
    '[16,1,{},"t",[.5]]',
    '[16,1,{},"t",[+1]]',
    '[16,1,{},"t",["\\x"]]',
    '[16,1,{},"t",["\\u12"]]',
    '[16,1,{},"t",["a\tb"]]',
    '[16,1,{},"t",[1,]]',
    '[16,1,{},"t",[1],]',
    '[16,1,{},"t",[1]]]',
    '[16,1,{},"t",[1]] x',
    '[16,1,{},"t",[tru]]',
    '[16,1,{},"t",[nul]]',
    '[16,1,{},"t",{"a":1}]',
    '[16,1,{},"t",[1],[2]]',
    '[16,1,{},"t",[1],{"a":}]',
    '[16,1,{},"t",[1],{"a" 1}]',
    '[16,1,{},"t",[1],{a:1}]',
    '[16,1,{},"t",["\\u0000!!"]]',
    '[16,1,{},"t",["\\u0000A"]]',
    '[16,1,{},"t",["unterminated]]',
    '[16,1,{},"t",[1]',
    '[16,1,{},"t",[1]][1]',
    '[16,1,{}, "t" [1]]',
    `[16,1,{},"t",["${'x'.repeat(40)}\t${'y'.repeat(10)}"]]`,
    `[16,1,{},"t",["${'x'.repeat(40)}\\q${'y'.repeat(10)}"]]`,
    `[16,1,{},"t",["${'x'.repeat(40)}`,
    `[16,1,{},"t",["${'x'.repeat(40)}\u0001"]]`,
  ];
  for (const text of refused)
    it(`agrees with the full decode on ${JSON.stringify(text)}`, () => {
      agree(json, text);
      agree(json, new TextEncoder().encode(text));
    });

  it('refuses, as the full decode does, nesting one past the limit, and passes it at the limit', () => {
    // The message list is level 1, Arguments level 2: 62 more levels inside reach the default 64.
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    for (const codec of Object.values(CODECS)) {
      const at = codec.encode([MessageCode.Publish, 1, {}, 't', [nest(62)]]);
      const past = codec.encode([MessageCode.Publish, 1, {}, 't', [nest(63)]]);
      expect(passed(codec, at)).not.toBeInstanceOf(DecodeError);
      expect(rawPayloadOf(passed(codec, at) as WampMessage)).toBeDefined();
      agree(codec, at);
      expect(passed(codec, past)).toBeInstanceOf(DecodeError);
      agree(codec, past);
    }
  });

  it('refuses, as the full decode does, a payload past maxItems', () => {
    for (const codec of Object.values(CODECS)) {
      const frame = codec.encode([MessageCode.Publish, 1, {}, 't', new Array(200).fill(0)]);
      expect(full(codec, frame, { maxItems: 100 })).toBeInstanceOf(DecodeError);
      expect(passed(codec, frame, { maxItems: 100 })).toBeInstanceOf(DecodeError);
    }
  });

  it('keeps the raw payload only for the messages it splits, and only list/dict payloads', () => {
    for (const codec of Object.values(CODECS)) {
      const split = codec.decode(codec.encode([MessageCode.Call, 1, {}, 'p', [1], { a: 1 }]), PASS);
      expect(split).toBeInstanceOf(SplitFrame);
      // An opaque (enc_algo) payload, and messages without a payload, are decoded whole.
      expect(codec.decode(codec.encode([MessageCode.Call, 1, { enc_algo: 'x' }, 'p', new Uint8Array([1])]), PASS)).not.toBeInstanceOf(SplitFrame);
      expect(codec.decode(codec.encode([MessageCode.Call, 1, {}, 'p']), PASS)).not.toBeInstanceOf(SplitFrame);
      expect(codec.decode(codec.encode([MessageCode.Subscribe, 1, {}, 'p']), PASS)).not.toBeInstanceOf(SplitFrame);
    }
  });

  it('a copy with changed args never carries the old bytes; carryPayload passes them on', () => {
    for (const codec of Object.values(CODECS)) {
      const call = passed(codec, codec.encode([MessageCode.Call, 1, {}, 'p', [1, 2], { a: 1 }])) as CallMessage;
      const invocation: Invocation = carryPayload(
        { code: MessageCode.Invocation, request: 9 as Invocation['request'], registration: 3 as Invocation['registration'], details: {} },
        call,
      );
      expect(rawPayloadOf(invocation)?.codec).toBe(codec.name);
      expect(full(codec, encodeMessage(codec, invocation))).toEqual({
        code: MessageCode.Invocation,
        request: 9,
        registration: 3,
        details: {},
        args: [1, 2],
        kwargs: { a: 1 },
      });
      // A spread copies the values, not the bytes.
      const copy = { ...invocation, args: ['changed'] };
      expect(rawPayloadOf(copy)).toBeUndefined();
      expect(copy.kwargs).toEqual({ a: 1 });
      expect(toWire(full(codec, encodeMessage(codec, copy)) as WampMessage)).toEqual([MessageCode.Invocation, 9, 3, {}, ['changed'], { a: 1 }]);
      // Assigning drops the bytes: the change is sent.
      invocation.args = ['set'];
      expect(rawPayloadOf(invocation)).toBeUndefined();
      expect(toWire(full(codec, encodeMessage(codec, invocation)) as WampMessage)).toEqual([MessageCode.Invocation, 9, 3, {}, ['set'], { a: 1 }]);
      // The CALL itself still has its bytes and values.
      expect(rawPayloadOf(call)).toBeDefined();
      expect(call.args).toEqual([1, 2]);
    }
  });

  it('payloadOf keeps a payload apart from its message: the same shared values, the bytes carried on', () => {
    for (const codec of Object.values(CODECS)) {
      const publish = passed(codec, codec.encode([MessageCode.Publish, 1, {}, 't', ['x'.repeat(40)], { k: 1 }])) as Publish;
      const payload = payloadApart(publish);
      // Not the message (an EVENT kept for a slow receiver must not keep the PUBLISH alive).
      expect(payload).not.toBe(publish);
      expect(Object.values(payload)).not.toContain(publish);
      expect(rawPayloadOf(payload)).toBe(rawPayloadOf(publish));
      const event = carryPayload({ code: MessageCode.Event, subscription: 5, publication: 6, details: {} }, payload);
      expect(rawPayloadOf(event)).toBe(rawPayloadOf(publish));
      expect(toWire(full(codec, encodeMessage(codec, event as unknown as WampMessage)) as WampMessage)).toEqual([
        MessageCode.Event,
        5,
        6,
        {},
        ['x'.repeat(40)],
        { k: 1 },
      ]);
      // Decoded once for all of them.
      expect(payload.args).toBe(publish.args);
      expect((event as { kwargs?: unknown }).kwargs).toBe(payload.kwargs);
      // A message without raw bytes: its values.
      const plain = { args: [1] };
      expect(payloadApart(plain)).toEqual({ args: [1], kwargs: undefined });
      expect(rawPayloadOf(payloadApart(plain))).toBeUndefined();
    }
  });
});
