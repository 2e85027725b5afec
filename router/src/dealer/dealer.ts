/**
 * The dealer: registrations (exact, prefix, wildcard; single or shared), calls in flight, and who
 * answers whom. Pure: no sockets, no timers; the RNG and clock are injected.
 * Invocation request IDs are session scope (router → callee), so each callee has its own sequence.
 */
import type { MatchPolicy, RegistrationId, RequestId, SessionId } from '@switchboard/schemas';
import { ErrorUri, SequentialIds } from '@switchboard/schemas';
import { PrefixTrie, WildcardTrie } from '../broker/subscription-index.js';
import { overLimit, refusal } from '../core/outcome.js';
import type { Outcome, OverLimit, Refusal } from '../core/outcome.js';
import { Call } from './call.js';
import type { CalleeEntry, InvocationPolicy, Registration } from './registration.js';

export type { CalleeEntry, InvocationPolicy, Registration } from './registration.js';

export interface Callee {
  readonly id: SessionId;
  /**
   * False while the session is detached (session resumption): the dealer never picks it. Unset
   * (the unit tests' callees): attached. [ap_session_resumption]
   */
  readonly attached?: boolean;
}

/** Whether a callee may be picked now: only a detached session may not. */
function attached(entry: CalleeEntry<Callee>): boolean {
  return entry.session.attached !== false;
}

export const INVOCATION_POLICIES: readonly InvocationPolicy[] = ['single', 'roundrobin', 'random', 'first', 'last'];

export function isInvocationPolicy(value: unknown): value is InvocationPolicy {
  return typeof value === 'string' && (INVOCATION_POLICIES as readonly string[]).includes(value);
}

/**
 * One CALL routed to one callee, from INVOCATION until YIELD/ERROR, cancel, timeout or a session
 * leaving: the Call object (call.ts), the one holder of a call's state.
 */
export type PendingCall<S> = Call<S>;

export interface RegisterOptions {
  match?: MatchPolicy;
  invoke?: InvocationPolicy;
  discloseCaller?: boolean;
  forwardTimeout?: boolean;
}

export type RegisterOutcome<S> = Outcome<{ registration: Registration<S>; created: boolean }>;

/**
 * A routed call, or why not: no callee (a Refusal), or a quota (an OverLimit, which names the
 * limit): the caller at its `maxCalls` (maxPendingCallsPerSession), or every callee at
 * maxInvocationsPerCallee.
 */
export type CallOutcome<S> = { ok: true; call: Call<S> } | Refusal | OverLimit;

export interface CallOptions {
  /** CALL.Options.receive_progress [ap_rpc_progressive_call_results] */
  receiveProgress?: boolean;
  /** CALL.Options.progress: the first chunk of a progressive call invocation. [ap_rpc_progressive_call_invocations] */
  progressive?: boolean;
  /** Calls this caller may have in flight (maxPendingCallsPerSession); unset: no limit. */
  maxCalls?: number;
  /** Calls of this caller in flight outside the dealer (router procedures), counted toward `maxCalls`. */
  otherCalls?: number;
}

export interface UnregisterOutcome<S> {
  registration: Registration<S>;
  /** The last callee left: the registration is gone (meta event `on_delete`). */
  deleted: boolean;
}

export interface DealerOptions {
  /** Draws registration IDs (given the procedure and policy, for IDs derived from them). */
  registrationIds?: { next(procedure: string, match: MatchPolicy): RegistrationId };
  clock?: () => number;
  /** Uniform in [0, 1); for the `random` policy. */
  random?: () => number;
  /**
   * Invocations one callee may have in flight; past it a call goes to another callee of a shared
   * registration, or is refused (limit_exceeded). Unset: no limit.
   */
  maxInvocationsPerCallee?: number;
}

/** What a leaving session leaves behind. */
export interface SessionRemoval<S> {
  registrations: UnregisterOutcome<S>[];
  /** Calls the session was serving as callee: their callers must be told (wamp.error.canceled). */
  orphanedCalls: Call<S>[];
  /** Calls the session had made: their callees may still answer; the answers will be dropped. */
  abandonedCalls: Call<S>[];
  /** Calls the session made to a procedure it registered itself: no one is left to answer or tell. */
  ownCalls: Call<S>[];
  /** A session moving to another node (removeSession `moving`): its calls as caller, still pending on their callees. */
  movedCalls?: Call<S>[];
}

