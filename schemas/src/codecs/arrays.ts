/**
 * MessagePack and CBOR arrays are a header (the element count) followed by the elements, each
 * encoded on its own, so a message can be assembled from pre-encoded parts.
 */
import type { EncodedTail, Spliced } from './codec.js';
import { spliceOrCopy } from './codec.js';
import { allocate } from './allocate.js';

type Header = (count: number) => Uint8Array;
type HeaderLength = (firstByte: number) => number;

/** The elements of an encoded array, without its header. */
function body(encoded: Uint8Array, headerLength: HeaderLength): Uint8Array {
  return encoded.subarray(headerLength(encoded[0]!));
}

export function tailOf(encodedArray: Uint8Array, count: number, headerLength: HeaderLength): EncodedTail {
  return { count, encoded: body(encodedArray, headerLength).slice() };
}

export function withTail(encodedHead: Uint8Array, headCount: number, tail: EncodedTail, header: Header, headerLength: HeaderLength): Uint8Array | Spliced {
  const h = header(headCount + tail.count);
  const items = body(encodedHead, headerLength);
  const head = allocate(h.length + items.length);
  head.set(h, 0);
  head.set(items, h.length);
  return spliceOrCopy(head, tail.encoded as Uint8Array);
}

// MessagePack: fixarray 0x90–0x9f, array16 0xdc, array32 0xdd.
export function msgpackHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count);
  if (count < 0x10000) return Uint8Array.of(0xdc, count >> 8, count & 0xff);
  return Uint8Array.of(0xdd, count >>> 24, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff);
}

export function msgpackHeaderLength(first: number): number {
  return first === 0xdc ? 3 : first === 0xdd ? 5 : 1;
}

// CBOR major type 4: 0x80–0x97 inline count, 0x98 (1 byte), 0x99 (2), 0x9a (4).
export function cborHeader(count: number): Uint8Array {
  if (count < 24) return Uint8Array.of(0x80 | count);
  if (count < 0x100) return Uint8Array.of(0x98, count);
  if (count < 0x10000) return Uint8Array.of(0x99, count >> 8, count & 0xff);
  return Uint8Array.of(0x9a, count >>> 24, (count >> 16) & 0xff, (count >> 8) & 0xff, count & 0xff);
}

export function cborHeaderLength(first: number): number {
  return first === 0x98 ? 2 : first === 0x99 ? 3 : first === 0x9a ? 5 : 1;
}
