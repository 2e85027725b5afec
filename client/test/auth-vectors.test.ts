/**
 * The client's auth cryptography on its own (WebCrypto, no router): WAMP-CRA signing and salted key
 * derivation against autobahn-js's auth_cra and Crossbar's documented salted secret, and
 * WAMP-Cryptosign against the spec's test vectors (the ones router/test/auth/vectors.test.ts checks).
 */
import { describe, expect, it } from 'vitest';
import { craAnswer, craDeriveKey, craSign, ed25519Signer, ticketAuth, wampcraAuth } from '@switchboard/client/auth';
import { fromBase64Url, fromHex, toBase64, toHex } from '../src/auth/bytes.js';
import { autobahnCra, autobahnCryptosign, ed25519FromSeed } from '../../router/test/auth/support.js';
import { CRYPTOSIGN_VECTORS } from '../../router/test/fixtures/cryptosign-vectors.js';

const VECTORS = CRYPTOSIGN_VECTORS;

describe('WAMP-Cryptosign signing (WebCrypto Ed25519)', () => {
  it.each(VECTORS.map((v, i) => [i + 1, v] as const))('vector %i: the spec signature and the public key node:crypto and autobahn-js compute', async (_n, v) => {
    const signer = await ed25519Signer(v.privateKey);
    const reference = ed25519FromSeed(v.privateKey);
    expect(signer.publicKey).toBe(reference.publicKeyHex);
    expect(await signer.signChallenge(v.challenge, v.channelId === null ? undefined : fromHex(v.channelId))).toBe(v.signature);
    if (v.channelId === null) {
      expect(signer.publicKey).toBe(autobahnCryptosign.public_key(reference.pair));
      expect(await signer.signChallenge(v.challenge.toUpperCase())).toBe(autobahnCryptosign.sign_challenge(reference.pair, { challenge: v.challenge }));
    }
  });

  it('refuses a seed or challenge of the wrong size or not hex', async () => {
    await expect(ed25519Signer('abcd')).rejects.toThrow(/32 bytes/);
    await expect(ed25519Signer('zz'.repeat(32))).rejects.toThrow(/not hex/);
    const signer = await ed25519Signer(VECTORS[0]!.privateKey);
    await expect(signer.signChallenge('ff'.repeat(16))).rejects.toThrow(/32 bytes/);
    await expect(signer.signChallenge('x')).rejects.toThrow(/not hex/);
  });
});

describe('WAMP-CRA (WebCrypto HMAC-SHA256 and PBKDF2)', () => {
  it('signs a challenge as autobahn-js auth_cra.sign does', async () => {
    const challenge = JSON.stringify({ authid: 'jöe', authrole: 'frontend', authmethod: 'wampcra', nonce: 'n0nce', session: 1 });
    for (const key of ['secret1', 'prq7+YkJ1/KlW1X0YczMHw==', 'ünïcödé 🔑', '']) expect(await craSign(key, challenge)).toBe(autobahnCra.sign(key, challenge));
  });

  it('derives the salted key autobahn-js auth_cra.derive_key derives, and Crossbar documents', async () => {
    // crossbar.io docs (WAMP-CRA, salted): secret1 / salt123 / 100 iterations / 16 bytes.
    expect(await craDeriveKey('secret1', 'salt123', 100, 16)).toBe('prq7+YkJ1/KlW1X0YczMHw==');
    for (const [password, salt, iterations, keylen] of [
      ['secret1', 'salt123', 100, 16],
      ['pässwörd 🔑', 'sälz', 1000, 32],
      ['x', 'y', 1, 4],
      ['long', 'salt', 10, 64],
      ['', 'salt', 5, 32],
      ['pw', '', 5, 32],
    ] as const) {
      expect(await craDeriveKey(password, salt, iterations, keylen)).toBe(autobahnCra.derive_key(password, salt, iterations, keylen));
    }
    // Missing (or 0) iterations and keylen: autobahn's defaults, 1000 and 32.
    expect(await craDeriveKey('secret1', 'salt123')).toBe(autobahnCra.derive_key('secret1', 'salt123'));
    expect(await craDeriveKey('secret1', 'salt123', 0, 0)).toBe(autobahnCra.derive_key('secret1', 'salt123', 0, 0));
  });

  it('answers plain and salted CHALLENGE.Extra; refuses a malformed one and too many iterations', async () => {
    const challenge = '{"nonce":"abc"}';
    expect(await craAnswer('pw', { challenge })).toBe(autobahnCra.sign('pw', challenge));
    expect(await craAnswer('pw', { challenge, salt: 'nacl', iterations: 10, keylen: 16 })).toBe(
      autobahnCra.sign(autobahnCra.derive_key('pw', 'nacl', 10, 16), challenge),
    );
    expect(await craAnswer('pw', { challenge, salt: 'nacl' })).toBe(autobahnCra.sign(autobahnCra.derive_key('pw', 'nacl'), challenge));
    await expect(craAnswer('pw', {})).rejects.toThrow(/no challenge/);
    await expect(craAnswer('pw', { challenge, salt: 5 })).rejects.toThrow(/salt/);
    await expect(craAnswer('pw', { challenge, salt: 's', iterations: '10' })).rejects.toThrow(/iterations/);
    await expect(craAnswer('pw', { challenge, salt: 's', iterations: 1.5 })).rejects.toThrow(/iterations/);
    await expect(craAnswer('pw', { challenge, salt: 's', iterations: 2_000_000 })).rejects.toThrow(/maxIterations/);
  });

  it('the hooks refuse a CHALLENGE for another method', async () => {
    const cra = wampcraAuth({ authid: 'a', secret: 's' });
    await expect(Promise.resolve().then(() => cra.onChallenge!('ticket', {}))).rejects.toThrow(/wampcraAuth got a CHALLENGE for 'ticket'/);
    const ticket = ticketAuth({ authid: 'a', ticket: 't' });
    expect(ticket).toMatchObject({ authmethods: ['ticket'], authid: 'a' });
    expect(await ticket.onChallenge!('ticket', {})).toBe('t');
    expect(() => ticket.onChallenge!('wampcra', {})).toThrow(/ticketAuth/);
  });
});

describe('byte helpers', () => {
  it('base64 and hex agree with Buffer for every length up to 64', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n * 11) & 0xff);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
      expect(fromHex(toHex(bytes))).toEqual(bytes);
      expect(fromBase64Url(Buffer.from(bytes).toString('base64url'))).toEqual(bytes);
    }
  });
});
