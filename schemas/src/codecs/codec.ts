import type { DecodeOptions } from './limits.js';
import { allocate } from './allocate.js';

/**
 * A payload that cannot be represented in a serializer: a text that starts with U+0000 for JSON
 * (where that prefix marks binary [bp_binary_conversion_of_json]). The router treats it as "cannot
 * serialize for this peer": that peer misses the EVENT, a call answer becomes an ERROR.
 */
export class EncodeError extends Error {
  override name = 'EncodeError';
}

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
  /** Serializes one message array. JSON gives a string, the others bytes. Throws EncodeError for what the serializer cannot represent. */
  encode(message: unknown[]): string | Uint8Array;
  /**
   * Deserializes one frame. Throws DecodeError (and nothing else) on undecodable input and on
   * anything outside the WAMP data model (limits.ts); linear in the frame's size. A message of a
   * batch adds its count of values to `options.batch`, held to maxItems with the messages before.
   */
  decode(frame: string | Uint8Array, options?: DecodeOptions): unknown;
  /**
   * Encodes the trailing elements shared by many messages once (an EVENT's payload, the same for
   * every subscription of a publication).
   */
  encodeTail(tail: unknown[]): EncodedTail;
  /**
   * `encode([...head, ...tail])`, byte for byte, reusing a tail from `encodeTail`; always bytes
   * (JSON: the UTF-8 text, ready for a text frame). A tail of SPLICE_MIN_BYTES or more is not
   * copied behind the head: the result is then a Spliced of the two.
   */
  encodeWithTail(head: unknown[], tail: EncodedTail): Uint8Array | Spliced;
}

/**
 * Tails from 1 KiB on are spliced rather than copied: a second piece in a vectored write costs
 * less than allocating and filling a buffer of that size (which, past Node's 4 KiB buffer pool,
 * is a backing store of its own and work for the garbage collector).
 */
export const SPLICE_MIN_BYTES = 1024;

/**
 * A message in two pieces, its head's bytes then its tail's: the tail is a payload passed through
 * (a view of the bytes it arrived in) or encoded once for many receivers. A transport writes the
 * two one after the other — one vectored write — instead of copying them together; one that
 * cannot (it frames or compresses the whole message) joins them.
 */
export class Spliced {
  readonly length: number;

  constructor(
    readonly head: Uint8Array,
    readonly tail: Uint8Array,
  ) {
    this.length = head.length + tail.length;
  }

  /** Both pieces in one array. */
  join(): Uint8Array {
    const out = allocate(this.length);
    out.set(this.head);
    out.set(this.tail, this.head.length);
    return out;
  }
}

/** `head` then `tail`: spliced from SPLICE_MIN_BYTES of tail, copied into one array below. */
export function spliceOrCopy(head: Uint8Array, tail: Uint8Array): Uint8Array | Spliced {
  const spliced = new Spliced(head, tail);
  return tail.length >= SPLICE_MIN_BYTES ? spliced : spliced.join();
}

/** A message's encoding: a JSON text, bytes, or bytes in two pieces. */
export type Encoded = string | Uint8Array | Spliced;

/** An encoding as one string or array: a Spliced joined. */
export function joined(encoded: Encoded): string | Uint8Array {
  return encoded instanceof Spliced ? encoded.join() : encoded;
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
