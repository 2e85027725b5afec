/**
 * The call owner: routed calls, from CALL to the last RESULT or ERROR. It classifies every
 * incoming CALL (a new call, the next chunk of a streaming call, a late chunk to discard), asks
 * the dealer once where a new call goes, builds the INVOCATION details (caller disclosure, pattern
 * procedure, receive_progress, passthru, timeout), runs router procedures, and answers CANCEL,
 * YIELD and ERROR. A call's state is its Call object (dealer/call.ts); every exit — result, error,
 * timeout, cancel, a side leaving, a callee detaching, an unserializable message, a callee
 * unavailable, a passthru refusal — goes through one method, #end. Typed on CallParty, not on the session class; the
 * clock and timers are injected, so the unit tests run it on fake endpoints and fake time.
 * [ap_rpc_call_timeout, ap_rpc_call_canceling, ap_rpc_progressive_call_results,
 * ap_rpc_progressive_call_invocations]
 */
import type { Args, Call as CallMessage, Cancel, Dict, ErrorMessage, Invocation, Kwargs, RequestId, Result, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode, WampError, carryPayload, timerMs } from '@switchboard/schemas';
import type { Dealer, SessionRemoval } from './dealer/dealer.js';
import type { Call, CallEnd, CallParty, CancelMode } from './dealer/call.js';
import type { Decision } from './auth/types.js';
import { copyPpt, disclose, hasPpt, supportsPpt } from './details.js';
import { isOverLimit, overLimit, refusalMessage } from './core/outcome.js';
import type { Refusal } from './core/outcome.js';
import type { Logger } from './log.js';
import type { RouterStats } from './stats.js';
import type { Endpoint } from './core/endpoint.js';

export type { CallParty, CancelMode } from './dealer/call.js';

/** What a router-side procedure answers. */
export type ProcedureResult = { args?: Args; kwargs?: Kwargs } | undefined;

/**
 * A router-side procedure, called with the calling session. Returns the result, or throws
 * WampError; a promise of them when it must wait (an authorizer's decision). `signal` aborts when
 * the call ends before the promise settles (CANCEL, its timeout, the caller leaving): the answer
 * is dropped then, and a procedure may stop its work.
 */
export type Procedure<S> = (caller: S, args: Args, kwargs: Kwargs, signal: AbortSignal) => ProcedureResult | Promise<ProcedureResult>;

/** A router procedure's call in flight (its promise has not settled): what ends it early. */
interface InternalCall {
  readonly abort: AbortController;
  /** Stops its timeout, if CALL.Options.timeout set one. */
  stopTimer: (() => void) | undefined;
}

/** A router-side procedure of a realm (meta API). */
export type RouterProcedure = Procedure<Endpoint>;

/**
 * What a CALL is, decided once when it arrives (session.ts asks, realm.ts routes on the answer).
 * [ap_rpc_progressive_call_invocations]
 */
export type IncomingCall<S> =
  /** A new call: its request ID must pass the session's sequence check, then validation and authorization. */
  | { readonly kind: 'new' }
  /** The next chunk of a progressive call invocation still streaming (same request ID and procedure). */
  | { readonly kind: 'continuation'; readonly call: Call<S> }
  /** A chunk of a progressive call that has ended (answered, canceled, refused): discarded without an answer. */
  | { readonly kind: 'late' };

const NEW_CALL: IncomingCall<never> = { kind: 'new' };
const LATE_CALL: IncomingCall<never> = { kind: 'late' };

/** Starts a timer; returns what stops it. */
export type Schedule = (ms: number, fire: () => void) => () => void;

