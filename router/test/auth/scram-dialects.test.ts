/**
 * SCRAM in both dialects (`scram`: Crossbar/autobahn-python; `wamp-scram`: the WAMP spec) with
 * @switchboard/client's scramAuth against the real router: argon2id and pbkdf2, wrong password,
 * unknown authid (a decoy challenge, stable per authid, and the same ABORT), static principals, a
 * dynamic authenticator (WAMP procedure) and a webhook; the wamp-scram frames by hand; the
 * AuthMessage and proof against RFC 7677's SCRAM-SHA-256 vector.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import autobahn from 'autobahn';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { SessionAbortedError, connect } from '@switchboard/client';
import type { AuthOptions } from '@switchboard/client';
import { scramAuth } from '@switchboard/client/auth/scram';
import type { ScramDialect } from '@switchboard/client/auth/scram';
import { checkConfig, scramCredentials } from '@switchboard/router';
import type { RouterConfigFile, ScramPrincipal } from '@switchboard/router';
import { verifyClientProof } from '../../src/auth/scram.js';
import { wampScramAuthMessage } from '../../src/auth/wamp-scram.js';
import { startTestRouter, within } from '../helpers.js';
import { Raw, authenticatorComponent, urlOf } from './support.js';

const FAILED = 'wamp.error.authentication_failed';
const ARGON = { kdf: 'argon2id-13', iterations: 2, memory: 256 } as const;
const PBKDF2 = { kdf: 'pbkdf2', iterations: 1000 } as const;
const REALMS: RouterConfigFile['realms'] = [
  { name: 'realm1', roles: [{ name: 'frontend' }, { name: 'backend' }] },
  {
    name: 'auth',
    roles: [{ name: 'trusted', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, subscribe: true, publish: true } }] }],
  },
];
const METHOD: Record<ScramDialect, 'scram' | 'wamp-scram'> = { crossbar: 'scram', 'wamp-scram': 'wamp-scram' };

/** alice (argon2id) and bob (pbkdf2) for one dialect: argon2id keys differ between dialects, pbkdf2 ones do not. */
async function principals(dialect: ScramDialect): Promise<Record<string, ScramPrincipal>> {
  return {
    alice: { role: 'frontend', ...(await scramCredentials('wonderland', { ...ARGON, dialect })) },
    bob: { role: 'backend', ...(await scramCredentials('bob-pässword', { ...PBKDF2, dialect })) },
  };
}

async function staticRouter(): Promise<{ crossbar: string; 'wamp-scram': string }> {
  const router = await startTestRouter({
    realms: REALMS,
    listeners: [
      { type: 'websocket', auth: { scram: { type: 'static', principals: await principals('crossbar') } } },
      { type: 'websocket', path: '/spec', auth: { 'wamp-scram': { type: 'static', principals: await principals('wamp-scram') } } },
    ],
  });
  return { crossbar: urlOf(router, 0), 'wamp-scram': urlOf(router, 1) };
}

async function joined(url: string, auth: AuthOptions): Promise<Record<string, unknown>> {
  const session = await within(connect({ url, realm: 'realm1', reconnect: false, auth }), 5000, 'a SCRAM join');
  onTestFinished(() => session.leave().catch(() => undefined));
  return session.details ?? {};
}

async function refused(url: string, auth: AuthOptions): Promise<{ reason: string; message: unknown }> {
  const error: unknown = await within(
    connect({ url, realm: 'realm1', reconnect: false, auth }).then(
      async (session) => {
        await session.leave();
        throw new Error('joined, but should have been refused');
      },
      (err: unknown) => err,
    ),
    5000,
    'a SCRAM join to be refused',
  );
  expect(error).toBeInstanceOf(SessionAbortedError);
  return { reason: (error as SessionAbortedError).reason, message: (error as SessionAbortedError).details['message'] };
}

