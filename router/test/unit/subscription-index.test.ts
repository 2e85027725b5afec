/**
 * Subscription index unit tests: the character trie for prefix patterns, the component trie for
 * wildcard patterns, and the index combining them with exact topics. Pure, no sockets.
 *
 * The tries keep their nodes private, so "no scan over patterns" is checked by counting the work
 * one match does through the built-in collections: every `Map#get` (how a trie steps from one node
 * to the next) and every element a Map, Set or Array iterator or callback method hands out (how a
 * scan over patterns would show up, whatever its form). That number depends only on the topic and
 * the trie nodes along its path, so it must not grow when thousands of non-matching patterns are
 * added, and after a churn of patterns it must equal what a fresh index costs (nothing left
 * behind). No timings are involved.
 */
import { describe, expect, it } from 'vitest';
import type { MatchPolicy, SubscriptionId } from '@switchboard/schemas';
import { SequentialIds } from '@switchboard/schemas';
import { PrefixTrie, SubscriptionIndex, WildcardTrie } from '../../src/broker/subscription-index.js';
import type { Subscription } from '../../src/broker/subscription-index.js';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** Map lookups plus elements visited through Map, Set and Array built-ins while `run` runs (synchronously). */
function collectionWorkDuring(run: () => void): number {
  let work = 0;
  const restore: (() => void)[] = [];
  // The wrappers use neither iteration nor spreading, so they do not count themselves.
  const patch = (proto: object, key: PropertyKey, wrap: (original: Method) => Method): void => {
    const descriptor = Object.getOwnPropertyDescriptor(proto, key);
    if (descriptor === undefined || typeof descriptor.value !== 'function') throw new Error(`no method ${String(key)}`);
    const original = descriptor.value as Method;
    Object.defineProperty(proto, key, { ...descriptor, value: wrap(original) });
    restore.push(() => Object.defineProperty(proto, key, descriptor));
  };
  const countCall: (original: Method) => Method = (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      work += 1;
      return original.apply(this, args);
    };
  const countSteps: (original: Method) => Method = (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      const inner = original.apply(this, args) as Iterator<unknown>;
      const counted = {
        next(): IteratorResult<unknown> {
          work += 1;
          return inner.next();
        },
        [Symbol.iterator]() {
          return counted;
        },
      };
      return counted;
    };
  const countElements: (original: Method) => Method = (original) =>
    function (this: unknown, ...args: unknown[]): unknown {
      work += this instanceof Map || this instanceof Set ? this.size : (this as ArrayLike<unknown>).length;
      return original.apply(this, args);
    };
  try {
    patch(Map.prototype, 'get', countCall);
    for (const proto of [Map.prototype, Set.prototype, Array.prototype]) {
      for (const key of [Symbol.iterator, 'values', 'keys', 'entries', 'forEach']) patch(proto, key, key === 'forEach' ? countElements : countSteps);
    }
    for (const key of ['filter', 'map', 'some', 'every', 'find', 'findIndex', 'reduce', 'includes', 'indexOf']) patch(Array.prototype, key, countElements);
    work = 0; // the patching loops above went through patched iterators
    run();
  } finally {
    for (let i = restore.length - 1; i >= 0; i--) restore[i]!();
  }
  return work;
}

function prefixesOf<T>(trie: PrefixTrie<T>, text: string): [T, number][] {
  const seen: [T, number][] = [];
  trie.forEachPrefixOf(text, (value, length) => seen.push([value, length]));
  return seen;
}

function matchesOf<T>(trie: WildcardTrie<T>, uri: string): T[] {
  const seen: T[] = [];
  trie.forEachMatch(uri, (value) => seen.push(value));
  return seen;
}

function wildcardTrieOf(patterns: readonly string[]): WildcardTrie<string> {
  const trie = new WildcardTrie<string>();
  for (const pattern of patterns) trie.set(pattern, pattern);
  return trie;
}

const subscriptionIds = new SequentialIds<SubscriptionId>();
function subscription(topic: string, match: MatchPolicy): Subscription<string> {
  return { id: subscriptionIds.next(), topic, match, created: 0, subscribers: new Set(), persistent: false };
}

const topicsOf = (found: readonly Subscription<string>[]): string[] => found.map((s) => `${s.match}:${s.topic}`);

