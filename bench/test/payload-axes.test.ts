/**
 * The bench's payload axes (#20): --payload-bytes and --serializers parse into variants, case names
 * carry them only when there is more than the default, and the growth summary divides each size's
 * CPU per op by the smallest size's per target and serializer, with the limits on the router.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BYTES_IN_FLIGHT, UsageError, parseOptions, payloadVariants, publishWindow, variantLabel } from '../src/options.js';
import type { BenchOptions } from '../src/options.js';
import { growthLimit, payloadGrowth } from '../src/report.js';
import type { Result } from '../src/results.js';

function options(argv: string[]): BenchOptions {
  const o = parseOptions(argv, '/repo');
  if (o === 'help') throw new Error('unexpected help');
  return o;
}

function row(target: Result['target'], group: string, payloadBytes: number, cpuUsPerOp: number, serializer = 'json'): Result {
  const scenario = group.startsWith('K=') ? 'rpc' : 'fanout';
  return { scenario, case: `${group} ${payloadBytes}B`, target, group, payloadBytes, serializer, values: { cpuUsPerOp }, ratios: {}, notes: [], problems: [] };
}

describe('bench payload axes', () => {
  it('parses a size list and serializers into variants, smallest size first', () => {
    const o = options(['--payload-bytes', '4096,32,65536,32', '--serializers', 'json,msgpack']);
    expect(o.payloadSizes).toEqual([32, 4096, 65536]);
    expect(o.payloadBytes).toBe(32);
    expect(payloadVariants(o).map((v) => `${v.serializer}:${v.payloadBytes}`)).toEqual([
      'json:32',
      'json:4096',
      'json:65536',
      'msgpack:32',
      'msgpack:4096',
      'msgpack:65536',
    ]);
    expect(variantLabel(o, { payloadBytes: 4096, serializer: 'msgpack' })).toBe(' 4096B msgpack');
  });

  it('keeps the default case names and --payload as one size', () => {
    const plain = options([]);
    expect(variantLabel(plain, payloadVariants(plain)[0]!)).toBe('');
    const one = options(['--payload', '512']);
    expect(one.payloadSizes).toEqual([512]);
    expect(variantLabel(one, payloadVariants(one)[0]!)).toBe('');
    const cbor = options(['--serializers', 'cbor']);
    expect(variantLabel(cbor, payloadVariants(cbor)[0]!)).toBe(' cbor');
  });

  it('refuses an unknown serializer and a size that is not a positive integer', () => {
    expect(() => options(['--serializers', 'json,xml'])).toThrow(UsageError);
    expect(() => options(['--payload-bytes', '32,0'])).toThrow(UsageError);
    expect(options(['--fanout-topics', '0']).fanoutTopics).toEqual([]);
  });

  it('divides each size by the smallest, per target and serializer, and judges the router only', () => {
    const growth = payloadGrowth([
      row('switchboard', 'K=10', 32, 10),
      row('switchboard', 'K=10', 4096, 14),
      row('switchboard', 'K=10', 65536, 40),
      row('baseline', 'K=10', 32, 20),
      row('baseline', 'K=10', 4096, 60),
      row('switchboard', 'N=1', 32, 8, 'msgpack'),
      row('switchboard', 'N=1', 4096, 16, 'msgpack'),
    ]);
    const router = growth.find((g) => g.target === 'switchboard' && g.group === 'K=10');
    expect(router?.baseCpuUsPerOp).toBe(10);
    expect(router?.sizes).toEqual([
      { payloadBytes: 4096, cpuUsPerOp: 14, growth: 1.4, limit: 1.5, met: true },
      { payloadBytes: 65536, cpuUsPerOp: 40, growth: 4, limit: 3, met: false },
    ]);
    expect(growth.find((g) => g.target === 'baseline')?.sizes).toEqual([{ payloadBytes: 4096, cpuUsPerOp: 60, growth: 3 }]);
    expect(growth.find((g) => g.group === 'N=1')?.sizes[0]).toMatchObject({ growth: 2, limit: 1.5, met: false });
  });

  it('keeps a big payload fan-out within the bytes in flight the router does not drop', () => {
    const o = options([]);
    expect(publishWindow(o, 1)).toEqual({ window: 128, maxLead: 512 });
    expect(publishWindow(o, 1, 32)).toEqual({ window: 128, maxLead: 512 });
    const big = publishWindow(o, 1, 65536);
    expect(big.window).toBeLessThan(128);
    expect(big.maxLead * 65536).toBeLessThanOrEqual(MAX_BYTES_IN_FLIGHT);
    expect(publishWindow(o, 1, 16 * 1024 * 1024).window).toBe(2);
  });

  it('knows the issue limits', () => {
    expect(growthLimit('rpc', 'K=10', 4096)).toBe(1.5);
    expect(growthLimit('rpc', 'K=10', 65536)).toBe(3);
    expect(growthLimit('rpc', 'K=50', 4096)).toBeUndefined();
    expect(growthLimit('fanout', 'T=1000×1', 4096)).toBe(1.5);
    expect(growthLimit('fanout', 'N=100', 4096)).toBeUndefined();
  });
});
