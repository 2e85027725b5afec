/**
 * Issue #14.3, the pure part: does a permission set cover every URI a pattern can match?
 * (router/src/auth/coverage.ts). Each case is pattern × rules → allowed or not; a rule is
 * `uri match allow|deny`.
 */
import { describe, expect, it } from 'vitest';
import type { MatchPolicy } from '@switchboard/schemas';
import { bestRule, covers, mayMatchReserved } from '../../src/auth/coverage.js';

interface R {
  uri: string;
  match: MatchPolicy;
  allow: boolean;
}

/** 'com.app. prefix allow' → a rule. */
function rules(...specs: string[]): R[] {
  return specs.map((s) => {
    const [uri, match, allow] = s.split(' ') as [string, MatchPolicy, string];
    return { uri: uri === '""' ? '' : uri, match, allow: allow === 'allow' };
  });
}

const decide = (pattern: string, match: MatchPolicy, set: R[]): boolean => covers(pattern, match, set, (r) => r.allow);

describe('coverage: exact permissions never cover patterns', () => {
  const set = rules('com.public.news exact allow');
  it.each([
    ['com.public.news', 'exact', true],
    ['com.public.news', 'prefix', false],
    ['com.public.', 'prefix', false],
    ['com.public.', 'wildcard', false],
    ['com.public.news', 'wildcard', true], // no empty component: one URI
    ['com..news', 'wildcard', false],
  ] as const)('%s (%s) → %s', (pattern, match, allowed) => expect(decide(pattern, match, set)).toBe(allowed));
});

describe('coverage: prefix patterns under prefix permissions (string prefixes, as the broker matches)', () => {
  const set = rules('com.app. prefix allow');
  it.each([
    ['com.app.', true],
    ['com.app.x', true],
    ['com.app.x.', true],
    ['com.app', false], // also matches com.apple
    ['com.ap', false],
    ['com.', false],
    ['org.app.', false],
  ] as const)('prefix %s → %s', (pattern, allowed) => expect(decide(pattern, 'prefix', set)).toBe(allowed));

  it('a prefix permission without a dot covers com.apple too, so prefix com.apple is allowed', () => {
    const loose = rules('com.app prefix allow');
    expect(decide('com.apple', 'prefix', loose)).toBe(true);
    expect(decide('com.app', 'prefix', loose)).toBe(true);
    expect(decide('com.ap', 'prefix', loose)).toBe(false);
  });

  it.each([
    // a more specific rule inside the pattern that denies refuses it
    [['com.app. prefix allow', 'com.app.secret exact deny'], 'com.app.', false],
    [['com.app. prefix allow', 'com.app.secret exact deny'], 'com.app.s', false],
    [['com.app. prefix allow', 'com.app.secret exact deny'], 'com.app.secret', false],
    [['com.app. prefix allow', 'com.app.secret exact deny'], 'com.app.x', true],
    [['com.app. prefix allow', 'com.app.secret exact deny'], 'com.app.secret.', true], // com.app.secret itself is not matched
    [['com.app. prefix allow', 'com.app.admin. prefix deny'], 'com.app.', false],
    [['com.app. prefix allow', 'com.app.admin. prefix deny'], 'com.app.ad', false],
    [['com.app. prefix allow', 'com.app.admin. prefix deny'], 'com.app.user.', true],
    [['com.app. prefix allow', 'com.app.admin. prefix deny'], 'com.app.admin.x', false],
    // the base is the longest prefix rule the pattern starts with
    [['com. prefix deny', 'com.app. prefix allow'], 'com.app.x', true],
    [['com. prefix allow', 'com.app. prefix deny'], 'com.app.x', false],
    [['com. prefix allow', 'com.app. prefix deny'], 'com.', false],
    // wildcard rules rank below prefix rules: they never win inside a covered prefix
    [['com.app. prefix allow', 'com.app..secret wildcard deny'], 'com.app.', true],
    // allowing rules inside do not spoil it
    [['com.app. prefix allow', 'com.app.x exact allow', 'com.app.y. prefix allow'], 'com.app.', true],
    // everything
    [['"" prefix allow'], 'w', true],
    [['"" prefix allow', 'wamp.session.kill exact deny'], 'wamp.', false],
  ] as const)('%j: prefix %s → %s', (specs, pattern, allowed) => expect(decide(pattern, 'prefix', rules(...specs))).toBe(allowed));
});

