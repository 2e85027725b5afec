/**
 * Issue #14, item 10: quotas. Per session (subscriptions, registrations, pending calls as caller,
 * concurrent invocations as callee, testaments) a request past the limit gets ERROR
 * switchboard.error.limit_exceeded with kwargs {limit, value}, counted in
 * switchboard_limits_exceeded_total{limit}; the session and every other session keep working. Per
 * realm (bytes held by retention and by event history) the oldest entries are evicted to stay
 * within the budget (switchboard_limit_evictions_total) and an event larger than the whole budget
 * is not kept (switchboard_limits_exceeded_total).
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { checkConfig, resolveConfig } from '@switchboard/router';
import { payloadBytes } from '../../src/limits.js';
import type { RealmFile } from '@switchboard/router';
import { RawPeer, startTestRouter } from '../helpers.js';

const LIMIT_EXCEEDED = 'switchboard.error.limit_exceeded';

type Joined = RawPeer & { session: number };

/** Reads one sample of a /metrics counter (0 when absent). */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

async function routerWith(limits: RealmFile['limits'], realm: Partial<RealmFile> = {}) {
  const router = await startTestRouter({ metrics: { port: 0 }, realms: [{ name: 'realm1', limits, ...realm }] });
  const join = (): Promise<Joined> => RawPeer.join(router.url);
  return { router, join };
}

async function subscribe(peer: RawPeer, topic: string, options: Record<string, unknown> = {}): Promise<unknown[]> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Subscribe, request, options, topic]);
  const reply = await peer.next();
  expect(reply[1] === MessageCode.Subscribe || reply[1] === request).toBe(true);
  return reply;
}

async function register(peer: RawPeer, procedure: string, options: Record<string, unknown> = {}): Promise<unknown[]> {
  peer.send([MessageCode.Register, peer.nextRequest(), options, procedure]);
  return peer.next();
}

function call(peer: RawPeer, procedure: string, args: unknown[] = []): number {
  const request = peer.nextRequest();
  peer.send([MessageCode.Call, request, {}, procedure, args]);
  return request;
}

function expectLimit(reply: unknown[], requestType: number, limit: string, value: number): void {
  expect(reply.slice(0, 2)).toEqual([MessageCode.Error, requestType]);
  expect(reply[4]).toBe(LIMIT_EXCEEDED);
  expect(reply[6]).toEqual({ limit, value });
}

/** A publication by `pub` reaches `sub` on `topic`: the sessions still route. */
async function stillRoutes(pub: RawPeer, sub: RawPeer, topic: string): Promise<void> {
  const subscribed = await subscribe(sub, topic);
  expect(subscribed[0]).toBe(MessageCode.Subscribed);
  pub.send([MessageCode.Publish, pub.nextRequest(), { acknowledge: true }, topic, ['alive']]);
  expect((await pub.next())[0]).toBe(MessageCode.Published);
  const event = await sub.next();
  expect(event[0]).toBe(MessageCode.Event);
  expect(event[4]).toEqual(['alive']);
}

