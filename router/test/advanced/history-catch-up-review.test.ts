/**
 * The adversarial review of #17 (F7, F12), through the router: a large replay must not turn the
 * live events held behind it into droppable ones, and a gap with nothing left to replay must still
 * reach the subscriber (details.history_gap on the first EVENT after SUBSCRIBED). Ephemeral ports,
 * the real engines. [ap_pubsub_event_history]
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import { Raw, asDict } from './support.js';
import { TestHistory } from '../../../test/support/catch-up.js';

describe('review: the hold and the outgoing buffer', () => {
  it('F7: a replay past outbound.softLimitBytes still delivers the live events held behind it (they are not droppable)', async () => {
    const history = new TestHistory();
    // The read sees what was stored when it was asked: the live event comes from the router's hold.
    history.snapshot = 'early';
    const router = await startTestRouter({}, [history]);
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    // 12 MB of history (default soft limit 4 MB, hard 16 MB): a client catching up after a day away.
    const big = 'x'.repeat(30_000);
    for (let i = 0; i < 400; i++) await publisher.publish('com.big.t', [i, big]);
    const release = history.pause();
    const reading = history.reading();
    const request = subscriber.nextRequest();
    subscriber.send([MessageCode.Subscribe, request, { history: { last: 1000 } }, 'com.big.t']);
    await reading;
    // Published while the replay is read: held by the router, to follow the replay.
    const live = await publisher.publish('com.big.t', ['live']);
    release();
    expect((await subscriber.expect(MessageCode.Subscribed, 20_000))[1]).toBe(request);
    let replayed = 0;
    let gotLive = false;
    for (;;) {
      const event = await subscriber.next(5_000).catch(() => undefined);
      if (event === undefined) break;
      if (event[2] === live) {
        gotLive = true;
        break;
      }
      if (asDict(event[3])['history'] === true) replayed++;
    }
    console.log(`F7: replayed ${replayed} events, live event delivered: ${gotLive}`);
    expect(replayed).toBe(400);
    expect(gotLive).toBe(true);
  }, 60_000);
});

describe('review: the gap marker', () => {
  it('F12: a gap with nothing left to replay is said on the first live EVENT', async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.gap.', match: 'prefix', limit: 10 }], limits: { maxHistoryBytes: 400 } }],
    });
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    // The subscriber saw P1 on com.gap.a and went away; another topic's events took the realm's
    // byte budget, so com.gap.a keeps nothing now.
    const p1 = await publisher.publish('com.gap.a', [1]);
    await publisher.publish('com.gap.z', ['x'.repeat(150)]);
    expect(await publisher.meta('wamp.topic.history.last', ['com.gap.a', 10])).toEqual([]);
    const request = subscriber.nextRequest();
    subscriber.send([MessageCode.Subscribe, request, { history: { after: p1 } }, 'com.gap.a']);
    const ack = await subscriber.expect(MessageCode.Subscribed);
    expect(ack[1]).toBe(request);
    const marker = await publisher.publish('com.gap.a', ['live']);
    let signalled = ack.length > 3;
    for (;;) {
      const event = await subscriber.expect(MessageCode.Event);
      if (asDict(event[3])['history_gap'] === true) signalled = true;
      if (event[2] === marker) break;
    }
    // It may have missed P1's successors: the first EVENT after SUBSCRIBED says so.
    expect(signalled).toBe(true);
  });

  it("F12: the live EVENT that carries the gap is that subscriber's own copy, sent once", async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.gap.', match: 'prefix', limit: 10 }], limits: { maxHistoryBytes: 400 } }],
    });
    const [publisher, subscriber, other] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const p1 = await publisher.publish('com.gap.a', [1]);
    await publisher.publish('com.gap.z', ['x'.repeat(150)]);
    await other.subscribe('com.gap.a');
    const request = subscriber.nextRequest();
    subscriber.send([MessageCode.Subscribe, request, { history: { after: p1 } }, 'com.gap.a']);
    expect((await subscriber.expect(MessageCode.Subscribed))[1]).toBe(request);
    const first = await publisher.publish('com.gap.a', ['live 1']);
    const second = await publisher.publish('com.gap.a', ['live 2']);
    const mine = [await subscriber.expect(MessageCode.Event), await subscriber.expect(MessageCode.Event)];
    const theirs = [await other.expect(MessageCode.Event), await other.expect(MessageCode.Event)];
    expect(mine.map((e) => [e[2], asDict(e[3])['history_gap']])).toEqual([
      [first, true],
      [second, undefined],
    ]);
    expect(theirs.map((e) => asDict(e[3])['history_gap'])).toEqual([undefined, undefined]);
  });
});

describe('the catch-up bounds as realm limits', () => {
  it('held live events past limits.maxCatchUpBytes: ERROR switchboard.error.limit_exceeded {limit, value}, counted, the subscription undone', async () => {
    const history = new TestHistory();
    const router = await startTestRouter({ metrics: { port: 0 }, realms: [{ name: 'realm1', limits: { maxCatchUpBytes: 4096 } }] }, [history]);
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const topic = 'com.h.bytes';
    const release = history.pause();
    const reading = history.reading();
    const request = subscriber.nextRequest();
    subscriber.send([MessageCode.Subscribe, request, { history: { last: 1 } }, topic]);
    await within(reading, 3000, 'the read');
    // Two events of 3000 bytes: the second goes past 4096 (well under maxCatchUpEvents).
    for (let i = 0; i < 2; i++) await publisher.publish(topic, ['x'.repeat(3000)]);
    release();
    const error = await subscriber.next();
    expect(error.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Subscribe, request, {}, 'switchboard.error.limit_exceeded']);
    expect(error[6]).toEqual({ limit: 'maxCatchUpBytes', value: 4096 });
    expect(await subscriber.meta('wamp.subscription.lookup', [topic])).toBeNull();
    const metrics = await (await fetch(router.metricsUrl!)).text();
    expect(metrics).toContain('switchboard_limits_exceeded_total{limit="maxCatchUpBytes"} 1');
  });

  it('a read longer than limits.catchUpTimeoutMs: ERROR wamp.error.timeout, the subscription undone', async () => {
    const history = new TestHistory();
    const router = await startTestRouter({ realms: [{ name: 'realm1', limits: { catchUpTimeoutMs: 200 } }] }, [history]);
    const subscriber = await Raw.join(router.url);
    const release = history.pause();
    const request = subscriber.nextRequest();
    subscriber.send([MessageCode.Subscribe, request, { history: { last: 1 } }, 'com.h.slow']);
    const error = await subscriber.next(5_000);
    release();
    expect(error.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Subscribe, request, {}, 'wamp.error.timeout']);
    expect(await subscriber.meta('wamp.subscription.lookup', ['com.h.slow'])).toBeNull();
  });
});

describe('a failed catch-up on a topic the session already subscribes to (R5 of the second review)', () => {
  it('keeps the live events of the subscription it had: held during the read, released with the refusal, none lost', async () => {
    const history = new TestHistory();
    const router = await startTestRouter({}, [history]);
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    // Subscribed live, as an app's first handler is.
    const subscription = await subscriber.subscribe('com.f.t');
    // A second handler asks for history (the client sends a second SUBSCRIBE of the same topic: the same subscription).
    const release = history.pause();
    const reading = history.reading();
    const request = subscriber.nextRequest();
    subscriber.send([MessageCode.Subscribe, request, { history: { last: 10 } }, 'com.f.t']);
    await reading;
    const during: number[] = [];
    for (let i = 0; i < 3; i++) during.push(await publisher.publish('com.f.t', [i]));
    // The read fails (store_failed, a timeout, maxCatchUpEvents...).
    history.refuse = 'switchboard.error.store_failed';
    release();
    const error = await subscriber.expect(MessageCode.Error, 10_000);
    expect(error[2]).toBe(request);
    const marker = await publisher.publish('com.f.t', ['marker']);
    const got: number[] = [];
    for (;;) {
      const event = await subscriber.expect(MessageCode.Event, 5_000);
      expect(event[1]).toBe(subscription);
      if (event[2] === marker) break;
      got.push(event[2] as number);
    }
    // The subscription the session kept must not lose its events because another SUBSCRIBE failed.
    expect(got).toEqual(during);
  }, 30_000);
});
