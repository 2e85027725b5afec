/**
 * What the connection takes from an authenticator (someone else's code): any thenable, not only a
 * native Promise; an answer that is not an AuthResult fails the authentication; and the
 * authproviders that carry the router's trust (router, bridge) only from an in-process authenticator.
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { inProcessAuthenticator } from '../../src/auth/trusted.js';
import type { Authenticator } from '../../src/auth/types.js';
import { Connection, ConnectionState } from '../../src/connection.js';
import { FakePeer, fakeCore } from './fakes.js';

const ROLES = { caller: {}, publisher: {} };

function connect(authenticator: Authenticator) {
  const core = fakeCore();
  const peer = new FakePeer();
  const connection = new Connection(peer, core, new Map([[authenticator.method, authenticator]]));
  connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, authmethods: [authenticator.method] }]);
  return { core, peer, connection };
}

/** Settles the microtasks (and one macrotask) an asynchronous answer takes. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const app = (answer: () => unknown): Authenticator => ({ method: 'app', authenticate: answer as Authenticator['authenticate'] });

describe('an authenticator’s answer', () => {
  it('may be any thenable: the handshake goes on when it settles', async () => {
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a non-native thenable is what this test is about
      then: (ok: (v: unknown) => void) =>
        void queueMicrotask(() => ok({ kind: 'accept', principal: { authid: 'x', authrole: 'anonymous', authprovider: 'app' } })),
    };
    const { peer, connection } = connect(app(() => thenable));
    await settled();
    expect(peer.codes()).toEqual([MessageCode.Welcome]);
    expect(connection.session!.identity.authid).toBe('x');
  });

  it('a thenable that rejects (or whose then throws) fails the authentication', async () => {
    const { peer } = connect(
      app(() => ({
        // biome-ignore lint/suspicious/noThenProperty: a non-native thenable is what this test is about
        then: () => {
          throw new Error('broken thenable');
        },
      })),
    );
    await settled();
    expect(peer.received).toEqual([[MessageCode.Abort, { message: 'authentication failed' }, ErrorUri.AuthenticationFailed]]);
  });

  it.each([
    ['an unknown kind', { kind: 'maybe' }],
    ['no object', 'yes'],
    ['null', null],
    ['accept without a principal', { kind: 'accept' }],
    ['accept with a principal missing its role', { kind: 'accept', principal: { authid: 'x', authprovider: 'app' } }],
    ['a challenge without respond', { kind: 'challenge', extra: {} }],
    ['a deny without a reason', { kind: 'deny', message: 'no' }],
  ])('%s fails the authentication, counted, without a session', async (_what, answer) => {
    const { core, peer, connection } = connect(app(() => answer));
    await settled();
    expect(peer.received).toEqual([[MessageCode.Abort, { message: 'authentication failed' }, ErrorUri.AuthenticationFailed]]);
    expect(connection.state).toBe(ConnectionState.Closed);
    expect(core.released).toHaveLength(1);
    expect(core.realm1.sessions.size).toBe(0);
  });
});

describe('reserved authproviders', () => {
  it.each(['router', 'bridge'])('%s from a configured or embedder’s authenticator is refused, logged as a failure', (authprovider) => {
    const { core, peer } = connect(app(() => ({ kind: 'accept', principal: { authid: 'x', authrole: 'anonymous', authprovider } })));
    expect(peer.received).toEqual([[MessageCode.Abort, { message: 'authentication failed' }, ErrorUri.AuthenticationFailed]]);
    expect(core.realm1.sessions.size).toBe(0);
    expect(core.released).toHaveLength(1);
  });

  it('is refused from a copy of an in-process authenticator too: the brand is the object, not its shape', () => {
    const original = inProcessAuthenticator('x_switchboard_router', { authid: 'router', authrole: 'trusted', authprovider: 'router' });
    const { peer } = connect({ ...original });
    expect(peer.codes()).toEqual([MessageCode.Abort]);
  });

  it('comes from the in-process authenticator the router makes', () => {
    const { peer, connection } = connect(inProcessAuthenticator('x_switchboard_router', { authid: 'router', authrole: 'trusted', authprovider: 'router' }));
    expect(peer.codes()).toEqual([MessageCode.Welcome]);
    expect(connection.session!.identity.authprovider).toBe('router');
  });
});
