/**
 * The call lifecycle (calls.ts, dealer/call.ts) on fake endpoints and fake time: no router, no
 * sockets, no sleeps. Each test drives CALL / YIELD / ERROR / CANCEL / a session leaving as
 * session.ts and realm.ts do (classify, route, answer, cancel, leave) and reads the messages each
 * side was sent, in order, and how the Call ended.
 * [ap_rpc_call_timeout, ap_rpc_call_canceling, ap_rpc_progressive_call_results,
 * ap_rpc_progressive_call_invocations, ap_payload_passthru_mode]
 */
import { describe, expect, it } from 'vitest';
import type { Args, Dict, ErrorMessage, Kwargs, RequestId, SessionId, WampMessage, WireArgs, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode, WampError } from '@switchboard/schemas';
import { Calls } from '../../src/calls.js';
import type { CallParty, IncomingCall, Procedure, ProcedureResult } from '../../src/calls.js';
import type { SendOutcome } from '../../src/core/endpoint.js';
import type { Call } from '../../src/dealer/call.js';
import { Dealer } from '../../src/dealer/dealer.js';
import type { RegisterOptions } from '../../src/dealer/dealer.js';
import { ALLOW } from '../../src/auth/types.js';
import type { Decision } from '../../src/auth/types.js';
import { LIMIT_EXCEEDED } from '../../src/limits.js';
import { silentLogger } from '../../src/log.js';
import { RouterStats } from '../../src/stats.js';

type Role = 'publisher' | 'subscriber' | 'caller' | 'callee';

let nextId = 0;

/** A caller or callee: records what it was sent; can be made gone, or unable to represent some messages. */
class Endpoint implements CallParty {
  readonly id = ++nextId as SessionId;
  readonly identity = { authid: `user${this.id}`, authrole: 'user', authmethod: 'anonymous', authprovider: 'static' };
  readonly serializer = 'fake';
  /** False once the session left (or its connection opened another session). */
  live = true;
  sent: WampMessage[] = [];
  violations: string[] = [];
  gone = false;
  /** Messages this endpoint's serializer cannot represent. */
  cannotEncode: (msg: WampMessage) => boolean = () => false;
  /** Last request ID that passed the session's sequence check. */
  lastRequest = 0;

  constructor(private readonly features: Partial<Record<Role, string[]>> = {}) {}

  supports(role: Role, feature: string): boolean {
    return this.features[role]?.includes(feature) === true;
  }

  send(msg: WampMessage): SendOutcome {
    if (this.cannotEncode(msg)) return 'unserializable';
    if (this.gone) return 'gone';
    this.sent.push(msg);
    return 'sent';
  }

  protocolViolation(message: string): void {
    this.violations.push(message);
  }

  /** What it was sent since the last take. */
  take(): WampMessage[] {
    const out = this.sent;
    this.sent = [];
    return out;
  }
}

/** Timers on a clock that moves only when a test says so. */
class FakeTime {
  now = 0;
  #timers: { at: number; fire: () => void; live: boolean }[] = [];

  readonly schedule = (ms: number, fire: () => void): (() => void) => {
    const timer = { at: this.now + ms, fire, live: true };
    this.#timers.push(timer);
    return () => {
      timer.live = false;
    };
  };

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.now = due.at;
      due.live = false;
      due.fire();
    }
    this.now = until;
  }

  get running(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}

const CANCELING = ['call_canceling'];
const STREAMING = ['progressive_call_invocations', 'call_canceling'];
const PPT = ['payload_passthru_mode'];

