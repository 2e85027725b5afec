/**
 * What a decoder accepts: the WAMP data model [bp_serializations] — null, booleans, integers
 * (64-bit at most), finite floats, text, binary, lists, and dicts with string keys — nested at
 * most `maxDepth` deep. Anything else in a frame (MessagePack extensions, CBOR tags that build
 * dates, sets, maps, typed arrays or records, `undefined`, NaN, non-string keys, bignums past 64
 * bits) is refused with a DecodeError, which costs the sending session (ABORT
 * wamp.error.protocol_violation). The binary codecs check a frame with a linear byte scan before
 * the library decodes it (msgpack-scan.ts, cbor-scan.ts), JSON with a linear depth scan
 * (json-scan.ts): no frame reaches a slow path of a library, and every payload means the same in
 * all three serializers.
 */
import { DecodeError } from '../wire.js';

export interface DecodeOptions {
  /**
   * The deepest nesting of lists and dicts, the message's own list counting 1 (an EVENT's
   * Arguments list is at depth 2). Default DEFAULT_MAX_DEPTH.
   */
  readonly maxDepth?: number;
}

/** Deep enough for any real payload (62 levels inside Arguments), shallow enough for every recursive encoder. */
export const DEFAULT_MAX_DEPTH = 64;

export function maxDepthOf(options: DecodeOptions | undefined): number {
  return options?.maxDepth ?? DEFAULT_MAX_DEPTH;
}

/** A frame outside the data model (`offset`: where in the frame, for the message). */
export function refuse(codec: string, what: string, offset?: number): never {
  throw new DecodeError(`${codec}: ${what}${offset === undefined ? '' : ` at byte ${offset}`}`);
}

export function tooDeep(codec: string, maxDepth: number, offset: number): never {
  return refuse(codec, `nested deeper than ${maxDepth} levels`, offset);
}
