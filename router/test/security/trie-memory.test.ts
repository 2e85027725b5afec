/**
 * The pattern tries against a session holding its quota of long patterns (#14): PrefixTrie and
 * WildcardTrie are path-compressed, so memory grows with the number of patterns plus their length
 * as string slices, not by a node and a Map per character or component (10 000 prefix patterns of
 * 1024 characters used to cost ~2 GiB of heap). Property tests compare each trie with a naive
 * model (a Map and brute-force matching) over random operations on small alphabets, so that keys
 * share prefixes, split edges and merge back on delete.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrefixTrie, WildcardTrie } from '../../src/broker/subscription-index.js';

/** Map#get calls made while `run` runs: how far a walk goes through the nodes. */
function mapLookupsDuring(run: () => void): number {
  const original = Map.prototype.get;
  let lookups = 0;
  Map.prototype.get = function (this: Map<unknown, unknown>, key: unknown): unknown {
    lookups++;
    return original.call(this, key);
  };
  try {
    run();
  } finally {
    Map.prototype.get = original;
  }
  return lookups;
}

// ---------------------------------------------------------------------------------------------
// PrefixTrie

type PrefixOp = { op: 'set'; key: string; value: number } | { op: 'delete'; key: string } | { op: 'get'; key: string } | { op: 'prefixes'; text: string };

const shortText = (maxLength: number): fc.Arbitrary<string> => fc.array(fc.constantFrom('a', 'b', '.', 'é'), { maxLength }).map((chars) => chars.join(''));

const prefixOp: fc.Arbitrary<PrefixOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), key: shortText(6), value: fc.nat(1000) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), key: shortText(6) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), key: shortText(6) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('prefixes' as const), text: shortText(8) }) },
);

function prefixesInModel(model: Map<string, number>, text: string): [number, number][] {
  return [...model]
    .filter(([key]) => text.startsWith(key))
    .sort(([a], [b]) => a.length - b.length)
    .map(([key, value]) => [value, key.length]);
}

function prefixesInTrie(trie: PrefixTrie<number>, text: string): [number, number][] {
  const seen: [number, number][] = [];
  trie.forEachPrefixOf(text, (value, length) => seen.push([value, length]));
  return seen;
}

function checkPrefix(trie: PrefixTrie<number>, model: Map<string, number>, text: string): void {
  const expected = prefixesInModel(model, text);
  expect(prefixesInTrie(trie, text)).toEqual(expected);
  expect(trie.longestPrefixOf(text)).toBe(expected.length > 0 ? expected[expected.length - 1]![0] : undefined);
}