function setup(options: { procedures?: [string, Procedure<Endpoint>][]; maxCalls?: number } = {}) {
  const time = new FakeTime();
  const dealer = new Dealer<Endpoint>();
  const stats = new RouterStats();
  const relayed: (Yield | ErrorMessage)[] = [];
  const calls = new Calls<Endpoint>(dealer, new Map(options.procedures ?? []), stats, silentLogger(), {
    now: () => time.now,
    schedule: time.schedule,
    relayAnswer: (_session, msg) => relayed.push(msg),
    maxCalls: () => options.maxCalls,
  });

  function register(callee: Endpoint, procedure: string, opts: RegisterOptions = {}): void {
    const outcome = dealer.register(callee, procedure, opts);
    if (!outcome.ok) throw new Error(outcome.message);
  }

  /** A CALL as session.ts and realm.ts take it: classified once, then routed (new) or continued. */
  function call(
    caller: Endpoint,
    request: number,
    procedure: string,
    opts: Dict = {},
    args?: WireArgs,
    kwargs?: Kwargs,
    decision: Decision = ALLOW,
  ): IncomingCall<Endpoint> {
    const msg = {
      code: MessageCode.Call,
      request: request as RequestId,
      options: opts,
      procedure,
      ...(args !== undefined && { args }),
      ...(kwargs !== undefined && { kwargs }),
    } as const;
    const incoming = calls.classify(caller, msg, caller.lastRequest);
    if (incoming.kind === 'new') {
      caller.lastRequest = request;
      calls.route(caller, msg, decision);
    } else if (incoming.kind === 'continuation') calls.continueCall(incoming.call, msg);
    return incoming;
  }

  function yieldFrom(callee: Endpoint, request: number, opts: Dict = {}, args?: Args): void {
    calls.answer(callee, { code: MessageCode.Yield, request: request as RequestId, options: opts, ...(args !== undefined && { args }) });
  }

  function errorFrom(callee: Endpoint, request: number, error: string, details: Dict = {}): void {
    calls.answer(callee, { code: MessageCode.Error, requestType: MessageCode.Invocation, request: request as RequestId, details, error });
  }

  function cancel(caller: Endpoint, request: number, opts: Dict = {}): void {
    calls.cancel(caller, { code: MessageCode.Cancel, request: request as RequestId, options: opts });
  }

  function leave(session: Endpoint): void {
    calls.leave(session, dealer.removeSession(session));
  }

  /** The session moves to another cluster node (resumption.ts handOver → realm.moveOut → rpc.moveOut). */
  function moveOut(session: Endpoint): void {
    calls.moveOut(session, dealer.removeSession(session, true));
  }

  /** The Call in flight for (caller, request); fails the test if there is none. */
  function pending(caller: Endpoint, request: number): Call<Endpoint> {
    const c = dealer.pendingCall(caller, request);
    if (c === undefined) throw new Error(`no call ${request} in flight`);
    return c;
  }

  return { time, dealer, stats, relayed, calls, register, call, yieldFrom, errorFrom, cancel, leave, moveOut, pending };
}

const invocation = (request: number, details: Dict, args?: WireArgs): Dict => ({
  code: MessageCode.Invocation,
  request,
  registration: expect.any(Number),
  details,
  ...(args !== undefined && { args }),
});
const result = (request: number, details: Dict = {}, args?: WireArgs): Dict => ({
  code: MessageCode.Result,
  request,
  details,
  ...(args !== undefined && { args }),
});
const callError = (request: number, error: string, message?: string): Dict => ({
  code: MessageCode.Error,
  requestType: MessageCode.Call,
  request,
  error,
  ...(message !== undefined && { args: [message] }),
});
const interrupt = (request: number, mode: string, reason: string): Dict => ({ code: MessageCode.Interrupt, request, options: { mode, reason } });

describe('a routed call', () => {
  it('CALL → INVOCATION, YIELD → RESULT: the call ends answered, the dealer forgets it, its latency is recorded', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'com.example.add');
    expect(t.call(caller, 1, 'com.example.add', {}, [2, 3])).toEqual({ kind: 'new' });
    const c = t.pending(caller, 1);
    expect(callee.take()).toMatchObject([invocation(1, {}, [2, 3])]);
    t.time.advance(250);
    t.yieldFrom(callee, 1, {}, [5]);
    expect(caller.take()).toMatchObject([result(1, {}, [5])]);
    expect(c.ended).toBe('answered');
    expect(t.dealer.pendingCall(caller, 1)).toBeUndefined();
    expect(t.dealer.pendingInvocation(callee, 1)).toBeUndefined();
    expect(t.stats.callSeconds).toEqual([0.25]);
    // A second YIELD for it is no call of this dealer's: relayed (a cluster node's), never answered twice.
    t.yieldFrom(callee, 1, {}, [6]);
    expect(caller.take()).toEqual([]);
    expect(t.relayed).toHaveLength(1);
  });

  it('discloses the caller when asked, names the procedure for a pattern registration', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'com.example', { match: 'prefix', discloseCaller: true });
    t.call(caller, 1, 'com.example.add');
    expect(callee.take()).toMatchObject([
      invocation(1, { procedure: 'com.example.add', caller: caller.id, caller_authid: caller.identity.authid, caller_authrole: 'user' }),
    ]);
  });

  it('no callee: ERROR wamp.error.no_such_procedure, nothing in flight', () => {
    const t = setup();
    const caller = new Endpoint();
    t.call(caller, 1, 'com.example.none');
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.NoSuchProcedure)]);
    expect(t.dealer.pendingCalls(caller)).toBe(0);
  });

  it('a callee that does not take the INVOCATION (gone, cut off): the caller hears wamp.error.canceled at once', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    callee.gone = true;
    t.call(caller, 1, 'p', { timeout: 1000 });
    const c = t.dealer.pendingInvocation(callee, 1);
    expect(c).toBeUndefined();
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled, 'callee unavailable')]);
    expect(t.time.running).toBe(0);
  });

  it('maxCalls: the caller at its quota gets limit_exceeded, for a routed call and a router procedure alike', () => {
    const t = setup({ maxCalls: 1, procedures: [['wamp.session.count', () => ({ args: [1] })]] });
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p');
    t.call(caller, 2, 'p');
    t.call(caller, 3, 'wamp.session.count');
    const limit = { code: MessageCode.Error, requestType: MessageCode.Call, error: LIMIT_EXCEEDED, kwargs: { limit: 'maxPendingCallsPerSession', value: 1 } };
    expect(caller.take()).toMatchObject([
      { ...limit, request: 2 },
      { ...limit, request: 3 },
    ]);
    expect(callee.take()).toHaveLength(1);
    expect(t.stats.limitsExceeded.get('maxPendingCallsPerSession')).toBe(2);
    // An answer frees the slot.
    t.yieldFrom(callee, 1);
    t.call(caller, 4, 'wamp.session.count');
    expect(caller.take()).toMatchObject([result(1), result(4, {}, [1])]);
  });
});

