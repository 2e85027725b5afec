/**
 * A linear check of a CBOR frame (RFC 8949) before cbor-x decodes it (see limits.ts): one pass
 * over the bytes, no allocation, no recursion. It refuses every tag but a bignum (tags 2 and 3)
 * of at most 8 bytes — cbor-x builds dates, regular expressions, sets, maps, typed arrays, records
 * and shared references from tags, and converts a bignum of n bytes in O(n²) (a 256 KiB one took
 * 35 s) — as well as the simple values other than false, true, null and undefined, non-finite floats, indefinite-length
 * strings (cbor-x cannot read them), dict keys that are not text, nesting and value counts past
 * the limits, truncated items and trailing bytes. Indefinite-length lists and dicts are data-model values and
 * pass.
 */
import type { BinaryScan, TopLevel } from './limits.js';
import { refuse, tooDeep, tooMany } from './limits.js';

const NAME = 'CBOR';

/** A bignum of up to 8 bytes fits 64 bits, as every integer the data model knows. */
const MAX_BIGNUM_BYTES = 8;

/** What a byte string costs beyond one value: cbor-x copies each into a Buffer of its own. */
const BINARY_EXTRA = 3;

/** Items left in an indefinite-length container: even (so dict parity works) and never reached. */
const INDEFINITE = 2 ** 52;

// Per open container: items still to read (a dict counts keys and values), whether it is a dict,
// whether it is indefinite-length (ends at a break). Module-level scratch, grown on demand: the
// scan is synchronous and never re-entered.
let left = new Float64Array(65);
let isDict = new Uint8Array(65);
let indefinite = new Uint8Array(65);

/** The argument of the head at `pos` (after the initial byte), or -1 for indefinite length. */
let argument = 0;

/** Reads the argument of an initial byte's additional info into `argument`; returns the position after it. */
function readArgument(frame: Uint8Array, pos: number, info: number, start: number): number {
  if (info < 24) {
    argument = info;
    return pos;
  }
  const end = frame.length;
  switch (info) {
    case 24:
      if (pos + 1 > end) refuse(NAME, 'truncated frame', start);
      argument = frame[pos]!;
      return pos + 1;
    case 25:
      if (pos + 2 > end) refuse(NAME, 'truncated frame', start);
      argument = (frame[pos]! << 8) | frame[pos + 1]!;
      return pos + 2;
    case 26:
      if (pos + 4 > end) refuse(NAME, 'truncated frame', start);
      argument = uint32(frame, pos);
      return pos + 4;
    case 27:
      // Exact up to 2^53; beyond, only compared against lengths, which it exceeds either way.
      if (pos + 8 > end) refuse(NAME, 'truncated frame', start);
      argument = uint32(frame, pos) * 0x100000000 + uint32(frame, pos + 4);
      return pos + 8;
    case 31:
      argument = -1;
      return pos;
    default:
      return refuse(NAME, `reserved additional information ${info}`, start);
  }
}

/**
 * Throws DecodeError for a frame outside the data model; returns the count of values (counted on
 * from `counted`, the values of the messages before this one in its batch) and whether it holds
 * `undefined` (which JavaScript CBOR clients such as wampy write for absent options: the codec
 * then reads it as JSON.stringify would, see cbor.ts).
 */
