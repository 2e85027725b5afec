/**
 * Routed calls, from CALL to the last RESULT or ERROR: router procedures, INVOCATION details
 * (caller disclosure, pattern procedure, receive_progress, passthru), timeouts, cancel modes,
 * progressive results and progressive call invocations, and the end of calls whose caller or
 * callee left. The dealer decides who answers; this module turns its plans into messages and
 * owns the timers. [ap_rpc_call_timeout, ap_rpc_call_canceling, ap_rpc_progressive_call_results]
 */
import type { Args, Call, Cancel, Dict, ErrorMessage, Invocation, Kwargs, Result, WireArgs, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode, WampError, timerMs } from '@switchboard/schemas';
import type { Dealer, PendingCall } from './dealer/dealer.js';
import type { Decision } from './auth/types.js';
import { copyPpt, disclose, hasPpt, supportsPpt } from './details.js';
import { refuseOverLimit } from './limits.js';
import type { Logger } from './log.js';
import type { RouterStats } from './stats.js';
import type { RouterSession } from './session.js';

/** How a canceled call ends. [ap_rpc_call_canceling] */
export type CancelMode = 'skip' | 'kill' | 'killnowait';

/** What a router-side procedure answers. */
export type ProcedureResult = { args?: Args; kwargs?: Kwargs } | undefined;

/**
 * A router-side procedure (meta API). Returns the result, or throws WampError; a promise of them
 * when it must wait (an authorizer's decision).
 */
export type RouterProcedure = (caller: RouterSession, args: Args, kwargs: Kwargs) => ProcedureResult | Promise<ProcedureResult>;

export class Calls {
  readonly #timers = new Map<PendingCall<RouterSession>, { ms: number; timer: NodeJS.Timeout }>();
  /** INVOCATION details of a progressive call invocation, frozen from its first CALL. */
  readonly #frozen = new Map<PendingCall<RouterSession>, Dict>();
  /** When each routed call arrived, for the call latency histogram. */
  readonly #started = new Map<PendingCall<RouterSession>, number>();
  /** Calls canceled in `kill` mode, waiting for the callee's answer. */
  readonly #killed = new Set<PendingCall<RouterSession>>();

  constructor(
    readonly dealer: Dealer<RouterSession>,
    readonly procedures: ReadonlyMap<string, RouterProcedure>,
    private readonly stats: RouterStats,
    readonly log: Logger,
    /** A YIELD or ERROR the dealer does not know (a cluster node relays those of other nodes' invocations). */
    private readonly relayAnswer: (session: RouterSession, msg: Yield | ErrorMessage) => void = () => undefined,
  ) {}

