/** Builds a listener's authenticators and a realm's authorizer from the configuration. */
import { anonymousAuthenticator } from './anonymous.js';
import { StaticAuthorizer } from './permissions.js';
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

/** A realm with roles authorizes by them; a realm without lets every session do everything. */
export function createAuthorizer(roles: RoleConfig[] | undefined): Authorizer {
  return roles === undefined ? allowAll : new StaticAuthorizer(roles);
}

export type { RoleConfig, PermissionConfig } from './permissions.js';