describe('call timeout', () => {
  it('the router times the call out: ERROR wamp.error.timeout to the caller, INTERRUPT killnowait to a callee that can take it; a late YIELD is dropped', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint({ callee: CANCELING })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { timeout: 100 });
    const c = t.pending(caller, 1);
    expect(callee.take()).toMatchObject([invocation(1, {})]);
    t.time.advance(99);
    expect(caller.take()).toEqual([]);
    t.time.advance(1);
    expect(callee.take()).toEqual([interrupt(1, 'killnowait', ErrorUri.Timeout)]);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Timeout, 'no answer within 100 ms')]);
    expect(c.ended).toBe('timeout');
    t.yieldFrom(callee, 1);
    expect(caller.take()).toEqual([]);
    expect(t.stats.callSeconds).toEqual([]);
  });

  it('a callee without call_canceling gets no INTERRUPT', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { timeout: 50 });
    callee.take();
    t.time.advance(50);
    expect(callee.take()).toEqual([]);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Timeout)]);
  });

  it('forward_timeout to a callee that announced call_timeout: INVOCATION.Details.timeout, no router timer', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint({ callee: ['call_timeout'] })];
    t.register(callee, 'p', { forwardTimeout: true });
    t.call(caller, 1, 'p', { timeout: 100 });
    expect(callee.take()).toMatchObject([invocation(1, { timeout: 100 })]);
    expect(t.time.running).toBe(0);
    t.time.advance(1000);
    expect(caller.take()).toEqual([]);
  });

  it('with progressive results the timeout runs between results, not over the whole call', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { timeout: 100, receive_progress: true });
    t.time.advance(80);
    t.yieldFrom(callee, 1, { progress: true }, [1]);
    t.time.advance(80);
    t.yieldFrom(callee, 1, { progress: true }, [2]);
    t.time.advance(99);
    expect(caller.take()).toMatchObject([result(1, { progress: true }, [1]), result(1, { progress: true }, [2])]);
    expect(t.time.running).toBe(1); // restarted, not added
    t.time.advance(1);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Timeout)]);
    expect(t.pending.bind(null, caller, 1)).toThrow();
  });
});

