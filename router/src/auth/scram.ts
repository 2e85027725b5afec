/**
 * WAMP-SCRAM: the crypto core both dialects share (RFC 5802 / RFC 7677 with SHA-256: salted
 * password, keys, proof check, server signature), the exchange engine (static principals or a
 * principal source, decoys for unknown authids) and the dialect Crossbar
 * (crossbar/router/auth/scram.py) and autobahn-python (autobahn/wamp/auth.py AuthScram) speak as
 * authmethod `scram`. The spec's `wamp-scram` is a thin layer in wamp-scram.ts.
 *
 * Crossbar dialect: HELLO.authextra.nonce is the client nonce (base64). CHALLENGE.extra is
 * {nonce: base64(client nonce ‖ 16 random bytes), kdf, salt (base64), iterations, memory}. Both
 * sides build
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
import type { Dict } from '@switchboard/schemas';
import { ErrorUri } from '@switchboard/schemas';
import { refusal } from '../core/outcome.js';
import type { Outcome, Refusal } from '../core/outcome.js';
import { AUTHENTICATION_FAILED, malformed } from './failure.js';
import { admit, createSource, lookupDetails, tryLookup } from './lookup.js';
import type { AuthContext, PrincipalAnswer, PrincipalSource, SourceConfig } from './lookup.js';
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

/** Static principals, or (Crossbar's dynamic authenticator, or a webhook) a source answering with a principal's keys. */
export type ScramConfig = { type: 'static'; principals: Record<string, ScramPrincipal> } | SourceConfig;

/**
 * Which SCRAM: `crossbar` (authmethod `scram`, autobahn-python) or the spec's `wamp-scram`. They
 * differ in the argon2id salted password (autobahn keys HMAC with the base64 text of the hash, the
 * spec with its 32 bytes), so argon2id credentials are made for one dialect; pbkdf2 ones fit both.
 */
export type ScramDialectName = 'crossbar' | 'wamp-scram';

/** The KDF parameters and salt the CHALLENGE carries. */
export type ScramParams = Pick<ScramPrincipal, 'kdf' | 'iterations' | 'memory' | 'salt'>;

/** What the wire calls the KDF (autobahn-python refuses anything but these two). */
function wireKdf(kdf: ScramKdf): 'argon2id-13' | 'pbkdf2' {
  return kdf === 'pbkdf2' ? 'pbkdf2' : 'argon2id-13';
}

/**
 * The salted password, as the client derives it. argon2id: parallelism 1, 32 bytes, and (as
 * autobahn-python does) the key is the unpadded base64 TEXT of the hash, or for `wamp-scram` the
 * 32 bytes themselves; pbkdf2: PBKDF2-HMAC-SHA256 of the salt's bytes, 32 raw bytes. `wamp-scram`
 * normalizes the password first (NFKC, what SASLprep does to the passwords seen in practice).
 */
export async function saltedPassword(
  password: string,
  kdf: ScramKdf,
  salt: Uint8Array,
  iterations: number,
  memory?: number,
  dialect: ScramDialectName = 'crossbar',
): Promise<Buffer> {
  const secret = Buffer.from(dialect === 'wamp-scram' ? password.normalize('NFKC') : password, 'utf8');
  if (kdf === 'pbkdf2') return pbkdf2Sync(secret, salt, iterations, 32, 'sha256');
  if (memory === undefined) throw new Error('argon2id needs a memory cost (KiB)');
  // hash-wasm (argon2) is loaded on first use: most routers and clients never derive an argon2id key.
  const { argon2id } = await import('hash-wasm');
  const hash = await argon2id({ password: secret, salt, parallelism: 1, iterations, memorySize: memory, hashLength: 32, outputType: 'binary' });
  if (dialect === 'wamp-scram') return Buffer.from(hash);
  return Buffer.from(Buffer.from(hash).toString('base64').replace(/=+$/, ''), 'ascii');
}

export interface ScramCredentialOptions {
  kdf: ScramKdf;
  iterations: number;
  /** KiB; argon2id only. */
  memory?: number;
  /** Hex; 16 random bytes when absent. */
  salt?: string;
  /** Default `crossbar`; matters for argon2id only (see ScramDialectName). */
  dialect?: ScramDialectName;
}

