/**
 * Whether a set of permissions covers a pattern: a prefix or wildcard SUBSCRIBE or REGISTER is
 * allowed only when the role may act on every URI the pattern can match. An exact permission
 * never covers a pattern (a role allowed to subscribe to `com.public.news` does not receive
 * `com.public.newsroom` through a prefix subscription), and a more specific rule inside the
 * pattern's match set that denies makes the pattern denied (allow prefix `com.app.`, deny exact
 * `com.app.secret`: a prefix subscription `com.app.` would receive `com.app.secret`).
 *
 * Matching is the broker's and dealer's (broker/subscription-index.ts): a prefix is a string
 * prefix (`com.app` matches `com.apple`), a wildcard has as many components as the URI and an
 * empty component matches any one component. Rules are ranked as for a concrete URI
 * (permissions.ts): exact, then the longest prefix, then the most specific wildcard. Where the
 * answer would need more than these rules say, it is "not covered" (refuse when unsure).
 *
 * The rules hold at most one per URI and match policy (permissions.ts keeps the first), so that
 * coverage and the concrete-URI index rank the same rules.
 */
import type { MatchPolicy } from '@switchboard/schemas';

/** A permission as coverage sees it: its URI, match policy, and (through `allows`) its answer. */
export interface CoverRule {
  readonly uri: string;
  readonly match: MatchPolicy;
}

/** Whether `uri` (a concrete URI) is in the match set of the wildcard pattern `parts`. */
function wildcardMatches(parts: readonly string[], uri: string): boolean {
  const u = uri.split('.');
  return u.length === parts.length && u.every((c, i) => c !== '' && (parts[i] === '' || parts[i] === c));
}

/** The rule a concrete URI gets: exact, then the longest prefix, then the most specific wildcard. */
export function bestRule<R extends CoverRule>(uri: string, rules: readonly R[]): R | undefined {
  let prefix: R | undefined;
  let wildcard: R | undefined;
  for (const r of rules) {
    if (r.match === 'exact') {
      if (r.uri === uri) return r;
    } else if (r.match === 'prefix') {
      if (uri.startsWith(r.uri) && (prefix === undefined || r.uri.length > prefix.uri.length)) prefix = r;
    } else if (wildcardMatches(r.uri.split('.'), uri) && (wildcard === undefined || moreSpecific(r.uri, wildcard.uri))) wildcard = r;
  }
  return prefix ?? wildcard;
}

/** Of two wildcard patterns matching one URI: the one whose first concrete component stands further left. */
function moreSpecific(a: string, b: string): boolean {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < pa.length; i++) {
    if (pa[i] !== '' && pb[i] === '') return true;
    if (pa[i] === '' && pb[i] !== '') return false;
  }
  return false;
}

/**
 * Whether the prefix rule `q` can be a prefix of some URI the wildcard pattern `parts` matches:
 * its full components agree with the pattern's, its last (partial) one can begin that component.
 */
function mayPrefix(parts: readonly string[], q: string): boolean {
  const qs = q.split('.');
  if (qs.length > parts.length) return false;
  for (let i = 0; i < qs.length - 1; i++) {
    if (qs[i] === '' || (parts[i] !== '' && parts[i] !== qs[i])) return false;
  }
  const last = qs[qs.length - 1]!;
  const part = parts[qs.length - 1]!;
  return part === '' || part.startsWith(last);
}

/**
 * Whether every URI that `pattern` (with `match`) can match gets a rule that `allows`. An exact
 * pattern is one URI: its best rule decides.
 */
export function covers<R extends CoverRule>(pattern: string, match: MatchPolicy, rules: readonly R[], allows: (rule: R) => boolean): boolean {
  const parts = pattern.split('.');
  if (match === 'exact' || (match === 'wildcard' && !parts.includes(''))) {
    const best = bestRule(pattern, rules);
    return best !== undefined && allows(best);
  }
  if (match === 'prefix') {
    // Every URI starting with `pattern` starts with the longest prefix rule `pattern` starts with
    // (the base), and gets it or a more specific rule inside the pattern: an exact rule or a
    // longer prefix rule that starts with `pattern`. Wildcard rules rank below the base.
    let base: R | undefined;
    for (const r of rules) if (r.match === 'prefix' && pattern.startsWith(r.uri) && (base === undefined || r.uri.length > base.uri.length)) base = r;
    if (base === undefined || !allows(base)) return false;
    return rules.every((r) => r === base || r.match === 'wildcard' || !r.uri.startsWith(pattern) || allows(r));
  }
  // A wildcard: every URI it matches starts with its components before the first empty one.
  const lead = parts
    .slice(0, parts.indexOf(''))
    .map((p) => `${p}.`)
    .join('');
  let base: R | undefined;
  for (const r of rules) if (r.match === 'prefix' && lead.startsWith(r.uri) && (base === undefined || r.uri.length > base.uri.length)) base = r;
  for (const r of rules) {
    if (r === base || allows(r)) continue;
    // A denying rule that may be the best one for some URI of the pattern.
    if (r.match === 'exact' && wildcardMatches(parts, r.uri)) return false;
    // Prefixes of `lead` shorter than the base never win over it.
    if (r.match === 'prefix' && !lead.startsWith(r.uri) && mayPrefix(parts, r.uri)) return false;
  }
  if (base !== undefined) return allows(base);
  // No prefix rule spans the pattern: a wildcard rule containing it must, and no wildcard rule
  // that meets it may deny (wildcard ranks are not worth reasoning about here: refuse).
  const contains = (r: R): boolean => {
    const rs = r.uri.split('.');
    return rs.length === parts.length && rs.every((c, i) => c === '' || c === parts[i]);
  };
  const meets = (r: R): boolean => {
    const rs = r.uri.split('.');
    return rs.length === parts.length && rs.every((c, i) => c === '' || parts[i] === '' || c === parts[i]);
  };
  const wildcards = rules.filter((r) => r.match === 'wildcard');
  return wildcards.some(contains) && wildcards.every((r) => !meets(r) || allows(r));
}

/**
 * Whether a pattern's match set can contain a URI of the reserved `wamp` space (`wamp` or
 * `wamp.…`): prefix `w`, `wam`, `wamp.session`; a wildcard whose first component is empty or
 * `wamp`.
 */
export function mayMatchReserved(pattern: string, match: MatchPolicy): boolean {
  if (match === 'exact') return pattern === 'wamp' || pattern.startsWith('wamp.');
  if (match === 'prefix') return 'wamp.'.startsWith(pattern) || pattern.startsWith('wamp.');
  const first = pattern.split('.')[0]!;
  return first === '' || first === 'wamp';
}