/** Node timers that do not keep the process alive. */
const nodeSchedule: Schedule = (ms, fire) => {
  const timer = setTimeout(fire, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

/** Request IDs of progressive calls a session started that are remembered, for the late-chunk rule. */
const REMEMBERED_PROGRESSIVE_CALLS = 256;

export interface CallsOptions<S> {
  /** A YIELD or ERROR the dealer does not know (a cluster node relays those of other nodes' invocations). */
  relayAnswer?: (session: S, msg: Yield | ErrorMessage) => void;
  /** Calls `caller` may have in flight (maxPendingCallsPerSession); undefined: no limit. */
  maxCalls?: (caller: S) => number | undefined;
  /** Milliseconds on a monotonic clock, for the call latency histogram. */
  now?: () => number;
  /** The router's call timeouts. */
  schedule?: Schedule;
}

/** What one exit of a call sends, in this order. */
interface Exit {
  /** INTERRUPT killnowait to the callee, with this reason, if it announced call_canceling. */
  readonly interrupt?: string;
  /** ERROR for the callee's INVOCATION (its YIELD was refused). */
  readonly callee?: ErrorMessage;
  /** The caller's last message: the callee's answer, or an ERROR the router writes. */
  readonly caller?: Result | ErrorMessage;
}

function callError(request: RequestId, error: string, message: string): ErrorMessage {
  return { code: MessageCode.Error, requestType: MessageCode.Call, request, details: {}, error, args: [message] };
}

export class Calls<S extends CallParty> {
  /** Per session: request IDs of the progressive calls it started (the most recent 256), for the late-chunk rule. */
  readonly #progressive = new Map<S, Set<number>>();
  /**
   * Per session: its router-procedure calls in flight, by request ID. They count toward
   * maxPendingCallsPerSession as dealer calls do, and CANCEL, a timeout or the caller leaving ends them.
   */
  readonly #internal = new Map<S, Map<RequestId, InternalCall>>();
  readonly #relayAnswer: (session: S, msg: Yield | ErrorMessage) => void;
  readonly #maxCalls: (caller: S) => number | undefined;
  readonly #now: () => number;
  readonly #schedule: Schedule;

  constructor(
    readonly dealer: Dealer<S>,
    readonly procedures: ReadonlyMap<string, Procedure<S>>,
    private readonly stats: RouterStats,
    readonly log: Logger,
    options: CallsOptions<S> = {},
  ) {
    this.#relayAnswer = options.relayAnswer ?? (() => undefined);
    this.#maxCalls = options.maxCalls ?? (() => undefined);
    this.#now = options.now ?? (() => performance.now());
    this.#schedule = options.schedule ?? nodeSchedule;
  }

  // ---- arrival -----------------------------------------------------------------------------

  /**
   * The one place that says what an incoming CALL is. A progressive call invocation reuses its
   * request ID; a chunk that arrives after its call ended is discarded without an answer (the
   * grace period of request ID verification). `lastRequest` is the session's last request ID that
   * passed its sequence check (0 when it checks none). Records the request ID of a new call that
   * starts a stream. [ap_rpc_progressive_call_invocations]
   */
  classify(session: S, msg: CallMessage, lastRequest: number): IncomingCall<S> {
    const call = this.dealer.pendingCall(session, msg.request);
    if (call?.callerStreaming && call.procedure === msg.procedure) return { kind: 'continuation', call };
    let started = this.#progressive.get(session);
    if (started?.has(msg.request) === true && msg.request <= lastRequest) return LATE_CALL;
    if (msg.options['progress'] === true) {
      if (started === undefined) this.#progressive.set(session, (started = new Set()));
      started.add(msg.request);
      if (started.size > REMEMBERED_PROGRESSIVE_CALLS) started.delete(started.values().next().value!);
    }
    return NEW_CALL;
  }

  /**
   * A new CALL the realm validated and authorized: to a router procedure, or routed to a callee.
   * The dealer is asked once: it checks the caller's quota, picks the callee and makes the Call.
   */
  readonly route = (session: S, msg: CallMessage, decision: Decision): void => {
    const maxCalls = this.#maxCalls(session);
    const internal = this.procedures.get(msg.procedure);
    // The router procedures in flight count toward the quota as dealer calls do.
    const inFlight = this.#internal.get(session)?.size ?? 0;
    if (internal !== undefined) {
      // A router procedure is no call in the dealer, but a caller at its quota is refused all the same.
      if (maxCalls !== undefined && this.dealer.pendingCalls(session) + inFlight >= maxCalls)
        return this.#refuse(session, msg.request, overLimit({ limit: 'maxPendingCallsPerSession', value: maxCalls }));
      return this.#callInternal(session, msg, internal);
    }
    // Clamped, not refused: a timeout past what a Node timer holds (2^31 - 1 ms, 24.8 days) would
    // fire after 1 ms; a caller asking for longer gets the longest, here and forwarded to the callee.
    const timeout = timerMs((msg.options.timeout ?? 0) as number);
    const progressive = msg.options['progress'] === true;
    const ppt = hasPpt(msg.options);
    const outcome = this.dealer.call(session, msg.request, msg.procedure, {
      receiveProgress: msg.options.receive_progress === true,
      progressive,
      ...(maxCalls !== undefined && { maxCalls, otherCalls: inFlight }),
    });
    // No callee; or the caller at maxPendingCallsPerSession, or every callee busy at maxInvocationsPerSession: no callee is invoked.
    if (!outcome.ok) return this.#refuse(session, msg.request, outcome);
    const { call } = outcome;
    const callee = call.callee.session;
    // A callee that cannot be interrupted cannot take a stream of calls. [ap_rpc_progressive_call_invocations]
    if (progressive && !(callee.supports('callee', 'progressive_call_invocations') && callee.supports('callee', 'call_canceling'))) {
      return this.#end(call, 'refused', {
        caller: callError(msg.request, ErrorUri.FeatureNotSupported, 'the callee does not support progressive call invocations'),
      });
    }
    if (ppt && !supportsPpt(callee, 'callee')) {
      return this.#end(call, 'refused', { caller: callError(msg.request, ErrorUri.FeatureNotSupported, 'the callee does not support payload passthru mode') });
    }
    // Details are built once from the first CALL: later chunks change only `progress`.
    const details: Dict = {};
    if (call.registration.match !== 'exact') details['procedure'] = msg.procedure;
    // Forwarded whenever the caller asked, announced or not: a callee without the feature SHOULD
    // ignore it, and wampy 8 streams results without announcing it (as Crossbar, which forwards it).
    // [ap_rpc_progressive_call_results]
    if (call.receiveProgress) details['receive_progress'] = true;
    if (decision.disclose === true || msg.options['disclose_me'] === true || call.callee.discloseCaller) disclose(session, details, 'caller');
    if (ppt) copyPpt(msg.options, details);
    if (timeout > 0) {
      // A callee that did not announce call_timeout cannot be trusted to time out: the router does. [ap_rpc_call_timeout]
      if (call.callee.forwardTimeout && callee.supports('callee', 'call_timeout')) details['timeout'] = timeout;
      else call.timeoutMs = timeout;
    }
    call.details = details;
    call.started = this.#now();
    if (call.timeoutMs > 0) this.#startTimer(call);
    this.#invoke(call, progressive ? { ...details, progress: true } : details, msg);
  };

  /** The next chunk of a progressive call invocation (same request ID). [ap_rpc_progressive_call_invocations] */
  continueCall(call: Call<S>, msg: CallMessage): void {
    const more = msg.options['progress'] === true;
    call.callerStreaming = more;
    this.#invoke(call, more ? { ...call.details, progress: true } : call.details, msg);
  }

  /** INVOCATION of the CALL `msg`: its payload passed on as it came (payload passthrough: unread). */
  #invoke(call: Call<S>, details: Dict, msg: CallMessage): void {
    const invocation = carryPayload<Invocation>(
      { code: MessageCode.Invocation, request: call.invocationRequest, registration: call.registration.id, details },
      msg,
    );
    const sent = call.callee.session.send(invocation);
    if (sent === 'sent') return;
    if (sent === 'unserializable') {
      return this.#end(call, 'unserializable', {
        caller: callError(
          call.callRequest,
          ErrorUri.InvalidArgument,
          `the arguments cannot be represented in the callee's serializer (${call.callee.session.serializer})`,
        ),
      });
    }
    // The callee cannot take it (gone or cut off): answer the caller now.
    this.#end(call, 'callee-unavailable', { caller: callError(call.callRequest, ErrorUri.Canceled, 'callee unavailable') });
  }

  /** The one answer to a refused CALL (a quota refusal is counted). */
  #refuse(session: S, request: RequestId, refused: Refusal): void {
    if (isOverLimit(refused)) this.stats.limitExceeded(refused.limit.limit);
    else if (refused.error === ErrorUri.SessionUnattached) this.stats.callUnattached('no_attached_callee');
    session.send(refusalMessage(MessageCode.Call, request, refused));
  }

  // ---- router procedures -------------------------------------------------------------------

  #callInternal(session: S, msg: CallMessage, procedure: Procedure<S>): void {
    // A router procedure reads its arguments: an opaque (enc_algo) payload is not for it.
    if (msg.args instanceof Uint8Array) {
      session.send(
        callError(
          msg.request,
          ErrorUri.InvalidArgument,
          `'${msg.procedure}' is a router procedure: it takes Arguments|list, not a transparent (enc_algo) payload`,
        ),
      );
      return;
    }
    let result: ProcedureResult | Promise<ProcedureResult>;
    const abort = new AbortController();
    try {
      result = procedure(session, msg.args ?? [], msg.kwargs ?? {}, abort.signal);
    } catch (err) {
      return this.#procedureFailed(session, msg, err);
    }
    if (!(result instanceof Promise)) return this.#answerInternal(session, msg, result);
    // In flight: counted, cancelable, timed. A request ID still in flight (a client reusing it) is ended first.
    let mine = this.#internal.get(session);
    if (mine === undefined) this.#internal.set(session, (mine = new Map()));
    this.#endInternal(session, msg.request);
    const entry: InternalCall = { abort, stopTimer: undefined };
    mine.set(msg.request, entry);
    const timeout = timerMs((msg.options.timeout ?? 0) as number);
    if (timeout > 0) {
      entry.stopTimer = this.#schedule(timeout, () => {
        if (this.#endInternal(session, msg.request) !== entry) return;
        session.send(callError(msg.request, ErrorUri.Timeout, `no answer within ${timeout} ms`));
        entry.abort.abort();
      });
    }
    // The answer goes to this WAMP session only, and only while the call is in flight: a session
    // opened after it on the same connection is another object, and this one is no longer live;
    // a call canceled or timed out has had its answer.
    const current = (): boolean => this.#endInternal(session, msg.request) === entry && session.live;
    result.then(
      (r) => (current() ? this.#answerInternal(session, msg, r) : undefined),
      (err: unknown) => (current() ? this.#procedureFailed(session, msg, err) : undefined),
    );
  }

  /** Ends a router-procedure call in flight (its answer will be dropped); returns it, if there was one. */
  #endInternal(session: S, request: RequestId): InternalCall | undefined {
    const mine = this.#internal.get(session);
    const entry = mine?.get(request);
    if (mine === undefined || entry === undefined) return undefined;
    mine.delete(request);
    if (mine.size === 0) this.#internal.delete(session);
    entry.stopTimer?.();
    return entry;
  }

  /** Router-procedure calls `session` has in flight (counted toward maxPendingCallsPerSession). */
  internalCalls(session: S): number {
    return this.#internal.get(session)?.size ?? 0;
  }

  #procedureFailed(session: S, msg: CallMessage, err: unknown): void {
    if (err instanceof WampError) {
      const error: ErrorMessage = { code: MessageCode.Error, requestType: MessageCode.Call, request: msg.request, details: {}, error: err.uri };
      if (err.args.length > 0 || Object.keys(err.kwargs).length > 0) error.args = err.args;
      if (Object.keys(err.kwargs).length > 0) error.kwargs = err.kwargs;
      session.send(error);
      return;
    }
    this.log.error({ err, procedure: msg.procedure }, 'router procedure failed');
    session.send(callError(msg.request, ErrorUri.RuntimeError, 'internal error in router procedure'));
  }

  #answerInternal(session: S, msg: CallMessage, result: ProcedureResult): void {
    const answer: Result = { code: MessageCode.Result, request: msg.request, details: {} };
    if (result?.args !== undefined) answer.args = result.args;
    if (result?.kwargs !== undefined) answer.kwargs = result.kwargs;
    // A result holding what another session sent (its authextra, a testament) may not fit this
    // session's serializer: the call still gets an answer.
    const sent = session.send(answer);
    if (sent === 'unserializable') {
      session.send(callError(msg.request, ErrorUri.InvalidArgument, `the result cannot be represented in this session's serializer (${session.serializer})`));
    }
  }

  // ---- cancel, answers, sessions leaving ---------------------------------------------------

  cancel(session: S, msg: Cancel): void {
    const call = this.dealer.pendingCall(session, msg.request);
    if (call === undefined && this.#internal.get(session)?.has(msg.request) === true) return this.#cancelInternal(session, msg);
    // Unknown, finished or already canceled (kill mode waits for the callee): nothing to do.
    if (call === undefined || call.killed) return;
    const requested = msg.options['mode'] ?? 'killnowait';
    if (requested !== 'skip' && requested !== 'kill' && requested !== 'killnowait') {
      // No ERROR answers a CANCEL (clients treat one as a protocol violation): the call goes on.
      this.log.info({ session: session.id, mode: requested }, 'CANCEL with an unknown mode ignored');
      return;
    }
    // INTERRUPT only goes to callees that announced call canceling; otherwise skip. [ap_rpc_call_canceling]
    const mode: CancelMode = requested !== 'skip' && !call.callee.session.supports('callee', 'call_canceling') ? 'skip' : requested;
    if (mode === 'kill') {
      // The caller gets whatever the callee answers first (usually ERROR wamp.error.canceled).
      call.killed = true;
      this.#interrupt(call, 'kill', ErrorUri.Canceled);
      return;
    }
    this.#end(call, 'canceled', {
      ...(mode === 'killnowait' && { interrupt: ErrorUri.Canceled }),
      caller: callError(call.callRequest, ErrorUri.Canceled, `call canceled (${mode})`),
    });
  }

  /**
   * CANCEL of a router procedure in flight: it is no callee to interrupt, so every mode ends it at
   * once (ERROR wamp.error.canceled; its signal aborts, its late answer is dropped).
   */
  #cancelInternal(session: S, msg: Cancel): void {
    const mode = msg.options['mode'] ?? 'killnowait';
    if (mode !== 'skip' && mode !== 'kill' && mode !== 'killnowait') {
      this.log.info({ session: session.id, mode }, 'CANCEL with an unknown mode ignored');
      return;
    }
    const entry = this.#endInternal(session, msg.request);
    if (entry === undefined) return;
    session.send(callError(msg.request, ErrorUri.Canceled, `call canceled (${mode})`));
    entry.abort.abort();
  }

  /**
   * YIELD or ERROR from a callee. Answers for calls no longer pending are dropped, unless they
   * answer an invocation another cluster node relayed here.
   */
  answer(session: S, msg: Yield | ErrorMessage): void {
    const call = this.dealer.pendingInvocation(session, msg.request);
    if (call === undefined) return this.#relayAnswer(session, msg);
    const progress = msg.code === MessageCode.Yield && msg.options['progress'] === true;
    if (progress && !call.receiveProgress) return; // the caller did not ask for progressive results
    // The passthru rules hold for an ERROR as for a YIELD: its Details carry ppt_*/enc_* to the caller as they are.
    const ppt = hasPpt(msg.code === MessageCode.Yield ? msg.options : msg.details);
    const what = msg.code === MessageCode.Yield ? 'YIELD' : 'ERROR';
    if (ppt && !supportsPpt(session, 'callee')) {
      return session.protocolViolation(
        `${what} with ppt_scheme or enc_algo from a callee that announced neither payload_passthru_mode nor payload_transparency`,
      );
    }
    if (ppt && !supportsPpt(call.caller, 'caller')) {
      return this.#end(call, 'refused', {
        ...(msg.code === MessageCode.Yield && {
          callee: {
            code: MessageCode.Error,
            requestType: MessageCode.Invocation,
            request: msg.request,
            details: {},
            error: ErrorUri.FeatureNotSupported,
            args: ['the caller does not support payload passthru mode'],
          },
        }),
        caller: callError(call.callRequest, ErrorUri.FeatureNotSupported, 'the callee answered in payload passthru mode, which this caller did not announce'),
      });
    }
    let answer: Result | ErrorMessage;
    if (msg.code === MessageCode.Yield) {
      const details: Dict = progress ? { progress: true } : {};
      if (ppt) copyPpt(msg.options, details);
      answer = { code: MessageCode.Result, request: call.callRequest, details };
    } else {
      answer = { code: MessageCode.Error, requestType: MessageCode.Call, request: call.callRequest, details: msg.details, error: msg.error };
    }
    // The callee's payload goes to the caller as it came (payload passthrough: unread).
    carryPayload(answer, msg);
    if (!progress) return this.#end(call, 'answered', { caller: answer });
    // The timeout runs between results. [ap_rpc_call_timeout]
    if (call.timeoutMs > 0) this.#startTimer(call);
    const sent = call.caller.send(answer);
    // The call is over: the caller must still get an answer.
    if (sent === 'unserializable') this.#end(call, 'unserializable', { caller: this.#unrepresentable(call, call.caller.serializer) });
  }

  /**
   * A session left (or a cluster node's stand-in for a callee is gone): the calls it served end
   * for their callers with `calleeGone`; the callees of the calls it made are told, if they can
   * be interrupted. [ap_rpc_call_canceling]
   */
  leave(session: S, removal: SessionRemoval<S>, calleeGone = 'callee left the realm before answering'): void {
    this.#progressive.delete(session);
    const internal = this.#internal.get(session);
    if (internal !== undefined) {
      for (const request of [...internal.keys()]) this.#endInternal(session, request)?.abort.abort();
    }
    for (const call of removal.orphanedCalls) this.#end(call, 'callee-gone', { caller: callError(call.callRequest, ErrorUri.Canceled, calleeGone) });
    for (const call of removal.abandonedCalls) this.#end(call, 'caller-gone', { interrupt: ErrorUri.Canceled });
    // Calls the session made to itself: nobody is left to tell.
    for (const call of removal.ownCalls) this.#end(call, 'caller-gone');
  }

  /**
   * A callee detached (session resumption): the invocations it served (the dealer forgot them,
   * Dealer.detachCallee) end for their callers with wamp.error.session_unattached, a progressive
   * call invocation still streaming included (its later chunks are late ones). No INTERRUPT: the
   * callee has no transport to hear it, and its later YIELD or ERROR is dropped. Its router
   * procedure calls and its calls as caller go on: their answers are the session's to keep.
   * [ap_session_resumption]
   */
  detach(served: readonly Call<S>[]): void {
    for (const call of served) {
      this.stats.callUnattached('callee_detached');
      this.#end(call, 'callee-detached', { caller: callError(call.callRequest, ErrorUri.SessionUnattached, 'the callee detached before answering') });
    }
  }

  /**
   * A session moved to another cluster node (resumption.ts handOver; the dealer removed it with
   * `moving`): the calls it served end for their callers as at a detach (session_unattached), its
   * calls to itself end, and its calls as caller go on: their later answers go through the
   * session, which forwards them to the new node. A progressive call invocation it was still
   * streaming cannot get its next chunks there: it ends (INTERRUPT to the callee, ERROR
   * wamp.error.canceled forwarded). Its router-procedure calls in flight (a meta procedure
   * waiting on an authorizer) end with ERROR wamp.error.canceled, forwarded: they ran for the
   * session here, which is no longer live. [ap_session_resumption]
   */
  moveOut(session: S, removal: SessionRemoval<S>): void {
    this.#progressive.delete(session);
    const internal = this.#internal.get(session);
    if (internal !== undefined) {
      for (const request of [...internal.keys()]) {
        this.#endInternal(session, request)?.abort.abort();
        session.send(callError(request, ErrorUri.Canceled, 'the session moved to another node before the router procedure answered'));
      }
    }
    this.detach(removal.orphanedCalls);
    for (const call of removal.ownCalls) this.#end(call, 'caller-gone');
    for (const call of removal.movedCalls ?? []) {
      if (!call.callerStreaming) continue;
      this.#end(call, 'canceled', {
        interrupt: ErrorUri.Canceled,
        caller: callError(call.callRequest, ErrorUri.Canceled, 'the session moved to another node while streaming its call'),
      });
    }
  }

  // ---- the end -----------------------------------------------------------------------------

  /**
   * The one end of a call, whatever the exit: the timer stops, the dealer forgets it (later
   * answers are dropped), an answered call is timed, and the exit's messages go out: INTERRUPT
   * and ERROR to the callee first, then the caller's last message. A final answer the caller's
   * serializer cannot represent becomes ERROR wamp.error.invalid_argument: the caller still hears.
   */
  #end(call: Call<S>, why: CallEnd, exit: Exit = {}): void {
    if (!call.finish(why)) return;
    this.dealer.end(call);
    if (why === 'answered') this.stats.callDone((this.#now() - call.started) / 1000);
    if (exit.interrupt !== undefined) this.#interrupt(call, 'killnowait', exit.interrupt);
    if (exit.callee !== undefined) call.callee.session.send(exit.callee);
    if (exit.caller === undefined) return;
    const sent = call.caller.send(exit.caller);
    if (why === 'answered' && sent === 'unserializable') call.caller.send(this.#unrepresentable(call, call.caller.serializer));
  }

  #unrepresentable(call: Call<S>, serializer: string): ErrorMessage {
    return callError(call.callRequest, ErrorUri.InvalidArgument, `the callee's answer cannot be represented in the caller's serializer (${serializer})`);
  }

  #interrupt(call: Call<S>, mode: CancelMode, reason: string): void {
    const callee = call.callee.session;
    if (!callee.supports('callee', 'call_canceling')) return;
    callee.send({ code: MessageCode.Interrupt, request: call.invocationRequest, options: { mode, reason } });
  }

  /**
   * [ap_rpc_call_timeout] (Re)starts the router's timeout: at the end the caller gets
   * wamp.error.timeout, the callee INTERRUPT (killnowait) if it can take it.
   */
  #startTimer(call: Call<S>): void {
    const ms = call.timeoutMs;
    call.setTimer(
      this.#schedule(ms, () =>
        this.#end(call, 'timeout', { interrupt: ErrorUri.Timeout, caller: callError(call.callRequest, ErrorUri.Timeout, `no answer within ${ms} ms`) }),
      ),
    );
  }
}
