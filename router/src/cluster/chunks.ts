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
 * send one): the origin must be a node name (the config's pattern, `NODE_NAME`) of a node this one
 * knows (`isKnownNode`: heard from its heartbeats), so that made-up names neither multiply the
 * per-origin bounds nor starve the real nodes; the announced size is bounded; each partial message
 * is charged at its first chunk what it really holds — its announced bytes (the buffer is
 * allocated once, at that size) plus `PARTIAL_OVERHEAD` for its state and key — against the
 * bytes held per origin and in all; the partial messages per origin and in all
 * (`TOTAL_PARTIALS_FACTOR` × the per-origin bound) are bounded; and a message whose next chunk does
 * not come within the timeout is dropped (swept on the node's heartbeat timer: an incoming chunk
 * never walks the partials). What is dropped is reported (`onDrop`): node.ts counts and logs it.
 */

/** First byte of a chunk frame: MessagePack's never-used byte. */
export const CHUNK_MARK = 0xc1;
const VERSION = 1;
/** Fixed header bytes besides the origin's name. */
const FIXED_HEADER = 1 + 1 + 2 + 8 + 4 + 4 + 4 + 4;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A node's name: the config schema's pattern for `cluster.node` (router-config.schema.json; a test
 * keeps the two equal). A chunk frame whose origin is anything else is malformed.
 */
export const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** The longest node name in bytes (ASCII): a frame announcing a longer one is refused before decoding. */
const MAX_NAME_BYTES = 64;

/**
 * What a partial message holds besides its buffer, charged with its announced bytes: the Pending
 * state, its key string (subscription, origin, incarnation, stream: at most ~130 bytes), the
 * origin's name once more (at most 64 bytes), the buffer's own object and the map entries.
 */
export const PARTIAL_OVERHEAD = 512;
/** Partial messages held from all nodes together: this many times `maxPartialMessages` (per origin). */
export const TOTAL_PARTIALS_FACTOR = 4;

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
  if (nameLength > MAX_NAME_BYTES || frame.length <= header) return undefined;
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
  if (!NODE_NAME.test(node) || !Number.isFinite(incarnation) || count < 1 || index >= count || count > total) return undefined;
  return { node, incarnation, stream, index, count, total, data: frame.subarray(at + 4) };
}

/** The bounds on reassembly (config `cluster.*`). */
export interface ChunkLimits {
  /** The largest message, and the bytes of partial messages held from one origin node at once (`cluster.maxReassemblyBytes`). */
  readonly maxReassemblyBytes: number;
  /** The bytes of partial messages held from all nodes together (`cluster.maxReassemblyTotalBytes`). */
  readonly maxReassemblyTotalBytes: number;
  /**
   * Partial messages held from one origin node at once (`cluster.maxPartialMessages`); from all
   * nodes together, `TOTAL_PARTIALS_FACTOR` times as many.
   */
  readonly maxPartialMessages: number;
  /** How long a partial message waits for its next chunk (`cluster.chunkTimeoutMs`). */
  readonly chunkTimeoutMs: number;
}

/**
 * Why chunks were dropped: `malformed` (not a chunk frame, an origin that is not a node name, or
 * sizes that do not add up), `unknown_origin` (from a node this one has not heard of),
 * `out_of_order` (a duplicate, a gap, a first chunk missing), `too_large` (announced over
 * maxReassemblyBytes), `origin_bytes` / `total_bytes` / `partials` / `total_partials` (a bound on
 * what is held), `timeout` (no next chunk within chunkTimeoutMs).
 */
export type ChunkDrop =
  | 'malformed'
  | 'unknown_origin'
  | 'out_of_order'
  | 'too_large'
  | 'origin_bytes'
  | 'total_bytes'
  | 'partials'
  | 'total_partials'
  | 'timeout';

