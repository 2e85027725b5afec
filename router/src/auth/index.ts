/** Builds a listener's authenticators and a realm's authorizer from the configuration. */
import { anonymousAuthenticator } from './anonymous.js';
import { DynamicRole } from './dynamic.js';
import type { RouterCall, SubjectDetails } from './dynamic.js';
import { RoleAuthorizer } from './permissions.js';
import type { RoleConfig } from './permissions.js';
import type { Authenticator, Authorizer } from './types.js';
import { allowAll } from './types.js';

/** A listener's `auth` block. Without one, the listener accepts anonymous sessions with role `anonymous`. */
export interface ListenerAuthConfig {
  anonymous?: { role?: string };
}

export function createAuthenticators(config: ListenerAuthConfig | undefined): ReadonlyMap<string, Authenticator> {
  const out = new Map<string, Authenticator>();
  const auth = config ?? { anonymous: {} };
  if (auth.anonymous !== undefined) out.set('anonymous', anonymousAuthenticator({ role: auth.anonymous.role ?? 'anonymous' }));
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
