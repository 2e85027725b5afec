/**
 * Encoding a message with payload passthrough (payload.ts): a message that still carries the raw
 * payload of the receiver's codec is its head, encoded, spliced with those bytes; any other is
 * encoded whole (its payload read, decoded once if it was raw). The router's outbox sends with it.
 */
import type { Codec, Encoded } from './codecs/codec.js';
import type { WampMessage } from './messages.js';
import { rawPayloadOf } from './payload.js';
import { toWire, wireHead } from './wire.js';

/**
 * `codec.encode(toWire(msg))`, with the payload's bytes reused where they are in `codec` (a Spliced
 * from SPLICE_MIN_BYTES of payload). Throws as the codec does.
 */
export function encodeMessage(codec: Codec, msg: WampMessage): Encoded {
  const raw = rawPayloadOf(msg);
  if (raw !== undefined && raw.codec === codec.name) {
    const head = wireHead(msg);
    if (head !== undefined) return codec.encodeWithTail(head, raw.tail);
  }
  return codec.encode(toWire(msg));
}
