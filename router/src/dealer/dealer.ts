/**
 * The dealer: registrations, calls in flight, and who answers whom. Pure: no sockets, no timers.
 * Invocation request IDs are session scope (router → callee), so each callee has its own sequence.
 */
import type { MatchPolicy, RegistrationId, RequestId, SessionId } from '@switchboard/schemas';
import { ErrorUri, SequentialIds } from '@switchboard/schemas';

export interface Callee {
  readonly id: SessionId;
}

export interface Registration<S> {
  readonly id: RegistrationId;
  readonly procedure: string;
  readonly match: MatchPolicy;
  readonly invoke: 'single';
  /** Milliseconds since the epoch. */
  readonly created: number;
  readonly callee: S;
}

/** One CALL routed to one callee, from INVOCATION until YIELD/ERROR or a session leaving. */
export interface PendingCall<S> {
  readonly caller: S;
  readonly callRequest: RequestId;
  readonly callee: S;
  readonly invocationRequest: RequestId;
  readonly registration: Registration<S>;
}

export type RegisterOutcome<S> = { ok: true; registration: Registration<S> } | { ok: false; error: string };

export type CallOutcome<S> = { ok: true; call: PendingCall<S> } | { ok: false; error: string };

export interface DealerOptions {
  registrationIds?: { next(): RegistrationId };
  clock?: () => number;
}

/** What a leaving session leaves behind. */
export interface SessionRemoval<S> {
  registrations: Registration<S>[];
  /** Calls the session was serving as callee: their callers must be told (wamp.error.canceled). */
  orphanedCalls: PendingCall<S>[];
  /** Calls the session had made: their callees may still answer; the answers will be dropped. */
  abandonedCalls: PendingCall<S>[];
}

class SessionState<S> {
  readonly registrations = new Set<Registration<S>>();
  /** As callee: invocation request → call. */
  readonly invocations = new Map<number, PendingCall<S>>();
  /** As caller: call request → call. */
  readonly calls = new Map<number, PendingCall<S>>();
  readonly invocationIds = new SequentialIds<RequestId>();
}

export class Dealer<S extends Callee> {
  readonly #exact = new Map<string, Registration<S>>();
  readonly #byId = new Map<RegistrationId, Registration<S>>();
  readonly #sessions = new Map<S, SessionState<S>>();
  readonly #registrationIds: { next(): RegistrationId };
  readonly #clock: () => number;

  constructor(options: DealerOptions = {}) {
    this.#registrationIds = options.registrationIds ?? new SequentialIds<RegistrationId>();
    this.#clock = options.clock ?? Date.now;
  }

  register(callee: S, procedure: string): RegisterOutcome<S> {
    if (this.#exact.has(procedure)) return { ok: false, error: ErrorUri.ProcedureAlreadyExists };
    const registration: Registration<S> = {
      id: this.#registrationIds.next(),
      procedure,
      match: 'exact',
      invoke: 'single',
      created: this.#clock(),
      callee,
    };
    this.#exact.set(procedure, registration);
    this.#byId.set(registration.id, registration);
    this.#state(callee).registrations.add(registration);
    return { ok: true, registration };
  }

  /** Removes a registration the callee holds; undefined when it holds no such registration. */
  unregister(callee: S, id: RegistrationId): Registration<S> | undefined {
    const registration = this.#byId.get(id);
    if (registration === undefined || registration.callee !== callee) return undefined;
    this.#drop(registration);
    this.#sessions.get(callee)?.registrations.delete(registration);
    return registration;
  }

  /** Routes a CALL: a pending call with a fresh invocation request ID, or the error URI for the caller. */
  call(caller: S, callRequest: RequestId, procedure: string): CallOutcome<S> {
    const registration = this.#exact.get(procedure);
    if (registration === undefined) return { ok: false, error: ErrorUri.NoSuchProcedure };
    const callee = registration.callee;
    const calleeState = this.#state(callee);
    const call: PendingCall<S> = {
      caller,
      callRequest,
      callee,
      invocationRequest: calleeState.invocationIds.next(),
      registration,
    };
    calleeState.invocations.set(call.invocationRequest, call);
    this.#state(caller).calls.set(callRequest, call);
    return { ok: true, call };
  }

  /**
   * Settles the call behind a callee's YIELD or ERROR. Undefined when it is no longer pending
   * (its caller left): the answer is dropped.
   */
  settle(callee: S, invocationRequest: RequestId): PendingCall<S> | undefined {
    const calleeState = this.#sessions.get(callee);
    const call = calleeState?.invocations.get(invocationRequest);
    if (call === undefined) return undefined;
    calleeState!.invocations.delete(invocationRequest);
    this.#sessions.get(call.caller)?.calls.delete(call.callRequest);
    return call;
  }

  /**
   * Whether the router ever sent this INVOCATION request ID to the callee. A YIELD or ERROR for an
   * ID never issued is a protocol violation; one for an issued, settled ID is a late answer.
   */
  wasIssued(callee: S, invocationRequest: number): boolean {
    const last = this.#sessions.get(callee)?.invocationIds.last ?? 0;
    return invocationRequest >= 1 && invocationRequest <= last;
  }

  removeSession(session: S): SessionRemoval<S> {
    const state = this.#sessions.get(session);
    const removal: SessionRemoval<S> = { registrations: [], orphanedCalls: [], abandonedCalls: [] };
    if (state === undefined) return removal;
    this.#sessions.delete(session);
    for (const registration of state.registrations) {
      this.#drop(registration);
      removal.registrations.push(registration);
    }
    for (const call of state.invocations.values()) {
      this.#sessions.get(call.caller)?.calls.delete(call.callRequest);
      if (call.caller !== session) removal.orphanedCalls.push(call);
    }
    for (const call of state.calls.values()) {
      this.#sessions.get(call.callee)?.invocations.delete(call.invocationRequest);
      if (call.callee !== session) removal.abandonedCalls.push(call);
    }
    return removal;
  }

  getRegistration(id: RegistrationId): Registration<S> | undefined {
    return this.#byId.get(id);
  }

  lookup(procedure: string): Registration<S> | undefined {
    return this.#exact.get(procedure);
  }

  get registrationCount(): number {
    return this.#byId.size;
  }

  /** Calls in flight where `session` is the callee. */
  pendingInvocations(session: S): number {
    return this.#sessions.get(session)?.invocations.size ?? 0;
  }

  #state(session: S): SessionState<S> {
    let state = this.#sessions.get(session);
    if (state === undefined) this.#sessions.set(session, (state = new SessionState<S>()));
    return state;
  }

  #drop(registration: Registration<S>): void {
    if (this.#exact.get(registration.procedure) === registration) this.#exact.delete(registration.procedure);
    this.#byId.delete(registration.id);
  }
}
