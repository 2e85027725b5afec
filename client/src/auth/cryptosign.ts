/**
 * WAMP-Cryptosign: HELLO.Details.authextra.pubkey is the Ed25519 public key (hex); the CHALLENGE's
 * 32 random bytes (CHALLENGE.Extra.challenge, hex) are signed, and AUTHENTICATE carries
 * hex(signature ‖ challenge). Ed25519 comes from WebCrypto: Node 20+ and current Chromium (secure
 * contexts only); a browser without Ed25519 in WebCrypto rejects `cryptosignAuth` with a clear error.
 * Channel binding is not offered (a client in the browser cannot see the TLS channel).
 */
import type { Dict } from '@switchboard/schemas/core';
import type { AuthOptions } from '../join.js';
import { fromBase64Url, fromHex, subtle, toHex } from './bytes.js';

/** The fixed DER prefix (RFC 8410) that wraps a raw 32-byte Ed25519 seed as PKCS#8. */
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');

export interface Ed25519Signer {
  /** The public key, 64 lowercase hex characters (what routers list in authorized_keys). */
  publicKey: string;
  /** hex(signature ‖ message): the AUTHENTICATE signature for a challenge (hex), XORed with `channelId` if given. */
  signChallenge(challengeHex: string, channelId?: Uint8Array): Promise<string>;
}

/** An Ed25519 key from a 32-byte seed given as 64 hex characters (the RFC 8032 private key). */
export async function ed25519Signer(seedHex: string): Promise<Ed25519Signer> {
  const seed = fromHex(seedHex.trim(), 'the cryptosign seed');
  if (seed.length !== 32) throw new Error(`the cryptosign seed must be 32 bytes (64 hex characters), not ${seed.length}`);
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + seed.length);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(seed, PKCS8_PREFIX.length);
  const crypto = subtle();
  let key: Awaited<ReturnType<typeof crypto.importKey>>;
  try {
    // Extractable, to read the public key from its JWK (WebCrypto has no "public key of" call).
    key = await crypto.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  } catch (err) {
    throw new Error(
      `this runtime's WebCrypto has no Ed25519 (${err instanceof Error ? err.message : String(err)}): cryptosign needs Node 20+ or a browser with Ed25519 in WebCrypto`,
    );
  }
  const jwk = await crypto.exportKey('jwk', key);
  if (typeof jwk.x !== 'string') throw new Error('WebCrypto exported an Ed25519 key without its public part');
  const publicKey = toHex(fromBase64Url(jwk.x));
  return {
    publicKey,
    async signChallenge(challengeHex, channelId) {
      const message = fromHex(challengeHex, 'the cryptosign challenge');
      if (message.length !== 32) throw new Error(`the cryptosign challenge must be 32 bytes, not ${message.length}`);
      if (channelId !== undefined) {
        if (channelId.length !== 32) throw new Error(`a channel ID must be 32 bytes, not ${channelId.length}`);
        for (let i = 0; i < message.length; i++) message[i] = message[i]! ^ channelId[i]!;
      }
      const signature = new Uint8Array(await crypto.sign({ name: 'Ed25519' }, key, message));
      return toHex(signature) + toHex(message);
    },
  };
}

export interface CryptosignAuthOptions {
  /** Omit to let the router find the principal by the public key. */
  authid?: string;
  /** The Ed25519 private key: a 32-byte seed as 64 hex characters. */
  seed: string;
  /** HELLO.Details.authrole (the router may ignore it). */
  authrole?: string;
  /** Merged into HELLO.Details.authextra (next to pubkey and channel_binding). */
  authextra?: Dict;
}

/**
 * The `auth` option of `connect` for WAMP-Cryptosign. Async (WebCrypto imports the key and
 * computes the public key HELLO announces): `auth: await cryptosignAuth({ seed })`.
 */
export async function cryptosignAuth(options: CryptosignAuthOptions): Promise<AuthOptions> {
  const signer = await ed25519Signer(options.seed);
  return {
    authmethods: ['cryptosign'],
    ...(options.authid !== undefined ? { authid: options.authid } : {}),
    ...(options.authrole !== undefined ? { authrole: options.authrole } : {}),
    authextra: { ...options.authextra, pubkey: signer.publicKey, channel_binding: null },
    onChallenge: async (method, extra) => {
      if (method !== 'cryptosign') throw new Error(`cryptosignAuth got a CHALLENGE for '${method}'`);
      const challenge = extra['challenge'];
      if (typeof challenge !== 'string') throw new Error('the cryptosign CHALLENGE has no challenge string');
      const binding = extra['channel_binding'];
      if (binding !== undefined && binding !== null)
        throw new Error(`the router asks for channel binding '${String(binding)}', which this client does not offer`);
      return signer.signChallenge(challenge);
    },
  };
}
