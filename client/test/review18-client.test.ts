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
    for (const n of replay) peer.send([MessageCode.Event, 77, n, { history: true }, [n]]);
    peer.send([MessageCode.Event, 77, 6, {}, [6]]);
    const delivered = await inbox.take(replay.includes(1) ? 6 : 4);
    const complete = delivered.map((e) => e.n).join() === '1,2,3,4,5,6';
    const gapSaid = delivered.some((e) => e.gap === true);
    // Every event once, or the gap said: never a silent hole.
    expect({ delivered: delivered.map((e) => e.n), complete, gapSaid }).toMatchObject({ complete: true });
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
    for (const n of [12, 13, 14, 15]) peer.send([MessageCode.Event, 77, n, { history: true }, [n]]);
    peer.send([MessageCode.Event, 77, 16, {}, [16]]);
    await inbox.take(2);
    // Wait for the live event 16, whichever place it takes.
    await within(
      (async () => {
        while (!inbox.all.some((e) => e.n === 16)) await sleep(10);
      })(),
      3000,
      'event 16',
    );
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
    peer.send(resumedWelcome(1, { 'resume-missed': { '77': 2 } }));
    peer.send([MessageCode.Subscribed, subscribe[1], 77]); // the kept answer
    await within(subscribing, 3000, 'subscribe');
    peer.send([MessageCode.Event, 77, 3, {}, [3]]);
    expect(await inbox.next()).toMatchObject({ n: 3, gap: true, missed: 2 });
  });

  it('F4: an un-acknowledged PUBLISH stays in memory after the router provably handled it (a later request was answered): up to 1 000 payloads of any size for the session’s life', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const setup = await resumable();
    const session = setup.connection.session;
    // The payloads are made and dropped in a function of their own: nothing in this test holds them.
    const refs = ((): { acked: WeakRef<object>; unacked: WeakRef<object>; publishing: Promise<unknown> } => {
      const a = { blob: 'a'.repeat(1 << 20) };
      const b = { blob: 'b'.repeat(1 << 20) };
      void session.publish('com.review.pub', [b]); // request 1, no acknowledgement
      const publishing = session.publish('com.review.pub', [a], {}, { acknowledge: true }); // request 2
      return { acked: new WeakRef(a), unacked: new WeakRef(b), publishing };
    })();
    await setup.peer.expect(MessageCode.Publish);
    await setup.peer.expect(MessageCode.Publish);
    // PUBLISHED for request 2: the router handles requests in order, so it has request 1 too.
    setup.peer.send([MessageCode.Published, 2, 900]);
    await within(refs.publishing, 3000, 'PUBLISHED');
    await sleep(20);
    gc();
    await sleep(20);
    gc();
    // Control: the acknowledged payload is released (the gc works here); the un-acknowledged one,
    // which the router has too, is still held by the client.
    expect({ ackedReleased: refs.acked.deref() === undefined, unackedReleased: refs.unacked.deref() === undefined }).toEqual({
      ackedReleased: true,
      unackedReleased: true,
    });
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
    await setup.resumed.next(3000);
    const settled = await within(
      calling.then(
        () => 'resolved',
        () => 'rejected',
      ),
      3000,
      'the call to settle after a resume that claims request 999',
    );
    expect(settled).toBe('rejected');
  });

  it('F7: a resumed WELCOME without resume-last-request (a router without the extension) makes the client send every pending CALL again: executed twice', async () => {
    const setup = await resumable();
    const session = setup.connection.session;
    void session.call('com.review.once').catch(() => {});
    await setup.peer.expect(MessageCode.Call); // the router got it and runs it
    const peer = await cutAndReconnect(setup);
    peer.send(resumedWelcome(undefined));
    await setup.resumed.next(3000);
    const sentinel = session.publish('com.review.sentinel', [], {}, { acknowledge: true });
    sentinel.catch(() => {});
    // Not knowing what the router handled, a non-idempotent CALL must not be sent again.
    expect((await peer.next())[0]).toBe(MessageCode.Publish);
  });
  it('F9: a subscription the router revoked while the session was detached (kept UNSUBSCRIBED after WELCOME) is subscribed again by the catch-up, and the client never undoes it', async () => {
    const setup = await resumable(HISTORY);
    const inbox = await subscribed(setup);
    setup.peer.send([MessageCode.Event, 77, 10, {}, [10]]);
    await inbox.next();
    const peer = await cutAndReconnect(setup);
    // While detached an administrator removed the subscriber: the revocation is a kept answer.
    peer.send(resumedWelcome(1, {}, HISTORY));
    peer.send([MessageCode.Unsubscribed, 0, { subscription: 77, reason: 'wamp.subscription.revoked' }]);
    await setup.resumed.next(3000);
    const frames: unknown[][] = [];
    for (;;) {
      const frame = await peer.next();
      if (frame[0] === MessageCode.Subscribe) {
        // The router takes the SUBSCRIBE: the session is subscribed again.
        peer.send([MessageCode.Subscribed, frame[1], 77]);
        // Give the client the time to see SUBSCRIBED before the sentinel.
        await sleep(200);
        void setup.connection.session.publish('com.review.sentinel', []);
        frames.push(frame);
        continue;
      }
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