describe('call canceling', () => {
  function running(features: string[] = CANCELING) {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint({ callee: features })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { timeout: 1000 });
    callee.take();
    return { t, caller, callee, c: t.pending(caller, 1) };
  }

  it('skip: the caller gets wamp.error.canceled, the callee is not told; its late YIELD is dropped', () => {
    const { t, caller, callee, c } = running();
    t.cancel(caller, 1, { mode: 'skip' });
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled, 'call canceled (skip)')]);
    expect(callee.take()).toEqual([]);
    expect(c.ended).toBe('canceled');
    expect(t.time.running).toBe(0);
    t.yieldFrom(callee, 1);
    expect(caller.take()).toEqual([]);
  });

  it('killnowait (the default): INTERRUPT to the callee, then wamp.error.canceled to the caller', () => {
    const { t, caller, callee, c } = running();
    t.cancel(caller, 1);
    expect(callee.take()).toEqual([interrupt(1, 'killnowait', ErrorUri.Canceled)]);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled, 'call canceled (killnowait)')]);
    expect(c.ended).toBe('canceled');
  });

  it('kill: INTERRUPT, then the caller gets what the callee answers; another CANCEL changes nothing', () => {
    const { t, caller, callee, c } = running();
    t.cancel(caller, 1, { mode: 'kill' });
    expect(callee.take()).toEqual([interrupt(1, 'kill', ErrorUri.Canceled)]);
    expect(caller.take()).toEqual([]);
    expect(c.killed).toBe(true);
    t.cancel(caller, 1, { mode: 'killnowait' });
    expect(callee.take()).toEqual([]);
    expect(caller.take()).toEqual([]);
    t.errorFrom(callee, 1, ErrorUri.Canceled);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled)]);
    expect(c.ended).toBe('answered');
    expect(t.time.running).toBe(0);
  });

  it('a callee without call_canceling: kill and killnowait act as skip', () => {
    for (const mode of ['kill', 'killnowait']) {
      const { t, caller, callee, c } = running([]);
      t.cancel(caller, 1, { mode });
      expect(callee.take()).toEqual([]);
      expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled, 'call canceled (skip)')]);
      expect(c.ended).toBe('canceled');
    }
  });

  it('an unknown mode is ignored: no ERROR (none answers a CANCEL), the call goes on', () => {
    const { t, caller, callee, c } = running();
    t.cancel(caller, 1, { mode: 'maybe' });
    expect(caller.take()).toEqual([]);
    expect(callee.take()).toEqual([]);
    expect(c.ended).toBeUndefined();
    t.yieldFrom(callee, 1, {}, ['done']);
    expect(caller.take()).toMatchObject([result(1, {}, ['done'])]);
  });

  it('CANCEL of an unknown or finished call does nothing', () => {
    const { t, caller, callee } = running();
    t.cancel(caller, 7);
    t.yieldFrom(callee, 1);
    caller.take();
    t.cancel(caller, 1);
    expect(caller.take()).toEqual([]);
    expect(callee.take()).toEqual([]);
  });
});

describe('progressive call results', () => {
  it('progressive YIELDs reach a caller that asked (receive_progress forwarded); the final one ends the call', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { receive_progress: true });
    expect(callee.take()).toMatchObject([invocation(1, { receive_progress: true })]);
    t.yieldFrom(callee, 1, { progress: true }, [1]);
    t.yieldFrom(callee, 1, { progress: true }, [2]);
    expect(t.pending(caller, 1).ended).toBeUndefined();
    t.yieldFrom(callee, 1, {}, [3]);
    expect(caller.take()).toMatchObject([result(1, { progress: true }, [1]), result(1, { progress: true }, [2]), result(1, {}, [3])]);
    expect(t.dealer.pendingCall(caller, 1)).toBeUndefined();
  });

  it('progressive YIELDs for a caller that did not ask are dropped', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p');
    t.yieldFrom(callee, 1, { progress: true }, [1]);
    t.yieldFrom(callee, 1, {}, [2]);
    expect(caller.take()).toMatchObject([result(1, {}, [2])]);
  });
});

