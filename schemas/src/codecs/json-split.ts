/**
 * JSON's half of payload passthrough (payload.ts): a scanned JSON message split into its decoded
 * head and its payload, validated (json-validate.ts) and kept as bytes (as text for a frame given
 * as a string). Apart from
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
 * A JSON payload passed through. From a frame that came as bytes it holds only the UTF-8 bytes of
 * `,<elements>]` (a view of the frame where that is most of it, else a copy: ownBytes) — not the
 * frame's decoded text as well — and reads the elements' text from them when the values are
 * needed. From a frame given as a string it holds the elements' text and encodes the bytes when
 * first sent.
 */
class JsonRaw implements RawPayload, JsonTail {
  readonly codec = 'json';
  #text: string | undefined;
  #suffix: Uint8Array | undefined;

  constructor(
    readonly count: number,
    text: string | undefined,
    suffix: Uint8Array | undefined,
  ) {
    this.#text = text;
    this.#suffix = suffix;
  }

  get tail(): EncodedTail {
    return this;
  }

  /** The elements' text (not kept when it comes from the bytes: the values are decoded once). */
  get encoded(): string {
    return this.#text ?? utf8.decode(this.#suffix!.subarray(1, -1));
  }

  get bytes(): number {
    return this.#suffix !== undefined ? this.#suffix.length : this.#text!.length;
  }

  get suffix(): Uint8Array {
    return (this.#suffix ??= utf8Bytes(`,${this.#text!}]`));
  }

  decode(): unknown[] {
    const text = this.encoded;
    const value = JSON.parse(`[${text}]`) as unknown[];
    return text.includes('\\u0000') ? (reviveBinary(value) as unknown[]) : value;
  }
}

/** The frame's bytes were checked as UTF-8 by the decode that split it; a U+FEFF is text here, not a mark. */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

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
  // A byte-order mark the decoder dropped comes first; what follows the `]` is ASCII whitespace.
  const bom = frame !== undefined && frame[0] === 0xef && frame[1] === 0xbb && frame[2] === 0xbf ? 3 : 0;
  // Each character one byte (the text is ASCII): the scan reads long strings in the bytes.
  const ascii = frame !== undefined && text.length === frame.length - bom;
  const scan = scanJsonTail(text, tailStart, ascii ? frame : undefined, bom);
  if (scan.count !== count - index || scan.overflow || scan.first !== 0x5b || (scan.count === 2 && scan.second !== 0x7b)) return undefined;
  const close = scan.close;
  const headText = text.slice(0, tailStart);
  let head = JSON.parse(`${headText}]`) as unknown[];
  if (headText.includes('\\u0000')) head = reviveBinary(head) as unknown[];
  let suffixStart = 0;
  let suffixEnd = 0;
  if (frame !== undefined) {
    suffixStart = bom + (ascii ? tailStart : utf8Length(headText));
    suffixEnd = frame.length - (text.length - close - 1);
  }
  // From bytes, the payload's own bytes only (a copy where they are a small part of their buffer:
  // ownBytes), so that neither the frame's head nor its decoded text stays alive with them.
  const raw =
    frame !== undefined
      ? new JsonRaw(count - index, undefined, ownBytes(frame.subarray(suffixStart, suffixEnd)))
      : new JsonRaw(count - index, text.slice(tailStart + 1, close), undefined);
  return new SplitFrame(head, raw);
}

/** Payload passthrough as the router's transports ask for it: frames from DEFAULT_PASSTHROUGH_MIN_BYTES. */
export const PASSTHROUGH: Passthrough = { minBytes: DEFAULT_PASSTHROUGH_MIN_BYTES, json: splitJson };
