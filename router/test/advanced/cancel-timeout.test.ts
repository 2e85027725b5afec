/**
 * Call timeout [ap_11] and call canceling [ap_12], and what a caller leaving tells its callees
 * [bp: caller leaving]. Raw frames for CANCEL modes and INTERRUPT; autobahn-js and wampy over
 * each serializer for what they can express (timeout option, cancel).
 *
 * "No INTERRUPT" is shown by the callee's next frame being the INVOCATION of a later call, and
 * "the late answer was dropped" by the caller's next frame being the answer to a later call.
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import { SERIALIZERS, autobahnCallError, connectAutobahn, connectWampy, wampyCallError } from '../interop/clients.js';
import { CANCELING_CALLEE, PROGRESSIVE_CALLEE, Raw } from './support.js';

const ERROR_CANCELED = (request: number): unknown[] => [MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.Canceled];
const ERROR_TIMEOUT = (request: number): unknown[] => [MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.Timeout];

/** A caller and a callee on `procedure`; the callee announces `features`. */
async function pair(url: string, procedure: string, callee: Parameters<typeof Raw.join>[1] = CANCELING_CALLEE): Promise<{ caller: Raw; callee: Raw }> {
  const [c, e] = await Promise.all([Raw.join(url, { caller: ['call_canceling', 'call_timeout', 'progressive_call_results'] }), Raw.join(url, callee)]);
  await e.register(procedure);
  return { caller: c, callee: e };
}

/** Proves the caller got nothing else meanwhile: a fresh call's RESULT is its next frame. */
async function callerIsQuiet(caller: Raw, callee: Raw, procedure: string): Promise<void> {
  const request = caller.call(procedure, ['probe']);
  const invocation = await callee.invocation();
  expect(invocation.args).toEqual(['probe']);
  callee.yield(invocation.request, ['probe done']);
  expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['probe done']]);
}

describe('call timeout: frames', () => {
  it('the router times the call out: ERROR wamp.error.timeout to the caller, INTERRUPT killnowait (reason timeout) to a callee that announced call_canceling; the late YIELD is dropped', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.slow');
    const request = caller.call('com.slow', [], undefined, { timeout: 40 });
    const invocation = await callee.invocation();
    expect(invocation.details).toEqual({}); // the router keeps the timer: no timeout forwarded
    expect((await caller.next(2000)).slice(0, 5)).toEqual(ERROR_TIMEOUT(request));
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Timeout }]);
    callee.yield(invocation.request, ['too late']);
    await callerIsQuiet(caller, callee, 'com.slow');
  });

  it('a callee without call_canceling gets no INTERRUPT on timeout', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.slow', {});
    const request = caller.call('com.slow', [], undefined, { timeout: 30 });
    const invocation = await callee.invocation();
    expect((await caller.next(2000)).slice(0, 5)).toEqual(ERROR_TIMEOUT(request));
    callee.fail(invocation.request, 'com.error.late');
    await callerIsQuiet(caller, callee, 'com.slow');
  });

  it('REGISTER forward_timeout (callee announcing call_timeout): INVOCATION.Details.timeout, and the router keeps no timer', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([Raw.join(router.url), Raw.join(router.url, { callee: ['call_timeout', 'call_canceling'] })]);
    await callee.register('com.forwarded', { forward_timeout: true });
    const request = caller.call('com.forwarded', [], undefined, { timeout: 25 });
    const invocation = await callee.invocation();
    expect(invocation.details).toEqual({ timeout: 25 });
    expect(await caller.silentFor(150)).toBe(true); // well past 25 ms: the router did not time it out
    callee.yield(invocation.request, ['in time after all']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['in time after all']]);
  });

  it('[spec] forward_timeout from a callee that did not announce call_timeout: the dealer must time the call itself', async () => {
    // [ap_11] "If the Callee does not support Call Timeouts, a Dealer supporting this feature MUST
    // start a timeout timer upon receiving a CALL message with a timeout option."
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([Raw.join(router.url), Raw.join(router.url, CANCELING_CALLEE)]);
    await callee.register('com.forwarded', { forward_timeout: true });
    const request = caller.call('com.forwarded', [], undefined, { timeout: 25 });
    await callee.invocation();
    expect((await caller.next(500)).slice(0, 5)).toEqual(ERROR_TIMEOUT(request));
  });

  it('with progressive results the timeout runs between results, not over the whole call', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.stream', PROGRESSIVE_CALLEE);
    const timeoutMs = 300;
    const request = caller.call('com.stream', [], undefined, { timeout: timeoutMs, receive_progress: true });
    const startedAt = Date.now();
    const invocation = await callee.invocation();
    // Results back to back (each gap one round trip, far shorter than the timeout) for twice the
    // timeout in all: a timer over the whole call would have fired half-way. No fixed sleep.
    let lastYieldAt = 0;
    for (let i = 1; Date.now() - startedAt < 2 * timeoutMs; i++) {
      lastYieldAt = Date.now();
      callee.yield(invocation.request, [i], { progress: true });
      expect(await caller.next()).toEqual([MessageCode.Result, request, { progress: true }, [i]]);
    }
    // Then silence: the timeout fires one period after the last result reached the router, which
    // is after the test sent it (the caller may see that result late on a loaded machine).
    expect((await caller.next(2000)).slice(0, 5)).toEqual(ERROR_TIMEOUT(request));
    expect(Date.now() - lastYieldAt).toBeGreaterThanOrEqual(timeoutMs - 20);
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Timeout }]);
  });

  it('timeout 0 means none; a malformed timeout is ERROR invalid_argument', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.t');
    const request = caller.call('com.t', [], undefined, { timeout: 0 });
    const invocation = await callee.invocation();
    callee.yield(invocation.request, ['ok']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['ok']]);
    for (const timeout of [-1, 1.5, 'soon']) {
      const bad = caller.call('com.t', [], undefined, { timeout });
      expect((await caller.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, bad, {}, ErrorUri.InvalidArgument]);
    }
  });
});

