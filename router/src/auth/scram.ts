/**
 * WAMP-SCRAM, in the dialect Crossbar (crossbar/router/auth/scram.py) and autobahn-python
 * (autobahn/wamp/auth.py AuthScram) speak. [wamp-scram, RFC 5802 / RFC 7677]
 *
 * HELLO.authextra.nonce is the client nonce (base64). CHALLENGE.extra is {nonce: base64(client
 * nonce ‖ 16 random bytes), kdf, salt (base64), iterations, memory}. Both sides build
 *   AuthMessage = "n=<authid>,r=<client nonce>,r=<nonce>,s=<salt>,i=<iterations>,c=,r=<nonce>"
 * and the client answers AUTHENTICATE.signature = base64(ClientProof), ClientProof = ClientKey XOR
 * HMAC(StoredKey, AuthMessage). The router recovers ClientKey, checks H(ClientKey) == StoredKey in
 * constant time and sends WELCOME.Details.authextra.scram_server_signature =
 * base64(HMAC(ServerKey, AuthMessage)) so the client can check the router knew its credentials.
 *
 * The router holds only salt, StoredKey and ServerKey (hex, as Crossbar's config and autobahn's
 * `derive_scram_credential` write them), never the password: it never runs the KDF.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { argon2id } from 'hash-wasm';
import type { Dict } from '@switchboard/schemas';
import { AUTHENTICATION_FAILED, malformed } from './failure.js';
import type { AuthResult, Authenticator, HelloInfo } from './types.js';

/** The KDF names: autobahn-python accepts `argon2id-13` (and `pbkdf2`); `argon2id13` is taken as the same. */
export type ScramKdf = 'argon2id-13' | 'argon2id13' | 'pbkdf2';

/** One entry of `principals` (Crossbar's shape; salt and keys as hex). */
export interface ScramPrincipal {
  role: string;
  realm?: string;
  kdf: ScramKdf;
  iterations: number;
  /** Argon2 memory cost in KiB (required for argon2id). */
  memory?: number;
  /** Hex. */
  salt: string;
  /** Hex: SHA-256(ClientKey). */
  'stored-key': string;
  /** Hex: HMAC(SaltedPassword, "Server Key"). */
  'server-key': string;
}

export interface ScramConfig {
  type: 'static';
  principals: Record<string, ScramPrincipal>;
}

/** What the wire calls the KDF (autobahn-python refuses anything but these two). */
function wireKdf(kdf: ScramKdf): 'argon2id-13' | 'pbkdf2' {
  return kdf === 'pbkdf2' ? 'pbkdf2' : 'argon2id-13';
}

/**
 * The salted password, as the client derives it. argon2id: parallelism 1, 32 bytes, and (as
 * autobahn-python does) the key is the unpadded base64 TEXT of the hash; pbkdf2: PBKDF2-HMAC-SHA256
 * of the salt's bytes, 32 raw bytes.
 */
export async function saltedPassword(password: string, kdf: ScramKdf, salt: Uint8Array, iterations: number, memory?: number): Promise<Buffer> {
  if (kdf === 'pbkdf2') return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  if (memory === undefined) throw new Error('argon2id needs a memory cost (KiB)');
  const hash = await argon2id({ password: Buffer.from(password, 'utf8'), salt, parallelism: 1, iterations, memorySize: memory, hashLength: 32, outputType: 'binary' });
  return Buffer.from(Buffer.from(hash).toString('base64').replace(/=+$/, ''), 'ascii');
}

export interface ScramCredentialOptions {
  kdf: ScramKdf;
  iterations: number;
  /** KiB; argon2id only. */
  memory?: number;
  /** Hex; 16 random bytes when absent. */
  salt?: string;
}

/** The values a `scram` principal stores for `password` (salt, stored-key and server-key as hex). */
export async function scramCredentials(password: string, options: ScramCredentialOptions): Promise<Omit<ScramPrincipal, 'role' | 'realm'>> {
  const salt = options.salt !== undefined ? Buffer.from(options.salt, 'hex') : randomBytes(16);
  const salted = await saltedPassword(password, options.kdf, salt, options.iterations, options.memory);
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const out: Omit<ScramPrincipal, 'role' | 'realm'> = {
    kdf: options.kdf,
    iterations: options.iterations,
    salt: salt.toString('hex'),
    'stored-key': createHash('sha256').update(clientKey).digest('hex'),
    'server-key': createHmac('sha256', salted).update('Server Key').digest('hex'),
  };
  if (options.memory !== undefined) out.memory = options.memory;
  return out;
}

