/**
 * The role authorizer (auth/permissions.ts with auth/coverage.ts): static permissions per role,
 * the most specific rule deciding a URI, `{authid}`/`{authrole}` placeholders, and a prefix or
 * wildcard SUBSCRIBE/REGISTER judged by every URI it can match. Pure: subjects are plain objects.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MatchPolicy, SessionId } from '@switchboard/schemas';
import { RoleAuthorizer } from '../../src/auth/permissions.js';
import type { PermissionConfig, RoleConfig } from '../../src/auth/permissions.js';
import type { Action, Decision, Subject } from '../../src/auth/types.js';

function subject(authrole: string | undefined, authid = 'alice', membership: object | undefined = {}): Subject {
  return { id: 1 as SessionId, authid, authrole, membership };
}

/** The decision, which a static role gives at once (never a Promise). */
function decide(authorizer: RoleAuthorizer, who: Subject, uri: string, action: Action, match: MatchPolicy = 'exact'): Decision {
  const decision = authorizer.authorize(who, uri, action, match, {});
  if (decision instanceof Promise) throw new Error('a static role answered with a Promise');
  return decision;
}

const all = { call: true, register: true, publish: true, subscribe: true };
const role = (permissions: PermissionConfig[], name = 'user'): RoleConfig[] => [{ name, permissions }];

describe('RoleAuthorizer: a concrete URI', () => {
  it('denies a role it does not know, a session without a role, and a URI no permission matches', () => {
    const a = new RoleAuthorizer(role([{ uri: 'com.app.', match: 'prefix', allow: all }]));
    expect(a.hasRole('user')).toBe(true);
    expect(a.hasRole('admin')).toBe(false);
    expect(decide(a, subject('admin'), 'com.app.x', 'call').allow).toBe(false);
    expect(decide(a, subject(undefined), 'com.app.x', 'call').allow).toBe(false);
    expect(decide(a, subject('user'), 'com.other', 'call').allow).toBe(false);
    expect(decide(a, subject('user'), 'com.app.x', 'call').allow).toBe(true);
  });

  it('allows only the actions a permission names', () => {
    const a = new RoleAuthorizer(role([{ uri: 'com.app.news', allow: { subscribe: true } }]));
    const who = subject('user');
    expect(decide(a, who, 'com.app.news', 'subscribe').allow).toBe(true);
    for (const action of ['publish', 'call', 'register'] as const) expect(decide(a, who, 'com.app.news', action).allow).toBe(false);
  });

  it('takes the most specific permission: exact, then the longest prefix, then the wildcard concrete furthest left', () => {
    const a = new RoleAuthorizer(
      role([
        { uri: 'com.', match: 'prefix', allow: { call: true } },
        { uri: 'com.app.', match: 'prefix', allow: { call: false } },
        { uri: 'com.app.open', allow: { call: true } },
        { uri: 'org..x', match: 'wildcard', allow: { call: false } },
        { uri: 'org.a.', match: 'wildcard', allow: { call: true } },
      ]),
    );
    const who = subject('user');
    expect(decide(a, who, 'com.zzz', 'call').allow).toBe(true);
    expect(decide(a, who, 'com.app.secret', 'call').allow).toBe(false);
    expect(decide(a, who, 'com.app.open', 'call').allow).toBe(true);
    expect(decide(a, who, 'org.a.x', 'call').allow).toBe(true); // org.a. beats org..x
    expect(decide(a, who, 'org.b.x', 'call').allow).toBe(false);
  });

  it('reads a trailing * as a prefix (Crossbar’s older form) when no match is given', () => {
    const a = new RoleAuthorizer(role([{ uri: 'com.app.*', allow: { publish: true } }]));
    expect(decide(a, subject('user'), 'com.app.anything.deeper', 'publish').allow).toBe(true);
  });

  it('discloses the caller and the publisher only where the permission says so', () => {
    const a = new RoleAuthorizer(role([{ uri: 'com.p', allow: all, disclose: { caller: true, publisher: false } }]));
    const who = subject('user');
    expect(decide(a, who, 'com.p', 'call')).toEqual({ allow: true, disclose: true });
    expect(decide(a, who, 'com.p', 'publish')).toEqual({ allow: true });
    expect(decide(a, who, 'com.p', 'register')).toEqual({ allow: true });
  });

  it('a role naming an authorizer procedure needs a router to call it', () => {
    expect(() => new RoleAuthorizer([{ name: 'dyn', authorizer: 'com.authorize' }])).toThrow(/names an authorizer/);
  });
});

