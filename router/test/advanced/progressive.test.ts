/**
 * Progressive call results [ap_09] and progressive call invocations [ap_10]: autobahn-js (with
 * when.js promises, its only way to report progress) and wampy callers over each serializer,
 * raw frames for the feature rules, request IDs and the chunked CALL flow.
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import { Inbox, SERIALIZERS, autobahnCallWithProgress, connectAutobahn, connectWampy } from '../interop/clients.js';
import { PROGRESSIVE_CALLEE, Raw } from './support.js';

/** Caller and callee features for progressive call invocations. */
const PCI_CALLER = { caller: ['progressive_call_invocations', 'progressive_call_results'] };
const PCI_CALLEE = { callee: ['progressive_call_invocations', 'progressive_call_results', 'call_canceling'] };

describe.each(SERIALIZERS)('progressive call results with clients over %s', (serializer) => {
  it('autobahn caller (receive_progress, progress handler) ← raw callee: every progressive result, then the final one', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, PROGRESSIVE_CALLEE);
    await callee.register('com.prog.count');
    const caller = await connectAutobahn(router.url, serializer, { promises: 'when' });
    const { progress, result } = autobahnCallWithProgress(caller, 'com.prog.count', [3]);
    const invocation = await callee.invocation();
    expect(invocation.details).toEqual({ receive_progress: true });
    for (const n of [1, 2, 3]) callee.yield(invocation.request, [n], { progress: true });
    callee.send([MessageCode.Yield, invocation.request, {}, ['done'], { total: 3 }]);
    expect(await progress.take(3)).toEqual([1, 2, 3]);
    const final = await within(result, 3000, 'the final result');
    expect(final).toBeInstanceOf(autobahn.Result);
    expect(final).toMatchObject({ args: ['done'], kwargs: { total: 3 } });
  });

  it('wampy caller (progress_callback) ← raw callee', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, PROGRESSIVE_CALLEE);
    await callee.register('com.prog.wampy');
    const caller = await connectWampy(router.url, serializer);
    const progress = new Inbox<{ argsList: unknown[] | undefined; details: Record<string, unknown> }>('wampy progress');
    const result = caller.wampy.call('com.prog.wampy', [], { progress_callback: (r) => progress.push({ argsList: r.argsList, details: r.details }) });
    const invocation = await callee.invocation();
    expect(invocation.details).toEqual({ receive_progress: true });
    callee.yield(invocation.request, ['a'], { progress: true });
    callee.yield(invocation.request, undefined, { progress: true }); // a progressive result may be empty
    callee.yield(invocation.request, ['z']);
    expect(await progress.take(2)).toEqual([
      { argsList: ['a'], details: { progress: true } },
      { argsList: undefined, details: { progress: true } },
    ]);
    expect((await within(result, 3000, 'the final result')).argsList).toEqual(['z']);
  });

  it('wampy callee (announces no progressive_call_results, streams through result_handler) → autobahn caller: progress in order, then the final result', async () => {
    // wampy 8 reads INVOCATION.Details.receive_progress but does not announce the feature in its
    // callee role; as Crossbar does, the router forwards the flag whenever the caller asked.
    const router = await startTestRouter();
    const callee = await connectWampy(router.url, serializer);
    const seen: Record<string, unknown>[] = [];
    await within(
      callee.wampy.register('com.prog.wampy.callee', ({ details, result_handler }) => {
        seen.push(details);
        if (details['receive_progress'] === true) for (const n of [1, 2, 3]) result_handler({ argsList: [n], options: { progress: true } });
        return { argsList: ['done'] };
      }),
      3000,
      'wampy REGISTERED',
    );
    const caller = await connectAutobahn(router.url, serializer, { promises: 'when' });
    const { progress, result } = autobahnCallWithProgress(caller, 'com.prog.wampy.callee');
    expect(await progress.take(3)).toEqual([1, 2, 3]);
    expect(await within(result, 3000, 'the final result')).toBe('done');
    expect(progress.all).toHaveLength(3); // every progressive result came before the final one
    expect(seen).toEqual([expect.objectContaining({ receive_progress: true })]);
  });
});