describe('PrefixTrie against a model', () => {
  it('set, delete, get, forEachPrefixOf and longestPrefixOf agree with a Map and startsWith', () => {
    fc.assert(
      fc.property(fc.array(prefixOp, { maxLength: 60 }), fc.array(shortText(8), { maxLength: 6 }), (ops, probes) => {
        const trie = new PrefixTrie<number>();
        const model = new Map<string, number>();
        for (const step of ops) {
          switch (step.op) {
            case 'set':
              trie.set(step.key, step.value);
              model.set(step.key, step.value);
              break;
            case 'delete':
              trie.delete(step.key);
              model.delete(step.key);
              break;
            case 'get':
              expect(trie.get(step.key)).toBe(model.get(step.key));
              break;
            case 'prefixes':
              checkPrefix(trie, model, step.text);
              break;
          }
          expect(trie.size).toBe(model.size);
        }
        for (const key of model.keys()) expect(trie.get(key)).toBe(model.get(key));
        // Whatever the history, the trie has the shape a fresh one with the same keys has: a walk
        // costs the same number of node steps (no edge left split, no dead branch).
        const fresh = new PrefixTrie<number>();
        for (const [key, value] of [...model].reverse()) fresh.set(key, value);
        for (const text of [...probes, ...model.keys()].map((t) => `${t}ab.a`)) {
          checkPrefix(trie, model, text);
          expect(mapLookupsDuring(() => trie.forEachPrefixOf(text, () => undefined))).toBe(
            mapLookupsDuring(() => fresh.forEachPrefixOf(text, () => undefined)),
          );
        }
      }),
      { numRuns: 400 },
    );
  });

  it('the empty key and keys splitting, then merging an edge', () => {
    const trie = new PrefixTrie<string>();
    trie.set('abcdef', 'long');
    trie.set('abc', 'mid'); // splits the edge
    trie.set('abx', 'side'); // splits it again
    trie.set('', 'all');
    expect(prefixesInTrie(trie as unknown as PrefixTrie<number>, 'abcdefg')).toEqual([
      ['all', 0],
      ['mid', 3],
      ['long', 6],
    ]);
    trie.delete('abc');
    trie.delete('abx'); // 'ab' is left with one child and no value: merged back
    expect(trie.get('abcdef')).toBe('long');
    expect(trie.get('ab')).toBeUndefined();
    expect(trie.longestPrefixOf('abcdeX')).toBe('all');
    const fresh = new PrefixTrie<string>();
    fresh.set('', 'all');
    fresh.set('abcdef', 'long');
    expect(mapLookupsDuring(() => trie.forEachPrefixOf('abcdefg', () => undefined))).toBe(
      mapLookupsDuring(() => fresh.forEachPrefixOf('abcdefg', () => undefined)),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// WildcardTrie

type WildcardOp =
  | { op: 'set'; pattern: string; value: number }
  | { op: 'delete'; pattern: string }
  | { op: 'get'; pattern: string }
  | { op: 'match'; uri: string };

const components = (alphabet: readonly string[], max: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: max }).map((parts) => parts.join('.'));
// '' in a pattern is a wildcard; in a URI it is a component that only a wildcard matches.
const pattern = components(['', 'a', 'b', 'ab', 'a'], 5);
const uri = components(['a', 'b', 'ab', '', 'c'], 5);

const wildcardOp: fc.Arbitrary<WildcardOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), pattern, value: fc.nat(1000) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), pattern }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), pattern }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('match' as const), uri }) },
);

/**
 * Matches in the order the trie promises: depth first, the concrete component before the wildcard
 * at every position, i.e. ordered by their components with concrete < wildcard, leftmost first.
 */
function matchesInModel(model: Map<string, number>, target: string): number[] {
  const parts = target.split('.');
  const rank = (p: string): number[] => p.split('.').map((c) => (c === '' ? 1 : 0));
  return [...model]
    .filter(([p]) => {
      const ps = p.split('.');
      return ps.length === parts.length && ps.every((c, i) => c === '' || c === parts[i]);
    })
    .map(([p, value]): [number[], number] => [rank(p), value])
    .sort(([a], [b]) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return 0;
    })
    .map(([, value]) => value);
}

function matchesInTrie(trie: WildcardTrie<number>, target: string): number[] {
  const seen: number[] = [];
  trie.forEachMatch(target, (value) => seen.push(value));
  return seen;
}

function checkWildcard(trie: WildcardTrie<number>, model: Map<string, number>, target: string): void {
  const expected = matchesInModel(model, target);
  expect(matchesInTrie(trie, target)).toEqual(expected);
  expect(trie.firstMatch(target)).toBe(expected[0]);
}

