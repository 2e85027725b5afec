import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CODECS, MAX_ID, SPLICE_MIN_BYTES, Spliced, cborCodec, codecForSubprotocol, joined, jsonCodec, msgpackCodec } from '../../src/index.js';
import type { Codec } from '../../src/index.js';
import { fromBase64, toBase64 } from '../../src/codecs/base64.js';
import { widenLargeIntegers } from '../../src/codecs/integers.js';

const ALL: readonly Codec[] = [jsonCodec, msgpackCodec, cborCodec];
const RUNS = { numRuns: 200 };

/**
 * A deep copy with binary as plain Uint8Array and dicts as plain objects: decoders hand back
 * Node Buffers (a Uint8Array subclass) and the comparison is about bytes and data, not classes.
 */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Uint8Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function asList(value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new Error(`expected a decoded list, got ${typeof value}`);
  return value;
}

function isFunction<A extends unknown[], R>(f: unknown): f is (...args: A) => R {
  return typeof f === 'function';
}

/** The frame of a binary codec. */
function bytesOf(frame: string | Uint8Array): Uint8Array {
  if (typeof frame === 'string') throw new Error('expected a binary frame');
  return frame;
}

function roundTrip(codec: Codec, message: unknown[]): unknown[] {
  return asList(codec.decode(codec.encode(message)));
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

// Any code point, astral plane included, never a lone surrogate (no codec can carry one). A
// string that starts with NUL is binary in WAMP's JSON convention, so text never does.
const text = fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !s.startsWith('\0'));
// msgpackr and cbor-x rename a "__proto__" key to "__proto_" on decode (prototype pollution guard).
const key = fc.string({ unit: 'binary', maxLength: 8 }).filter((k) => k !== '__proto__');

const TWO_53 = 2n ** 53n;
const edgeIntegers = [0, 1, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), MAX_ID - 1, MAX_ID, -MAX_ID];
const integer = fc.oneof(fc.constantFrom(...edgeIntegers), fc.integer(), fc.bigInt({ min: -TWO_53, max: TWO_53 }).map(Number));
/** Integers no 32-bit encoding holds: the ones a naive encoder writes as float64. */
const wideInteger = fc.oneof(
  fc.constantFrom(2 ** 32, MAX_ID, -(2 ** 31) - 1, -MAX_ID),
  fc.bigInt({ min: 2n ** 32n, max: TWO_53 }).map(Number),
  fc.bigInt({ min: -TWO_53, max: -(2n ** 31n) - 1n }).map(Number),
);
// JSON has no -0, NaN or Infinity. Past 2^53 every double is integral: those go out as 64-bit
// integers (msgpack, CBOR) down to the point where a decoder can no longer read them back exactly.
const float = fc
  .oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: -(2 ** 66), max: 2 ** 66, noNaN: true }).map(Math.trunc))
  .filter((x) => !Object.is(x, -0));
const bytes = fc.uint8Array({ maxLength: 40 });
const scalar = fc.oneof(text, integer, float, fc.boolean(), fc.constant(null), bytes);

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ maxDepth: 3, depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
}));
const kwargs = fc.dictionary(key, value, { maxKeys: 5 });
const id = fc.bigInt({ min: 1n, max: TWO_53 }).map(Number);

/** An EVENT with arbitrary payload: the shape that crosses codecs in a router. */
const event = fc
  .tuple(id, id, kwargs, fc.array(value, { maxLength: 5 }), kwargs)
  .map(([subscription, publication, details, args, kw]): unknown[] => [36, subscription, publication, details, args, kw]);

// ---------------------------------------------------------------------------------------------