describe('PrefixTrie', () => {
  it('gets, sets (replacing) and deletes keys, counting each key once', () => {
    const trie = new PrefixTrie<number>();
    expect(trie.size).toBe(0);
    expect(trie.get('com.a')).toBeUndefined();

    trie.set('com.a', 1);
    trie.set('com.ab', 2);
    trie.set('com.a', 3); // replaces
    expect(trie.size).toBe(2);
    expect(trie.get('com.a')).toBe(3);
    expect(trie.get('com.ab')).toBe(2);
    // Nodes on the way to a key, and strings running past a key, are not keys.
    expect(trie.get('com.')).toBeUndefined();
    expect(trie.get('com.abc')).toBeUndefined();
    expect(trie.get('')).toBeUndefined();

    trie.delete('com.a');
    expect(trie.size).toBe(1);
    expect(trie.get('com.a')).toBeUndefined();
    expect(trie.get('com.ab')).toBe(2); // the longer key through the same nodes survives
  });

  it('ignores deleting a key it does not hold (absent, on the path of another key, or past one)', () => {
    const trie = new PrefixTrie<number>();
    trie.set('com.ab', 1);
    trie.delete('com.a');
    trie.delete('com.abc');
    trie.delete('org');
    trie.delete('');
    expect(trie.size).toBe(1);
    expect(trie.get('com.ab')).toBe(1);
    trie.delete('com.ab');
    trie.delete('com.ab');
    expect(trie.size).toBe(0);
  });

  it('treats a prefix as a plain string prefix, not a component prefix', () => {
    const trie = new PrefixTrie<string>();
    trie.set('com.a', 'com.a');
    expect(prefixesOf(trie, 'com.ab.c')).toEqual([['com.a', 5]]);
    expect(prefixesOf(trie, 'com.a')).toEqual([['com.a', 5]]); // a key is a prefix of itself
    expect(prefixesOf(trie, 'com.a.b')).toEqual([['com.a', 5]]);
    expect(prefixesOf(trie, 'com.')).toEqual([]);
    expect(prefixesOf(trie, 'com.b')).toEqual([]);
    expect(prefixesOf(trie, 'COM.A')).toEqual([]); // no case folding
  });

  it('visits every stored prefix of a text once, shortest first, with its length', () => {
    const trie = new PrefixTrie<string>();
    for (const key of ['com.example.a.b', 'com', 'com.example.', 'org', 'com.example.a', 'com.ex', 'com.example.b']) trie.set(key, key);
    expect(prefixesOf(trie, 'com.example.a.b.c')).toEqual([
      ['com', 3],
      ['com.ex', 6],
      ['com.example.', 12],
      ['com.example.a', 13],
      ['com.example.a.b', 15],
    ]);
    expect(trie.longestPrefixOf('com.example.a.b.c')).toBe('com.example.a.b');
    expect(trie.longestPrefixOf('com.example.a.x')).toBe('com.example.a');
    expect(trie.longestPrefixOf('com.example.c')).toBe('com.example.');
    expect(trie.longestPrefixOf('co')).toBeUndefined();
    expect(trie.longestPrefixOf('net.example')).toBeUndefined();
  });

  it('stores the empty key as a prefix of every text', () => {
    const trie = new PrefixTrie<string>();
    trie.set('', 'root');
    trie.set('a', 'a');
    expect(prefixesOf(trie, 'ab')).toEqual([
      ['root', 0],
      ['a', 1],
    ]);
    expect(prefixesOf(trie, '')).toEqual([['root', 0]]);
    expect(trie.longestPrefixOf('zzz')).toBe('root');
    trie.delete('');
    expect(trie.size).toBe(1);
    expect(prefixesOf(trie, 'ab')).toEqual([['a', 1]]);
  });

  it('prunes on delete: a churn of 10 000 keys leaves nothing to match and nothing to walk', () => {
    const fresh = new PrefixTrie<number>();
    const trie = new PrefixTrie<number>();
    const keys = Array.from({ length: 10_000 }, (_, i) => `com.example.sensor.${i}.reading`);
    // Interleaved: each key is set, the previous one deleted, so the trie never holds more than two.
    keys.forEach((key, i) => {
      trie.set(key, i);
      if (i > 0) trie.delete(keys[i - 1]!);
    });
    trie.delete(keys[keys.length - 1]!);
    // Then all at once, deleted in another order than inserted.
    for (const [i, key] of keys.entries()) trie.set(key, i);
    expect(trie.size).toBe(10_000);
    for (const key of [...keys].reverse()) trie.delete(key);

    expect(trie.size).toBe(0);
    for (const key of keys) expect(trie.longestPrefixOf(key)).toBeUndefined();
    const probe = 'com.example.sensor.4242.reading.extra';
    expect(prefixesOf(trie, probe)).toEqual([]);
    // A pruned trie walks no further than the root, exactly like a fresh one.
    expect(collectionWorkDuring(() => trie.forEachPrefixOf(probe, () => undefined))).toBe(
      collectionWorkDuring(() => fresh.forEachPrefixOf(probe, () => undefined)),
    );
    expect(collectionWorkDuring(() => trie.forEachPrefixOf(probe, () => undefined))).toBe(1);
  });

  it('prunes only the dead branch: a key sharing the path survives the deletion of a longer one', () => {
    const trie = new PrefixTrie<string>();
    trie.set('com.a', 'short');
    trie.set('com.abcdef', 'long');
    trie.delete('com.abcdef');
    expect(prefixesOf(trie, 'com.abcdefg')).toEqual([['short', 5]]);
    // The walk stops right after the surviving key: the branch below it is gone.
    const withShortOnly = new PrefixTrie<string>();
    withShortOnly.set('com.a', 'short');
    const lookups = (t: PrefixTrie<string>): number => collectionWorkDuring(() => t.forEachPrefixOf('com.abcdefg', () => undefined));
    expect(lookups(trie)).toBe(lookups(withShortOnly));
  });
});