describe('progressive call invocations', () => {
  it('chunks reuse the request ID; details are frozen from the first CALL; the last chunk clears progress; a late chunk is discarded', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: ['progressive_call_invocations'] }), new Endpoint({ callee: STREAMING })];
    t.register(callee, 'p');
    expect(t.call(caller, 1, 'p', { progress: true, disclose_me: true }, ['a'])).toEqual({ kind: 'new' });
    const c = t.pending(caller, 1);
    expect(c.callerStreaming).toBe(true);
    const disclosed = { caller: caller.id, caller_authid: caller.identity.authid, caller_authrole: 'user' };
    // Later chunks' options (no disclose_me here) change nothing but `progress`.
    expect(t.call(caller, 1, 'p', { progress: true }, ['b'])).toMatchObject({ kind: 'continuation', call: c });
    expect(t.call(caller, 1, 'p', {}, ['c'])).toMatchObject({ kind: 'continuation' });
    expect(c.callerStreaming).toBe(false);
    expect(callee.take()).toEqual([
      invocation(1, { ...disclosed, progress: true }, ['a']),
      invocation(1, { ...disclosed, progress: true }, ['b']),
      invocation(1, disclosed, ['c']),
    ]);
    // The stream is closed: another chunk with that ID is no continuation (the call waits for its answer).
    expect(t.call(caller, 1, 'p', { progress: true }, ['d'])).toEqual({ kind: 'late' });
    t.yieldFrom(callee, 1, {}, ['done']);
    expect(caller.take()).toMatchObject([result(1, {}, ['done'])]);
    // After the end: still late, never a new call with a reused ID.
    expect(t.call(caller, 1, 'p', { progress: true }, ['e'])).toEqual({ kind: 'late' });
    expect(callee.take()).toEqual([]);
    // The next request ID is a new call.
    expect(t.call(caller, 2, 'p')).toEqual({ kind: 'new' });
  });

  it('a chunk naming another procedure is no continuation', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: ['progressive_call_invocations'] }), new Endpoint({ callee: STREAMING })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { progress: true });
    expect(t.call(caller, 1, 'q', { progress: true })).toEqual({ kind: 'late' });
  });

  it('a callee that cannot be interrupted cannot take a stream: feature_not_supported, and the later chunks are discarded', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: ['progressive_call_invocations'] }), new Endpoint({ callee: ['progressive_call_invocations'] })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { progress: true });
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.FeatureNotSupported, 'the callee does not support progressive call invocations')]);
    expect(callee.take()).toEqual([]);
    expect(t.dealer.pendingCalls(caller)).toBe(0);
    expect(t.call(caller, 1, 'p', { progress: true })).toEqual({ kind: 'late' });
  });

  it('a chunk the callee cannot represent ends the call for the caller (invalid_argument)', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: ['progressive_call_invocations'] }), new Endpoint({ callee: STREAMING })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { progress: true }, ['ok']);
    const c = t.pending(caller, 1);
    callee.cannotEncode = (msg) => msg.code === MessageCode.Invocation && msg.args?.[0] === 'bad';
    t.call(caller, 1, 'p', { progress: true }, ['bad']);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.InvalidArgument, "the arguments cannot be represented in the callee's serializer (fake)")]);
    expect(c.ended).toBe('unserializable');
  });
});

describe('a side leaving', () => {
  it('callee gone: every call it served ends now for its caller (wamp.error.canceled), timers stop', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { timeout: 1000 });
    t.call(caller, 2, 'p');
    const [c1, c2] = [t.pending(caller, 1), t.pending(caller, 2)];
    t.leave(callee);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled, 'callee left the realm before answering'), callError(2, ErrorUri.Canceled)]);
    expect([c1.ended, c2.ended]).toEqual(['callee-gone', 'callee-gone']);
    expect(t.time.running).toBe(0);
    t.time.advance(2000);
    expect(caller.take()).toEqual([]);
  });

  it('caller gone: a callee that can be interrupted is told (killnowait); its answer is dropped', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint({ callee: CANCELING })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { timeout: 1000 });
    callee.take();
    const c = t.pending(caller, 1);
    t.leave(caller);
    expect(callee.take()).toEqual([interrupt(1, 'killnowait', ErrorUri.Canceled)]);
    expect(c.ended).toBe('caller-gone');
    expect(t.time.running).toBe(0);
    t.yieldFrom(callee, 1);
    expect(caller.take()).toEqual([]);
  });

  it('a session calling itself: its own call ends silently when it leaves, and its timer stops', () => {
    const t = setup();
    const self = new Endpoint({ callee: CANCELING });
    t.register(self, 'p');
    t.call(self, 1, 'p', { timeout: 1000 });
    self.take();
    const c = t.pending(self, 1);
    t.leave(self);
    expect(self.take()).toEqual([]);
    expect(c.ended).toBe('caller-gone');
    expect(t.time.running).toBe(0);
  });
});