describe.each(ALL.map((codec) => [codec.name, codec] as const))('%s codec round trip', (_name, codec) => {
  it('keeps unicode strings, astral plane included, as values and as keys', () => {
    const fixed = ['', 'ascii', 'ü', '€', '中文', '😀', '𝄞 clef', '\u{10FFFF}', 'a\u0000b', '\u2028\u2029', '"\\'];
    expect(roundTrip(codec, fixed)).toStrictEqual(fixed);
    fc.assert(
      fc.property(fc.array(text, { maxLength: 8 }), fc.dictionary(key, text, { maxKeys: 5 }), (strings, dict) => {
        expect(roundTrip(codec, [strings, dict])).toStrictEqual([strings, plain(dict)]);
      }),
      RUNS,
    );
  });

  it('keeps integers in [-(2^53), 2^53] as the same integers', () => {
    expect(roundTrip(codec, edgeIntegers)).toStrictEqual(edgeIntegers);
    fc.assert(
      fc.property(fc.array(integer, { maxLength: 8 }), (ints) => {
        const back = roundTrip(codec, ints);
        expect(back).toStrictEqual(ints);
        for (const n of back) expect(Number.isInteger(n)).toBe(true);
      }),
      RUNS,
    );
  });

  it('keeps floats bit for bit', () => {
    const fixed = [0.5, -1.25, 0.1, 1e-300, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 60, 1e21];
    expect(roundTrip(codec, fixed)).toStrictEqual(fixed);
    fc.assert(
      fc.property(fc.array(float, { maxLength: 8 }), (floats) => {
        expect(roundTrip(codec, floats)).toStrictEqual(floats);
      }),
      RUNS,
    );
  });

  it('keeps binary payloads, comparing bytes (decoders may give a Buffer)', () => {
    fc.assert(
      fc.property(bytes, fc.array(bytes, { maxLength: 3 }), (blob, list) => {
        const back = roundTrip(codec, [blob, list, { blob }]);
        expect(back[0]).toBeInstanceOf(Uint8Array);
        expect(plain(back)).toStrictEqual([blob, list, { blob }]);
      }),
      RUNS,
    );
  });

  it('writes only the bytes of a view, not its whole buffer', () => {
    const view = new Uint8Array([9, 9, 1, 2, 3, 9]).subarray(2, 5);
    expect(plain(roundTrip(codec, [view]))).toStrictEqual([new Uint8Array([1, 2, 3])]);
    const buffer = Buffer.from([7, 8]);
    expect(plain(roundTrip(codec, [buffer]))).toStrictEqual([new Uint8Array([7, 8])]);
  });

  it('keeps whole messages with nested kwargs dicts', () => {
    fc.assert(
      fc.property(event, (message) => {
        expect(plain(roundTrip(codec, message))).toStrictEqual(plain(message));
      }),
      RUNS,
    );
  });

  it('does not change the message it encodes', () => {
    const message = [36, MAX_ID, 2 ** 40, { n: -(2 ** 40) }, [new Uint8Array([1])], { deep: { id: 2 ** 33 } }];
    const copy = plain(message);
    codec.encode(message);
    expect(plain(message)).toStrictEqual(copy);
  });
});

describe('cross-codec', () => {
  it('json → msgpack → cbor gives back the original', () => {
    fc.assert(
      fc.property(event, (message) => {
        const fromJson = asList(jsonCodec.decode(jsonCodec.encode(message)));
        const fromMsgpack = asList(msgpackCodec.decode(msgpackCodec.encode(fromJson)));
        const fromCbor = asList(cborCodec.decode(cborCodec.encode(fromMsgpack)));
        expect(plain(fromCbor)).toStrictEqual(plain(message));
      }),
      RUNS,
    );
  });
});

