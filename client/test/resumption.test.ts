/**
 * Session resumption in our client [ap_session_resumption], against a scripted router that speaks
 * design.md's wire protocol frame by frame: HELLO.Details.resumable and the opportunistic resume
 * (resume-session, resume-token, resume-answers), a resumed WELCOME (same session, nothing
 * subscribed again, pending calls resolved from resent answers, requests after
 * resume-last-request sent again once), the catch-up of each subscription (buffer, replay, dedupe,
 * order), gap notices with resume-missed's count, a refused resume (today's reconnect), and
 * `resumable: false`.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { Connection, ConnectionLostError } from '@switchboard/client';
import type { ConnectOptions, ConnectionEvents, EventDetails } from '@switchboard/client';
import { Inbox } from '../../router/test/interop/clients.js';
import { FakeRouter } from './fake-router.js';
import type { FakePeer } from './fake-router.js';
import { nextEvent, within } from './helpers.js';

const FAST = { initialDelayMs: 20, maxDelayMs: 50, jitter: 0 };
const SESSION = 4242;
const TOPIC = 'com.resume.topic';

type Roles = Record<string, unknown>;
const PLAIN: Roles = { broker: { features: {} }, dealer: { features: { progressive_call_invocations: true } } };
const HISTORY: Roles = { broker: { features: { history_catch_up: true } }, dealer: { features: {} } };

interface Setup {
  router: FakeRouter;
  peer: FakePeer;
  connection: Connection;
  hello: Record<string, unknown>;
  opened: Inbox<ConnectionEvents['open']>;
  resumed: Inbox<ConnectionEvents['resumed']>;
}

/** A connection to a fake router that granted resumption (token `T1`). */
async function resumable(roles: Roles = PLAIN, options: Partial<ConnectOptions> = {}): Promise<Setup> {
  const router = await FakeRouter.start();
  const connection = new Connection({ url: router.url, realm: 'realm1', serializers: ['json'], reconnect: FAST, goodbyeTimeoutMs: 100, ...options });
  onTestFinished(() => connection.close());
  const opened = new Inbox<ConnectionEvents['open']>('open');
  const resumed = new Inbox<ConnectionEvents['resumed']>('resumed');
  connection.on('open', opened.push);
  connection.on('resumed', resumed.push);
  const opening = connection.open();
  const peer = await router.peer();
  const hello = (await peer.expect(MessageCode.Hello))[2] as Record<string, unknown>;
  peer.send([MessageCode.Welcome, SESSION, { roles, authid: 'fake', authrole: 'anonymous', resumable: true, resumed: false, 'resume-token': 'T1' }]);
  await within(opening, 3000, 'join');
  return { router, peer, connection, hello, opened, resumed };
}

/** Cuts the link (no GOODBYE) and reads the resume HELLO on the next connection. */
async function cutAndReconnect(setup: Setup): Promise<{ peer: FakePeer; hello: Record<string, unknown> }> {
  setup.peer.ws.terminate();
  const peer = await setup.router.peer();
  const hello = (await peer.expect(MessageCode.Hello))[2] as Record<string, unknown>;
  return { peer, hello };
}

function resumedWelcome(lastRequest: number, extra: Record<string, unknown> = {}, roles: Roles = PLAIN): unknown[] {
  return [
    MessageCode.Welcome,
    SESSION,
    { roles, authid: 'fake', authrole: 'anonymous', resumable: true, resumed: true, 'resume-token': 'T2', 'resume-last-request': lastRequest, ...extra },
  ];
}

interface Got {
  n: unknown;
  replayed: boolean;
  gap: boolean | undefined;
  missed: number | undefined;
}
const got = (args: unknown[], details: EventDetails): Got => ({ n: args[0], replayed: details.replayed, gap: details.gap, missed: details.missed });