class SessionState<S> {
  readonly registrations = new Set<Registration<S>>();
  /** As callee: invocation request → call. */
  readonly invocations = new Map<number, Call<S>>();
  /** As caller: call request → call. */
  readonly calls = new Map<number, Call<S>>();
  readonly invocationIds = new SequentialIds<RequestId>();
}

export class Dealer<S extends Callee> {
  readonly #exact = new Map<string, Registration<S>>();
  readonly #prefix = new PrefixTrie<Registration<S>>();
  readonly #wildcard = new WildcardTrie<Registration<S>>();
  readonly #byId = new Map<RegistrationId, Registration<S>>();
  readonly #sessions = new Map<S, SessionState<S>>();
  // Round-robin cursor per registration.
  readonly #cursor = new WeakMap<Registration<S>, number>();
  readonly #registrationIds: { next(procedure: string, match: MatchPolicy): RegistrationId };
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #maxInvocations: number;

  constructor(options: DealerOptions = {}) {
    this.#registrationIds = options.registrationIds ?? new SequentialIds<RegistrationId>();
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#maxInvocations = options.maxInvocationsPerCallee ?? Infinity;
  }

  register(callee: S, procedure: string, options: RegisterOptions = {}): RegisterOutcome<S> {
    const match = options.match ?? 'exact';
    const invoke = options.invoke ?? 'single';
    const entry: CalleeEntry<S> = { session: callee, discloseCaller: options.discloseCaller === true, forwardTimeout: options.forwardTimeout === true };
    const existing = this.lookup(procedure, match);
    if (existing !== undefined) {
      if (existing.callees.some((c) => c.session === callee)) {
        return refusal(ErrorUri.ProcedureAlreadyExists, `this session already registered '${procedure}'`);
      }
      if (existing.invoke === 'single' && invoke === 'single') {
        return refusal(ErrorUri.ProcedureAlreadyExists, `procedure '${procedure}' is already registered`);
      }
      if (existing.invoke !== invoke) {
        return refusal(
          ErrorUri.ProcedureExistsWithDifferentInvocationPolicy,
          `procedure '${procedure}' is registered with invocation policy '${existing.invoke}', not '${invoke}'`,
        );
      }
      existing.callees.push(entry);
      this.#state(callee).registrations.add(existing);
      return { ok: true, registration: existing, created: false };
    }
    const registration: Registration<S> = {
      id: this.#registrationIds.next(procedure, match),
      procedure,
      match,
      invoke,
      created: this.#clock(),
      callees: [entry],
    };
    if (match === 'exact') this.#exact.set(procedure, registration);
    else if (match === 'prefix') this.#prefix.set(procedure, registration);
    else this.#wildcard.set(procedure, registration);
    this.#byId.set(registration.id, registration);
    this.#state(callee).registrations.add(registration);
    return { ok: true, registration, created: true };
  }

