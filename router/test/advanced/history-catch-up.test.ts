/**
 * Gapless catch-up on SUBSCRIBE (a Switchboard extension, announced as
 * roles.broker.features.history_catch_up): SUBSCRIBE.Options.history `{after: publication}` or
 * `{last: n}` replays stored events (details.history: true) right after SUBSCRIBED, then live
 * events with no gap and no duplicate. The wire, frame by frame, against a router whose catch-up
 * source is a test plugin (test/support/catch-up.ts) that can be made slow.
 * [ap_pubsub_event_history]
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { TestHistory } from '../../../test/support/catch-up.js';
import type { RouterConfigFile } from '@switchboard/router';
import { startTestRouter, within } from '../helpers.js';
import { autobahnInbox, connectAutobahn } from '../interop/clients.js';
import { Raw, asDict, show } from './support.js';

const HISTORY_UNAVAILABLE = 'wamp.error.history_unavailable';

async function setUp(
  history = new TestHistory(),
  config: RouterConfigFile = {},
): Promise<{ url: string; metricsUrl: string | undefined; history: TestHistory; publisher: Raw; subscriber: Raw }> {
  const router = await startTestRouter(config, [history]);
  const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
  return { url: router.url, metricsUrl: router.metricsUrl, history, publisher, subscriber };
}

/** SUBSCRIBE with `options`, without waiting; its request ID. */
function sendSubscribe(peer: Raw, topic: string, options: Record<string, unknown>): number {
  const request = peer.nextRequest();
  peer.send([MessageCode.Subscribe, request, options, topic]);
  return request;
}

/** The SUBSCRIBE must fail: its ERROR frame. */
async function subscribeError(peer: Raw, topic: string, options: Record<string, unknown>): Promise<unknown[]> {
  const request = sendSubscribe(peer, topic, options);
  const reply = await peer.next();
  if (reply[0] !== MessageCode.Error || reply[1] !== MessageCode.Subscribe || reply[2] !== request)
    throw new Error(`expected ERROR for SUBSCRIBE, got ${show(reply)}`);
  return reply;
}

/** The next frame must be SUBSCRIBED for `request`: the subscription ID. */
async function subscribed(peer: Raw, request: number): Promise<number> {
  const reply = await peer.expect(MessageCode.Subscribed);
  expect(reply[1]).toBe(request);
  return reply[2] as number;
}

describe('WELCOME', () => {
  it('announces history_catch_up where a catch-up source is installed, and not elsewhere', async () => {
    const { subscriber } = await setUp();
    expect(asDict(asDict(subscriber.welcome['roles'])['broker'])['features']).toMatchObject({ history_catch_up: true, event_history: true });
    const plain = await Raw.join((await startTestRouter()).url);
    expect(asDict(asDict(plain.welcome['roles'])['broker'])['features']).not.toHaveProperty('history_catch_up');
  });
});

