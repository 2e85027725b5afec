/**
 * WAMP-SCRAM (Crossbar's and autobahn-python's dialect) against static principals whose
 * credentials scramCredentials computed. The client side here is written from RFC 5802 and
 * autobahn-python's AuthScram, independently of router/src/auth/scram.ts: node:crypto for HMAC,
 * SHA-256 and PBKDF2, hash-wasm for argon2id. It checks the router's server signature too.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { argon2id } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { checkConfig, scramCredentials } from '@switchboard/router';
import type { RouterConfigFile, ScramPrincipal } from '@switchboard/router';
import { startTestRouter } from '../helpers.js';
import { Raw } from './support.js';

const FAILED = { message: 'authentication failed' };
const FAILED_REASON = 'wamp.error.authentication_failed';

/** Cheap KDF parameters: the tests are about the protocol, not the cost. */
const ARGON = { kdf: 'argon2id-13', iterations: 2, memory: 256 } as const;
const PBKDF2 = { kdf: 'pbkdf2', iterations: 1000 } as const;

async function config(): Promise<RouterConfigFile> {
  const alice: ScramPrincipal = { role: 'frontend', ...(await scramCredentials('wonderland', ARGON)) };
  const bob: ScramPrincipal = { role: 'backend', ...(await scramCredentials('bob-pässword', { ...PBKDF2, salt: '00112233445566778899aabbccddeeff' })) };
  return {
    realms: [{ name: 'realm1', roles: [{ name: 'frontend' }, { name: 'backend' }] }],
    listeners: [{ type: 'websocket', auth: { scram: { type: 'static', principals: { alice, bob } } } }],
  };
}

/** The client's SaltedPassword, as autobahn-python's AuthScram derives it. */
async function clientSaltedPassword(password: string, extra: Record<string, unknown>): Promise<Buffer> {
  const salt = Buffer.from(String(extra['salt']), 'base64');
  const iterations = Number(extra['iterations']);
  if (extra['kdf'] === 'pbkdf2') return pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  expect(extra['kdf']).toBe('argon2id-13');
  const raw = await argon2id({ password, salt, iterations, memorySize: Number(extra['memory']), parallelism: 1, hashLength: 32, outputType: 'binary' });
  // argon2-cffi's encoded hash carries the hash as unpadded base64; autobahn keys HMAC with that text.
  return Buffer.from(Buffer.from(raw).toString('base64').replace(/=+$/, ''), 'ascii');
}

interface Outcome {
  /** The CHALLENGE.extra the router sent. */
  extra: Record<string, unknown>;
  /** WELCOME or ABORT. */
  last: unknown[];
  /** Whether WELCOME.authextra.scram_server_signature is the one the client computed. */
  serverVerified?: boolean;
}

/** HELLO (authmethods ['scram'], authextra.nonce), CHALLENGE, AUTHENTICATE with the ClientProof; the WELCOME or ABORT. */
async function scramJoin(url: string, authid: string, password: string): Promise<Outcome> {
  const raw = await Raw.open(url);
  const clientNonce = randomBytes(16).toString('base64');
  raw.hello('realm1', { authmethods: ['scram'], authid, authextra: { nonce: clientNonce } });
  const challenge = await raw.next();
  expect(challenge[0]).toBe(MessageCode.Challenge);
  expect(challenge[1]).toBe('scram');
  const extra = challenge[2] as Record<string, unknown>;
  const nonce = String(extra['nonce']);
  expect(Buffer.from(nonce, 'base64').subarray(0, 16).toString('base64')).toBe(clientNonce);
  const authMessage = `n=${authid},r=${clientNonce},r=${nonce},s=${String(extra['salt'])},i=${String(extra['iterations'])},c=,r=${nonce}`;
  const salted = await clientSaltedPassword(password, extra);
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ clientSignature[i]!));
  raw.send([MessageCode.Authenticate, proof.toString('base64'), {}]);
  const last = await raw.next();
  if (last[0] !== MessageCode.Welcome) return { extra, last };
  const details = last[2] as { authextra?: { scram_server_signature?: unknown } };
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const expected = createHmac('sha256', serverKey).update(authMessage).digest();
  const given = Buffer.from(String(details.authextra?.scram_server_signature), 'base64');
  return { extra, last, serverVerified: given.length === expected.length && timingSafeEqual(given, expected) };
}