describe('a session moving to another node (session resumption)', () => {
  it('its calls as caller go on: later results (progressive ones in order) and the timeout still reach it, for forwarding', () => {
    const t = setup();
    const [mover, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'com.slow');
    t.call(mover, 1, 'com.slow', { receive_progress: true });
    t.call(mover, 2, 'com.slow', { timeout: 100 });
    expect(callee.take()).toHaveLength(2);
    mover.live = false;
    t.moveOut(mover);
    // The callee hears nothing: no INTERRUPT.
    expect(callee.take()).toEqual([]);
    t.yieldFrom(callee, 1, { progress: true }, ['p1']);
    t.yieldFrom(callee, 1, { progress: true }, ['p2']);
    t.yieldFrom(callee, 1, {}, ['done']);
    t.time.advance(100);
    expect(mover.take()).toMatchObject([
      result(1, { progress: true }, ['p1']),
      result(1, { progress: true }, ['p2']),
      result(1, {}, ['done']),
      callError(2, ErrorUri.Timeout),
    ]);
    expect(callee.take()).toEqual([]);
    expect(t.dealer.pendingInvocation(callee, 1)).toBeUndefined();
  });

  it('the calls it served end as at a detach (session_unattached); a call it was streaming ends canceled', () => {
    const t = setup();
    const [mover, caller, callee] = [new Endpoint({ caller: STREAMING }), new Endpoint(), new Endpoint({ callee: STREAMING })];
    t.register(mover, 'com.mover');
    t.register(callee, 'com.stream');
    t.call(caller, 1, 'com.mover');
    t.call(mover, 1, 'com.stream', { progress: true }, ['chunk']);
    callee.take();
    expect(mover.take()).toMatchObject([{ code: MessageCode.Invocation }]);
    t.moveOut(mover);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.SessionUnattached)]);
    expect(callee.take()).toMatchObject([interrupt(1, 'killnowait', ErrorUri.Canceled)]);
    expect(mover.take()).toMatchObject([callError(1, ErrorUri.Canceled)]);
    expect(t.dealer.registrationsOf(mover).size).toBe(0);
    expect(t.dealer.lookup('com.mover', 'exact')).toBeUndefined();
  });

  it('a router procedure in flight ends with ERROR canceled (forwarded), and its late answer is dropped', async () => {
    let resolve: (r: ProcedureResult) => void = () => undefined;
    const t = setup({ procedures: [['wamp.slow', () => new Promise<ProcedureResult>((r) => (resolve = r))]] });
    const mover = new Endpoint();
    t.call(mover, 1, 'wamp.slow');
    t.moveOut(mover);
    expect(mover.take()).toMatchObject([callError(1, ErrorUri.Canceled)]);
    resolve({ args: ['late'] });
    await Promise.resolve();
    await Promise.resolve();
    expect(mover.take()).toEqual([]);
  });
});

describe('payload passthru mode', () => {
  const ppt = { ppt_scheme: 'x_custom', ppt_serializer: 'native' };

  it('a callee that did not announce it: the caller gets feature_not_supported, the callee nothing', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: PPT }), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', ppt, ['opaque']);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.FeatureNotSupported, 'the callee does not support payload passthru mode')]);
    expect(callee.take()).toEqual([]);
    expect(t.dealer.pendingInvocations(callee)).toBe(0);
  });

  it('both announced: the options travel to the INVOCATION and back to the RESULT', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: PPT }), new Endpoint({ callee: PPT })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', ppt, ['opaque']);
    expect(callee.take()).toMatchObject([invocation(1, ppt, ['opaque'])]);
    t.yieldFrom(callee, 1, ppt, ['back']);
    expect(caller.take()).toMatchObject([result(1, ppt, ['back'])]);
  });

  it('a passthru YIELD to a caller that did not announce it: ERROR to the callee, feature_not_supported to the caller', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint({ callee: PPT })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p');
    callee.take();
    const c = t.pending(caller, 1);
    t.yieldFrom(callee, 1, ppt, ['opaque']);
    expect(callee.take()).toMatchObject([{ code: MessageCode.Error, requestType: MessageCode.Invocation, request: 1, error: ErrorUri.FeatureNotSupported }]);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.FeatureNotSupported)]);
    expect(c.ended).toBe('refused');
  });

  it('a passthru ERROR to such a caller: only the caller hears (an ERROR is not answered)', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint({ callee: PPT })];
    t.register(callee, 'p');
    t.call(caller, 1, 'p');
    callee.take();
    t.errorFrom(callee, 1, 'com.example.oops', ppt);
    expect(callee.take()).toEqual([]);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.FeatureNotSupported)]);
  });

  it('a passthru answer from a callee that never announced it is a protocol violation; the call goes on', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint({ caller: PPT }), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p');
    t.yieldFrom(callee, 1, ppt);
    expect(callee.violations).toHaveLength(1);
    expect(caller.take()).toEqual([]);
  });
});

describe('answers the caller cannot represent', () => {
  it('the INVOCATION: the caller gets invalid_argument naming the callee’s serializer', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    callee.cannotEncode = () => true;
    t.call(caller, 1, 'p', {}, ['x']);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.InvalidArgument, "the arguments cannot be represented in the callee's serializer (fake)")]);
    expect(t.dealer.pendingCalls(caller)).toBe(0);
  });

  it('the final answer: the call still ends, with invalid_argument', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p');
    caller.cannotEncode = (msg) => msg.code === MessageCode.Result;
    t.yieldFrom(callee, 1, {}, ['x']);
    expect(caller.take()).toMatchObject([
      callError(1, ErrorUri.InvalidArgument, "the callee's answer cannot be represented in the caller's serializer (fake)"),
    ]);
    expect(t.dealer.pendingCalls(caller)).toBe(0);
  });

  it('a progressive result: the call ends there, with invalid_argument; later YIELDs are dropped', () => {
    const t = setup();
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'p');
    t.call(caller, 1, 'p', { receive_progress: true, timeout: 500 });
    const c = t.pending(caller, 1);
    caller.cannotEncode = (msg) => msg.code === MessageCode.Result;
    t.yieldFrom(callee, 1, { progress: true }, ['x']);
    caller.cannotEncode = () => false;
    t.yieldFrom(callee, 1, {}, ['y']);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.InvalidArgument)]);
    expect(c.ended).toBe('unserializable');
    expect(t.time.running).toBe(0);
  });
});