describe('SUBSCRIBE.Options.history', () => {
  it('refuses anything but {after: id} or {last: n ≥ 1} with wamp.error.invalid_argument, and subscribes nothing', async () => {
    const { subscriber, history } = await setUp();
    for (const bad of [5, 'last', [1], {}, { after: 0 }, { last: 0 }, { last: -1 }, { last: 1.5 }, { after: 'x' }, { after: 1, last: 2 }, { since: 1 }, null]) {
      const error = await subscribeError(subscriber, 'com.h.bad', { history: bad });
      expect(error[4], show(bad)).toBe(ErrorUri.InvalidArgument);
      expect(String((error[5] as unknown[])[0])).toContain('history');
    }
    expect(history.reads).toBe(0);
    expect(await subscriber.meta('wamp.subscription.lookup', ['com.h.bad'])).toBeNull();
  });

  it('a realm without a catch-up source answers wamp.error.history_unavailable', async () => {
    const subscriber = await Raw.join((await startTestRouter()).url);
    expect((await subscribeError(subscriber, 'com.h.none', { history: { last: 1 } }))[4]).toBe(HISTORY_UNAVAILABLE);
    expect(await subscriber.meta('wamp.subscription.lookup', ['com.h.none'])).toBeNull();
  });

  it("the source's refusal (a topic no history rule covers) fails the SUBSCRIBE, and the broker subscription is undone", async () => {
    const { subscriber, publisher } = await setUp(new TestHistory((topic) => topic.startsWith('com.h.kept')));
    expect((await subscribeError(subscriber, 'com.h.other', { history: { last: 5 } }))[4]).toBe(HISTORY_UNAVAILABLE);
    expect(await subscriber.meta('wamp.subscription.lookup', ['com.h.other'])).toBeNull();
    // The failed SUBSCRIBE left no subscriber behind: an event on the topic reaches nobody.
    await publisher.publish('com.h.other', ['after']);
    const probe = await subscriber.meta('wamp.session.count');
    expect(probe).toBe(2);
  });

  it('{last: n}: SUBSCRIBED, the last n stored events marked history (oldest first), then live events unmarked', async () => {
    const { publisher, subscriber } = await setUp();
    const topic = 'com.h.last';
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) ids.push(await publisher.publish(topic, [i], { n: i }));
    const request = sendSubscribe(subscriber, topic, { history: { last: 2 } });
    const subscription = await subscribed(subscriber, request);
    for (const i of [2, 3]) {
      const event = await subscriber.event();
      expect(event).toMatchObject({ subscription, publication: ids[i], args: [i], kwargs: { n: i } });
      // The last replayed event says so (history_last): a client ends the replay there.
      expect(event.details).toEqual(i === 3 ? { history: true, history_last: true } : { history: true });
    }
    const live = await publisher.publish(topic, ['live']);
    const event = await subscriber.event();
    expect(event).toMatchObject({ subscription, publication: live, args: ['live'] });
    expect(event.details).toEqual({});
  });

  it('{after: id}: the events after it; an id no longer stored marks the first replayed event history_gap', async () => {
    const { publisher, subscriber } = await setUp();
    const topic = 'com.h.after';
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await publisher.publish(topic, [i]));
    const subscription = await subscribed(subscriber, sendSubscribe(subscriber, topic, { history: { after: ids[0] } }));
    expect(await subscriber.event()).toMatchObject({ subscription, publication: ids[1], details: { history: true } });
    expect(await subscriber.event()).toMatchObject({ subscription, publication: ids[2], details: { history: true } });
    await subscriber.unsubscribe(subscription);

    const again = await subscribed(subscriber, sendSubscribe(subscriber, topic, { history: { after: 1 } }));
    expect((await subscriber.event()).details).toEqual({ history: true, history_gap: true });
    for (const id of ids.slice(1)) expect(await subscriber.event()).toMatchObject({ subscription: again, publication: id, details: { history: true } });
  });

  it('a pattern subscription gets details.topic on replayed events', async () => {
    const { publisher, subscriber } = await setUp();
    const a = await publisher.publish('com.h.pattern.a', ['a']);
    const b = await publisher.publish('com.h.pattern.b', ['b']);
    const subscription = await subscribed(subscriber, sendSubscribe(subscriber, 'com.h.pattern', { match: 'prefix', history: { last: 10 } }));
    expect(await subscriber.event()).toMatchObject({ subscription, publication: a, details: { history: true, topic: 'com.h.pattern.a' } });
    expect(await subscriber.event()).toMatchObject({ subscription, publication: b, details: { history: true, topic: 'com.h.pattern.b' } });
  });

  it('live events published while the replay is read are held: the ones the replay has are not sent again, the others follow it', async () => {
    const { publisher, subscriber, history } = await setUp();
    const topic = 'com.h.held';
    const before = await publisher.publish(topic, ['before']);
    // The read sees what was stored when it was asked; what comes later is in the hold only.
    history.snapshot = 'early';
    let release = history.pause();
    let reading = history.reading();
    const request = sendSubscribe(subscriber, topic, { history: { after: 1 } });
    await within(reading, 3000, 'the read');
    const during = [await publisher.publish(topic, ['during 1']), await publisher.publish(topic, ['during 2'])];
    expect(await subscriber.silentFor(100)).toBe(true); // no SUBSCRIBED, no EVENT while the read is pending
    release();
    const subscription = await subscribed(subscriber, request);
    expect(await subscriber.event()).toMatchObject({ publication: before, details: { history: true, history_gap: true } });
    for (const id of during) expect(await subscriber.event()).toMatchObject({ subscription, publication: id, details: {} });

    // The read sees everything stored after its flush (the store's case): the held ones are in the replay, sent once.
    history.snapshot = 'late';
    await subscriber.unsubscribe(subscription);
    release = history.pause();
    reading = history.reading();
    const second = sendSubscribe(subscriber, topic, { history: { after: before } });
    await within(reading, 3000, 'the read');
    const late = await publisher.publish(topic, ['during 3']);
    release();
    const again = await subscribed(subscriber, second);
    for (const id of [...during, late]) expect(await subscriber.event()).toMatchObject({ subscription: again, publication: id, details: { history: true } });
    const live = await publisher.publish(topic, ['live']);
    expect(await subscriber.event()).toMatchObject({ subscription: again, publication: live, details: {} });
  });

  it('the session waits for its catch-up: a second SUBSCRIBE of the topic sent meanwhile is answered after the replay, with the same subscription', async () => {
    const { publisher, subscriber, history } = await setUp();
    const topic = 'com.h.twice';
    const stored = await publisher.publish(topic, ['stored']);
    const release = history.pause();
    const reading = history.reading();
    const first = sendSubscribe(subscriber, topic, { history: { last: 1 } });
    const second = sendSubscribe(subscriber, topic, {});
    await within(reading, 3000, 'the read');
    release();
    const subscription = await subscribed(subscriber, first);
    expect(await subscriber.event()).toMatchObject({ subscription, publication: stored, details: { history: true } });
    expect(await subscribed(subscriber, second)).toBe(subscription);
    const live = await publisher.publish(topic, ['live']);
    expect(await subscriber.event()).toMatchObject({ subscription, publication: live, details: {} });
    expect(await subscriber.silentFor(100)).toBe(true);
  });

  it('get_retained: the retained event is not sent again when the replay has it, and is sent when it does not', async () => {
    const { publisher, subscriber } = await setUp();
    const topic = 'com.h.retained';
    const retained = await publisher.publish(topic, ['retained'], {}, { retain: true });
    const after = await publisher.publish(topic, ['after']);
    const withIt = await subscribed(subscriber, sendSubscribe(subscriber, topic, { get_retained: true, history: { last: 2 } }));
    expect(await subscriber.event()).toMatchObject({ subscription: withIt, publication: retained, details: { history: true } });
    expect(await subscriber.event()).toMatchObject({ subscription: withIt, publication: after, details: { history: true } });
    expect(await subscriber.meta('wamp.session.count')).toBe(2); // nothing else came before the RESULT
    await subscriber.unsubscribe(withIt);

    const without = await subscribed(subscriber, sendSubscribe(subscriber, topic, { get_retained: true, history: { last: 1 } }));
    expect(await subscriber.event()).toMatchObject({ subscription: without, publication: after, details: { history: true } });
    expect(await subscriber.event()).toMatchObject({ subscription: without, publication: retained, details: { retained: true } });
  });

  it('a session that leaves while its replay is read is sent nothing and leaves no subscription behind', async () => {
    const { url, publisher, subscriber, history } = await setUp();
    const topic = 'com.h.gone';
    const release = history.pause();
    const reading = history.reading();
    sendSubscribe(subscriber, topic, { history: { last: 5 } });
    await within(reading, 3000, 'the read');
    await publisher.publish(topic, ['held']);
    subscriber.peer.close();
    await subscriber.peer.waitClosed();
    const observer = await Raw.join(url);
    await within(
      (async () => {
        while ((await observer.meta('wamp.session.count')) !== 2) await new Promise((r) => setImmediate(r));
      })(),
      3000,
      'the subscriber to leave',
    );
    release();
    expect(await observer.meta('wamp.subscription.lookup', [topic])).toBeNull();
    // The router goes on: a new catch-up on the topic works.
    const subscription = await subscribed(observer, sendSubscribe(observer, topic, { history: { last: 5 } }));
    expect(await observer.event()).toMatchObject({ subscription, details: { history: true }, args: ['held'] });
  });

  it('too many live events held during the read: ERROR switchboard.error.limit_exceeded {limit, value}, counted, and the subscription undone', async () => {
    const { metricsUrl, publisher, subscriber, history } = await setUp(new TestHistory(), { metrics: { port: 0 } });
    const topic = 'com.h.flood';
    const release = history.pause();
    const reading = history.reading();
    const request = sendSubscribe(subscriber, topic, { history: { last: 1 } });
    await within(reading, 3000, 'the read');
    // One more than limits.maxCatchUpEvents (default 10000), unacknowledged, then one acknowledged.
    for (let i = 0; i < 10_000; i++) publisher.send([MessageCode.Publish, publisher.nextRequest(), {}, topic, [i]]);
    await publisher.publish(topic, ['last'], {}, {});
    release();
    const error = await subscriber.next();
    expect(error.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Subscribe, request, {}, 'switchboard.error.limit_exceeded']);
    expect(error[6]).toEqual({ limit: 'maxCatchUpEvents', value: 10_000 });
    expect(await subscriber.meta('wamp.subscription.lookup', [topic])).toBeNull();
    const metrics = await (await fetch(metricsUrl!)).text();
    expect(metrics).toContain('switchboard_limits_exceeded_total{limit="maxCatchUpEvents"} 1');
  });

  it('sessions that do not ask are unaffected: a raw subscriber and autobahn-js get the live events, plain, while another session catches up', async () => {
    const { url, publisher, subscriber, history } = await setUp();
    const topic = 'com.h.others';
    const plain = await Raw.join(url);
    const plainSubscription = await plain.subscribe(topic);
    const autobahn = await connectAutobahn(url, 'json');
    const { inbox } = await autobahnInbox(autobahn, topic);
    const release = history.pause();
    const reading = history.reading();
    const request = sendSubscribe(subscriber, topic, { history: { last: 10 } });
    await within(reading, 3000, 'the read');
    const live = await publisher.publish(topic, ['live']);
    expect(await plain.event()).toEqual(expect.objectContaining({ subscription: plainSubscription, publication: live, details: {} }));
    const event = await inbox.next();
    expect(event.args).toEqual(['live']);
    expect(event.details.publication).toBe(live);
    release();
    await subscribed(subscriber, request);
    expect(await subscriber.event()).toMatchObject({ publication: live, details: { history: true } });
    expect(await subscriber.silentFor(100)).toBe(true);
  });
});
