import { C1, Packr } from 'msgpackr';
import type { Codec, EncodedTail } from './codec.js';
import { msgpackHeader, msgpackHeaderLength, tailOf, withTail } from './arrays.js';
import { widenLargeIntegers } from './integers.js';

// Plain maps as objects, no records/structures extension (other implementations do not speak it),
// integers beyond 2^32 as plain numbers (IDs go up to 2^53).
// largeBigIntToFloat: a BigInt beyond 64 bits (a CBOR bignum from another peer) goes out as the
// nearest double instead of failing the whole message.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', variableMapSize: true, largeBigIntToFloat: true });

// 0xc1 is "never used" in MessagePack, yet msgpackr decodes it to a sentinel object instead of
// failing, which would then be relayed to other peers (and re-encoded as 0xc1, which their
// decoders reject). 0xc1 never occurs in UTF-8, so the byte scan rarely hits; only then is the
// decoded value walked.
function containsC1(value: unknown): boolean {
  if (value === C1) return true;
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some(containsC1);
  for (const key in value) if (containsC1((value as Record<string, unknown>)[key])) return true;
  return false;
}

export const msgpackCodec: Codec = {
  name: 'msgpack',
  subprotocol: 'wamp.2.msgpack',
  rawSocketId: 2,
  binary: true,
  encode(message: unknown[]): Uint8Array {
    return packr.pack(widenLargeIntegers(message));
  },
  encodeTail(tail: unknown[]): EncodedTail {
    return tailOf(packr.pack(widenLargeIntegers(tail)), tail.length, msgpackHeaderLength);
  },
  encodeWithTail(head: unknown[], tail: EncodedTail): Uint8Array {
    return withTail(packr.pack(widenLargeIntegers(head)), head.length, tail, msgpackHeader, msgpackHeaderLength);
  },
  decode(frame: string | Uint8Array): unknown {
    if (typeof frame === 'string') throw new Error('MessagePack frames must be binary');
    const value: unknown = packr.unpack(frame);
    if (frame.indexOf(0xc1) !== -1 && containsC1(value)) throw new Error('MessagePack: byte 0xc1 is never used');
    return value;
  },
};
