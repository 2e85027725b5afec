/**
 * The cryptography against published values: the WAMP spec's WAMP-Cryptosign test vectors
 * (wamp-proto rfc/text/advanced/ap_35_authentication_cryptosign.md, "Test Vectors"), and WAMP-CRA
 * key derivation and signing against autobahn-js and Crossbar's documented salted secret.
 */
import { describe, expect, it } from 'vitest';
import { signedMessage, verifyCryptosign } from '../../src/auth/cryptosign.js';
import { deriveKey, signChallenge } from '../../src/auth/wampcra.js';
import { safeEqual } from '../../src/auth/failure.js';
import { autobahnCra, autobahnCryptosign, ed25519FromSeed, signCryptosign } from './support.js';
import { CRYPTOSIGN_VECTORS } from '../fixtures/cryptosign-vectors.js';

const VECTORS = CRYPTOSIGN_VECTORS;

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

describe('WAMP-Cryptosign test vectors', () => {
  it.each(VECTORS.map((v, i) => [i + 1, v] as const))('vector %i: the router accepts the spec signature and a client signs it the same', (_n, v) => {
    const key = ed25519FromSeed(v.privateKey);
    const channelId = v.channelId === null ? undefined : hex(v.channelId);
    const message = signedMessage(hex(v.challenge), channelId);
    // The router side.
    expect(verifyCryptosign(key.publicKeyHex, message, v.signature)).toBe(true);
    expect(verifyCryptosign(key.publicKeyHex.toUpperCase(), message, v.signature.toUpperCase())).toBe(true);
    // Ed25519 is deterministic: signing the same message gives the vector's bytes.
    expect(signCryptosign(key, v.challenge, channelId)).toBe(v.signature);
    if (channelId === undefined) {
      // autobahn-js's own client code agrees (it knows no channel binding).
      expect(autobahnCryptosign.sign_challenge(key.pair, { challenge: v.challenge })).toBe(v.signature);
      expect(autobahnCryptosign.public_key(key.pair)).toBe(key.publicKeyHex);
    }
  });

  it('refuses a flipped signature bit, another message, another key, a bound/unbound mix-up, and malformed hex', () => {
    const v = VECTORS[3]!;
    const key = ed25519FromSeed(v.privateKey);
    const bound = signedMessage(hex(v.challenge), hex(v.channelId!));
    const flip = (s: string, at: number): string => s.slice(0, at) + (s[at] === '0' ? '1' : '0') + s.slice(at + 1);
    expect(verifyCryptosign(key.publicKeyHex, bound, flip(v.signature, 10))).toBe(false);
    // The signature is right but the echoed message is not the one expected.
    expect(verifyCryptosign(key.publicKeyHex, bound, flip(v.signature, 150))).toBe(false);
    expect(verifyCryptosign(key.publicKeyHex, hex(v.challenge), v.signature)).toBe(false);
    expect(verifyCryptosign(ed25519FromSeed(VECTORS[1]!.privateKey).publicKeyHex, bound, v.signature)).toBe(false);
    expect(verifyCryptosign(key.publicKeyHex, bound, v.signature.slice(2))).toBe(false);
    expect(verifyCryptosign(key.publicKeyHex, bound, `${v.signature.slice(0, -2)}zz`)).toBe(false);
    expect(verifyCryptosign('00'.repeat(32), bound, v.signature)).toBe(false);
    expect(verifyCryptosign(key.publicKeyHex, bound, '')).toBe(false);
  });
});

describe('WAMP-CRA keys and signatures', () => {
  it('derives the salted key autobahn-js derives, and Crossbar documents', () => {
    // crossbar.io docs (WAMP-CRA, salted): secret1 / salt123 / 100 iterations / 16 bytes.
    expect(deriveKey('secret1', 'salt123', 100, 16)).toBe('prq7+YkJ1/KlW1X0YczMHw==');
    for (const [password, salt, iterations, keylen] of [
      ['secret1', 'salt123', 100, 16],
      ['pässwörd 🔑', 'sälz', 1000, 32],
      ['x', 'y', 1, 4],
    ] as const) {
      expect(deriveKey(password, salt, iterations, keylen)).toBe(autobahnCra.derive_key(password, salt, iterations, keylen));
    }
    expect(deriveKey('secret1', 'salt123')).toBe(autobahnCra.derive_key('secret1', 'salt123'));
  });

  it('signs a challenge as autobahn-js does', () => {
    const challenge = JSON.stringify({ authid: 'jöe', authrole: 'frontend', nonce: 'n', session: 1 });
    for (const key of ['secret1', 'prq7+YkJ1/KlW1X0YczMHw==', 'ünïcödé']) expect(signChallenge(key, challenge)).toBe(autobahnCra.sign(key, challenge));
  });

  it('compares secrets whatever their lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', '')).toBe(true);
  });
});
