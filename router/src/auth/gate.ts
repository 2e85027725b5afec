/**
 * A realm's one authorization gate. Every route by which a session acts or learns passes here:
 * SUBSCRIBE, PUBLISH, REGISTER and CALL (the HTTP bridge, its SSE streams and the router's
 * integrations act through in-process WAMP sessions, so through these), testaments published
 * when a session leaves, and the meta procedures that reveal events or routes
 * (wamp.subscription.get_events, the route listings) or store a publication
 * (wamp.session.add_testament). Nothing else asks the authorizer.
 *
 * The gate owns, in one place each:
 * - the bypass of the router's own sessions (authprovider `router`), which act for the router;
 * - the answer's shape: a Verdict now (Allowed, or a Refusal naming wamp.error.not_authorized or
 *   wamp.error.authorization_failed), or a PendingVerdict when the authorizer answers later;
 * - a failing authorizer (throws, rejects, answers nonsense): logged once, here, and refused
 *   with wamp.error.authorization_failed;
 * - a decision that arrives after its session left (or after another session took its place on
 *   the connection): dropped, never acted on.
 */
import { Pause, settledOf } from '../core/pause.js';
import type { Handled } from '../core/pause.js';
import type { Dict, MatchPolicy, MessageCode, RequestId } from '@switchboard/schemas';
import { ErrorUri } from '@switchboard/schemas';
import type { Refusal } from '../core/outcome.js';
import { refusal } from '../core/outcome.js';
import type { Logger } from '../log.js';
import { isRouterSession } from '../core/sessions.js';
import type { Action, Authorizer, Decision, Subject } from './types.js';

/**
 * What the gate needs of a session: who it is (Subject: id, authid, authrole, and its
 * membership, a new object per WAMP session) and who vouched for it (the router's own sessions
 * are not authorized). Whether it still belongs to the realm is the realm's to say (GateOptions).
 */
export interface GateSession extends Subject {
  readonly identity: { readonly authprovider: string } | undefined;
}

/** A session that can be answered an ERROR for one of its requests (a WAMP message). */
export interface Answerable {
  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void;
}

/** The WAMP request a session asks with: its type and ID (for the ERROR), and whether a refusal goes unanswered. */
export interface GateRequest {
  readonly type: MessageCode;
  readonly id: RequestId;
  /** An unacknowledged PUBLISH: never answered, refused or not. */
  readonly quiet?: boolean;
}

/** What a session asks to do: `action` on `uri`, a URI or (SUBSCRIBE, REGISTER) a pattern. */
export interface Ask {
  readonly uri: string;
  readonly action: Action;
  /** How `uri` is meant (default exact): a pattern is allowed only if every URI it can match is (coverage.ts). */
  readonly match?: MatchPolicy;
  /** The message's options, for dynamic authorizers (default none). */
  readonly options?: Dict;
}

/** Allowed; `disclose`: the authorizer asks that the caller or publisher be disclosed whatever it asked. */
export interface Allowed {
  readonly ok: true;
  readonly disclose: boolean;
}

/** A decision now: allowed, or a Refusal (not_authorized, authorization_failed). */
export type Verdict = Allowed | Refusal;

/** A decision the authorizer gives later (a dynamic authorizer asks a WAMP procedure). */
export interface PendingVerdict {
  readonly ok: 'pending';
  /**
   * Runs `then` with the verdict once it arrives, unless the session left meanwhile: then the
   * verdict is dropped and `then` never runs. The promise settles when `then` has run (with what
   * it returns) or the verdict was dropped; the authorizer's failure never rejects it (that is a
   * Refusal, given to `then`).
   */
  settle(then: (verdict: Verdict) => void | Promise<void>): Promise<void>;
}

/** What the gate answers: a verdict now, or one pending. */
export type Judgement = Verdict | PendingVerdict;

/** The one allowance without disclosure (no allocation on the common path). */
const ALLOWED: Allowed = { ok: true, disclose: false };
const ALLOWED_DISCLOSED: Allowed = { ok: true, disclose: true };
/** The message of every failed authorization: what went wrong is in the router's log, not the client's ERROR. */
export const AUTHORIZATION_FAILED_MESSAGE = 'authorization failed';

