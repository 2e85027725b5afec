import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { MAX_ID, RandomIds, SequentialIds, isId } from '../../src/index.js';
import type { SessionId } from '../../src/index.js';

describe('isId', () => {
  it('accepts integers in [1, 2^53]', () => {
    expect(MAX_ID).toBe(2 ** 53);
    for (const id of [1, 2, 2 ** 31, 2 ** 32, MAX_ID - 1, MAX_ID]) expect(isId(id), `${id}`).toBe(true);
  });

  it('rejects everything else', () => {
    const bad: unknown[] = [0, -0, -1, 1.5, MAX_ID + 2, Number.NaN, Number.POSITIVE_INFINITY, '1', 1n, null, undefined, [1], { id: 1 }];
    for (const value of bad) expect(isId(value), String(value)).toBe(false);
  });
});

describe('RandomIds', () => {
  const SAMPLES = 20_000;
  const draw = (): number[] => {
    const ids = new RandomIds<SessionId>();
    return Array.from({ length: SAMPLES }, () => ids.next());
  };

  it('gives integers in [1, 2^53], without repeats', () => {
    const sample = draw();
    for (const id of sample) if (!isId(id)) throw new Error(`not an ID: ${id}`);
    expect(new Set(sample).size).toBe(SAMPLES);
  });

  it('uses all 53 bits: odd and even, and the high bits, each set about half the time', () => {
    const sample = draw();
    const odd = sample.filter((id) => id % 2 === 1).length;
    expect(odd).toBeGreaterThan(0);
    expect(odd).toBeLessThan(SAMPLES);
    expect(Math.max(...sample)).toBeGreaterThan(2 ** 52);
    // Bit b of id - 1 (the generator's 53 random bits). With 20 000 draws a fair bit lands within
    // 0.5 ± 0.035 with overwhelming probability (10 standard deviations).
    for (let bit = 0; bit < 53; bit++) {
      const set = sample.filter((id) => Math.floor((id - 1) / 2 ** bit) % 2 === 1).length / SAMPLES;
      expect(set, `bit ${bit}`).toBeGreaterThan(0.465);
      expect(set, `bit ${bit}`).toBeLessThan(0.535);
    }
  });

  it('reaches both ends of the range: all-zero bits give 1, all-one bits give 2^53', () => {
    const spy = vi.spyOn(globalThis.crypto, 'getRandomValues');
    onTestFinished(() => spy.mockRestore());
    const fill =
      (byte: number) =>
      <T extends ArrayBufferView | null>(array: T): T => {
        if (array instanceof Uint32Array) array.fill(byte === 0 ? 0 : 0xffffffff);
        return array;
      };
    spy.mockImplementation(fill(0));
    expect(new RandomIds().next()).toBe(1);
    spy.mockImplementation(fill(0xff));
    expect(new RandomIds().next()).toBe(MAX_ID);
  });

  it('refills its pool: draws past the pool size stay valid and distinct', () => {
    const ids = new RandomIds();
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) seen.add(ids.next());
    expect(seen.size).toBe(2_000);
  });
});

describe('SequentialIds', () => {
  it('starts at 1 and counts up', () => {
    const ids = new SequentialIds();
    expect(ids.last).toBe(0);
    expect([ids.next(), ids.next(), ids.next()]).toStrictEqual([1, 2, 3]);
    expect(ids.last).toBe(3);
  });

  it('wraps back to 1 after 2^53', () => {
    const ids = new SequentialIds({ last: MAX_ID - 2 });
    expect([ids.next(), ids.next(), ids.next(), ids.next()]).toStrictEqual([MAX_ID - 1, MAX_ID, 1, 2]);
    expect(new SequentialIds({ last: MAX_ID }).next()).toBe(1);
  });

  it('never hands out 0 or more than 2^53', () => {
    const ids = new SequentialIds({ last: MAX_ID - 5 });
    for (let i = 0; i < 20; i++) expect(isId(ids.next())).toBe(true);
  });

  it('refuses a starting point that is not 0 or an ID', () => {
    for (const last of [-1, 1.5, MAX_ID + 2, Number.NaN]) {
      expect(() => new SequentialIds({ last }), String(last)).toThrow(RangeError);
    }
  });
});