describe('WildcardTrie against a model', () => {
  it('set, delete, get, forEachMatch (in order) and firstMatch agree with a Map and brute-force matching', () => {
    fc.assert(
      fc.property(fc.array(wildcardOp, { maxLength: 60 }), fc.array(uri, { maxLength: 6 }), (ops, probes) => {
        const trie = new WildcardTrie<number>();
        const model = new Map<string, number>();
        for (const step of ops) {
          switch (step.op) {
            case 'set':
              trie.set(step.pattern, step.value);
              model.set(step.pattern, step.value);
              break;
            case 'delete':
              trie.delete(step.pattern);
              model.delete(step.pattern);
              break;
            case 'get':
              expect(trie.get(step.pattern)).toBe(model.get(step.pattern));
              break;
            case 'match':
              checkWildcard(trie, model, step.uri);
              break;
          }
          expect(trie.size).toBe(model.size);
        }
        for (const p of model.keys()) expect(trie.get(p)).toBe(model.get(p));
        const fresh = new WildcardTrie<number>();
        for (const [p, value] of [...model].reverse()) fresh.set(p, value);
        // Probes: the random URIs, and each pattern with its wildcards filled in (a sure match).
        for (const target of [...probes, ...[...model.keys()].map((p) => p.replace(/(^|\.)(?=\.|$)/g, '$1a'))]) {
          checkWildcard(trie, model, target);
          expect(mapLookupsDuring(() => trie.forEachMatch(target, () => undefined))).toBe(mapLookupsDuring(() => fresh.forEachMatch(target, () => undefined)));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('keeps the most specific match first when edges split and merge', () => {
    const trie = new WildcardTrie<string>();
    for (const p of ['com.x.y.z', 'com..y.z', 'com.x..z', '...', 'com.x.y.']) trie.set(p, p);
    expect(matchesInTrie(trie as unknown as WildcardTrie<number>, 'com.x.y.z')).toEqual(['com.x.y.z', 'com.x.y.', 'com.x..z', 'com..y.z', '...']);
    trie.delete('com.x.y.z');
    trie.delete('com.x.y.');
    expect(trie.firstMatch('com.x.y.z')).toBe('com.x..z');
    trie.delete('com.x..z');
    expect(trie.firstMatch('com.x.y.z')).toBe('com..y.z');
    expect(trie.get('com.x')).toBeUndefined();
    expect(trie.get('...')).toBe('...');
    expect(trie.size).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// Memory

/** global.gc when the worker has it, else one obtained by turning the flag on at run time. */
function collector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

describe('memory of long patterns (#14)', () => {
  it('2 000 prefix and 2 000 wildcard patterns of 1024 characters cost a few MiB, not hundreds', () => {
    const gc = collector();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const prefix = new PrefixTrie<number>();
    const wildcard = new WildcardTrie<number>();
    const length = 1024;
    for (let i = 0; i < 2000; i++) {
      const head = `k${i}.`;
      prefix.set(head + 'a'.repeat(length - head.length), i);
      // head + 'a.a.…a': one component per two characters (~510 of them).
      wildcard.set(head + 'a.'.repeat(Math.floor((length - head.length) / 2) - 1) + 'a', i);
    }
    gc?.();
    const grown = (process.memoryUsage().heapUsed - before) / 1048576;
    expect(prefix.size).toBe(2000);
    expect(wildcard.size).toBe(2000);
    // Measured: ~5 MiB (the keys themselves are ~4 MiB). The character and component tries this
    // replaces took ~436 and ~226 MiB. Without a collector, the garbage of the loop counts too.
    expect(grown).toBeLessThan(gc !== undefined ? 40 : 150);
    const target = 'k1999.' + 'a.'.repeat(Math.floor((length - 6) / 2) - 1) + 'a';
    expect(prefix.longestPrefixOf(target + 'aaaa'.repeat(256))).toBeUndefined();
    expect(wildcard.firstMatch(target)).toBe(1999);
  });

  it('a 1 MiB pattern is one edge: set, match and delete do not recurse or allocate per component', () => {
    const long = 'a.'.repeat(512 * 1024) + 'a'; // 524 289 components
    const prefix = new PrefixTrie<string>();
    const wildcard = new WildcardTrie<string>();
    prefix.set(long, 'p');
    wildcard.set(long.replace(/^a/, ''), 'w'); // a wildcard first component, then concrete ones
    expect(prefix.longestPrefixOf(long + '.b')).toBe('p');
    expect(wildcard.firstMatch('z' + long.slice(1))).toBe('w');
    expect(wildcard.firstMatch(long + '.a')).toBeUndefined();
    prefix.delete(long);
    wildcard.delete(long.replace(/^a/, ''));
    expect(prefix.size + wildcard.size).toBe(0);
  });
});
