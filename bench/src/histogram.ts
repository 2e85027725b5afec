/**
 * Latency histogram in microseconds with 32 buckets per power of two (about 3 % resolution), so
 * a worker records millions of samples in a fixed array and the parent merges workers by adding.
 */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32
const MAX_US = 0x7fffffff; // 35 minutes: anything longer is clamped
const BUCKETS = (31 - SUB_BITS) * SUB + 2 * SUB;

function indexOf(us: number): number {
  const v = us <= 0 ? 0 : us >= MAX_US ? MAX_US : Math.floor(us);
  if (v < 2 * SUB) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS; // ≥ 1 here
  return shift * SUB + (v >>> shift);
}

/** Midpoint of a bucket, in microseconds. */
function valueOf(index: number): number {
  if (index < 2 * SUB) return index;
  const shift = Math.floor(index / SUB) - 1;
  const top = index - shift * SUB;
  return (top << shift) + ((1 << shift) - 1) / 2;
}

/** The histogram as it crosses the IPC channel: [bucket index, count] pairs, empty buckets left out. */
export type SerializedHistogram = [number, number][];

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;

  get count(): number {
    return this.#total;
  }

  recordUs(us: number): void {
    this.#counts[indexOf(us)]! += 1;
    this.#total++;
  }

  /** The value below which `fraction` (0 to 1) of the samples lie, in µs; NaN when empty. */
  percentileUs(fraction: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(BUCKETS - 1);
  }

  merge(other: SerializedHistogram): void {
    for (const [index, count] of other) {
      if (index >= 0 && index < BUCKETS) {
        this.#counts[index]! += count;
        this.#total += count;
      }
    }
  }

  serialize(): SerializedHistogram {
    const out: SerializedHistogram = [];
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.#counts[i]!;
      if (c > 0) out.push([i, c]);
    }
    return out;
  }
}
