/**
 * Dynamic authorization: a role whose decisions come from a WAMP procedure, with Crossbar's
 * contract `authorize(session, uri, action, options)` → bool or `{allow, disclose, cache}`.
 * Decisions marked `cache` (or a bare `true`/`false`) are kept for the rest of the session.
 */
import type { Dict } from '@switchboard/schemas';
import { isDict } from '@switchboard/schemas';
import type { Action, Decision, Subject } from './types.js';

/** Calls a procedure as the router. */
export type RouterCall = (procedure: string, args: unknown[], kwargs: Dict, timeoutMs: number) => Promise<{ args: unknown[]; kwargs: Dict }>;

/** What the authorizer procedure is told about the session (Crossbar's session details). */
export type SubjectDetails = (subject: Subject) => Dict;

export class DynamicRole {
  // Per session: `${action} ${uri}` → decision.
  readonly #cache = new WeakMap<Subject, Map<string, Decision>>();

  constructor(
    private readonly procedure: string,
    private readonly call: RouterCall,
    private readonly details: SubjectDetails,
    private readonly timeoutMs = 5000,
  ) {}

  authorize(subject: Subject, uri: string, action: Action, options: Dict): Decision | Promise<Decision> {
    const key = `${action} ${uri}`;
    const cached = this.#cache.get(subject)?.get(key);
    if (cached !== undefined) return cached;
    return this.call(this.procedure, [this.details(subject), uri, action, options], {}, this.timeoutMs).then(({ args }) => {
      const decision = toDecision(args[0]);
      if (decision.cache === true) {
        let mine = this.#cache.get(subject);
        if (mine === undefined) this.#cache.set(subject, (mine = new Map()));
        mine.set(key, decision);
      }
      return decision;
    });
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
