/**
 * Gapless catch-up with @switchboard/client: `session.subscribe(topic, handler?, { history })`
 * against the real router, whose catch-up source is a test plugin (test/support/catch-up.ts)
 * that records what is published and can be made slow. Replayed events come first (marked
 * `replayed`), to the subscription that asked only, then live events with no gap and no
 * duplicate; `lastPublication` resumes a subscription in a later session.
 */
import { describe, expect, it } from 'vitest';
import type { EventDetails, PublicationId, Session } from '@switchboard/client';
import type { Router } from '@switchboard/router';
import { TestHistory } from '../../test/support/catch-up.js';
import { startTestRouter } from '../../router/test/helpers.js';
import { Proxy, deferred, nextEvent, open, openConnection, uri, within } from './helpers.js';

async function setUp(): Promise<{ url: string; port: number; history: TestHistory; publisher: Session; router: Router }> {
  const history = new TestHistory();
  const router = await startTestRouter({}, [history]);
  return { url: router.url, port: router.addresses[0]!.port, history, publisher: await open(router.url), router };
}

/** Publishes `from..to-1` (args [i]) acknowledged, in order: their publication IDs. */
async function publishNumbers(publisher: Session, topic: string, from: number, to: number): Promise<PublicationId[]> {
  const ids: PublicationId[] = [];
  for (let i = from; i < to; i++) ids.push((await publisher.publish(topic, [i], {}, { acknowledge: true }))!);
  return ids;
}

interface Got {
  n: unknown;
  replayed: boolean;
  gap: boolean | undefined;
  publication: number;
}

const got = (args: unknown[], details: EventDetails): Got => ({ n: args[0], replayed: details.replayed, gap: details.gap, publication: details.publication });