describe.each(['crossbar', 'wamp-scram'] as const)('scramAuth against the router, static principals (%s)', (dialect) => {
  it('argon2id and pbkdf2 join, the server signature checks out; a wrong password and an unknown authid get the same ABORT', async () => {
    const url = (await staticRouter())[dialect];
    expect(await joined(url, scramAuth({ authid: 'alice', password: 'wonderland', dialect }))).toMatchObject({
      authid: 'alice',
      authrole: 'frontend',
      authmethod: METHOD[dialect],
      authprovider: 'static',
    });
    expect(await joined(url, scramAuth({ authid: 'bob', password: 'bob-pässword', dialect }))).toMatchObject({
      authid: 'bob',
      authrole: 'backend',
      authmethod: METHOD[dialect],
    });
    const wrongArgon = await refused(url, scramAuth({ authid: 'alice', password: 'looking-glass', dialect }));
    const wrongPbkdf2 = await refused(url, scramAuth({ authid: 'bob', password: 'wonderland', dialect }));
    const unknown = await refused(url, scramAuth({ authid: 'mallory', password: 'wonderland', dialect }));
    for (const outcome of [wrongArgon, wrongPbkdf2, unknown]) expect(outcome).toEqual({ reason: FAILED, message: 'authentication failed' });
  });
});

describe('the dialects are separate methods', () => {
  it('a listener with only one of them refuses the other, and argon2id keys of one dialect do not fit the other', async () => {
    const urls = await staticRouter();
    expect((await refused(urls.crossbar, scramAuth({ authid: 'bob', password: 'bob-pässword', dialect: 'wamp-scram' }))).reason).toBe(
      'wamp.error.no_auth_method',
    );
    // pbkdf2 credentials are the same for both dialects, argon2id ones are not.
    const crossbarBob = (await principals('crossbar'))['bob']!;
    const specBob = await scramCredentials('bob-pässword', { ...PBKDF2, salt: crossbarBob.salt, dialect: 'wamp-scram' });
    expect(specBob['stored-key']).toBe(crossbarBob['stored-key']);
    const salt = '00'.repeat(16);
    expect((await scramCredentials('pw', { ...ARGON, salt }))['stored-key']).not.toBe(
      (await scramCredentials('pw', { ...ARGON, salt, dialect: 'wamp-scram' }))['stored-key'],
    );
  });
});

/** HELLO wamp-scram from a raw connection; the CHALLENGE's extra. */
async function rawChallenge(url: string, authid: string, authextra: Record<string, unknown>): Promise<{ raw: Raw; frame: unknown[] }> {
  const raw = await Raw.open(url);
  raw.hello('realm1', { authmethods: ['wamp-scram'], authid, authextra });
  return { raw, frame: await raw.next() };
}