/** The values a `scram` principal stores for `password` (salt, stored-key and server-key as hex). */
export async function scramCredentials(password: string, options: ScramCredentialOptions): Promise<Omit<ScramPrincipal, 'role' | 'realm'>> {
  const salt = options.salt !== undefined ? Buffer.from(options.salt, 'hex') : randomBytes(16);
  const salted = await saltedPassword(password, options.kdf, salt, options.iterations, options.memory, options.dialect);
  const keys = scramKeys(salted);
  const out: Omit<ScramPrincipal, 'role' | 'realm'> = {
    kdf: options.kdf,
    iterations: options.iterations,
    salt: salt.toString('hex'),
    'stored-key': keys.storedKey.toString('hex'),
    'server-key': keys.serverKey.toString('hex'),
  };
  if (options.memory !== undefined) out.memory = options.memory;
  return out;
}

/** RFC 5802's AuthMessage without channel binding (`c=` empty), as autobahn-python and Crossbar build it. */
export function scramAuthMessage(authid: string, clientNonce: string, nonce: string, salt: string, iterations: number): string {
  return `n=${authid},r=${clientNonce},r=${nonce},s=${salt},i=${iterations},c=,r=${nonce}`;
}

/** Strict base64 (what Python's b64decode accepts without discarding characters). */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, 'base64');
}

/** RFC 5802: ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key"). */
export function scramKeys(salted: Uint8Array): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  return { clientKey, storedKey: createHash('sha256').update(clientKey).digest(), serverKey: createHmac('sha256', salted).update('Server Key').digest() };
}

/**
 * The router's check of a ClientProof: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage),
 * then H(ClientKey) == StoredKey in constant time. The ServerSignature (base64 of HMAC(ServerKey,
 * AuthMessage)) when the proof holds, else undefined.
 */
export function verifyClientProof(storedKey: Buffer, serverKey: Buffer, authMessage: string, proof: Buffer): string | undefined {
  const clientSignature = createHmac('sha256', storedKey).update(authMessage, 'utf8').digest();
  const clientKey = Buffer.alloc(clientSignature.length);
  for (let i = 0; i < clientKey.length; i++) clientKey[i] = clientSignature[i]! ^ (proof[i] ?? 0);
  const recovered = createHash('sha256').update(clientKey).digest();
  const matches = storedKey.length === recovered.length && timingSafeEqual(recovered, storedKey) && proof.length === clientSignature.length;
  return matches ? createHmac('sha256', serverKey).update(authMessage, 'utf8').digest('base64') : undefined;
}

/** One exchange in one dialect, for one principal's parameters. */
export interface ScramExchange {
  /** CHALLENGE.Extra */
  extra: Dict;
  /** The AuthMessage the AUTHENTICATE (its Extra) completes; undefined when that Extra does not fit this exchange. */
  authMessage(extra: Dict): string | undefined;
  /** WELCOME.Details.authextra carrying the ServerSignature (base64). */
  welcome(serverSignature: string): Dict;
}

/** What a dialect adds to the shared engine: reading HELLO and shaping CHALLENGE, AuthMessage and WELCOME. */
export interface ScramDialect {
  /** The authmethod. */
  readonly method: string;
  /** Checks HELLO (nonce, channel binding): how to challenge `authid` with some parameters, or a refusal. */
  open(hello: HelloInfo): ((authid: string, params: ScramParams) => ScramExchange) | AuthResult;
}

/** Who is challenged: parameters and keys to check against, and what a matching proof admits (undefined: a decoy, nothing). */
interface Challenged {
  params: ScramParams;
  storedKey: Buffer;
  serverKey: Buffer;
  admitted(authextra: Dict): AuthResult | undefined;
}

type Resolver = (hello: HelloInfo, authid: string) => Challenged | Promise<Challenged>;

