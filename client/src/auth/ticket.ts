/**
 * WAMP-Ticket: HELLO announces `ticket` and the authid; the CHALLENGE is answered with the ticket
 * as it is. Send tickets over wss:// only: the router sees them in clear.
 */
import type { Dict } from '@switchboard/schemas/core';
import type { AuthOptions } from '../join.js';

export interface TicketAuthOptions {
  authid: string;
  ticket: string;
  /** HELLO.Details.authrole (the router may ignore it). */
  authrole?: string;
  authextra?: Dict;
}

/** The `auth` option of `connect` for WAMP-Ticket. */
export function ticketAuth(options: TicketAuthOptions): AuthOptions {
  const { authid, ticket } = options;
  return {
    authmethods: ['ticket'],
    authid,
    ...(options.authrole !== undefined ? { authrole: options.authrole } : {}),
    ...(options.authextra !== undefined ? { authextra: options.authextra } : {}),
    onChallenge: (method) => {
      if (method !== 'ticket') throw new Error(`ticketAuth got a CHALLENGE for '${method}'`);
      return ticket;
    },
  };
}
