/**
 * Batched framing, shared by the batched WebSocket subprotocols and HTTP long-poll.
 * [ap_transport_batched_websocket] JSON: each serialized message followed by the record separator
 * 0x1E. MessagePack and CBOR: each serialized message preceded by its length as a 32-bit
 * big-endian unsigned integer. A batch holds at least one message.
 *
 * A batch is one frame to the limits: its messages share one budget of maxMessageItems values
 * (DecodeOptions.batch), every message counting at least one, so that a batch of maxMessageBytes
 * holds the event loop no longer than one message at the limits does. Decoded one budget each,
 * 127 messages at the limit in a 16 MiB batch held it for 4.3 s, and 16 MiB of one-octet JSON
 * messages (eight million) for 8 s.
 */
import type { BatchCount, Codec, DecodeOptions } from '@switchboard/schemas';
import { DEFAULT_MAX_ITEMS } from '@switchboard/schemas';
import type { PeerHandler, SharedFrame } from './peer.js';

/** ASCII record separator, the JSON batch terminator. */
export const RECORD_SEPARATOR = 0x1e;

/** The suffix of batched subprotocols: `wamp.2.json.batched` … */
export const BATCHED_SUFFIX = '.batched';

/** One message's share of a batch: the message with its separator (text) or length prefix (binary). */
export function batchElement(data: Uint8Array, text: boolean): Buffer {
  const out = Buffer.allocUnsafe(text ? data.length + 1 : data.length + 4);
  if (text) {
    out.set(data, 0);
    out[data.length] = RECORD_SEPARATOR;
  } else {
    out.writeUInt32BE(data.length, 0);
    out.set(data, 4);
  }
  return out;
}

/** The same for a message the codec gave as a string (JSON), without an intermediate copy. */
export function batchElementOfString(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const out = Buffer.allocUnsafe(length + 1);
  out.write(text, 0, 'utf8');
  out[length] = RECORD_SEPARATOR;
  return out;
}

/** A shared message's batch element, framed once from its text (JSON) or bytes. */
export function sharedBatchElement(frame: SharedFrame): Buffer {
  const source = frame.source;
  return typeof source === 'string' ? batchElementOfString(source) : batchElement(source, frame.text);
}

/** A batch that breaks the framing rules; the transport fails the connection. */
export class BatchError extends Error {
  override name = 'BatchError';
}

/**
 * Splits a batch into its messages (views into `batch`, no copies). Throws BatchError for an
 * empty batch, a JSON message without its separator, an empty JSON message, a truncated
 * length-prefixed message, or more than `maxMessages` messages (found before any view is made
 * past the limit: a batch of millions of one-octet messages costs a byte scan, not millions of
 * objects).
 */
export function splitBatch(batch: Uint8Array, text: boolean, maxMessages = Number.POSITIVE_INFINITY): Uint8Array[] {
  if (batch.length === 0) throw new BatchError('empty batch (a batch must hold at least one message)');
  const out: Uint8Array[] = [];
  const tooMany = (): BatchError =>
    new BatchError(`more than ${maxMessages} messages in one batch (every message counts at least one of the ${maxMessages} values a batch may hold)`);
  if (text) {
    let start = 0;
    for (let i = 0; i < batch.length; i++) {
      if (batch[i] !== RECORD_SEPARATOR) continue;
      if (i === start) throw new BatchError(`empty message at octet ${start} of a JSON batch`);
      if (out.length >= maxMessages) throw tooMany();
      out.push(batch.subarray(start, i));
      start = i + 1;
    }
    if (start !== batch.length)
      throw new BatchError(`JSON batch does not end with the record separator 0x1E (${batch.length - start} octets after the last one)`);
    return out;
  }
  let at = 0;
  while (at < batch.length) {
    if (batch.length - at < 4) throw new BatchError(`truncated length prefix at octet ${at} of a batch of ${batch.length} octets`);
    const length = ((batch[at]! << 24) >>> 0) + (batch[at + 1]! << 16) + (batch[at + 2]! << 8) + batch[at + 3]!;
    at += 4;
    if (length > batch.length - at) throw new BatchError(`message of ${length} octets at octet ${at - 4} overruns a batch of ${batch.length} octets`);
    if (out.length >= maxMessages) throw tooMany();
    out.push(batch.subarray(at, at + length));
    at += length;
  }
  return out;
}

/**
 * Hands each message of a batch to the handler in order. A broken batch, or an undecodable message
 * in it, goes to onBadFrame (which fails the session) and the messages after it are not read;
 * false then. The messages share one budget of `options.maxItems` values, every message counting
 * at least one (a JSON scalar counts none, yet costs a decode and its handling): past it, the
 * message that goes over is undecodable as a message over the limit on its own is.
 */
export function decodeBatch(codec: Codec, batch: Uint8Array, handler: PeerHandler, options?: DecodeOptions): boolean {
  const maxItems = options?.maxItems ?? DEFAULT_MAX_ITEMS;
  let messages: Uint8Array[];
  try {
    messages = splitBatch(batch, !codec.binary, maxItems);
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    handler.onBadFrame(`bad ${codec.name} batch: ${err.message}`);
    return false;
  }
  const count: BatchCount = { items: 0 };
  const shared: DecodeOptions = { ...options, batch: count };
  for (let i = 0; i < messages.length; i++) {
    if (count.items >= maxItems) {
      handler.onBadFrame(
        `${undecodable(codec, i, messages.length)}: more than ${maxItems} values in one batch (its messages share one budget, every message counting at least one)`,
      );
      return false;
    }
    const before = count.items;
    let decoded: unknown;
    try {
      decoded = codec.decode(messages[i]!, shared);
    } catch (err) {
      handler.onBadFrame(`${undecodable(codec, i, messages.length)}: ${(err as Error).message}`);
      return false;
    }
    if (count.items === before) count.items++;
    handler.onFrame(decoded);
  }
  return true;
}

function undecodable(codec: Codec, index: number, of: number): string {
  return `undecodable ${codec.name} message in a batch (message ${index + 1} of ${of})`;
}
