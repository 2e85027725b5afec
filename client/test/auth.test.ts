/**
 * The client's ready-made auth helpers against the real router: ticketAuth, wampcraAuth (plain and
 * salted secrets) and cryptosignAuth (with and without an authid), over json and msgpack; a wrong
 * secret rejects connect with SessionAbortedError wamp.error.authentication_failed.
 */
import { describe, expect, it } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { SessionAbortedError, connect, cryptosignAuth, ticketAuth, wampcraAuth } from '@switchboard/client';
import type { AuthOptions } from '@switchboard/client';
import type { RouterConfigFile } from '@switchboard/router';
import { startTestRouter } from '../../router/test/helpers.js';
import { autobahnCra, ed25519FromSeed } from '../../router/test/auth/support.js';
import { open, within } from './helpers.js';

const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack'];

const PETER = { password: 'secret2', salt: 'salt123', iterations: 100, keylen: 16 };
const CLIENT01 = ed25519FromSeed('4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510');
const DEVICE = ed25519FromSeed('d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd');
const STRANGER = ed25519FromSeed('6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b');

/** One listener per method, as in router/test/auth/*.test.ts. */
const config: RouterConfigFile = {
  realms: [{ name: 'realm1', roles: [{ name: 'frontend' }, { name: 'backend' }, { name: 'user' }] }],
  listeners: [
    {
      type: 'websocket',
      path: '/ticket',
      auth: { ticket: { type: 'static', principals: { joe: { ticket: 'secret!!!', role: 'frontend' }, 'ünï ⚙': { ticket: 'tïckét 🎫', role: 'backend' } } } },
    },
    {
      type: 'websocket',
      path: '/wampcra',
      auth: {
        wampcra: {
          type: 'static',
          users: {
            joe: { secret: 'secret1', role: 'frontend' },
            // Crossbar keeps the derived key of a salted user, never the password.
            peter: {
              secret: autobahnCra.derive_key(PETER.password, PETER.salt, PETER.iterations, PETER.keylen),
              role: 'backend',
              salt: PETER.salt,
              iterations: PETER.iterations,
              keylen: PETER.keylen,
            },
            zoë: { secret: autobahnCra.derive_key('pässwörd', 'pepper'), role: 'frontend', salt: 'pepper' },
          },
        },
      },
    },
    {
      type: 'websocket',
      path: '/cryptosign',
      auth: {
        cryptosign: {
          type: 'static',
          principals: {
            'client01@example.com': { role: 'user', authorized_keys: [CLIENT01.publicKeyHex] },
            sensor7: { role: 'backend', authorized_keys: [DEVICE.publicKeyHex.toUpperCase()] },
          },
        },
      },
    },
  ],
};

async function routerUrls(): Promise<{ ticket: string; wampcra: string; cryptosign: string }> {
  const router = await startTestRouter(config);
  const url = (index: number): string => router.addresses[index]!.url;
  return { ticket: url(0), wampcra: url(1), cryptosign: url(2) };
}

/** Joins with `auth`; resolves WELCOME.Details (the session leaves when the test finishes). */
async function joined(url: string, serializer: SerializerName, auth: AuthOptions): Promise<Record<string, unknown>> {
  const session = await open(url, serializer, { auth });
  return session.details ?? {};
}

/** connect must reject with SessionAbortedError; resolves its reason. */
async function refused(url: string, serializer: SerializerName, auth: AuthOptions): Promise<string> {
  const error: unknown = await within(
    connect({ url, realm: 'realm1', serializers: [serializer], reconnect: false, auth }).then(
      async (session) => {
        await session.leave();
        throw new Error('joined, but should have been refused');
      },
      (err: unknown) => err,
    ),
    5000,
    `a ${serializer} join to be refused`,
  );
  expect(error).toBeInstanceOf(SessionAbortedError);
  return (error as SessionAbortedError).reason;
}

const FAILED = 'wamp.error.authentication_failed';