/** RFC 5802's AuthMessage without channel binding (`c=` empty), as autobahn-python and Crossbar build it. */
export function scramAuthMessage(authid: string, clientNonce: string, nonce: string, salt: string, iterations: number): string {
  return `n=${authid},r=${clientNonce},r=${nonce},s=${salt},i=${iterations},c=,r=${nonce}`;
}

/** Strict base64 (what Python's b64decode accepts without discarding characters). */
function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, 'base64');
}

export function scramAuthenticator(config: ScramConfig): Authenticator {
  const principals = new Map(Object.entries(config.principals));
  const decoy = decoyFor(principals);
  return {
    method: 'scram',
    authenticate(hello: HelloInfo): AuthResult {
      const nonceText = hello.authextra['nonce'];
      const clientNonce = typeof nonceText === 'string' ? decodeBase64(nonceText) : undefined;
      if (clientNonce === undefined || clientNonce.length === 0) return malformed('scram: HELLO.authextra.nonce must be a base64 client nonce');
      if (hello.authid === undefined) return malformed('scram: HELLO must name an authid');
      const authid = hello.authid;
      const principal = principals.get(authid);
      // An unknown authid is challenged like a known one, with keys nobody can match.
      const who = principal ?? decoy(authid);
      const salt = Buffer.from(who.salt, 'hex').toString('base64');
      const nonce = Buffer.concat([clientNonce, randomBytes(16)]).toString('base64');
      const extra: Dict = { nonce, kdf: wireKdf(who.kdf), salt, iterations: who.iterations };
      if (who.memory !== undefined) extra['memory'] = who.memory;
      // SASLprep of the authid, as both peers apply it (NFKC is SASLprep for the authids seen in practice).
      const message = scramAuthMessage(authid.normalize('NFKC'), clientNonce.toString('base64'), nonce, salt, who.iterations);
      const storedKey = Buffer.from(who['stored-key'], 'hex');
      const serverKey = Buffer.from(who['server-key'], 'hex');
      return {
        kind: 'challenge',
        extra,
        respond: (signature: string): AuthResult => {
          const proof = decodeBase64(signature) ?? Buffer.alloc(0);
          const clientSignature = createHmac('sha256', storedKey).update(message, 'utf8').digest();
          const clientKey = Buffer.alloc(clientSignature.length);
          for (let i = 0; i < clientKey.length; i++) clientKey[i] = clientSignature[i]! ^ (proof[i] ?? 0);
          const recovered = createHash('sha256').update(clientKey).digest();
          const matches = storedKey.length === recovered.length && timingSafeEqual(recovered, storedKey) && proof.length === clientSignature.length;
          if (!matches || principal === undefined) return AUTHENTICATION_FAILED;
          const serverSignature = createHmac('sha256', serverKey).update(message, 'utf8').digest('base64');
          const accepted: AuthResult = {
            kind: 'accept',
            principal: { authid, authrole: principal.role, authprovider: 'static', authextra: { scram_server_signature: serverSignature } },
          };
          if (principal.realm !== undefined) accepted.principal.realm = principal.realm;
          return accepted;
        },
      };
    },
  };
}

/**
 * What an unknown authid is challenged with: the first principal's KDF parameters, a salt stable
 * per authid (HMAC with a per-process key, so asking twice shows nothing new) and random keys.
 */
function decoyFor(principals: ReadonlyMap<string, ScramPrincipal>): (authid: string) => ScramPrincipal {
  const key = randomBytes(32);
  const first = principals.values().next().value;
  return (authid) => {
    const out: ScramPrincipal = {
      role: first?.role ?? 'anonymous',
      kdf: first?.kdf ?? 'argon2id-13',
      iterations: first?.iterations ?? 4096,
      salt: createHmac('sha256', key).update(authid, 'utf8').digest().subarray(0, Buffer.from(first?.salt ?? '00'.repeat(16), 'hex').length).toString('hex'),
      'stored-key': randomBytes(32).toString('hex'),
      'server-key': randomBytes(32).toString('hex'),
    };
    const memory = first !== undefined ? first.memory : 512;
    if (memory !== undefined) out.memory = memory;
    return out;
  };
}
