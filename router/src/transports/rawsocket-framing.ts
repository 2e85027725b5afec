/**
 * WAMP-over-RawSocket bytes: the 4-octet opening handshake and the 4-octet frame header, and a
 * parser that turns a byte stream into frames. Pure: no sockets. [ap_transport_rawsocket]
 *
 *   handshake   0111 1111  LLLL SSSS  RRRR RRRR  RRRR RRRR   (magic, max length 2^(9+L), serializer)
 *   error reply 0111 1111  EEEE 0000  0000 0000  0000 0000
 *   frame       RRRR XTTT  LLLL LLLL  LLLL LLLL  LLLL LLLL   (type, 24-bit length; X: exactly 2^24)
 */
import type { Spliced } from '@switchboard/schemas';

/** First octet of every handshake; no HTTP request can start with it. */
export const RAWSOCKET_MAGIC = 0x7f;

/** Handshake error codes (upper nibble of the second octet of an error reply). */
export const HandshakeError = {
  SerializerUnsupported: 1,
  MaxLengthUnacceptable: 2,
  ReservedBitsUsed: 3,
  MaxConnectionsReached: 4,
} as const;
export type HandshakeErrorCode = (typeof HandshakeError)[keyof typeof HandshakeError];

export const HANDSHAKE_ERROR_TEXT: Readonly<Record<HandshakeErrorCode, string>> = {
  1: 'serializer unsupported',
  2: 'maximum message length unacceptable',
  3: 'use of reserved bits (unsupported feature)',
  4: 'maximum connection count reached',
};

/** Transport message types (TTT). */
export const FrameType = { Message: 0, Ping: 1, Pong: 2 } as const;
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** Maximum message lengths are 2^9 … 2^24 octets. */
export const MIN_LENGTH_EXPONENT = 9;
export const MAX_LENGTH_EXPONENT = 24;
export const MAX_RAWSOCKET_MESSAGE_BYTES = 2 ** MAX_LENGTH_EXPONENT;

/** The largest exponent e in [9, 24] with 2^e ≤ bytes: what a router announcing `bytes` can promise. */
export function lengthExponentFor(bytes: number): number {
  let e = MIN_LENGTH_EXPONENT;
  while (e < MAX_LENGTH_EXPONENT && 2 ** (e + 1) <= bytes) e++;
  return e;
}

export interface HandshakeRequest {
  /** False when the first octet is not 0x7F: not a RawSocket client at all. */
  magic: boolean;
  serializerId: number;
  /** The largest message the client will accept from us. */
  maxMessageBytes: number;
  /** Octets 3 and 4 are not zero. */
  reservedBits: boolean;
}

export function parseHandshake(octets: Uint8Array): HandshakeRequest {
  const second = octets[1]!;
  return {
    magic: octets[0] === RAWSOCKET_MAGIC,
    serializerId: second & 0x0f,
    maxMessageBytes: 2 ** ((second >> 4) + MIN_LENGTH_EXPONENT),
    reservedBits: octets[2] !== 0 || octets[3] !== 0,
  };
}

/** The router's accepting reply: the client's serializer echoed, and our own maximum. */
export function handshakeReply(serializerId: number, lengthExponent: number): Buffer {
  return Buffer.from([RAWSOCKET_MAGIC, ((lengthExponent - MIN_LENGTH_EXPONENT) << 4) | serializerId, 0, 0]);
}

export function handshakeErrorReply(code: HandshakeErrorCode): Buffer {
  return Buffer.from([RAWSOCKET_MAGIC, code << 4, 0, 0]);
}

/** Writes a frame header at `offset`. A length of exactly 2^24 sets the X bit with zero L bits. */
export function writeFrameHeader(out: Buffer, offset: number, type: FrameTypeCode, length: number): void {
  if (length === MAX_RAWSOCKET_MESSAGE_BYTES) {
    out[offset] = 0x08 | type;
    out[offset + 1] = 0;
    out[offset + 2] = 0;
    out[offset + 3] = 0;
    return;
  }
  out[offset] = type;
  out[offset + 1] = (length >>> 16) & 0xff;
  out[offset + 2] = (length >>> 8) & 0xff;
  out[offset + 3] = length & 0xff;
}

/** A whole frame (header and payload) in one buffer. */
export function frame(type: FrameTypeCode, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  writeFrameHeader(out, 0, type, payload.length);
  out.set(payload, 4);
  return out;
}

/**
 * The header of a regular WAMP message frame carrying `spliced`, with its head: its tail is
 * written after, or into the `room` octets left at the end (the whole frame).
 */
export function splicedFrameHead(spliced: Spliced, room = 0): Buffer {
  const out = Buffer.allocUnsafe(4 + spliced.head.length + room);
  writeFrameHeader(out, 0, FrameType.Message, spliced.length);
  out.set(spliced.head, 4);
  return out;
}

/** A regular WAMP message frame of a string (JSON), encoded straight into the frame buffer. */
export function frameOfString(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const out = Buffer.allocUnsafe(4 + length);
  writeFrameHeader(out, 0, FrameType.Message, length);
  out.write(text, 4, 'utf8');
  return out;
}

