/**
 * Cluster messages larger than the NATS server takes (its `max_payload`, 1 MiB by default; the
 * router accepts 16 MiB WAMP messages, and their MessagePack form between nodes can be larger
 * still) cross as chunk frames: the sending node's one NATS outbox (node.ts `publish`) splits the
 * encoded message into frames under the connection's current `max_payload` and publishes them
 * consecutively on the same subject; a receiving node puts them back together here and decodes
 * the whole exactly as a single frame (wire.ts decodeCluster). Pure: no NATS, an injected clock.
 *
 * A chunk frame (big-endian):
 *
 *     0xc1 | version 1 | origin length (u16) | origin (UTF-8) | incarnation (f64)
 *          | stream (u32) | index (u32) | count (u32) | total bytes (u32) | data
 *
 * 0xc1 is the one byte MessagePack never uses, so a receiver tells a chunk from a whole message by
 * its first byte (one comparison on the path of every message). NATS keeps one connection's
 * order per subject, and one NATS subscription sees a subject's messages in that order: a
 * receiver reassembles per subscription (`channel`), origin node, incarnation and stream,
 * expecting index 0 … count-1 in turn. Two overlapping subscriptions each see every chunk: each
 * reassembles its own copy and the event dedupe (events.ts, by origin and sequence) drops the
 * second. Within one channel a frame out of turn (a duplicate, a gap) drops that message.
 *
 * Every chunk is hostile input (any client of the NATS server that may publish on the subjects can
 * send one): the announced size is bounded, the bytes held per origin and in all are bounded and
 * charged in full at the first chunk (the buffer is allocated once, at its announced size), the
 * partial messages per origin are bounded, and a message whose next chunk does not come within
 * the timeout is dropped. What is dropped is reported (`onDrop`): node.ts counts and logs it.
 */

/** First byte of a chunk frame: MessagePack's never-used byte. */
export const CHUNK_MARK = 0xc1;
const VERSION = 1;
/** Fixed header bytes besides the origin's name. */
const FIXED_HEADER = 1 + 1 + 2 + 8 + 4 + 4 + 4 + 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Whether a NATS message is a chunk frame (else a whole cluster message). */
export function isChunk(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === CHUNK_MARK;
}

/** Where chunk frames come from: the sending node, and a stream number of its own per message. */
export interface ChunkOrigin {
  readonly node: string;
  readonly incarnation: number;
}

/**
 * Splits `message` into chunk frames of at most `maxFrame` bytes each (the server's max_payload).
 * Throws when `maxFrame` leaves no room for data past the header.
 */
export function splitChunks(origin: ChunkOrigin, stream: number, message: Uint8Array, maxFrame: number): Uint8Array[] {
  const name = encoder.encode(origin.node);
  const header = FIXED_HEADER + name.length;
  const room = maxFrame - header;
  if (room < 1 || name.length > 0xffff) throw new Error(`cluster: a chunk of at most ${maxFrame} bytes has no room past its ${header}-byte header`);
  if (message.length > 0xffffffff) throw new Error('cluster: a message of 4 GiB or more cannot be chunked');
  const count = Math.ceil(message.length / room);
  const frames: Uint8Array[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const start = index * room;
    const data = message.subarray(start, Math.min(message.length, start + room));
    const frame = new Uint8Array(header + data.length);
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    frame[0] = CHUNK_MARK;
    frame[1] = VERSION;
    view.setUint16(2, name.length);
    frame.set(name, 4);
    let at = 4 + name.length;
    view.setFloat64(at, origin.incarnation);
    view.setUint32((at += 8), stream >>> 0);
    view.setUint32((at += 4), index);
    view.setUint32((at += 4), count);
    view.setUint32((at += 4), message.length);
    frame.set(data, at + 4);
    frames[index] = frame;
  }
  return frames;
}

/** A chunk frame's header and data (a view into the frame). */
export interface ChunkFrame {
  readonly node: string;
  readonly incarnation: number;
  readonly stream: number;
  readonly index: number;
  readonly count: number;
  readonly total: number;
  readonly data: Uint8Array;
}

