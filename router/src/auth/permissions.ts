/**
 * Static authorization: roles with permissions, as in Crossbar's router config, plus `{authid}`
 * and `{authrole}` placeholders in URIs so per-user topics need no code.
 *   { uri, match: exact|prefix|wildcard, allow: {call, register, publish, subscribe},
 *     disclose: {caller, publisher}, cache }
 * A trailing `*` in `uri` means prefix (Crossbar's older form). When several permissions match,
 * the most specific wins: exact, then the longest prefix, then the wildcard whose concrete
 * components stand furthest left. No matching permission denies. A prefix or wildcard SUBSCRIBE
 * or REGISTER is allowed only when the permissions cover every URI it can match (coverage.ts).
 */
import type { Dict, MatchPolicy } from '@switchboard/schemas';
import { PrefixTrie, WildcardTrie } from '../broker/subscription-index.js';
import type { Action, Authorizer, Decision, Subject } from './types.js';
import { ALLOW, DENY } from './types.js';
import { covers } from './coverage.js';
import { DynamicRole } from './dynamic.js';

export interface PermissionConfig {
  uri: string;
  match?: MatchPolicy;
  allow?: Partial<Record<Action, boolean>>;
  disclose?: { caller?: boolean; publisher?: boolean };
  cache?: boolean;
}

export interface RoleConfig {
  name: string;
  permissions?: PermissionConfig[];
  /** A WAMP procedure that decides for this role (dynamic authorization, Crossbar's contract). */
  authorizer?: string;
}

interface Rule {
  uri: string;
  match: MatchPolicy;
  decisions: Record<Action, Decision>;
}

/** A permission's URI and match policy as they are decided: a trailing `*` with no `match` is a prefix. */
function target(uri: string, match: MatchPolicy | undefined): { uri: string; match: MatchPolicy } {
  if (match === undefined && uri.endsWith('*')) return { uri: uri.slice(0, -1), match: 'prefix' };
  return { uri, match: match ?? 'exact' };
}

function compile(p: PermissionConfig): Rule {
  const { uri, match } = target(p.uri, p.match);
  const decision = (action: Action, discloseKey: 'caller' | 'publisher' | undefined): Decision => {
    const allow = p.allow?.[action] === true;
    const disclose = discloseKey !== undefined && p.disclose?.[discloseKey] === true;
    return disclose ? { allow, disclose } : { allow };
  };
  return {
    uri,
    match,
    decisions: {
      call: decision('call', 'caller'),
      register: decision('register', undefined),
      publish: decision('publish', 'publisher'),
      subscribe: decision('subscribe', undefined),
    },
  };
}

const MATCH_POLICIES: readonly unknown[] = ['exact', 'prefix', 'wildcard'];

/**
 * What the JSON Schema cannot say about a realm's `roles`: that no role names two permissions
 * with the same URI and match policy (`com.app.*` and `{uri: 'com.app.', match: 'prefix'}` are
 * the same). Of two such, which one decides would be a guess the reader of the file cannot see,
 * so the config is refused. `roles` is the list as written (unchecked), `at` its JSON pointer.
 */
export function permissionProblems(roles: unknown, at: string): string[] {
  if (!Array.isArray(roles)) return [];
  const problems: string[] = [];
  roles.forEach((role: unknown, r) => {
    if (typeof role !== 'object' || role === null || !('permissions' in role) || !Array.isArray(role.permissions)) return;
    const seen = new Map<string, number>();
    role.permissions.forEach((p: unknown, i) => {
      if (typeof p !== 'object' || p === null || !('uri' in p) || typeof p.uri !== 'string') return;
      const match = 'match' in p ? p.match : undefined;
      if (match !== undefined && !MATCH_POLICIES.includes(match)) return;
      const t = target(p.uri, match as MatchPolicy | undefined);
      const key = `${t.match} ${t.uri}`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else
        problems.push(
          `${at}/${r}/permissions/${i}: ${t.match} '${t.uri}' is also ${at}/${r}/permissions/${first}; give each URI and match policy one permission`,
        );
    });
  });
  return problems;
}

