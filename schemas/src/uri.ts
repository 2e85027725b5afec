/**
 * URI rules. [bp_identifiers: "Relaxed/Loose URIs", "Strict URIs"]
 * Components are separated by `.`; loose components exclude `.`, `#` and whitespace,
 * strict ones allow only [0-9a-z_]. Empty components are wildcards, allowed only in
 * wildcard patterns.
 *
 * Loose components also exclude control characters (\p{Cc}: C0 U+0000–U+001F, DEL U+007F, C1
 * U+0080–U+009F) and lone surrogates (\p{Cs}): a NUL or an escape sequence in a URI hides in logs
 * and terminals and cuts C strings short, and a lone surrogate has no UTF-8 form, so the same URI
 * would reach a MessagePack or CBOR peer as U+FFFD. Every other code point is allowed (non-ASCII
 * URIs included); format characters such as U+200D stay allowed, emoji sequences need them.
 */

const LOOSE = /^([^\s.#\p{Cc}\p{Cs}]+\.)*([^\s.#\p{Cc}\p{Cs}]+)$/u;
const LOOSE_EMPTY = /^(([^\s.#\p{Cc}\p{Cs}]+\.)|\.)*([^\s.#\p{Cc}\p{Cs}]+)?$/u;
const STRICT = /^([0-9a-z_]+\.)*([0-9a-z_]+)$/;
const STRICT_EMPTY = /^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$/;

export type UriCheck = 'loose' | 'strict';
export type MatchPolicy = 'exact' | 'prefix' | 'wildcard';

export const MATCH_POLICIES: readonly MatchPolicy[] = ['exact', 'prefix', 'wildcard'];

export function isMatchPolicy(value: unknown): value is MatchPolicy {
  return value === 'exact' || value === 'prefix' || value === 'wildcard';
}

/** A URI as it may appear in a message (no empty components). */
export function isValidUri(uri: string, check: UriCheck = 'loose'): boolean {
  return (check === 'strict' ? STRICT : LOOSE).test(uri);
}

/**
 * A topic or procedure pattern for the given match policy: exact needs a full URI;
 * prefix allows a trailing partial component (any non-empty string without whitespace or `#`);
 * wildcard allows empty components.
 */
export function isValidPattern(pattern: string, match: MatchPolicy, check: UriCheck = 'loose'): boolean {
  switch (match) {
    case 'exact':
      return isValidUri(pattern, check);
    case 'prefix':
      // A prefix may end in a dot ("com.myapp.") so that it matches whole components only.
      return pattern.length > 0 && (isValidUri(pattern, check) || (isValidUri(pattern.slice(0, -1), check) && pattern.endsWith('.')));
    case 'wildcard':
      return (check === 'strict' ? STRICT_EMPTY : LOOSE_EMPTY).test(pattern) && pattern.length > 0;
  }
}

/** `wamp` as first component is reserved for URIs predefined by the protocol. */
export function isReservedUri(uri: string): boolean {
  return uri === 'wamp' || uri.startsWith('wamp.');
}
