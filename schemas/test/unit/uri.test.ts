import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MATCH_POLICIES, isMatchPolicy, isReservedUri, isValidPattern, isValidUri } from '../../src/index.js';
import type { MatchPolicy, UriCheck } from '../../src/index.js';

// [bp_identifiers] Loose: components split by ".", none empty, none containing ".", "#" or
// whitespace. Strict: components of [0-9a-z_] only. Empty components only in wildcard patterns.

const LOOSE_ONLY = ['com.MyApp.Topic', 'com.my-app.topic', 'com.myapp.ü', 'com.myapp.😀', 'a.b@c.d:e', 'com.myapp.x/y', 'A'];
const STRICT = ['com', 'com.myapp.topic1', 'wamp.error.invalid_uri', 'a.b.c.d.e.f', '0.1.2', '_._', 'x_1.y_2'];
const NEITHER = [
  '',
  '.',
  '..',
  'com.',
  '.com',
  'com..myapp',
  'com.my app',
  'com.my\tapp',
  'com.my\napp',
  'com.myapp\u00a0',
  '\u2028com',
  ' com',
  'com#myapp',
  'com.my#app',
  '#',
  // Control characters (C0, DEL, C1) and lone surrogates. [issue #14]
  'com.\u0000x',
  '\u0000',
  'com.x\u001b[31m',
  'com.a\u007fb',
  'com.a\u0085b',
  'com.\ud800x',
  'com.x\udc00',
];

describe('isValidUri', () => {
  it.each(STRICT)('accepts %j, loose and strict', (uri) => {
    expect(isValidUri(uri)).toBe(true);
    expect(isValidUri(uri, 'loose')).toBe(true);
    expect(isValidUri(uri, 'strict')).toBe(true);
  });

  it.each(LOOSE_ONLY)('accepts %j loose, rejects it strict', (uri) => {
    expect(isValidUri(uri, 'loose')).toBe(true);
    expect(isValidUri(uri, 'strict')).toBe(false);
  });

  it.each(NEITHER)('rejects %j, loose and strict', (uri) => {
    expect(isValidUri(uri, 'loose')).toBe(false);
    expect(isValidUri(uri, 'strict')).toBe(false);
  });

  const looseComponent = fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }).filter((c) => !/[\s.#\p{Cc}]/u.test(c));
  const strictComponent = fc.stringMatching(/^[0-9a-z_]{1,8}$/);

  it('accepts any non-empty components joined by "." (loose)', () => {
    fc.assert(
      fc.property(fc.array(looseComponent, { minLength: 1, maxLength: 5 }), (parts) => {
        expect(isValidUri(parts.join('.'), 'loose')).toBe(true);
      }),
    );
  });

  it('accepts [0-9a-z_] components joined by "." (strict)', () => {
    fc.assert(
      fc.property(fc.array(strictComponent, { minLength: 1, maxLength: 5 }), (parts) => {
        expect(isValidUri(parts.join('.'), 'strict')).toBe(true);
      }),
    );
  });

  it('rejects a component with "#" or whitespace, or an empty component', () => {
    const bad = fc.constantFrom('#', ' ', '\t', '\n', '\r', '\u00a0', '\u2003', '\ufeff', '');
    fc.assert(
      fc.property(fc.array(looseComponent, { minLength: 1, maxLength: 4 }), fc.nat(), bad, looseComponent, (parts, at, char, component) => {
        const spoiled = parts.slice();
        const cut = at % (component.length + 1);
        spoiled.splice(at % (parts.length + 1), 0, char === '' ? '' : component.slice(0, cut) + char + component.slice(cut));
        const uri = spoiled.join('.');
        expect(isValidUri(uri, 'loose')).toBe(false);
        expect(isValidUri(uri, 'strict')).toBe(false);
      }),
    );
  });

  it('strict is a subset of loose', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (uri) => {
        if (isValidUri(uri, 'strict')) expect(isValidUri(uri, 'loose')).toBe(true);
      }),
    );
  });
});

describe('isValidPattern', () => {
  const cases: readonly (readonly [pattern: string, match: MatchPolicy, check: UriCheck, valid: boolean])[] = [
    ['com.myapp.topic', 'exact', 'loose', true],
    ['com.myapp.topic', 'exact', 'strict', true],
    ['com.MyApp', 'exact', 'strict', false],
    ['com..topic', 'exact', 'loose', false],
    ['com.myapp.', 'exact', 'loose', false],
    ['', 'exact', 'loose', false],
    // prefix: a full URI, a partial last component, or a trailing "." for whole components only
    ['com.myapp', 'prefix', 'loose', true],
    ['com.my', 'prefix', 'loose', true],
    ['com.myapp.', 'prefix', 'loose', true],
    ['com.myapp.', 'prefix', 'strict', true],
    ['com.MyApp.', 'prefix', 'strict', false],
    ['com', 'prefix', 'strict', true],
    ['', 'prefix', 'loose', false],
    ['.', 'prefix', 'loose', false],
    ['com..', 'prefix', 'loose', false],
    ['com..myapp', 'prefix', 'loose', false],
    ['com.my app', 'prefix', 'loose', false],
    ['com.#', 'prefix', 'loose', false],
    // wildcard: empty components match any one component
    ['com..topic', 'wildcard', 'loose', true],
    ['.myapp.topic', 'wildcard', 'loose', true],
    ['com.myapp.', 'wildcard', 'loose', true],
    ['..', 'wildcard', 'loose', true],
    ['.', 'wildcard', 'loose', true],
    ['com.myapp.topic', 'wildcard', 'loose', true],
    ['com.._x', 'wildcard', 'strict', true],
    ['com..Topic', 'wildcard', 'strict', false],
    ['com..my-app', 'wildcard', 'strict', false],
    ['com..my-app', 'wildcard', 'loose', true],
    ['', 'wildcard', 'loose', false],
    ['com.my app..x', 'wildcard', 'loose', false],
    ['com..#', 'wildcard', 'loose', false],
    ['com.\t.x', 'wildcard', 'loose', false],
  ];

  it.each(cases)('%j with match %s, %s: %s', (pattern, match, check, valid) => {
    expect(isValidPattern(pattern, match, check)).toBe(valid);
  });

  it('defaults to loose checking', () => {
    expect(isValidPattern('com.MyApp', 'exact')).toBe(true);
    expect(isValidPattern('com..My-App', 'wildcard')).toBe(true);
  });

  it('accepts every valid URI under every policy', () => {
    for (const uri of [...STRICT, ...LOOSE_ONLY]) {
      for (const match of MATCH_POLICIES) expect(isValidPattern(uri, match), `${uri} ${match}`).toBe(true);
    }
  });
});

describe('match policies and reserved URIs', () => {
  it('knows exactly exact, prefix and wildcard', () => {
    expect(MATCH_POLICIES).toStrictEqual(['exact', 'prefix', 'wildcard']);
    for (const match of MATCH_POLICIES) expect(isMatchPolicy(match)).toBe(true);
    for (const other of ['', 'Exact', 'regex', null, 1, undefined]) expect(isMatchPolicy(other)).toBe(false);
  });

  it('reserves "wamp" as a first component', () => {
    expect(isReservedUri('wamp')).toBe(true);
    expect(isReservedUri('wamp.session.count')).toBe(true);
    expect(isReservedUri('wamp.error.not_authorized')).toBe(true);
    expect(isReservedUri('wampx.topic')).toBe(false);
    expect(isReservedUri('com.wamp')).toBe(false);
    expect(isReservedUri('WAMP.x')).toBe(false);
  });
});
