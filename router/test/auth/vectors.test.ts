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

/** [ap_authentication_cryptosign: Test Vectors] channel_id null: the signed message is the challenge. */
const VECTORS: readonly { channelId: string | null; privateKey: string; challenge: string; signature: string }[] = [
  {
    channelId: null,
    privateKey: '4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510',
    challenge: 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    signature: 'b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  },
  {
    channelId: null,
    privateKey: 'd511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd',
    challenge: 'b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d',
    signature: 'd4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d',
  },
  {
    channelId: null,
    privateKey: '6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b',
    challenge: 'b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2',
    signature: '7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2',
  },
  {
    channelId: '62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff',
    privateKey: '4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510',
    challenge: 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    signature: '9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00',
  },
  {
    channelId: '62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff',
    privateKey: 'd511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd',
    challenge: 'b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d',
    signature: '305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282',
  },
  {
    channelId: '62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff',
    privateKey: '6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b',
    challenge: 'b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2',
    signature: 'ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d',
  },
];

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
    for (const [password, salt, iterations, keylen] of [['secret1', 'salt123', 100, 16], ['pässwörd 🔑', 'sälz', 1000, 32], ['x', 'y', 1, 4]] as const) {
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
