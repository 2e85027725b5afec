/**
 * `@switchboard/client/auth/scram`: SCRAM-SHA-256 (RFC 5802 / RFC 7677) in two dialects.
 *
 * - `crossbar` (authmethod `scram`, what Crossbar and autobahn-python speak): the CHALLENGE nonce is
 *   base64(client nonce bytes ‖ server bytes), the AuthMessage has an empty `c=`, argon2id's salted
 *   password is the unpadded base64 TEXT of the hash, and WELCOME.Details.authextra carries
 *   `scram_server_signature`.
 * - `wamp-scram` (the WAMP spec): the CHALLENGE nonce is the client nonce text followed by the
 *   server's, the AuthMessage escapes the authid and has `c=biws` (gs2 header "n,,": no channel
 *   binding, which a browser cannot see), argon2id's salted password is the 32-byte hash, the
 *   password is normalized (NFKC), and WELCOME.Details.authextra carries `verifier`.
 *
 * PBKDF2, HMAC and SHA-256 come from WebCrypto, argon2id from hash-wasm (only its argon2 part ends
 * up in the bundle), so this runs in Node and the browser. It is its own entry point (and
 * bundle, dist/bundle/auth-scram.js) so that `@switchboard/client/auth` stays small. The router's
 * signature is checked before the join completes: a router that does not know the credentials
 * cannot finish the join.
 */
import { argon2id } from 'hash-wasm';
import type { Dict } from '@switchboard/schemas/core';
import type { AuthAttempt, AuthOptions } from '../join.js';
import { fromBase64Url, subtle, toBase64, utf8 } from './bytes.js';

export type ScramDialect = 'crossbar' | 'wamp-scram';

/** Strict standard base64 → bytes, or undefined. */
function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return fromBase64Url(text);
}

function randomNonce(): string {
  return toBase64(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

/** RFC 5802 saslname: `=` → `=3D`, `,` → `=2C`. */
function escapeName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export interface ScramMessageParts {
  authid: string;
  /** HELLO.Details.authextra.nonce */
  clientNonce: string;
  /** CHALLENGE.Extra.nonce */
  nonce: string;
  /** CHALLENGE.Extra.salt (base64, as sent) */
  salt: string;
  iterations: number;
}

/** The AuthMessage both peers sign, in `dialect` (no channel binding). */
export function scramAuthMessage(dialect: ScramDialect, parts: ScramMessageParts): string {
  const { clientNonce, nonce, salt, iterations } = parts;
  const authid = parts.authid.normalize('NFKC');
  if (dialect === 'crossbar') return `n=${authid},r=${clientNonce},r=${nonce},s=${salt},i=${iterations},c=,r=${nonce}`;
  // base64("n,,") = "biws": the gs2 header without channel binding.
  return `n=${escapeName(authid)},r=${clientNonce},r=${nonce},s=${salt},i=${iterations},c=biws,r=${nonce}`;
}

export interface ScramKdfParams {
  /** argon2id-13 / argon2id13, or pbkdf2 */
  kdf: string;
  salt: Uint8Array;
  iterations: number;
  /** KiB; argon2id only. */
  memory?: number;
}

/** SaltedPassword for `dialect` (see the module comment for how the dialects differ). */
export async function scramSaltedPassword(dialect: ScramDialect, password: string, params: ScramKdfParams): Promise<Uint8Array<ArrayBuffer>> {
  const secret = utf8(dialect === 'wamp-scram' ? password.normalize('NFKC') : password);
  const { kdf, salt, iterations } = params;
  if (kdf === 'pbkdf2') {
    const crypto = subtle();
    // WebCrypto refuses an empty key; HMAC pads keys with zero bytes, so one zero byte is the same key.
    const base = await crypto.importKey('raw', secret.length === 0 ? new Uint8Array(1) : secret, 'PBKDF2', false, ['deriveBits']);
    return new Uint8Array(await crypto.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations }, base, 256));
  }
  if (kdf !== 'argon2id-13' && kdf !== 'argon2id13') throw new Error(`the SCRAM CHALLENGE asks for KDF '${kdf}' (this client knows argon2id13 and pbkdf2)`);
  if (params.memory === undefined) throw new Error('the SCRAM CHALLENGE asks for argon2id without a memory cost');
  const hash = await argon2id({ password: secret, salt, parallelism: 1, iterations, memorySize: params.memory, hashLength: 32, outputType: 'binary' });
  if (dialect === 'wamp-scram') return new Uint8Array(hash);
  return utf8(toBase64(hash).replace(/=+$/, ''));
}

async function hmac(key: Uint8Array, message: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const crypto = subtle();
  const k = await crypto.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.sign('HMAC', k, new Uint8Array(message)));
}

/** ClientProof and ServerSignature (both base64) for a salted password and an AuthMessage. */
export async function scramProof(saltedPassword: Uint8Array, authMessage: string): Promise<{ proof: string; serverSignature: string }> {
  const clientKey = await hmac(saltedPassword, utf8('Client Key'));
  const storedKey = new Uint8Array(await subtle().digest('SHA-256', clientKey));
  const clientSignature = await hmac(storedKey, utf8(authMessage));
  const proof = clientKey.map((b, i) => b ^ clientSignature[i]!);
  const serverKey = await hmac(saltedPassword, utf8('Server Key'));
  const serverSignature = await hmac(serverKey, utf8(authMessage));
  return { proof: toBase64(proof), serverSignature: toBase64(serverSignature) };
}

