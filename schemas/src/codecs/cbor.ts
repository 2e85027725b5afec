import { Encoder } from 'cbor-x';
import type { Codec, EncodedTail, Spliced } from './codec.js';
import { cborHeader, cborHeaderLength, tailOf, withTail } from './arrays.js';
import { widenLargeIntegers } from './integers.js';
import type { DecodeOptions } from './limits.js';
import { TopLevel, countedOf, maxDepthOf, maxItemsOf, recordCount, refuse, passesThrough } from './limits.js';
import { scanCbor } from './cbor-scan.js';
import type { BinarySplit } from './passthrough.js';
import { splitBinary } from './passthrough.js';
import { withoutUndefined } from './undefined.js';
import { DecodeError } from '../wire.js';

// Maps as objects, no record/structure extensions, no tag 259 for maps: plain RFC 8949 data
// that autobahn-python's cbor2 and autobahn-js's cbor read.
// int64AsNumber (a decoder option missing from cbor-x's typings): 64-bit integers come back as
// numbers, not BigInt, so IDs up to 2^53 stay plain numbers.
const options: NonNullable<ConstructorParameters<typeof Encoder>[0]> & { int64AsNumber: boolean } = {
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  pack: false,
  variableMapSize: true,
  int64AsNumber: true,
};
const encoder = new Encoder(options);

// cbor-x reads a negative 64-bit integer as -1 - n after rounding n to a double, so below -2^53
// it can land one step off (-12333560121973586 came back as -12333560121973584). A number there
// is a double anyway: it goes out as float64, which every decoder reads back exactly.
const MIN_INTEGER = -9007199254740992;

const top = new TopLevel();

const cborSplit: BinarySplit = {
  name: 'cbor',
  header: cborHeader,
  // Major type 4 (lists) or 5 (dicts), definite or indefinite length.
  isContainer: (b, dict) => b >> 5 === (dict ? 5 : 4) && ((b & 0x1f) <= 27 || (b & 0x1f) === 31),
  isDefiniteList: (b) => b >> 5 === 4 && (b & 0x1f) <= 27,
  smallInt: (frame, offset) => {
    const b = frame[offset]!;
    return b < 0x18 ? b : b === 0x18 ? frame[offset + 1]! : -1;
  },
  decode: (bytes) => encoder.decode(bytes) as unknown,
  decodeAll: (bytes) => encoder.decodeMultiple(bytes) as unknown[],
};

export const cborCodec: Codec = {
  name: 'cbor',
  subprotocol: 'wamp.2.cbor',
  rawSocketId: 3,
  binary: true,
  encode(message: unknown[]): Uint8Array {
    return encoder.encode(widenLargeIntegers(message, MIN_INTEGER));
  },
  encodeTail(tail: unknown[]): EncodedTail {
    return tailOf(encoder.encode(widenLargeIntegers(tail, MIN_INTEGER)), tail.length, cborHeaderLength);
  },
  encodeWithTail(head: unknown[], tail: EncodedTail): Uint8Array | Spliced {
    return withTail(encoder.encode(widenLargeIntegers(head, MIN_INTEGER)), head.length, tail, cborHeader, cborHeaderLength);
  },
  decode(frame: string | Uint8Array, options?: DecodeOptions): unknown {
    if (typeof frame === 'string') return refuse('CBOR', 'frames must be binary');
    // Only frames inside the data model reach cbor-x (cbor-scan.ts): no tags but small bignums.
    const passthrough = passesThrough(options, frame.length);
    const { items, holdsUndefined } = scanCbor(frame, maxDepthOf(options), maxItemsOf(options), countedOf(options), passthrough ? top : undefined);
    recordCount(options, items);
    let value: unknown;
    try {
      if (passthrough) {
        const split = splitBinary(cborSplit, frame, top);
        if (split !== undefined) return split;
      }
      value = encoder.decode(frame);
    } catch (err) {
      throw new DecodeError(`CBOR: ${(err as Error).message}`);
    }
    return holdsUndefined ? withoutUndefined(value) : value;
  },
};
