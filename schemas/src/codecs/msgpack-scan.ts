/**
 * A linear check of a MessagePack frame before msgpackr decodes it (see limits.ts): one pass over
 * the bytes, no allocation, no recursion. It refuses extension types (msgpackr builds Date,
 * RegExp, Error, Set, typed arrays and records from them) but msgpackr's own `undefined` (fixext
 * 1, type 0, which wampy sends; see undefined.ts), the never-used 0xc1, non-finite
 * floats, dict keys that are not strings, nesting and value counts past the limits, truncated
 * items and trailing bytes.
 */
import type { BinaryScan, TopLevel } from './limits.js';
import { refuse, tooDeep, tooMany } from './limits.js';

const NAME = 'MessagePack';

/** What a binary costs beyond one value: msgpackr copies each into a Buffer of its own. */
const BINARY_EXTRA = 3;

// Per open container: items still to read (a dict counts keys and values), and whether it is a
// dict. Module-level scratch, grown on demand: the scan is synchronous and never re-entered.
let left = new Float64Array(65);
let isDict = new Uint8Array(65);

/**
 * Throws DecodeError for a frame outside the data model; returns the count of values (counted on
 * from `counted`, the values of the messages before this one in its batch) and whether it holds
 * `undefined`.
 */
export function scanMsgpack(frame: Uint8Array, maxDepth: number, maxItems: number, counted = 0, top?: TopLevel): BinaryScan {
  top?.reset();
  if (left.length < maxDepth + 1) {
    left = new Float64Array(maxDepth + 1);
    isDict = new Uint8Array(maxDepth + 1);
  }
  const end = frame.length;
  let pos = 0;
  let depth = 0;
  let items = counted;
  let sawUndefined = false;
  // The frame itself is one item.
  left[0] = 1;
  isDict[0] = 0;
  while (depth > 0 || left[0]! > 0) {
    if (left[depth] === 0) {
      depth--;
      continue;
    }
    if (pos >= end) refuse(NAME, 'truncated frame', pos);
    const key = isDict[depth] === 1 && left[depth]! % 2 === 0;
    left[depth]!--;
    const start = pos;
    if (depth === 1 && top !== undefined) top.add(start);
    if (++items > maxItems) tooMany(NAME, maxItems, start, counted);
    const b = frame[pos++]!;
    if (key && !(b >= 0xa0 && b <= 0xbf) && b !== 0xd9 && b !== 0xda && b !== 0xdb) refuse(NAME, 'a dict key that is not a string', start);
    let length = -1; // bytes of string or binary data that follow
    let count = -1; // items of a container that follows
    let dict = false;
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) {
      count = (b & 0x0f) * 2;
      dict = true;
    } else if (b <= 0x9f) count = b & 0x0f;
    else if (b <= 0xbf) length = b & 0x1f;
    else {
      if (b >= 0xc4 && b <= 0xc6) items += BINARY_EXTRA; // bin 8/16/32
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          continue;
        case 0xc4: // bin 8
        case 0xd9: // str 8
          if (pos + 1 > end) refuse(NAME, 'truncated frame', start);
          length = frame[pos]!;
          pos += 1;
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
          if (pos + 2 > end) refuse(NAME, 'truncated frame', start);
          length = (frame[pos]! << 8) | frame[pos + 1]!;
          pos += 2;
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
          if (pos + 4 > end) refuse(NAME, 'truncated frame', start);
          length = uint32(frame, pos);
          pos += 4;
          break;
        case 0xca: // float 32: exponent all ones is NaN or Infinity
          if (pos + 4 > end) refuse(NAME, 'truncated frame', start);
          if ((((frame[pos]! & 0x7f) << 1) | (frame[pos + 1]! >> 7)) === 0xff) refuse(NAME, 'NaN or Infinity (not in the WAMP data model)', start);
          pos += 4;
          continue;
        case 0xcb: // float 64
          if (pos + 8 > end) refuse(NAME, 'truncated frame', start);
          if ((((frame[pos]! & 0x7f) << 4) | (frame[pos + 1]! >> 4)) === 0x7ff) refuse(NAME, 'NaN or Infinity (not in the WAMP data model)', start);
          pos += 8;
          continue;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          pos += 1;
          continue;
        case 0xcd:
        case 0xd1:
          pos += 2;
          continue;
        case 0xce:
        case 0xd2:
          pos += 4;
          continue;
        case 0xcf:
        case 0xd3:
          pos += 8;
          continue;
        case 0xdc: // array 16
        case 0xde: // map 16
          if (pos + 2 > end) refuse(NAME, 'truncated frame', start);
          count = (frame[pos]! << 8) | frame[pos + 1]!;
          pos += 2;
          dict = b === 0xde;
          if (dict) count *= 2;
          break;
        case 0xdd: // array 32
        case 0xdf: // map 32
          if (pos + 4 > end) refuse(NAME, 'truncated frame', start);
          count = uint32(frame, pos);
          pos += 4;
          dict = b === 0xdf;
          if (dict) count *= 2;
          break;
        case 0xc1:
          return refuse(NAME, 'the never-used byte 0xc1', start);
        case 0xd4: // fixext 1: only msgpackr's undefined (type 0, data 0)
          if (pos + 2 > end) refuse(NAME, 'truncated frame', start);
          if (frame[pos] !== 0 || frame[pos + 1] !== 0) refuse(NAME, `extension type (0xd4), which is not in the WAMP data model`, start);
          sawUndefined = true;
          if (top !== undefined) top.lastUndefined = start;
          pos += 2;
          continue;
        default:
          // 0xc7–0xc9 ext 8/16/32, 0xd4–0xd8 fixext: application types outside the data model.
          return refuse(NAME, `extension type (0x${b.toString(16)}), which is not in the WAMP data model`, start);
      }
    }
    if (length >= 0) {
      if (items > maxItems) tooMany(NAME, maxItems, start, counted);
      if (length > end - pos) refuse(NAME, 'truncated string or binary', start);
      pos += length;
    } else {
      // Every item takes at least one byte: a count past the rest of the frame cannot be honest.
      if (count > end - pos) refuse(NAME, 'truncated list or dict', start);
      if (depth + 1 > maxDepth) tooDeep(NAME, maxDepth, start);
      depth++;
      left[depth] = count;
      isDict[depth] = dict ? 1 : 0;
    }
  }
  if (pos > end) refuse(NAME, 'truncated frame', end);
  if (pos !== end) refuse(NAME, 'trailing bytes after the message', pos);
  return { items, holdsUndefined: sawUndefined };
}

function uint32(frame: Uint8Array, pos: number): number {
  return frame[pos]! * 0x1000000 + ((frame[pos + 1]! << 16) | (frame[pos + 2]! << 8) | frame[pos + 3]!);
}
