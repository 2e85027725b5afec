/**
 * Advanced Profile features against Switchboard's router. Each test first checks that the router
 * announces the feature in WELCOME and is skipped otherwise, so the suite follows the router as
 * features land.
 */
import { describe, expect, it } from 'vitest';
import type { TestContext } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import { WampError } from '@switchboard/client';
import type { InvocationDetails, Session } from '@switchboard/client';
import { startTestRouter } from '../../router/test/helpers.js';
import { deferred, nextEvent, open, recordingSession, streamOneToFour, summingCallee, uri, within } from './helpers.js';

function need(ctx: TestContext, session: Session, role: 'broker' | 'dealer', feature: string): void {
  if (!session.supports(role, feature)) ctx.skip(`the router does not announce ${role}.${feature}`);
}

describe('call canceling', () => {
  it('caller abort sends CANCEL on the wire; the callee sees details.signal abort after INTERRUPT', async (ctx) => {
    const router = await startTestRouter();
    const callee = await open(router.url);
    need(ctx, callee, 'dealer', 'call_canceling');
    const { session: caller, sent } = await recordingSession(router.url);
    const proc = uri('cancel');
    const started = deferred<InvocationDetails>();
    const aborted = deferred<unknown>();
    await callee.register(proc, (_args, _kwargs, details) => {
      started.resolve(details);
      details.signal.addEventListener('abort', () => aborted.resolve(details.signal.reason));
      return new Promise(() => {}); // works until interrupted
    });
    const controller = new AbortController();
    const call = caller.call(proc, [], {}, { signal: controller.signal }).catch((e: unknown) => e);
    const details = await within(started.promise, 3000, 'the invocation');
    expect(details.signal.aborted).toBe(false);
    controller.abort();
    const error = await within(call, 3000, 'the call to reject');
    expect(error).toBeInstanceOf(WampError);
    expect((error as WampError).uri).toBe('wamp.error.canceled');
    const callFrame = sent.find((f) => f[0] === MessageCode.Call && f[3] === proc)!;
    expect(sent.find((f) => f[0] === MessageCode.Cancel)).toEqual([MessageCode.Cancel, callFrame[1], { mode: 'killnowait' }]);
    const reason = await within(aborted.promise, 3000, 'INTERRUPT to reach the callee');
    expect(details.signal.aborted).toBe(true);
    expect(reason).toBeInstanceOf(WampError);
    // The session is still healthy (the ERROR the callee sent for the INTERRUPT was not a violation).
    await callee.register(uri('after'), () => 1);
  });

  it.for(['kill', 'skip'] as const)('cancel mode %s is passed to the dealer', async (mode, ctx) => {
    const router = await startTestRouter();
    const callee = await open(router.url);
    need(ctx, callee, 'dealer', 'call_canceling');
    const { session: caller, sent } = await recordingSession(router.url);
    const proc = uri(`mode${mode}`);
    const started = deferred();
    const interrupted = deferred();
    await callee.register(proc, (_a, _k, details) => {
      details.signal.addEventListener('abort', () => interrupted.resolve());
      started.resolve();
      return new Promise(() => {});
    });
    const controller = new AbortController();
    const call = caller.call(proc, [], {}, { signal: controller.signal, cancelMode: mode }).catch((e: unknown) => e);
    await within(started.promise, 3000, 'the invocation');
    controller.abort();
    expect(await within(call, 3000, 'reject')).toMatchObject({ uri: 'wamp.error.canceled' });
    expect(sent.find((f) => f[0] === MessageCode.Cancel)?.[2]).toEqual({ mode });
    if (mode === 'kill') await within(interrupted.promise, 3000, 'INTERRUPT');
  });

  it('an already-aborted signal rejects without sending CALL', async () => {
    const router = await startTestRouter();
    const { session, sent } = await recordingSession(router.url);
    const before = sent.length;
    await expect(session.call(uri('never'), [], {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ uri: 'wamp.error.canceled' });
    expect(sent.length).toBe(before);
  });
});

describe('call timeout', () => {
  it('timeout goes to the dealer, which cancels the call; the callee is interrupted', async (ctx) => {
    const router = await startTestRouter();
    const callee = await open(router.url);
    need(ctx, callee, 'dealer', 'call_timeout');
    const { session: caller, sent } = await recordingSession(router.url);
    const proc = uri('timeout');
    const interrupted = deferred();
    await callee.register(proc, (_a, _k, details) => {
      details.signal.addEventListener('abort', () => interrupted.resolve());
      return new Promise(() => {});
    });
    const error = await caller.call(proc, [], {}, { timeout: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WampError);
    expect(['wamp.error.timeout', 'wamp.error.canceled']).toContain((error as WampError).uri);
    expect(sent.find((f) => f[0] === MessageCode.Call)?.[2]).toEqual({ timeout: 100 });
    await within(interrupted.promise, 3000, 'the callee to be interrupted');
  });
});

describe('progressive call results', () => {
  it('onProgress receives each progressive result, then the call resolves', async (ctx) => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url, 'msgpack'), open(router.url, 'cbor')]);
    need(ctx, callee, 'dealer', 'progressive_call_results');
    const proc = uri('progress');
    await callee.register(proc, async (args, _kwargs, details) => {
      for (let i = 1; i <= 3; i++) details.progress([i], { of: 3 });
      return `done ${String(args[0])}`;
    });
    const progress: unknown[] = [];
    const result = await caller.call(proc, ['x'], {}, { onProgress: (args, kwargs) => progress.push([args[0], kwargs['of']]) });
    expect(result).toBe('done x');
    expect(progress).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
  });

  it('callStream yields progressive results as an async iterator; result holds the final one', async (ctx) => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url), open(router.url)]);
    need(ctx, callee, 'dealer', 'progressive_call_results');
    const proc = uri('stream');
    await callee.register(proc, async (_a, _k, details) => {
      expect(details.receiveProgress).toBe(true);
      for (const word of ['a', 'b', 'c']) {
        details.progress([word]);
        await new Promise((r) => setTimeout(r, 5));
      }
      return 'end';
    });
    const stream = caller.callStream(proc);
    const words: unknown[] = [];
    for await (const item of stream) words.push(item.args[0]);
    expect(words).toEqual(['a', 'b', 'c']);
    expect((await stream.result).value).toBe('end');
  });

  it('a failing progressive call makes the iterator throw the WampError', async (ctx) => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url), open(router.url)]);
    need(ctx, callee, 'dealer', 'progressive_call_results');
    const proc = uri('streamfail');
    await callee.register(proc, (_a, _k, details) => {
      details.progress([1]);
      throw new WampError('com.example.error.broken');
    });
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const item of caller.callStream(proc)) seen.push(item.args[0]);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1]);
    expect(error).toMatchObject({ uri: 'com.example.error.broken' });
  });
});