describe('RoleAuthorizer: {authid} and {authrole} placeholders', () => {
  const a = new RoleAuthorizer(
    role([
      { uri: 'com.user.{authid}.', match: 'prefix', allow: { subscribe: true, publish: true } },
      { uri: 'com.role.{authrole}.inbox', allow: { call: true } },
    ]),
  );

  it('fill in the session’s own authid and authrole, and nobody else’s', () => {
    const alice = subject('user', 'alice');
    expect(decide(a, alice, 'com.user.alice.feed', 'publish').allow).toBe(true);
    expect(decide(a, alice, 'com.user.bob.feed', 'publish').allow).toBe(false);
    expect(decide(a, alice, 'com.role.user.inbox', 'call').allow).toBe(true);
    expect(decide(a, subject('user', 'bob'), 'com.user.bob.feed', 'publish').allow).toBe(true);
  });

  it('are never filled with a value that would change the URI’s structure (a dot, #, whitespace)', () => {
    const sneaky = subject('user', 'bob.feed');
    expect(decide(a, sneaky, 'com.user.bob.feed.x', 'publish').allow).toBe(false);
    expect(decide(a, subject('user', 'a b'), 'com.user.a b.x', 'publish').allow).toBe(false);
  });

  it('are filled once per WAMP session (membership): a new membership sees its own authid', () => {
    const membership = {};
    expect(decide(a, subject('user', 'alice', membership), 'com.user.alice.x', 'publish').allow).toBe(true);
    // The same connection, a new HELLO as someone else: a new membership, new rules.
    expect(decide(a, subject('user', 'carol', {}), 'com.user.carol.x', 'publish').allow).toBe(true);
    expect(decide(a, subject('user', 'carol', {}), 'com.user.alice.x', 'publish').allow).toBe(false);
    a.forget(subject('user', 'alice', membership));
  });
});

