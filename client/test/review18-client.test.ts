/**
 * Adversarial review of the client's session resumption (#18), findings F1…F7 of
 * /work/prompts18/findings-client.md. Each test scripts the router frame by frame (FakeRouter) and
 * FAILS on main: it states what a demanding user expects, the code does otherwise.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { Connection } from '@switchboard/client';
import type { ConnectOptions, ConnectionEvents, EventDetails } from '@switchboard/client';
import { Inbox } from '../../router/test/interop/clients.js';
import { FakeRouter } from './fake-router.js';
import type { FakePeer } from './fake-router.js';
import { within } from './helpers.js';

const FAST = { initialDelayMs: 20, maxDelayMs: 50, jitter: 0 };
const SESSION = 4242;
const TOPIC = 'com.review.topic';

type Roles = Record<string, unknown>;
const PLAIN: Roles = { broker: { features: {} }, dealer: { features: {} } };
const HISTORY: Roles = { broker: { features: { history_catch_up: true } }, dealer: { features: {} } };
const CANCELING: Roles = { broker: { features: {} }, dealer: { features: { call_canceling: true } } };

interface Setup {
  router: FakeRouter;
  peer: FakePeer;
  connection: Connection;
  resumed: Inbox<ConnectionEvents['resumed']>;
}

async function resumable(roles: Roles = PLAIN, options: Partial<ConnectOptions> = {}): Promise<Setup> {
  const router = await FakeRouter.start();
  const connection = new Connection({ url: router.url, realm: 'realm1', serializers: ['json'], reconnect: FAST, goodbyeTimeoutMs: 100, ...options });
  onTestFinished(() => connection.close());
  const resumed = new Inbox<ConnectionEvents['resumed']>('resumed');
  connection.on('resumed', resumed.push);
  const opening = connection.open();
  const peer = await router.peer();
  await peer.expect(MessageCode.Hello);
  peer.send([MessageCode.Welcome, SESSION, { roles, authid: 'fake', authrole: 'anonymous', resumable: true, resumed: false, 'resume-token': 'T1' }]);
  await within(opening, 3000, 'join');
  return { router, peer, connection, resumed };
}

async function cutAndReconnect(setup: Setup): Promise<FakePeer> {
  setup.peer.ws.terminate();
  const peer = await setup.router.peer();
  await peer.expect(MessageCode.Hello);
  return peer;
}

function resumedWelcome(lastRequest: number | undefined, extra: Record<string, unknown> = {}, roles: Roles = PLAIN): unknown[] {
  const details: Record<string, unknown> = { roles, authid: 'fake', authrole: 'anonymous', resumable: true, resumed: true, 'resume-token': 'T2', ...extra };
  if (lastRequest !== undefined) details['resume-last-request'] = lastRequest;
  return [MessageCode.Welcome, SESSION, details];
}

interface Got {
  n: unknown;
  replayed: boolean;
  gap: boolean | undefined;
  missed: number | undefined;
}
const got = (args: unknown[], details: EventDetails): Got => ({ n: args[0], replayed: details.replayed, gap: details.gap, missed: details.missed });

/** Subscribes TOPIC with a handler into an inbox; the fake router answers SUBSCRIBED 77. */
async function subscribed(setup: Setup): Promise<Inbox<Got>> {
  const inbox = new Inbox<Got>('event');
  const subscribing = setup.connection.session.subscribe(TOPIC, (args, _k, details) => inbox.push(got(args, details)));
  const subscribe = await setup.peer.expect(MessageCode.Subscribe);
  setup.peer.send([MessageCode.Subscribed, subscribe[1], 77]);
  await within(subscribing, 3000, 'subscribe');
  return inbox;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('review of the client’s session resumption (#18)', () => {
  it('F1: no event seen before the cut: `{last: missed}` also counts the live events that arrive before the catch-up is answered, so the oldest missed events are lost without a gap notice', async () => {
    const setup = await resumable(HISTORY);
    const inbox = await subscribed(setup);
    // Events 1..3 are published while the session is detached (the router counts them).
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1, { 'resume-missed': { '77': 3 } }, HISTORY));
    // Live events 4 and 5 follow the resumed WELCOME before the router reads the catch-up SUBSCRIBE.
    peer.send([MessageCode.Event, 77, 4, {}, [4]]);
    peer.send([MessageCode.Event, 77, 5, {}, [5]]);
    const subscribe = await peer.expect(MessageCode.Subscribe);
    const history = (subscribe[2] as { history: { last?: number; after?: number } }).history;
    // The router's history holds 1..5; it answers the request as the real router does (the newest `last`).
    const stored = [1, 2, 3, 4, 5];
    const replay = history.last !== undefined ? stored.slice(-history.last) : stored.filter((n) => n > (history.after ?? 0));
    peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    for (const n of replay) peer.send([MessageCode.Event, 77, n, n === replay.at(-1) ? { history: true, history_last: true } : { history: true }, [n]]);
    peer.send([MessageCode.Event, 77, 6, {}, [6]]);
    // The lead's decision: `{last: missed}` stays (the router has no position for a subscription
    // that saw no event); the 2 live events the replay holds pushed the 2 oldest missed out of it:
    // said on the first delivered event, never a silent hole.
    expect(history).toEqual({ last: 3 });
    const delivered = await inbox.take(4);
    expect(delivered.map((e) => e.n)).toEqual([3, 4, 5, 6]);
    expect(delivered[0]).toMatchObject({ replayed: true, gap: true, missed: 2 });
    expect(delivered.slice(1).some((e) => e.gap === true)).toBe(false);
  });

  it('F2: a replay that arrives in two reads more than 100 ms apart (a slow link) loses its second part, and the buffered live event jumps ahead', async () => {
    const setup = await resumable(HISTORY);
    const inbox = await subscribed(setup);
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    await inbox.next();
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1, { 'resume-missed': { '77': 4 } }, HISTORY));
    peer.send([MessageCode.Event, 77, 15, {}, [15]]); // live, before SUBSCRIBED: buffered
    const subscribe = await peer.expect(MessageCode.Subscribe);
    expect(subscribe[2]).toEqual({ history: { after: 10 } });
    peer.send([MessageCode.Subscribed, subscribe[1], 77]);
    peer.send([MessageCode.Event, 77, 11, { history: true }, [11]]);
    // The rest of the same block arrives later (TCP under load, a mobile link): 250 ms.
    await sleep(250);
    // The router marks the last replayed event (history_last): the replay ends there, whatever the pace.
    for (const n of [12, 13, 14, 15]) peer.send([MessageCode.Event, 77, n, n === 15 ? { history: true, history_last: true } : { history: true }, [n]]);
    // Before the live event 16 arrives, the buffered 15 (also replayed) is not delivered twice.
    const caughtUp = await inbox.take(5);
    expect(caughtUp.map((e) => e.n)).toEqual([11, 12, 13, 14, 15]);
    peer.send([MessageCode.Event, 77, 16, {}, [16]]);
    expect((await inbox.next()).n).toBe(16);
    expect(inbox.all.slice(1).map((e) => e.n)).toEqual([11, 12, 13, 14, 15, 16]);
  });

  it('F3: the SUBSCRIBED lost in the cut comes back after the resumed WELCOME: resume-missed for that subscription is ignored, a silent hole', async () => {
    const setup = await resumable(PLAIN);
    const inbox = new Inbox<Got>('event');
    const subscribing = setup.connection.session.subscribe(TOPIC, (args, _k, details) => inbox.push(got(args, details)));
    const subscribe = await setup.peer.expect(MessageCode.Subscribe);
    // The router subscribed the session (request 1) but the link broke before SUBSCRIBED arrived;
    // then 2 events were dropped for subscription 77 while detached.
    const peer = await cutAndReconnect(setup);
    // The WELCOME says one kept answer follows it (resume-resent): the catch-up waits for it.
    peer.send(resumedWelcome(1, { 'resume-missed': { '77': 2 }, 'resume-resent': 1 }));
    peer.send([MessageCode.Subscribed, subscribe[1], 77]); // the kept answer
    await within(subscribing, 3000, 'subscribe');
    peer.send([MessageCode.Event, 77, 3, {}, [3]]);
    expect(await inbox.next()).toMatchObject({ n: 3, gap: true, missed: 2 });
  });

  it('F4: the un-acknowledged PUBLISHes kept for a resume are bounded in bytes (1 MiB, estimated) besides their count: the oldest go first', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const setup = await resumable();
    const session = setup.connection.session;
    // Three un-acknowledged PUBLISHes of 400 KiB each (requests 1, 2, 3): 1.2 MiB, past the bound.
    // The payloads are made and dropped in a function of their own: nothing in this test holds them.
    const first = ((): WeakRef<object> => {
      const a = { blob: 'a'.repeat(400 << 10) };
      void session.publish('com.review.pub', [a]);
      void session.publish('com.review.pub', [{ blob: 'b'.repeat(400 << 10) }]);
      void session.publish('com.review.pub', [{ blob: 'c'.repeat(400 << 10) }]);
      return new WeakRef(a);
    })();
    for (let i = 0; i < 3; i++) await setup.peer.expect(MessageCode.Publish);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(first.deref()).toBeUndefined();
    // The router got none of them (resume-last-request 0): the two kept are sent again, in order.
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(0));
    expect((await peer.expect(MessageCode.Publish))[1]).toBe(2);
    expect((await peer.expect(MessageCode.Publish))[1]).toBe(3);
  });

  it('F4: at a resume the PUBLISHes the router handled (≤ resume-last-request) are let go, not sent again', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    void session.publish('com.review.pub', [1]);
    void session.publish('com.review.pub', [2]);
    for (let i = 0; i < 2; i++) await setup.peer.expect(MessageCode.Publish);
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1));
    await setup.resumed.next(3000);
    expect(await peer.expect(MessageCode.Publish)).toMatchObject([MessageCode.Publish, 2, {}, 'com.review.pub', [2]]);
    // A second cut: request 2 was acknowledged by that resume (≤ 2), nothing is sent again.
    peer.ws.terminate();
    const third = await setup.router.peer();
    await third.expect(MessageCode.Hello);
    third.send(resumedWelcome(2));
    await setup.resumed.next(3000);
    void session.publish('com.review.sentinel', []);
    expect(await third.expect(MessageCode.Publish)).toMatchObject([MessageCode.Publish, 3, {}, 'com.review.sentinel']);
  });

  it('F5: a call aborted while the link is down, which the router already has, is never CANCELed after the resume: the callee runs on', async () => {
    const setup = await resumable(CANCELING);
    const session = setup.connection.session;
    const controller = new AbortController();
    const calling = session.call('com.review.slow', [], {}, { signal: controller.signal });
    await setup.peer.expect(MessageCode.Call);
    const peer = await cutAndReconnect(setup);
    controller.abort();
    await expect(within(calling, 3000, 'the abort')).rejects.toThrow();
    peer.send(resumedWelcome(1, {}, CANCELING));
    await setup.resumed.next(3000);
    void session.publish('com.review.sentinel', [], {}, { acknowledge: true }).catch(() => {});
    // The next frame should be the CANCEL of request 1 (the router runs it), not the sentinel.
    expect((await peer.next())[0]).toBe(MessageCode.Cancel);
  });

  it('F6: a hostile resume-last-request beyond every request sent leaves a pending call hanging for ever (no protocol violation, no error)', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    const calling = session.call('com.review.p');
    await setup.peer.expect(MessageCode.Call); // request 1; the client never sent more
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(999));
    // A protocol violation of the router: the client ABORTs, and joins anew without resuming.
    expect(await peer.expect(MessageCode.Abort)).toMatchObject([
      MessageCode.Abort,
      { message: expect.stringContaining('resume-last-request') },
      'wamp.error.protocol_violation',
    ]);
    expect(setup.resumed.all).toHaveLength(0);
    const again = await setup.router.peer();
    const hello = await again.expect(MessageCode.Hello);
    expect(hello[2]).not.toHaveProperty('resume-session');
    again.send([
      MessageCode.Welcome,
      SESSION + 1,
      { roles: PLAIN, authid: 'fake', authrole: 'anonymous', resumable: true, resumed: false, 'resume-token': 'T3' },
    ]);
    const settled = await within(
      calling.then(
        () => 'resolved',
        () => 'rejected',
      ),
      3000,
      'the call to settle after a resume that claims request 999',
    );
    expect(settled).toBe('rejected');
    await expect(calling).rejects.toThrow(/connection lost/i);
  });

  it('F7: a resumed WELCOME without resume-last-request (a router without the extension) makes the client send every pending CALL again: executed twice', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    const calling = session.call('com.review.once');
    calling.catch(() => {});
    await setup.peer.expect(MessageCode.Call); // the router got it and runs it
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(undefined));
    await setup.resumed.next(3000);
    const sentinel = session.publish('com.review.sentinel', [], {}, { acknowledge: true });
    sentinel.catch(() => {});
    // Not knowing what the router handled, a non-idempotent CALL must not be sent again: it fails
    // as after a reconnect that did not resume (it may have run).
    const publish = await peer.next();
    expect(publish[0]).toBe(MessageCode.Publish);
    await expect(calling).rejects.toMatchObject({ code: 'SB_ERR_CONNECTION_LOST' });
    // Its answer, kept by the router and sent late, is dropped: no protocol violation.
    peer.send([MessageCode.Result, 1, {}, ['late']]);
    peer.send([MessageCode.Published, publish[1], 901]);
    await within(sentinel, 3000, 'PUBLISHED');
    expect(setup.connection.state).toBe('open');
  });
  it('F9: a subscription the router revoked while the session was detached (kept UNSUBSCRIBED after WELCOME) is subscribed again by the catch-up, and the client never undoes it', async () => {
    const setup = await resumable(HISTORY);
    const inbox = await subscribed(setup);
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    await inbox.next();
    const peer = await cutAndReconnect(setup);
    // While detached an administrator removed the subscriber: the revocation is a kept answer.
    peer.send(resumedWelcome(1, { 'resume-resent': 1 }, HISTORY));
    peer.send([MessageCode.Unsubscribed, 0, { subscription: 77, reason: 'wamp.subscription.revoked' }]);
    await setup.resumed.next(3000);
    // The revocation (the kept answer the WELCOME announced) came before any catch-up could start.
    expect(setup.connection.session.subscriptions).toHaveLength(0);
    void setup.connection.session.publish('com.review.sentinel', []);
    const frames: unknown[][] = [];
    for (;;) {
      const frame = await peer.next();
      // Were there a catch-up SUBSCRIBE, the router would take it: the session subscribed again.
      if (frame[0] === MessageCode.Subscribe) peer.send([MessageCode.Subscribed, frame[1], 77]);
      if (frame[0] === MessageCode.Publish) break;
      frames.push(frame);
    }
    const resubscribed = frames.some((f) => f[0] === MessageCode.Subscribe);
    const undone = frames.some((f) => f[0] === MessageCode.Unsubscribe && f[2] === 77);
    // Never subscribed again, or undone at once: the router's revocation stands.
    expect({ resubscribed, undone }).not.toEqual({ resubscribed: true, undone: false });
  });
  it('F10: a call whose input went out in chunks is failed locally at the resume but never CANCELed: the router and the callee wait for input that never comes', async () => {
    const roles: Roles = { broker: { features: {} }, dealer: { features: { call_canceling: true, progressive_call_invocations: true } } };
    const setup = await resumable(roles);
    const session = setup.connection.session;
    const input = session.callWithInput('com.review.upload');
    input.send(['chunk 1']);
    await setup.peer.expect(MessageCode.Call);
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(1, {}, roles));
    await expect(within(input.result, 3000, 'the call to fail')).rejects.toThrow(/in chunks/);
    void session.publish('com.review.sentinel', []);
    // The router has request 1 (resume-last-request 1) and keeps it open: it should hear CANCEL first.
    expect((await peer.next())[0]).toBe(MessageCode.Cancel);
  });
});