/** The config key a dropping bound is (for switchboard_limits_exceeded_total), or undefined for a broken stream. */
export function dropLimit(reason: ChunkDrop): string | undefined {
  switch (reason) {
    case 'too_large':
    case 'origin_bytes':
      return 'cluster.maxReassemblyBytes';
    case 'total_bytes':
      return 'cluster.maxReassemblyTotalBytes';
    case 'partials':
    case 'total_partials':
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
  /** What it is charged against the bounds: its announced bytes plus PARTIAL_OVERHEAD. */
  readonly charge: number;
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
    /**
     * A message (or a stray chunk) was dropped: `bytes` is what it had announced; `origin` is '?'
     * when the frame's origin is not a node this one knows (a forged name is not repeated).
     */
    private readonly onDrop: (origin: string, reason: ChunkDrop, bytes: number) => void,
    /** Whether chunks from this node name are taken: a live cluster node (node.ts: heard from its heartbeats). */
    private readonly isKnownNode: (node: string) => boolean,
  ) {}

  /** Bytes charged for the partial messages held now (their announced bytes plus PARTIAL_OVERHEAD each). */
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
    const chunk = parseChunk(frame);
    if (chunk === undefined) {
      this.onDrop('?', 'malformed', frame.length);
      return undefined;
    }
    const key = `${channel}\u0000${chunk.node}\u0000${chunk.incarnation}\u0000${chunk.stream}`;
    let partial = this.#partials.get(key);
    if (partial !== undefined && now - partial.lastAt > this.limits.chunkTimeoutMs) {
      // Timed out, not swept yet (the sweep runs on the node's timer): as if it had been.
      this.#drop(partial, 'timeout');
      partial = undefined;
    }
    if (partial === undefined) {
      if (!this.isKnownNode(chunk.node)) {
        this.onDrop('?', 'unknown_origin', chunk.total);
        return undefined;
      }
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

  /**
   * The first chunk of a message: its whole announced size plus PARTIAL_OVERHEAD is charged (and
   * the buffer allocated) now. An origin that holds nothing may always start one message of up to
   * maxReassemblyBytes (the largest a node sends), overhead included; the total is strict.
   */
  #start(key: string, chunk: ChunkFrame, now: number): Pending | undefined {
    const { maxReassemblyBytes, maxReassemblyTotalBytes, maxPartialMessages } = this.limits;
    const use = this.#origins.get(chunk.node);
    const charge = chunk.total + PARTIAL_OVERHEAD;
    let refused: ChunkDrop | undefined;
    if (chunk.total > maxReassemblyBytes) refused = 'too_large';
    else if ((use?.partials ?? 0) >= maxPartialMessages) refused = 'partials';
    else if (this.#partials.size >= TOTAL_PARTIALS_FACTOR * maxPartialMessages) refused = 'total_partials';
    else if (use !== undefined && use.bytes + charge > maxReassemblyBytes) refused = 'origin_bytes';
    else if (this.#bytes + charge > maxReassemblyTotalBytes) refused = 'total_bytes';
    if (refused !== undefined) {
      this.onDrop(chunk.node, refused, chunk.total);
      return undefined;
    }
    const partial: Pending = { key, node: chunk.node, count: chunk.count, buffer: new Uint8Array(chunk.total), charge, next: 0, filled: 0, lastAt: now };
    this.#partials.set(key, partial);
    if (use === undefined) this.#origins.set(chunk.node, { bytes: charge, partials: 1 });
    else {
      use.bytes += charge;
      use.partials++;
    }
    this.#bytes += charge;
    return partial;
  }

  /**
   * Drops partial messages that waited for their next chunk longer than the timeout: called on the
   * node's heartbeat timer, never per chunk (a walk over every partial).
   */
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
    this.#bytes -= partial.charge;
    const use = this.#origins.get(partial.node);
    if (use === undefined) return;
    use.bytes -= partial.charge;
    if (--use.partials === 0) this.#origins.delete(partial.node);
  }
}
