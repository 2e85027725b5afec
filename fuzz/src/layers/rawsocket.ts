/**
 * RawSocket on the WebSocket port (first octet 0x7F): hostile handshakes (serializer 0 and 4–15,
 * reserved bits, every length nibble), then frames with lying length prefixes, reserved frame
 * types, PINGs and PONGs, zero-length and over-long frames, split or dripped octet by octet, and
 * the protocol scripts of the websocket layer inside valid frames. [ap_transport_rawsocket]
 */
import type { SerializerName } from '@switchboard/schemas';
import { CODECS, SERIALIZER_NAMES } from '@switchboard/schemas';
import { clean, script } from '../protocol.js';
import type { Rng } from '../rng.js';
import type { Endpoints } from '../target.js';
import { bytesOf } from '../values.js';
import type { Layer, Shot } from './shot.js';
import { dumpFrame, preview } from './shot.js';
import { runTcp } from './tcp.js';

/** A frame header: type in the low 3 bits (reserved bits above), 24-bit length. */
export function rawFrame(type: number, payload: Uint8Array, length = payload.length, reserved = 0): Buffer {
  return Buffer.concat([Buffer.from([((reserved & 0x1f) << 3) | (type & 7), (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]), payload]);
}

export function handshake(serializer: SerializerName, lengthNibble = 0x0f): Buffer {
  return Buffer.from([0x7f, (lengthNibble << 4) | CODECS[serializer].rawSocketId, 0, 0]);
}

function hostileHandshake(rng: Rng, serializer: SerializerName): Buffer {
  switch (rng.int(5)) {
    case 0:
      return Buffer.from([0x7f, (rng.int(16) << 4) | rng.pick([0, 4, 5, 7, 15]), 0, 0]);
    case 1:
      return Buffer.from([0x7f, (rng.int(16) << 4) | CODECS[serializer].rawSocketId, rng.int(256), rng.int(256)]);
    case 2:
      return Buffer.from([0x7f, (rng.int(16) << 4) | CODECS[serializer].rawSocketId]);
    case 3:
      return Buffer.from([0x7f]);
    default:
      return handshake(serializer, rng.int(16));
  }
}

function hostileFrame(rng: Rng, serializer: SerializerName): Buffer {
  const body = bytesOf(CODECS[serializer].encode([16, 1, {}, 'fuzz.t', [1]]));
  switch (rng.int(8)) {
    case 0:
      // A length that promises more than follows (the rest never comes, or comes as the next frame).
      return rawFrame(0, body, body.length + 1 + rng.int(1 << 20));
    case 1:
      return rawFrame(rng.pick([3, 4, 5, 6, 7]), body);
    case 2:
      return rawFrame(rng.pick([1, 2]), rng.bytes(rng.size(1 << 16)));
    case 3:
      return rawFrame(0, new Uint8Array(0));
    case 4:
      return rawFrame(0, body, body.length, 1 + rng.int(31));
    case 5:
      // Over any maximum: the X bit with nonzero length bits claims more than 2^24 octets. (A plain
      // 0xFFFFFF is no longer over it: the default maxMessageBytes is 2^24 since issue #16.)
      return rawFrame(0, rng.bytes(16), 0xffffff, 1);
    case 6:
      return Buffer.from(rng.bytes(rng.int(16)));
    default:
      return rawFrame(0, rng.bytes(rng.size(4096)));
  }
}

export const rawsocketLayer: Layer = {
  name: 'rawsocket',
  generate(rng: Rng, maxFrames: number): Shot {
    const serializer = rng.pick(SERIALIZER_NAMES);
    const chunks: Buffer[] = [rng.chance(0.1) ? hostileHandshake(rng, serializer) : handshake(serializer, rng.chance(0.8) ? 0x0f : rng.int(16))];
    const s = script(rng, serializer, maxFrames);
    const frames = s.hello === undefined ? s.frames : [s.hello, ...s.frames];
    for (const f of frames) {
      if (!rng.chance(0.05)) chunks.push(rawFrame(0, bytesOf(f)));
      else {
        const hostile = hostileFrame(rng, serializer);
        // A random payload may decode to a U+0000-prefixed string (see clean).
        const payload = hostile.subarray(4);
        const cleaned = hostile.length > 4 && hostile[0] === 0 ? clean(serializer, payload) : payload;
        chunks.push(cleaned === payload ? hostile : rawFrame(0, bytesOf(cleaned)));
      }
    }
    // Now and then, split everything octet by octet, or drip it.
    const split = rng.chance(0.03);
    const parts = split ? [...Buffer.concat(chunks).subarray(0, 4096)].map((b) => Buffer.of(b)) : chunks;
    const drip = split && rng.chance(0.3) ? 1 : 0;
    return {
      layer: 'rawsocket',
      frames: frames.length,
      describe: () =>
        `rawsocket ${serializer}: handshake ${chunks[0]!.toString('hex')}, ${frames.length} frames${split ? ' split' : ''}, first ${frames
          .slice(0, 3)
          .map((f) => preview(f))
          .join(' ')}`,
      dump: () => ({ chunks: chunks.map(dumpFrame), split, drip }),
      fire: (target: Endpoints) => runTcp(target.port, parts, { dripMs: drip, lingerMs: 20 }),
    };
  },
};