describe('WildcardTrie', () => {
  it('matches an empty component against exactly one component: com..update', () => {
    const trie = wildcardTrieOf(['com..update']);
    expect(matchesOf(trie, 'com.x.update')).toEqual(['com..update']);
    expect(matchesOf(trie, 'com.anything_at_all.update')).toEqual(['com..update']);
    expect(matchesOf(trie, 'com.x.y.update')).toEqual([]); // two components where one is wanted
    expect(matchesOf(trie, 'com.update')).toEqual([]); // none where one is wanted
    expect(matchesOf(trie, 'com.x.updated')).toEqual([]);
    expect(matchesOf(trie, 'org.x.update')).toEqual([]);
  });

  it('requires pattern and URI to have the same number of components', () => {
    // '..' is three empty components, '...' four.
    const trie = wildcardTrieOf(['com.', '.x', 'a..c', '..', '...']);
    expect(matchesOf(trie, 'com.x')).toEqual(['com.', '.x']);
    expect(matchesOf(trie, 'com.x.y')).toEqual(['..']);
    expect(matchesOf(trie, 'com')).toEqual([]);
    expect(matchesOf(trie, 'a.b.c')).toEqual(['a..c', '..']);
    expect(matchesOf(trie, 'a.b.c.d')).toEqual(['...']);
    expect(matchesOf(trie, 'a.b.c.d.e')).toEqual([]);
    // A wildcard pattern is not a prefix pattern.
    expect(matchesOf(wildcardTrieOf(['com.x.']), 'com.x.y.z')).toEqual([]);
  });

  it('gets, sets (replacing) and deletes patterns; a wildcard edge is not a concrete one', () => {
    const trie = new WildcardTrie<number>();
    trie.set('com..x', 1);
    trie.set('com.y.x', 2);
    trie.set('com..x', 3);
    expect(trie.size).toBe(2);
    expect(trie.get('com..x')).toBe(3);
    expect(trie.get('com.y.x')).toBe(2);
    expect(trie.get('com.z.x')).toBeUndefined(); // get is by pattern, not by match
    expect(trie.get('com.')).toBeUndefined();
    expect(trie.get('com..x.more')).toBeUndefined();

    trie.delete('com.z.x');
    trie.delete('com.');
    trie.delete('com..x.more');
    expect(trie.size).toBe(2);

    trie.delete('com..x');
    expect(trie.size).toBe(1);
    expect(trie.get('com..x')).toBeUndefined();
    expect(matchesOf(trie, 'com.y.x')).toEqual([2]);
    expect(matchesOf(trie, 'com.z.x')).toEqual([]);
  });

  it('visits matches depth first, the concrete component before the wildcard at every level', () => {
    const patterns = ['a.b.c', 'a.b.', 'a..c', 'a..', '.b.c', '.b.', '..c', '..'];
    const expected = ['a.b.c', 'a.b.', 'a..c', 'a..', '.b.c', '.b.', '..c', '..'];
    // The order does not depend on the order the patterns were added in.
    for (const order of [patterns, [...patterns].reverse(), ['..', 'a..c', '.b.c', 'a.b.c', '..c', 'a..', '.b.', 'a.b.']]) {
      const trie = wildcardTrieOf([...order, 'a.b.d', 'x..', 'a.b.c.d']);
      expect(matchesOf(trie, 'a.b.c')).toEqual(expected);
      expect(trie.firstMatch('a.b.c')).toBe('a.b.c');
    }
  });

  it('firstMatch is the most specific match: concrete components furthest left win', () => {
    // For com.x.y: 'com.x.' and 'com..y' both match; at the second component the concrete 'x'
    // is explored before the wildcard, so 'com.x.' wins. ('com.x..' has four components and
    // does not match com.x.y at all.)
    const trie = wildcardTrieOf(['com..y', 'com.x.', 'com.x..']);
    expect(matchesOf(trie, 'com.x.y')).toEqual(['com.x.', 'com..y']);
    expect(trie.firstMatch('com.x.y')).toBe('com.x.');
    // Position, not count: 'com..' (one concrete component, first) beats '.x.y' (two, later).
    expect(wildcardTrieOf(['.x.y', 'com..']).firstMatch('com.x.y')).toBe('com..');
    // A concrete branch that dead-ends deeper falls back to the wildcard branch.
    expect(wildcardTrieOf(['com.x.z', 'com..y']).firstMatch('com.x.y')).toBe('com..y');
    expect(wildcardTrieOf(['com.x.z']).firstMatch('com.x.y')).toBeUndefined();
    expect(new WildcardTrie<string>().firstMatch('com.x.y')).toBeUndefined();
  });

  it('prunes on delete: a churn of 10 000 patterns leaves nothing to match and nothing to walk', () => {
    const fresh = wildcardTrieOf(['keep.me']);
    const trie = wildcardTrieOf(['keep.me']);
    const patterns = Array.from({ length: 10_000 }, (_, i) => {
      switch (i % 4) {
        case 0:
          return `com.${i}.`;
        case 1:
          return `com..${i}`;
        case 2:
          return `.x.${i}`;
        default:
          return `..${i}`;
      }
    });
    patterns.forEach((pattern, i) => {
      trie.set(pattern, pattern);
      if (i > 0) trie.delete(patterns[i - 1]!);
    });
    trie.delete(patterns[patterns.length - 1]!);
    for (const pattern of patterns) trie.set(pattern, pattern);
    expect(trie.size).toBe(10_001);
    for (const pattern of [...patterns].reverse()) trie.delete(pattern);

    expect(trie.size).toBe(1);
    for (const uri of ['com.4.z', 'com.z.5', 'a.x.6', 'a.b.7', 'com.x.8']) expect(matchesOf(trie, uri)).toEqual([]);
    expect(matchesOf(trie, 'keep.me')).toEqual(['keep.me']);
    // No wildcard edge or concrete branch was left behind: the walk costs what a fresh trie's does.
    for (const uri of ['com.4.z', 'com.x.8', 'a.x.6', 'keep.me']) {
      expect(collectionWorkDuring(() => trie.forEachMatch(uri, () => undefined))).toBe(collectionWorkDuring(() => fresh.forEachMatch(uri, () => undefined)));
    }
  });

  it('deleting a wildcard pattern keeps a concrete sibling and vice versa', () => {
    const trie = wildcardTrieOf(['com..y', 'com.x.y']);
    trie.delete('com..y');
    expect(matchesOf(trie, 'com.x.y')).toEqual(['com.x.y']);
    expect(matchesOf(trie, 'com.z.y')).toEqual([]);
    trie.set('com..y', 'com..y');
    trie.delete('com.x.y');
    expect(matchesOf(trie, 'com.x.y')).toEqual(['com..y']);
    expect(matchesOf(trie, 'com.z.y')).toEqual(['com..y']);
  });
});