export function scanCbor(frame: Uint8Array, maxDepth: number, maxItems: number, counted = 0, top?: TopLevel): BinaryScan {
  top?.reset();
  if (left.length < maxDepth + 1) {
    left = new Float64Array(maxDepth + 1);
    isDict = new Uint8Array(maxDepth + 1);
    indefinite = new Uint8Array(maxDepth + 1);
  }
  const end = frame.length;
  let pos = 0;
  let depth = 0;
  let items = counted;
  let sawUndefined = false;
  // The frame itself is one item.
  left[0] = 1;
  isDict[0] = 0;
  indefinite[0] = 0;
  while (depth > 0 || left[0]! > 0) {
    if (left[depth] === 0) {
      depth--;
      continue;
    }
    if (pos >= end) refuse(NAME, 'truncated frame', pos);
    const start = pos;
    const b = frame[pos++]!;
    if (b === 0xff) {
      // A break ends the innermost indefinite-length container, and only that.
      if (indefinite[depth] !== 1) refuse(NAME, 'a break outside an indefinite-length list or dict', start);
      if (isDict[depth] === 1 && left[depth]! % 2 !== 0) refuse(NAME, 'a dict key without a value', start);
      depth--;
      continue;
    }
    const key = isDict[depth] === 1 && left[depth]! % 2 === 0;
    left[depth]!--;
    if (depth === 1 && top !== undefined) top.add(start);
    if (++items > maxItems) tooMany(NAME, maxItems, start, counted);
    const major = b >> 5;
    const info = b & 0x1f;
    if (key && major !== 3) refuse(NAME, 'a dict key that is not a text string', start);
    switch (major) {
      case 0: // unsigned integer
      case 1: // negative integer
        if (info === 31) refuse(NAME, 'an integer of indefinite length', start);
        pos = readArgument(frame, pos, info, start);
        break;
      case 2: // byte string
      case 3: // text string
        pos = readArgument(frame, pos, info, start);
        if (argument < 0) refuse(NAME, 'an indefinite-length string (not supported)', start);
        if (argument > end - pos) refuse(NAME, 'truncated string', start);
        if (major === 2) {
          items += BINARY_EXTRA;
          if (items > maxItems) tooMany(NAME, maxItems, start, counted);
        }
        pos += argument;
        break;
      case 4: // list
      case 5: {
        // dict
        pos = readArgument(frame, pos, info, start);
        if (depth + 1 > maxDepth) tooDeep(NAME, maxDepth, start);
        const count = argument < 0 ? INDEFINITE : major === 5 ? argument * 2 : argument;
        // Every item takes at least one byte: a count past the rest of the frame cannot be honest.
        if (argument >= 0 && count > end - pos) refuse(NAME, 'truncated list or dict', start);
        depth++;
        left[depth] = count;
        isDict[depth] = major === 5 ? 1 : 0;
        indefinite[depth] = argument < 0 ? 1 : 0;
        break;
      }
      case 6: {
        // tag: a bignum (2 positive, 3 negative) of a definite byte string up to 8 bytes; no other
        pos = readArgument(frame, pos, info, start);
        if (argument !== 2 && argument !== 3)
          refuse(NAME, `tag ${argument < 0 ? 'of indefinite length' : argument}, which is not in the WAMP data model`, start);
        if (pos >= end) refuse(NAME, 'truncated frame', start);
        const content = frame[pos++]!;
        if (content >> 5 !== 2) refuse(NAME, 'a bignum that is not a byte string', start);
        pos = readArgument(frame, pos, content & 0x1f, start);
        if (argument < 0 || argument > MAX_BIGNUM_BYTES) refuse(NAME, `a bignum of more than ${MAX_BIGNUM_BYTES} bytes (64 bits)`, start);
        if (argument > end - pos) refuse(NAME, 'truncated bignum', start);
        // cbor-x converts a bignum byte by byte in BigInt arithmetic: it counts as one value per byte.
        items += argument > 1 ? argument - 1 : 0;
        if (items > maxItems) tooMany(NAME, maxItems, start, counted);
        pos += argument;
        break;
      }
      default:
        // Major type 7: false, true, null and finite floats; no undefined, no other simple values.
        switch (info) {
          case 20:
          case 21:
          case 22:
            break;
          case 25: // half float: exponent all ones is NaN or Infinity
            if (pos + 2 > end) refuse(NAME, 'truncated frame', start);
            if (((frame[pos]! >> 2) & 0x1f) === 0x1f) refuse(NAME, 'NaN or Infinity (not in the WAMP data model)', start);
            pos += 2;
            break;
          case 26:
            if (pos + 4 > end) refuse(NAME, 'truncated frame', start);
            if ((((frame[pos]! & 0x7f) << 1) | (frame[pos + 1]! >> 7)) === 0xff) refuse(NAME, 'NaN or Infinity (not in the WAMP data model)', start);
            pos += 4;
            break;
          case 27:
            if (pos + 8 > end) refuse(NAME, 'truncated frame', start);
            if ((((frame[pos]! & 0x7f) << 4) | (frame[pos + 1]! >> 4)) === 0x7ff) refuse(NAME, 'NaN or Infinity (not in the WAMP data model)', start);
            pos += 8;
            break;
          case 23: // undefined
            sawUndefined = true;
            if (top !== undefined) top.lastUndefined = start;
            break;
          default:
            return refuse(NAME, `simple value ${info === 24 ? (frame[pos] ?? '') : info}, which is not in the WAMP data model`, start);
        }
    }
  }
  if (pos > end) refuse(NAME, 'truncated frame', end);
  if (pos !== end) refuse(NAME, 'trailing bytes after the message', pos);
  return { items, holdsUndefined: sawUndefined };
}

function uint32(frame: Uint8Array, pos: number): number {
  return frame[pos]! * 0x1000000 + ((frame[pos + 1]! << 16) | (frame[pos + 2]! << 8) | frame[pos + 3]!);
}