describe.each(SERIALIZERS)('client auth helpers against the router (%s)', (serializer) => {
  it('ticketAuth: joins with the ticket; a wrong ticket and an unknown authid are refused', async () => {
    const urls = await routerUrls();
    expect(await joined(urls.ticket, serializer, ticketAuth({ authid: 'joe', ticket: 'secret!!!' }))).toMatchObject({
      authid: 'joe',
      authrole: 'frontend',
      authmethod: 'ticket',
    });
    expect(await joined(urls.ticket, serializer, ticketAuth({ authid: 'ünï ⚙', ticket: 'tïckét 🎫' }))).toMatchObject({ authid: 'ünï ⚙', authrole: 'backend' });
    expect(await refused(urls.ticket, serializer, ticketAuth({ authid: 'joe', ticket: 'secret!!' }))).toBe(FAILED);
    expect(await refused(urls.ticket, serializer, ticketAuth({ authid: 'nobody', ticket: 'secret!!!' }))).toBe(FAILED);
  });

  it('wampcraAuth: plain and salted secrets (given and default PBKDF2 parameters) join; a wrong secret is refused', async () => {
    const urls = await routerUrls();
    expect(await joined(urls.wampcra, serializer, wampcraAuth({ authid: 'joe', secret: 'secret1' }))).toMatchObject({
      authid: 'joe',
      authrole: 'frontend',
      authmethod: 'wampcra',
    });
    expect(await joined(urls.wampcra, serializer, wampcraAuth({ authid: 'peter', secret: PETER.password }))).toMatchObject({
      authid: 'peter',
      authrole: 'backend',
    });
    expect(await joined(urls.wampcra, serializer, wampcraAuth({ authid: 'zoë', secret: 'pässwörd' }))).toMatchObject({ authid: 'zoë', authrole: 'frontend' });
    expect(await refused(urls.wampcra, serializer, wampcraAuth({ authid: 'joe', secret: 'secret2' }))).toBe(FAILED);
    expect(await refused(urls.wampcra, serializer, wampcraAuth({ authid: 'peter', secret: 'secret1' }))).toBe(FAILED);
    // The derived key is what the router stores, not what the client knows.
    expect(
      await refused(
        urls.wampcra,
        serializer,
        wampcraAuth({ authid: 'peter', secret: autobahnCra.derive_key(PETER.password, PETER.salt, PETER.iterations, PETER.keylen) }),
      ),
    ).toBe(FAILED);
  });

  it('cryptosignAuth: joins with and without an authid; an unknown key and a key of another principal are refused', async () => {
    const urls = await routerUrls();
    const client01 = await cryptosignAuth({ authid: 'client01@example.com', seed: CLIENT01.seedHex });
    expect(client01.authextra).toEqual({ pubkey: CLIENT01.publicKeyHex, channel_binding: null });
    expect(await joined(urls.cryptosign, serializer, client01)).toMatchObject({ authid: 'client01@example.com', authrole: 'user', authmethod: 'cryptosign' });
    // No authid: the router finds the principal by the public key.
    expect(await joined(urls.cryptosign, serializer, await cryptosignAuth({ seed: DEVICE.seedHex.toUpperCase() }))).toMatchObject({
      authid: 'sensor7',
      authrole: 'backend',
    });
    expect(await refused(urls.cryptosign, serializer, await cryptosignAuth({ seed: STRANGER.seedHex }))).toBe(FAILED);
    expect(await refused(urls.cryptosign, serializer, await cryptosignAuth({ authid: 'client01@example.com', seed: DEVICE.seedHex }))).toBe(FAILED);
  });
});

describe('a refused secret with reconnect on', () => {
  it('is fatal: connect rejects at once with authentication_failed instead of retrying', async () => {
    const urls = await routerUrls();
    const started = Date.now();
    const error: unknown = await within(
      connect({
        url: urls.wampcra,
        realm: 'realm1',
        reconnect: { maxRetries: 5, initialDelayMs: 2000 },
        auth: wampcraAuth({ authid: 'joe', secret: 'nope' }),
      }).then(
        () => new Error('joined'),
        (err: unknown) => err,
      ),
      5000,
      'connect to be refused',
    );
    expect(error).toBeInstanceOf(SessionAbortedError);
    expect((error as SessionAbortedError).reason).toBe(FAILED);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
