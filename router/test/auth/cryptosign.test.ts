/**
 * WAMP-Cryptosign with real clients: autobahn-js (auth_cryptosign) and wampy (cryptosign.js) over
 * every serializer, with and without an authid; unknown and wrong keys refused alike; a dynamic
 * authenticator; and TLS channel binding (tls-unique over TLS 1.2, tls-exporter over TLS 1.3, and
 * the spec's fallback to no binding on a connection without TLS).
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import { sign as wampySign } from 'wampy/cryptosign.js';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { tlsChannelBindings } from '../../src/transports/channel-binding.js';
import { startTestRouter } from '../helpers.js';
import {
  Raw,
  SERIALIZERS,
  aborted,
  authenticatorComponent,
  autobahnCryptosign,
  ed25519FromSeed,
  joinAutobahn,
  joinWampy,
  selfSigned,
  signCryptosign,
  urlOf,
  welcomed,
} from './support.js';
import type { Ed25519Key } from './support.js';

const FAILED = { reason: 'wamp.error.authentication_failed', message: 'authentication failed' };

// The spec's example principal uses the first test vector's key.
const CLIENT01 = ed25519FromSeed('4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510');
const DEVICE = ed25519FromSeed('d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd');
const STRANGER = ed25519FromSeed('6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b');

const config: RouterConfigFile = {
  realms: [
    { name: 'realm1', roles: [{ name: 'user' }] },
    { name: 'devices', roles: [{ name: 'device' }] },
  ],
  listeners: [
    {
      type: 'websocket',
      auth: {
        cryptosign: {
          type: 'static',
          principals: {
            'client01@example.com': { role: 'user', authorized_keys: [CLIENT01.publicKeyHex.toUpperCase()] },
            sensor7: { role: 'device', realm: 'devices', authorized_keys: [DEVICE.publicKeyHex] },
          },
        },
      },
    },
  ],
};

/** autobahn-js's cryptosign client: the key in authextra, the challenge signed by auth_cryptosign. */
function autobahnKey(key: Ed25519Key, authid?: string) {
  return {
    authmethods: ['cryptosign'],
    ...(authid !== undefined ? { authid } : {}),
    authextra: { pubkey: autobahnCryptosign.public_key(key.pair), channel_binding: null },
    onchallenge: (method: string, extra: Record<string, unknown>): string => {
      if (method !== 'cryptosign') throw new Error(`unexpected ${method}`);
      return autobahnCryptosign.sign_challenge(key.pair, extra);
    },
  };
}

type SignInfo = Parameters<ReturnType<typeof wampySign>>[1];
/** wampy's cryptosign.js; its `info` is CHALLENGE.Extra. */
function wampyKey(key: Ed25519Key, authid: string) {
  const signer = wampySign(key.seedHex);
  return {
    authmethods: ['cryptosign'],
    authid,
    authextra: { pubkey: key.publicKeyHex },
    onChallenge: (method: string, info: Record<string, unknown>): string => signer(method, info as unknown as SignInfo),
  };
}

