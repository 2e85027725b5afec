/**
 * Quotas: how much one session, one address or one realm may make the router hold. Every input is
 * hostile, so everything a client can make the router keep is counted against a limit with a safe
 * default. Past a per-session limit the request gets ERROR switchboard.error.limit_exceeded with
 * kwargs {limit, value} (the config key and its value) and the session goes on; every refusal is
 * counted in switchboard_limits_exceeded_total{limit}. The counts themselves live where the state
 * lives (the broker's and dealer's per-session indexes); this module only compares and answers.
 */
import type { Dict, Kwargs, Subscribe, WireArgs } from '@switchboard/schemas';
import { WampError, isMatchPolicy } from '@switchboard/schemas';
import type { Broker } from './broker/broker.js';
import type { Dealer } from './dealer/dealer.js';
import { BRIDGE_AUTHMETHOD } from './http/bridge/local-session.js';
import type { Endpoint } from './core/endpoint.js';
import { isRouterSession } from './core/sessions.js';
import { LIMIT_EXCEEDED, overLimit } from './core/outcome.js';
import type { LimitHit, OverLimit } from './core/outcome.js';
import type { RouterStats } from './stats.js';

export { LIMIT_EXCEEDED } from './core/outcome.js';
export type { LimitHit } from './core/outcome.js';

/** A realm's `limits`: per session of the realm, and for the realm as a whole. */
export interface RealmLimits {
  /** Subscriptions one session may hold (exact and pattern alike). */
  maxSubscriptionsPerSession: number;
  /** Registrations one session may hold. */
  maxRegistrationsPerSession: number;
  /** Calls one session may have in flight as caller. */
  maxPendingCallsPerSession: number;
  /** Invocations one session may have in flight as callee; a busy callee of a shared registration is skipped. */
  maxInvocationsPerSession: number;
  /** Testaments (both scopes) one session may leave. */
  maxTestamentsPerSession: number;
  /** Bytes (estimated, see payloadBytes) of topic, payload and options of one session's testaments. */
  maxTestamentBytesPerSession: number;
  /**
   * Characters in a topic or procedure URI (or pattern) of a SUBSCRIBE, REGISTER, CALL, PUBLISH or
   * testament. URIs are keys the router indexes and keeps for as long as a route lives, so one
   * session's quota times this length bounds what its routes' keys hold.
   */
  maxUriLength: number;
  /** Bytes (estimated, see payloadBytes) of retained events the realm keeps; the oldest topics go first. */
  maxRetainedBytes: number;
  /** Bytes (estimated) of event history the realm keeps; the oldest events go first. */
  maxHistoryBytes: number;
  /** Events one history read returns at most (a larger `limit` is clamped; the answer says `more`). */
  maxHistoryPage: number;
  /** Distinct topics one get_events on a pattern rule asks the gate about, one by one, for a caller without permission on the whole pattern. */
  maxHistoryReadTopics: number;
  /** Bytes (estimated, see payloadBytes) one history read returns at most; the page stops before the event that passes it and says `more`. */
  maxHistoryPageBytes: number;
  /** Live events held for one SUBSCRIBE catch-up while its replay is read; past it the SUBSCRIBE fails. */
  maxCatchUpEvents: number;
  /**
   * Bytes (as the subscriber's serializer encodes them) of live events held for one SUBSCRIBE
   * catch-up, or one SSE stream's Last-Event-ID replay; past it the SUBSCRIBE fails (the stream closes).
   */
  maxCatchUpBytes: number;
  /** Milliseconds a SUBSCRIBE catch-up's replay may take to read; past it the SUBSCRIBE fails with wamp.error.timeout. */
  catchUpTimeoutMs: number;
  /**
   * Bytes (estimated) of retained events one SUBSCRIBE with get_retained replays: a pattern
   * subscription can match many retained topics, and the replay is sent at once.
   */
  maxRetainedReplayBytes: number;
  /**
   * Session resumption [ap_session_resumption]: milliseconds a resumable session lives detached
   * before it ends as a leave; 0: resumption is off in the realm (resumption.ts).
   */
  resumeWindowMs: number;
  /** Detached sessions the realm keeps; past it a session that loses its transport ends instead. */
  maxDetachedSessions: number;
  /** Detached sessions of one client IP address in the realm; past it that address's sessions end instead of detaching. */
  maxDetachedSessionsPerAddress: number;
  /** Answers one resumable session keeps for a resume (while detached, past it the session ends). */
  maxResumeAnswers: number;
  /** Bytes (estimated, see payloadBytes) of answers one resumable session keeps for a resume. */
  maxResumeBytes: number;
  /** Bytes (estimated) of answers the realm's detached sessions keep in all. */
  maxDetachedBytes: number;
}

/**
 * Defaults sized for a client that misbehaves, not for the largest honest one: each costs at most
 * some tens of MiB per session (about 1 KiB per subscription or registration, a few KiB per call
 * in flight), and the realm's byte budgets cap what one publisher can park in memory.
 */
export const DEFAULT_REALM_LIMITS: Readonly<RealmLimits> = {
  maxSubscriptionsPerSession: 10_000,
  maxRegistrationsPerSession: 1_000,
  maxPendingCallsPerSession: 1_000,
  maxInvocationsPerSession: 1_000,
  maxTestamentsPerSession: 100,
  maxTestamentBytesPerSession: 1024 * 1024,
  maxUriLength: 1024,
  maxRetainedBytes: 64 * 1024 * 1024,
  maxHistoryBytes: 64 * 1024 * 1024,
  maxHistoryPage: 1000,
  maxHistoryPageBytes: 4 * 1024 * 1024,
  maxHistoryReadTopics: 64,
  maxCatchUpEvents: 10_000,
  maxCatchUpBytes: 8 * 1024 * 1024,
  catchUpTimeoutMs: 30_000,
  maxRetainedReplayBytes: 4 * 1024 * 1024,
  resumeWindowMs: 60_000,
  maxDetachedSessions: 10_000,
  maxDetachedSessionsPerAddress: 100,
  maxResumeAnswers: 1000,
  maxResumeBytes: 1024 * 1024,
  maxDetachedBytes: 64 * 1024 * 1024,
};

