/**
 * The codecs' side of payload passthrough (payload.ts): which messages have a payload where, and
 * how a binary frame splits into a decoded head and a raw payload. JSON's split is in json.ts.
 */
import type { SerializerName } from './codec.js';
import type { RawPayload } from '../payload.js';
import { SplitFrame } from '../payload.js';
import { allocate, ownBytes } from './allocate.js';
import type { TopLevel } from './limits.js';
import { withoutUndefined } from './undefined.js';

/**
 * The index of Arguments in the messages with a payload: ERROR 5; PUBLISH, EVENT, CALL,
 * INVOCATION 4; RESULT, YIELD 3. Indexed by message code; 0 for messages without one.
 */
export const PAYLOAD_INDEX: Readonly<Uint8Array> = (() => {
  const table = new Uint8Array(128);
  table[8] = 5;
  table[16] = 4;
  table[36] = 4;
  table[48] = 4;
  table[68] = 4;
  table[50] = 3;
  table[70] = 3;
  return table;
})();

/** A binary codec as the split needs it. */
export interface BinarySplit {
  readonly name: SerializerName;
  /** The array header for `count` items. */
  header(count: number): Uint8Array;
  /** Whether the byte starts a list (a dict, with `dict`), of any length. */
  isContainer(byte: number, dict: boolean): boolean;
  /** Whether the byte starts a list of definite length (the message's own: its payload runs to the frame's end). */
  isDefiniteList(byte: number): boolean;
  /** The small non-negative integer starting at `offset` (a message code), or -1. */
  smallInt(frame: Uint8Array, offset: number): number;
  /** Decodes one value. */
  decode(bytes: Uint8Array): unknown;
  /** Decodes a sequence of values. */
  decodeAll(bytes: Uint8Array): unknown[];
}

class BinaryRaw implements RawPayload {
  constructor(
    private readonly split: BinarySplit,
    readonly tail: { readonly count: number; readonly encoded: Uint8Array },
  ) {}

  get codec(): SerializerName {
    return this.split.name;
  }

  get bytes(): number {
    return this.tail.encoded.length;
  }

  decode(): unknown[] {
    return this.split.decodeAll(this.tail.encoded);
  }
}

/**
 * A scanned binary frame (its top-level elements in `top`) as a SplitFrame, or undefined where
 * it is decoded whole: not a definite-length list, no payload, an opaque (enc_algo) or malformed
 * payload (parseMessage then says what is wrong), `undefined` inside the payload.
 */
export function splitBinary(split: BinarySplit, frame: Uint8Array, top: TopLevel): SplitFrame | undefined {
  const count = top.count;
  if (count < 4 || count > 7 || !split.isDefiniteList(frame[0]!)) return undefined;
  const starts = top.starts;
  const code = split.smallInt(frame, starts[0]!);
  const index = code >= 0 && code < 128 ? PAYLOAD_INDEX[code]! : 0;
  if (index === 0 || count <= index || count > index + 2) return undefined;
  const tailStart = starts[index]!;
  if (top.lastUndefined >= tailStart) return undefined;
  if (!split.isContainer(frame[tailStart]!, false)) return undefined;
  if (count === index + 2 && !split.isContainer(frame[starts[index + 1]!]!, true)) return undefined;
  const h = split.header(index);
  const headBytes = allocate(h.length + tailStart - starts[0]!);
  headBytes.set(h, 0);
  headBytes.set(frame.subarray(starts[0]!, tailStart), h.length);
  let head = split.decode(headBytes);
  if (top.lastUndefined >= 0) head = withoutUndefined(head);
  return new SplitFrame(head as unknown[], new BinaryRaw(split, { count: count - index, encoded: ownBytes(frame.subarray(tailStart)) }));
}