describe('session resumption (client)', () => {
  it('a resumed WELCOME keeps the session ID and the subscriptions without subscribing again; the next resume carries the new token and the answers counted', async () => {
    const setup = await resumable();
    expect(setup.hello).toMatchObject({ resumable: true });
    expect(setup.hello['resume-session']).toBeUndefined();
    const session = setup.connection.session;
    expect(session.resumable).toBe(true);
    const inbox = new Inbox<Got>('event');
    const subscribing = session.subscribe(TOPIC, (args, _k, details) => inbox.push(got(args, details)));
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    const subscription = await within(subscribing, 3000, 'subscribe');
    setup.peer.send([MessageCode.Event, 77, 1001, {}, ['a']]);
    expect(await inbox.next()).toMatchObject({ n: 'a', gap: undefined });

    const { peer, hello } = await cutAndReconnect(setup);
    expect(hello).toMatchObject({ resumable: true, 'resume-session': SESSION, 'resume-token': 'T1', 'resume-answers': 1 });
    peer.send(resumedWelcome(1));
    const open = await setup.opened.next(3000); // the first open
    expect(open).toMatchObject({ reconnected: false, resumed: false });
    const again = await setup.opened.next(3000);
    expect(again).toMatchObject({ reconnected: true, resumed: true });
    const report = await setup.resumed.next(3000);
    expect(report.attempt).toBe(1);
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(report.downMs).toBeGreaterThanOrEqual(report.durationMs);
    expect(session.id).toBe(SESSION);
    expect(subscription.id).toBe(77);
    expect(subscription.active).toBe(true);

    // Nothing was subscribed again: the next frame is this publish, under the session's next request ID.
    const publishing = session.publish('com.resume.other', ['x'], {}, { acknowledge: true });
    const publish = await peer.next();
    expect(publish).toEqual([MessageCode.Publish, 2, { acknowledge: true }, 'com.resume.other', ['x']]);
    peer.send([MessageCode.Published, 2, 9001]);
    expect(await within(publishing, 3000, 'PUBLISHED')).toBe(9001);
    // The router cannot catch up here (no history_catch_up) and the link broke: the next event says
    // events may have been lost, how many unknown.
    peer.send([MessageCode.Event, 77, 1003, {}, ['b']]);
    expect(await inbox.next()).toMatchObject({ n: 'b', gap: true, missed: undefined });

    const second = await cutAndReconnect({ ...setup, peer });
    expect(second.hello).toMatchObject({ 'resume-session': SESSION, 'resume-token': 'T2', 'resume-answers': 2 });
  });

  it('a pending call resolves from the RESULT resent after WELCOME; a call the router did not get is sent again, once, and answered', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    const first = session.call('com.resume.p1', [1]);
    expect(await setup.peer.expect(MessageCode.Call)).toEqual([MessageCode.Call, 1, {}, 'com.resume.p1', [1]]);
    const second = session.call('com.resume.p2', [2]);
    expect(await setup.peer.expect(MessageCode.Call)).toEqual([MessageCode.Call, 2, {}, 'com.resume.p2', [2]]);

    const { peer, hello } = await cutAndReconnect(setup);
    expect(hello['resume-answers']).toBe(0);
    // The router handled request 1 only; its RESULT was kept and comes right after WELCOME.
    peer.send(resumedWelcome(1));
    peer.send([MessageCode.Result, 1, {}, ['r1']]);
    expect(await within(first, 3000, 'the first call')).toBe('r1');
    expect(await peer.expect(MessageCode.Call)).toEqual([MessageCode.Call, 2, {}, 'com.resume.p2', [2]]);
    peer.send([MessageCode.Result, 2, {}, ['r2']]);
    expect(await within(second, 3000, 'the second call')).toBe('r2');
    // Sent again once: the next frame is a new call under the next ID.
    const third = session.call('com.resume.p3');
    expect(await peer.next()).toEqual([MessageCode.Call, 3, {}, 'com.resume.p3']);
    peer.send([MessageCode.Result, 3, {}, ['r3']]);
    expect(await within(third, 3000, 'the third call')).toBe('r3');
  });

  it('un-acknowledged PUBLISHes the router did not get are sent again, in order; the ones it got are not', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    for (const n of [1, 2, 3]) await session.publish('com.resume.pub', [n]);
    for (const n of [1, 2, 3]) expect(await setup.peer.expect(MessageCode.Publish)).toEqual([MessageCode.Publish, n, {}, 'com.resume.pub', [n]]);
    const { peer } = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1));
    expect(await peer.next()).toEqual([MessageCode.Publish, 2, {}, 'com.resume.pub', [2]]);
    expect(await peer.next()).toEqual([MessageCode.Publish, 3, {}, 'com.resume.pub', [3]]);
    await session.publish('com.resume.pub', [4]);
    expect(await peer.next()).toEqual([MessageCode.Publish, 4, {}, 'com.resume.pub', [4]]);
  });

  it('catch-up: live events before SUBSCRIBED are buffered; the replay, then the held events; a publication in both is delivered once, in order', async () => {
    const setup = await resumable(HISTORY);
    const session = setup.connection.session;
    const inbox = new Inbox<Got>('event');
    const subscribing = session.subscribe(TOPIC, (args, _k, details) => inbox.push(got(args, details)), { get_retained: true });
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    await within(subscribing, 3000, 'subscribe');
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    await inbox.next();

    const { peer } = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1, { 'resume-missed': { '77': 2 } }, HISTORY));
    // A live event before the catch-up's SUBSCRIBED: buffered (the replay holds it too).
    peer.send([MessageCode.Event, 77, 13, {}, [13]]);
    const catchUp = await peer.expect(MessageCode.Subscribe);
    // Same topic and options, less the retained event already delivered, plus history after the last seen.
    expect(catchUp).toEqual([MessageCode.Subscribe, 2, { history: { after: 10 } }, TOPIC]);
    peer.send([MessageCode.Subscribed, 2, 77]);
    for (const n of [11, 12, 13]) peer.send([MessageCode.Event, 77, n, { history: true }, [n]]);
    peer.send([MessageCode.Event, 77, 14, {}, [14]]);
    const delivered = await inbox.take(4);
    expect(delivered.map((e) => [e.n, e.replayed, e.gap])).toEqual([
      [11, true, undefined],
      [12, true, undefined],
      [13, true, undefined],
      [14, false, undefined],
    ]);
    peer.send([MessageCode.Event, 77, 15, {}, [15]]);
    expect(await inbox.next()).toMatchObject({ n: 15, replayed: false });
    expect(inbox.all.filter((e) => e.n === 13)).toHaveLength(1);
  });

  it('catch-up: a buffered event the replay lacks comes after the replay (at its history_last mark), even when nothing else follows', async () => {
    const setup = await resumable(HISTORY);
    const session = setup.connection.session;
    const subscribing = session.subscribe(TOPIC);
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    const subscription = await within(subscribing, 3000, 'subscribe');
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    expect((await nextEvent(subscription)).args).toEqual([10]);

    const { peer } = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1, {}, HISTORY));
    peer.send([MessageCode.Event, 77, 15, {}, [15]]);
    expect(await peer.expect(MessageCode.Subscribe)).toEqual([MessageCode.Subscribe, 2, { history: { after: 10 } }, TOPIC]);
    peer.send([MessageCode.Subscribed, 2, 77]);
    // The router marks the replay's last event (history_last): the buffered one follows it at once.
    peer.send([MessageCode.Event, 77, 11, { history: true, history_last: true }, [11]]);
    const a = await nextEvent(subscription);
    const b = await nextEvent(subscription);
    expect([a.args[0], a.details.replayed, b.args[0], b.details.replayed]).toEqual([11, true, 15, false]);
  });

  it('catch-up: the after publication is no longer stored and nothing is replayed: the first live event says the gap', async () => {
    const setup = await resumable(HISTORY);
    const session = setup.connection.session;
    const subscribing = session.subscribe(TOPIC);
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    const subscription = await within(subscribing, 3000, 'subscribe');
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    await nextEvent(subscription);
    const { peer } = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1, {}, HISTORY));
    expect(await peer.expect(MessageCode.Subscribe)).toEqual([MessageCode.Subscribe, 2, { history: { after: 10 } }, TOPIC]);
    peer.send([MessageCode.Subscribed, 2, 77]);
    peer.send([MessageCode.Event, 77, 30, { history_gap: true }, [30]]);
    const event = await nextEvent(subscription);
    expect([event.args[0], event.details.replayed, event.details.gap]).toEqual([30, false, true]);
  });

  it('history_unavailable: a gap notice with resume-missed’s count on the next event, for the iterator and the handler', async () => {
    const setup = await resumable(HISTORY);
    const session = setup.connection.session;
    const subscribing = session.subscribe(TOPIC);
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    const iterated = await within(subscribing, 3000, 'subscribe');
    const inbox = new Inbox<Got>('event');
    const handled = session.subscribe(TOPIC, (args, _k, details) => inbox.push(got(args, details)));
    const second = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, second[1], 77]);
    await within(handled, 3000, 'the second subscribe');
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    await nextEvent(iterated);
    await inbox.next();

    const { peer } = await cutAndReconnect(setup);
    peer.send(resumedWelcome(2, { 'resume-missed': { '77': 3 } }, HISTORY));
    // One catch-up for the router subscription the two share.
    expect(await peer.expect(MessageCode.Subscribe)).toEqual([MessageCode.Subscribe, 3, { history: { after: 10 } }, TOPIC]);
    peer.send([MessageCode.Event, 77, 20, {}, [20]]);
    peer.send([MessageCode.Error, MessageCode.Subscribe, 3, {}, 'wamp.error.history_unavailable']);
    const event = await nextEvent(iterated);
    expect([event.args[0], event.details.gap, event.details.missed]).toEqual([20, true, 3]);
    expect(await inbox.next()).toMatchObject({ n: 20, gap: true, missed: 3 });
    peer.send([MessageCode.Event, 77, 21, {}, [21]]);
    expect(await inbox.next()).toMatchObject({ n: 21, gap: undefined, missed: undefined });
    expect(iterated.active).toBe(true);
  });

  it('a router pause (GOODBYE resumable) resumes; with nothing missed and nothing in flight, no gap notice', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    const inbox = new Inbox<Got>('event');
    const subscribing = session.subscribe(TOPIC, (args, _k, details) => inbox.push(got(args, details)));
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    await within(subscribing, 3000, 'subscribe');
    setup.peer.send([MessageCode.Goodbye, { message: 'moving you', resumable: true }, 'wamp.close.killed']);
    expect(await setup.peer.expect(MessageCode.Goodbye)).toEqual([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
    setup.peer.ws.close();
    const peer = await setup.router.peer();
    expect((await peer.expect(MessageCode.Hello))[2]).toMatchObject({ 'resume-session': SESSION, 'resume-token': 'T1' });
    peer.send(resumedWelcome(1));
    await setup.resumed.next(3000);
    peer.send([MessageCode.Event, 77, 5, {}, [5]]);
    expect(await inbox.next()).toMatchObject({ n: 5, gap: undefined });
  });

  it('a call whose input went out in chunks fails with a clear error at the resume', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    const input = session.callWithInput('com.resume.upload');
    input.send(['chunk 1']);
    expect(await setup.peer.expect(MessageCode.Call)).toEqual([
      MessageCode.Call,
      1,
      { progress: true, receive_progress: true },
      'com.resume.upload',
      ['chunk 1'],
    ]);
    const { peer } = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1));
    const error = await within(
      input.result.then(
        () => undefined,
        (err: unknown) => err,
      ),
      3000,
      'the call to fail',
    );
    expect(error).toBeInstanceOf(ConnectionLostError);
    expect((error as Error).message).toMatch(/in chunks/);
  });

  it('a refused resume (a new session in WELCOME) is today’s reconnect: subscribe again, pending calls rejected', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    const subscribing = session.subscribe(TOPIC, () => {});
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    await within(subscribing, 3000, 'subscribe');
    const pending = session.call('com.resume.p');
    await setup.peer.expect(MessageCode.Call);

    const { peer, hello } = await cutAndReconnect(setup);
    expect(hello['resume-session']).toBe(SESSION);
    peer.send([MessageCode.Welcome, 5555, { roles: PLAIN, resumable: true, resumed: false, 'resume-token': 'N1' }]);
    await expect(within(pending, 3000, 'the call to fail')).rejects.toBeInstanceOf(ConnectionLostError);
    // Subscribed again, under the new session's first request ID.
    expect(await peer.expect(MessageCode.Subscribe)).toEqual([MessageCode.Subscribe, 1, {}, TOPIC]);
    peer.send([MessageCode.Subscribed, 1, 88]);
    await setup.opened.next(3000);
    expect(await setup.opened.next(3000)).toMatchObject({ reconnected: true, resumed: false });
    expect(session.id).toBe(5555);
    // The new session's token is the one a later resume uses.
    const next = await cutAndReconnect({ ...setup, peer });
    expect(next.hello).toMatchObject({ 'resume-session': 5555, 'resume-token': 'N1', 'resume-answers': 1 });
  });

  it('a WELCOME that does not grant resumption, and an ABORT, leave nothing to resume', async () => {
    const router = await FakeRouter.start();
    const connection = new Connection({ url: router.url, realm: 'realm1', serializers: ['json'], reconnect: FAST, goodbyeTimeoutMs: 100 });
    onTestFinished(() => connection.close());
    const opening = connection.open();
    const peer = await router.peer();
    await peer.expect(MessageCode.Hello);
    peer.send([MessageCode.Welcome, SESSION, { roles: PLAIN, resumable: false, resumed: false }]);
    await within(opening, 3000, 'join');
    expect(connection.session.resumable).toBe(false);
    peer.ws.terminate();
    const second = await router.peer();
    const hello = (await second.expect(MessageCode.Hello))[2] as Record<string, unknown>;
    expect(hello['resumable']).toBe(true);
    expect(hello['resume-session']).toBeUndefined();
    second.send([MessageCode.Welcome, 6000, { roles: PLAIN, resumable: true, resumed: false, 'resume-token': 'X' }]);
    await within(new Promise<void>((resolve) => connection.once('open', () => resolve())), 3000, 'open');
    second.send([MessageCode.Abort, { message: 'bye' }, 'wamp.close.system_shutdown']);
    const third = await router.peer();
    expect((await third.expect(MessageCode.Hello))[2]).not.toHaveProperty('resume-session');
  });

  it('resumable: false never sends the key, and never resumes', async () => {
    const router = await FakeRouter.start();
    const connection = new Connection({ url: router.url, realm: 'realm1', serializers: ['json'], reconnect: FAST, goodbyeTimeoutMs: 100, resumable: false });
    onTestFinished(() => connection.close());
    const opening = connection.open();
    const peer = await router.peer();
    const hello = (await peer.expect(MessageCode.Hello))[2] as Record<string, unknown>;
    expect(hello).not.toHaveProperty('resumable');
    // Even a router that offers a token is not taken up on it.
    peer.send([MessageCode.Welcome, SESSION, { roles: PLAIN, resumable: true, resumed: false, 'resume-token': 'T1' }]);
    await within(opening, 3000, 'join');
    peer.ws.terminate();
    const second = await router.peer();
    const again = (await second.expect(MessageCode.Hello))[2] as Record<string, unknown>;
    expect(Object.keys(again).filter((k) => k.startsWith('resum'))).toEqual([]);
  });
});