const PLACEHOLDER = /\{(authid|authrole)\}/;
const PLACEHOLDERS = /\{(authid|authrole)\}/g;
const SAFE = /^[^.#\s]+$/;

/** One role's rules, indexed for the common case and scanned only for placeholder rules. */
class RoleRules {
  readonly #exact = new Map<string, Rule>();
  readonly #prefix = new PrefixTrie<Rule>();
  readonly #wildcard = new WildcardTrie<Rule>();
  readonly #templated: Rule[] = [];
  /** Every rule without placeholders, for coverage of patterns (which scans). */
  readonly #rules: Rule[] = [];
  /**
   * Placeholder rules filled in for one WAMP session, computed once per session. Keyed by the
   * session's membership (a new one at each WELCOME), not the session object, which a
   * connection keeps across GOODBYE and a new HELLO as someone else.
   */
  readonly #filled = new WeakMap<object, RoleRules>();

  constructor(permissions: PermissionConfig[]) {
    for (const p of permissions) {
      const rule = compile(p);
      if (PLACEHOLDER.test(rule.uri)) this.#templated.push(rule);
      else this.#add(rule);
    }
  }

  /** The decision for `action` on `uri` as a URI (exact) or a pattern every match of which must be allowed. */
  decide(subject: Subject, uri: string, action: Action, match: MatchPolicy): Decision {
    if (match === 'exact') return this.#find(uri, subject)?.decisions[action] ?? DENY;
    const rules = this.#templated.length === 0 ? this.#rules : [...this.#rules, ...this.#concrete(subject).#rules];
    return covers(uri, match, rules, (rule) => rule.decisions[action].allow) ? ALLOW : DENY;
  }

  forget(subject: Subject): void {
    if (subject.membership !== undefined) this.#filled.delete(subject.membership);
  }

  #find(uri: string, subject: Subject): Rule | undefined {
    if (this.#templated.length === 0) return this.#best(uri);
    return mostSpecific(this.#best(uri), this.#concrete(subject).#best(uri), uri);
  }

  #concrete(subject: Subject): RoleRules {
    const key = subject.membership;
    if (key === undefined) return this.#fill(subject);
    let concrete = this.#filled.get(key);
    if (concrete === undefined) this.#filled.set(key, (concrete = this.#fill(subject)));
    return concrete;
  }

  /** The placeholder rules with this session's authid and authrole filled in, indexed. */
  #fill(subject: Subject): RoleRules {
    const concrete = new RoleRules([]);
    const authid = subject.authid ?? '';
    const authrole = subject.authrole ?? '';
    for (const rule of this.#templated) {
      // A value that would change the URI's structure (a dot, #, whitespace) never fills a placeholder.
      if ((rule.uri.includes('{authid}') && !SAFE.test(authid)) || (rule.uri.includes('{authrole}') && !SAFE.test(authrole))) continue;
      // One pass, so an authid that reads '{authrole}' is not filled in again.
      const filled: Rule = { ...rule, uri: rule.uri.replace(PLACEHOLDERS, (_, name: string) => (name === 'authid' ? authid : authrole)) };
      if (!this.#has(filled)) concrete.#add(filled);
    }
    return concrete;
  }

  /**
   * One rule per URI and match policy, the first: the config check refuses two (permissionProblems),
   * an embedder's list keeps its first, and a placeholder rule filled in to a static rule's URI
   * loses to the static one. The index and coverage then see the same rules, so a URI and a
   * pattern over it cannot be decided by two different ones.
   */
  #add(rule: Rule): void {
    if (this.#has(rule)) return;
    this.#rules.push(rule);
    if (rule.match === 'exact') this.#exact.set(rule.uri, rule);
    else if (rule.match === 'prefix') this.#prefix.set(rule.uri, rule);
    else this.#wildcard.set(rule.uri, rule);
  }

  #has(rule: Rule): boolean {
    if (rule.match === 'exact') return this.#exact.has(rule.uri);
    return (rule.match === 'prefix' ? this.#prefix.get(rule.uri) : this.#wildcard.get(rule.uri)) !== undefined;
  }

  #best(uri: string): Rule | undefined {
    return this.#exact.get(uri) ?? this.#prefix.longestPrefixOf(uri) ?? this.#wildcard.firstMatch(uri);
  }
}

function rank(rule: Rule): number {
  return rule.match === 'exact' ? 3 : rule.match === 'prefix' ? 2 : 1;
}

function mostSpecific(a: Rule | undefined, b: Rule | undefined, uri: string): Rule | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (rank(a) !== rank(b)) return rank(a) > rank(b) ? a : b;
  if (a.match === 'prefix') return a.uri.length >= b.uri.length ? a : b;
  if (a.match === 'wildcard') {
    const trie = new WildcardTrie<Rule>();
    trie.set(a.uri, a);
    trie.set(b.uri, b);
    return trie.firstMatch(uri) ?? a;
  }
  return a;
}

/** Authorizes by role: static permissions, or a dynamic authorizer procedure for roles that name one. */
export class RoleAuthorizer implements Authorizer {
  readonly #roles = new Map<string, RoleRules | DynamicRole>();

  constructor(roles: RoleConfig[], dynamic?: (procedure: string) => DynamicRole) {
    for (const role of roles) {
      if (role.authorizer !== undefined) {
        if (dynamic === undefined) throw new Error(`role '${role.name}' names an authorizer, but no router is there to call it`);
        this.#roles.set(role.name, dynamic(role.authorizer));
      } else this.#roles.set(role.name, new RoleRules(role.permissions ?? []));
    }
  }

  hasRole(role: string): boolean {
    return this.#roles.has(role);
  }

  authorize(subject: Subject, uri: string, action: Action, match: MatchPolicy, options: Dict): Decision | Promise<Decision> {
    const role = subject.authrole === undefined ? undefined : this.#roles.get(subject.authrole);
    if (role === undefined) return DENY;
    if (role instanceof DynamicRole) return role.authorize(subject, uri, action, match, options);
    return role.decide(subject, uri, action, match);
  }

  forget(subject: Subject): void {
    const role = subject.authrole === undefined ? undefined : this.#roles.get(subject.authrole);
    role?.forget(subject);
  }
}