describe('options passed through', () => {
  it('pattern-based subscription (prefix, wildcard) gets details.topic', async (ctx) => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([open(router.url), open(router.url)]);
    need(ctx, subscriber, 'broker', 'pattern_based_subscription');
    const base = uri('pattern');
    const prefix = await subscriber.subscribe(base, { match: 'prefix' });
    const wildcard = await subscriber.subscribe(`${base}..temp`, { match: 'wildcard' });
    await publisher.publish(`${base}.kitchen.temp`, [21], {}, { acknowledge: true });
    const [a, b] = await Promise.all([nextEvent(prefix), nextEvent(wildcard)]);
    expect(a.details.topic).toBe(`${base}.kitchen.temp`);
    expect(b.details.topic).toBe(`${base}.kitchen.temp`);
    expect(b.args).toEqual([21]);
  });

  it('publisher disclosure and eligible/exclude lists', async (ctx) => {
    const router = await startTestRouter();
    const [publisher, s1, s2] = await Promise.all([open(router.url), open(router.url), open(router.url)]);
    need(ctx, publisher, 'broker', 'subscriber_blackwhite_listing');
    const topic = uri('lists');
    const [sub1, sub2] = await Promise.all([s1.subscribe(topic), s2.subscribe(topic)]);
    await publisher.publish(topic, ['only s2'], {}, { acknowledge: true, eligible: [s2.id!] });
    await publisher.publish(topic, ['not s2'], {}, { acknowledge: true, exclude: [s2.id!], disclose_me: true });
    const first2 = await nextEvent(sub2);
    expect(first2.args).toEqual(['only s2']);
    const first1 = await nextEvent(sub1);
    expect(first1.args).toEqual(['not s2']);
    if (publisher.supports('broker', 'publisher_identification')) expect(first1.details.publisher).toBe(publisher.id);
  });

  it('shared registration: two callees with invoke roundrobin', async (ctx) => {
    const router = await startTestRouter();
    const [a, b, caller] = await Promise.all([open(router.url), open(router.url), open(router.url)]);
    need(ctx, a, 'dealer', 'shared_registration');
    const proc = uri('shared');
    await a.register(proc, () => 'a', { invoke: 'roundrobin' });
    await b.register(proc, () => 'b', { invoke: 'roundrobin' });
    const results = [await caller.call(proc), await caller.call(proc), await caller.call(proc), await caller.call(proc)];
    expect(new Set(results)).toEqual(new Set(['a', 'b']));
  });

  it('caller disclosure reaches the callee details', async (ctx) => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url), open(router.url)]);
    need(ctx, callee, 'dealer', 'caller_identification');
    const proc = uri('disclose');
    await callee.register(proc, (_a, _k, details) => details.caller ?? null);
    expect(await caller.call(proc, [], {}, { disclose_me: true })).toBe(caller.id);
  });

  it('event retention: retain, then get_retained on subscribe', async (ctx) => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([open(router.url), open(router.url)]);
    need(ctx, publisher, 'broker', 'event_retention');
    const topic = uri('retained');
    await publisher.publish(topic, ['kept'], {}, { acknowledge: true, retain: true });
    const subscription = await subscriber.subscribe(topic, { get_retained: true });
    const event = await nextEvent(subscription);
    expect(event.args).toEqual(['kept']);
  });
});

