/**
 * `@switchboard/client/auth`: ready-made `auth` options for `connect`, one module per method
 * (auth/ticket.ts, auth/wampcra.ts, auth/cryptosign.ts), WebCrypto only so they run in Node and the
 * browser. The Node entry point exports them too; the browser bundle does not (they have their own
 * bundle, dist/bundle/auth.js), so that apps without authentication do not carry them. SCRAM
 * (`scramAuth`, with argon2id) has an entry point of its own, `@switchboard/client/auth/scram`.
 */
export { ticketAuth } from './auth/ticket.js';
export type { TicketAuthOptions } from './auth/ticket.js';
export { wampcraAuth, craSign, craDeriveKey, craAnswer, CRA_DEFAULT_ITERATIONS, CRA_DEFAULT_KEYLEN } from './auth/wampcra.js';
export type { WampcraAuthOptions } from './auth/wampcra.js';
export { cryptosignAuth, ed25519Signer } from './auth/cryptosign.js';
export type { CryptosignAuthOptions, Ed25519Signer } from './auth/cryptosign.js';