describe('progressive call results: autobahn-js endpoints', () => {
  it('an autobahn callee announces progressive_call_results but not call_canceling: it still gets receive_progress and streams', async () => {
    // A deliberate departure from [ap_09] ("the Dealer disregards the Callees Progressive Call
    // Results feature" without call_canceling): autobahn-js never announces call_canceling, so the
    // spec's rule would keep every autobahn-js callee from streaming results. See ARCHITECTURE.md.
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectAutobahn(router.url, 'json', { promises: 'when' }), connectAutobahn(router.url, 'json')]);
    const progressFns: unknown[] = [];
    await within(
      callee.session.register('com.prog.autobahn', (_a, _k, d) => {
        progressFns.push(d.progress);
        d.progress?.([1]);
        return 'final';
      }),
      3000,
      'REGISTERED',
    );
    const { progress, result } = autobahnCallWithProgress(caller, 'com.prog.autobahn');
    expect(await within(result, 3000, 'RESULT')).toBe('final');
    expect(progressFns).toHaveLength(1);
    expect(typeof progressFns[0]).toBe('function');
    expect(progress.all).toEqual([1]); // autobahn hands progress the first positional argument
  });
});

describe('progressive call results: frames', () => {
  it('receive_progress reaches every callee when the caller asked, announced or not (a callee without the feature SHOULD ignore it)', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_results'] });
    const full = await Raw.join(router.url, PROGRESSIVE_CALLEE);
    const plain = await Raw.join(router.url, {});
    await full.register('com.prog.full');
    await plain.register('com.prog.plain');
    caller.call('com.prog.full', [], undefined, { receive_progress: true });
    expect((await full.invocation()).details).toEqual({ receive_progress: true });
    caller.call('com.prog.plain', [], undefined, { receive_progress: true });
    expect((await plain.invocation()).details).toEqual({ receive_progress: true });
    caller.call('com.prog.plain');
    expect((await plain.invocation()).details).toEqual({}); // not asked: not forwarded
  });

  it('a callee that did not announce progressive_call_results may still stream: its progressive YIELDs reach the caller in order', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_results'] });
    const callee = await Raw.join(router.url, {});
    await callee.register('com.prog.unannounced');
    const request = caller.call('com.prog.unannounced', [], undefined, { receive_progress: true });
    const { request: invocation } = await callee.invocation();
    callee.yield(invocation, [1], { progress: true });
    callee.yield(invocation, [2], { progress: true });
    callee.yield(invocation, ['end']);
    for (const expected of [
      [{ progress: true }, [1]],
      [{ progress: true }, [2]],
      [{}, ['end']],
    ]) {
      expect(await caller.next()).toEqual([MessageCode.Result, request, ...expected]);
    }
  });

  it('a callee announcing progressive_call_results without call_canceling still gets receive_progress (see ARCHITECTURE.md)', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_results'] });
    const callee = await Raw.join(router.url, { callee: ['progressive_call_results'] });
    await callee.register('com.prog.nocancel');
    caller.call('com.prog.nocancel', [], undefined, { receive_progress: true });
    expect((await callee.invocation()).details).toEqual({ receive_progress: true });
  });

  it('RESULT.Details.progress on each progressive result, none on the final one', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_results'] });
    const callee = await Raw.join(router.url, PROGRESSIVE_CALLEE);
    await callee.register('com.prog.frames');
    const request = caller.call('com.prog.frames', [], undefined, { receive_progress: true });
    const { request: invocation } = await callee.invocation();
    callee.send([MessageCode.Yield, invocation, { progress: true }, [1], { part: 1 }]);
    callee.send([MessageCode.Yield, invocation, { progress: true }]);
    callee.send([MessageCode.Yield, invocation, {}, [], { parts: 2 }]);
    expect(await caller.next()).toEqual([MessageCode.Result, request, { progress: true }, [1], { part: 1 }]);
    expect(await caller.next()).toEqual([MessageCode.Result, request, { progress: true }]);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, [], { parts: 2 }]);
    // The call is over: a late YIELD is dropped; the next frame is the answer to a new call.
    callee.yield(invocation, ['late']);
    const next = caller.call('com.prog.frames');
    const { request: second } = await callee.invocation();
    callee.yield(second, ['second']);
    expect(await caller.next()).toEqual([MessageCode.Result, next, {}, ['second']]);
  });

  it('progressive YIELDs are dropped when the caller did not ask for them; the final result arrives', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_results'] });
    const callee = await Raw.join(router.url, PROGRESSIVE_CALLEE);
    await callee.register('com.prog.unasked');
    const request = caller.call('com.prog.unasked');
    const invocation = await callee.invocation();
    expect(invocation.details).toEqual({});
    callee.yield(invocation.request, [1], { progress: true });
    callee.yield(invocation.request, [2], { progress: true });
    callee.yield(invocation.request, ['final']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['final']]);
  });
});

