/**
 * WAMP-Ticket: the client proves who it is with a shared secret, sent in clear in AUTHENTICATE
 * (so only over TLS or a trusted network). [ap_authentication_ticket]
 * CHALLENGE [4, "ticket", {}]; AUTHENTICATE.Signature is the ticket.
 */
import { AUTHENTICATION_FAILED, UNGUESSABLE, safeEqual } from './failure.js';
import { admit, createSource, lookupDetails, tryLookup } from './lookup.js';
import type { AuthContext, PrincipalSource, SourceConfig } from './lookup.js';
import type { AuthResult, Authenticator, HelloInfo } from './types.js';

/** One entry of `principals` (Crossbar's shape). */
export interface TicketPrincipal {
  ticket: string;
  role: string;
  /** The realm the session joins (Crossbar: the principal's realm overrides the one asked for). */
  realm?: string;
}

export type TicketConfig = { type: 'static'; principals: Record<string, TicketPrincipal> } | SourceConfig;

export function ticketAuthenticator(config: TicketConfig, context?: AuthContext): Authenticator {
  if (config.type === 'static') return staticTicket(new Map(Object.entries(config.principals)));
  return dynamicTicket(createSource(config, context), context);
}

function staticTicket(principals: ReadonlyMap<string, TicketPrincipal>): Authenticator {
  return {
    method: 'ticket',
    authenticate(hello: HelloInfo): AuthResult {
      // Every HELLO is challenged, known authid or not: a wrong ticket and an unknown authid
      // must look the same to the client, down to the work done to refuse them.
      return {
        kind: 'challenge',
        extra: {},
        respond(ticket: string): AuthResult {
          const principal = hello.authid === undefined ? undefined : principals.get(hello.authid);
          const matches = safeEqual(ticket, principal?.ticket ?? UNGUESSABLE);
          if (!matches || principal === undefined || hello.authid === undefined) return AUTHENTICATION_FAILED;
          const accepted: AuthResult = { kind: 'accept', principal: { authid: hello.authid, authrole: principal.role, authprovider: 'static' } };
          if (principal.realm !== undefined) accepted.principal.realm = principal.realm;
          return accepted;
        },
      };
    },
  };
}

/** Crossbar's order: challenge first, then hand the ticket to the authenticator with the session details. */
function dynamicTicket(source: PrincipalSource, context: AuthContext | undefined): Authenticator {
  return {
    method: 'ticket',
    authenticate(hello: HelloInfo): AuthResult {
      return {
        kind: 'challenge',
        extra: {},
        async respond(ticket: string): Promise<AuthResult> {
          const request = { realm: hello.realm, authid: hello.authid, authmethod: 'ticket', details: lookupDetails(hello, 'ticket', { ticket }) };
          const answer = await tryLookup(source, request, context?.log);
          return answer === undefined ? AUTHENTICATION_FAILED : admit(answer, hello, source.provider);
        },
      };
    },
  };
}