describe('coverage: wildcard patterns', () => {
  it.each([
    // covered by a prefix rule every match starts with
    [['com.app. prefix allow'], 'com.app..status', true],
    [['com.app. prefix allow'], 'com.app.', true],
    [['com.app. prefix allow'], 'com..status', false],
    [['com. prefix allow'], 'com..status', true],
    [['com.a prefix allow'], 'com.app..x', true],
    [['com.app.k prefix allow'], 'com.app..x', false],
    // a denying exact or prefix rule that a match can reach
    [['com. prefix allow', 'com.x.status exact deny'], 'com..status', false],
    [['com. prefix allow', 'com.x.other exact deny'], 'com..status', true],
    [['com. prefix allow', 'com.x.status.more exact deny'], 'com..status', true],
    [['com. prefix allow', 'com.x.st prefix deny'], 'com..status', false],
    [['com. prefix allow', 'com.x.sx prefix deny'], 'com..status', true],
    [['com. prefix allow', 'com.x. prefix deny'], 'com..status', false],
    [['com. prefix allow', 'com.x.status.a. prefix deny'], 'com..status', true],
    [['com. prefix allow', 'com.x prefix deny'], 'com..status', false],
    [['com. prefix allow', 'org. prefix deny'], 'com..status', true],
    // covered by a wildcard rule that contains the pattern
    [['com..status wildcard allow'], 'com..status', true],
    [['com...status wildcard allow'], 'com..status', false],
    [['..status wildcard allow'], 'com..status', true],
    [['com.. wildcard allow'], 'com..status', true],
    [['com.x.status wildcard allow'], 'com..status', false],
    [['com..status wildcard allow', 'com.x. wildcard deny'], 'com..status', false],
    [['com..status wildcard allow', 'com.x.status exact deny'], 'com..status', false],
    [['com..status wildcard allow', 'com.x.status exact allow'], 'com..status', true],
    [['com..status wildcard allow', 'org.. wildcard deny'], 'com..status', true],
    // nothing
    [[], 'com..status', false],
    [['com.x.status exact allow'], 'com..status', false],
    [['"" prefix allow'], '.session.get', true],
    [['com. prefix allow'], '.session.get', false],
  ] as const)('%j: wildcard %s → %s', (specs, pattern, allowed) => expect(decide(pattern, 'wildcard', rules(...specs))).toBe(allowed));
});

describe('coverage: concrete URIs use the most specific rule', () => {
  const set = rules(
    'com. prefix allow',
    'com.app. prefix deny',
    'com.app.open exact allow',
    'com..x wildcard deny',
    '..x wildcard allow',
    'com.app..y wildcard allow',
  );
  it.each([
    ['com.other', 'com.'],
    ['com.app.z', 'com.app.'],
    ['com.app.open', 'com.app.open'],
    ['org.a.x', '..x'],
    ['org.a.y', undefined],
  ] as const)('%s → %s', (uri, expected) => expect(bestRule(uri, set)?.uri).toBe(expected));

  it('the wildcard whose concrete components stand furthest left wins', () => {
    expect(bestRule('org.b.x', rules('..x wildcard allow', 'org.. wildcard deny'))?.uri).toBe('org..');
    expect(decide('org.b.x', 'exact', rules('..x wildcard allow', 'org.. wildcard deny'))).toBe(false);
  });
});

describe('mayMatchReserved: patterns that reach wamp.*', () => {
  it.each([
    ['wamp.session.get', 'exact', true],
    ['wamp', 'exact', true],
    ['wampx', 'exact', false],
    ['com.wamp', 'exact', false],
    ['w', 'prefix', true],
    ['wa', 'prefix', true],
    ['wam', 'prefix', true],
    ['wamp', 'prefix', true],
    ['wamp.', 'prefix', true],
    ['wamp.session.', 'prefix', true],
    ['wampx', 'prefix', false],
    ['wx', 'prefix', false],
    ['x', 'prefix', false],
    ['.session.get', 'wildcard', true],
    ['wamp..get', 'wildcard', true],
    ['.', 'wildcard', true],
    ['com..get', 'wildcard', false],
    ['wampx..get', 'wildcard', false],
  ] as const)('%s (%s) → %s', (pattern, match, reaches) => expect(mayMatchReserved(pattern, match)).toBe(reaches));
});
