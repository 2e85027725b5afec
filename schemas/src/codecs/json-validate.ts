/**
 * A validating scan of the payload of a JSON message, for payload passthrough (passthrough.ts):
 * what JSON.parse would accept, checked without building a value — the grammar (RFC 8259: strings
 * with their escapes, `\u` escapes of lone and paired surrogates as JSON.parse takes them; numbers;
 * literals; whitespace), the binary convention (a string starting with \u0000 must hold base64,
 * [bp_binary_conversion_of_json]). Nesting and value counts are held to the limits by scanJson,
 * which has run over the whole frame before; this scan trusts its depth bound.
 *
 * The scan starts at the `,` before the message's Arguments and reads `,value` once or more, then
 * the `]` that closes the message, then only whitespace. It reports the kinds of the elements
 * (their first character) and whether a number overflows a double (JSON.parse reads 1e400 as
 * Infinity, which the encoders after it write as null: such a payload is decoded fully, as
 * before, rather than passed through). Throws DecodeError where JSON.parse would throw.
 */
import { fromBase64 } from './base64.js';
import { beginSpecial, nextSpecial } from './json-special.js';
import { DecodeError } from '../wire.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_LIST = 0x5b;
const CLOSE_LIST = 0x5d;
const OPEN_DICT = 0x7b;
const CLOSE_DICT = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** What the scan found (module scratch: the scan is synchronous and never re-entered). */
export interface JsonTailScan {
  /** Elements read (1 or more). */
  count: number;
  /** First character of each of the first two elements. */
  first: number;
  second: number;
  /** Offset of the `]` that closes the message. */
  close: number;
  /**
   * What the splice would send otherwise than today's encoder: a number JSON.parse reads as
   * ±Infinity, a lone surrogate written as itself (not escaped).
   */
  overflow: boolean;
}

const result: JsonTailScan = { count: 0, first: 0, second: 0, close: 0, overflow: false };

// Open containers: 1 for a dict, 0 for a list. Grown on demand.
let stack = new Uint8Array(64);