describe('subscribe with the history option', () => {
  it('{ last: n } with a handler: the last n stored events (replayed), then live ones; lastPublication follows', async () => {
    const { url, publisher } = await setUp();
    const subscriber = await open(url);
    expect(subscriber.supports('broker', 'history_catch_up')).toBe(true);
    const topic = uri('history.last');
    const ids = await publishNumbers(publisher, topic, 0, 5);
    const events: Got[] = [];
    const fifth = deferred();
    const subscription = await subscriber.subscribe(
      topic,
      (args, _kwargs, details) => {
        events.push(got(args, details));
        if (events.length === 4) fifth.resolve();
      },
      { history: { last: 3 } },
    );
    expect(subscription.lastPublication).toBe(ids[4]);
    const live = (await publisher.publish(topic, [5], {}, { acknowledge: true }))!;
    await within(fifth.promise, 3000, 'the live event');
    expect(events).toEqual([
      { n: 2, replayed: true, gap: undefined, publication: ids[2] },
      { n: 3, replayed: true, gap: undefined, publication: ids[3] },
      { n: 4, replayed: true, gap: undefined, publication: ids[4] },
      { n: 5, replayed: false, gap: undefined, publication: live },
    ]);
    expect(subscription.lastPublication).toBe(live);
  });

  it('{ after } as an iterator: the events after it; a publication no longer stored marks the first event gap', async () => {
    const { url, publisher } = await setUp();
    const subscriber = await open(url);
    const topic = uri('history.after');
    const ids = await publishNumbers(publisher, topic, 0, 3);
    const subscription = await subscriber.subscribe(topic, { history: { after: ids[0]! } });
    expect((await nextEvent(subscription)).args).toEqual([1]);
    expect((await nextEvent(subscription)).args).toEqual([2]);
    await subscription.unsubscribe();

    const gapped = await subscriber.subscribe(topic, { history: { after: 1 } });
    const first = await nextEvent(gapped);
    expect(first.details).toMatchObject({ replayed: true, gap: true, publication: ids[0] });
  });

  it('the replay goes to the subscription that asked only: another handler of the same topic in the session gets live events once', async () => {
    const { url, publisher } = await setUp();
    const subscriber = await open(url);
    const topic = uri('history.shared');
    await publishNumbers(publisher, topic, 0, 2);
    const plain: Got[] = [];
    const first = await subscriber.subscribe(topic, (args, _kwargs, details) => void plain.push(got(args, details)));
    const caughtUp = await subscriber.subscribe(topic, { history: { last: 2 } });
    expect(caughtUp.id).toBe(first.id); // one router subscription for both
    expect((await nextEvent(caughtUp)).args).toEqual([0]);
    expect((await nextEvent(caughtUp)).args).toEqual([1]);
    const live = (await publisher.publish(topic, ['live'], {}, { acknowledge: true }))!;
    expect((await nextEvent(caughtUp)).details).toMatchObject({ publication: live, replayed: false });
    expect(plain).toEqual([{ n: 'live', replayed: false, gap: undefined, publication: live }]);
  });

  it('a gap with nothing to replay: the first live event is marked gap, for the subscription that asked only', async () => {
    const { url, publisher } = await setUp();
    const subscriber = await open(url);
    const topic = uri('history.emptygap');
    const plain: Got[] = [];
    const both = deferred();
    await subscriber.subscribe(topic, (args, _kwargs, details) => {
      plain.push(got(args, details));
      if (plain.length === 2) both.resolve();
    });
    // Publication 1 was never stored here: events after it may be missing, and none is left.
    const caughtUp = await subscriber.subscribe(topic, { history: { after: 1 } });
    const first = (await publisher.publish(topic, ['live 1'], {}, { acknowledge: true }))!;
    const second = (await publisher.publish(topic, ['live 2'], {}, { acknowledge: true }))!;
    const mine = [await nextEvent(caughtUp), await nextEvent(caughtUp)];
    expect(mine.map((e) => got(e.args, e.details))).toEqual([
      { n: 'live 1', replayed: false, gap: true, publication: first },
      { n: 'live 2', replayed: false, gap: undefined, publication: second },
    ]);
    await within(both.promise, 3000, 'the plain handler');
    expect(plain.map((e) => e.gap)).toEqual([undefined, undefined]);
  });

  it("the iterator's lastPublication resumes the subscription in a new session after the old one closed", async () => {
    const { url, publisher } = await setUp();
    const topic = uri('history.resume');
    await publishNumbers(publisher, topic, 0, 5);
    const first = await open(url);
    const subscription = await first.subscribe(topic, { history: { last: 5 } });
    const iterator = subscription[Symbol.asyncIterator]();
    expect(iterator.lastPublication).toBeUndefined();
    for (const n of [0, 1, 2]) expect((await within(iterator.next(), 3000, 'an event')).value?.args).toEqual([n]);
    const resumeAfter = iterator.lastPublication;
    expect(resumeAfter).toBeDefined();
    expect(subscription.lastPublication).toBe(resumeAfter);
    await first.leave();

    await publishNumbers(publisher, topic, 5, 7);
    const second = await open(url);
    const resumed = await second.subscribe(topic, { history: { after: resumeAfter! } });
    const numbers: unknown[] = [];
    for (let i = 0; i < 4; i++) numbers.push((await nextEvent(resumed)).args[0]);
    expect(numbers).toEqual([3, 4, 5, 6]);
    await publisher.publish(topic, [7], {}, { acknowledge: true });
    expect((await nextEvent(resumed)).details).toMatchObject({ replayed: false });
  });

  it.each(['early', 'late'] as const)(
    'no gap and no duplicate under concurrent publishing through a slow source (the read sees the store as of %s)',
    async (snapshot) => {
      const { url, publisher, history } = await setUp();
      history.snapshot = snapshot;
      const subscriber = await open(url);
      const topic = uri('history.concurrent');
      const N = 200;
      const release = history.pause();
      const numbers: number[] = [];
      const all = deferred();
      let after: PublicationId | undefined;
      let subscribing: Promise<unknown> | undefined;
      for (let i = 0; i < N; i++) {
        const id = (await publisher.publish(topic, [i], {}, { acknowledge: true }))!;
        if (i === 20) after = id;
        if (i === 50) {
          const reading = history.reading();
          subscribing = subscriber.subscribe(
            topic,
            (args) => {
              numbers.push(args[0] as number);
              if (numbers.at(-1) === N - 1) all.resolve();
            },
            { history: { after: after! } },
          );
          await within(reading, 3000, 'the read to start');
        }
        // The source answers while publications go on.
        if (i === 120) release();
      }
      await within(subscribing!, 5000, 'SUBSCRIBED');
      await within(all.promise, 5000, `every number up to ${N - 1}`);
      expect(numbers).toEqual(Array.from({ length: N - 21 }, (_, k) => 21 + k));
    },
  );

  it('after a reconnect the subscription resumes after the last event it got: the missed events replayed, none twice', async () => {
    const { url, port, publisher } = await setUp();
    const proxy = await Proxy.start(port);
    const connection = await openConnection({
      url: url.replace(`:${port}`, `:${proxy.port}`),
      realm: 'realm1',
      reconnect: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 },
    });
    const topic = uri('history.reconnect');
    await publishNumbers(publisher, topic, 0, 2);
    const subscription = await connection.session.subscribe(topic, { history: { last: 1 } });
    expect((await nextEvent(subscription)).args).toEqual([1]);
    await publishNumbers(publisher, topic, 2, 3);
    expect((await nextEvent(subscription)).details).toMatchObject({ replayed: false });

    const restored = new Promise<void>((resolve) => connection.on('restored', () => resolve()));
    proxy.cut();
    // Published while the subscriber is away: replayed when it is back.
    await publishNumbers(publisher, topic, 3, 5);
    await within(restored, 5000, 'the subscriptions to be restored');
    for (const n of [3, 4]) {
      const event = await nextEvent(subscription);
      expect(event.args).toEqual([n]);
      expect(event.details.replayed).toBe(true);
    }
    await publishNumbers(publisher, topic, 5, 6);
    const live = await nextEvent(subscription);
    expect(live.args).toEqual([5]);
    expect(live.details.replayed).toBe(false);
  });

  it('works for an in-process session (router.session) as for a network one', async () => {
    const { router, publisher } = await setUp();
    const topic = uri('history.inprocess');
    const ids = await publishNumbers(publisher, topic, 0, 3);
    const inside = await router.session('realm1');
    const subscription = await inside.subscribe(topic, { history: { after: ids[0]! } });
    expect((await nextEvent(subscription)).details).toMatchObject({ replayed: true, publication: ids[1] });
    expect((await nextEvent(subscription)).details).toMatchObject({ replayed: true, publication: ids[2] });
  });
});
