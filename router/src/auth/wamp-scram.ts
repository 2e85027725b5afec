/**
 * WAMP-SCRAM as the spec writes it (authmethod `wamp-scram`) [ap_authentication_scram]: a thin
 * dialect over the engine and crypto core in scram.ts.
 *
 * HELLO.authextra is {nonce (base64), channel_binding: null | "tls-unique" | "tls-exporter"}.
 * CHALLENGE.extra is {nonce: client nonce + base64(16 random bytes) (as text), salt (base64), kdf:
 * "argon2id13" | "pbkdf2", iterations, memory (null for pbkdf2)}. AUTHENTICATE.signature is
 * base64(ClientProof), its extra {nonce, channel_binding, cbind_data}. The AuthMessage is RFC 5802's:
 *   "n=" Escape(authid) ",r=" client nonce "," "r=" nonce ",s=" salt ",i=" iterations ","
 *   "c=" Base64(gs2 header ‖ cbind data) ",r=" nonce
 * with gs2 header "n,," (no binding) or "p=<type>,,". WELCOME.Details.authextra.verifier is
 * base64(ServerSignature). argon2id's salted password is the 32-byte hash itself (not autobahn's
 * base64 text), so argon2id credentials are made with `scramCredentials(…, {dialect: 'wamp-scram'})`.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Dict } from '@switchboard/schemas';
import { malformed } from './failure.js';
import type { AuthContext } from './lookup.js';
import { decodeBase64, scramAuthenticatorFor } from './scram.js';
import type { ScramConfig, ScramDialect, ScramKdf } from './scram.js';
import type { ChannelBindingType } from '../transports/peer.js';
import type { Authenticator } from './types.js';

const CHANNEL_BINDINGS: readonly string[] = ['tls-unique', 'tls-exporter'];

/** RFC 5802 saslname: `=` → `=3D`, `,` → `=2C`. */
export function escapeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** The `c=` attribute's value: base64 of the gs2 header ("n,," or "p=<type>,,") followed by the channel binding data. */
export function channelBindingInput(binding: string | null, data: Uint8Array | undefined): string {
  const header = Buffer.from(binding === null ? 'n,,' : `p=${binding},,`, 'utf8');
  return Buffer.concat([header, data ?? new Uint8Array(0)]).toString('base64');
}

/** RFC 5802's AuthMessage as the WAMP-SCRAM spec builds it (authid escaped and SASLprepped by the caller). */
export function wampScramAuthMessage(authid: string, clientNonce: string, nonce: string, salt: string, iterations: number, cbind: string): string {
  return `n=${escapeSaslName(authid)},r=${clientNonce},r=${nonce},s=${salt},i=${iterations},c=${cbind},r=${nonce}`;
}

function wireKdf(kdf: ScramKdf): 'argon2id13' | 'pbkdf2' {
  return kdf === 'pbkdf2' ? 'pbkdf2' : 'argon2id13';
}

export const wampScram: ScramDialect = {
  method: 'wamp-scram',
  open(hello) {
    const clientNonce = hello.authextra['nonce'];
    if (typeof clientNonce !== 'string' || clientNonce === '' || decodeBase64(clientNonce) === undefined)
      return malformed('wamp-scram: HELLO.authextra.nonce must be a base64 client nonce');
    const requested = hello.authextra['channel_binding'] ?? null;
    if (requested !== null && (typeof requested !== 'string' || !CHANNEL_BINDINGS.includes(requested))) {
      return {
        kind: 'deny',
        reason: 'wamp.error.not_authorized',
        message: `wamp-scram: channel binding ${JSON.stringify(requested)} is not supported (tls-unique, tls-exporter)`,
      };
    }
    const binding = requested as ChannelBindingType | null;
    const channelData = binding === null ? undefined : hello.transport.channelBindings?.[binding];
    // The spec: a binding the router cannot provide on this connection ends the exchange at HELLO.
    if (binding !== null && channelData === undefined)
      return { kind: 'deny', reason: 'wamp.error.not_authorized', message: `wamp-scram: this connection has no ${binding} channel binding` };
    return (authid, params) => {
      const salt = Buffer.from(params.salt, 'hex').toString('base64');
      const nonce = clientNonce + randomBytes(16).toString('base64');
      const extra: Dict = { nonce, salt, kdf: wireKdf(params.kdf), iterations: params.iterations, memory: params.memory ?? null };
      // The router's own view of the channel goes into the AuthMessage; the client's cbind_data must match it too.
      const message = wampScramAuthMessage(authid.normalize('NFKC'), clientNonce, nonce, salt, params.iterations, channelBindingInput(binding, channelData));
      return {
        extra,
        authMessage: (answer) => {
          if (answer['nonce'] !== nonce) return undefined;
          if ((answer['channel_binding'] ?? null) !== binding) return undefined;
          const cbind = answer['cbind_data'] ?? null;
          if (channelData === undefined) return cbind === null ? message : undefined;
          const given = typeof cbind === 'string' ? decodeBase64(cbind) : undefined;
          if (given === undefined || given.length !== channelData.length || !timingSafeEqual(given, channelData)) return undefined;
          return message;
        },
        welcome: (signature) => ({ verifier: signature }),
      };
    };
  },
};

/** The spec's WAMP-SCRAM (authmethod `wamp-scram`), over static principals or a principal source. */
export function wampScramAuthenticator(config: ScramConfig, context?: AuthContext): Authenticator {
  return scramAuthenticatorFor(wampScram, config, context);
}