describe.each(SERIALIZERS)('call timeout with clients over %s', (serializer) => {
  it('wampy call with timeout: rejected with wamp.error.timeout (the autobahn endpoint never answers)', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
    await within(
      callee.session.register('com.never', () => new Promise(() => undefined)),
      3000,
      'REGISTERED',
    );
    const error = await wampyCallError(caller.wampy.call('com.never', [], { timeout: 30 }));
    expect(error.errorUri).toBe(ErrorUri.Timeout);
  });

  it('autobahn call with the timeout option: rejected with wamp.error.timeout (the wampy endpoint never answers)', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectAutobahn(router.url, serializer), connectWampy(router.url, serializer)]);
    await within(
      callee.wampy.register('com.never', () => new Promise<null>(() => undefined)),
      3000,
      'REGISTERED',
    );
    const error = await autobahnCallError(caller.session.call('com.never', [], {}, { timeout: 30 }));
    expect(error.error).toBe(ErrorUri.Timeout);
  });
});

describe('call canceling: frames', () => {
  it('skip: ERROR canceled to the caller at once, no INTERRUPT, the late YIELD dropped', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    const request = caller.call('com.c', ['work']);
    const invocation = await callee.invocation();
    caller.cancel(request, { mode: 'skip' });
    expect((await caller.next()).slice(0, 5)).toEqual(ERROR_CANCELED(request));
    callee.yield(invocation.request, ['late']);
    await callerIsQuiet(caller, callee, 'com.c'); // also: the callee's next frame was the probe, not an INTERRUPT
  });

  it("killnowait: INTERRUPT to the callee and ERROR canceled to the caller at once; the callee's answer is dropped", async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    const request = caller.call('com.c');
    const invocation = await callee.invocation();
    caller.cancel(request, { mode: 'killnowait' });
    expect((await caller.next()).slice(0, 5)).toEqual(ERROR_CANCELED(request));
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Canceled }]);
    callee.fail(invocation.request, ErrorUri.Canceled);
    await callerIsQuiet(caller, callee, 'com.c');
  });

  it("kill: INTERRUPT to the callee; the caller gets the callee's answer, whichever it is", async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    // The callee answers the INTERRUPT with ERROR…
    const first = caller.call('com.c', [1]);
    const inv1 = await callee.invocation();
    caller.cancel(first, { mode: 'kill' });
    expect(await callee.next()).toEqual([MessageCode.Interrupt, inv1.request, { mode: 'kill', reason: ErrorUri.Canceled }]);
    // Nothing for the caller yet: a router procedure's RESULT comes first.
    const probe = caller.call('wamp.session.count');
    expect(await caller.next()).toEqual([MessageCode.Result, probe, {}, [2]]);
    callee.fail(inv1.request, ErrorUri.Canceled, ['stopped at 40%']);
    expect(await caller.next()).toEqual([MessageCode.Error, MessageCode.Call, first, {}, ErrorUri.Canceled, ['stopped at 40%']]);
    // …or finishes anyway.
    const second = caller.call('com.c', [2]);
    const inv2 = await callee.invocation();
    caller.cancel(second, { mode: 'kill' });
    caller.cancel(second, { mode: 'killnowait' }); // a repeated CANCEL is ignored
    expect(await callee.next()).toEqual([MessageCode.Interrupt, inv2.request, { mode: 'kill', reason: ErrorUri.Canceled }]);
    callee.yield(inv2.request, ['finished anyway']);
    expect(await caller.next()).toEqual([MessageCode.Result, second, {}, ['finished anyway']]);
  });

  it('no mode means killnowait', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    const request = caller.call('com.c');
    const invocation = await callee.invocation();
    caller.cancel(request);
    expect((await caller.next()).slice(0, 5)).toEqual(ERROR_CANCELED(request));
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Canceled }]);
  });

  it('an unknown mode is ignored (no ERROR answers a CANCEL, clients would take one as a protocol violation); the call goes on', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    const request = caller.call('com.c');
    const invocation = await callee.invocation();
    caller.cancel(request, { mode: 'gently' });
    expect(await callee.silentFor(100)).toBe(true); // no INTERRUPT
    callee.yield(invocation.request, ['done']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['done']]);
  });

  it('a callee without call_canceling is never interrupted: any mode acts as skip', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c', { callee: ['progressive_call_results'] });
    for (const mode of ['kill', 'killnowait']) {
      const request = caller.call('com.c', [mode]);
      const invocation = await callee.invocation();
      caller.cancel(request, { mode });
      expect({ mode, error: (await caller.next()).slice(0, 5) }).toEqual({ mode, error: ERROR_CANCELED(request) });
      callee.yield(invocation.request, ['late']);
    }
    await callerIsQuiet(caller, callee, 'com.c'); // no INTERRUPT reached the callee, no late RESULT the caller
  });

  it('call_cancelling (double L, as the progressive-invocations text spells it) is accepted', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c', { callee: ['call_cancelling'] });
    const request = caller.call('com.c');
    const invocation = await callee.invocation();
    caller.cancel(request, { mode: 'kill' });
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'kill', reason: ErrorUri.Canceled }]);
  });

  it('a CANCEL for an unknown or finished call is ignored', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    const request = caller.call('com.c');
    const invocation = await callee.invocation();
    callee.yield(invocation.request, ['done']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['done']]);
    caller.cancel(request, { mode: 'kill' });
    caller.cancel(9999, { mode: 'killnowait' });
    await callerIsQuiet(caller, callee, 'com.c');
  });

  it('a caller leaving: INTERRUPT killnowait to a callee that announced call_canceling, nothing to one that did not', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url);
    const [canceling, plain] = await Promise.all([Raw.join(router.url, CANCELING_CALLEE), Raw.join(router.url, {})]);
    await canceling.register('com.leave.a');
    await plain.register('com.leave.b');
    caller.call('com.leave.a');
    caller.call('com.leave.b');
    const [a, b] = [await canceling.invocation(), await plain.invocation()];
    await caller.leave();
    expect(await canceling.next()).toEqual([MessageCode.Interrupt, a.request, { mode: 'killnowait', reason: ErrorUri.Canceled }]);
    plain.yield(b.request, ['nobody listens']); // dropped without harm
    const other = await Raw.join(router.url);
    other.call('com.leave.b', ['next']);
    expect((await plain.invocation()).args).toEqual(['next']);
  });

  it("a caller's connection dropping (no GOODBYE) interrupts the same way", async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_invocations'] });
    const callee = await Raw.join(router.url, { callee: ['progressive_call_invocations', 'call_canceling'] });
    await callee.register('com.upload');
    caller.call('com.upload', [1], undefined, { progress: true }); // a progressive invocation in flight
    const invocation = await callee.invocation();
    caller.peer.ws.terminate();
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Canceled }]);
  });

  it('a callee leaving: its pending calls end with ERROR canceled', async () => {
    const router = await startTestRouter();
    const { caller, callee } = await pair(router.url, 'com.c');
    const request = caller.call('com.c');
    await callee.invocation();
    await callee.leave();
    expect((await caller.next()).slice(0, 5)).toEqual(ERROR_CANCELED(request));
  });
});

