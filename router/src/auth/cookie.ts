/**
 * `cookie`: Crossbar's cookie authentication for browsers. On a WebSocket listener with cookie
 * tracking (transports/cookie-tracking.ts), a session that authenticates by another method makes
 * its tracking cookie remember who it is (authid, authrole, realm); a later connection sending the
 * same cookie and listing `cookie` in HELLO.authmethods is welcomed as that principal without
 * credentials. GOODBYE with reason wamp.close.logout forgets the login. A connection whose cookie
 * remembers nobody (in the realm asked for) does not have this method (the client's next method is tried).
 */
import { AUTHENTICATION_FAILED } from './failure.js';
import type { AuthResult, Authenticator, HelloInfo, Principal } from './types.js';
import type { TransportDetails } from '../transports/peer.js';

/** `"cookie": {}` in a listener's `auth` (Crossbar's shape; `type` accepted for symmetry). */
export interface CookieAuthConfig {
  type?: 'static';
}

export function cookieAuthenticator(_config: CookieAuthConfig = {}): Authenticator {
  return {
    method: 'cookie',
    available: (transport: TransportDetails, realm: string) => transport.cookie?.identity()?.realm === realm,
    authenticate(hello: HelloInfo): AuthResult {
      const identity = hello.transport.cookie?.identity();
      // A login is for the realm it was made in.
      if (identity === undefined || identity.realm !== hello.realm) return AUTHENTICATION_FAILED;
      if (hello.authid !== undefined && hello.authid !== identity.authid) return AUTHENTICATION_FAILED;
      const principal: Principal = { authid: identity.authid, authrole: identity.authrole, authprovider: 'cookie' };
      if (identity.authextra !== undefined) principal.authextra = identity.authextra;
      return { kind: 'accept', principal };
    },
  };
}
