/**
 * WAMP-CRA with real clients: plain and salted secrets (autobahn-js's auth_cra and wampy's
 * wampcra.js, every serializer), the challenge's content, an unknown authid challenged like a
 * known one, and a dynamic authenticator that hands over the secret.
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import { sign as wampySign } from 'wampy/wampcra.js';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { startTestRouter } from '../helpers.js';
import { Raw, SERIALIZERS, aborted, authenticatorComponent, autobahnCra, joinAutobahn, joinWampy, urlOf, welcomed } from './support.js';

const FAILED = { reason: 'wamp.error.authentication_failed', message: 'authentication failed' };

// Crossbar keeps the derived key of a salted user, never the password: so does this config.
const PETER = { password: 'secret2', salt: 'salt123', iterations: 100, keylen: 16 };

const config: RouterConfigFile = {
  realms: [{ name: 'realm1', roles: [{ name: 'frontend' }, { name: 'backend' }] }],
  listeners: [
    {
      type: 'websocket',
      auth: {
        wampcra: {
          type: 'static',
          users: {
            joe: { secret: 'secret1', role: 'frontend' },
            peter: {
              secret: autobahnCra.derive_key(PETER.password, PETER.salt, PETER.iterations, PETER.keylen),
              role: 'backend',
              salt: PETER.salt,
              iterations: PETER.iterations,
              keylen: PETER.keylen,
            },
            // Salted with the defaults (1000 iterations, 32 bytes).
            zoë: { secret: autobahnCra.derive_key('pässwörd', 'pepper'), role: 'frontend', salt: 'pepper' },
          },
        },
      },
    },
  ],
};

/** wampy's wampcra.js signer; CHALLENGE.Extra is what its `info` describes. */
type CraInfo = Parameters<ReturnType<typeof wampySign>>[1];
const wampyCra =
  (password: string) =>
  (method: string, info: Record<string, unknown>): Promise<string> =>
    wampySign(password)(method, info as unknown as CraInfo);

/** What an autobahn-js client does with a WAMP-CRA challenge, as in Crossbar's examples. */
function autobahnAnswer(password: string) {
  return (method: string, extra: Record<string, unknown>): string => {
    if (method !== 'wampcra') throw new Error(`unexpected ${method}`);
    const key =
      typeof extra['salt'] === 'string' ? autobahnCra.derive_key(password, extra['salt'], extra['iterations'] as number, extra['keylen'] as number) : password;
    return autobahnCra.sign(key, extra['challenge'] as string);
  };
}

describe('wampcra, static users', () => {
  it.each(SERIALIZERS)('autobahn-js (%s): plain and salted secrets join; a wrong secret and an unknown authid get the same ABORT', async (serializer) => {
    const router = await startTestRouter(config);
    const joe = welcomed(await joinAutobahn(router.url, serializer, { authmethods: ['wampcra'], authid: 'joe', onchallenge: autobahnAnswer('secret1') }));
    expect(joe).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'wampcra', authprovider: 'static' });
    const peter = welcomed(
      await joinAutobahn(router.url, serializer, { authmethods: ['wampcra'], authid: 'peter', onchallenge: autobahnAnswer(PETER.password) }),
    );
    expect(peter).toMatchObject({ authid: 'peter', authrole: 'backend' });
    expect(
      welcomed(await joinAutobahn(router.url, serializer, { authmethods: ['wampcra'], authid: 'zoë', onchallenge: autobahnAnswer('pässwörd') })),
    ).toMatchObject({ authid: 'zoë' });
    const wrong = aborted(await joinAutobahn(router.url, serializer, { authmethods: ['wampcra'], authid: 'peter', onchallenge: autobahnAnswer('secret1') }));
    const unknown = aborted(await joinAutobahn(router.url, serializer, { authmethods: ['wampcra'], authid: 'nobody', onchallenge: autobahnAnswer('secret1') }));
    expect(wrong).toEqual(FAILED);
    expect(unknown).toEqual(wrong);
  });

  it.each(SERIALIZERS)('wampy (%s) with its wampcra.js: plain and salted secrets join; wrong and unknown are refused alike', async (serializer) => {
    const router = await startTestRouter(config);
    expect(welcomed(await joinWampy(router.url, serializer, { authmethods: ['wampcra'], authid: 'joe', onChallenge: wampyCra('secret1') }))).toMatchObject({
      authid: 'joe',
      authrole: 'frontend',
    });
    expect(
      welcomed(await joinWampy(router.url, serializer, { authmethods: ['wampcra'], authid: 'peter', onChallenge: wampyCra(PETER.password) })),
    ).toMatchObject({ authid: 'peter', authrole: 'backend' });
    const wrong = aborted(await joinWampy(router.url, serializer, { authmethods: ['wampcra'], authid: 'joe', onChallenge: wampyCra('secret2') }));
    const unknown = aborted(await joinWampy(router.url, serializer, { authmethods: ['wampcra'], authid: 'mallory', onChallenge: wampyCra('secret1') }));
    expect(wrong).toEqual(FAILED);
    expect(unknown).toEqual(wrong);
  });

  it('sends the challenge Crossbar sends, and challenges an unknown authid with the same shape', async () => {
    const router = await startTestRouter(config);
    const challengeOf = async (authid: string): Promise<{ extra: Record<string, unknown>; challenge: Record<string, unknown>; session: number }> => {
      const raw = await Raw.open(router.url);
      raw.hello('realm1', { authmethods: ['wampcra'], authid });
      const msg = await raw.next();
      expect(msg[0]).toBe(MessageCode.Challenge);
      expect(msg[1]).toBe('wampcra');
      const extra = msg[2] as Record<string, unknown>;
      raw.send([MessageCode.Authenticate, 'AAAA', {}]);
      expect(await raw.next()).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
      return { extra, challenge: JSON.parse(extra['challenge'] as string) as Record<string, unknown>, session: 0 };
    };
    const joe = await challengeOf('joe');
    expect(Object.keys(joe.extra)).toEqual(['challenge']);
    expect(joe.challenge).toEqual({
      authid: 'joe',
      authmethod: 'wampcra',
      authprovider: 'static',
      nonce: expect.stringMatching(/^[A-Za-z0-9+/]{64}$/),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      session: expect.any(Number),
    });
    const peter = await challengeOf('peter');
    expect(peter.extra).toMatchObject({ salt: PETER.salt, iterations: PETER.iterations, keylen: PETER.keylen });
    const zoe = await challengeOf('zoë');
    expect(zoe.extra).toMatchObject({ salt: 'pepper', iterations: 1000, keylen: 32 });
    // An unknown authid looks like one of the users (plain or salted), with a salt that stays the
    // same from one HELLO to the next. (No role in any challenge: router/test/security/wampcra.test.ts.)
    const ghost = await challengeOf('ghost');
    expect([['challenge'], ['challenge', 'iterations', 'keylen', 'salt']]).toContainEqual(Object.keys(ghost.extra).sort());
    expect(ghost.challenge).toMatchObject({ authid: 'ghost', authmethod: 'wampcra', authprovider: 'static' });
    expect((await challengeOf('ghost')).extra['salt']).toBe(ghost.extra['salt']);
  });
});