function bad(what: string, at: number): never {
  throw new DecodeError(`JSON: ${what} at character ${at}`);
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings.
const CONTROL = /[\u0000-\u001f]/;

/** String.prototype.isWellFormed (ES2024; Node 20): a native check for lone surrogates. */
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * What longRun learned of the text being scanned (`runText`), so that no character is read
 * natively more than once a scan: where the next quote and the next backslash are (-1: none after
 * `quoteFrom`, `backslashFrom`), and up to where a run holds a control character or a lone
 * surrogate (the character loop reads up to there). Without it, a long string with an escape or a
 * lone surrogate every 17 characters had each run look again to its closing quote: quadratic.
 */
let runText = '';
let quote = -1;
let quoteFrom = 0;
let backslash = -1;
let backslashFrom = 0;
let dirtyUntil = 0;

/**
 * The frame's bytes when every character of the text is one byte of them (ASCII): character `i`
 * is byte `i + bytesShift` (a byte-order mark the decoder dropped comes first). Undefined: the
 * scan reads the text only.
 */
let bytes: Uint8Array | undefined;
let bytesShift = 0;

/**
 * The rest of a long string from `i`: up to its closing quote at once (indexOf and a native
 * check of the run) when the run holds no escape, control character or lone surrogate; else up
 * to where the character loop must look. Returns the offset of the character to look at.
 * With the frame's bytes, up to the next quote, backslash or control character at once
 * (json-special.ts: SIMD), which is where the character loop must look.
 */
function longRun(text: string, i: number): number {
  if (bytes !== undefined) return nextSpecial(bytes, i + bytesShift) - bytesShift;
  if (runText !== text) {
    runText = text;
    quote = backslash = -1;
    quoteFrom = backslashFrom = text.length + 1; // nothing known yet: looked up below
    dirtyUntil = 0;
  }
  if (i < dirtyUntil) return i; // the loop reads on to what the check found
  if ((quote !== -1 && quote < i) || (quote === -1 && quoteFrom > i)) {
    quoteFrom = i;
    quote = text.indexOf('"', i);
  }
  if (quote === -1) return i;
  if ((backslash !== -1 && backslash < i) || (backslash === -1 && backslashFrom > i)) {
    backslashFrom = i;
    backslash = text.indexOf('\\', i);
  }
  const end = backslash !== -1 && backslash < quote ? backslash : quote;
  const run = text.slice(i, end);
  if (CONTROL.test(run) || isWellFormed === undefined || !isWellFormed.call(run)) {
    dirtyUntil = end;
    return i; // the loop finds it and says where
  }
  return end;
}

/** Reads the string whose opening quote is at `i`; returns the offset after its closing quote. */
function string(text: string, i: number): number {
  const start = i;
  i++;
  for (;;) {
    // Plain characters: a loop V8 compiles tight (a regular expression costs more per short string).
    let c = text.charCodeAt(i);
    let limit = i + 16;
    while (c > BACKSLASH ? c < 0xd800 : c >= 0x20 && c !== QUOTE && c !== BACKSLASH) {
      c = text.charCodeAt(++i);
      if (i === limit) {
        const to = longRun(text, i);
        if (to !== i) {
          i = to;
          c = text.charCodeAt(i);
          break;
        }
        limit = -1; // the loop reads on
      }
    }
    if (c === QUOTE) return i + 1;
    if (c >= 0xd800 && c <= 0xdfff) {
      // A pair passes; a lone surrogate (only in a frame given as a string) has no UTF-8 form:
      // such a payload is decoded whole, as before (JSON.stringify writes it as an escape).
      const d = text.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) i += 2;
      else {
        result.overflow = true;
        i++;
      }
      continue;
    }
    if (c > 0xdfff) {
      i++;
      continue;
    }
    if (c !== BACKSLASH) return bad(Number.isNaN(c) ? 'unterminated string' : 'control character in a string', Number.isNaN(c) ? start : i);
    const e = text.charCodeAt(i + 1);
    if (e === 0x75) {
      // \uXXXX takes every code unit, lone surrogates included (JSON.parse keeps them).
      if (!(isHex(text.charCodeAt(i + 2)) && isHex(text.charCodeAt(i + 3)) && isHex(text.charCodeAt(i + 4)) && isHex(text.charCodeAt(i + 5))))
        bad('bad \\u escape', i);
      i += 6;
    } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i += 2;
    else bad('bad escape', i);
  }
}

/** A value string at `i` (opening quote); checks a binary's base64. Returns the offset after it. */
function valueString(text: string, i: number): number {
  const end = string(text, i);
  if (text.charCodeAt(i + 1) === BACKSLASH && text.startsWith('\\u0000', i + 1)) {
    // Binary [bp_binary_conversion_of_json]: rare, so read by JSON.parse (its base64 may hold \/).
    const value = JSON.parse(text.slice(i, end)) as string;
    try {
      fromBase64(value.slice(1));
    } catch (err) {
      throw new DecodeError(`JSON: binary string (\\u0000 + base64) with ${(err as Error).message}`);
    }
  }
  return end;
}

function digits(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c >= ZERO && c <= NINE) c = text.charCodeAt(++i);
  return i;
}

const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

/** Whether the integer written as `digits` is in [-2^63, 2^64 - 1]. */
function within64Bits(digits: string): boolean {
  const n = BigInt(digits);
  return n >= MIN_INT64 && n <= MAX_UINT64;
}

/** A number at `i`; returns the offset after it. */
function number(text: string, i: number): number {
  const start = i;
  if (text.charCodeAt(i) === MINUS) i++;
  let c = text.charCodeAt(i);
  if (c === ZERO) i++;
  else if (c > ZERO && c <= NINE) i = digits(text, i + 1);
  else bad('bad number', start);
  c = text.charCodeAt(i);
  // An integer past the 64 bits of the data model [bp_serializations] (MessagePack and CBOR
  // refuse one): decoded whole, as a double, as before — never passed on as digits no 64-bit
  // peer can hold.
  if (c !== 0x2e && c !== 0x65 && c !== 0x45 && i - start >= 19 && !within64Bits(text.slice(start, i))) result.overflow = true;
  let exponent = false;
  if (c === 0x2e) {
    const after = digits(text, i + 1);
    if (after === i + 1) bad('bad number', start);
    i = after;
    c = text.charCodeAt(i);
  }
  if (c === 0x65 || c === 0x45) {
    exponent = true;
    i++;
    c = text.charCodeAt(i);
    if (c === 0x2b || c === MINUS) i++;
    const after = digits(text, i);
    if (after === i) bad('bad number', start);
    i = after;
  }
  // Only an exponent or more than 308 digits can leave the doubles.
  if ((exponent || i - start > 308) && !Number.isFinite(Number(text.slice(start, i)))) result.overflow = true;
  return i;
}

