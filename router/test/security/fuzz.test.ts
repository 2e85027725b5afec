/**
 * Issue #14, the systematic part: the fuzzer's short form (fuzz/, `npm run fuzz` runs the long
 * one). For each fixed seed, a few thousand hostile frames over every layer — WebSocket in every
 * serializer, hand-made WebSocket framing, RawSocket, long-poll, HTTP bridge bodies, SSE queries —
 * against the built router as a child process, while witness sessions publish and call. Asserts:
 * the router never exits, no single input blocks its event loop past 100 ms (a stall seen during
 * the run is replayed shot by shot on a fresh router, three times each, so that two busy shared
 * cores are not taken for a stall), and the witnesses see every event and every answer.
 *
 * KNOWN_UNFIXED (fuzz/src/known.ts) switches off the generators of crashes fixed on other
 * branches; once those are merged, removing an entry makes this test hold the router to the fix.
 * Uses router/dist (build with `npx tsc -b` first).
 */
import { describe, expect, it } from 'vitest';
import { runCampaign } from '../../../fuzz/src/campaign.js';
import { KNOWN_UNFIXED } from '../../../fuzz/src/known.js';
import { LAYER_NAMES } from '../../../fuzz/src/layers/shot.js';

const SEEDS = [14, 1401, 140_001];
const FRAMES = 1500;

describe('fuzz short form (issue #14)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: ${FRAMES} hostile frames over every layer crash nothing, stall nothing and leave the witnesses alone`, async () => {
      const report = await runCampaign({
        frames: FRAMES,
        seed,
        layers: LAYER_NAMES,
        timeLimitMs: 15_000,
        stallMs: 100,
        disabledGenerators: KNOWN_UNFIXED.map((k) => k.generator),
        maxCrashes: 3,
        minimize: true,
        // The worst stall only, for at most 6 s: the short form stays under 30 s.
        stallReplays: { stalls: 1, budgetMs: 6000 },
      });
      const crashes = report.crashes.map((c) => `${c.signature}\n  reproducer: ${c.reproducer?.describe() ?? '(none found alone)'}`);
      expect(crashes, 'router crashes').toEqual([]);
      const culprits = report.stalls.flatMap((s) => s.culprits ?? []).map((c) => `${c.ms.toFixed(0)} ms: ${c.shot.describe()}`);
      expect(culprits, 'inputs that block the event loop past 100 ms on their own').toEqual([]);
      expect(
        report.witnesses.flatMap((w) => w.failures),
        'witness failures',
      ).toEqual([]);
      const last = report.witnesses.at(-1)!;
      expect(last.published).toBeGreaterThan(0);
      expect(last.eventsSeen).toBe(last.published);
      expect(last.answers).toBe(last.calls);
      // The budget was spent, not cut short by the time limit.
      expect(report.totalFrames).toBeGreaterThanOrEqual(FRAMES);
    }, 60_000);
  }
});
