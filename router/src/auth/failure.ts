/**
 * How authentication fails. A wrong secret, an unknown authid and a failing authenticator all end
 * in the same ABORT (one reason, one message), so a client learns nothing about which authids
 * exist; secrets are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorUri } from '@switchboard/schemas';
import type { AuthResult } from './types.js';

/** ABORT.Details.message of every failed credential check. */
export const AUTHENTICATION_FAILED_MESSAGE = 'authentication failed';

/** The one answer to a wrong or unknown credential. */
export const AUTHENTICATION_FAILED: AuthResult = {
  kind: 'deny',
  reason: ErrorUri.AuthenticationFailed,
  message: AUTHENTICATION_FAILED_MESSAGE,
};

/** A refusal for a request that cannot be checked at all (a malformed key); the message says why. */
export function malformed(message: string): AuthResult {
  return { kind: 'deny', reason: ErrorUri.AuthenticationFailed, message };
}

/**
 * Whether two strings are equal, in a time that depends on neither their content nor their
 * lengths: both are hashed first, so timingSafeEqual always compares 32 bytes.
 */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * A secret no client can know, compared against when the authid is unknown, so an unknown authid
 * costs the same work as a wrong secret.
 */
export const UNGUESSABLE = randomBytes(32).toString('base64');
