/**
 * WAMP-CRA: the signature is base64(HMAC-SHA256(key, CHALLENGE.Extra.challenge)). The key is the
 * secret itself, or for a salted user (CHALLENGE.Extra has salt, iterations, keylen) the base64
 * text of PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen), as autobahn's auth_cra.derive_key
 * and Crossbar compute it. WebCrypto only, so the same code runs in Node and the browser.
 */
import type { Dict } from '@switchboard/schemas/core';
import type { AuthOptions } from '../join.js';
import { subtle, toBase64, utf8 } from './bytes.js';

/** autobahn's defaults when a salted challenge leaves them out. */
export const CRA_DEFAULT_ITERATIONS = 1000;
export const CRA_DEFAULT_KEYLEN = 32;

/**
 * An HMAC key as bytes. WebCrypto refuses an empty key; HMAC pads the key with zero bytes to the
 * block size, so one zero byte is the same key.
 */
function hmacKeyBytes(key: string): Uint8Array<ArrayBuffer> {
  return key === '' ? new Uint8Array(1) : utf8(key);
}

/** base64(HMAC-SHA256(key, challenge)), key and challenge as UTF-8: autobahn's auth_cra.sign. */
export async function craSign(key: string, challenge: string): Promise<string> {
  const crypto = subtle();
  const hmacKey = await crypto.importKey('raw', hmacKeyBytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toBase64(new Uint8Array(await crypto.sign('HMAC', hmacKey, utf8(challenge))));
}

/**
 * The salted secret: base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen bytes)), secret and
 * salt as UTF-8: autobahn's auth_cra.derive_key (0 or missing → 1000 iterations, 32 bytes).
 */
export async function craDeriveKey(secret: string, salt: string, iterations = CRA_DEFAULT_ITERATIONS, keylen = CRA_DEFAULT_KEYLEN): Promise<string> {
  const rounds = iterations || CRA_DEFAULT_ITERATIONS;
  const length = keylen || CRA_DEFAULT_KEYLEN;
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`PBKDF2 iterations must be a positive integer, not ${iterations}`);
  if (!Number.isSafeInteger(length) || length < 1 || length > 1024) throw new Error(`PBKDF2 keylen must be an integer from 1 to 1024, not ${keylen}`);
  const crypto = subtle();
  const base = await crypto.importKey('raw', hmacKeyBytes(secret), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: utf8(salt), iterations: rounds }, base, length * 8);
  return toBase64(new Uint8Array(bits));
}

export interface WampcraAuthOptions {
  authid: string;
  /** The password (for a salted user, the one the router's derived key was made from). */
  secret: string;
  /** HELLO.Details.authrole (the router may ignore it). */
  authrole?: string;
  authextra?: Dict;
  /**
   * The most PBKDF2 iterations a CHALLENGE may ask for (default 1,000,000): a larger number is
   * refused rather than computed, so a hostile router cannot keep the client busy.
   */
  maxIterations?: number;
}

/** Answers one WAMP-CRA CHALLENGE.Extra with `secret`: the AUTHENTICATE signature. */
export async function craAnswer(secret: string, extra: Dict, maxIterations = 1_000_000): Promise<string> {
  const challenge = extra['challenge'];
  if (typeof challenge !== 'string') throw new Error('the wampcra CHALLENGE has no challenge string');
  const salt = extra['salt'];
  if (salt === undefined || salt === null) return craSign(secret, challenge);
  if (typeof salt !== 'string') throw new Error('the wampcra CHALLENGE has a salt that is not a string');
  const iterations = numberOr(extra['iterations'], 'iterations');
  const keylen = numberOr(extra['keylen'], 'keylen');
  if (iterations !== undefined && iterations > maxIterations)
    throw new Error(`the wampcra CHALLENGE asks for ${iterations} PBKDF2 iterations (more than maxIterations ${maxIterations})`);
  return craSign(await craDeriveKey(secret, salt, iterations, keylen), challenge);
}

function numberOr(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw new Error(`the wampcra CHALLENGE has a ${name} that is not a number`);
  return value;
}

/** The `auth` option of `connect` for WAMP-CRA, salted or not. */
export function wampcraAuth(options: WampcraAuthOptions): AuthOptions {
  const { authid, secret, maxIterations } = options;
  return {
    authmethods: ['wampcra'],
    authid,
    ...(options.authrole !== undefined ? { authrole: options.authrole } : {}),
    ...(options.authextra !== undefined ? { authextra: options.authextra } : {}),
    onChallenge: async (method, extra) => {
      if (method !== 'wampcra') throw new Error(`wampcraAuth got a CHALLENGE for '${method}'`);
      return craAnswer(secret, extra, maxIterations);
    },
  };
}
