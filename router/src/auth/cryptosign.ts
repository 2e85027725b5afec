/**
 * WAMP-Cryptosign: the client proves it holds the Ed25519 private key of a public key the router
 * knows, by signing a random challenge. [ap_authentication_cryptosign]
 *
 * HELLO.Details.authextra.pubkey (64 hex) names the key, and the principal when no authid is
 * given. CHALLENGE.Extra = {challenge: 32 random bytes in hex, channel_binding: null or the type in
 * use}; AUTHENTICATE.Signature = hex(signature ‖ message) (96 bytes), where the message is the
 * challenge, or the challenge XOR the TLS channel ID when the client asked for channel binding and
 * the transport has one. A transport without TLS continues without binding, as the spec allows,
 * and says so with channel_binding: null.
 */
import { createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ErrorUri } from '@switchboard/schemas';
import type { ChannelBindingType } from '../transports/peer.js';
import { AUTHENTICATION_FAILED, malformed } from './failure.js';
import { admit, createSource, lookupDetails, tryLookup } from './lookup.js';
import type { AuthContext, PrincipalSource, SourceConfig } from './lookup.js';
import type { AuthResult, Authenticator, HelloInfo, Principal } from './types.js';

/** One entry of `principals` (Crossbar's shape). */
export interface CryptosignPrincipal {
  role: string;
  realm?: string;
  /** Ed25519 public keys, 64 hex characters each. */
  authorized_keys: string[];
}

export type CryptosignConfig = { type: 'static'; principals: Record<string, CryptosignPrincipal> } | SourceConfig;

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const HEX_SIGNED = /^[0-9a-fA-F]{192}$/;
const CHANNEL_BINDINGS: readonly ChannelBindingType[] = ['tls-unique', 'tls-exporter'];

function isChannelBinding(value: unknown): value is ChannelBindingType {
  return (CHANNEL_BINDINGS as readonly unknown[]).includes(value);
}

/** Ed25519 public keys are 32 raw bytes; node:crypto takes them as a JWK. */
export function ed25519PublicKey(hex: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(hex, 'hex').toString('base64url') }, format: 'jwk' });
}

/**
 * Whether `signedHex` (hex of a 64-byte Ed25519 signature followed by the 32-byte message) carries
 * exactly `message` and a valid signature over it by `publicKeyHex`.
 */
export function verifyCryptosign(publicKeyHex: string, message: Uint8Array, signedHex: string): boolean {
  if (!HEX_SIGNED.test(signedHex) || !HEX_KEY.test(publicKeyHex) || message.length !== 32) return false;
  const signed = Buffer.from(signedHex, 'hex');
  const signature = signed.subarray(0, 64);
  const echoed = signed.subarray(64);
  // Both checks always run, so timing does not tell which one failed.
  const sameMessage = timingSafeEqual(echoed, message);
  let valid: boolean;
  try {
    valid = verify(null, message, ed25519PublicKey(publicKeyHex), signature);
  } catch {
    valid = false; // not a point on the curve
  }
  return sameMessage && valid;
}

/** The message the client must sign: the challenge, XORed with the channel ID when bound. [Computing the Signature] */
export function signedMessage(challenge: Uint8Array, channelId: Uint8Array | undefined): Uint8Array {
  if (channelId === undefined) return challenge;
  const out = new Uint8Array(challenge.length);
  for (let i = 0; i < out.length; i++) out[i] = challenge[i]! ^ (channelId[i] ?? 0);
  return out;
}

export function cryptosignAuthenticator(config: CryptosignConfig, context?: AuthContext): Authenticator {
  if (config.type === 'static') return staticCryptosign(config.principals);
  return dynamicCryptosign(createSource(config, context), context);
}

/** What HELLO asks for: the key, and the channel binding (undefined: none). */
type Request = { pubkey: string; binding: { type: string; id: Uint8Array } | undefined };

