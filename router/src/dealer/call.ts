/**
 * One routed call, from the CALL that started it to its end: who called with which request, which
 * callee serves it under which INVOCATION request, the INVOCATION details as first disclosed, the
 * progressive state both ways, the router's timeout, the cancel mode it waits in, and how it
 * ended. The dealer makes it and indexes it by (caller, request) and (callee, invocation
 * request); calls.ts (the call owner) runs it. Pure data and bookkeeping: no I/O, no clock — the
 * timer is a cancel function handed in by the owner's injected scheduler.
 * [ap_rpc_call_timeout, ap_rpc_call_canceling, ap_rpc_progressive_call_results,
 * ap_rpc_progressive_call_invocations]
 */
import type { Dict, RequestId } from '@switchboard/schemas';
import type { Endpoint } from '../core/endpoint.js';
import type { CalleeEntry, Registration } from './registration.js';

/**
 * What a call needs from a caller or callee: its ID and identity (caller disclosure), the features
 * it announced, one send that says what became of the message, and the protocol violation that
 * ends it. Every Endpoint satisfies it (a client's session, the cluster's stand-ins, the unit
 * tests' fake endpoints). Call code never encodes, nor touches a transport.
 */
export type CallParty = Pick<Endpoint, 'id' | 'identity' | 'live' | 'serializer' | 'supports' | 'send' | 'protocolViolation'>;

/** How a canceled call ends. [ap_rpc_call_canceling] */
export type CancelMode = 'skip' | 'kill' | 'killnowait';

/** Why a call ended: each exit path has one. */
export type CallEnd =
  /** The callee's final YIELD or ERROR went to the caller (or could not be represented there). */
  | 'answered'
  /** The router's timeout fired. [ap_rpc_call_timeout] */
  | 'timeout'
  /** The caller canceled it (skip, killnowait; kill ends with the callee's answer). */
  | 'canceled'
  /** The callee left (or its cluster node is gone). */
  | 'callee-gone'
  /** The callee detached (session resumption): the caller got wamp.error.session_unattached. [ap_session_resumption] */
  | 'callee-detached'
  /** The caller left. */
  | 'caller-gone'
  /** An INVOCATION or progressive RESULT that the other side's serializer cannot represent. */
  | 'unserializable'
  /** The callee did not take the INVOCATION (gone or cut off). */
  | 'callee-unavailable'
  /** A feature one side needs and the other did not announce (progressive call invocations, passthru). */
  | 'refused';

/** What the dealer decided for one CALL: the callee and its fresh INVOCATION request ID. */
export interface CallRoute<S> {
  readonly caller: S;
  readonly callRequest: RequestId;
  readonly callee: CalleeEntry<S>;
  readonly invocationRequest: RequestId;
  readonly registration: Registration<S>;
  /** The procedure the caller named (differs from the registration's for patterns). */
  readonly procedure: string;
}

export class Call<S> implements CallRoute<S> {
  readonly caller: S;
  readonly callRequest: RequestId;
  readonly callee: CalleeEntry<S>;
  readonly invocationRequest: RequestId;
  readonly registration: Registration<S>;
  readonly procedure: string;
  /** The caller asked for progressive results (and the callee was told, whatever it announced). */
  readonly receiveProgress: boolean;
  /** The caller is still sending progressive CALL chunks with the same request ID. */
  callerStreaming: boolean;
  /**
   * INVOCATION details, built once from the first CALL: the later chunks of a progressive call
   * invocation repeat them, only `progress` changes.
   */
  details: Dict = {};
  /** When the call was routed, on the owner's clock (milliseconds), for the latency histogram. */
  started = 0;
  /** A timeout the router enforces for this call (ms; 0: none), restarted between progressive results. */
  timeoutMs = 0;
  /** Canceled in `kill` mode: the caller gets the callee's answer; another CANCEL changes nothing. */
  killed = false;
  /** Why it ended; undefined while it runs. */
  ended: CallEnd | undefined;
  #stopTimer: (() => void) | undefined;

  constructor(route: CallRoute<S>, options: { receiveProgress?: boolean | undefined; progressive?: boolean | undefined } = {}) {
    this.caller = route.caller;
    this.callRequest = route.callRequest;
    this.callee = route.callee;
    this.invocationRequest = route.invocationRequest;
    this.registration = route.registration;
    this.procedure = route.procedure;
    this.receiveProgress = options.receiveProgress === true;
    this.callerStreaming = options.progressive === true;
  }

  /** Holds the timer that is now running (its cancel function), stopping the one before. */
  setTimer(stop: () => void): void {
    this.#stopTimer?.();
    this.#stopTimer = stop;
  }

  /** Marks the call ended and stops its timer; false when it had already ended (nothing more to do). */
  finish(why: CallEnd): boolean {
    if (this.ended !== undefined) return false;
    this.ended = why;
    this.#stopTimer?.();
    this.#stopTimer = undefined;
    return true;
  }
}
