/**
 * Adversarial review of cluster/chunks.ts (#19): chunk frames forged by any client that may
 * publish on the cluster's NATS subjects. Pure, an injected clock. These tests fail on a85ea78:
 * they show real defects (findings.md), not the intended behaviour.
 */
import { describe, expect, it } from 'vitest';
import { Reassembler, splitChunks } from '../../src/cluster/chunks.js';
import type { ChunkDrop, ChunkLimits } from '../../src/cluster/chunks.js';

function setup(limits: ChunkLimits): { r: Reassembler; drops: [string, ChunkDrop, number][] } {
  const drops: [string, ChunkDrop, number][] = [];
  const r = new Reassembler(
    limits,
    () => 0,
    (origin, reason, bytes) => drops.push([origin, reason, bytes]),
    // The nodes heard from (node.ts): the live peers are node-*, the forged names are not.
    (node) => node.startsWith('node-'),
  );
  return { r, drops };
}

/** The first chunk of a forged 2-byte message in 2 chunks, under origin `node`. */
function forgedFirst(node: string, stream = 1): Uint8Array {
  const nameBytes = new TextEncoder().encode(node).length;
  const frames = splitChunks({ node, incarnation: 1 }, stream, new Uint8Array(2), 1 + 1 + 2 + 8 + 4 + 4 + 4 + 4 + nameBytes + 1);
  expect(frames.length).toBe(2);
  return frames[0] as Uint8Array;
}

describe('review: chunk reassembly under forged frames', () => {
  it('charges the memory a partial really holds: origin names and per-partial state count against maxReassemblyTotalBytes', () => {
    const limits: ChunkLimits = { maxReassemblyBytes: 10_000, maxReassemblyTotalBytes: 64 * 1024, maxPartialMessages: 64, chunkTimeoutMs: 10_000 };
    const { r } = setup(limits);
    const nameLength = 1000;
    // 2000 first chunks, each announcing 2 bytes under its own 1000-byte origin name: each is
    // charged 2 bytes, yet each holds its name twice (the key and the Pending) plus a Map entry.
    for (let i = 0; i < 2000; i++) r.accept(1, forgedFirst(`${i}`.padStart(nameLength, 'x')));
    // What is held must stay within the configured total: at least the origin names count.
    expect(r.partials * nameLength).toBeLessThanOrEqual(limits.maxReassemblyTotalBytes);
  });

  it('a 65 535-byte origin name is refused (no node name is that long)', () => {
    const { r, drops } = setup({ maxReassemblyBytes: 10_000, maxReassemblyTotalBytes: 20_000, maxPartialMessages: 4, chunkTimeoutMs: 1000 });
    r.accept(1, forgedFirst('n'.repeat(0xffff)));
    expect(r.partials).toBe(0);
    expect(drops.map((d) => d[1])).toEqual(['malformed']);
  });

  it("forged origin names do not starve a live node's reassembly (per-origin bounds keyed by a name the frame claims)", () => {
    const limits: ChunkLimits = { maxReassemblyBytes: 10_000, maxReassemblyTotalBytes: 15_000, maxPartialMessages: 3, chunkTimeoutMs: 10_000 };
    const { r, drops } = setup(limits);
    // An attacker announces 5000-byte messages under three made-up names, each within the per-origin bounds.
    for (let i = 0; i < 3; i++) {
      const frames = splitChunks({ node: `evil-${i}`, incarnation: 1 }, 1, new Uint8Array(5000), 1000);
      r.accept(1, frames[0] as Uint8Array);
    }
    // node-a, a real peer, sends a 5000-byte message: it is dropped (total_bytes) while the forged partials wait.
    const legit = new Uint8Array(5000).fill(7);
    let whole: Uint8Array | undefined;
    for (const f of splitChunks({ node: 'node-a', incarnation: 2 }, 1, legit, 1000)) whole = r.accept(1, f) ?? whole;
    expect(drops.filter((d) => d[0] === 'node-a')).toEqual([]);
    expect(whole).toEqual(legit);
  });
});