describe.each(SERIALIZERS)('call canceling with clients over %s', (serializer) => {
  it('autobahn cancel({mode: "kill"}): INTERRUPT to the callee, the callee\'s ERROR rejects the call', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, CANCELING_CALLEE);
    await callee.register('com.cancel.kill');
    const caller = await connectAutobahn(router.url, serializer);
    const call = caller.session.call('com.cancel.kill', [1]);
    const invocation = await callee.invocation();
    call.cancel({ mode: 'kill' });
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'kill', reason: ErrorUri.Canceled }]);
    callee.fail(invocation.request, ErrorUri.Canceled);
    expect((await autobahnCallError(call)).error).toBe(ErrorUri.Canceled);
  });

  it('wampy cancel(): killnowait rejects the call with wamp.error.canceled; the callee is interrupted', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, CANCELING_CALLEE);
    await callee.register('com.cancel.wampy');
    const caller = await connectWampy(router.url, serializer);
    const call = caller.wampy.call('com.cancel.wampy', [1]);
    const requestId = caller.wampy.getOpStatus().reqId;
    const invocation = await callee.invocation();
    expect(caller.wampy.cancel(requestId, { mode: 'killnowait' })).toBe(true);
    expect((await wampyCallError(call)).errorUri).toBe(ErrorUri.Canceled);
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Canceled }]);
  });
});