/** Reads and checks HELLO.Details.authextra; a refusal for what cannot be authenticated at all. */
function readHello(hello: HelloInfo): Request | AuthResult {
  const pubkey = hello.authextra['pubkey'];
  if (typeof pubkey !== 'string' || !HEX_KEY.test(pubkey)) {
    return malformed('cryptosign needs HELLO.Details.authextra.pubkey: the Ed25519 public key as 64 hex characters');
  }
  const type = hello.authextra['channel_binding'];
  if (type === undefined || type === null) return { pubkey: pubkey.toLowerCase(), binding: undefined };
  if (!isChannelBinding(type)) {
    // Crossbar refuses an unknown binding type with not_authorized too.
    return {
      kind: 'deny',
      reason: ErrorUri.NotAuthorized,
      message: `unsupported channel binding ${JSON.stringify(type)} (supported: ${CHANNEL_BINDINGS.join(', ')})`,
    };
  }
  const id = hello.transport.channelBindings?.[type];
  return { pubkey: pubkey.toLowerCase(), binding: id === undefined ? undefined : { type, id } };
}

function isRequest(value: Request | AuthResult): value is Request {
  return 'pubkey' in value;
}

/** CHALLENGE; a signature by `pubkey` over it gets `admitted()`, anything else authentication_failed. */
function challenge(request: Request, admitted: (() => AuthResult) | undefined): AuthResult {
  const bytes = randomBytes(32);
  const message = signedMessage(bytes, request.binding?.id);
  return {
    kind: 'challenge',
    extra: { challenge: bytes.toString('hex'), channel_binding: request.binding?.type ?? null },
    respond(signature: string): AuthResult {
      const valid = verifyCryptosign(request.pubkey, message, signature);
      return valid && admitted !== undefined ? admitted() : AUTHENTICATION_FAILED;
    },
  };
}

function staticCryptosign(principals: Record<string, CryptosignPrincipal>): Authenticator {
  const byAuthid = new Map(Object.entries(principals).map(([authid, p]) => [authid, { ...p, keys: new Set(p.authorized_keys.map((k) => k.toLowerCase())) }]));
  // Configuration checks guarantee a key belongs to one principal only.
  const byKey = new Map<string, string>();
  for (const [authid, p] of byAuthid) for (const key of p.keys) byKey.set(key, authid);
  return {
    method: 'cryptosign',
    authenticate(hello: HelloInfo): AuthResult {
      const request = readHello(hello);
      if (!isRequest(request)) return request;
      const authid = hello.authid ?? byKey.get(request.pubkey);
      const principal = authid === undefined ? undefined : byAuthid.get(authid);
      if (authid === undefined || principal === undefined || !principal.keys.has(request.pubkey)) {
        // Unknown key or authid: challenged all the same, and refused like a bad signature.
        return challenge(request, undefined);
      }
      return challenge(request, () => {
        const accepted: Principal = { authid, authrole: principal.role, authprovider: 'static' };
        if (principal.realm !== undefined) accepted.realm = principal.realm;
        return { kind: 'accept', principal: accepted };
      });
    },
  };
}

/**
 * Crossbar's order: the authenticator is asked at HELLO (details.authextra carries the pubkey) and
 * answers the principal, optionally with the `pubkey` to check (default: the one the client
 * announced, which the authenticator has seen and accepted). Without any authid, the public key is
 * the authid, as the spec suggests.
 */
function dynamicCryptosign(source: PrincipalSource, context: AuthContext | undefined): Authenticator {
  return {
    method: 'cryptosign',
    async authenticate(hello: HelloInfo): Promise<AuthResult> {
      const request = readHello(hello);
      if (!isRequest(request)) return request;
      const lookup = { realm: hello.realm, authid: hello.authid, authmethod: 'cryptosign', details: lookupDetails(hello, 'cryptosign') };
      const answer = await tryLookup(source, lookup, context?.log);
      if (answer === undefined) return AUTHENTICATION_FAILED;
      const admitted = admit({ ...answer, authid: answer.authid ?? hello.authid ?? request.pubkey }, hello, source.provider);
      if (admitted.kind !== 'accept') return admitted;
      return challenge({ ...request, pubkey: answer.pubkey ?? request.pubkey }, () => admitted);
    },
  };
}
