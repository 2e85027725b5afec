/** `anonymous`: no credentials; the authid is generated unless the client proposes one. */
import type { AuthResult, Authenticator, HelloInfo, Principal } from './types.js';

export interface AnonymousOptions {
  /** Role given to anonymous sessions. */
  role: string;
  /** The realm anonymous sessions join, whatever they asked for (Crossbar's `realm`). */
  realm?: string;
}

export function anonymousAuthenticator(options: AnonymousOptions): Authenticator {
  let count = 0;
  return {
    method: 'anonymous',
    authenticate(_hello: HelloInfo): AuthResult {
      // Generated, as Crossbar does: a client cannot claim an authid without credentials.
      const principal: Principal = { authid: `anonymous-${++count}`, authrole: options.role, authprovider: 'static' };
      if (options.realm !== undefined) principal.realm = options.realm;
      return { kind: 'accept', principal };
    },
  };
}
