/**
 * `tls`: TLS client-certificate authentication (Crossbar's). The listener asks for a certificate
 * that chains to its `ca` (`tls.clientCertificates`); Node TLS verifies it, and this method maps a
 * verified certificate to a principal. No CHALLENGE: the proof is the TLS handshake. A connection
 * without a verified certificate does not have this method at all (the client's next method is
 * tried; if none is left, ABORT wamp.error.authentication_failed).
 *
 * static: principals keyed by authid with `certificate-sha1` (Crossbar) and/or `certificate-sha256`
 * fingerprints, and optionally `cn`, under which every other verified certificate joins with its subject CN as
 * authid. dynamic/webhook: the authenticator gets the certificate in details.transport.client_cert.
 */
import { AUTHENTICATION_FAILED } from './failure.js';
import { admit, createSource, lookupDetails, tryLookup } from './lookup.js';
import type { AuthContext, PrincipalSource, SourceConfig } from './lookup.js';
import type { AuthResult, Authenticator, HelloInfo, Principal } from './types.js';
import { normalizeFingerprint } from '../transports/client-certificate.js';
import type { ClientCertificate } from '../transports/client-certificate.js';
import type { TransportDetails } from '../transports/peer.js';

/** One entry of `principals` (Crossbar's shape plus sha256). */
export interface TlsPrincipal {
  /** `B6:E5:…` (colons and case do not matter). */
  'certificate-sha1'?: string;
  'certificate-sha256'?: string;
  role: string;
  realm?: string;
}

export type TlsConfig =
  | {
      type: 'static';
      principals?: Record<string, TlsPrincipal>;
      /** A verified certificate that matches no principal: authid = its subject CN, with this role. */
      cn?: { role: string; realm?: string };
    }
  | SourceConfig;

/** A verified client certificate of the connection, or undefined. */
function verified(transport: TransportDetails): ClientCertificate | undefined {
  const cert = transport.clientCertificate;
  return cert?.authorized === true ? cert : undefined;
}

export function tlsAuthenticator(config: TlsConfig, context?: AuthContext): Authenticator {
  const available = (transport: TransportDetails): boolean => verified(transport) !== undefined;
  if (config.type === 'static') {
    const byFingerprint = new Map<string, { authid: string; principal: TlsPrincipal }>();
    for (const [authid, principal] of Object.entries(config.principals ?? {})) {
      for (const fingerprint of [principal['certificate-sha1'], principal['certificate-sha256']]) {
        if (fingerprint !== undefined) byFingerprint.set(normalizeFingerprint(fingerprint), { authid, principal });
      }
    }
    const cn = config.cn;
    return {
      method: 'tls',
      available,
      authenticate(hello: HelloInfo): AuthResult {
        const cert = verified(hello.transport);
        if (cert === undefined) return AUTHENTICATION_FAILED;
        // Fingerprints are public (they identify, the TLS handshake proves): a Map lookup is fine.
        const match = byFingerprint.get(normalizeFingerprint(cert.sha256)) ?? byFingerprint.get(normalizeFingerprint(cert.sha1));
        let principal: Principal;
        if (match !== undefined) {
          principal = { authid: match.authid, authrole: match.principal.role, authprovider: 'static' };
          if (match.principal.realm !== undefined) principal.realm = match.principal.realm;
        } else if (cn !== undefined && cert.cn !== undefined) {
          principal = { authid: cert.cn, authrole: cn.role, authprovider: 'static' };
          if (cn.realm !== undefined) principal.realm = cn.realm;
        } else return AUTHENTICATION_FAILED;
        // A client that names an authid must name the certificate's.
        if (hello.authid !== undefined && hello.authid !== principal.authid) return AUTHENTICATION_FAILED;
        return { kind: 'accept', principal };
      },
    };
  }
  return dynamicTls(createSource(config, context), context, available);
}

/** Crossbar's dynamic contract: (realm, authid, details) with the certificate in details.transport.client_cert. */
function dynamicTls(source: PrincipalSource, context: AuthContext | undefined, available: (transport: TransportDetails) => boolean): Authenticator {
  return {
    method: 'tls',
    available,
    async authenticate(hello: HelloInfo): Promise<AuthResult> {
      const cert = verified(hello.transport);
      if (cert === undefined) return AUTHENTICATION_FAILED;
      const request = { realm: hello.realm, authid: hello.authid, authmethod: 'tls', details: lookupDetails(hello, 'tls') };
      const answer = await tryLookup(source, request, context?.log);
      if (answer === undefined) return AUTHENTICATION_FAILED;
      // Without an authid from the authenticator or the client, the certificate's CN names the session.
      return admit(answer, hello.authid === undefined && cert.cn !== undefined ? { ...hello, authid: cert.cn } : hello, source.provider);
    },
  };
}