describe('RoleAuthorizer: a pattern SUBSCRIBE or REGISTER is judged by every URI it can match', () => {
  it('an exact permission never covers a pattern', () => {
    const a = new RoleAuthorizer(role([{ uri: 'com.public.news', allow: all }]));
    expect(decide(a, subject('user'), 'com.public.news', 'subscribe', 'prefix').allow).toBe(false);
  });

  it('a denying rule inside the match set makes the pattern denied', () => {
    const a = new RoleAuthorizer(
      role([
        { uri: 'com.app.', match: 'prefix', allow: { subscribe: true } },
        { uri: 'com.app.secret', allow: { subscribe: false } },
      ]),
    );
    const who = subject('user');
    expect(decide(a, who, 'com.app.', 'subscribe', 'prefix').allow).toBe(false);
    expect(decide(a, who, 'com.app.public.', 'subscribe', 'prefix').allow).toBe(true);
    expect(decide(a, who, 'com.app..x', 'subscribe', 'wildcard').allow).toBe(true); // com.app.secret has two components
    expect(decide(a, who, 'com.app.', 'subscribe', 'wildcard').allow).toBe(false); // matches com.app.secret
  });

  it('a prefix is a string prefix: allow com.app. does not cover a prefix subscription to com.ap', () => {
    const a = new RoleAuthorizer(role([{ uri: 'com.app.', match: 'prefix', allow: { subscribe: true } }]));
    expect(decide(a, subject('user'), 'com.ap', 'subscribe', 'prefix').allow).toBe(false);
  });

  // Soundness, over random rule sets: a pattern allowed means every URI of a small universe that
  // it matches is allowed on its own (the universe is finite, the match set is not: this is a
  // necessary condition, checked exhaustively on each sample).
  const COMPONENTS = ['a', 'b', 'ab'];
  const universe: string[] = [];
  for (const x of COMPONENTS) {
    universe.push(x);
    for (const y of COMPONENTS) {
      universe.push(`${x}.${y}`);
      for (const z of COMPONENTS) universe.push(`${x}.${y}.${z}`);
    }
  }
  const matches = (pattern: string, match: MatchPolicy, uri: string): boolean => {
    if (match === 'exact') return pattern === uri;
    if (match === 'prefix') return uri.startsWith(pattern);
    const p = pattern.split('.');
    const u = uri.split('.');
    return p.length === u.length && p.every((c, i) => c === '' || c === u[i]);
  };
  const component = fc.constantFrom(...COMPONENTS);
  const wildComponent = fc.constantFrom('', ...COMPONENTS);
  const uriOf = (parts: fc.Arbitrary<string>): fc.Arbitrary<string> => fc.array(parts, { minLength: 1, maxLength: 3 }).map((c) => c.join('.'));
  const rule: fc.Arbitrary<PermissionConfig> = fc.oneof(
    fc.record({ uri: uriOf(component), match: fc.constant<MatchPolicy>('exact'), allow: fc.record({ subscribe: fc.boolean() }) }),
    fc.record({
      uri: fc.oneof(
        uriOf(component),
        uriOf(component).map((u) => `${u}.`),
        fc.constantFrom('a', 'ab.', 'a.a'),
      ),
      match: fc.constant<MatchPolicy>('prefix'),
      allow: fc.record({ subscribe: fc.boolean() }),
    }),
    fc.record({ uri: uriOf(wildComponent), match: fc.constant<MatchPolicy>('wildcard'), allow: fc.record({ subscribe: fc.boolean() }) }),
  );
  const pattern = fc.oneof(
    fc.record({
      uri: fc.oneof(
        uriOf(component),
        uriOf(component).map((u) => `${u}.`),
      ),
      match: fc.constant<MatchPolicy>('prefix'),
    }),
    fc.record({ uri: uriOf(wildComponent), match: fc.constant<MatchPolicy>('wildcard') }),
  );

  it('never allows a pattern that matches a URI the role may not subscribe to (property)', () => {
    fc.assert(
      // Duplicates included: two permissions with one URI and match policy (which a config file
      // may not hold, but an embedder's list may) are decided by the first, for a URI and a pattern alike.
      fc.property(fc.array(rule, { maxLength: 6 }), pattern, (rules, p) => {
        const a = new RoleAuthorizer(role(rules));
        const who = subject('user');
        if (!decide(a, who, p.uri, 'subscribe', p.match).allow) return;
        for (const uri of universe) {
          if (matches(p.uri, p.match, uri)) expect(decide(a, who, uri, 'subscribe').allow, `${p.match} ${p.uri} allowed, ${uri} denied`).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('of two permissions with the same URI and match policy, the first decides a URI and a pattern alike', () => {
    const allowFirst = new RoleAuthorizer(
      role([
        { uri: 'a', match: 'prefix', allow: { subscribe: true } },
        { uri: 'a*', allow: { subscribe: false } },
      ]),
    );
    const denyFirst = new RoleAuthorizer(
      role([
        { uri: 'a', match: 'prefix', allow: { subscribe: false } },
        { uri: 'a', match: 'prefix', allow: { subscribe: true } },
      ]),
    );
    const who = subject('user');
    expect(decide(allowFirst, who, 'a.a', 'subscribe').allow).toBe(true);
    expect(decide(allowFirst, who, 'a.', 'subscribe', 'wildcard').allow).toBe(true);
    expect(decide(denyFirst, who, 'a.a', 'subscribe').allow).toBe(false);
    expect(decide(denyFirst, who, 'a.', 'subscribe', 'wildcard').allow).toBe(false);
    expect(decide(denyFirst, who, 'a', 'subscribe', 'prefix').allow).toBe(false);
  });

  it('a placeholder rule filled in to a static rule’s URI and match policy loses to the static rule, for a URI and a pattern alike', () => {
    const a = new RoleAuthorizer(
      role([
        { uri: 'u..x', match: 'wildcard', allow: { subscribe: false } },
        { uri: '{authid}..x', match: 'wildcard', allow: { subscribe: true } },
      ]),
    );
    // For authid 'u' the second rule reads u..x, the first rule's URI: the static one decides.
    const u = subject('user', 'u');
    expect(decide(a, u, 'u.b.x', 'subscribe').allow).toBe(false);
    expect(decide(a, u, 'u.b.x', 'subscribe', 'wildcard').allow).toBe(false);
    expect(decide(a, u, 'u..x', 'subscribe', 'wildcard').allow).toBe(false);
  });

  it('allows a pattern that one allowing prefix rule covers whole, with nothing more specific inside (property)', () => {
    fc.assert(
      fc.property(uriOf(component), (base) => {
        const a = new RoleAuthorizer(role([{ uri: `${base}.`, match: 'prefix', allow: { subscribe: true } }]));
        expect(decide(a, subject('user'), `${base}.`, 'subscribe', 'prefix').allow).toBe(true);
        expect(decide(a, subject('user'), `${base}..a`, 'subscribe', 'wildcard').allow).toBe(true);
      }),
      { numRuns: 50 },
    );
  });
});
