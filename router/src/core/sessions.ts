/**
 * What the core says about a session from its identity alone: whether it is the router's own,
 * whether the meta API lists it, and the details wamp.session.get and on_join tell. A leaf (it
 * imports no realm), so the realm, the gate, the quotas, the meta API and the cluster share it.
 */
import type { Dict } from '@switchboard/schemas';
import type { Endpoint } from './endpoint.js';

/** Whether a session is one of the router's own (it acts for the router: never authorized, no role needed, no quota). */
export function isRouterSession(session: { readonly identity: { readonly authprovider: string } | undefined }): boolean {
  return session.identity?.authprovider === 'router';
}

/** The router's own in-process session acts for the router and is not listed (Crossbar hides its own too). */
export function isListed(session: { readonly identity: { readonly authprovider: string } | undefined }): boolean {
  return !isRouterSession(session);
}

/**
 * What wamp.session.get and on_join tell about a session. A resumable session adds `resumable:
 * true` and `attached` (false while detached: wamp.session.list and get show detached sessions,
 * and `transport` is the last one it had); other sessions' details are unchanged.
 * [ap_session_meta_api, ap_session_resumption]
 */
export function sessionDetails(session: Endpoint): Dict {
  const transport = session.transport;
  const details: Dict = {
    session: session.id,
    authid: session.identity?.authid,
    authrole: session.identity?.authrole,
    authmethod: session.identity?.authmethod,
    authprovider: session.identity?.authprovider,
    transport: { type: transport.type, protocol: transport.protocol, peer: transport.peer },
  };
  if (session.resumable === true) {
    details['resumable'] = true;
    details['attached'] = session.attached;
  }
  return details;
}