function literal(text: string, i: number, word: string): number {
  if (!text.startsWith(word, i)) bad('unexpected token', i);
  return i + word.length;
}

/** One value at `i` (no leading whitespace); returns the offset after it. */
function value(text: string, i: number): number {
  let depth = 0;
  for (;;) {
    // A value starts at i.
    const c = text.charCodeAt(i);
    if (c === OPEN_LIST || c === OPEN_DICT) {
      if (depth >= stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
      }
      const dict = c === OPEN_DICT;
      stack[depth++] = dict ? 1 : 0;
      i = skipSpace(text, i + 1);
      const d = text.charCodeAt(i);
      if (d === (dict ? CLOSE_DICT : CLOSE_LIST)) {
        i++;
        depth--;
      } else {
        if (dict) i = key(text, i);
        continue;
      }
    } else if (c === QUOTE) i = valueString(text, i);
    else if (c === MINUS || (c >= ZERO && c <= NINE)) i = number(text, i);
    else if (c === 0x74) i = literal(text, i, 'true');
    else if (c === 0x66) i = literal(text, i, 'false');
    else if (c === 0x6e) i = literal(text, i, 'null');
    else bad(Number.isNaN(c) ? 'unexpected end' : 'unexpected token', i);
    // After a value: close containers, or go on to the next value.
    for (;;) {
      if (depth === 0) return i;
      i = skipSpace(text, i);
      const d = text.charCodeAt(i);
      const dict = stack[depth - 1] === 1;
      if (d === COMMA) {
        i = skipSpace(text, i + 1);
        if (dict) i = key(text, i);
        break;
      }
      if (d === (dict ? CLOSE_DICT : CLOSE_LIST)) {
        i++;
        depth--;
        continue;
      }
      bad(Number.isNaN(d) ? 'unexpected end' : 'unexpected token', i);
    }
  }
}

/** A dict key and its colon at `i`; returns the offset of the value. */
function key(text: string, i: number): number {
  if (text.charCodeAt(i) !== QUOTE) bad('expected a string key', i);
  i = skipSpace(text, string(text, i));
  if (text.charCodeAt(i) !== COLON) bad("expected ':'", i);
  return skipSpace(text, i + 1);
}

/**
 * Scans the elements of a message from the `,` at `start` to the end of `text` (see above).
 * `frame`: the UTF-8 bytes `text` was decoded from, when each character is one byte (ASCII),
 * `shift` bytes (a byte-order mark) before the first: long strings are then scanned in the bytes.
 * The result is module scratch, valid until the next call.
 */
export function scanJsonTail(text: string, start: number, frame?: Uint8Array, shift = 0): JsonTailScan {
  runText = '';
  bytes = frame;
  bytesShift = shift;
  if (frame !== undefined) beginSpecial();
  try {
    return scanTail(text, start);
  } finally {
    bytes = undefined; // not kept past the scan
    runText = '';
  }
}

function scanTail(text: string, start: number): JsonTailScan {
  result.count = 0;
  result.first = 0;
  result.second = 0;
  result.overflow = false;
  let i = start;
  for (;;) {
    if (text.charCodeAt(i) !== COMMA) bad("expected ','", i);
    i = skipSpace(text, i + 1);
    const c = text.charCodeAt(i);
    if (result.count === 0) result.first = c;
    else if (result.count === 1) result.second = c;
    result.count++;
    i = skipSpace(text, value(text, i));
    if (text.charCodeAt(i) === CLOSE_LIST) break;
  }
  result.close = i;
  if (skipSpace(text, i + 1) !== text.length) bad('unexpected text after the message', i + 1);
  return result;
}