describe('progressive call invocations: frames', () => {
  it('chunks share the CALL request ID and the INVOCATION request ID; progress on all but the last; details frozen from the first', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('com.pci.upload');
    const request = caller.call('com.pci.upload', ['chunk1'], undefined, { progress: true, disclose_me: true, receive_progress: true });
    const first = await callee.invocation();
    const frozen = { caller: caller.session, caller_authid: caller.authid, caller_authrole: 'anonymous', receive_progress: true };
    expect(first.details).toEqual({ ...frozen, progress: true });
    // Later chunks only change `progress`; other options are ignored.
    caller.call('com.pci.upload', ['chunk2'], undefined, { progress: true, disclose_me: false }, request);
    const second = await callee.invocation();
    expect(second.request).toBe(first.request);
    expect(second.details).toEqual({ ...frozen, progress: true });
    expect(second.args).toEqual(['chunk2']);
    // Progressive results may flow back meanwhile.
    callee.yield(first.request, ['got 2'], { progress: true });
    expect(await caller.next()).toEqual([MessageCode.Result, request, { progress: true }, ['got 2']]);
    caller.call('com.pci.upload', ['chunk3'], { last: true }, {}, request);
    const last = await callee.invocation();
    expect(last.frame).toEqual([MessageCode.Invocation, first.request, first.registration, frozen, ['chunk3'], { last: true }]);
    callee.yield(first.request, ['stored 3 chunks']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['stored 3 chunks']]);
    // The request-ID sequence goes on from the chunked call's ID.
    expect(await caller.meta('wamp.session.count')).toBe(2);
  });

  it("the spec's request-ID example: a new call between chunks is fine, a gap is a protocol violation", async () => {
    // [ap_10] 1. [CALL, 1, {progress: true}, "foo"] 2. [CALL, 2, {}, "bar"] 3. [CALL, 1, {}, "foo"]
    // (OK, continues #1); then [CALL, 4, ...] is a violation (3 expected).
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('foo');
    await callee.register('bar');
    caller.send([MessageCode.Call, 1, { progress: true }, 'foo', ['a']]);
    const foo = await callee.invocation();
    caller.send([MessageCode.Call, 2, {}, 'bar', ['b']]);
    const bar = await callee.invocation();
    caller.send([MessageCode.Call, 1, {}, 'foo', ['c']]);
    expect((await callee.invocation()).frame).toEqual([MessageCode.Invocation, foo.request, foo.registration, {}, ['c']]);
    callee.yield(bar.request, ['bar done']);
    callee.yield(foo.request, ['foo done']);
    expect(await caller.next()).toEqual([MessageCode.Result, 2, {}, ['bar done']]);
    expect(await caller.next()).toEqual([MessageCode.Result, 1, {}, ['foo done']]);
    caller.send([MessageCode.Call, 4, {}, 'bar']);
    await caller.expectAbort(ErrorUri.ProtocolViolation);
  });

  it('[spec] a progress: true CALL reusing the ID of a call in flight that is not a progressive invocation is a protocol violation', async () => {
    // [ap_10] pseudocode: a continuation candidate found among active calls but not a progressive
    // invocation call → abort_session("wamp.error.protocol_violation").
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('com.pci.plain');
    const request = caller.call('com.pci.plain', [1]);
    await callee.invocation();
    caller.call('com.pci.plain', [2], undefined, { progress: true }, request);
    await caller.expectAbort(ErrorUri.ProtocolViolation, 500);
  });

  it('with a shared registration every chunk goes to the callee the first one went to', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const [a, b] = await Promise.all([Raw.join(router.url, PCI_CALLEE), Raw.join(router.url, PCI_CALLEE)]);
    await a.register('com.pci.shared', { invoke: 'roundrobin' });
    await b.register('com.pci.shared', { invoke: 'roundrobin' });
    const request = caller.call('com.pci.shared', [1], undefined, { progress: true });
    const first = await a.invocation();
    caller.call('com.pci.shared', [2], undefined, { progress: true }, request);
    caller.call('com.pci.shared', [3], undefined, { progress: false }, request);
    expect((await a.invocation()).args).toEqual([2]);
    expect((await a.invocation()).details).toEqual({});
    a.yield(first.request, ['a']);
    expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['a']]);
    // The next call moves on to b.
    caller.call('com.pci.shared', ['next']);
    expect((await b.invocation()).args).toEqual(['next']);
  });

  it('a caller that did not announce progressive_call_invocations: ABORT protocol_violation', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, { caller: ['progressive_call_results'] });
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('com.pci.x');
    caller.call('com.pci.x', [1], undefined, { progress: true });
    await caller.expectAbort(ErrorUri.ProtocolViolation);
  });

  it('a callee without progressive_call_invocations, or without call canceling: ERROR feature_not_supported; call_cancelling (double L) counts', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const cases: [string, string[], boolean][] = [
      ['com.pci.none', [], false],
      ['com.pci.nocancel', ['progressive_call_invocations'], false],
      ['com.pci.cancelonly', ['call_canceling'], false],
      ['com.pci.doublel', ['progressive_call_invocations', 'call_cancelling'], true],
    ];
    for (const [procedure, features, accepted] of cases) {
      const callee = await Raw.join(router.url, { callee: features });
      await callee.register(procedure);
      const request = caller.call(procedure, [1], undefined, { progress: true });
      if (accepted) {
        const invocation = await callee.invocation();
        expect(invocation.details).toEqual({ progress: true });
        caller.call(procedure, [2], undefined, {}, request);
        expect((await callee.invocation()).details).toEqual({});
        callee.yield(invocation.request, ['ok']);
        expect(await caller.next()).toEqual([MessageCode.Result, request, {}, ['ok']]);
      } else {
        const error = await caller.next();
        expect({ procedure, error: error.slice(0, 5) }).toEqual({
          procedure,
          error: [MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.FeatureNotSupported],
        });
      }
    }
  });

  it('a chunk arriving after the callee answered (progress: false) is ignored without an answer', async () => {
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('com.pci.early');
    const request = caller.call('com.pci.early', [1], undefined, { progress: true });
    const invocation = await callee.invocation();
    callee.fail(invocation.request, 'com.error.rejected', ['too big']);
    expect((await caller.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, 'com.error.rejected']);
    caller.call('com.pci.early', [2], undefined, { progress: true }, request);
    caller.call('com.pci.early', [3], undefined, { progress: false }, request);
    // No answer to either, no new INVOCATION, and the session goes on.
    expect(await caller.meta('wamp.session.count')).toBe(2);
    caller.call('com.pci.early', ['new']);
    expect((await callee.invocation()).args).toEqual(['new']);
  });

  it('[spec] a final chunk without the progress option arriving after the callee answered is ignored, not a protocol violation', async () => {
    // [ap_10] "A call invocation MUST always end in a normal CALL without the "progress": true
    // option, or explicitly set "progress": false"; a late continuation matching no call in
    // progress "MUST be ignored" (routers "MAY ... discard continuation candidates").
    const router = await startTestRouter();
    const caller = await Raw.join(router.url, PCI_CALLER);
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('com.pci.late');
    const request = caller.call('com.pci.late', [1], undefined, { progress: true });
    const invocation = await callee.invocation();
    callee.fail(invocation.request, 'com.error.rejected');
    expect((await caller.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, 'com.error.rejected']);
    caller.call('com.pci.late', [2], undefined, {}, request);
    const probe = caller.call('wamp.session.count');
    expect(await caller.next()).toEqual([MessageCode.Result, probe, {}, [2]]);
  });
});

describe('progressive call invocations: wampy 8.0.2', () => {
  it('progressiveCall() sends CALL progress: true without announcing caller.features.progressive_call_invocations, so the router aborts it', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, PCI_CALLEE);
    await callee.register('com.pci.wampy');
    const caller = await connectWampy(router.url, 'json');
    const { result } = caller.wampy.progressiveCall('com.pci.wampy', [1]);
    result.catch(() => undefined);
    await within(caller.closed, 3000, 'wampy to be disconnected');
    expect(caller.sent.find((m) => m[0] === MessageCode.Call)?.[2]).toEqual({ progress: true });
    expect(caller.sent.find((m) => m[0] === MessageCode.Hello)?.[2]).toMatchObject({
      roles: { caller: { features: expect.not.objectContaining({ progressive_call_invocations: true }) } },
    });
  });
});