describe('integers wider than 32 bits stay integers on the wire', () => {
  it('msgpack writes int64/uint64 (0xd3/0xcf), never float64 (0xcb)', () => {
    fc.assert(
      fc.property(wideInteger, (n) => {
        const frame = bytesOf(msgpackCodec.encode([n]));
        expect(frame.length).toBe(10); // fixarray, marker, 8 bytes
        expect(frame[0]).toBe(0x91);
        expect([0xcf, 0xd3]).toContain(frame[1]);
        expect(asList(msgpackCodec.decode(frame))).toStrictEqual([n]);
      }),
      RUNS,
    );
  });

  it('CBOR writes major type 0 (unsigned) or 1 (negative), never float64 (0xfb)', () => {
    fc.assert(
      fc.property(wideInteger, (n) => {
        const frame = bytesOf(cborCodec.encode([n]));
        expect(frame[0]).toBe(0x81);
        expect(frame[1]).not.toBe(0xfb);
        expect((frame[1] ?? 0xff) >> 5).toBe(n >= 0 ? 0 : 1);
        expect(asList(cborCodec.decode(frame))).toStrictEqual([n]);
      }),
      RUNS,
    );
  });

  it('32-bit integers are not floats either', () => {
    fc.assert(
      fc.property(fc.integer(), (n) => {
        const packed = bytesOf(msgpackCodec.encode([n]))[1] ?? 0;
        expect([0xca, 0xcb]).not.toContain(packed);
        const cbor = bytesOf(cborCodec.encode([n]))[1] ?? 0;
        expect(cbor >> 5).toBe(n >= 0 ? 0 : 1);
      }),
      RUNS,
    );
  });

  it('widens IDs and payload integers anywhere in a message', () => {
    // None of these numbers has a 0xcb/0xfb byte in its big-endian form, so a scan is exact.
    const message = [36, 2 ** 40, MAX_ID, {}, [2 ** 33], { n: -(2 ** 40) }];
    const packed = bytesOf(msgpackCodec.encode(message));
    expect(packed.includes(0xcb)).toBe(false);
    expect(packed.filter((b) => b === 0xcf || b === 0xd3).length).toBe(4);
    const cbor = bytesOf(cborCodec.encode(message));
    expect(cbor.includes(0xfb)).toBe(false);
    expect(cbor.filter((b) => b === 0x1b || b === 0x3b).length).toBe(4);
    expect(asList(msgpackCodec.decode(packed))).toStrictEqual(message);
    expect(asList(cborCodec.decode(cbor))).toStrictEqual(message);
  });

  it('CBOR keeps integral doubles below -2^53 exact (cbor-x rounds -1 - n twice)', () => {
    const beyond = [-12333560121973586, -(2 ** 53) - 2, -(2 ** 60), -(2 ** 63), 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 2 ** 11];
    expect(asList(cborCodec.decode(cborCodec.encode(beyond)))).toStrictEqual(beyond);
    expect(asList(msgpackCodec.decode(msgpackCodec.encode(beyond)))).toStrictEqual(beyond);
    // Below -2^53 CBOR writes float64; -2^53 itself is still an integer.
    expect(bytesOf(cborCodec.encode([-(2 ** 53) - 2]))[1]).toBe(0xfb);
    expect(bytesOf(cborCodec.encode([-(2 ** 53)]))[1]).toBe(0x3b);
  });

  it('widenLargeIntegers copies only when it must', () => {
    const small = [16, 1, { a: [1, 2] }, 'topic', [0xffffffff, -0x80000000, 0.5]];
    expect(widenLargeIntegers(small)).toBe(small);
    const inner = { n: 2 ** 40 };
    const untouched = { a: 1 };
    const big = [36, 1, untouched, [inner]];
    const wide = widenLargeIntegers(big);
    expect(wide).not.toBe(big);
    expect(wide).toStrictEqual([36, 1, untouched, [{ n: 2n ** 40n }]]);
    expect(wide[2]).toBe(untouched);
    expect(inner.n).toBe(2 ** 40);
    expect(widenLargeIntegers([-(2 ** 60), -(2 ** 40)], -MAX_ID)).toStrictEqual([-(2 ** 60), -(2n ** 40n)]);
  });
});

describe('JSON binary convention: "\\0" + base64 [bp_binary_conversion_of_json]', () => {
  it('writes binary as a NUL-prefixed base64 string', () => {
    expect(jsonCodec.encode([new Uint8Array([1, 2, 3])])).toBe('["\\u0000AQID"]');
    expect(jsonCodec.encode([{ b: Buffer.from([4, 5]) }])).toBe('[{"b":"\\u0000BAU="}]');
    expect(jsonCodec.encode([new Uint8Array(0)])).toBe('["\\u0000"]');
  });

  it('reads NUL-prefixed strings as binary, anywhere in the frame', () => {
    expect(plain(jsonCodec.decode('[1, "\\u0000AQID", {"k": ["\\u0000BAU="]}]'))).toStrictEqual([
      1,
      new Uint8Array([1, 2, 3]),
      { k: [new Uint8Array([4, 5])] },
    ]);
    expect(plain(jsonCodec.decode('["\\u0000"]'))).toStrictEqual([new Uint8Array(0)]);
  });

  it('reads UTF-8 bytes (RawSocket) as well as text', () => {
    const frame = new TextEncoder().encode('[16,1,{},"com.é",["😀"]]');
    expect(jsonCodec.decode(frame)).toStrictEqual([16, 1, {}, 'com.é', ['😀']]);
  });
});