/** A SCRAM authenticator in `dialect`, over static principals or a principal source. */
export function scramAuthenticatorFor(dialect: ScramDialect, config: ScramConfig, context?: AuthContext): Authenticator {
  const resolve: Resolver =
    config.type === 'static' ? staticPrincipals(config.principals) : sourcePrincipals(dialect.method, createSource(config, context), context);
  return {
    method: dialect.method,
    authenticate(hello: HelloInfo): AuthResult | Promise<AuthResult> {
      const exchangeFor = dialect.open(hello);
      if (typeof exchangeFor !== 'function') return exchangeFor;
      if (hello.authid === undefined) return malformed(`${dialect.method}: HELLO must name an authid`);
      const authid = hello.authid;
      const who = resolve(hello, authid);
      return who instanceof Promise ? who.then((w) => challenge(exchangeFor(authid, w.params), w)) : challenge(exchangeFor(authid, who.params), who);
    },
  };
}

function challenge(exchange: ScramExchange, who: Challenged): AuthResult {
  return {
    kind: 'challenge',
    extra: exchange.extra,
    respond: (signature: string, extra: Dict): AuthResult => {
      const message = exchange.authMessage(extra ?? {});
      // The proof is checked even when the Extra does not fit, so both cost the same.
      const serverSignature = verifyClientProof(who.storedKey, who.serverKey, message ?? '', decodeBase64(signature) ?? Buffer.alloc(0));
      if (message === undefined || serverSignature === undefined) return AUTHENTICATION_FAILED;
      return who.admitted(exchange.welcome(serverSignature)) ?? AUTHENTICATION_FAILED;
    },
  };
}