describe('wampcra, dynamic authenticator', () => {
  it('challenges with the secret the authenticator answers, salted or not', async () => {
    const router = await startTestRouter({
      realms: [
        { name: 'realm1', roles: [{ name: 'frontend' }] },
        { name: 'auth', roles: [{ name: 'trusted', permissions: [{ uri: '', match: 'prefix', allow: { register: true } }] }] },
      ],
      listeners: [
        { type: 'websocket', auth: { wampcra: { type: 'dynamic', authenticator: 'com.example.cra', 'authenticator-realm': 'auth' } } },
        { type: 'websocket', path: '/backend', auth: { anonymous: { role: 'trusted', realm: 'auth' } } },
      ],
    });
    const calls = await authenticatorComponent(urlOf(router, 1), 'auth', 'com.example.cra', ({ authid }) => {
      if (authid === 'joe') return { role: 'frontend', secret: 'secret1' };
      if (authid === 'salty')
        return { role: 'frontend', secret: autobahnCra.derive_key('pw', 'nacl', 10, 16), salt: 'nacl', iterations: 10, keylen: 16, extra: { tier: 1 } };
      if (authid === 'nosecret') return { role: 'frontend' };
      throw new autobahn.Error('com.example.no_such_user', []);
    });
    expect(
      welcomed(await joinAutobahn(router.url, 'msgpack', { authmethods: ['wampcra'], authid: 'joe', onchallenge: autobahnAnswer('secret1') })),
    ).toMatchObject({ authid: 'joe', authprovider: 'dynamic' });
    expect(welcomed(await joinWampy(router.url, 'cbor', { authmethods: ['wampcra'], authid: 'salty', onChallenge: wampyCra('pw') }))).toMatchObject({
      authid: 'salty',
      authextra: { tier: 1 },
    });
    expect(aborted(await joinAutobahn(router.url, 'json', { authmethods: ['wampcra'], authid: 'joe', onchallenge: autobahnAnswer('wrong') }))).toEqual(FAILED);
    expect(aborted(await joinAutobahn(router.url, 'json', { authmethods: ['wampcra'], authid: 'nobody', onchallenge: autobahnAnswer('secret1') }))).toEqual(
      FAILED,
    );
    expect(aborted(await joinAutobahn(router.url, 'json', { authmethods: ['wampcra'], authid: 'nosecret', onchallenge: autobahnAnswer('') }))).toEqual(FAILED);
    expect(calls[0]).toMatchObject({ realm: 'realm1', authid: 'joe', details: { authmethod: 'wampcra', authid: 'joe', transport: { type: 'websocket' } } });
    expect(calls[0]!.details['ticket']).toBeUndefined();
  });
});