/** The frame's parts, or undefined when it is not a well-formed chunk frame. */
export function parseChunk(frame: Uint8Array): ChunkFrame | undefined {
  if (frame.length < FIXED_HEADER || frame[0] !== CHUNK_MARK || frame[1] !== VERSION) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nameLength = view.getUint16(2);
  const header = FIXED_HEADER + nameLength;
  if (frame.length <= header) return undefined;
  let node: string;
  try {
    node = decoder.decode(frame.subarray(4, 4 + nameLength));
  } catch {
    return undefined;
  }
  let at = 4 + nameLength;
  const incarnation = view.getFloat64(at);
  const stream = view.getUint32((at += 8));
  const index = view.getUint32((at += 4));
  const count = view.getUint32((at += 4));
  const total = view.getUint32((at += 4));
  if (node.length === 0 || !Number.isFinite(incarnation) || count < 1 || index >= count || count > total) return undefined;
  return { node, incarnation, stream, index, count, total, data: frame.subarray(at + 4) };
}

/** The bounds on reassembly (config `cluster.*`). */
export interface ChunkLimits {
  /** The largest message, and the bytes of partial messages held from one origin node at once (`cluster.maxReassemblyBytes`). */
  readonly maxReassemblyBytes: number;
  /** The bytes of partial messages held from all nodes together (`cluster.maxReassemblyTotalBytes`). */
  readonly maxReassemblyTotalBytes: number;
  /** Partial messages held from one origin node at once (`cluster.maxPartialMessages`). */
  readonly maxPartialMessages: number;
  /** How long a partial message waits for its next chunk (`cluster.chunkTimeoutMs`). */
  readonly chunkTimeoutMs: number;
}

/**
 * Why chunks were dropped: `malformed` (not a chunk frame, or sizes that do not add up),
 * `out_of_order` (a duplicate, a gap, a first chunk missing), `too_large` (announced over
 * maxReassemblyBytes), `origin_bytes` / `total_bytes` / `partials` (a bound on what is held),
 * `timeout` (no next chunk within chunkTimeoutMs).
 */
export type ChunkDrop = 'malformed' | 'out_of_order' | 'too_large' | 'origin_bytes' | 'total_bytes' | 'partials' | 'timeout';

/** The config key a dropping bound is (for switchboard_limits_exceeded_total), or undefined for a broken stream. */
export function dropLimit(reason: ChunkDrop): string | undefined {
  switch (reason) {
    case 'too_large':
    case 'origin_bytes':
      return 'cluster.maxReassemblyBytes';
    case 'total_bytes':
      return 'cluster.maxReassemblyTotalBytes';
    case 'partials':
      return 'cluster.maxPartialMessages';
    case 'timeout':
      return 'cluster.chunkTimeoutMs';
    default:
      return undefined;
  }
}

interface Pending {
  readonly key: string;
  readonly node: string;
  readonly count: number;
  readonly buffer: Uint8Array;
  /** The index expected next. */
  next: number;
  /** Bytes filled so far. */
  filled: number;
  lastAt: number;
}

interface OriginUse {
  bytes: number;
  partials: number;
}

export class Reassembler {
  readonly #partials = new Map<string, Pending>();
  readonly #origins = new Map<string, OriginUse>();
  #bytes = 0;

  constructor(
    readonly limits: ChunkLimits,
    private readonly now: () => number,
    /** A message (or a stray chunk) was dropped: `bytes` is what it had announced. */
    private readonly onDrop: (origin: string, reason: ChunkDrop, bytes: number) => void,
  ) {}

  /** Bytes held in partial messages now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Partial messages held now. */
  get partials(): number {
    return this.#partials.size;
  }

