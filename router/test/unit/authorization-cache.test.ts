/**
 * Issue #14.6, the pure part: a dynamic authorizer's cache belongs to one WAMP session (its
 * membership), is dropped when the session leaves, and holds a bounded number of decisions.
 */
import { describe, expect, it } from 'vitest';
import type { SessionId } from '@switchboard/schemas';
import { DynamicRole, MAX_CACHED_DECISIONS } from '../../src/auth/dynamic.js';
import type { Subject } from '../../src/auth/types.js';

/** A role whose procedure allows everything, cacheably (a bare true), and counts the questions. */
function role(): { role: DynamicRole; asked: string[] } {
  const asked: string[] = [];
  const dynamic = new DynamicRole(
    'com.example.authorize',
    (_procedure, args) => {
      asked.push(String(args[1]));
      return Promise.resolve({ args: [true], kwargs: {} });
    },
    (subject) => ({ session: subject.id }),
  );
  return { role: dynamic, asked };
}

function subject(membership: object | undefined): Subject {
  return { id: 1 as SessionId, authid: 'alice', authrole: 'user', membership };
}

describe('security: dynamic authorizer cache (#14.6)', () => {
  it('is per membership: the same session object with a new membership is asked again', async () => {
    const { role: dynamic, asked } = role();
    const alice = subject({});
    await dynamic.authorize(alice, 'com.secret.alice', 'subscribe', 'exact', {});
    expect(dynamic.authorize(alice, 'com.secret.alice', 'subscribe', 'exact', {})).toEqual({ allow: true, cache: true });
    await dynamic.authorize(subject({}), 'com.secret.alice', 'subscribe', 'exact', {});
    expect(asked).toEqual(['com.secret.alice', 'com.secret.alice']);
  });

  it('is dropped by forget (the session left), and keeps nothing for a session without membership', async () => {
    const { role: dynamic, asked } = role();
    const alice = subject({});
    await dynamic.authorize(alice, 'com.a', 'call', 'exact', {});
    dynamic.forget(alice);
    await dynamic.authorize(alice, 'com.a', 'call', 'exact', {});
    const nobody = subject(undefined);
    await dynamic.authorize(nobody, 'com.b', 'call', 'exact', {});
    await dynamic.authorize(nobody, 'com.b', 'call', 'exact', {});
    expect(asked).toEqual(['com.a', 'com.a', 'com.b', 'com.b']);
  });

  it(`holds at most ${MAX_CACHED_DECISIONS} decisions per session, forgetting the oldest first`, async () => {
    const { role: dynamic, asked } = role();
    const alice = subject({});
    for (let i = 0; i <= MAX_CACHED_DECISIONS; i++) await dynamic.authorize(alice, `com.t${i}`, 'subscribe', 'exact', {});
    expect(asked.length).toBe(MAX_CACHED_DECISIONS + 1);
    // The newest is still cached; the oldest was forgotten and is asked again.
    expect(dynamic.authorize(alice, `com.t${MAX_CACHED_DECISIONS}`, 'subscribe', 'exact', {})).toEqual({ allow: true, cache: true });
    await dynamic.authorize(alice, 'com.t0', 'subscribe', 'exact', {});
    expect(asked.length).toBe(MAX_CACHED_DECISIONS + 2);
  });
});