export interface ScramAuthOptions {
  authid: string;
  password: string;
  /** `crossbar` (authmethod `scram`, the default: Crossbar, autobahn-python, Switchboard) or the spec's `wamp-scram`. */
  dialect?: ScramDialect;
  /** HELLO.Details.authrole (the router may ignore it). */
  authrole?: string;
  /** Merged into HELLO.Details.authextra (next to nonce). */
  authextra?: Dict;
  /** The most PBKDF2 iterations a CHALLENGE may ask for (default 10,000,000); more is refused, not computed. */
  maxIterations?: number;
  /** The most argon2id memory (KiB) a CHALLENGE may ask for (default 262144, 256 MiB), and time cost (default 64). */
  maxMemory?: number;
  maxArgonIterations?: number;
}

function integer(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new Error(`the SCRAM CHALLENGE has no valid ${name}`);
  return value;
}

/** Constant-time enough for comparing two base64 signatures of equal length. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The `auth` option of `connect` for SCRAM: `auth: scramAuth({ authid, password })`. Every join
 * sends a fresh nonce, and a WELCOME whose server signature is missing or wrong ends the join with
 * wamp.error.authentication_failed.
 */
export function scramAuth(options: ScramAuthOptions): AuthOptions {
  const dialect = options.dialect ?? 'crossbar';
  const method = dialect === 'crossbar' ? 'scram' : 'wamp-scram';
  const { authid, password } = options;
  const maxIterations = options.maxIterations ?? 10_000_000;
  const maxMemory = options.maxMemory ?? 262_144;
  const maxArgonIterations = options.maxArgonIterations ?? 64;
  return {
    authmethods: [method],
    authid,
    ...(options.authrole !== undefined ? { authrole: options.authrole } : {}),
    ...(options.authextra !== undefined ? { authextra: options.authextra } : {}),
    attempt: (): AuthAttempt => {
      const clientNonce = randomNonce();
      let expected: string | undefined;
      return {
        authextra: dialect === 'crossbar' ? { nonce: clientNonce } : { nonce: clientNonce, channel_binding: null },
        onChallenge: async (challengeMethod, extra) => {
          if (challengeMethod !== method) throw new Error(`scramAuth got a CHALLENGE for '${challengeMethod}' (expected '${method}')`);
          const nonce = extra['nonce'];
          const saltText = extra['salt'];
          if (typeof nonce !== 'string' || typeof saltText !== 'string') throw new Error('the SCRAM CHALLENGE has no nonce or salt');
          const nonceBytes = fromBase64(nonce);
          const clientBytes = fromBase64(clientNonce)!;
          const extends_ =
            dialect === 'crossbar'
              ? nonceBytes !== undefined && nonceBytes.length > clientBytes.length && clientBytes.every((b, i) => nonceBytes[i] === b)
              : nonce.length > clientNonce.length && nonce.startsWith(clientNonce);
          if (!extends_) throw new Error('the SCRAM CHALLENGE nonce does not extend the client nonce');
          const salt = fromBase64(saltText);
          if (salt === undefined) throw new Error('the SCRAM CHALLENGE salt is not base64');
          const kdf = String(extra['kdf']);
          const iterations = integer(extra['iterations'], 'iterations');
          const params: ScramKdfParams = { kdf, salt, iterations };
          if (kdf === 'pbkdf2') {
            if (iterations > maxIterations)
              throw new Error(`the SCRAM CHALLENGE asks for ${iterations} PBKDF2 iterations (more than maxIterations ${maxIterations})`);
          } else {
            params.memory = integer(extra['memory'], 'memory');
            if (params.memory > maxMemory)
              throw new Error(`the SCRAM CHALLENGE asks for ${params.memory} KiB of argon2id memory (more than maxMemory ${maxMemory})`);
            if (iterations > maxArgonIterations)
              throw new Error(`the SCRAM CHALLENGE asks for argon2id time cost ${iterations} (more than maxArgonIterations ${maxArgonIterations})`);
          }
          const salted = await scramSaltedPassword(dialect, password, params);
          const message = scramAuthMessage(dialect, { authid, clientNonce, nonce, salt: saltText, iterations });
          const { proof, serverSignature } = await scramProof(salted, message);
          expected = serverSignature;
          return dialect === 'crossbar' ? { signature: proof } : { signature: proof, extra: { nonce, channel_binding: null, cbind_data: null } };
        },
        onWelcome: (details) => {
          if (details['authmethod'] !== undefined && details['authmethod'] !== method)
            throw new Error(`the router welcomed with authmethod '${String(details['authmethod'])}' instead of '${method}'`);
          if (expected === undefined) throw new Error('the router sent WELCOME without a SCRAM exchange, so it proved nothing');
          const authextra = details['authextra'];
          const given =
            typeof authextra === 'object' && authextra !== null
              ? (authextra as Dict)[dialect === 'crossbar' ? 'scram_server_signature' : 'verifier']
              : undefined;
          if (typeof given !== 'string') throw new Error('the WELCOME carries no SCRAM server signature');
          // The spec's example writes the verifier as RFC 5802's "v=<base64>"; take either.
          if (!sameText(given.replace(/^v=/, ''), expected)) throw new Error("the router's SCRAM server signature is wrong: it does not know this password");
        },
      };
    },
  };
}
