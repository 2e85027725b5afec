import type { Codec, SerializerName } from './codec.js';
import { cborCodec } from './cbor.js';
import { jsonCodec } from './json.js';
import { msgpackCodec } from './msgpack.js';

export const CODECS: Readonly<Record<SerializerName, Codec>> = {
  json: jsonCodec,
  msgpack: msgpackCodec,
  cbor: cborCodec,
};

/** The codec for a WebSocket subprotocol (`wamp.2.json` …), or undefined. */
export function codecForSubprotocol(subprotocol: string): Codec | undefined {
  switch (subprotocol) {
    case jsonCodec.subprotocol:
      return jsonCodec;
    case msgpackCodec.subprotocol:
      return msgpackCodec;
    case cborCodec.subprotocol:
      return cborCodec;
    default:
      return undefined;
  }
}
