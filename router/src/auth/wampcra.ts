/**
 * WAMP-CRA: challenge-response with a shared secret that never crosses the wire.
 * [ap_authentication_cra]
 *
 * CHALLENGE.Extra.challenge is a JSON string {authid, authrole, authmethod, authprovider, nonce,
 * timestamp, session}; the client answers base64(HMAC-SHA256(key, challenge)). The key is the
 * secret, or for a salted user the PBKDF2-HMAC-SHA256 key derived from the password, as base64 text
 * (autobahn's `auth_cra.derive_key`); CHALLENGE.Extra then carries salt, iterations and keylen so
 * the client can derive it. As in Crossbar, the configured `secret` of a salted user IS that
 * derived key: the router never holds the password.
 */
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Dict } from '@switchboard/schemas';
import { AUTHENTICATION_FAILED, safeEqual } from './failure.js';
import { admit, createSource, lookupDetails, tryLookup } from './lookup.js';
import type { AuthContext, PrincipalSource, SourceConfig } from './lookup.js';
import type { AuthResult, Authenticator, HelloInfo } from './types.js';

/** One entry of `users` (Crossbar's shape). */
export interface WampcraUser {
  /** The secret; for a salted user, the key derived from the password (deriveKey). */
  secret: string;
  role: string;
  realm?: string;
  salt?: string;
  /** PBKDF2 iterations (default 1000, as Crossbar and autobahn). */
  iterations?: number;
  /** Derived key length in bytes (default 32). */
  keylen?: number;
}

export type WampcraConfig = { type: 'static'; users: Record<string, WampcraUser> } | SourceConfig;

export const DEFAULT_ITERATIONS = 1000;
export const DEFAULT_KEYLEN = 32;

/** autobahn's `auth_cra.derive_key`: PBKDF2-HMAC-SHA256, as base64 text (the text is the HMAC key). */
export function deriveKey(password: string, salt: string, iterations = DEFAULT_ITERATIONS, keylen = DEFAULT_KEYLEN): string {
  return pbkdf2Sync(password, salt, iterations, keylen, 'sha256').toString('base64');
}

/** autobahn's `auth_cra.sign`: base64(HMAC-SHA256(key, challenge)), both taken as UTF-8 text. */
export function signChallenge(key: string, challenge: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(challenge, 'utf8').digest('base64');
}

export function wampcraAuthenticator(config: WampcraConfig, context?: AuthContext): Authenticator {
  if (config.type === 'static') return staticWampcra(new Map(Object.entries(config.users)));
  return dynamicWampcra(createSource(config, context), context);
}

/** Who is being challenged, and with what secret. */
interface Challenged {
  authid: string;
  role: string;
  provider: string;
  secret: string;
  salt?: string;
  iterations?: number;
  keylen?: number;
}

/** CHALLENGE for `who`; the answer is checked against `who.secret`, and `admitted` decides what a match gets. */
function challenge(hello: HelloInfo, who: Challenged, admitted: () => AuthResult): AuthResult {
  const text = JSON.stringify({
    authid: who.authid,
    authrole: who.role,
    authmethod: 'wampcra',
    authprovider: who.provider,
    nonce: randomBytes(48).toString('base64'),
    timestamp: new Date().toISOString(),
    session: hello.session,
  });
  const extra: Dict = { challenge: text };
  if (who.salt !== undefined) {
    extra['salt'] = who.salt;
    extra['iterations'] = who.iterations ?? DEFAULT_ITERATIONS;
    extra['keylen'] = who.keylen ?? DEFAULT_KEYLEN;
  }
  const expected = signChallenge(who.secret, text);
  return {
    kind: 'challenge',
    extra,
    respond: (signature: string) => (safeEqual(signature, expected) ? admitted() : AUTHENTICATION_FAILED),
  };
}

function staticWampcra(users: ReadonlyMap<string, WampcraUser>): Authenticator {
  const decoy = decoyFor(users);
  return {
    method: 'wampcra',
    authenticate(hello: HelloInfo): AuthResult {
      const user = hello.authid === undefined ? undefined : users.get(hello.authid);
      const authid = hello.authid ?? '';
      if (user === undefined) {
        // An unknown authid gets a challenge shaped like a real one, with a secret nobody knows.
        return challenge(hello, { ...decoy(authid), authid, provider: 'static' }, () => AUTHENTICATION_FAILED);
      }
      return challenge(hello, { authid, role: user.role, provider: 'static', secret: user.secret, ...saltOf(user) }, () => {
        const accepted: AuthResult = { kind: 'accept', principal: { authid, authrole: user.role, authprovider: 'static' } };
        if (user.realm !== undefined) accepted.principal.realm = user.realm;
        return accepted;
      });
    },
  };
}

/**
 * What an unknown authid is challenged with: the first user's role and, when any user is salted,
 * a salt that is stable per authid (derived with a per-process key), so asking twice shows nothing new.
 */
function decoyFor(users: ReadonlyMap<string, WampcraUser>): (authid: string) => Omit<Challenged, 'authid' | 'provider'> {
  const key = randomBytes(32);
  const first = users.values().next().value;
  const salted = [...users.values()].find((u) => u.salt !== undefined);
  return (authid) => {
    const out: Omit<Challenged, 'authid' | 'provider'> = { role: first?.role ?? 'anonymous', secret: randomBytes(32).toString('base64') };
    if (salted !== undefined) {
      out.salt = createHmac('sha256', key).update(authid, 'utf8').digest('base64').slice(0, 12);
      out.iterations = salted.iterations ?? DEFAULT_ITERATIONS;
      out.keylen = salted.keylen ?? DEFAULT_KEYLEN;
    }
    return out;
  };
}

/** Crossbar's order: the authenticator is asked at HELLO (it must hand over the secret), then the client is challenged. */
function dynamicWampcra(source: PrincipalSource, context: AuthContext | undefined): Authenticator {
  return {
    method: 'wampcra',
    async authenticate(hello: HelloInfo): Promise<AuthResult> {
      const request = { realm: hello.realm, authid: hello.authid, authmethod: 'wampcra', details: lookupDetails(hello, 'wampcra') };
      const answer = await tryLookup(source, request, context?.log);
      if (answer === undefined) return AUTHENTICATION_FAILED;
      if (answer.secret === undefined) {
        context?.log.warn({ session: hello.session, authid: hello.authid, provider: source.provider }, 'wampcra authenticator answered without a secret');
        return AUTHENTICATION_FAILED;
      }
      const admitted = admit(answer, hello, source.provider);
      if (admitted.kind !== 'accept') return admitted;
      const who: Challenged = { authid: admitted.principal.authid, role: answer.role, provider: source.provider, secret: answer.secret, ...saltOf(answer) };
      return challenge(hello, who, () => admitted);
    },
  };
}

/** The PBKDF2 parameters of a salted user or answer; nothing for a plain secret. */
function saltOf(from: Pick<WampcraUser, 'salt' | 'iterations' | 'keylen'>): Pick<Challenged, 'salt' | 'iterations' | 'keylen'> {
  if (from.salt === undefined) return {};
  return { salt: from.salt, iterations: from.iterations ?? DEFAULT_ITERATIONS, keylen: from.keylen ?? DEFAULT_KEYLEN };
}