describe('base64', () => {
  it('round-trips any bytes and matches Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
        const encoded = toBase64(data);
        expect(encoded).toBe(Buffer.from(data).toString('base64'));
        expect(plain(fromBase64(encoded))).toStrictEqual(data);
        expect(plain(fromBase64(encoded.replace(/=+$/, '')))).toStrictEqual(data);
      }),
      RUNS,
    );
  });

  it('encodes without Buffer (browsers) the same way', () => {
    // Evaluated in a fresh V8 context, which has no Buffer; stubbing the global here would break
    // vitest's own worker, which uses Buffer.
    const source = readFileSync(new URL('../../src/codecs/base64.ts', import.meta.url), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
    const sandbox: { exports: Record<string, unknown> } = { exports: {} };
    vm.runInNewContext(js.outputText, sandbox);
    const browserToBase64 = sandbox.exports['toBase64'];
    const browserFromBase64 = sandbox.exports['fromBase64'];
    if (!isFunction<[Uint8Array], string>(browserToBase64) || !isFunction<[string], Uint8Array>(browserFromBase64)) {
      throw new Error('base64.ts did not export toBase64 and fromBase64');
    }
    expect(vm.runInNewContext('typeof Buffer')).toBe('undefined');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (data) => {
        const encoded = browserToBase64(data);
        expect(encoded).toBe(Buffer.from(data).toString('base64'));
        // Another context's Uint8Array: compare the bytes.
        expect(Array.from(browserFromBase64(encoded))).toStrictEqual(Array.from(data));
      }),
      RUNS,
    );
  });

  it('rejects characters outside the alphabet', () => {
    expect(() => fromBase64('AQ!D')).toThrow(/invalid base64 character at 2/);
    expect(() => fromBase64('AQ-_')).toThrow(/invalid base64 character/);
  });
});

describe('undecodable frames throw', () => {
  const publish = [16, 1, { acknowledge: true }, 'com.example.topic', ['payload'], { k: 1 }];
  const encoded = (codec: Codec): Uint8Array => bytesOf(codec.encode(publish));

  it.each([
    ['truncated', '[16, 1, {}'],
    ['empty', ''],
    ['not JSON', 'hello'],
    ['a trailing comma', '[16, 1, {}, "t",]'],
    ['two values', '[1] [2]'],
    ['NUL followed by non-base64', '["\\u0000!!"]'],
  ])('JSON: %s', (_title, frame) => {
    expect(() => jsonCodec.decode(frame)).toThrow();
  });

  it('JSON: invalid UTF-8 bytes', () => {
    expect(() => jsonCodec.decode(new Uint8Array([0x5b, 0xff, 0x5d]))).toThrow();
  });

  it.each([
    ['the never-used byte 0xc1', [0xc1]],
    ['0xc1 inside a list', [0x92, 0x01, 0xc1]],
    ['0xc1 as a dict value', [0x91, 0x81, 0xa1, 0x6b, 0xc1]],
    ['a list missing its elements', [0x92, 0x01]],
    ['a str32 shorter than its length', [0xdb, 0, 0, 0, 10, 0x61]],
    ['a bin8 shorter than its length', [0xc4, 5, 1, 2]],
    ['empty', []],
  ])('msgpack: %s', (_title, frame) => {
    expect(() => msgpackCodec.decode(new Uint8Array(frame))).toThrow();
  });

  it('msgpack: a truncated frame, at every cut', () => {
    const frame = encoded(msgpackCodec);
    for (let end = 0; end < frame.length; end++) expect(() => msgpackCodec.decode(frame.subarray(0, end)), `cut at ${end}`).toThrow();
  });

  it('msgpack: trailing bytes after the message', () => {
    expect(() => msgpackCodec.decode(new Uint8Array([...encoded(msgpackCodec), 0x01]))).toThrow();
  });

  it('msgpack and CBOR: a string instead of bytes', () => {
    expect(() => msgpackCodec.decode('[16]')).toThrow(/must be binary/);
    expect(() => cborCodec.decode('[16]')).toThrow(/must be binary/);
  });

  it('msgpack: 0xc1 inside binary or a float is data, not an error', () => {
    const message = [16, 1, {}, 't', [new Uint8Array([0xc1, 0xc1]), -1.0000000000000004]];
    expect(plain(roundTrip(msgpackCodec, message))).toStrictEqual(plain(message));
  });

  it('CBOR: a truncated frame, at every cut', () => {
    const frame = encoded(cborCodec);
    for (let end = 0; end < frame.length; end++) expect(() => cborCodec.decode(frame.subarray(0, end)), `cut at ${end}`).toThrow();
  });

  it.each([
    ['a list missing its elements', [0x82, 0x01]],
    ['a text string shorter than its length', [0x65, 0x61, 0x62]],
    ['trailing bytes', [0x81, 0x01, 0x01]],
  ])('CBOR: %s', (_title, frame) => {
    expect(() => cborCodec.decode(new Uint8Array(frame))).toThrow();
  });
});