describe('router procedures', () => {
  const answer =
    (r: ProcedureResult): Procedure<Endpoint> =>
    () =>
      r;

  it('synchronous: RESULT with its args and kwargs; the caller is passed in', () => {
    let seen: Endpoint | undefined;
    const t = setup({
      procedures: [
        ['wamp.x', (caller, args, kwargs) => ((seen = caller), { args: [args.length], kwargs })],
        ['wamp.none', answer(undefined)],
      ],
    });
    const caller = new Endpoint();
    t.call(caller, 1, 'wamp.x', {}, [1, 2], { k: 'v' });
    t.call(caller, 2, 'wamp.none');
    expect(seen).toBe(caller);
    expect(caller.take()).toEqual([
      { code: MessageCode.Result, request: 1, details: {}, args: [2], kwargs: { k: 'v' } },
      { code: MessageCode.Result, request: 2, details: {} },
    ]);
  });

  it('asynchronous: the RESULT when it resolves, to this WAMP session only', async () => {
    let resolve: (r: ProcedureResult) => void = () => undefined;
    const t = setup({ procedures: [['wamp.slow', () => new Promise<ProcedureResult>((r) => (resolve = r))]] });
    const caller = new Endpoint();
    t.call(caller, 1, 'wamp.slow');
    expect(caller.take()).toEqual([]);
    resolve({ args: ['late'] });
    await Promise.resolve();
    await Promise.resolve();
    expect(caller.take()).toMatchObject([result(1, {}, ['late'])]);

    // The session left (its connection may carry another WAMP session, a new Endpoint): the answer is dropped.
    t.call(caller, 2, 'wamp.slow');
    caller.live = false;
    resolve({ args: ['nobody'] });
    await Promise.resolve();
    await Promise.resolve();
    expect(caller.take()).toEqual([]);
  });

  it('WampError: exactly that ERROR (args and kwargs); rejected alike', async () => {
    const t = setup({
      procedures: [
        [
          'wamp.refuse',
          () => {
            throw new WampError('wamp.error.no_such_session', ['no'], { id: 7 });
          },
        ],
        [
          'wamp.bare',
          () => {
            throw new WampError('com.example.bare');
          },
        ],
        ['wamp.reject', () => Promise.reject(new WampError('com.example.later', ['x']))],
      ],
    });
    const caller = new Endpoint();
    t.call(caller, 1, 'wamp.refuse');
    t.call(caller, 2, 'wamp.bare');
    t.call(caller, 3, 'wamp.reject');
    await Promise.resolve();
    await Promise.resolve();
    expect(caller.take()).toEqual([
      { code: MessageCode.Error, requestType: MessageCode.Call, request: 1, details: {}, error: 'wamp.error.no_such_session', args: ['no'], kwargs: { id: 7 } },
      { code: MessageCode.Error, requestType: MessageCode.Call, request: 2, details: {}, error: 'com.example.bare' },
      { code: MessageCode.Error, requestType: MessageCode.Call, request: 3, details: {}, error: 'com.example.later', args: ['x'] },
    ]);
  });

  it('a bug (any other throw): wamp.error.runtime_error, and the router goes on', () => {
    const t = setup({
      procedures: [
        [
          'wamp.bug',
          () => {
            throw new TypeError('oops');
          },
        ],
      ],
    });
    const caller = new Endpoint();
    t.call(caller, 1, 'wamp.bug');
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.RuntimeError, 'internal error in router procedure')]);
  });

  it('a transparent (enc_algo) payload is refused; an unrepresentable result becomes invalid_argument', () => {
    const t = setup({ procedures: [['wamp.x', answer({ args: ['x'] })]] });
    const caller = new Endpoint();
    t.call(caller, 1, 'wamp.x', {}, new Uint8Array([1]));
    caller.cannotEncode = (msg) => msg.code === MessageCode.Result;
    t.call(caller, 2, 'wamp.x');
    expect(caller.take()).toMatchObject([
      callError(1, ErrorUri.InvalidArgument),
      callError(2, ErrorUri.InvalidArgument, "the result cannot be represented in this session's serializer (fake)"),
    ]);
  });
});