function staticPrincipals(principals: Record<string, ScramPrincipal>): Resolver {
  const byAuthid = new Map(Object.entries(principals));
  const sorted = [...byAuthid].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const templates = sorted.map(([, p]) => p);
  // Derived from every principal's keys: stable across restarts, known to the router alone.
  const key = createHmac('sha256', 'switchboard scram decoy');
  for (const [authid, p] of sorted) key.update(`${authid}\0${p['stored-key']}\0${p['server-key']}\0`, 'utf8');
  const decoy = decoyFor(() => templates, key.digest());
  return (_hello, authid) => {
    const principal = byAuthid.get(authid);
    // An unknown authid is challenged like a known one, with keys nobody can match.
    if (principal === undefined) return decoy(authid);
    return {
      params: principal,
      storedKey: Buffer.from(principal['stored-key'], 'hex'),
      serverKey: Buffer.from(principal['server-key'], 'hex'),
      admitted: (authextra) => {
        const accepted: AuthResult = { kind: 'accept', principal: { authid, authrole: principal.role, authprovider: 'static', authextra } };
        if (principal.realm !== undefined) accepted.principal.realm = principal.realm;
        return accepted;
      },
    };
  };
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const KDFS: readonly string[] = ['argon2id-13', 'argon2id13', 'pbkdf2'];

/**
 * A source's answer → the principal's SCRAM parameters and keys, or a refusal saying what is
 * wrong with it (logged; the client meets a decoy challenge, so it fails as a wrong password).
 */
export function scramAnswer(answer: PrincipalAnswer): Outcome<{ params: ScramParams; storedKey: Buffer; serverKey: Buffer }> {
  const { kdf, iterations, memory, salt, storedKey, serverKey } = answer;
  const unusable = (message: string): Refusal => refusal(ErrorUri.AuthenticationFailed, message);
  if (kdf === undefined || !KDFS.includes(kdf)) return unusable(`kdf must be one of ${KDFS.join(', ')}`);
  if (iterations === undefined) return unusable('iterations missing');
  if (kdf !== 'pbkdf2' && memory === undefined) return unusable('argon2id needs memory (KiB)');
  if (salt === undefined || !HEX.test(salt)) return unusable('salt must be hex');
  if (storedKey === undefined || !HEX_KEY.test(storedKey)) return unusable('stored-key must be 64 hex characters');
  if (serverKey === undefined || !HEX_KEY.test(serverKey)) return unusable('server-key must be 64 hex characters');
  const params: ScramParams = { kdf: kdf as ScramKdf, iterations, salt };
  if (memory !== undefined) params.memory = memory;
  return { ok: true, params, storedKey: Buffer.from(storedKey, 'hex'), serverKey: Buffer.from(serverKey, 'hex') };
}

/**
 * Crossbar's order: the authenticator is asked at HELLO (it hands over salt and keys), then the
 * client is challenged. A refusal, a failure or an answer without usable keys gets a decoy
 * challenge, so it looks like a wrong password after AUTHENTICATE.
 */
function sourcePrincipals(method: string, source: PrincipalSource, context: AuthContext | undefined): Resolver {
  // The decoy looks like the last real principal (the deployment's parameters) once there was one.
  let last: ScramParams | undefined;
  const decoy = decoyFor(() => (last === undefined ? [] : [last]), randomBytes(32));
  return async (hello, authid) => {
    const answer = await tryLookup(source, { realm: hello.realm, authid, authmethod: method, details: lookupDetails(hello, method) }, context?.log);
    if (answer === undefined) return decoy(authid);
    const keys = scramAnswer(answer);
    if (!keys.ok) {
      context?.log.warn(
        { session: hello.session, authid, provider: source.provider, problem: keys.message },
        `${method} authenticator answered without usable SCRAM credentials`,
      );
      return decoy(authid);
    }
    last = keys.params;
    const admitted = admit(answer, hello, source.provider);
    return {
      params: keys.params,
      storedKey: keys.storedKey,
      serverKey: keys.serverKey,
      admitted: (authextra) =>
        admitted.kind === 'accept'
          ? { kind: 'accept', principal: { ...admitted.principal, authextra: { ...admitted.principal.authextra, ...authextra } } }
          : admitted,
    };
  };
}

/**
 * What an unknown authid is challenged with: the KDF parameters of one template (a principal
 * picked per authid, or the last answered), a salt of the same length, both stable per authid
 * (HMAC with `key`: asking twice shows nothing new; with a key derived from the configuration,
 * neither does a restart), and random keys.
 */
function decoyFor(templates: () => readonly ScramParams[], key: Buffer): (authid: string) => Challenged {
  const derive = (what: string, authid: string): Buffer => createHmac('sha256', key).update(`${what}\0${authid}`, 'utf8').digest();
  return (authid) => {
    const all = templates();
    const like = all.length === 0 ? undefined : all[derive('shape', authid).readUInt32BE(0) % all.length];
    const saltLength = like !== undefined ? Math.min(32, Buffer.from(like.salt, 'hex').length) : 16;
    const params: ScramParams = {
      kdf: like?.kdf ?? 'argon2id-13',
      iterations: like?.iterations ?? 4096,
      salt: derive('salt', authid).subarray(0, saltLength).toString('hex'),
    };
    const memory = like !== undefined ? like.memory : 512;
    if (memory !== undefined) params.memory = memory;
    return { params, storedKey: randomBytes(32), serverKey: randomBytes(32), admitted: () => undefined };
  };
}

/** The Crossbar / autobahn-python dialect (authmethod `scram`). */
export const crossbarScram: ScramDialect = {
  method: 'scram',
  open(hello) {
    const nonceText = hello.authextra['nonce'];
    const clientNonce = typeof nonceText === 'string' ? decodeBase64(nonceText) : undefined;
    if (clientNonce === undefined || clientNonce.length === 0) return malformed('scram: HELLO.authextra.nonce must be a base64 client nonce');
    return (authid, params) => {
      const salt = Buffer.from(params.salt, 'hex').toString('base64');
      const nonce = Buffer.concat([clientNonce, randomBytes(16)]).toString('base64');
      const extra: Dict = { nonce, kdf: wireKdf(params.kdf), salt, iterations: params.iterations };
      if (params.memory !== undefined) extra['memory'] = params.memory;
      // SASLprep of the authid, as both peers apply it (NFKC is SASLprep for the authids seen in practice).
      const message = scramAuthMessage(authid.normalize('NFKC'), clientNonce.toString('base64'), nonce, salt, params.iterations);
      return { extra, authMessage: () => message, welcome: (signature) => ({ scram_server_signature: signature }) };
    };
  },
};

/** SCRAM in the dialect of Crossbar and autobahn-python (authmethod `scram`). */
export function scramAuthenticator(config: ScramConfig, context?: AuthContext): Authenticator {
  return scramAuthenticatorFor(crossbarScram, config, context);
}
