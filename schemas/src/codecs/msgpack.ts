import { Packr } from 'msgpackr';
import type { Codec, EncodedTail, Spliced } from './codec.js';
import { msgpackHeader, msgpackHeaderLength, tailOf, withTail } from './arrays.js';
import { widenLargeIntegers } from './integers.js';
import type { DecodeOptions } from './limits.js';
import { TopLevel, countedOf, maxDepthOf, maxItemsOf, recordCount, refuse, passesThrough } from './limits.js';
import { scanMsgpack } from './msgpack-scan.js';
import type { BinarySplit } from './passthrough.js';
import { splitBinary } from './passthrough.js';
import { withoutUndefined } from './undefined.js';
import { DecodeError } from '../wire.js';

// Plain maps as objects, no records/structures extension (other implementations do not speak it),
// integers beyond 2^32 as plain numbers (IDs go up to 2^53).
// largeBigIntToFloat: a BigInt beyond 64 bits (a CBOR bignum from another peer) goes out as the
// nearest double instead of failing the whole message.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', variableMapSize: true, largeBigIntToFloat: true });

const top = new TopLevel();

const msgpackSplit: BinarySplit = {
  name: 'msgpack',
  header: msgpackHeader,
  // fixarray, array 16/32; fixmap, map 16/32.
  isContainer: (b, dict) => (dict ? (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf : (b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd),
  isDefiniteList: (b) => (b >= 0x90 && b <= 0x9f) || b === 0xdc || b === 0xdd,
  smallInt: (frame, offset) => {
    const b = frame[offset]!;
    return b <= 0x7f ? b : b === 0xcc ? frame[offset + 1]! : -1;
  },
  decode: (bytes) => packr.unpack(bytes) as unknown,
  decodeAll: (bytes) => packr.unpackMultiple(bytes) as unknown[],
};

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
  encodeWithTail(head: unknown[], tail: EncodedTail): Uint8Array | Spliced {
    return withTail(packr.pack(widenLargeIntegers(head)), head.length, tail, msgpackHeader, msgpackHeaderLength);
  },
  decode(frame: string | Uint8Array, options?: DecodeOptions): unknown {
    if (typeof frame === 'string') return refuse('MessagePack', 'frames must be binary');
    // Only frames inside the data model reach msgpackr (msgpack-scan.ts; 0xc1 included).
    const passthrough = passesThrough(options, frame.length);
    const { items, holdsUndefined } = scanMsgpack(frame, maxDepthOf(options), maxItemsOf(options), countedOf(options), passthrough ? top : undefined);
    recordCount(options, items);
    let value: unknown;
    try {
      if (passthrough) {
        const split = splitBinary(msgpackSplit, frame, top);
        if (split !== undefined) return split;
      }
      value = packr.unpack(frame);
    } catch (err) {
      throw new DecodeError(`MessagePack: ${(err as Error).message}`);
    }
    return holdsUndefined ? withoutUndefined(value) : value;
  },
};
