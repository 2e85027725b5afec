import { Packr } from 'msgpackr';
import type { Codec } from './codec.js';
import { widenLargeIntegers } from './integers.js';

// Plain maps as objects, no records/structures extension (other implementations do not speak it),
// integers beyond 2^32 as plain numbers (IDs go up to 2^53).
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', variableMapSize: true });

export const msgpackCodec: Codec = {
  name: 'msgpack',
  subprotocol: 'wamp.2.msgpack',
  rawSocketId: 2,
  binary: true,
  encode(message: unknown[]): Uint8Array {
    return packr.pack(widenLargeIntegers(message));
  },
  decode(frame: string | Uint8Array): unknown {
    if (typeof frame === 'string') throw new Error('MessagePack frames must be binary');
    return packr.unpack(frame);
  },
};
