import type { Codec, EncodedTail } from './codec.js';
import { EncodeError, SPLICE_MIN_BYTES, Spliced, spliceOrCopy } from './codec.js';
import { fromBase64, toBase64 } from './base64.js';
import { allocate, utf8Bytes } from './allocate.js';
import type { DecodeOptions } from './limits.js';
import { TopLevel, countedOf, maxDepthOf, maxItemsOf, recordCount, passesThrough } from './limits.js';
import { scanJson } from './json-scan.js';
import { DecodeError } from '../wire.js';

/**
 * JSON, with binary as a string of "\0" followed by base64. [bp_binary_conversion_of_json]
 * JSON text encodes the NUL character as the escape \u0000, so a frame without that escape
 * cannot hold binary and is parsed without a reviver (the common, fast case).
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function binaryOf(text: string): Uint8Array {
  try {
    return fromBase64(text.slice(1));
  } catch (err) {
    throw new DecodeError(`JSON: binary string (\\u0000 + base64) with ${(err as Error).message}`);
  }
}

/**
 * Turns every "\0"-prefixed string of a parsed frame into binary, in place. A walk of our own
 * rather than a JSON.parse reviver, which V8 calls for every value at several times the cost.
 * Depth is bounded by the scan (json-scan.ts).
 */
export function reviveBinary(value: unknown): unknown {
  if (typeof value === 'string') return value.charCodeAt(0) === 0 ? binaryOf(value) : value;
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'object' || (typeof item === 'string' && item.charCodeAt(0) === 0)) value[i] = reviveBinary(item);
    }
    return value;
  }
  const dict = value as Record<string, unknown>;
  for (const key in dict) {
    const item = dict[key];
    if (typeof item === 'object' || (typeof item === 'string' && item.charCodeAt(0) === 0)) {
      const next = reviveBinary(item);
      // JSON.parse makes "__proto__" an own property; plain assignment would set the prototype.
      if (next !== item) Object.defineProperty(dict, key, { value: next, writable: true, enumerable: true, configurable: true });
    }
  }
  return dict;
}

/**
 * Whether the plain JSON.stringify would get a value wrong: binary (Uint8Array), a BigInt (which
 * the binary codecs decode from 64-bit integers and CBOR bignums, and JSON.stringify rejects), or
 * a text starting with U+0000 (which JSON cannot carry: it would read back as binary).
 * Very deep values are handed to the replacer rather than walked further.
 */
function needsReplacer(value: unknown, depth: number): boolean {
  if (typeof value === 'bigint' || value instanceof Uint8Array) return true;
  if (typeof value === 'string') return value.charCodeAt(0) === 0;
  if (typeof value !== 'object' || value === null) return false;
  if (depth > 32) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (needsReplacer(value[i], depth + 1)) return true;
    return false;
  }
  for (const key in value) if (needsReplacer((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

// JSON.stringify calls Buffer#toJSON before a replacer sees the value, so the replacer reads the
// original from its holder (`this`). A BigInt becomes a JSON number: exact up to 2^53, the nearest
// double beyond (JSON peers in JavaScript could not hold more anyway).
// A text starting with U+0000 (from a MessagePack or CBOR peer) has no JSON form: "\u0000…" is
// binary by the convention, so it would arrive as other bytes or not at all. Refused with
// EncodeError rather than changed; dict keys are never binary and pass.
function replace(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (original instanceof Uint8Array) return '\0' + toBase64(original);
  if (typeof value === 'string' && value.charCodeAt(0) === 0)
    throw new EncodeError('JSON cannot carry a text that starts with U+0000 (it would read as binary)');
  return typeof value === 'bigint' ? Number(value) : value;
}

/** A JSON tail also keeps, as UTF-8, what follows the head: `,<elements>]` (or `]`). */
export interface JsonTail extends EncodedTail {
  readonly suffix: Uint8Array;
}

/** The bytes of an ASCII text. */
function asciiBytes(text: string): Uint8Array {
  const out = allocate(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * `[a,b,…` for a head of safe integers (plain ASCII digits) and empty dicts (an EVENT's or a
 * RESULT's details, most often), else undefined.
 */
function integerHead(values: unknown[]): string | undefined {
  let text = '[';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let item: string;
    if (Number.isSafeInteger(v)) item = `${v as number}`;
    else if (isEmptyDict(v)) item = '{}';
    else return undefined;
    text += i === 0 ? item : `,${item}`;
  }
  return text;
}

/** A plain object (no toJSON, no class) without enumerable keys: JSON `{}`. */
function isEmptyDict(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const _ in value) return false;
  return true;
}

/**
 * The JSON text of any value by WAMP's convention: binary as "\0" + base64, BigInt as a number.
 * Throws EncodeError for a string that starts with U+0000. [bp_binary_conversion_of_json]
 */
export function jsonText(value: unknown): string {
  return needsReplacer(value, 0) ? JSON.stringify(value, replace) : JSON.stringify(value);
}

const encode: (message: unknown[]) => string = jsonText;

/** The top-level offsets of the frame being decoded, for the split (module scratch: decode is synchronous). */
const top = new TopLevel();

export const jsonCodec: Codec = {
  name: 'json',
  subprotocol: 'wamp.2.json',
  rawSocketId: 1,
  binary: false,
  encode,
  encodeTail(tail: unknown[]): EncodedTail {
    const encoded = encode(tail).slice(1, -1);
    const jsonTail: JsonTail = { count: tail.length, encoded, suffix: utf8Bytes(tail.length === 0 ? ']' : `,${encoded}]`) };
    return jsonTail;
  },
  encodeWithTail(head: unknown[], tail: EncodedTail): Uint8Array | Spliced {
    const { suffix } = tail as Partial<JsonTail>;
    if (head.length === 0) return utf8Bytes(`[${tail.encoded as string}]`);
    // A head of integers (an EVENT's code and subscription ID) is ASCII: written byte by byte
    // in front of the tail's bytes, with neither JSON.stringify nor a UTF-8 pass over the tail.
    const text = integerHead(head);
    if (suffix === undefined) return utf8Bytes(`${encode(head).slice(0, -1)}${tail.count === 0 ? '' : ','}${tail.encoded as string}]`);
    if (text === undefined) return spliceOrCopy(utf8Bytes(encode(head).slice(0, -1)), suffix);
    if (suffix.length >= SPLICE_MIN_BYTES) return new Spliced(asciiBytes(text), suffix);
    const out = allocate(text.length + suffix.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    out.set(suffix, text.length);
    return out;
  },
  decode(frame: string | Uint8Array, options?: DecodeOptions): unknown {
    let text: string;
    try {
      text = typeof frame === 'string' ? frame : utf8.decode(frame);
    } catch {
      throw new DecodeError('JSON: invalid UTF-8');
    }
    const passthrough = passesThrough(options, frame.length);
    recordCount(options, scanJson(text, maxDepthOf(options), maxItemsOf(options), countedOf(options), passthrough ? top : undefined));
    try {
      if (passthrough) {
        // The split lives in json-split.ts, which the options bring: clients never pass through.
        const split = options!.passthrough!.json(text, typeof frame === 'string' ? undefined : frame, top);
        if (split !== undefined) return split;
      }
      const value: unknown = JSON.parse(text);
      return text.includes('\\u0000') ? reviveBinary(value) : value;
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      throw new DecodeError(`JSON: ${(err as Error).message}`);
    }
  },
};
