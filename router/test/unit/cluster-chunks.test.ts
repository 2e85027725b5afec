/**
 * Chunk frames and their reassembly (cluster/chunks.ts): pure, an injected clock, no NATS. The
 * same over a real nats-server with a small max_payload: router/test/cluster/chunked-cluster.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  CHUNK_MARK,
  NODE_NAME,
  PARTIAL_OVERHEAD,
  Reassembler,
  TOTAL_PARTIALS_FACTOR,
  dropLimit,
  isChunk,
  parseChunk,
  splitChunks,
} from '../../src/cluster/chunks.js';
import type { ChunkDrop, ChunkLimits } from '../../src/cluster/chunks.js';
import { encodeCluster } from '../../src/cluster/wire.js';

const A = { node: 'node-a', incarnation: 1_765_000_000_000 };
const B = { node: 'node-b', incarnation: 1_765_000_000_001 };
const LIMITS: ChunkLimits = { maxReassemblyBytes: 10_000, maxReassemblyTotalBytes: 15_000, maxPartialMessages: 3, chunkTimeoutMs: 1000 };

function message(length: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/** Nodes the reassembler knows (node.ts: heard from their heartbeats): A, B and `node-<n>`. */
const known = (node: string): boolean => node === A.node || node === B.node || /^node-\d+$/.test(node);

function setup(limits: ChunkLimits = LIMITS): { r: Reassembler; drops: [string, ChunkDrop, number][]; clock: { now: number } } {
  const drops: [string, ChunkDrop, number][] = [];
  const clock = { now: 0 };
  const r = new Reassembler(
    limits,
    () => clock.now,
    (origin, reason, bytes) => drops.push([origin, reason, bytes]),
    known,
  );
  return { r, drops, clock };
}

/** Feeds frames in order; the messages completed. */
function feed(r: Reassembler, channel: number, frames: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of frames) {
    const whole = r.accept(channel, f);
    if (whole !== undefined) out.push(whole);
  }
  return out;
}

describe('chunk frames', () => {
  it('split under the frame size, each marked, and parse back to the same bytes', () => {
    const msg = message(5000);
    const frames = splitChunks(A, 7, msg, 1024);
    expect(frames.length).toBe(Math.ceil(5000 / (1024 - 28 - A.node.length)));
    for (const [i, f] of frames.entries()) {
      expect(f.length).toBeLessThanOrEqual(1024);
      expect(f[0]).toBe(CHUNK_MARK);
      expect(isChunk(f)).toBe(true);
      const c = parseChunk(f)!;
      expect(c).toMatchObject({ node: A.node, incarnation: A.incarnation, stream: 7, index: i, count: frames.length, total: 5000 });
    }
    const { r } = setup();
    expect(feed(r, 1, frames)).toEqual([msg]);
    expect(r.bytes).toBe(0);
    expect(r.partials).toBe(0);
  });

  it('are never mistaken for a whole cluster message, nor a whole message for a chunk', () => {
    expect(isChunk(encodeCluster({ kind: 'h', node: 'x', incarnation: 1 }))).toBe(false);
    expect(isChunk(new Uint8Array(0))).toBe(false);
    expect(() => splitChunks(A, 1, message(100), 30)).toThrow(/no room/);
  });

  it('refuse malformed headers', () => {
    const f = splitChunks(A, 1, message(300), 100)[0]!;
    expect(parseChunk(f.subarray(0, 20))).toBeUndefined();
    const wrongVersion = f.slice();
    wrongVersion[1] = 9;
    expect(parseChunk(wrongVersion)).toBeUndefined();
    const indexPastCount = f.slice();
    new DataView(indexPastCount.buffer).setUint32(4 + A.node.length + 8 + 4, 99);
    expect(parseChunk(indexPastCount)).toBeUndefined();
    const { r, drops } = setup();
    expect(r.accept(1, wrongVersion)).toBeUndefined();
    expect(drops).toEqual([['?', 'malformed', wrongVersion.length]]);
  });
});

