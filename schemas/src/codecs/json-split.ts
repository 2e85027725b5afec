/**
 * JSON's half of payload passthrough (payload.ts): a scanned JSON message split into its decoded
 * head and its payload, validated (json-validate.ts) and kept as text and bytes. Apart from
 * json.ts, which reaches it only through DecodeOptions.passthrough (PASSTHROUGH, which a router
 * passes), so that a client's JSON codec — and the browser bundle — does not carry it.
 */
import type { EncodedTail } from './codec.js';
import type { JsonTail } from './json.js';
import { reviveBinary } from './json.js';
import { ownBytes, utf8Bytes } from './allocate.js';
import type { Passthrough, TopLevel } from './limits.js';
import { DEFAULT_PASSTHROUGH_MIN_BYTES } from './limits.js';
import { scanJsonTail } from './json-validate.js';
import { PAYLOAD_INDEX } from './passthrough.js';
import type { RawPayload } from '../payload.js';
import { SplitFrame } from '../payload.js';

/**
 * A JSON payload passed through: the elements' text as it arrived, and the UTF-8 bytes of
 * `,<elements>]` — a view of the frame's own bytes where the frame came as bytes, else encoded
 * when first sent.
 */
class JsonRaw implements RawPayload, JsonTail {
  readonly codec = 'json';
  #suffix: Uint8Array | undefined;

  constructor(
    readonly count: number,
    readonly encoded: string,
    private readonly frame: Uint8Array | undefined,
    private readonly suffixStart: number,
    private readonly suffixEnd: number,
  ) {}

  get tail(): EncodedTail {
    return this;
  }

  get suffix(): Uint8Array {
    return (this.#suffix ??= this.frame !== undefined ? this.frame.subarray(this.suffixStart, this.suffixEnd) : utf8Bytes(`,${this.encoded}]`));
  }

  decode(): unknown[] {
    const value = JSON.parse(`[${this.encoded}]`) as unknown[];
    return this.encoded.includes('\\u0000') ? (reviveBinary(value) as unknown[]) : value;
  }
}

const SPACE = /\s*/y;

/** The message code written between `[` at `open` and the `,` at `comma`, or -1. */
function codeOf(text: string, open: number, comma: number): number {
  let code = 0;
  let i = open + 1;
  SPACE.lastIndex = i;
  SPACE.test(text);
  i = SPACE.lastIndex;
  const first = i;
  for (; i < comma; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    code = code * 10 + c - 0x30;
    if (code > 127) return -1;
  }
  if (i === first || (text.charCodeAt(first) === 0x30 && i > first + 1)) return -1;
  SPACE.lastIndex = i;
  SPACE.test(text);
  return SPACE.lastIndex === comma ? code : -1;
}

/** UTF-8 length of text (ASCII fast). */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return utf8Bytes(text).length;
  return text.length;
}

/**
 * A scanned JSON message (top-level positions in `top`) as a SplitFrame, or undefined where it is
 * decoded whole: no payload, an opaque (enc_algo) or malformed payload (JSON.parse or parseMessage
 * then say what is wrong), a number past the doubles (JSON.parse reads it as Infinity).
 */
export function splitJson(text: string, frame: Uint8Array | undefined, top: TopLevel): SplitFrame | undefined {
  const count = top.count;
  if (count < 4 || count > 7) return undefined;
  const starts = top.starts;
  const open = starts[0]!;
  if (text.charCodeAt(open) !== 0x5b) return undefined;
  const code = codeOf(text, open, starts[1]!);
  const index = code >= 0 ? PAYLOAD_INDEX[code]! : 0;
  if (index === 0 || count <= index || count > index + 2) return undefined;
  const tailStart = starts[index]!;
  const scan = scanJsonTail(text, tailStart);
  if (scan.count !== count - index || scan.overflow || scan.first !== 0x5b || (scan.count === 2 && scan.second !== 0x7b)) return undefined;
  const close = scan.close;
  const headText = text.slice(0, tailStart);
  let head = JSON.parse(`${headText}]`) as unknown[];
  if (headText.includes('\\u0000')) head = reviveBinary(head) as unknown[];
  let suffixStart = 0;
  let suffixEnd = 0;
  if (frame !== undefined) {
    // A byte-order mark the decoder dropped comes first; what follows the `]` is ASCII whitespace.
    const bom = frame[0] === 0xef && frame[1] === 0xbb && frame[2] === 0xbf ? 3 : 0;
    suffixStart = bom + utf8Length(headText);
    suffixEnd = frame.length - (text.length - close - 1);
  }
  // The frame's own bytes, or a copy where it is a small part of a larger read (ownBytes).
  return new SplitFrame(
    head,
    new JsonRaw(count - index, text.slice(tailStart + 1, close), frame === undefined ? undefined : ownBytes(frame), suffixStart, suffixEnd),
  );
}

/** Payload passthrough as the router's transports ask for it: frames from DEFAULT_PASSTHROUGH_MIN_BYTES. */
export const PASSTHROUGH: Passthrough = { minBytes: DEFAULT_PASSTHROUGH_MIN_BYTES, json: splitJson };
