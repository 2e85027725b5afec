/**
 * The SIMD scan of JSON payload strings (json-special.ts, json-special.wat): the embedded module is
 * its source compiled; it finds what the JavaScript loop finds, across the 16-byte steps and the
 * 64 KiB windows; and a payload scanned in the bytes is accepted or refused exactly as one
 * scanned in the text, and as JSON.parse decides.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWat } from '../../../scripts/wasm.mjs';
import { SPECIAL_WASM, beginSpecial, nextSpecial, specialByLoop, specialIsWasm } from '../../src/codecs/json-special.js';
import { CODECS, DecodeError, PASSTHROUGH, parseMessage, rawPayloadOf } from '../../src/index.js';
import type { DecodeOptions, WampMessage } from '../../src/index.js';

const PASS: DecodeOptions = { passthrough: { ...PASSTHROUGH, minBytes: 0 } };
const json = CODECS.json;

function decode(frame: string | Uint8Array, options: DecodeOptions = {}): WampMessage | DecodeError {
  try {
    return parseMessage(json.decode(frame, options));
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
}

describe('json-special: the module', () => {
  it('is json-special.wat compiled (node scripts/wasm.mjs writes it)', async () => {
    expect(SPECIAL_WASM).toBe(await compileWat('schemas/src/codecs/json-special.wat'));
  });

  it('loads here (Node 20 has WebAssembly SIMD)', () => {
    expect(specialIsWasm()).toBe(true);
  });

  it('finds what the loop finds: every special byte at every lane, past windows, from any offset', () => {
    const size = 65536 * 2 + 37;
    const base = new Uint8Array(size + 3).fill(0x61);
    // A view that starts off a 4-byte boundary, as a frame inside a socket read does.
    const bytes = base.subarray(3);
    const specials = [0x00, 0x01, 0x1f, 0x22, 0x5c];
    const near = [0, 1, 15, 16, 17, 31, 32, 65535, 65536, 65537, size - 17, size - 16, size - 1];
    for (const at of near) {
      for (const b of specials) {
        bytes[at] = b;
        for (const from of [0, 1, at > 20 ? at - 20 : 0, at, Math.min(at + 1, size)]) {
          beginSpecial();
          expect(nextSpecial(bytes, from)).toBe(specialByLoop(bytes, from));
        }
        bytes[at] = 0x61;
      }
    }
    // Bytes that are not special: the other controls' neighbours, high bytes (UTF-8 sequences).
    for (const b of [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xe2, 0xff]) {
      bytes.fill(b, 0, 64);
      beginSpecial();
      expect(nextSpecial(bytes, 0)).toBe(size);
    }
  });

  it('agrees with the loop on random bytes, a scan moving forward through one frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 70_000 }), fc.nat(200), fc.array(fc.nat(80_000), { maxLength: 8 }), (raw, sparse, steps) => {
        // Mostly plain bytes, so that runs are long: a byte under `sparse` stays as it is.
        const bytes = raw.map((b, i) => (i % 251 < sparse % 7 || b < 2 ? b & 0x7f : 0x41 + (b % 26)));
        beginSpecial();
        let at = 0;
        for (const step of [0, ...steps.sort((a, b) => a - b)]) {
          at = Math.max(at, Math.min(step, bytes.length));
          expect(nextSpecial(bytes, at)).toBe(specialByLoop(bytes, at));
        }
      }),
      { numRuns: 200 },
    );
  });
});

/** A long-string JSON payload: runs of plain text between the pieces a scanner must stop at. */
const piece = fc.constantFrom('"', '\\', '\\"', '\\\\', '\\n', '\\u0041', '\\ud83d\\ude00', '\u0001', '\u001f', '\n', 'é', '😀', '\u2028', '\\x', '\\u12', '');
const run = fc.nat(80).map((n) => 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(3).slice(0, n));
const longString = fc.array(fc.tuple(run, piece), { minLength: 1, maxLength: 12 }).map((parts) => parts.map(([r, p]) => r + p).join(''));

describe('json-special: the payload scan in the bytes', () => {
  it('accepts and refuses exactly as the text scan and as JSON.parse (long strings, ASCII and not)', () => {
    fc.assert(
      fc.property(fc.array(longString, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), (strings, kw, bom) => {
        const args = `[${strings.map((s) => `"${s}"`).join(',')}]`;
        const text = `[16,1,{},"t",${args}${kw ? `,{"${strings[0]}":"${strings.at(-1)}"}` : ''}]`;
        const utf8 = new TextEncoder().encode(text);
        const frame = bom ? new Uint8Array([0xef, 0xbb, 0xbf, ...utf8]) : utf8;
        const whole = decode(frame); // today's full decode: JSON.parse
        const inBytes = decode(frame, PASS);
        const inText = decode(text, PASS);
        if (whole instanceof DecodeError) {
          expect(inBytes).toBeInstanceOf(DecodeError);
          expect(inText).toBeInstanceOf(DecodeError);
          return;
        }
        expect(inBytes).not.toBeInstanceOf(DecodeError);
        const passed = inBytes as WampMessage & { args?: unknown; kwargs?: unknown };
        const expected = whole as WampMessage & { args?: unknown; kwargs?: unknown };
        expect(passed.args).toEqual(expected.args);
        expect(passed.kwargs).toEqual(expected.kwargs);
      }),
      { numRuns: 500 },
    );
  });

  it('says where a control character is, in the bytes as in the text', () => {
    const text = `[16,1,{},"t",["${'a'.repeat(100)}\u0007${'b'.repeat(10)}"]]`;
    const inBytes = decode(new TextEncoder().encode(text), PASS);
    const inText = decode(text, PASS);
    expect(inBytes).toBeInstanceOf(DecodeError);
    expect((inBytes as DecodeError).message).toBe((inText as DecodeError).message);
    expect((inBytes as DecodeError).message).toMatch(/control character in a string at character 115/);
  });

  it('passes a 1 MiB string through (16 windows) and refuses one with a control character in its last window', () => {
    const body = 'x'.repeat(1 << 20);
    const ok = decode(new TextEncoder().encode(`[16,1,{},"t",["${body}"]]`), PASS) as WampMessage;
    expect(rawPayloadOf(ok)).toBeDefined();
    expect((ok as { args?: string[] }).args?.[0]).toHaveLength(1 << 20);
    const bad = decode(new TextEncoder().encode(`[16,1,{},"t",["${body.slice(0, -3)}\u0000xx"]]`), PASS);
    expect(bad).toBeInstanceOf(DecodeError);
  });
});