describe.each(['json', 'msgpack', 'cbor'] as SerializerName[])('advanced features over %s', (serializer) => {
  it('a canceled call and a progressive call work', async (ctx) => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    need(ctx, callee, 'dealer', 'progressive_call_results');
    const proc = uri('mixed');
    await callee.register(proc, (args, _k, details) => {
      if (args[0] === 'hang') return new Promise(() => {});
      details.progress(['p']);
      return 'r';
    });
    const seen: unknown[] = [];
    expect(await caller.call(proc, ['go'], {}, { onProgress: (a) => seen.push(a[0]) })).toBe('r');
    expect(seen).toEqual(['p']);
    const controller = new AbortController();
    const hanging = caller.call(proc, ['hang'], {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(hanging).rejects.toMatchObject({ uri: 'wamp.error.canceled' });
  });
});

describe('progressive call invocations', () => {
  it('the caller streams its arguments in chunks; the callee reads them from details.input and answers progressively', async (ctx) => {
    const router = await startTestRouter();
    const callee = await open(router.url, 'msgpack');
    need(ctx, callee, 'dealer', 'progressive_call_invocations');
    const { session: caller, sent } = await recordingSession(router.url);
    const proc = uri('upload');
    await callee.register(proc, summingCallee);
    const { input, result, acks } = await streamOneToFour(caller, proc);
    expect(result.value).toEqual({ total: 10, chunks: 4 });
    expect(acks).toEqual([2, 3, 4]);
    const calls = sent.filter((f) => f[0] === MessageCode.Call && f[3] === proc);
    expect(calls.map((f) => [f[1], f[2], f[4]])).toEqual([
      [calls[0]![1], { progress: true, receive_progress: true }, [1]],
      [calls[0]![1], { progress: true }, [2]],
      [calls[0]![1], { progress: true }, [3]],
      [calls[0]![1], {}, [4]],
    ]);
    expect(() => input.send([5])).toThrow(/ended/);
    // Request IDs stayed sequential: the chunks reused the first CALL's ID.
    expect(await caller.call(proc, [7])).toEqual({ total: 7, chunks: 1 });
  });

  it('canceling a streaming call ends the callee input with the error', async (ctx) => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url), open(router.url)]);
    need(ctx, callee, 'dealer', 'progressive_call_invocations');
    const proc = uri('uploadcancel');
    const inputError = deferred<unknown>();
    const firstChunk = deferred();
    await callee.register(proc, async (_args, _kwargs, details) => {
      try {
        for await (const _chunk of details.input!) firstChunk.resolve();
      } catch (err) {
        inputError.resolve(err);
      }
      return 'never';
    });
    const controller = new AbortController();
    const input = caller.callWithInput(proc, { signal: controller.signal });
    input.send([1]);
    input.send([2]);
    await within(firstChunk.promise, 3000, 'a chunk');
    controller.abort();
    await expect(input.result).rejects.toMatchObject({ uri: 'wamp.error.canceled' });
    expect(await within(inputError.promise, 3000, 'the input to fail')).toMatchObject({ uri: 'wamp.error.canceled' });
  });
});
