/**
 * Second review of payload passthrough (#20): the JSON payload scan, in the text
 * (json-validate.ts) and in the frame's bytes (json-special.ts, c25d465), and fan-out's payload
 * holder (payloadOf, cb8e7fe). Each test states what the scan or the payload must give under
 * hostile input.
 */
import { describe, expect, it } from 'vitest';
import { beginSpecial, nextSpecial, specialByLoop } from '../../src/codecs/json-special.js';
import { CODECS, DecodeError, PASSTHROUGH, parseMessage, payloadOf, rawPayloadOf } from '../../src/index.js';
import type { DecodeOptions, Publish, WampMessage } from '../../src/index.js';

const PASS: DecodeOptions = { passthrough: { ...PASSTHROUGH, minBytes: 0 } };
const json = CODECS.json;

function decode(frame: string | Uint8Array, options: DecodeOptions = PASS): WampMessage | DecodeError {
  try {
    return parseMessage(json.decode(frame, options));
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
}

/**
 * Characters the scan reads through String.prototype.indexOf (up to what it finds) and slice (the
 * slice's length, which the scan then checks) while `f` runs: a count, not a time, so it holds on
 * a loaded machine. Linear work is a small multiple of the frame's length; the quadratic scan
 * read the rest of the string again from every run.
 */
function charactersRead(f: () => void): number {
  const proto = String.prototype;
  const { indexOf, slice } = proto;
  let read = 0;
  proto.indexOf = function (this: string, search: string, from?: number): number {
    const at = indexOf.call(this, search, from);
    read += (at === -1 ? this.length : at) - Math.max(0, from ?? 0);
    return at;
  };
  proto.slice = function (this: string, start?: number, end?: number): string {
    const part = slice.call(this, start, end);
    read += part.length;
    return part;
  };
  try {
    f();
  } finally {
    proto.indexOf = indexOf;
    proto.slice = slice;
  }
  return read;
}

describe('review #20b: the text scan of a long string stays linear', () => {
  // A 256 KiB string with an escape every 17 characters: each escape ends a run, and the scan
  // looked for the string's closing quote again from each run (indexOf to the end of the
  // string), about 256 KiB / 18 times: 2 MiB took seconds, the 16 MiB a WebSocket listener takes
  // by default minutes. A frame scanned in its text: not ASCII (one character is enough),
  // or given as a string.
  const body = `${'a'.repeat(16)}\\n`.repeat((256 << 10) / 18);

  it.each([
    ['bytes with one Latin-1 character', () => new TextEncoder().encode(`[16,1,{},"t",["é${body}"]]`)],
    ['bytes with one character outside Latin-1', () => new TextEncoder().encode(`[16,1,{},"t",["€${body}"]]`)],
    ['a string', () => `[16,1,{},"t",["${body}"]]`],
    ['a string, the escapes in a dict key', () => `[16,1,{},"t",[],{"${body}":1}]`],
  ])('%s', (_, make) => {
    const frame = make();
    let msg: WampMessage | DecodeError | undefined;
    expect(charactersRead(() => (msg = decode(frame)))).toBeLessThan(8 * frame.length);
    expect(rawPayloadOf(msg as WampMessage)).toBeDefined();
  });

  it('a lone surrogate every 17 characters (a frame given as a string): linear, decoded whole', () => {
    const text = `[16,1,{},"t",["${`${'a'.repeat(16)}\ud800`.repeat((256 << 10) / 17)}"]]`;
    let msg: WampMessage | DecodeError | undefined;
    expect(charactersRead(() => (msg = decode(text)))).toBeLessThan(8 * text.length);
    expect(msg).not.toBeInstanceOf(DecodeError);
    expect(rawPayloadOf(msg as WampMessage)).toBeUndefined();
  });

  it('says where a control character or an unterminated string is, as before (after runs ended by escapes)', () => {
    for (const lead of ['é', '']) {
      const text = `[16,1,{},"t",["${lead}${'a'.repeat(40)}\\n${'b'.repeat(40)}\\t${'c'.repeat(30)}\u0001"]]`;
      const fromText = decode(text);
      const fromBytes = decode(new TextEncoder().encode(text));
      expect(fromText).toBeInstanceOf(DecodeError);
      expect((fromText as DecodeError).message).toBe(`JSON: control character in a string at character ${text.indexOf('\u0001')}`);
      expect((fromBytes as DecodeError).message).toBe((fromText as DecodeError).message);
      const open = `[16,1,{},"t",["${lead}${'a'.repeat(40)}\\n${'b'.repeat(40)}\\"${'c'.repeat(30)}`;
      expect((decode(open) as DecodeError).message).toBe('JSON: unterminated string at character 14');
      expect((decode(new TextEncoder().encode(open)) as DecodeError).message).toBe('JSON: unterminated string at character 14');
    }
  });
});

describe('review #20b: the scan in the bytes keeps nothing from one frame to the next', () => {
  it('one Buffer re-filled between two frames (a reused read buffer) is read again', () => {
    const text = `[16,1,{},"t",["${'a'.repeat(200)}"]]`;
    const frame = new TextEncoder().encode(text);
    expect(rawPayloadOf(decode(frame) as WampMessage)).toBeDefined();
    // The same object, other bytes: a control character, then a quote, where the first had plain text.
    const at = text.indexOf('a') + 100;
    frame[at] = 0x01;
    expect((decode(frame) as DecodeError).message).toBe(`JSON: control character in a string at character ${at}`);
    frame[at] = 0x22;
    expect(decode(frame)).toBeInstanceOf(DecodeError);
    frame[at] = 0x61;
    expect(rawPayloadOf(decode(frame) as WampMessage)).toBeDefined();
  });

  it('a frame that fails half way leaves nothing behind for the next', () => {
    const a = new TextEncoder().encode(`[16,1,{},"t",["${'a'.repeat(100)}\\x${'a'.repeat(100)}"]]`);
    expect(decode(a)).toBeInstanceOf(DecodeError);
    const b = new TextEncoder().encode(`[16,1,{},"t",["${'a'.repeat(100)}\u0002${'a'.repeat(100)}"]]`);
    expect((decode(b) as DecodeError).message).toMatch(/control character in a string at character 115/);
  });
});

describe('review #20b: nextSpecial, later calls into a full window', () => {
  it('from every offset of a 16-byte step to the end of the window and past it', () => {
    // The first call loads a full 64 KiB window; the second starts inside it, off the step
    // the first began at, and finds nothing before the window's end (the vector loop's last
    // step there must not read past the window: the module's memory ends with it).
    const bytes = new Uint8Array(65536 * 2 + 5).fill(0x61);
    bytes[3] = 0x22;
    bytes[65536 + 40] = 0x5c;
    for (let from = 4; from < 4 + 32; from++) {
      beginSpecial();
      expect(nextSpecial(bytes, 0)).toBe(3);
      expect(nextSpecial(bytes, from)).toBe(specialByLoop(bytes, from));
      expect(nextSpecial(bytes, 65536 + 41)).toBe(bytes.length);
    }
  });
});

describe('review #20b: payloadOf', () => {
  it('of a payload from payloadOf: the same shared values, raw bytes kept, nothing decoded', () => {
    const frame = new TextEncoder().encode(`[16,1,{},"t",["${'x'.repeat(40)}"],{"k":1}]`);
    const publish = decode(frame) as Publish;
    const raw = rawPayloadOf(publish)!;
    let decodes = 0;
    const decodeRaw = raw.decode.bind(raw);
    raw.decode = () => {
      decodes++;
      return decodeRaw();
    };
    const apart = payloadOf(publish);
    expect(payloadOf(apart)).toBe(apart);
    expect(rawPayloadOf(payloadOf(apart))).toBe(raw);
    expect(decodes).toBe(0);
  });
});
