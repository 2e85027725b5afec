/**
 * Dynamic authorization: a role whose decisions come from a WAMP procedure, with Crossbar's
 * contract `authorize(session, uri, action, options)` → bool or `{allow, disclose, cache}`.
 * Decisions marked `cache` (or a bare `true`/`false`) are kept for the rest of the session: of
 * that WAMP session, not of the connection, which may carry another session after GOODBYE.
 */
import type { Dict, MatchPolicy } from '@switchboard/schemas';
import { isDict } from '@switchboard/schemas';
import type { Action, Decision, Subject } from './types.js';

/** Calls a procedure as the router. */
export type RouterCall = (procedure: string, args: unknown[], kwargs: Dict, timeoutMs: number) => Promise<{ args: unknown[]; kwargs: Dict }>;

/**
 * Cached decisions kept per session at most; past it the oldest is forgotten (and asked again if
 * needed), so a session naming ever new URIs cannot grow the cache without bound.
 */
export const MAX_CACHED_DECISIONS = 1000;

/** What the authorizer procedure is told about the session (Crossbar's session details). */
export type SubjectDetails = (subject: Subject) => Dict;

export class DynamicRole {
  // Per WAMP session (its membership): `${action} ${match} ${uri}` → decision.
  readonly #cache = new WeakMap<object, Map<string, Decision>>();

  constructor(
    private readonly procedure: string,
    private readonly call: RouterCall,
    private readonly details: SubjectDetails,
    private readonly timeoutMs = 5000,
  ) {}

  /**
   * The procedure learns the match policy from `options.match`, as Crossbar's authorizers do; a
   * decision on a URI is never reused for a pattern of the same text (the key has the policy).
   */
  authorize(subject: Subject, uri: string, action: Action, match: MatchPolicy, options: Dict): Decision | Promise<Decision> {
    const key = `${action} ${match} ${uri}`;
    // Captured now: a decision that arrives after the session left is cached for nobody.
    const membership = subject.membership;
    const cached = membership === undefined ? undefined : this.#cache.get(membership)?.get(key);
    if (cached !== undefined) return cached;
    const told = match === 'exact' || options['match'] === match ? options : { ...options, match };
    return this.call(this.procedure, [this.details(subject), uri, action, told], {}, this.timeoutMs).then(({ args }) => {
      const decision = toDecision(args[0]);
      if (decision.cache === true && membership !== undefined && membership === subject.membership) {
        let mine = this.#cache.get(membership);
        if (mine === undefined) this.#cache.set(membership, (mine = new Map()));
        if (mine.size >= MAX_CACHED_DECISIONS && !mine.has(key)) mine.delete(mine.keys().next().value!);
        mine.set(key, decision);
      }
      return decision;
    });
  }

  /** Drops what was cached for a session that left. */
  forget(subject: Subject): void {
    if (subject.membership !== undefined) this.#cache.delete(subject.membership);
  }
}

/** A bare boolean is a cacheable allow/deny, as in Crossbar; a dict gives allow, disclose, cache. */
export function toDecision(value: unknown): Decision {
  if (typeof value === 'boolean') return { allow: value, cache: true };
  if (isDict(value) && typeof value['allow'] === 'boolean') {
    const decision: Decision = { allow: value['allow'] };
    if (value['disclose'] === true) decision.disclose = true;
    if (value['cache'] === true) decision.cache = true;
    return decision;
  }
  throw new Error(`authorizer returned ${JSON.stringify(value)}: expected a boolean or {allow, disclose?, cache?}`);
}
