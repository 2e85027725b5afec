/**
 * What the realm's requests share. SUBSCRIBE and REGISTER make routes the same way: a match
 * policy, a URI or pattern checked against the realm's URI rules, and (on a cluster node) an ID
 * derived from what the route is. Every request the realm refuses is answered here, once.
 */
import { createHash } from 'node:crypto';
import type { Dict, MatchPolicy, MessageCode, RequestId } from '@switchboard/schemas';
import { ErrorUri, isMatchPolicy, isValidPattern } from '@switchboard/schemas';
import type { UriCheck } from '@switchboard/schemas';
import { isOverLimit, refusal, refusalMessage } from '../core/outcome.js';
import type { Refusal } from '../core/outcome.js';
import type { Endpoint } from '../core/endpoint.js';
import type { RouterStats } from '../stats.js';

/**
 * The one answer to a request the realm refuses: the ERROR (unless `quiet`: an unacknowledged
 * PUBLISH), and a quota refusal counted in switchboard_limits_exceeded_total.
 */
export function refuse(stats: RouterStats, session: Endpoint, requestType: MessageCode, request: RequestId, refused: Refusal, quiet = false): void {
  if (isOverLimit(refused)) stats.limitExceeded(refused.limit.limit);
  if (!quiet) session.send(refusalMessage(requestType, request, refused));
}

/** The refusal of an unknown `match` option of SUBSCRIBE or REGISTER (absent is `exact`). */
export function matchRefusal(options: Dict): Refusal | undefined {
  const match = options['match'] ?? 'exact';
  return isMatchPolicy(match) ? undefined : refusal(ErrorUri.InvalidArgument, `unknown match policy '${String(match)}' (exact, prefix or wildcard)`);
}

/** The refusal of a topic or procedure that is no valid URI (exact) or pattern (prefix, wildcard). */
export function patternRefusal(kind: 'topic' | 'procedure', uri: string, match: MatchPolicy, uriCheck: UriCheck): Refusal | undefined {
  if (isValidPattern(uri, match, uriCheck)) return undefined;
  return refusal(ErrorUri.InvalidUri, `invalid ${kind} ${match === 'exact' ? 'URI' : `${match} pattern`} '${uri}'`);
}

/**
 * A route's ID derived from what it is: 53 bits of SHA-256 over realm, kind, policy and URI, plus
 * one (an ID is in [1, 2^53]). Two different routes share an ID with odds of about n²/2^54.
 */
export function routeId(realm: string, kind: 'subscription' | 'registration', match: MatchPolicy, uri: string): number {
  const digest = createHash('sha256').update(`${realm}\0${kind}\0${match}\0${uri}`).digest();
  // 48 bits, then 5 more: exactly 53, all representable in a double.
  return digest.readUIntBE(0, 6) * 32 + (digest[6]! >> 3) + 1;
}