describe('codec registry', () => {
  it('names each codec by its WAMP subprotocol and RawSocket serializer id', () => {
    expect(ALL.map((c) => [c.name, c.subprotocol, c.rawSocketId, c.binary])).toStrictEqual([
      ['json', 'wamp.2.json', 1, false],
      ['msgpack', 'wamp.2.msgpack', 2, true],
      ['cbor', 'wamp.2.cbor', 3, true],
    ]);
    for (const codec of ALL) {
      expect(CODECS[codec.name]).toBe(codec);
      expect(codecForSubprotocol(codec.subprotocol)).toBe(codec);
    }
    expect(codecForSubprotocol('wamp.2.ubjson')).toBeUndefined();
  });

  it('JSON gives text frames, msgpack and CBOR bytes', () => {
    expect(typeof jsonCodec.encode([1])).toBe('string');
    expect(msgpackCodec.encode([1])).toBeInstanceOf(Uint8Array);
    expect(cborCodec.encode([1])).toBeInstanceOf(Uint8Array);
  });
});

describe('encodeWithTail: a message assembled from a pre-encoded tail', () => {
  it.each([jsonCodec, msgpackCodec, cborCodec])('$name: equals encode([...head, ...tail]) byte for byte', (codec) => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer(), fc.string(), fc.dictionary(fc.string({ minLength: 1 }), fc.integer())), { maxLength: 20 }),
        fc.array(fc.oneof(fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(2 ** 40))), fc.dictionary(fc.string({ minLength: 1 }), fc.string())), {
          maxLength: 3,
        }),
        (head, tail) => {
          const whole = codec.encode([...head, ...tail]);
          const assembled = joined(codec.encodeWithTail(head, codec.encodeTail(tail)));
          expect(assembled).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(assembled).equals(Buffer.from(whole))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([jsonCodec, msgpackCodec, cborCodec])('$name: an EVENT head of integer IDs in front of a shared tail', (codec) => {
    const tail = codec.encodeTail([2 ** 53, { topic: 'a.b', café: '☃' }, ['x', 1.5], { k: null }]);
    for (const id of [1, 42, 2 ** 31, 2 ** 53 - 1]) {
      const whole = codec.encode([36, id, 2 ** 53, { topic: 'a.b', café: '☃' }, ['x', 1.5], { k: null }]);
      expect(Buffer.from(joined(codec.encodeWithTail([36, id], tail))).equals(Buffer.from(whole))).toBe(true);
    }
  });

  it.each([jsonCodec, msgpackCodec, cborCodec])('$name: a tail of SPLICE_MIN_BYTES or more is spliced, not copied; a smaller one is copied', (codec) => {
    const big = codec.encodeTail(['x'.repeat(SPLICE_MIN_BYTES)]);
    const spliced = codec.encodeWithTail([36, 7, 9, {}], big);
    expect(spliced).toBeInstanceOf(Spliced);
    const { head, tail } = spliced as Spliced;
    expect(head.length + tail.length).toBe(spliced.length);
    expect(Buffer.from((spliced as Spliced).join()).equals(Buffer.from(codec.encode([36, 7, 9, {}, 'x'.repeat(SPLICE_MIN_BYTES)])))).toBe(true);
    expect(codec.encodeWithTail([36, 7, 9, {}], codec.encodeTail(['x'.repeat(10)]))).toBeInstanceOf(Uint8Array);
  });
});
