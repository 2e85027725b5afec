/**
 * The client certificate of a TLS connection, as the `tls` authmethod and dynamic authenticators
 * see it. Node's TLS layer has already checked it against the listener's `ca` (`authorized`); an
 * unverified certificate is described (for logs) but never authenticates anyone.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { PeerCertificate } from 'node:tls';

/** A distinguished name: attribute (`CN`, `O`, `OU`, …) → value(s). */
export type DistinguishedName = Readonly<Record<string, string | readonly string[]>>;

export interface ClientCertificate {
  /** Verified by Node TLS against the listener's `ca` (and within its validity period). */
  readonly authorized: boolean;
  /** Why it did not verify (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), when it did not. */
  readonly authorizationError?: string;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  /** The subject's common name, if it has exactly one. */
  readonly cn?: string;
  /** Colon-separated upper-case hex, as openssl and Crossbar print them. */
  readonly sha1: string;
  readonly sha256: string;
  /** Upper-case hex. */
  readonly serial: string;
  /** As node:tls gives them, e.g. `Nov 25 22:44:37 2026 GMT`. */
  readonly notBefore: string;
  readonly notAfter: string;
}

/** The client certificate of a server-side connection; undefined when it is not TLS or the client sent none. */
export function clientCertificateOf(socket: Socket): ClientCertificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const cert = socket.getPeerCertificate(false) as PeerCertificate | Record<string, never>;
  if (!('fingerprint' in cert) || typeof cert.fingerprint !== 'string') return undefined;
  const subject = nameOf(cert.subject);
  const cnValue = subject['CN'];
  const out: ClientCertificate = {
    authorized: socket.authorized,
    subject,
    issuer: nameOf(cert.issuer),
    sha1: cert.fingerprint,
    sha256: cert.fingerprint256,
    serial: cert.serialNumber.toUpperCase(),
    notBefore: cert.valid_from,
    notAfter: cert.valid_to,
    ...(typeof cnValue === 'string' && cnValue !== '' && { cn: cnValue }),
    ...(!socket.authorized && socket.authorizationError !== undefined && { authorizationError: String(socket.authorizationError) }),
  };
  return out;
}

function nameOf(name: unknown): DistinguishedName {
  if (typeof name !== 'object' || name === null) return {};
  const out: Record<string, string | readonly string[]> = {};
  // node:tls gives a null-prototype object; copy the plain string (or string list) entries.
  for (const [key, value] of Object.entries(name as Record<string, unknown>)) {
    if (typeof value === 'string') out[key] = value;
    else if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) out[key] = [...value];
  }
  return out;
}

/** A fingerprint in any common spelling (colons or not, any case) → lower-case hex without colons. */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/:/g, '').toLowerCase();
}