/** The refusal of an action the authorizer denied; the message names the action and URI. */
export function notAuthorized(action: Action, uri: string): Refusal {
  return refusal(ErrorUri.NotAuthorized, `session is not authorized to ${action} '${uri}'`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value instanceof Promise || (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function');
}

export interface GateOptions<S extends GateSession> {
  authorizer: Authorizer;
  log: Logger;
  /** The realm's name, for the log. */
  realm: string;
  /**
   * Whether `session` is in the realm now. A decision asked while it was, and arriving after it
   * left (or after its connection opened another session), is dropped. A decision asked for a
   * session that had already left (its testaments) is kept: there is nothing to outlive.
   */
  belongs(session: S): boolean;
}

export class Gate<S extends GateSession> {
  readonly #authorizer: Authorizer;
  readonly #log: Logger;
  readonly #realm: string;
  readonly #belongs: (session: S) => boolean;

  constructor(options: GateOptions<S>) {
    this.#authorizer = options.authorizer;
    this.#log = options.log;
    this.#realm = options.realm;
    this.#belongs = options.belongs;
  }

  /** Whether a principal may join with its role (WELCOME refuses unknown roles); the router's own always may. */
  admits(principal: { readonly authrole: string; readonly authprovider: string }): boolean {
    return principal.authprovider === 'router' || this.#authorizer.hasRole(principal.authrole);
  }

  /** Drops what the authorizer keeps for a session that left. */
  forget(session: S): void {
    this.#authorizer.forget?.(session);
  }

  /** The decision on `ask` for `session`: now, or pending. */
  judge(session: S, ask: Ask): Judgement {
    if (isRouterSession(session)) return ALLOWED;
    let decision: Decision | Promise<Decision>;
    try {
      decision = this.#authorizer.authorize(session, ask.uri, ask.action, ask.match ?? 'exact', ask.options ?? {});
    } catch (err) {
      return this.#failed(session, ask, err);
    }
    if (!isThenable(decision)) return this.#verdict(session, ask, decision);
    // The WAMP session this was asked for; undefined when it had already left (a testament).
    const membership = this.#belongs(session) ? session.membership : undefined;
    // Promise.resolve: an embedder's authorizer may answer with any thenable.
    const arrived = Promise.resolve(decision).then(
      (d) => this.#verdict(session, ask, d),
      (err: unknown) => this.#failed(session, ask, err),
    );
    const current = (): boolean => membership === undefined || (this.#belongs(session) && session.membership === membership);
    return {
      ok: 'pending',
      settle: (then) => arrived.then((verdict) => (current() ? then(verdict) : undefined)),
    };
  }

  /**
   * The verdict as a promise, for code that waits anyway (router procedures); undefined when the
   * session left before it arrived (dropped).
   */
  verdict(session: S, ask: Ask): Promise<Verdict | undefined> {
    const membership = this.#belongs(session) ? session.membership : undefined;
    const judgement = this.judge(session, ask);
    if (judgement.ok !== 'pending') {
      // A verdict decided now still reaches the caller a microtask later: by then the session may
      // have left (a GOODBYE read in the same chunk as the CALL). Checked when it is handed over.
      return Promise.resolve(judgement).then((v) =>
        membership === undefined || (this.#belongs(session) && session.membership === membership) ? v : undefined,
      );
    }
    let settled: Verdict | undefined;
    return judgement.settle((v) => void (settled = v)).then(() => settled);
  }

  /**
   * A WAMP request through the gate: `then` runs when it is allowed, at once or when the
   * decision arrives. A refusal answers ERROR for `request` with its URI and message, except
   * when `quiet` (an unacknowledged PUBLISH, which is never answered). While the decision is
   * pending it returns a Pause (core/pause.ts: the session holds its later messages until the
   * decision, and whatever wait `then` leads to, has settled); else what `then` returns.
   */
  pass(session: S & Answerable, request: GateRequest, ask: Ask, then: (allowed: Allowed) => Handled): Handled {
    const judgement = this.judge(session, ask);
    // Decided now (every static authorizer): no closure on the path every message takes.
    if (judgement.ok !== 'pending') return Gate.#answer(session, request, judgement, then);
    return new Pause(judgement.settle((verdict) => settledOf(Gate.#answer(session, request, verdict, then))));
  }

  static #answer(session: Answerable, request: GateRequest, verdict: Verdict, then: (allowed: Allowed) => Handled): Handled {
    if (verdict.ok) return then(verdict);
    if (request.quiet !== true) session.sendError(request.type, request.id, verdict.error, verdict.message);
  }

  #verdict(session: S, ask: Ask, decision: unknown): Verdict {
    // An authorizer given by an embedder may answer anything: only a Decision is one.
    if (typeof decision !== 'object' || decision === null || typeof (decision as Decision).allow !== 'boolean') {
      return this.#failed(session, ask, new Error(`authorizer answered ${String(decision)}: expected {allow, disclose?, cache?}`));
    }
    const { allow, disclose } = decision as Decision;
    if (!allow) return notAuthorized(ask.action, ask.uri);
    return disclose === true ? ALLOWED_DISCLOSED : ALLOWED;
  }

  #failed(session: S, ask: Ask, err: unknown): Refusal {
    this.#log.warn(
      { realm: this.#realm, session: session.id, uri: ask.uri, action: ask.action, err: err instanceof Error ? err.message : String(err) },
      'authorizer failed',
    );
    return refusal(ErrorUri.AuthorizationFailed, AUTHORIZATION_FAILED_MESSAGE);
  }
}