  /** A callee left (or its node is gone): the call ends now for its caller, with `message`. */
  calleeGone(call: PendingCall<RouterSession>, message: string): void {
    this.#forget(call);
    call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.Canceled, message);
  }

  /** A caller left: a callee that can be interrupted is told. [ap_rpc_call_canceling] */
  callerGone(call: PendingCall<RouterSession>): void {
    this.#forget(call);
    this.#interrupt(call, 'killnowait', ErrorUri.Canceled);
  }

  /** A CALL the realm validated and authorized: to a router procedure, or routed to a callee. */
  readonly route = (session: RouterSession, msg: Call, decision: Decision): void => {
    // Clamped, not refused: a timeout past what a Node timer holds (2^31 - 1 ms, 24.8 days) would
    // fire after 1 ms; a caller asking for longer gets the longest, here and forwarded to the callee.
    const timeout = timerMs((msg.options.timeout ?? 0) as number);
    const progressive = msg.options['progress'] === true;
    const ppt = hasPpt(msg.options);
    const internal = this.procedures.get(msg.procedure);
    if (internal !== undefined) return this.#callInternal(session, msg, internal);
    const outcome = this.dealer.call(session, msg.request, msg.procedure, { receiveProgress: msg.options.receive_progress === true, progressive });
    if (!outcome.ok) {
      // Every callee busy at maxInvocationsPerSession: the callee is not invoked.
      if (outcome.limit !== undefined) return refuseOverLimit(session, MessageCode.Call, msg.request, outcome.limit, this.stats);
      return session.sendError(MessageCode.Call, msg.request, outcome.error, `no callee registered for '${msg.procedure}'`);
    }
    const { call } = outcome;
    const callee = call.callee.session;
    const refuse = (message: string): void => {
      this.dealer.end(call);
      session.sendError(MessageCode.Call, msg.request, ErrorUri.FeatureNotSupported, message);
    };
    // A callee that cannot be interrupted cannot take a stream of calls. [ap_rpc_progressive_call_invocations]
    if (progressive && !(callee.supports('callee', 'progressive_call_invocations') && callee.supports('callee', 'call_canceling'))) {
      return refuse('the callee does not support progressive call invocations');
    }
    if (ppt && !supportsPpt(callee, 'callee')) return refuse('the callee does not support payload passthru mode');
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
      else this.#timers.set(call, { ms: timeout, timer: this.#startTimer(call, timeout) });
    }
    if (progressive) this.#frozen.set(call, details);
    this.#started.set(call, performance.now());
    this.#invoke(call, progressive ? { ...details, progress: true } : details, msg.args, msg.kwargs);
  };

  /** The next chunk of a progressive call invocation (same request ID). [ap_rpc_progressive_call_invocations] */
  continueCall(call: PendingCall<RouterSession>, msg: Call): void {
    const more = msg.options['progress'] === true;
    call.callerStreaming = more;
    const frozen = this.#frozen.get(call) ?? {};
    if (!more) this.#frozen.delete(call);
    this.#invoke(call, more ? { ...frozen, progress: true } : frozen, msg.args, msg.kwargs);
  }

  #invoke(call: PendingCall<RouterSession>, details: Dict, args: WireArgs | undefined, kwargs: Kwargs | undefined): void {
    const invocation: Invocation = { code: MessageCode.Invocation, request: call.invocationRequest, registration: call.registration.id, details };
    if (args !== undefined) invocation.args = args;
    if (kwargs !== undefined) invocation.kwargs = kwargs;
    const callee = call.callee.session;
    // An in-process callee takes the message itself: nothing to encode. [transports/peer.ts]
    const frame = callee.peer.sendMessage !== undefined ? invocation : callee.encode(invocation);
    if (frame === undefined) {
      this.#finish(call);
      return call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.InvalidArgument, `the arguments cannot be represented in the callee's serializer (${callee.peer.codec.name})`);
    }
    if (!(frame === invocation ? callee.peer.sendMessage!(invocation) : callee.peer.send(frame as string | Uint8Array))) {
      // The callee cannot take it (gone or cut off): answer the caller now.
      this.#finish(call);
      call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.Canceled, 'callee unavailable');
    }
  }

  #callInternal(session: RouterSession, msg: Call, procedure: RouterProcedure): void {
    // A router procedure reads its arguments: an opaque (enc_algo) payload is not for it.
    if (msg.args instanceof Uint8Array) return session.sendError(MessageCode.Call, msg.request, ErrorUri.InvalidArgument, `'${msg.procedure}' is a router procedure: it takes Arguments|list, not a transparent (enc_algo) payload`);
    let result: ProcedureResult | Promise<ProcedureResult>;
    try {
      result = procedure(session, msg.args ?? [], msg.kwargs ?? {});
    } catch (err) {
      return this.#procedureFailed(session, msg, err);
    }
    if (!(result instanceof Promise)) return this.#answerInternal(session, msg, result);
    // The answer goes to this WAMP session only: not to one opened after it on the same connection.
    const membership = session.membership;
    const current = (): boolean => session.realm !== undefined && session.membership === membership;
    result.then(
      (r) => (current() ? this.#answerInternal(session, msg, r) : undefined),
      (err: unknown) => (current() ? this.#procedureFailed(session, msg, err) : undefined),
    );
  }

  #procedureFailed(session: RouterSession, msg: Call, err: unknown): void {
    if (err instanceof WampError) {
      const error: ErrorMessage = { code: MessageCode.Error, requestType: MessageCode.Call, request: msg.request, details: {}, error: err.uri };
      if (err.args.length > 0 || Object.keys(err.kwargs).length > 0) error.args = err.args;
      if (Object.keys(err.kwargs).length > 0) error.kwargs = err.kwargs;
      session.send(error);
      return;
    }
    this.log.error({ err, procedure: msg.procedure }, 'router procedure failed');
    session.sendError(MessageCode.Call, msg.request, ErrorUri.RuntimeError, 'internal error in router procedure');
  }

  #answerInternal(session: RouterSession, msg: Call, result: ProcedureResult): void {
    const answer: Result = { code: MessageCode.Result, request: msg.request, details: {} };
    if (result?.args !== undefined) answer.args = result.args;
    if (result?.kwargs !== undefined) answer.kwargs = result.kwargs;
    // A result holding what another session sent (its authextra, a testament) may not fit this
    // session's serializer: the call still gets an answer.
    if (session.peer.sendMessage !== undefined) return void session.send(answer);
    const frame = session.encode(answer);
    if (frame === undefined) {
      return session.sendError(MessageCode.Call, msg.request, ErrorUri.InvalidArgument, `the result cannot be represented in this session's serializer (${session.peer.codec.name})`);
    }
    if (session.peer.send(frame)) this.stats.countOut(MessageCode.Result);
  }

  cancel(session: RouterSession, msg: Cancel): void {
    const call = this.dealer.pendingCall(session, msg.request);
    // Unknown, finished or already canceled (kill mode waits for the callee): nothing to do.
    if (call === undefined || this.#killed.has(call)) return;
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
      this.#killed.add(call);
      this.#interrupt(call, 'kill', ErrorUri.Canceled);
      return;
    }
    this.#finish(call);
    if (mode === 'killnowait') this.#interrupt(call, 'killnowait', ErrorUri.Canceled);
    session.sendError(MessageCode.Call, call.callRequest, ErrorUri.Canceled, `call canceled (${mode})`);
  }

  #interrupt(call: PendingCall<RouterSession>, mode: CancelMode, reason: string): void {
    const callee = call.callee.session;
    if (!callee.supports('callee', 'call_canceling')) return;
    callee.send({ code: MessageCode.Interrupt, request: call.invocationRequest, options: { mode, reason } });
  }

  /** [ap_rpc_call_timeout] The caller gets wamp.error.timeout; the callee INTERRUPT (killnowait) if it can take it. */
  #startTimer(call: PendingCall<RouterSession>, timeoutMs: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(call);
      if (this.dealer.pendingCall(call.caller, call.callRequest) !== call) return;
      this.#finish(call);
      this.#interrupt(call, 'killnowait', ErrorUri.Timeout);
      call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.Timeout, `no answer within ${timeoutMs} ms`);
    }, timeoutMs);
    timer.unref();
    return timer;
  }

  /** Drops the realm's own state of a call (timer, frozen details, kill mark). */
  #forget(call: PendingCall<RouterSession>): void {
    const entry = this.#timers.get(call);
    if (entry !== undefined) {
      clearTimeout(entry.timer);
      this.#timers.delete(call);
    }
    this.#frozen.delete(call);
    this.#killed.delete(call);
    this.#started.delete(call);
  }

  /** Ends a call on both sides: later answers for it are dropped. */
  #finish(call: PendingCall<RouterSession>): void {
    this.#forget(call);
    this.dealer.end(call);
  }

  /**
   * YIELD or ERROR from a callee. Answers for calls no longer pending are dropped, unless they
   * answer an invocation another cluster node relayed here.
   */
  answer(session: RouterSession, msg: Yield | ErrorMessage): void {
    const call = this.dealer.pendingInvocation(session, msg.request);
    if (call === undefined) {
      this.relayAnswer(session, msg);
      return;
    }
    const progress = msg.code === MessageCode.Yield && msg.options['progress'] === true;
    if (progress && !call.receiveProgress) return; // the caller did not ask for progressive results
    // The passthru rules hold for an ERROR as for a YIELD: its Details carry ppt_*/enc_* to the caller as they are.
    const ppt = hasPpt(msg.code === MessageCode.Yield ? msg.options : msg.details);
    const what = msg.code === MessageCode.Yield ? 'YIELD' : 'ERROR';
    if (ppt && !supportsPpt(session, 'callee')) {
      return session.protocolViolation(`${what} with ppt_scheme or enc_algo from a callee that announced neither payload_passthru_mode nor payload_transparency`);
    }
    if (ppt && !supportsPpt(call.caller, 'caller')) {
      this.#finish(call);
      if (msg.code === MessageCode.Yield) session.sendError(MessageCode.Invocation, msg.request, ErrorUri.FeatureNotSupported, 'the caller does not support payload passthru mode');
      return call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.FeatureNotSupported, 'the callee answered in payload passthru mode, which this caller did not announce');
    }
    if (progress) {
      // The timeout runs between results. [ap_rpc_call_timeout]
      const entry = this.#timers.get(call);
      if (entry !== undefined) {
        clearTimeout(entry.timer);
        entry.timer = this.#startTimer(call, entry.ms);
        this.#timers.set(call, entry);
      }
    } else {
      const started = this.#started.get(call);
      if (started !== undefined) this.stats.callDone((performance.now() - started) / 1000);
      this.#finish(call);
    }
    let answer: Result | ErrorMessage;
    if (msg.code === MessageCode.Yield) {
      const details: Dict = progress ? { progress: true } : {};
      if (ppt) copyPpt(msg.options, details);
      answer = { code: MessageCode.Result, request: call.callRequest, details };
    } else {
      answer = { code: MessageCode.Error, requestType: MessageCode.Call, request: call.callRequest, details: msg.details, error: msg.error };
    }
    if (msg.args !== undefined) answer.args = msg.args;
    if (msg.kwargs !== undefined) answer.kwargs = msg.kwargs;
    const frame = call.caller.peer.sendMessage !== undefined ? answer : call.caller.encode(answer);
    if (frame !== undefined) void (frame === answer ? call.caller.peer.sendMessage!(answer) : call.caller.peer.send(frame as string | Uint8Array));
    else {
      if (progress) this.#finish(call);
      // The call is over: the caller must still get an answer.
      call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.InvalidArgument, `the callee's answer cannot be represented in the caller's serializer (${call.caller.peer.codec.name})`);
    }
  }
}
