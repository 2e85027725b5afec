/**
 * Trust the network cannot name. The realm neither authorizes nor counts against quotas the
 * sessions whose authprovider is `router` (the router's own) and, for its quota exemption and
 * meta listing, `bridge` (the HTTP bridge's). Those providers are therefore reserved: only an
 * authenticator made here — by `openInProcess`, for a connection with no transport — may yield
 * them, and the connection refuses them from any other (a configured, dynamic or embedder's
 * authenticator). The brand is module-private: holding an Authenticator object is not enough.
 */
import type { Authenticator, Principal } from './types.js';

/** Authproviders only the router's in-process authenticators may give. */
export const RESERVED_AUTHPROVIDERS: ReadonlySet<string> = new Set(['router', 'bridge']);

const branded = new WeakSet<Authenticator>();

/** The one authenticator of an in-process connection: accepts as `principal`, by `method`. */
export function inProcessAuthenticator(method: string, principal: Principal): Authenticator {
  const fixed = Object.freeze({ ...principal });
  const authenticator: Authenticator = Object.freeze({ method, authenticate: () => ({ kind: 'accept' as const, principal: fixed }) });
  branded.add(authenticator);
  return authenticator;
}

/** Whether `authenticator` was made by inProcessAuthenticator (and so may yield a reserved authprovider). */
export function isInProcessAuthenticator(authenticator: Authenticator | undefined): boolean {
  return authenticator !== undefined && branded.has(authenticator);
}