describe('Reassembler', () => {
  it('reassembles interleaved messages from two origins and two streams', () => {
    const { r, drops } = setup();
    const a1 = splitChunks(A, 1, message(900, 1), 200);
    const a2 = splitChunks(A, 2, message(700, 2), 200);
    const b1 = splitChunks(B, 1, message(800, 3), 200);
    const out: Uint8Array[] = [];
    const longest = Math.max(a1.length, a2.length, b1.length);
    for (let i = 0; i < longest; i++) {
      for (const frames of [a1, b1, a2]) {
        const f = frames[i];
        if (f === undefined) continue;
        const whole = r.accept(1, f);
        if (whole !== undefined) out.push(whole);
      }
    }
    expect(out.map((m) => m.length).sort()).toEqual([700, 800, 900]);
    expect(out).toContainEqual(message(900, 1));
    expect(out).toContainEqual(message(800, 3));
    expect(drops).toEqual([]);
  });

  it('keeps channels apart: two overlapping subscriptions each get the whole message', () => {
    const { r, drops } = setup();
    const frames = splitChunks(A, 1, message(1000), 300);
    const out: Uint8Array[] = [];
    // NATS delivers each message to both subscriptions in turn.
    for (const f of frames) {
      for (const channel of [1, 2]) {
        const whole = r.accept(channel, f);
        if (whole !== undefined) out.push(whole);
      }
    }
    expect(out).toEqual([message(1000), message(1000)]);
    expect(drops).toEqual([]);
  });

  it('drops a message with a duplicate, a gap or a missing first chunk, and takes the next one', () => {
    const { r, drops } = setup();
    const frames = splitChunks(A, 1, message(1000), 300);
    expect(feed(r, 1, [frames[0]!, frames[1]!, frames[1]!, frames[2]!, frames[3]!])).toEqual([]);
    expect(drops.map((d) => d[1])).toEqual(['out_of_order', 'out_of_order', 'out_of_order']);
    drops.length = 0;
    expect(feed(r, 1, [frames[0]!, frames[2]!])).toEqual([]);
    expect(drops.map((d) => d[1])).toEqual(['out_of_order']);
    expect(r.bytes).toBe(0);
    const next = splitChunks(A, 2, message(1000, 5), 300);
    expect(feed(r, 1, next)).toEqual([message(1000, 5)]);
  });

  it('a first chunk again under the same stream starts the message over', () => {
    const { r, drops } = setup();
    const frames = splitChunks(A, 1, message(1000), 300);
    expect(feed(r, 1, [frames[0]!, frames[1]!, ...frames])).toEqual([message(1000)]);
    expect(drops.map((d) => d[1])).toEqual(['out_of_order']);
    expect(r.bytes).toBe(0);
  });

  it('refuses a message announced larger than maxReassemblyBytes at its first chunk', () => {
    const { r, drops } = setup();
    const frames = splitChunks(A, 1, message(10_001), 2000);
    expect(feed(r, 1, frames)).toEqual([]);
    expect(drops[0]).toEqual([A.node, 'too_large', 10_001]);
    // The later chunks find no message: each is a stray.
    expect(drops.slice(1).every((d) => d[1] === 'out_of_order')).toBe(true);
    expect(r.bytes).toBe(0);
    expect(dropLimit('too_large')).toBe('cluster.maxReassemblyBytes');
  });

  it('bounds the bytes held per origin and in all, and the partial messages per origin', () => {
    const { r, drops } = setup();
    // Per origin: 6000 + 6000 > 10 000.
    r.accept(1, splitChunks(A, 1, message(6000), 1000)[0]!);
    r.accept(1, splitChunks(A, 2, message(6000), 1000)[0]!);
    expect(drops.pop()).toEqual([A.node, 'origin_bytes', 6000]);
    // In all: 6000 (A) + 9500 (B) > 15 000.
    r.accept(1, splitChunks(B, 1, message(9500), 1000)[0]!);
    expect(drops.pop()).toEqual([B.node, 'total_bytes', 9500]);
    expect(r.bytes).toBe(6000 + PARTIAL_OVERHEAD);
    // Partial messages per origin: 3.
    r.accept(1, splitChunks(A, 3, message(100), 60)[0]!);
    r.accept(1, splitChunks(A, 4, message(100), 60)[0]!);
    r.accept(1, splitChunks(A, 5, message(100), 60)[0]!);
    expect(drops.pop()).toEqual([A.node, 'partials', 100]);
    expect(r.partials).toBe(3);
    expect(r.bytes).toBe(6000 + 2 * 100 + 3 * PARTIAL_OVERHEAD);
    expect(dropLimit('total_partials')).toBe('cluster.maxPartialMessages');
    expect(dropLimit('total_bytes')).toBe('cluster.maxReassemblyTotalBytes');
    expect(dropLimit('partials')).toBe('cluster.maxPartialMessages');
    expect(dropLimit('out_of_order')).toBeUndefined();
  });

  it('drops a message whose next chunk does not come within chunkTimeoutMs, and frees its bytes', () => {
    const { r, drops, clock } = setup();
    const frames = splitChunks(A, 1, message(3000), 1000);
    r.accept(1, frames[0]!);
    clock.now = 1000;
    r.accept(1, frames[1]!); // in time: 1000 ms since the last chunk
    clock.now = 2001;
    r.sweep();
    expect(drops).toEqual([[A.node, 'timeout', 3000]]);
    expect(r.bytes).toBe(0);
    expect(r.partials).toBe(0);
    expect(r.accept(1, frames[2]!)).toBeUndefined();
    expect(drops.pop()![1]).toBe('out_of_order');
    expect(dropLimit('timeout')).toBe('cluster.chunkTimeoutMs');
  });

  it('a message whose chunks add up to more or less than announced is malformed', () => {
    const { r, drops } = setup();
    const frames = splitChunks(A, 1, message(1000), 300);
    // The last chunk of another message of the same count but a shorter last part.
    const short = splitChunks(A, 1, message(950), 300);
    expect(feed(r, 1, [frames[0]!, frames[1]!, frames[2]!, short[3]!])).toEqual([]);
    // total differs from the first chunk's: out of order (contradicts the message).
    expect(drops.map((d) => d[1])).toEqual(['out_of_order']);
    expect(r.bytes).toBe(0);
  });
  it('charges each partial its announced bytes plus a fixed overhead, and bounds the partials in all', () => {
    const limits: ChunkLimits = { maxReassemblyBytes: 10_000, maxReassemblyTotalBytes: 64 * 1024, maxPartialMessages: 4, chunkTimeoutMs: 1000 };
    const { r, drops } = setup(limits);
    // 2000 first chunks of 2-byte messages in 2 chunks, under 500 known names, 4 streams each.
    for (let i = 0; i < 2000; i++) {
      const node = `node-${i % 500}`;
      r.accept(1, splitChunks({ node, incarnation: 1 }, i, message(2), 28 + node.length + 1)[0]!);
    }
    expect(r.partials).toBe(TOTAL_PARTIALS_FACTOR * limits.maxPartialMessages);
    expect(r.bytes).toBe(r.partials * (2 + PARTIAL_OVERHEAD));
    expect(r.bytes).toBeLessThanOrEqual(limits.maxReassemblyTotalBytes);
    expect(drops.length).toBe(2000 - r.partials);
    expect(new Set(drops.map((d) => d[1]))).toEqual(new Set(['total_partials']));
    // By bytes too: 2-byte partials of one origin fill its bound at PARTIAL_OVERHEAD each.
    const small = setup({ maxReassemblyBytes: 65_536, maxReassemblyTotalBytes: 3 * (2 + PARTIAL_OVERHEAD), maxPartialMessages: 100, chunkTimeoutMs: 1000 });
    for (let i = 0; i < 4; i++) small.r.accept(1, splitChunks(A, i, message(2), 28 + A.node.length + 1)[0]!);
    expect(small.r.partials).toBe(3);
    expect(small.drops).toEqual([[A.node, 'total_bytes', 2]]);
  });

  it('takes a message of exactly maxReassemblyBytes from an origin that holds nothing (the overhead does not refuse it)', () => {
    const { r, drops } = setup();
    const msg = message(10_000, 9);
    expect(feed(r, 1, splitChunks(A, 1, msg, 2000))).toEqual([msg]);
    expect(drops).toEqual([]);
    expect(r.bytes).toBe(0);
  });

  it('refuses origins that are not node names (the config schema pattern), without repeating the name', () => {
    const schema = JSON.parse(readFileSync(new URL('../../../schemas/schema/router-config.schema.json', import.meta.url), 'utf8')) as {
      properties: { cluster: { properties: { node: { pattern: string } } } };
    };
    expect(NODE_NAME.source).toBe(schema.properties.cluster.properties.node.pattern);
    const { r, drops } = setup();
    for (const node of ['a.b', 'x'.repeat(65), 'sp ace', 'é', `node-1\u0000`]) {
      const frame = splitChunks({ node, incarnation: 1 }, 1, message(300), 200)[0]!;
      expect(parseChunk(frame)).toBeUndefined();
      expect(r.accept(1, frame)).toBeUndefined();
    }
    expect(drops.map((d) => d.slice(0, 2))).toEqual(Array(5).fill(['?', 'malformed']));
    expect(parseChunk(splitChunks({ node: 'A_z-9'.padEnd(64, 'x'), incarnation: 1 }, 1, message(300), 200)[0]!)).toBeDefined();
    expect(r.partials).toBe(0);
  });

  it('drops chunks from a node it does not know, as unknown_origin under no name, and holds nothing for them', () => {
    const { r, drops } = setup();
    const forged = splitChunks({ node: 'evil', incarnation: 1 }, 1, message(3000), 1000);
    expect(feed(r, 1, forged)).toEqual([]);
    expect(drops).toEqual(forged.map(() => ['?', 'unknown_origin', 3000]));
    expect(r.partials).toBe(0);
    expect(r.bytes).toBe(0);
    expect(dropLimit('unknown_origin')).toBeUndefined();
    // A single-chunk message from it is dropped as well.
    drops.length = 0;
    expect(r.accept(1, splitChunks({ node: 'evil', incarnation: 1 }, 2, message(10), 1000)[0]!)).toBeUndefined();
    expect(drops).toEqual([['?', 'unknown_origin', 10]]);
  });

  it('drops a timed-out partial when its next chunk comes before the sweep, without sweeping the others', () => {
    const { r, drops, clock } = setup();
    const late = splitChunks(A, 1, message(3000), 1000);
    const other = splitChunks(B, 1, message(3000), 1000);
    r.accept(1, late[0]!);
    r.accept(1, other[0]!);
    clock.now = 1001;
    expect(r.accept(1, late[1]!)).toBeUndefined();
    // Dropped as timed out; the chunk itself then finds no message (a stray).
    expect(drops).toEqual([
      [A.node, 'timeout', 3000],
      [A.node, 'out_of_order', 3000],
    ]);
    drops.length = 0;
    // B's partial, as old, waits for the sweep (the node's timer): an incoming chunk walks no other partial.
    expect(r.partials).toBe(1);
    r.sweep();
    expect(drops.pop()).toEqual([B.node, 'timeout', 3000]);
    expect(r.partials).toBe(0);
  });
});