describe('wamp-scram frames', () => {
  it('CHALLENGE has the spec fields; the nonce extends the client nonce as text; an unknown authid gets the same shape with a stable salt', async () => {
    const url = (await staticRouter())['wamp-scram'];
    const clientNonce = randomBytes(16).toString('base64');
    const bob = (await rawChallenge(url, 'bob', { nonce: clientNonce, channel_binding: null })).frame;
    expect(bob[0]).toBe(MessageCode.Challenge);
    expect(bob[1]).toBe('wamp-scram');
    const extra = bob[2] as Record<string, unknown>;
    expect(Object.keys(extra).sort()).toEqual(['iterations', 'kdf', 'memory', 'nonce', 'salt']);
    expect(extra).toMatchObject({ kdf: 'pbkdf2', iterations: 1000, memory: null });
    expect(String(extra['nonce']).startsWith(clientNonce)).toBe(true);
    const alice = (await rawChallenge(url, 'alice', { nonce: clientNonce })).frame[2] as Record<string, unknown>;
    expect(alice).toMatchObject({ kdf: 'argon2id13', iterations: 2, memory: 256 });
    const mallory = (await rawChallenge(url, 'mallory', { nonce: clientNonce })).frame[2] as Record<string, unknown>;
    expect(Object.keys(mallory).sort()).toEqual(Object.keys(alice).sort());
    // An unknown authid is challenged in the shape of a real user picked per authid (#14 item 12).
    const shape = (e: Record<string, unknown>): unknown => ({ kdf: e['kdf'], iterations: e['iterations'], memory: e['memory'] });
    expect([shape(alice), shape(extra)]).toContainEqual(shape(mallory));
    expect(String(mallory['salt'])).toHaveLength(String(alice['salt']).length);
    const again = (await rawChallenge(url, 'mallory', { nonce: randomBytes(16).toString('base64') })).frame[2] as Record<string, unknown>;
    expect(again['salt']).toBe(mallory['salt']);
  });

  it('refuses a HELLO without a nonce, and a channel binding the connection does not have', async () => {
    const url = (await staticRouter())['wamp-scram'];
    expect((await rawChallenge(url, 'bob', {})).frame).toEqual([
      MessageCode.Abort,
      { message: 'wamp-scram: HELLO.authextra.nonce must be a base64 client nonce' },
      FAILED,
    ]);
    const bound = (await rawChallenge(url, 'bob', { nonce: 'AAAA', channel_binding: 'tls-unique' })).frame;
    expect(bound[0]).toBe(MessageCode.Abort);
    expect(bound[2]).toBe('wamp.error.not_authorized');
  });

  it('an AUTHENTICATE whose extra names another nonce fails like a wrong password', async () => {
    const url = (await staticRouter())['wamp-scram'];
    const { raw, frame } = await rawChallenge(url, 'bob', { nonce: 'AAAA' });
    expect(frame[0]).toBe(MessageCode.Challenge);
    raw.send([MessageCode.Authenticate, Buffer.alloc(32).toString('base64'), { nonce: 'AAAAother', channel_binding: null, cbind_data: null }]);
    expect(await raw.next()).toEqual([MessageCode.Abort, { message: 'authentication failed' }, FAILED]);
  });
});

describe('RFC 7677 SCRAM-SHA-256 test vector', () => {
  it('the router computes its AuthMessage, checks the proof and signs as the RFC does', async () => {
    const salt = 'W22ZaJ0SNY7soEsUEjb6gQ==';
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const message = wampScramAuthMessage('user', 'rOprNGfwEbeRWgbNEkqO', nonce, salt, 4096, 'biws');
    expect(message).toBe(`n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=${salt},i=4096,c=biws,r=${nonce}`);
    const creds = await scramCredentials('pencil', {
      kdf: 'pbkdf2',
      iterations: 4096,
      salt: Buffer.from(salt, 'base64').toString('hex'),
      dialect: 'wamp-scram',
    });
    const signature = verifyClientProof(
      Buffer.from(creds['stored-key'], 'hex'),
      Buffer.from(creds['server-key'], 'hex'),
      message,
      Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64'),
    );
    expect(signature).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
    expect(verifyClientProof(Buffer.from(creds['stored-key'], 'hex'), Buffer.from(creds['server-key'], 'hex'), message, Buffer.alloc(32))).toBeUndefined();
  });
});