describe('cryptosign, static principals', () => {
  it.each(SERIALIZERS)('autobahn-js (%s) joins by key alone or with its authid; unknown and wrong keys get the same ABORT', async (serializer) => {
    const router = await startTestRouter(config);
    const byKey = welcomed(await joinAutobahn(router.url, serializer, autobahnKey(CLIENT01)));
    expect(byKey).toMatchObject({ authid: 'client01@example.com', authrole: 'user', authmethod: 'cryptosign', authprovider: 'static', realm: 'realm1' });
    const withAuthid = welcomed(await joinAutobahn(router.url, serializer, autobahnKey(CLIENT01, 'client01@example.com')));
    expect(withAuthid).toMatchObject({ authid: 'client01@example.com' });
    // A principal with a realm is moved there, as Crossbar does.
    expect(welcomed(await joinAutobahn(router.url, serializer, autobahnKey(DEVICE)))).toMatchObject({
      authid: 'sensor7',
      authrole: 'device',
      realm: 'devices',
    });
    const unknownKey = aborted(await joinAutobahn(router.url, serializer, autobahnKey(STRANGER)));
    const otherPrincipalsKey = aborted(await joinAutobahn(router.url, serializer, autobahnKey(DEVICE, 'client01@example.com')));
    const unknownAuthid = aborted(await joinAutobahn(router.url, serializer, autobahnKey(CLIENT01, 'nobody')));
    expect(unknownKey).toEqual(FAILED);
    expect(otherPrincipalsKey).toEqual(FAILED);
    expect(unknownAuthid).toEqual(FAILED);
  });

  it.each(SERIALIZERS)('wampy (%s) joins with its cryptosign.js; a key it does not hold is refused like an unknown one', async (serializer) => {
    const router = await startTestRouter(config);
    expect(welcomed(await joinWampy(router.url, serializer, wampyKey(CLIENT01, 'client01@example.com')))).toMatchObject({
      authid: 'client01@example.com',
      authrole: 'user',
      authmethod: 'cryptosign',
    });
    // Announces client01's public key but signs with another key.
    const impostor = { ...wampyKey(STRANGER, 'client01@example.com'), authextra: { pubkey: CLIENT01.publicKeyHex } };
    const unknown = wampyKey(STRANGER, 'stranger');
    expect(aborted(await joinWampy(router.url, serializer, impostor))).toEqual(FAILED);
    expect(aborted(await joinWampy(router.url, serializer, unknown))).toEqual(FAILED);
  });

  it('challenges 32 random bytes in hex and checks the echoed challenge, not only the signature', async () => {
    const router = await startTestRouter(config);
    const raw = await Raw.open(router.url);
    raw.hello('realm1', { authmethods: ['cryptosign'], authextra: { pubkey: CLIENT01.publicKeyHex } });
    const challenge = await raw.next();
    expect(challenge).toEqual([MessageCode.Challenge, 'cryptosign', { challenge: expect.stringMatching(/^[0-9a-f]{64}$/), channel_binding: null }]);
    // A valid signature over some other 32 bytes.
    raw.send([MessageCode.Authenticate, signCryptosign(CLIENT01, 'ab'.repeat(32)), {}]);
    expect(await raw.next()).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    // An unknown key is challenged too.
    const stranger = await Raw.open(router.url);
    stranger.hello('realm1', { authmethods: ['cryptosign'], authextra: { pubkey: STRANGER.publicKeyHex } });
    const strangerChallenge = await stranger.next();
    expect(strangerChallenge[0]).toBe(MessageCode.Challenge);
    stranger.send([MessageCode.Authenticate, signCryptosign(STRANGER, (strangerChallenge[2] as { challenge: string }).challenge), {}]);
    expect(await stranger.next()).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
  });

  it('refuses a HELLO without a usable public key, and an unknown channel binding type with not_authorized', async () => {
    const router = await startTestRouter(config);
    for (const authextra of [{}, { pubkey: 'abc' }, { pubkey: 42 }]) {
      const raw = await Raw.open(router.url);
      raw.hello('realm1', { authmethods: ['cryptosign'], authextra });
      expect(await raw.next()).toEqual([MessageCode.Abort, { message: expect.stringContaining('authextra.pubkey') }, FAILED.reason]);
    }
    const raw = await Raw.open(router.url);
    raw.hello('realm1', { authmethods: ['cryptosign'], authextra: { pubkey: CLIENT01.publicKeyHex, channel_binding: 'tls-server-end-point' } });
    expect(await raw.next()).toEqual([MessageCode.Abort, { message: expect.stringContaining('unsupported channel binding') }, 'wamp.error.not_authorized']);
  });
});

