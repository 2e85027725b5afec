/**
 * WAMP-CRA: challenge-response with a shared secret that never crosses the wire.
 * [ap_authentication_cra]
 *
 * CHALLENGE.Extra.challenge is a JSON string {authid, authmethod, authprovider, nonce, timestamp,
 * session}; the client answers base64(HMAC-SHA256(key, challenge)). Crossbar puts the authrole
 * there too; we leave it out: a CHALLENGE goes to whoever asks, before any proof, and would
 * tell them the role of an authid (and, by its absence or a guess, whether the authid exists).
 * An unknown authid is challenged like a known one (see decoyFor). The key is the
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
  const shapes = [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, u]) => saltOf(u));
  const decoy = decoyFor(() => shapes, configKey(users));
  return {
    method: 'wampcra',
    authenticate(hello: HelloInfo): AuthResult {
      const user = hello.authid === undefined ? undefined : users.get(hello.authid);
      const authid = hello.authid ?? '';
      if (user === undefined) {
        // An unknown authid gets a challenge shaped like a real one, with a secret nobody knows.
        return challenge(hello, { ...decoy(authid), authid, provider: 'static' }, () => AUTHENTICATION_FAILED);
      }
      return challenge(hello, { authid, provider: 'static', secret: user.secret, ...saltOf(user) }, () => {
        const accepted: AuthResult = { kind: 'accept', principal: { authid, authrole: user.role, authprovider: 'static' } };
        if (user.realm !== undefined) accepted.principal.realm = user.realm;
        return accepted;
      });
    },
  };
}

/** The PBKDF2 parameters a decoy shows: none (a plain secret) or a real user's iterations and keylen. */
type DecoyShape = Pick<WampcraUser, 'salt' | 'iterations' | 'keylen'>;

/**
 * What an unknown authid is challenged with: the shape of one of the real users (plain, or salted
 * with its iterations and keylen), picked per authid, with a salt of its own, all derived from a
 * key that only the router can compute, so that a probe cannot tell it from a real user's, asking
 * twice shows nothing new, and neither does a restart. The static key is a hash of the
 * configured users' secrets (stable while they are; never sent); `key` gives another one.
 */
function decoyFor(shapes: () => readonly DecoyShape[], key: Buffer): (authid: string) => Omit<Challenged, 'authid' | 'provider'> {
  const derive = (what: string, authid: string): Buffer => createHmac('sha256', key).update(`${what}\0${authid}`, 'utf8').digest();
  return (authid) => {
    // The secret is random: no answer can match it.
    const out: Omit<Challenged, 'authid' | 'provider'> = { secret: randomBytes(32).toString('base64') };
    const all = shapes();
    const shape = all.length === 0 ? undefined : all[derive('shape', authid).readUInt32BE(0) % all.length];
    if (shape?.salt !== undefined) {
      out.salt = derive('salt', authid)
        .toString('base64')
        .slice(0, Math.max(1, Math.min(shape.salt.length, 44)));
      out.iterations = shape.iterations ?? DEFAULT_ITERATIONS;
      out.keylen = shape.keylen ?? DEFAULT_KEYLEN;
    }
    return out;
  };
}

/** A key derived from every configured user's authid and secret, in a fixed order. */
function configKey(users: ReadonlyMap<string, WampcraUser>): Buffer {
  const hash = createHmac('sha256', 'switchboard wampcra decoy');
  for (const [authid, user] of [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    hash.update(`${authid}\0${user.secret}\0${user.salt ?? ''}\0`, 'utf8');
  return hash.digest();
}

/**
 * Crossbar's order: the authenticator is asked at HELLO (it must hand over the secret), then the
 * client is challenged. An authid it refuses (or an answer without a secret) is challenged with a
 * decoy shaped like the last real answer, so that the refusal is told only after AUTHENTICATE.
 */
function dynamicWampcra(source: PrincipalSource, context: AuthContext | undefined): Authenticator {
  let last: DecoyShape | undefined;
  const decoy = decoyFor(() => (last === undefined ? [] : [last]), randomBytes(32));
  const refuse = (hello: HelloInfo): AuthResult => {
    const authid = hello.authid ?? '';
    return challenge(hello, { ...decoy(authid), authid, provider: source.provider }, () => AUTHENTICATION_FAILED);
  };
  return {
    method: 'wampcra',
    async authenticate(hello: HelloInfo): Promise<AuthResult> {
      const request = { realm: hello.realm, authid: hello.authid, authmethod: 'wampcra', details: lookupDetails(hello, 'wampcra') };
      const answer = await tryLookup(source, request, context?.log);
      if (answer === undefined) return refuse(hello);
      if (answer.secret === undefined) {
        context?.log.warn({ session: hello.session, authid: hello.authid, provider: source.provider }, 'wampcra authenticator answered without a secret');
        return refuse(hello);
      }
      const admitted = admit(answer, hello, source.provider);
      if (admitted.kind !== 'accept') return admitted;
      last = saltOf(answer);
      const who: Challenged = { authid: admitted.principal.authid, provider: source.provider, secret: answer.secret, ...last };
      return challenge(hello, who, () => admitted);
    },
  };
}

/** The PBKDF2 parameters of a salted user or answer; nothing for a plain secret. */
function saltOf(from: Pick<WampcraUser, 'salt' | 'iterations' | 'keylen'>): Pick<Challenged, 'salt' | 'iterations' | 'keylen'> {
  if (from.salt === undefined) return {};
  return { salt: from.salt, iterations: from.iterations ?? DEFAULT_ITERATIONS, keylen: from.keylen ?? DEFAULT_KEYLEN };
}