describe.each(['crossbar', 'wamp-scram'] as const)('dynamic SCRAM (%s)', (dialect) => {
  const method = METHOD[dialect];

  it('a WAMP procedure hands over the keys (Crossbar names or snake_case); its ERROR, an unknown authid and a wrong password fail alike', async () => {
    const creds = await principals(dialect);
    const config: RouterConfigFile = {
      realms: REALMS,
      listeners: [
        { type: 'websocket', auth: { [method]: { type: 'dynamic', authenticator: 'com.example.scram', 'authenticator-realm': 'auth' } } },
        { type: 'websocket', path: '/backend', auth: { anonymous: { type: 'static', role: 'trusted', realm: 'auth' } } },
      ],
    };
    const router = await startTestRouter(config);
    const calls = await authenticatorComponent(urlOf(router, 1), 'auth', 'com.example.scram', ({ authid }) => {
      if (authid === 'alice') return { ...creds['alice'], extra: { plan: 'gold' } };
      if (authid === 'bob') {
        const { 'stored-key': storedKey, 'server-key': serverKey, ...rest } = creds['bob']!;
        return { ...rest, stored_key: storedKey, server_key: serverKey };
      }
      if (authid === 'broken') return { role: 'frontend' };
      throw new autobahn.Error('com.example.no_such_user', ['no such user']);
    });
    expect(await joined(router.url, scramAuth({ authid: 'alice', password: 'wonderland', dialect }))).toMatchObject({
      authid: 'alice',
      authrole: 'frontend',
      authmethod: method,
      authprovider: 'dynamic',
      authextra: { plan: 'gold' },
    });
    expect(await joined(router.url, scramAuth({ authid: 'bob', password: 'bob-pässword', dialect }))).toMatchObject({
      authid: 'bob',
      authrole: 'backend',
      authprovider: 'dynamic',
    });
    for (const [authid, password] of [
      ['alice', 'nope'],
      ['zed', 'wonderland'],
      ['broken', 'x'],
    ] as const) {
      expect(await refused(router.url, scramAuth({ authid, password, dialect }))).toEqual({ reason: FAILED, message: 'authentication failed' });
    }
    expect(calls[0]).toMatchObject({
      realm: 'realm1',
      authid: 'alice',
      details: { authmethod: method, authid: 'alice', authextra: { nonce: expect.any(String) } },
    });
  });

  it('a webhook hands over the keys; a non-200 answer fails like a wrong password', async () => {
    const creds = await principals(dialect);
    const server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text) as { authid: string; authmethod: string };
        const principal = body.authmethod === method ? creds[body.authid] : undefined;
        res.writeHead(principal === undefined ? 403 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(principal ?? { error: 'no' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scram`;
    const router = await startTestRouter({ realms: REALMS, listeners: [{ type: 'websocket', auth: { [method]: { type: 'webhook', url, timeoutMs: 2000 } } }] });
    expect(await joined(router.url, scramAuth({ authid: 'alice', password: 'wonderland', dialect }))).toMatchObject({
      authid: 'alice',
      authrole: 'frontend',
      authmethod: method,
      authprovider: 'webhook',
    });
    expect(await joined(router.url, scramAuth({ authid: 'bob', password: 'bob-pässword', dialect }))).toMatchObject({ authid: 'bob', authrole: 'backend' });
    expect(await refused(router.url, scramAuth({ authid: 'bob', password: 'wonderland', dialect }))).toEqual({
      reason: FAILED,
      message: 'authentication failed',
    });
    expect(await refused(router.url, scramAuth({ authid: 'nobody', password: 'wonderland', dialect }))).toEqual({
      reason: FAILED,
      message: 'authentication failed',
    });
  });
});

describe('config', () => {
  it('the schema takes wamp-scram blocks and dynamic/webhook scram, and refuses a wamp-scram block without principals', async () => {
    const base = { realms: REALMS };
    const listener = (auth: Record<string, unknown>): unknown => ({ ...base, listeners: [{ type: 'websocket', auth }] });
    const specPrincipals = await principals('wamp-scram');
    expect(() => checkConfig(listener({ 'wamp-scram': { type: 'static', principals: specPrincipals } }))).not.toThrow();
    for (const method of ['scram', 'wamp-scram']) {
      expect(() => checkConfig(listener({ [method]: { type: 'dynamic', authenticator: 'com.example.scram', 'authenticator-realm': 'auth' } }))).not.toThrow();
      expect(() => checkConfig(listener({ [method]: { type: 'webhook', url: 'https://auth.example.com/scram' } }))).not.toThrow();
    }
    expect(() => checkConfig(listener({ 'wamp-scram': { type: 'static' } }))).toThrow(/wamp-scram: missing required field 'principals'/);
    expect(() => checkConfig(listener({ 'wamp-scram': { type: 'dynamic', authenticator: 'x', 'authenticator-realm': 'nowhere' } }))).toThrow(
      /wamp-scram\/authenticator-realm: no realm named 'nowhere'/,
    );
  });
});