describe('scram, static principals', () => {
  it('argon2id-13: the right password joins and the server signature checks out', async () => {
    const router = await startTestRouter(await config());
    const { extra, last, serverVerified } = await scramJoin(router.url, 'alice', 'wonderland');
    expect(Object.keys(extra).sort()).toEqual(['iterations', 'kdf', 'memory', 'nonce', 'salt']);
    expect(extra).toMatchObject({ kdf: 'argon2id-13', iterations: ARGON.iterations, memory: ARGON.memory });
    expect(last[0]).toBe(MessageCode.Welcome);
    expect(last[2]).toMatchObject({ authid: 'alice', authrole: 'frontend', authmethod: 'scram', authprovider: 'static' });
    expect(serverVerified).toBe(true);
  });

  it('pbkdf2: the right password joins and the server signature checks out', async () => {
    const router = await startTestRouter(await config());
    const { extra, last, serverVerified } = await scramJoin(router.url, 'bob', 'bob-pässword');
    expect(Object.keys(extra).sort()).toEqual(['iterations', 'kdf', 'nonce', 'salt']);
    expect(extra).toMatchObject({ kdf: 'pbkdf2', iterations: 1000, salt: Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64') });
    expect(last[0]).toBe(MessageCode.Welcome);
    expect(last[2]).toMatchObject({ authid: 'bob', authrole: 'backend', authmethod: 'scram' });
    expect(serverVerified).toBe(true);
  });

  it('a wrong password and an unknown authid get the same ABORT; the unknown one a challenge of the same shape', async () => {
    const router = await startTestRouter(await config());
    const wrongArgon = await scramJoin(router.url, 'alice', 'looking-glass');
    const wrongPbkdf2 = await scramJoin(router.url, 'bob', 'wonderland');
    const unknown = await scramJoin(router.url, 'mallory', 'wonderland');
    for (const outcome of [wrongArgon, wrongPbkdf2, unknown]) expect(outcome.last).toEqual([MessageCode.Abort, FAILED, FAILED_REASON]);
    // An unknown authid is challenged in the shape of a real user picked per authid (#14 item 12).
    const shape = (extra: Record<string, unknown>): unknown => ({
      keys: Object.keys(extra).sort(),
      kdf: extra['kdf'],
      iterations: extra['iterations'],
      memory: extra['memory'],
    });
    expect([shape(wrongArgon.extra), shape(wrongPbkdf2.extra)]).toContainEqual(shape(unknown.extra));
    expect(String(unknown.extra['salt'])).toHaveLength(String(wrongArgon.extra['salt']).length);
    // The decoy salt is stable per authid, so asking twice reveals nothing.
    expect((await scramJoin(router.url, 'mallory', 'x')).extra['salt']).toBe(unknown.extra['salt']);
  });

  it('refuses a HELLO without a client nonce', async () => {
    const router = await startTestRouter(await config());
    const raw = await Raw.open(router.url);
    raw.hello('realm1', { authmethods: ['scram'], authid: 'alice' });
    const abort = await raw.next();
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(FAILED_REASON);
  });

  it('scramCredentials matches autobahn-python derive_scram_credential shape (hex values)', async () => {
    const creds = await scramCredentials('pw', { ...ARGON, salt: 'ab'.repeat(16) });
    expect(creds).toEqual({
      kdf: 'argon2id-13',
      iterations: 2,
      memory: 256,
      salt: 'ab'.repeat(16),
      'stored-key': expect.stringMatching(/^[0-9a-f]{64}$/),
      'server-key': expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('the config schema accepts scram principals and refuses an argon2id one without memory, or keys that are not hex', async () => {
    const good = await config();
    expect(() => checkConfig(good)).not.toThrow();
    const principal = { role: 'frontend', ...(await scramCredentials('pw', ARGON)) };
    const withPrincipal = (p: Record<string, unknown>): unknown => ({
      ...good,
      listeners: [{ type: 'websocket', auth: { scram: { type: 'static', principals: { alice: p } } } }],
    });
    const { memory: _memory, ...noMemory } = principal;
    expect(() => checkConfig(withPrincipal(noMemory))).toThrow(/memory/);
    expect(() => checkConfig(withPrincipal({ ...principal, 'stored-key': 'not hex' }))).toThrow(/stored-key/);
    expect(() => checkConfig(withPrincipal({ ...principal, kdf: 'scrypt' }))).toThrow(/kdf/);
  });
});
