/**
 * Session resumption end to end: our client and the real router [ap_session_resumption]. The link
 * is cut under the client (a TCP proxy closes the socket: no GOODBYE); the client resumes the same
 * session; every event on a topic with history arrives once, in order; a call in flight is
 * answered; a topic without history gives a gap notice with the router's count; a realm that does
 * not allow resumption (resumeWindowMs 0) reconnects as before.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectionEvents, EventDetails, Session } from '@switchboard/client';
import type { RouterConfigFile } from '@switchboard/router';
import { Inbox } from '../../router/test/interop/clients.js';
import { startTestRouter } from '../../router/test/helpers.js';
import { Proxy, deferred, nextEvent, open, openConnection, uri, within } from './helpers.js';

const FAST = { initialDelayMs: 30, maxDelayMs: 100, jitter: 0 };
const KEPT = 'com.client.kept';

async function setUp(config: RouterConfigFile = {}): Promise<{ url: string; proxied: string; proxy: Proxy; other: Session }> {
  const router = await startTestRouter({ realms: [{ name: 'realm1', eventHistory: [{ topic: KEPT, match: 'prefix', limit: 1000 }] }], ...config });
  const port = router.addresses[0]!.port;
  const proxy = await Proxy.start(port);
  return { url: router.url, proxied: router.url.replace(`:${port}`, `:${proxy.port}`), proxy, other: await open(router.url) };
}

async function publishNumbers(publisher: Session, topic: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await publisher.publish(topic, [i], {}, { acknowledge: true });
}

describe('session resumption with the router', () => {
  it('a cut link resumes the same session: the events published meanwhile are replayed from history, each once, in order', async () => {
    const { proxied, proxy, other } = await setUp();
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const session = connection.session;
    expect(session.resumable).toBe(true);
    const id = session.id;
    const resumed = new Inbox<ConnectionEvents['resumed']>('resumed');
    connection.on('resumed', resumed.push);
    const topic = uri('kept').replace('com.client', KEPT);
    const got: { n: unknown; details: EventDetails }[] = [];
    const all = deferred();
    const N = 40;
    await session.subscribe(topic, (args, _k, details) => {
      got.push({ n: args[0], details });
      if (got.length === N) all.resolve();
    });
    await publishNumbers(other, topic, 0, 10);
    proxy.cut();
    await publishNumbers(other, topic, 10, 25);
    const report = await resumed.next(5000);
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(session.id).toBe(id);
    await publishNumbers(other, topic, 25, N);
    await within(all.promise, 5000, `all ${N} events`);
    expect(got.map((e) => e.n)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(got.some((e) => e.details.gap === true)).toBe(false);
  });

  it('a call in flight when the link is cut is answered after the resume, once', async () => {
    const { proxied, proxy, other } = await setUp();
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const procedure = uri('slow');
    const release = deferred();
    let invoked = 0;
    await other.register(procedure, async (args) => {
      invoked++;
      await release.promise;
      return `done ${String(args[0])}`;
    });
    const resumed = new Promise<void>((resolve) => connection.once('resumed', () => resolve()));
    const calling = connection.session.call(procedure, ['x']);
    await within(
      (async () => {
        while (invoked === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      3000,
      'the invocation',
    );
    proxy.cut();
    await within(resumed, 5000, 'the resume');
    release.resolve();
    expect(await within(calling, 5000, 'the result')).toBe('done x');
    expect(invoked).toBe(1);
  });

  it('a topic without history: the next event carries a gap notice with the count the router dropped', async () => {
    const { proxied, proxy, other } = await setUp();
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const session = connection.session;
    const topic = uri('unkept');
    const subscription = await session.subscribe(topic);
    await other.publish(topic, [0], {}, { acknowledge: true });
    expect((await nextEvent(subscription)).args).toEqual([0]);
    const lost = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    // The client cannot come back until these are published: they are missed for sure.
    proxy.refuseNew = true;
    proxy.cut();
    await within(lost, 3000, 'the client to see the cut');
    const resumed = new Promise<void>((resolve) => connection.once('resumed', () => resolve()));
    await publishNumbers(other, topic, 1, 4);
    proxy.refuseNew = false;
    await within(resumed, 5000, 'the resume');
    await other.publish(topic, [4], {}, { acknowledge: true });
    const event = await nextEvent(subscription);
    expect(event.args).toEqual([4]);
    expect(event.details.gap).toBe(true);
    const missed = event.details.missed;
    // 3 dropped while detached, unless the router saw the cut after some of them (then unknown or fewer).
    expect(missed === undefined || (missed >= 1 && missed <= 3)).toBe(true);
  });

  it('a router pause (wamp.session.kill with resumable: true): the client resumes; a topic without history says exactly how many it missed', async () => {
    const { proxied, proxy, other } = await setUp();
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const session = connection.session;
    const id = session.id!;
    const topic = uri('paused');
    const subscription = await session.subscribe(topic);
    const lost = new Promise<ConnectionEvents['close']>((resolve) => connection.once('close', resolve));
    proxy.refuseNew = true;
    await other.call('wamp.session.kill', [id], { resumable: true, message: 'pause' });
    expect(await within(lost, 3000, 'the pause')).toMatchObject({ reason: 'goodbye', willReconnect: true });
    await publishNumbers(other, topic, 0, 2);
    const resumed = new Promise<void>((resolve) => connection.once('resumed', () => resolve()));
    proxy.refuseNew = false;
    await within(resumed, 5000, 'the resume');
    expect(session.id).toBe(id);
    await other.publish(topic, [2], {}, { acknowledge: true });
    const event = await nextEvent(subscription);
    expect([event.args[0], event.details.gap, event.details.missed]).toEqual([2, true, 2]);
  });

  it('a callee that lost its link: calls fail with session_unattached while it is away, and reach it again after the resume without registering again', async () => {
    const { proxied, proxy, other } = await setUp();
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const procedure = uri('callee');
    const registration = await connection.session.register(procedure, (args) => `echo ${String(args[0])}`);
    const registrationId = registration.id;
    expect(await other.call(procedure, ['a'])).toBe('echo a');
    const lost = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    proxy.refuseNew = true;
    proxy.cut();
    await within(lost, 3000, 'the cut');
    // The router may take a moment to see the cut: until then the call goes to the dead link.
    await within(
      (async () => {
        for (;;) {
          const outcome = await other.call(procedure, ['b'], {}, { timeout: 200 }).catch((err: unknown) => err);
          if (outcome instanceof Error && 'uri' in outcome && outcome.uri === 'wamp.error.session_unattached') return;
          await new Promise((r) => setTimeout(r, 20));
        }
      })(),
      5000,
      'session_unattached',
    );
    const resumed = new Promise<void>((resolve) => connection.once('resumed', () => resolve()));
    proxy.refuseNew = false;
    await within(resumed, 5000, 'the resume');
    expect(registration.id).toBe(registrationId);
    expect(await other.call(procedure, ['c'])).toBe('echo c');
  });

  it('a realm with resumeWindowMs 0: a reconnect is a new session, subscriptions made again', async () => {
    const { proxied, proxy, other } = await setUp({ realms: [{ name: 'realm1', limits: { resumeWindowMs: 0 } }] });
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const session = connection.session;
    expect(session.resumable).toBe(false);
    const id = session.id;
    const topic = uri('plain');
    const subscription = await session.subscribe(topic);
    const opened = new Promise<ConnectionEvents['open']>((resolve) => connection.once('open', resolve));
    proxy.cut();
    expect(await within(opened, 5000, 'the reconnect')).toMatchObject({ reconnected: true, resumed: false });
    expect(session.id).not.toBe(id);
    await other.publish(topic, ['again'], {}, { acknowledge: true });
    expect((await nextEvent(subscription)).args).toEqual(['again']);
  });
});