  /** Removes the callee from a registration it holds; undefined when it holds no such registration. */
  unregister(callee: S, id: RegistrationId): UnregisterOutcome<S> | undefined {
    const registration = this.#byId.get(id);
    const state = this.#sessions.get(callee);
    if (registration === undefined || state === undefined || !state.registrations.has(registration)) return undefined;
    state.registrations.delete(registration);
    return { registration, deleted: this.#detach(registration, callee) };
  }

  /**
   * The registration a CALL to `procedure` goes to. [ap_rpc_pattern_based_registration]
   * Exact first, then the longest matching prefix, then the most specific wildcard pattern
   * (the one whose concrete components stand furthest left; see WildcardTrie.firstMatch).
   */
  resolve(procedure: string): Registration<S> | undefined {
    return this.#exact.get(procedure) ?? this.#prefix.longestPrefixOf(procedure) ?? this.#wildcard.firstMatch(procedure);
  }

  /** The registration for exactly this (procedure, match), if any. */
  lookup(procedure: string, match: MatchPolicy = 'exact'): Registration<S> | undefined {
    if (match === 'exact') return this.#exact.get(procedure);
    if (match === 'prefix') return this.#prefix.get(procedure);
    return this.#wildcard.get(procedure);
  }

  /** Every registration matching a procedure, in precedence order. */
  matches(procedure: string): Registration<S>[] {
    const out: Registration<S>[] = [];
    const exact = this.#exact.get(procedure);
    if (exact !== undefined) out.push(exact);
    const prefixes: Registration<S>[] = [];
    this.#prefix.forEachPrefixOf(procedure, (r) => prefixes.push(r));
    out.push(...prefixes.reverse());
    this.#wildcard.forEachMatch(procedure, (r) => out.push(r));
    return out;
  }

  /**
   * Routes a CALL: the one question the router asks the dealer about a new call. A Call with a
   * fresh invocation request ID, or why not: the caller over `maxCalls`, no callee, no attached
   * callee (wamp.error.session_unattached: a single registration's callee, or every callee of a
   * shared one, is detached), every attached callee busy. [ap_session_resumption]
   */
  call(caller: S, callRequest: RequestId, procedure: string, options: CallOptions = {}): CallOutcome<S> {
    const maxCalls = options.maxCalls ?? Infinity;
    if ((this.#sessions.get(caller)?.calls.size ?? 0) + (options.otherCalls ?? 0) >= maxCalls)
      return overLimit({ limit: 'maxPendingCallsPerSession', value: maxCalls });
    const registration = this.resolve(procedure);
    if (registration === undefined) return refusal(ErrorUri.NoSuchProcedure, `no callee registered for '${procedure}'`);
    const picked = this.#pick(registration);
    if (picked === undefined) return refusal(ErrorUri.SessionUnattached, `the callee of '${procedure}' is detached (its session may resume)`);
    const entry = this.#available(registration, picked);
    if (entry === undefined) return overLimit({ limit: 'maxInvocationsPerSession', value: this.#maxInvocations });
    const calleeState = this.#state(entry.session);
    const call = new Call<S>({ caller, callRequest, callee: entry, invocationRequest: calleeState.invocationIds.next(), registration, procedure }, options);
    calleeState.invocations.set(call.invocationRequest, call);
    this.#state(caller).calls.set(callRequest, call);
    return { ok: true, call };
  }

  /** The caller's call in flight with this request ID, if any. */
  pendingCall(caller: S, callRequest: number): Call<S> | undefined {
    return this.#sessions.get(caller)?.calls.get(callRequest);
  }

  /**
   * Draws the next INVOCATION request ID of `callee` for an invocation this dealer does not track
   * (one relayed from another cluster node), so that the callee's IDs stay one sequence.
   */
  reserveInvocationId(callee: S): RequestId {
    return this.#state(callee).invocationIds.next();
  }

  /** The callee's invocation in flight with this request ID, if any. */
  pendingInvocation(callee: S, invocationRequest: number): Call<S> | undefined {
    return this.#sessions.get(callee)?.invocations.get(invocationRequest);
  }

  /**
   * Forgets a call on both sides (every end of a call, through the call owner's one end):
   * later answers for it find nothing and are dropped.
   */
  end(call: Call<S>): void {
    const calleeState = this.#sessions.get(call.callee.session);
    if (calleeState?.invocations.get(call.invocationRequest) === call) calleeState.invocations.delete(call.invocationRequest);
    const callerState = this.#sessions.get(call.caller);
    if (callerState?.calls.get(call.callRequest) === call) callerState.calls.delete(call.callRequest);
  }

  /**
   * Whether the router ever sent this INVOCATION request ID to the callee. A YIELD or ERROR for an
   * ID never issued is a protocol violation; one for an issued, settled ID is a late answer.
   */
  wasIssued(callee: S, invocationRequest: number): boolean {
    const last = this.#sessions.get(callee)?.invocationIds.last ?? 0;
    return invocationRequest >= 1 && invocationRequest <= last;
  }

  /**
   * A callee detached (session resumption): the invocations it serves are forgotten on both sides
   * (its later YIELD or ERROR for one of them finds nothing and is dropped; the IDs stay issued, so
   * it is no protocol violation) and returned, for their callers to be told. Its registrations and
   * its calls as caller stay. [ap_session_resumption]
   */
  detachCallee(session: S): Call<S>[] {
    const state = this.#sessions.get(session);
    if (state === undefined || state.invocations.size === 0) return [];
    const served = [...state.invocations.values()];
    state.invocations.clear();
    for (const call of served) {
      const callerState = this.#sessions.get(call.caller);
      if (callerState?.calls.get(call.callRequest) === call) callerState.calls.delete(call.callRequest);
    }
    return served;
  }

  /**
   * Forgets a session: its registrations, the calls it served (orphaned) and the calls it made.
   * `moving` (a session handed over to another cluster node, resumption.ts handOver): its calls
   * as caller to other callees stay pending on their callees' side, so that their answers still
   * find the call (and go on to the new node); they are answered in `movedCalls`, not abandoned.
   */
  removeSession(session: S, moving = false): SessionRemoval<S> {
    const state = this.#sessions.get(session);
    const removal: SessionRemoval<S> = { registrations: [], orphanedCalls: [], abandonedCalls: [], ownCalls: [] };
    if (state === undefined) return removal;
    this.#sessions.delete(session);
    for (const registration of state.registrations) removal.registrations.push({ registration, deleted: this.#detach(registration, session) });
    for (const call of state.invocations.values()) {
      this.#sessions.get(call.caller)?.calls.delete(call.callRequest);
      if (call.caller !== session) removal.orphanedCalls.push(call);
      else removal.ownCalls.push(call);
    }
    for (const call of state.calls.values()) {
      if (call.callee.session === session) continue;
      if (moving) {
        (removal.movedCalls ??= []).push(call);
        continue;
      }
      this.#sessions.get(call.callee.session)?.invocations.delete(call.invocationRequest);
      removal.abandonedCalls.push(call);
    }
    return removal;
  }

  getRegistration(id: RegistrationId): Registration<S> | undefined {
    return this.#byId.get(id);
  }

  registrations(): IterableIterator<Registration<S>> {
    return this.#byId.values();
  }

  registrationsOf(session: S): ReadonlySet<Registration<S>> {
    return this.#sessions.get(session)?.registrations ?? EMPTY;
  }

  get registrationCount(): number {
    return this.#byId.size;
  }

  /** Calls in flight where `session` is the callee. */
  pendingInvocations(session: S): number {
    return this.#sessions.get(session)?.invocations.size ?? 0;
  }

  /**
   * The picked callee if it has room for one more invocation; else, for a shared registration, the
   * next attached one (in registration order) that has; undefined when every attached callee is at
   * the limit.
   */
  #available(registration: Registration<S>, picked: CalleeEntry<S>): CalleeEntry<S> | undefined {
    const free = (c: CalleeEntry<S>): boolean => attached(c) && (this.#sessions.get(c.session)?.invocations.size ?? 0) < this.#maxInvocations;
    if (free(picked)) return picked;
    const callees = registration.callees;
    const at = callees.indexOf(picked);
    for (let i = 1; i < callees.length; i++) {
      const c = callees[(at + i) % callees.length]!;
      if (free(c)) return c;
    }
    return undefined;
  }

  /** Calls in flight where `session` is the caller. */
  pendingCalls(session: S): number {
    return this.#sessions.get(session)?.calls.size ?? 0;
  }

  /**
   * The callee the registration's policy picks among its attached callees; undefined when none is
   * attached (a single registration: its one callee is detached). Sessions that cannot detach pay
   * one field check. [ap_shared_registration, ap_session_resumption]
   */
  #pick(registration: Registration<S>): CalleeEntry<S> | undefined {
    const callees = registration.callees;
    switch (registration.invoke) {
      case 'single':
        return attached(callees[0]!) ? callees[0]! : undefined;
      case 'first':
        return callees.find(attached);
      case 'last':
        return callees.findLast(attached);
      case 'random': {
        const picked = callees[Math.floor(this.#random() * callees.length)] ?? callees[0]!;
        if (attached(picked)) return picked;
        // Drawn again among the attached ones: uniform over them (a detached draw is redrawn).
        const candidates = callees.filter(attached);
        return candidates[Math.floor(this.#random() * candidates.length)] ?? candidates[0];
      }
      case 'roundrobin': {
        // The next attached callee from the cursor on; the cursor moves past the one picked.
        const start = (this.#cursor.get(registration) ?? 0) % callees.length;
        for (let i = 0; i < callees.length; i++) {
          const at = (start + i) % callees.length;
          if (!attached(callees[at]!)) continue;
          this.#cursor.set(registration, at + 1);
          return callees[at]!;
        }
        return undefined;
      }
    }
  }

  #state(session: S): SessionState<S> {
    let state = this.#sessions.get(session);
    if (state === undefined) this.#sessions.set(session, (state = new SessionState<S>()));
    return state;
  }

  /** Removes one callee; drops the registration when it was the last. */
  #detach(registration: Registration<S>, session: S): boolean {
    const i = registration.callees.findIndex((c) => c.session === session);
    if (i !== -1) registration.callees.splice(i, 1);
    if (registration.callees.length > 0) return false;
    if (registration.match === 'exact') {
      if (this.#exact.get(registration.procedure) === registration) this.#exact.delete(registration.procedure);
    } else if (registration.match === 'prefix') {
      if (this.#prefix.get(registration.procedure) === registration) this.#prefix.delete(registration.procedure);
    } else if (this.#wildcard.get(registration.procedure) === registration) this.#wildcard.delete(registration.procedure);
    this.#byId.delete(registration.id);
    return true;
  }
}

const EMPTY: ReadonlySet<never> = new Set();