describe('cryptosign, dynamic authenticator', () => {
  it('asks with the public key in details.authextra, then checks the signature', async () => {
    const router = await startTestRouter({
      // No authenticator-realm: the procedure is called in the realm the client asked for.
      realms: [{ name: 'realm1', roles: [{ name: 'user' }, { name: 'authenticator', permissions: [{ uri: 'com.example.keys', allow: { register: true } }] }] }],
      listeners: [
        { type: 'websocket', auth: { cryptosign: { type: 'dynamic', authenticator: 'com.example.keys' } } },
        { type: 'websocket', path: '/backend', auth: { anonymous: { role: 'authenticator' } } },
      ],
    });
    const calls = await authenticatorComponent(urlOf(router, 1), 'realm1', 'com.example.keys', ({ details }) => {
      const pubkey = (details['authextra'] as Record<string, unknown>)['pubkey'];
      if (pubkey === CLIENT01.publicKeyHex) return { role: 'user', authid: 'client01', extra: { hello: 'world' } };
      if (pubkey === DEVICE.publicKeyHex) return { role: 'user', pubkey: CLIENT01.publicKeyHex }; // a key the client does not hold
      throw new autobahn.Error('com.example.unknown_key', []);
    });
    const welcome = welcomed(await joinAutobahn(urlOf(router, 0), 'cbor', autobahnKey(CLIENT01)));
    expect(welcome).toMatchObject({ authid: 'client01', authrole: 'user', authprovider: 'dynamic', authextra: { hello: 'world' } });
    expect(calls[0]).toMatchObject({ realm: 'realm1', authid: null, details: { authmethod: 'cryptosign', authextra: { pubkey: CLIENT01.publicKeyHex } } });
    expect(aborted(await joinAutobahn(urlOf(router, 0), 'json', autobahnKey(STRANGER)))).toEqual(FAILED);
    expect(aborted(await joinAutobahn(urlOf(router, 0), 'json', autobahnKey(DEVICE)))).toEqual(FAILED);
  });
});

describe('cryptosign, TLS channel binding', () => {
  /** HELLO asking for `binding`; answers the challenge XOR `channelId` (undefined: the bare challenge). */
  async function attempt(
    raw: Raw,
    binding: string | null,
    channelId: (extra: Record<string, unknown>) => Uint8Array | undefined,
  ): Promise<{ extra: Record<string, unknown>; outcome: unknown[] }> {
    raw.hello('realm1', {
      authmethods: ['cryptosign'],
      authid: 'client01@example.com',
      authextra: { pubkey: CLIENT01.publicKeyHex, channel_binding: binding },
    });
    const challenge = await raw.next();
    expect(challenge[0]).toBe(MessageCode.Challenge);
    const extra = challenge[2] as Record<string, unknown>;
    raw.send([MessageCode.Authenticate, signCryptosign(CLIENT01, extra['challenge'] as string, channelId(extra)), {}]);
    return { extra, outcome: await raw.next() };
  }

  it('binds to tls-unique over TLS 1.2 and to tls-exporter over TLS 1.3; a signature without the binding is refused', async () => {
    const { cert, key, ca } = await selfSigned();
    const router = await startTestRouter({ ...config, listeners: [{ ...config.listeners![0]!, tls: { cert, key } }] });
    expect(router.url).toMatch(/^wss:/);
    for (const [maxVersion, binding] of [
      ['TLSv1.2', 'tls-unique'],
      ['TLSv1.3', 'tls-exporter'],
    ] as const) {
      const ids = (raw: Raw): Partial<Record<string, Uint8Array>> => tlsChannelBindings(raw.tlsSocket!, 'client');
      const good = await Raw.open(router.url, { ca, maxVersion });
      const bound = await attempt(good, binding, () => ids(good)[binding]);
      expect(bound.extra['channel_binding'], maxVersion).toBe(binding);
      expect(bound.outcome[0], `${maxVersion}: ${JSON.stringify(bound.outcome)}`).toBe(MessageCode.Welcome);
      // The bare challenge signed, as a client that ignores the binding (or a relay) would.
      const unbound = await Raw.open(router.url, { ca, maxVersion });
      expect((await attempt(unbound, binding, () => undefined)).outcome).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
      // Another connection's channel ID: what a man in the middle would have.
      const relay = await Raw.open(router.url, { ca, maxVersion });
      expect((await attempt(relay, binding, () => ids(good)[binding])).outcome[0]).toBe(MessageCode.Abort);
    }
    // tls-unique does not exist in TLS 1.3: the router goes on without binding, and says so.
    const tls13 = await Raw.open(router.url, { ca, minVersion: 'TLSv1.3' });
    const fallback = await attempt(tls13, 'tls-unique', () => undefined);
    expect(fallback.extra['channel_binding']).toBeNull();
    expect(fallback.outcome[0]).toBe(MessageCode.Welcome);
  });

  it('goes on without binding on a connection without TLS (channel_binding: null in CHALLENGE)', async () => {
    const router = await startTestRouter(config);
    const raw = await Raw.open(router.url);
    const { extra, outcome } = await attempt(raw, 'tls-unique', () => undefined);
    expect(extra['channel_binding']).toBeNull();
    expect(outcome[0]).toBe(MessageCode.Welcome);
  });
});
