/** Builds a listener's authenticators and a realm's authorizer from the configuration. */
import { anonymousAuthenticator } from './anonymous.js';
import { cryptosignAuthenticator } from './cryptosign.js';
import type { CryptosignConfig } from './cryptosign.js';
import { DEFAULT_FAILURE_LIMITS, FailureLimiter, limitFailures } from './limits.js';
import type { FailureLimits } from './limits.js';
import type { AuthContext } from './lookup.js';
import { ticketAuthenticator } from './ticket.js';
import type { TicketConfig } from './ticket.js';
import { wampcraAuthenticator } from './wampcra.js';
import type { WampcraConfig } from './wampcra.js';
import { scramAuthenticator } from './scram.js';
import { tlsAuthenticator } from './tls.js';
import type { TlsConfig } from './tls.js';
import { cookieAuthenticator } from './cookie.js';
import type { CookieAuthConfig } from './cookie.js';
import type { ScramConfig } from './scram.js';
import { wampScramAuthenticator } from './wamp-scram.js';
import { DynamicRole } from './dynamic.js';
import type { RouterCall, SubjectDetails } from './dynamic.js';
import { RoleAuthorizer } from './permissions.js';
import type { RoleConfig } from './permissions.js';
import type { Authenticator, Authorizer } from './types.js';
import { allowAll } from './types.js';

/**
 * A listener's `auth` block, in Crossbar's shapes (one key per authmethod) plus `limits`. Without
 * one, the listener accepts anonymous sessions with role `anonymous`.
 */
export interface ListenerAuthConfig {
  anonymous?: { type?: 'static'; role?: string; realm?: string };
  ticket?: TicketConfig;
  wampcra?: WampcraConfig;
  cryptosign?: CryptosignConfig;
  scram?: ScramConfig;
  /** The spec's WAMP-SCRAM; principals and sources as for `scram` (argon2id keys are dialect-specific). */
  'wamp-scram'?: ScramConfig;
  /** TLS client certificates (needs `tls.clientCertificates` on the listener). */
  tls?: TlsConfig;
  /** A tracking cookie that remembers an earlier login (WebSocket listeners; turns on cookie tracking). */
  cookie?: CookieAuthConfig;
  /** Brute-force limits for the methods that check credentials (default 10 failures a minute, then 60 s). */
  limits?: Partial<FailureLimits>;
}

/**
 * A listener's authenticators by authmethod. `context` lets dynamic authenticators call WAMP
 * procedures through the router; one failure limiter serves all the listener's methods.
 */
export function createAuthenticators(config: ListenerAuthConfig | undefined, context?: AuthContext): ReadonlyMap<string, Authenticator> {
  const out = new Map<string, Authenticator>();
  const auth = config ?? { anonymous: {} };
  if (auth.anonymous !== undefined) {
    const anonymous = { role: auth.anonymous.role ?? 'anonymous', ...(auth.anonymous.realm !== undefined ? { realm: auth.anonymous.realm } : {}) };
    out.set('anonymous', anonymousAuthenticator(anonymous));
  }
  const limiter = new FailureLimiter({ ...DEFAULT_FAILURE_LIMITS, ...auth.limits }, context?.now);
  const limited = (authenticator: Authenticator): Authenticator => limitFailures(authenticator, limiter, context?.log);
  if (auth.ticket !== undefined) out.set('ticket', limited(ticketAuthenticator(auth.ticket, context)));
  if (auth.wampcra !== undefined) out.set('wampcra', limited(wampcraAuthenticator(auth.wampcra, context)));
  if (auth.cryptosign !== undefined) out.set('cryptosign', limited(cryptosignAuthenticator(auth.cryptosign, context)));
  if (auth.scram !== undefined) out.set('scram', limited(scramAuthenticator(auth.scram, context)));
  if (auth['wamp-scram'] !== undefined) out.set('wamp-scram', limited(wampScramAuthenticator(auth['wamp-scram'], context)));
  // No secret to guess: the TLS handshake or the cookie's 192 random bits are the proof.
  if (auth.tls !== undefined) out.set('tls', tlsAuthenticator(auth.tls, context));
  if (auth.cookie !== undefined) out.set('cookie', cookieAuthenticator(auth.cookie));
  return out;
}

/**
 * A realm with roles authorizes by them (a role naming an `authorizer` procedure asks it through
 * `call`); a realm without roles lets every session do everything.
 */
export function createAuthorizer(roles: RoleConfig[] | undefined, call?: RouterCall, details?: SubjectDetails): Authorizer {
  if (roles === undefined) return allowAll;
  const dynamic = call !== undefined && details !== undefined ? (procedure: string) => new DynamicRole(procedure, call, details) : undefined;
  return new RoleAuthorizer(roles, dynamic);
}

export type { RoleConfig, PermissionConfig } from './permissions.js';
export type { AuthContext, RealmCall, DynamicSourceConfig, WebhookSourceConfig, PrincipalAnswer } from './lookup.js';
export type { TicketConfig, TicketPrincipal } from './ticket.js';
export type { WampcraConfig, WampcraUser } from './wampcra.js';
export type { CryptosignConfig, CryptosignPrincipal } from './cryptosign.js';
export type { ScramConfig, ScramPrincipal, ScramKdf, ScramCredentialOptions, ScramDialectName } from './scram.js';
export type { FailureLimits } from './limits.js';
export type { TlsConfig, TlsPrincipal } from './tls.js';
export type { CookieAuthConfig } from './cookie.js';
