/**
 * A serializer for WAMP messages. All codecs are synchronous: a frame in, a decoded value out.
 * Binary payloads surface as Uint8Array from every codec.
 */
export interface Codec {
  /** `json`, `msgpack` or `cbor`. */
  readonly name: SerializerName;
  /** WebSocket subprotocol, e.g. `wamp.2.json`. */
  readonly subprotocol: string;
  /** RawSocket serializer id: 1 JSON, 2 MessagePack, 3 CBOR. */
  readonly rawSocketId: number;
  /** True when frames are binary (WebSocket binary messages); JSON uses text frames. */
  readonly binary: boolean;
  /** Serializes one message array. JSON gives a string, the others bytes. */
  encode(message: unknown[]): string | Uint8Array;
  /** Deserializes one frame. Throws on undecodable input. */
  decode(frame: string | Uint8Array): unknown;
  /**
   * Encodes the trailing elements shared by many messages once (an EVENT's payload, the same for
   * every subscription of a publication).
   */
  encodeTail(tail: unknown[]): EncodedTail;
  /**
   * `encode([...head, ...tail])`, byte for byte, reusing a tail from `encodeTail`; always bytes
   * (JSON: the UTF-8 text, ready for a text frame).
   */
  encodeWithTail(head: unknown[], tail: EncodedTail): Uint8Array;
}

/** Trailing message elements, already encoded by one codec. */
export interface EncodedTail {
  readonly count: number;
  /** JSON: the elements joined by commas; binary codecs: the items' bytes, concatenated. */
  readonly encoded: string | Uint8Array;
}

export type SerializerName = 'json' | 'msgpack' | 'cbor';

export const SERIALIZER_NAMES: readonly SerializerName[] = ['json', 'msgpack', 'cbor'];

export function isSerializerName(value: unknown): value is SerializerName {
  return value === 'json' || value === 'msgpack' || value === 'cbor';
}