describe('SubscriptionIndex', () => {
  it('keeps one subscription per (topic, match policy); the same string under each policy is three', () => {
    const index = new SubscriptionIndex<string>();
    const exact = subscription('com.a', 'exact');
    const prefix = subscription('com.a', 'prefix');
    const wildcard = subscription('com.a', 'wildcard'); // no empty component: matches only com.a
    for (const s of [exact, prefix, wildcard]) index.add(s);
    expect(index.get('com.a', 'exact')).toBe(exact);
    expect(index.get('com.a', 'prefix')).toBe(prefix);
    expect(index.get('com.a', 'wildcard')).toBe(wildcard);
    expect(index.get('com.ab', 'prefix')).toBeUndefined();
    expect(index.match('com.a')).toEqual([exact, prefix, wildcard]);
    expect(index.match('com.ab')).toEqual([prefix]);
  });

  it('returns both an exact and a prefix subscription that match the same topic', () => {
    const index = new SubscriptionIndex<string>();
    const exact = subscription('com.example.tick', 'exact');
    const prefix = subscription('com.example', 'prefix');
    index.add(prefix);
    index.add(exact);
    expect(index.match('com.example.tick')).toEqual([exact, prefix]);
    expect(index.match('com.example.tock')).toEqual([prefix]);
    expect(index.match('com.examples')).toEqual([prefix]); // plain string prefix
    expect(index.match('com.exampl')).toEqual([]);
  });

  it('lists matches in a fixed order: exact, prefixes shortest first, wildcards concrete first', () => {
    const specs: [string, MatchPolicy][] = [
      ['com..tick', 'wildcard'],
      ['com.example.tick', 'exact'],
      ['com.example.t', 'prefix'],
      ['..tick', 'wildcard'],
      ['com', 'prefix'],
      ['com.example.', 'wildcard'],
      ['com.example', 'prefix'],
      ['com.example.tock', 'exact'],
      ['org', 'prefix'],
      ['com..tock', 'wildcard'],
    ];
    const expected = [
      'exact:com.example.tick',
      'prefix:com',
      'prefix:com.example',
      'prefix:com.example.t',
      'wildcard:com.example.',
      'wildcard:com..tick',
      'wildcard:..tick',
    ];
    for (const order of [specs, [...specs].reverse()]) {
      const index = new SubscriptionIndex<string>();
      for (const [topic, match] of order) index.add(subscription(topic, match));
      expect(topicsOf(index.match('com.example.tick'))).toEqual(expected);
      expect(topicsOf(index.match('com.example.tick'))).toEqual(expected); // and again
    }
  });

  it('removes a subscription only if it is the one indexed under its topic', () => {
    const index = new SubscriptionIndex<string>();
    for (const match of ['exact', 'prefix', 'wildcard'] as const) {
      const current = subscription('com..x', match);
      const stale = subscription('com..x', match); // same topic and policy, another object
      index.add(current);
      index.remove(stale);
      expect(index.get('com..x', match)).toBe(current);
      index.remove(current);
      expect(index.get('com..x', match)).toBeUndefined();
      index.remove(current); // twice: harmless
    }
    expect(index.match('com..x')).toEqual([]);
    expect(index.match('com.y.x')).toEqual([]);
  });

  it('hasMatch answers for each kind of subscription, and is false once they are gone', () => {
    const index = new SubscriptionIndex<string>();
    expect(index.hasMatch('com.a.b')).toBe(false);
    const subs = [subscription('com.a.b', 'exact'), subscription('com.a', 'prefix'), subscription('com..b', 'wildcard')];
    for (const s of subs) index.add(s);
    expect(index.hasMatch('com.a.b')).toBe(true); // all three
    expect(index.hasMatch('com.ab')).toBe(true); // prefix only
    expect(index.hasMatch('com.z.b')).toBe(true); // wildcard only
    expect(index.hasMatch('com.z.c')).toBe(false);
    index.remove(subs[1]!);
    expect(index.hasMatch('com.ab')).toBe(false);
    expect(index.hasMatch('com.a.b')).toBe(true);
    index.remove(subs[0]!);
    index.remove(subs[2]!);
    expect(index.hasMatch('com.a.b')).toBe(false);
  });

  it('with only exact subscriptions, answers from a cached array (no allocation per publish)', () => {
    const index = new SubscriptionIndex<string>();
    const tick = subscription('com.example.tick', 'exact');
    index.add(tick);
    const first = index.match('com.example.tick');
    expect(first).toEqual([tick]);
    expect(index.match('com.example.tick')).toBe(first);
    expect(index.match('com.example.tock')).toBe(index.match('com.example.other'));
    expect(index.match('com.example.tock')).toEqual([]);
  });

  it('churn: 10 000 subscriptions of each policy added and removed leave nothing matching or to walk', () => {
    const fresh = new SubscriptionIndex<string>();
    const index = new SubscriptionIndex<string>();
    const subs: Subscription<string>[] = [];
    for (let i = 0; i < 10_000; i++) {
      subs.push(subscription(`com.example.${i}.tick`, 'exact'), subscription(`com.example.${i}`, 'prefix'), subscription(`com..${i}.tick`, 'wildcard'));
    }
    for (const s of subs) index.add(s);
    expect(index.match('com.example.42.tick')).toHaveLength(4); // exact, prefixes com.example.4 and …42, wildcard
    for (const s of subs) index.remove(s);

    for (const topic of ['com.example.42.tick', 'com.example.9999.tick', 'com.x.7.tick', 'com.example.1']) {
      expect(index.match(topic)).toEqual([]);
      expect(index.hasMatch(topic)).toBe(false);
      expect(collectionWorkDuring(() => index.match(topic))).toBe(collectionWorkDuring(() => fresh.match(topic)));
    }
  });

  it('scale: 10 000 prefix and 10 000 wildcard patterns that do not match cost a topic no more lookups than one of each', () => {
    const topic = 'com.example.sensor.kitchen.temperature';
    // Patterns that follow the topic's path as far as they can before leaving it.
    const prefixPattern = (i: number): string => `com.example.sensor.kitchen.t${i}`; // a digit where 'e' is
    const wildcardPatterns = (i: number): string[] => [
      `com..sensor.kitchen.t${i}`,
      `com.example..kitchen.h${i}`,
      `.example.sensor..x${i}`,
      `com.example.sensor.kitchen.temperature.${i}`, // one component too many
    ];
    const build = (count: number): SubscriptionIndex<string> => {
      const index = new SubscriptionIndex<string>();
      for (let i = 0; i < count; i++) {
        index.add(subscription(prefixPattern(i), 'prefix'));
        index.add(subscription(wildcardPatterns(i)[i % 4]!, 'wildcard'));
      }
      return index;
    };
    // Two patterns of each wildcard family: the tries are path-compressed, so a node stands where
    // two patterns part; with one pattern per family a mismatch would be found inside an edge
    // label instead of at a node's map, one Map#get fewer than with thousands (#14).
    const small = build(8);
    const large = build(10_000);

    expect(large.match(topic)).toEqual([]);
    expect(small.match(topic)).toEqual([]);
    const lookupsSmall = collectionWorkDuring(() => small.match(topic));
    const lookupsLarge = collectionWorkDuring(() => large.match(topic));
    expect(lookupsLarge).toBe(lookupsSmall);
    // A handful per character and component of the topic, nowhere near the 20 000 patterns.
    expect(lookupsLarge).toBeLessThanOrEqual(topic.length + 2 * topic.split('.').length + 8);

    // Nothing is visited: the visit callbacks of both tries are never called.
    let visits = 0;
    const prefixTrie = new PrefixTrie<number>();
    const wildcardTrie = new WildcardTrie<number>();
    for (let i = 0; i < 10_000; i++) {
      prefixTrie.set(prefixPattern(i), i);
      wildcardTrie.set(wildcardPatterns(i)[i % 4]!, i);
    }
    prefixTrie.forEachPrefixOf(topic, () => visits++);
    wildcardTrie.forEachMatch(topic, () => visits++);
    expect(visits).toBe(0);

    // And the one pattern that does match is found among the 20 000 that do not.
    const hit = subscription('com.example.sensor.', 'prefix');
    const wildHit = subscription('com..sensor.kitchen.', 'wildcard');
    large.add(hit);
    large.add(wildHit);
    expect(large.match(topic)).toEqual([hit, wildHit]);
  });
});