export interface FrameSink {
  /** A complete frame; `payload` is a view valid only during the call. */
  onFrame(type: FrameTypeCode, payload: Buffer): void;
  /** The stream broke the framing rules; the parser has stopped. */
  onFramingError(reason: string): void;
}

const EMPTY = Buffer.alloc(0);

const enum State {
  Header = 0,
  Payload = 1,
  Failed = 2,
}

/** A payload spanning chunks starts in a buffer this big (or its length, if smaller) and doubles. */
const INITIAL_ASSEMBLY_BYTES = 64 * 1024;

/**
 * Incremental frame parser. A payload that lies within one chunk is handed over as a view (no
 * copy); one that spans chunks is assembled in a buffer that grows with what actually arrived
 * (doubling, up to the announced length), so memory follows the bytes received rather than a
 * header's promise, and a sender trickling one octet at a time costs linear work.
 */
export class FrameParser {
  #state = State.Header;
  #type: FrameTypeCode = FrameType.Message;
  #length = 0;
  /** A header split across chunks. */
  readonly #header = Buffer.alloc(4);
  #headerFilled = 0;
  /** A payload split across chunks, and how much of it has arrived. */
  #assembly: Buffer | undefined;
  #filled = 0;

  constructor(
    /** The maximum this side announced: a longer frame fails the connection. */
    private readonly maxMessageBytes: number,
    private readonly sink: FrameSink,
  ) {}

  /** Octets received of the frame in progress (header and payload), held until it completes. */
  get pendingBytes(): number {
    return this.#state === State.Payload ? this.#filled : this.#headerFilled;
  }

  get failed(): boolean {
    return this.#state === State.Failed;
  }

  /** Stops parsing (the connection is closing): buffered and later octets are ignored. */
  stop(): void {
    this.#state = State.Failed;
    this.#assembly = undefined;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.#state !== State.Failed) {
      if (this.#state === State.Header) {
        let first: number;
        let length: number;
        if (this.#headerFilled === 0 && chunk.length - at >= 4) {
          first = chunk[at]!;
          length = (chunk[at + 1]! << 16) | (chunk[at + 2]! << 8) | chunk[at + 3]!;
          at += 4;
        } else {
          const take = Math.min(4 - this.#headerFilled, chunk.length - at);
          chunk.copy(this.#header, this.#headerFilled, at, at + take);
          this.#headerFilled += take;
          at += take;
          if (this.#headerFilled < 4) return;
          this.#headerFilled = 0;
          const h = this.#header;
          first = h[0]!;
          length = (h[1]! << 16) | (h[2]! << 8) | h[3]!;
        }
        if (!this.#readHeader(first, length)) return;
        if (this.#length === 0) this.#deliver(EMPTY);
        continue;
      }
      // State.Payload
      const available = chunk.length - at;
      if (this.#assembly === undefined && available >= this.#length) {
        const payload = chunk.subarray(at, at + this.#length);
        at += this.#length;
        this.#deliver(payload);
        continue;
      }
      const take = Math.min(this.#length - this.#filled, available);
      this.#reserve(this.#filled + take);
      chunk.copy(this.#assembly!, this.#filled, at, at + take);
      this.#filled += take;
      at += take;
      if (this.#filled === this.#length) {
        const payload = this.#assembly!;
        this.#assembly = undefined;
        this.#filled = 0;
        this.#deliver(payload);
      }
    }
  }

  #deliver(payload: Buffer): void {
    this.#state = State.Header;
    this.sink.onFrame(this.#type, payload);
  }

  /** Room for `needed` octets of the current payload in the assembly buffer. */
  #reserve(needed: number): void {
    const current = this.#assembly;
    if (current !== undefined && current.length >= needed) return;
    let size = current === undefined ? Math.min(this.#length, INITIAL_ASSEMBLY_BYTES) : current.length;
    while (size < needed) size = Math.min(this.#length, size * 2);
    const grown = Buffer.allocUnsafe(size);
    if (current !== undefined) current.copy(grown, 0, 0, this.#filled);
    this.#assembly = grown;
  }

  /** Checks a header; false (and the parser failed) if it breaks a rule. */
  #readHeader(first: number, length: number): boolean {
    if ((first & 0xf0) !== 0) return this.#fail(`reserved bits set in a frame header (first octet 0x${first.toString(16).padStart(2, '0')})`);
    const type = first & 0x07;
    if (type > FrameType.Pong) return this.#fail(`reserved frame type ${type}`);
    if ((first & 0x08) !== 0) {
      // [ap_transport_rawsocket] X is set only for exactly 2^24 octets, with the L bits cleared.
      if (length !== 0) return this.#fail('frame length beyond 2^24 octets');
      length = MAX_RAWSOCKET_MESSAGE_BYTES;
    }
    if (length > this.maxMessageBytes) {
      return this.#fail(`frame of ${length} octets exceeds the maximum of ${this.maxMessageBytes} octets the router announced`);
    }
    this.#type = type as FrameTypeCode;
    this.#length = length;
    this.#state = State.Payload;
    return true;
  }

  #fail(reason: string): false {
    this.stop();
    this.sink.onFramingError(reason);
    return false;
  }
}