describe('call canceling: autobahn-js 22.11 with skip/killnowait', () => {
  it("autobahn rejects the call itself, then takes the router's (spec-mandated) ERROR canceled for a protocol violation and fails its connection", async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, CANCELING_CALLEE);
    await callee.register('com.cancel.local');
    // autobahn's session.js shadows the global Error, so on_internal_error gets `undefined`; the
    // reason is recorded here instead.
    const caller = await connectAutobahn(router.url, 'json', { expectInternalError: /protocol violation/ });
    const violations: string[] = [];
    const internals = caller.session as unknown as { _protocol_violation: (reason: string) => void };
    const original = internals._protocol_violation;
    internals._protocol_violation = (reason) => {
      violations.push(reason);
      original(reason);
    };
    const call = caller.session.call('com.cancel.local');
    const invocation = await callee.invocation();
    call.cancel({ mode: 'killnowait' });
    const rejected = await autobahnCallError(call);
    expect(rejected).toBeInstanceOf(autobahn.Error);
    expect(rejected.error).toBe('Cancelled'); // autobahn's own, before the router answered
    expect(await callee.next()).toEqual([MessageCode.Interrupt, invocation.request, { mode: 'killnowait', reason: ErrorUri.Canceled }]);
    const closed = await within(caller.closed, 3000, 'autobahn to fail the connection');
    // autobahn fails the connection with a close frame without a code; the router answers it with
    // 1000, as Crossbar does (#16), so autobahn calls it 'closed'. The violation is what it saw.
    expect(closed.reason).toBe('closed');
    expect(violations).toEqual([expect.stringMatching(/^CALL-ERROR received for non-pending request ID \d+$/)]);
  });
});
