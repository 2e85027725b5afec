/**
 * What a decoder accepts: the WAMP data model [bp_serializations] — null, booleans, integers
 * (64-bit at most), finite floats, text, binary, lists, and dicts with string keys — nested at
 * most `maxDepth` deep, at most `maxItems` values. Anything else in a frame (MessagePack
 * extensions, CBOR tags that build dates, sets, maps, typed arrays or records, NaN, non-string
 * keys, bignums past 64 bits) is refused with a DecodeError, which costs the sending session
 * (ABORT wamp.error.protocol_violation); `undefined` (CBOR's, msgpackr's) is read as
 * JSON.stringify reads it (see undefined.ts). The binary codecs check a frame with a linear byte scan before the library
 * decodes it (msgpack-scan.ts, cbor-scan.ts), JSON with a linear scan for depth and count
 * (json-scan.ts): no frame reaches a slow path of a library, and every payload means the same in
 * all three serializers.
 */
import type { SplitFrame } from '../payload.js';
import { DecodeError } from '../wire.js';

export interface DecodeOptions {
  /**
   * The deepest nesting of lists and dicts, the message's own list counting 1 (an EVENT's
   * Arguments list is at depth 2). Default DEFAULT_MAX_DEPTH.
   */
  readonly maxDepth?: number;
  /**
   * The most values in one message: every list, dict, scalar and string counts one, and so does
   * every dict key. What costs more to decode counts more: a binary four (its own byte array), a
   * CBOR bignum one per byte. JSON counts its brackets and separators, so that a list or dict
   * inside another counts two, and a scalar after none (the first of a list) none. Decoding costs about a microsecond per value, mostly the allocation of lists
   * and dicts: the bound keeps the worst frame near 50 ms whatever its size. Default
   * DEFAULT_MAX_ITEMS.
   */
  readonly maxItems?: number;
  /**
   * The running count of a batch this frame is one message of (batched WebSocket, batched
   * long-poll; router/src/transports/batch.ts): the frame's values are counted on from
   * `batch.items`, the total is held to maxItems, and the new total is written back. All
   * messages of a batch share one budget, so that a batch of many messages at the limit costs
   * what one message at the limit costs, not that many times over.
   */
  readonly batch?: BatchCount;
  /**
   * Payload passthrough (payload.ts): a message with a payload, in a frame of
   * `passthrough.minBytes` or more, decodes to a SplitFrame — its head decoded, its Arguments and
   * ArgumentsKw scanned (every limit and rule of a full decode) but kept as the frame's bytes.
   * The router's transports ask for it with PASSTHROUGH (json-split.ts); clients do not.
   */
  readonly passthrough?: Passthrough;
}

/** How payloads pass through (DecodeOptions.passthrough). */
export interface Passthrough {
  /**
   * The frame length (bytes; UTF-16 units for a JSON text given as a string) from which it
   * applies: below it, scanning and splicing cost more than decoding and encoding the few values
   * a small payload holds.
   */
  readonly minBytes: number;
  /**
   * JSON's split (json-split.ts `splitJson`): brought by the options rather than imported by
   * json.ts, so that a client's JSON codec does not carry it. MessagePack and CBOR split in
   * passthrough.ts.
   */
  readonly json: (text: string, frame: Uint8Array | undefined, top: TopLevel) => SplitFrame | undefined;
}

/**
 * Frames from 1 KiB on have their payloads passed through by the router's transports. Measured
 * with the project benchmark (RPC K=10, JSON): at 32 B the split costs more than the full decode
 * and encode of a payload that small; at 4 KiB it saves most of the router's per-byte work.
 */
export const DEFAULT_PASSTHROUGH_MIN_BYTES = 1024;

/** Whether a frame of `length` is decoded with its payload passed through (DecodeOptions.passthrough). */
export function passesThrough(options: DecodeOptions | undefined, length: number): boolean {
  const passthrough = options?.passthrough;
  return passthrough !== undefined && length >= passthrough.minBytes;
}

/** Values counted so far by the messages of one batch (see DecodeOptions.batch). */
export interface BatchCount {
  items: number;
}

/** Deep enough for any real payload (62 levels inside Arguments), shallow enough for every recursive encoder. */
export const DEFAULT_MAX_DEPTH = 64;

/** 2^17: a megabyte of values of 8 bytes on average; a million empty dicts took 0.4 s to decode. */
export const DEFAULT_MAX_ITEMS = 131_072;

/**
 * Limits for frames a router sends: their payloads came from other peers and were bounded by the
 * router's own limits on the way in (maxNestingDepth at most 1000, maxMessageItems at most 2^24
 * in its config), and grow by what the router adds (caller, publisher, topic details; a cluster
 * node's envelope). Decoding them with the defaults meant for hostile peers would let one
 * publisher's frame at the limit cut off every subscriber. Clients, in-process sessions and
 * cluster nodes decode router frames with these.
 */
export const ROUTER_FRAME_LIMITS: DecodeOptions = { maxDepth: 1024, maxItems: 2 ** 25 };

export function maxDepthOf(options: DecodeOptions | undefined): number {
  return options?.maxDepth ?? DEFAULT_MAX_DEPTH;
}

export function maxItemsOf(options: DecodeOptions | undefined): number {
  return options?.maxItems ?? DEFAULT_MAX_ITEMS;
}

/** Values the messages before this one in its batch counted (0 outside a batch). */
export function countedOf(options: DecodeOptions | undefined): number {
  return options?.batch?.items ?? 0;
}

/** Writes a frame's running total back to its batch, if it is in one. */
export function recordCount(options: DecodeOptions | undefined, items: number): void {
  if (options?.batch !== undefined) options.batch.items = items;
}

/** What a scan of a binary frame found: the running count of values, whether it holds `undefined`. */
export interface BinaryScan {
  readonly items: number;
  readonly holdsUndefined: boolean;
}

/** The most top-level elements a scan records: a WAMP message has at most 7. */
export const MAX_TOP_ELEMENTS = 8;

/**
 * Where the elements of a frame's top-level list start, filled in by a scan that is given one
 * (payload passthrough, passthrough.ts): `starts[k]` is the offset of element k (binary codecs:
 * its first byte; JSON: the `,` before it, and for element 0 the `[`), for the first
 * MAX_TOP_ELEMENTS elements; `count` counts them all. `lastUndefined` is the offset of the last
 * `undefined` item (binary codecs), -1 for none.
 */
export class TopLevel {
  readonly starts = new Int32Array(MAX_TOP_ELEMENTS);
  count = 0;
  lastUndefined = -1;

  reset(): void {
    this.count = 0;
    this.lastUndefined = -1;
  }

  /** Records the start of the next top-level element. */
  add(offset: number): void {
    if (this.count < MAX_TOP_ELEMENTS) this.starts[this.count] = offset;
    this.count++;
  }
}

/** A frame outside the data model (`offset`: where in the frame, for the message). */
export function refuse(codec: string, what: string, offset?: number): never {
  throw new DecodeError(`${codec}: ${what}${offset === undefined ? '' : ` at byte ${offset}`}`);
}

/**
 * `counted`: what the messages before this one in its batch counted; past the limit with some,
 * it is the batch (their shared budget) that holds too many values.
 */
export function tooMany(codec: string, maxItems: number, offset: number, counted = 0): never {
  return refuse(codec, `more than ${maxItems} values in one ${counted > 0 ? 'batch (its messages share one budget)' : 'message'}`, offset);
}

export function tooDeep(codec: string, maxDepth: number, offset: number): never {
  return refuse(codec, `nested deeper than ${maxDepth} levels`, offset);
}