describe('per-session limits', () => {
  it('maxSubscriptionsPerSession: the next SUBSCRIBE gets limit_exceeded; re-subscribing, unsubscribing and other sessions still work', async () => {
    const { router, join } = await routerWith({ maxSubscriptionsPerSession: 3 });
    const a = await join();
    const ids: number[] = [];
    for (const t of ['t.1', 't.2', 't.3']) {
      const reply = await subscribe(a, t);
      expect(reply[0]).toBe(MessageCode.Subscribed);
      ids.push(reply[2] as number);
    }
    expectLimit(await subscribe(a, 't.4'), MessageCode.Subscribe, 'maxSubscriptionsPerSession', 3);
    // A pattern counts too.
    expectLimit(await subscribe(a, 't', { match: 'prefix' }), MessageCode.Subscribe, 'maxSubscriptionsPerSession', 3);
    // Subscribing again to what it holds is idempotent, not a new subscription.
    expect((await subscribe(a, 't.1'))[0]).toBe(MessageCode.Subscribed);
    a.send([MessageCode.Unsubscribe, a.nextRequest(), ids[0]]);
    expect((await a.next())[0]).toBe(MessageCode.Unsubscribed);
    const b = await join();
    await stillRoutes(b, a, 't.5');
    await stillRoutes(a, b, 't.6');
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxSubscriptionsPerSession"}')).toBe(2);
  });

  it('maxRegistrationsPerSession: the next REGISTER gets limit_exceeded; other sessions still register', async () => {
    const { router, join } = await routerWith({ maxRegistrationsPerSession: 2 });
    const a = await join();
    expect((await register(a, 'p.1'))[0]).toBe(MessageCode.Registered);
    expect((await register(a, 'p.2'))[0]).toBe(MessageCode.Registered);
    expectLimit(await register(a, 'p.3'), MessageCode.Register, 'maxRegistrationsPerSession', 2);
    const b = await join();
    expect((await register(b, 'p.3'))[0]).toBe(MessageCode.Registered);
    await stillRoutes(b, a, 'r.alive');
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxRegistrationsPerSession"}')).toBe(1);
  });

  it('maxPendingCallsPerSession: a caller with that many calls in flight gets limit_exceeded; an answer frees a slot', async () => {
    const { router, join } = await routerWith({ maxPendingCallsPerSession: 2 });
    const callee = await join();
    expect((await register(callee, 'slow'))[0]).toBe(MessageCode.Registered);
    const caller = await join();
    call(caller, 'slow');
    call(caller, 'slow');
    const first = await callee.next();
    expect(first[0]).toBe(MessageCode.Invocation);
    expect((await callee.next())[0]).toBe(MessageCode.Invocation);
    const third = call(caller, 'slow');
    const refused = await caller.next();
    expectLimit(refused, MessageCode.Call, 'maxPendingCallsPerSession', 2);
    expect(refused[2]).toBe(third);
    // The callee never heard of the refused call.
    expect(await callee.silentFor(100)).toBe(true);
    callee.send([MessageCode.Yield, first[1], {}, ['done']]);
    expect((await caller.next())[0]).toBe(MessageCode.Result);
    call(caller, 'slow');
    expect((await callee.next())[0]).toBe(MessageCode.Invocation);
    // Another caller is not affected.
    const other = await join();
    call(other, 'slow');
    expect((await callee.next())[0]).toBe(MessageCode.Invocation);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxPendingCallsPerSession"}')).toBe(1);
  });

  it('maxInvocationsPerSession: a busy callee is not invoked (the caller gets limit_exceeded); a shared registration picks another callee', async () => {
    const { router, join } = await routerWith({ maxInvocationsPerSession: 1 });
    const busy = await join();
    expect((await register(busy, 'single'))[0]).toBe(MessageCode.Registered);
    const caller = await join();
    call(caller, 'single');
    expect((await busy.next())[0]).toBe(MessageCode.Invocation);
    const second = await join();
    call(second, 'single');
    expectLimit(await second.next(), MessageCode.Call, 'maxInvocationsPerSession', 1);
    expect(await busy.silentFor(100)).toBe(true);
    // Shared: the busy callee is skipped.
    expect((await register(busy, 'shared', { invoke: 'first' }))[0]).toBe(MessageCode.Registered);
    const spare = await join();
    expect((await register(spare, 'shared', { invoke: 'first' }))[0]).toBe(MessageCode.Registered);
    call(second, 'shared', ['x']);
    const invocation = await spare.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    spare.send([MessageCode.Yield, invocation[1], {}, ['from spare']]);
    const result = await second.next();
    expect(result[0]).toBe(MessageCode.Result);
    expect(result[3]).toEqual(['from spare']);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxInvocationsPerSession"}')).toBe(1);
  });

  it('maxTestamentsPerSession: wamp.session.add_testament past it gets limit_exceeded; flushing frees the slots', async () => {
    const { router, join } = await routerWith({ maxTestamentsPerSession: 2 });
    const a = await join();
    const add = async (): Promise<unknown[]> => {
      call(a, 'wamp.session.add_testament', ['com.testament', ['gone'], {}]);
      return a.next();
    };
    expect((await add())[0]).toBe(MessageCode.Result);
    expect((await add())[0]).toBe(MessageCode.Result);
    expectLimit(await add(), MessageCode.Call, 'maxTestamentsPerSession', 2);
    call(a, 'wamp.session.flush_testaments', []);
    expect((await a.next())[0]).toBe(MessageCode.Result);
    expect((await add())[0]).toBe(MessageCode.Result);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxTestamentsPerSession"}')).toBe(1);
  });

  it('maxTestamentBytesPerSession: testaments are bounded in bytes, not only in number', async () => {
    const { router, join } = await routerWith({ maxTestamentBytesPerSession: 64 * 1024 });
    const a = await join();
    const add = async (bytes: number): Promise<unknown[]> => {
      call(a, 'wamp.session.add_testament', ['com.testament', ['x'.repeat(bytes)], {}]);
      return a.next();
    };
    expect((await add(40_000))[0]).toBe(MessageCode.Result);
    expectLimit(await add(40_000), MessageCode.Call, 'maxTestamentBytesPerSession', 64 * 1024);
    expect((await add(10_000))[0]).toBe(MessageCode.Result);
    call(a, 'wamp.session.flush_testaments', []);
    expect((await a.next())[0]).toBe(MessageCode.Result);
    expect((await add(40_000))[0]).toBe(MessageCode.Result);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxTestamentBytesPerSession"}')).toBe(1);
  });

  it('maxUriLength: a longer topic or procedure in SUBSCRIBE, REGISTER, CALL, PUBLISH or a testament is refused before it is indexed', async () => {
    const { router, join } = await routerWith({ maxUriLength: 64 });
    const a = await join();
    const b = await join();
    const long = `com.${'x'.repeat(61)}`; // 65 characters
    const fits = `com.${'x'.repeat(60)}`; // 64
    expectLimit(await subscribe(a, long, { match: 'prefix' }), MessageCode.Subscribe, 'maxUriLength', 64);
    expectLimit(await register(a, long), MessageCode.Register, 'maxUriLength', 64);
    call(a, long);
    expectLimit(await a.next(), MessageCode.Call, 'maxUriLength', 64);
    a.send([MessageCode.Publish, a.nextRequest(), { acknowledge: true }, long, []]);
    expectLimit(await a.next(), MessageCode.Publish, 'maxUriLength', 64);
    call(a, 'wamp.session.add_testament', [long, [], {}]);
    expectLimit(await a.next(), MessageCode.Call, 'maxUriLength', 64);
    // An unacknowledged PUBLISH is dropped and counted; the session goes on.
    a.send([MessageCode.Publish, a.nextRequest(), {}, long, []]);
    expect((await subscribe(a, fits, { match: 'prefix' }))[0]).toBe(MessageCode.Subscribed);
    await stillRoutes(b, a, 'com.still');
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxUriLength"}')).toBe(6);
  });

  it('defaults are set and documented in the schema; bad values are refused', () => {
    expect(resolveConfig({ realms: [{ name: 'r', limits: { maxTestamentsPerSession: 5 } }] }).realms[0]!.limits).toEqual({
      maxSubscriptionsPerSession: 10_000,
      maxRegistrationsPerSession: 1_000,
      maxPendingCallsPerSession: 1_000,
      maxInvocationsPerSession: 1_000,
      maxTestamentsPerSession: 5,
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
    });
    expect(() => checkConfig({ realms: [{ name: 'r', limits: { maxSubscriptionsPerSession: 0 } }] })).toThrow(/maxSubscriptionsPerSession/);
    expect(() => checkConfig({ realms: [{ name: 'r', limits: { bogus: 1 } }] })).toThrow(/bogus/);
  });
});