/**
 * One of the HTTP bridge's in-process sessions: joined with the authmethod only the bridge's local
 * connections offer (never a network transport), by the bridge's own authenticator.
 */
export function isBridgeSession(session: Endpoint): boolean {
  return session.identity?.authmethod === BRIDGE_AUTHMETHOD && session.identity.authprovider === 'bridge';
}

/** A quota refusal as a router procedure's error (wamp.session.add_testament), counted. */
export function overLimitError(hit: LimitHit, stats: RouterStats): WampError {
  stats.limitExceeded(hit.limit);
  const refused = overLimit(hit);
  return new WampError(LIMIT_EXCEEDED, [refused.message], { limit: hit.limit, value: hit.value });
}

/**
 * A realm's per-session quotas, checked at the start of SUBSCRIBE, REGISTER, CALL and PUBLISH.
 * They answer with an OverLimit (core/outcome.ts) or undefined; the caller counts and sends it,
 * so one place answers every refusal of a request.
 */
export class Quotas {
  constructor(
    readonly limits: Readonly<RealmLimits>,
    private readonly broker: Broker<Endpoint>,
    private readonly dealer: Dealer<Endpoint>,
    private readonly stats: RouterStats,
  ) {}

  /** The error a router procedure throws past a limit (counted). */
  overLimit(hit: LimitHit): WampError {
    return overLimitError(hit, this.stats);
  }

  /** The refusal of a SUBSCRIBE that would make one subscription too many. */
  refusesSubscribe(session: Endpoint, msg: Subscribe): OverLimit | undefined {
    if (isRouterSession(session)) return undefined;
    const max = this.limits.maxSubscriptionsPerSession;
    const held = this.broker.subscriptionsOf(session);
    if (held.size < max) return undefined;
    // Subscribing again to what it holds adds nothing.
    const match = isMatchPolicy(msg.options.match) ? msg.options.match : 'exact';
    const existing = this.broker.lookup(msg.topic, match);
    if (existing !== undefined && held.has(existing)) return undefined;
    return overLimit({ limit: 'maxSubscriptionsPerSession', value: max });
  }

  /** The refusal of a URI longer than maxUriLength. Checked before anything looks at the URI. */
  refusesUri(uri: string): OverLimit | undefined {
    const hit = this.#uriTooLong(uri);
    return hit === undefined ? undefined : overLimit(hit);
  }

  /** Throws (counted) when a URI a router procedure takes (a testament's topic) is longer than maxUriLength. */
  checkUri(uri: string): void {
    const hit = this.#uriTooLong(uri);
    if (hit !== undefined) throw this.overLimit(hit);
  }

  #uriTooLong(uri: string): LimitHit | undefined {
    const max = this.limits.maxUriLength;
    return uri.length > max ? { limit: 'maxUriLength', value: max } : undefined;
  }

  /** The refusal of a REGISTER that would make one registration too many. */
  refusesRegister(session: Endpoint): OverLimit | undefined {
    if (isRouterSession(session)) return undefined;
    const max = this.limits.maxRegistrationsPerSession;
    if (this.dealer.registrationsOf(session).size < max) return undefined;
    return overLimit({ limit: 'maxRegistrationsPerSession', value: max });
  }

  /**
   * Calls `session` may have in flight as caller (maxPendingCallsPerSession), which the dealer
   * checks when it routes a call; undefined: no limit. The router's own session (authorizers,
   * authenticators) is exempt: it calls for everyone.
   */
  callLimit(session: Endpoint): number | undefined {
    if (isRouterSession(session)) return undefined;
    // The HTTP bridge's shared sessions carry the calls of every client of a path: a quota per
    // session would let one client lock out the others. The path bounds calls per client address.
    if (isBridgeSession(session)) return undefined;
    return this.limits.maxPendingCallsPerSession;
  }
}

/**
 * An upper-bound estimate of the memory a payload holds, for the byte budgets: strings by their
 * UTF-8 length, binary by its length, plus V8's overhead: a value 16 bytes, a list or dict 64 (a
 * `{}` from JSON.parse takes about 56 on the heap, with its in-object slots), a list element's
 * slot 8, a dict key 16 more. So a payload of many small containers (60 000 `{}`) is counted at
 * what it costs, not at a fraction of it. Iterative (a deeply nested payload cannot overflow the
 * stack); computed only when an event is kept (retention, history, testaments), never on the
 * fan-out path.
 */
export function payloadBytes(args: WireArgs | undefined, kwargs: Kwargs | undefined, details?: Dict): number {
  const VALUE = 16;
  const CONTAINER = 64;
  let total = 0;
  const stack: unknown[] = [args, kwargs, details];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || value === undefined) {
      total += VALUE;
      continue;
    }
    if (typeof value === 'string') total += VALUE + Buffer.byteLength(value, 'utf8');
    else if (value instanceof Uint8Array) total += CONTAINER + value.byteLength;
    else if (Array.isArray(value)) {
      total += CONTAINER + 8 * value.length;
      for (const v of value) stack.push(v);
    } else if (typeof value === 'object') {
      total += CONTAINER;
      for (const [k, v] of Object.entries(value)) {
        total += VALUE + Buffer.byteLength(k, 'utf8');
        stack.push(v);
      }
    } else total += VALUE;
  }
  return total;
}
