/** `anonymous`: no credentials; the authid is generated unless the client proposes one. */
import type { AuthResult, Authenticator, HelloInfo } from './types.js';

export interface AnonymousOptions {
  /** Role given to anonymous sessions. */
  role: string;
}

export function anonymousAuthenticator(options: AnonymousOptions): Authenticator {
  let count = 0;
  return {
    method: 'anonymous',
    authenticate(_hello: HelloInfo): AuthResult {
      // Generated, as Crossbar does: a client cannot claim an authid without credentials.
      return { kind: 'accept', principal: { authid: `anonymous-${++count}`, authrole: options.role, authprovider: 'static' } };
    },
  };
}