describe('asynchronous router procedures in flight (review finding 3)', () => {
  /** A procedure whose calls settle when the test says; it records the signal each call got. */
  function slow() {
    const pending: { resolve: (r: ProcedureResult) => void; signal: AbortSignal }[] = [];
    const procedure: Procedure<Endpoint> = (_caller, _args, _kwargs, signal) =>
      new Promise<ProcedureResult>((resolve) => void pending.push({ resolve, signal }));
    return { pending, procedure };
  }
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) await Promise.resolve();
  };

  it('count toward maxPendingCallsPerSession: the call past the quota gets limit_exceeded, and a routed call too', async () => {
    const s = slow();
    const t = setup({ maxCalls: 2, procedures: [['com.example.slow', s.procedure]] });
    const [caller, callee] = [new Endpoint(), new Endpoint()];
    t.register(callee, 'com.example.add');
    for (let i = 1; i <= 50; i++) t.call(caller, i, 'com.example.slow');
    expect(s.pending).toHaveLength(2);
    expect(t.calls.internalCalls(caller)).toBe(2);
    const refused = caller.take();
    expect(refused).toHaveLength(48);
    expect(refused[0]).toMatchObject({ code: MessageCode.Error, request: 3, error: LIMIT_EXCEEDED });
    t.call(caller, 51, 'com.example.add');
    expect(callee.take()).toEqual([]);
    expect(caller.take()).toMatchObject([{ code: MessageCode.Error, request: 51, error: LIMIT_EXCEEDED }]);
    // One answers: the quota has room again.
    s.pending[0]!.resolve({ args: [1] });
    await settle();
    expect(caller.take()).toMatchObject([result(1, {}, [1])]);
    expect(t.calls.internalCalls(caller)).toBe(1);
    t.call(caller, 52, 'com.example.add');
    expect(callee.take()).toHaveLength(1);
  });

  it('CALL.Options.timeout: ERROR wamp.error.timeout at the deadline, the signal aborts, the late answer is dropped', async () => {
    const s = slow();
    const t = setup({ procedures: [['com.example.slow', s.procedure]] });
    const caller = new Endpoint();
    t.call(caller, 1, 'com.example.slow', { timeout: 100 });
    t.time.advance(99);
    expect(caller.take()).toEqual([]);
    t.time.advance(1);
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Timeout, 'no answer within 100 ms')]);
    expect(s.pending[0]!.signal.aborted).toBe(true);
    expect(t.calls.internalCalls(caller)).toBe(0);
    s.pending[0]!.resolve({ args: ['late'] });
    await settle();
    expect(caller.take()).toEqual([]);
    // Answered in time: no timer left behind.
    t.call(caller, 2, 'com.example.slow', { timeout: 100 });
    s.pending[1]!.resolve({ args: ['in time'] });
    await settle();
    expect(caller.take()).toMatchObject([result(2, {}, ['in time'])]);
    expect(t.time.running).toBe(0);
  });

  it.each(['skip', 'kill', 'killnowait'])('CANCEL (%s): ERROR wamp.error.canceled at once, the signal aborts, the late answer is dropped', async (mode) => {
    const s = slow();
    const t = setup({ procedures: [['com.example.slow', s.procedure]] });
    const caller = new Endpoint();
    t.call(caller, 1, 'com.example.slow', { timeout: 1000 });
    t.cancel(caller, 1, { mode });
    expect(caller.take()).toMatchObject([callError(1, ErrorUri.Canceled, `call canceled (${mode})`)]);
    expect(s.pending[0]!.signal.aborted).toBe(true);
    expect(t.time.running).toBe(0);
    s.pending[0]!.resolve({ args: ['late'] });
    await settle();
    t.cancel(caller, 1, { mode }); // a second CANCEL: nothing in flight, nothing answered
    expect(caller.take()).toEqual([]);
  });

  it('the caller leaving ends its calls in flight: signals abort, nothing stays counted', () => {
    const s = slow();
    const t = setup({ procedures: [['com.example.slow', s.procedure]] });
    const caller = new Endpoint();
    t.call(caller, 1, 'com.example.slow', { timeout: 1000 });
    t.call(caller, 2, 'com.example.slow');
    caller.live = false;
    t.leave(caller);
    expect(s.pending.map((p) => p.signal.aborted)).toEqual([true, true]);
    expect(t.calls.internalCalls(caller)).toBe(0);
    expect(t.time.running).toBe(0);
  });
});
