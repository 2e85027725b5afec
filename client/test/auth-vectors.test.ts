/**
 * The client's auth cryptography on its own (WebCrypto, no router): WAMP-CRA signing and salted key
 * derivation against autobahn-js's auth_cra and Crossbar's documented salted secret, and
 * WAMP-Cryptosign against the spec's test vectors (the ones router/test/auth/vectors.test.ts checks).
 */
import { describe, expect, it } from 'vitest';
import { craAnswer, craDeriveKey, craSign, ed25519Signer, ticketAuth, wampcraAuth } from '@switchboard/client/auth';
import { fromBase64Url, fromHex, toBase64, toHex } from '../src/auth/bytes.js';
import { autobahnCra, autobahnCryptosign, ed25519FromSeed } from '../../router/test/auth/support.js';

/** [ap_authentication_cryptosign: Test Vectors] */
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
    for (const [password, salt, iterations, keylen] of [['secret1', 'salt123', 100, 16], ['pässwörd 🔑', 'sälz', 1000, 32], ['x', 'y', 1, 4], ['long', 'salt', 10, 64], ['', 'salt', 5, 32], ['pw', '', 5, 32]] as const) {
      expect(await craDeriveKey(password, salt, iterations, keylen)).toBe(autobahnCra.derive_key(password, salt, iterations, keylen));
    }
    // Missing (or 0) iterations and keylen: autobahn's defaults, 1000 and 32.
    expect(await craDeriveKey('secret1', 'salt123')).toBe(autobahnCra.derive_key('secret1', 'salt123'));
    expect(await craDeriveKey('secret1', 'salt123', 0, 0)).toBe(autobahnCra.derive_key('secret1', 'salt123', 0, 0));
  });

  it('answers plain and salted CHALLENGE.Extra; refuses a malformed one and too many iterations', async () => {
    const challenge = '{"nonce":"abc"}';
    expect(await craAnswer('pw', { challenge })).toBe(autobahnCra.sign('pw', challenge));
    expect(await craAnswer('pw', { challenge, salt: 'nacl', iterations: 10, keylen: 16 })).toBe(autobahnCra.sign(autobahnCra.derive_key('pw', 'nacl', 10, 16), challenge));
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