  /**
   * A chunk frame from NATS subscription `channel`: the whole message once its last chunk is in
   * (decode it as a single frame), else undefined (held, or dropped and reported).
   */
  accept(channel: number, frame: Uint8Array): Uint8Array | undefined {
    const now = this.now();
    if (this.#partials.size > 0) this.sweep(now);
    const chunk = parseChunk(frame);
    if (chunk === undefined) {
      this.onDrop('?', 'malformed', frame.length);
      return undefined;
    }
    const key = `${channel}\u0000${chunk.node}\u0000${chunk.incarnation}\u0000${chunk.stream}`;
    let partial = this.#partials.get(key);
    if (partial === undefined) {
      if (chunk.index !== 0) {
        this.onDrop(chunk.node, 'out_of_order', chunk.total);
        return undefined;
      }
      if (chunk.count === 1) return this.#whole(chunk);
      partial = this.#start(key, chunk, now);
      if (partial === undefined) return undefined;
    } else if (chunk.index !== partial.next || chunk.count !== partial.count || chunk.total !== partial.buffer.length) {
      // A duplicate, a gap, or a frame that contradicts the first: the message cannot be whole.
      this.#drop(partial, 'out_of_order');
      // A new first chunk under the same key starts over (a sender never reuses a stream number soon).
      if (chunk.index !== 0 || chunk.count === 1) return undefined;
      partial = this.#start(key, chunk, now);
      if (partial === undefined) return undefined;
    }
    if (partial.filled + chunk.data.length > partial.buffer.length) {
      this.#drop(partial, 'malformed');
      return undefined;
    }
    partial.buffer.set(chunk.data, partial.filled);
    partial.filled += chunk.data.length;
    partial.next++;
    partial.lastAt = now;
    if (partial.next < partial.count) return undefined;
    this.#release(partial);
    if (partial.filled !== partial.buffer.length) {
      this.onDrop(partial.node, 'malformed', partial.buffer.length);
      return undefined;
    }
    return partial.buffer;
  }

  /** A message of one chunk: itself (a sender never makes one, but it is well formed). */
  #whole(chunk: ChunkFrame): Uint8Array | undefined {
    if (chunk.data.length !== chunk.total) {
      this.onDrop(chunk.node, 'malformed', chunk.total);
      return undefined;
    }
    return chunk.data;
  }

  /** The first chunk of a message: its whole announced size is charged (and allocated) now. */
  #start(key: string, chunk: ChunkFrame, now: number): Pending | undefined {
    const { maxReassemblyBytes, maxReassemblyTotalBytes, maxPartialMessages } = this.limits;
    const use = this.#origins.get(chunk.node);
    let refused: ChunkDrop | undefined;
    if (chunk.total > maxReassemblyBytes) refused = 'too_large';
    else if ((use?.partials ?? 0) >= maxPartialMessages) refused = 'partials';
    else if ((use?.bytes ?? 0) + chunk.total > maxReassemblyBytes) refused = 'origin_bytes';
    else if (this.#bytes + chunk.total > maxReassemblyTotalBytes) refused = 'total_bytes';
    if (refused !== undefined) {
      this.onDrop(chunk.node, refused, chunk.total);
      return undefined;
    }
    const partial: Pending = { key, node: chunk.node, count: chunk.count, buffer: new Uint8Array(chunk.total), next: 0, filled: 0, lastAt: now };
    this.#partials.set(key, partial);
    if (use === undefined) this.#origins.set(chunk.node, { bytes: chunk.total, partials: 1 });
    else {
      use.bytes += chunk.total;
      use.partials++;
    }
    this.#bytes += chunk.total;
    return partial;
  }

  /** Drops partial messages that waited for their next chunk longer than the timeout. */
  sweep(now = this.now()): void {
    const timeout = this.limits.chunkTimeoutMs;
    for (const partial of this.#partials.values()) if (now - partial.lastAt > timeout) this.#drop(partial, 'timeout');
  }

  /** Forgets every partial message (the node stops; nothing is reported). */
  clear(): void {
    this.#partials.clear();
    this.#origins.clear();
    this.#bytes = 0;
  }

  #drop(partial: Pending, reason: ChunkDrop): void {
    this.#release(partial);
    this.onDrop(partial.node, reason, partial.buffer.length);
  }

  #release(partial: Pending): void {
    if (!this.#partials.delete(partial.key)) return;
    this.#bytes -= partial.buffer.length;
    const use = this.#origins.get(partial.node);
    if (use === undefined) return;
    use.bytes -= partial.buffer.length;
    if (--use.partials === 0) this.#origins.delete(partial.node);
  }
}