describe('per-realm byte budgets', () => {
  const KIB4 = 'x'.repeat(4096);

  async function retainedOf(peer: RawPeer, topic: string): Promise<unknown[] | undefined> {
    const request = peer.nextRequest();
    peer.send([MessageCode.Subscribe, request, { get_retained: true }, topic]);
    const subscribed = await peer.next();
    expect(subscribed[0]).toBe(MessageCode.Subscribed);
    // A probe call's answer arrives after any retained EVENT.
    const probe = call(peer, 'wamp.session.count', []);
    const next = await peer.next();
    if (next[0] === MessageCode.Result && next[1] === probe) return undefined;
    expect(next[0]).toBe(MessageCode.Event);
    expect((await peer.next())[1]).toBe(probe);
    return next;
  }

  it('maxRetainedBytes: the oldest retained events are evicted to stay within the budget; one larger than the budget is not retained', async () => {
    const { router, join } = await routerWith({ maxRetainedBytes: 10_000 });
    const pub = await join();
    for (const t of ['ret.1', 'ret.2', 'ret.3']) {
      pub.send([MessageCode.Publish, pub.nextRequest(), { retain: true, acknowledge: true }, t, [KIB4]]);
      expect((await pub.next())[0]).toBe(MessageCode.Published);
    }
    pub.send([MessageCode.Publish, pub.nextRequest(), { retain: true, acknowledge: true }, 'ret.big', ['y'.repeat(20_000)]]);
    expect((await pub.next())[0]).toBe(MessageCode.Published);
    const sub = await join();
    expect(await retainedOf(sub, 'ret.1')).toBeUndefined();
    expect(await retainedOf(sub, 'ret.big')).toBeUndefined();
    expect((await retainedOf(sub, 'ret.2'))?.[4]).toEqual([KIB4]);
    expect((await retainedOf(sub, 'ret.3'))?.[4]).toEqual([KIB4]);
    expect(await metric(router.metricsUrl!, 'switchboard_limit_evictions_total', '{limit="maxRetainedBytes"}')).toBe(1);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxRetainedBytes"}')).toBe(1);
    await stillRoutes(pub, sub, 'ret.alive');
  });

  it('maxRetainedReplayBytes: a pattern SUBSCRIBE with get_retained replays at most that many bytes of retained events', async () => {
    const { router, join } = await routerWith({ maxRetainedReplayBytes: 10_000 });
    const pub = await join();
    for (const n of [1, 2, 3, 4, 5, 6]) {
      pub.send([MessageCode.Publish, pub.nextRequest(), { retain: true, acknowledge: true }, `replay.${n}`, [KIB4]]);
      expect((await pub.next())[0]).toBe(MessageCode.Published);
    }
    const sub = await join();
    const request = sub.nextRequest();
    sub.send([MessageCode.Subscribe, request, { match: 'prefix', get_retained: true }, 'replay.']);
    expect((await sub.next())[0]).toBe(MessageCode.Subscribed);
    // A probe call's answer arrives after every retained EVENT sent.
    const probe = call(sub, 'wamp.session.count', []);
    let events = 0;
    for (let next = await sub.next(); !(next[0] === MessageCode.Result && next[1] === probe); next = await sub.next()) {
      expect(next[0]).toBe(MessageCode.Event);
      events++;
    }
    // Each 4 KiB event is estimated at a little more than 4096 bytes: two fit in 10 000.
    expect(events).toBe(2);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxRetainedReplayBytes"}')).toBe(1);
    await stillRoutes(pub, sub, 'replay.alive');
  });

  it('maxHistoryBytes: the oldest stored events are evicted to stay within the budget; one larger than the budget is not recorded', async () => {
    const { router, join } = await routerWith({ maxHistoryBytes: 10_000 }, { eventHistory: [{ topic: 'hist', match: 'prefix', limit: 100 }] });
    const pub = await join();
    for (const n of [1, 2, 3]) {
      pub.send([MessageCode.Publish, pub.nextRequest(), { acknowledge: true }, `hist.${n}`, [n, KIB4]]);
      expect((await pub.next())[0]).toBe(MessageCode.Published);
    }
    pub.send([MessageCode.Publish, pub.nextRequest(), { acknowledge: true }, 'hist.big', [4, 'y'.repeat(20_000)]]);
    expect((await pub.next())[0]).toBe(MessageCode.Published);
    const reader = await join();
    const subscribed = await subscribe(reader, 'hist', { match: 'prefix' });
    call(reader, 'wamp.subscription.get_events', [subscribed[2]]);
    const result = await reader.next();
    expect(result[0]).toBe(MessageCode.Result);
    const events = (result[3] as unknown[])[0] as { args: unknown[] }[];
    expect(events.map((e) => e.args[0])).toEqual([2, 3]);
    // The event store counts both: hist.1 evicted for hist.3, hist.big larger than the whole budget.
    expect(await metric(router.metricsUrl!, 'switchboard_history_expired_total', '{reason="bytes"}')).toBe(2);
  });
});

describe('byte budget bookkeeping (pure)', () => {
  it('payloadBytes is an upper bound of the JSON size and survives deep nesting', () => {
    const payload = { a: 'é'.repeat(100), b: [1, 2, { c: new Uint8Array(50) }] };
    expect(payloadBytes([payload], {})).toBeGreaterThan(JSON.stringify([payload]).length);
    let deep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(payloadBytes(deep, undefined)).toBeGreaterThan(200_000);
  });

  it('payloadBytes counts small containers at what they cost on the heap, not at their JSON size', () => {
    // 60 000 `{}` (180 KB of JSON) hold about 3.8 MB of V8 heap (measured with --expose-gc: about
    // 64 bytes per object with its list slot); the budgets must not take them for 1.4 MB.
    const many = JSON.parse(`[${Array(60_000).fill('{}').join(',')}]`) as unknown[];
    expect(payloadBytes(many, undefined)).toBeGreaterThanOrEqual(60_000 * 64);
  });
});
