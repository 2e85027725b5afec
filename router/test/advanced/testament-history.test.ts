/**
 * Testaments [ap_pubsub_testament]: wamp.session.add_testament / flush_testaments, published when
 * a session goes away for any reason. Event history [ap_27_pubsub_event_history]: the realm's
 * `eventHistory` config and wamp.subscription.get_events with the spec's filters.
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { startTestRouter, within } from '../helpers.js';
import { SERIALIZERS, autobahnInbox, connectAutobahn, connectWampy, exactNumbers, wampyInbox } from '../interop/clients.js';
import { Raw, asDict, asList, tick } from './support.js';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

describe.each(SERIALIZERS)('testaments with clients over %s', (serializer) => {
  it("an autobahn session's testament is published when it leaves with GOODBYE (to a wampy subscriber)", async () => {
    const router = await startTestRouter();
    const [testator, subscriber] = await Promise.all([connectAutobahn(router.url, serializer), connectWampy(router.url, serializer)]);
    const { inbox } = await wampyInbox(subscriber, 'com.will.goodbye');
    const result = await within(testator.session.call('wamp.session.add_testament', ['com.will.goodbye', ['gone', 1], { why: 'GOODBYE' }]), 3000, 'RESULT');
    expect(result).toBeNull(); // [ap_pubsub_testament] no return value
    await testator.leave();
    const event = await inbox.next();
    expect(event.argsList).toEqual(['gone', 1]);
    expect(event.argsDict).toEqual({ why: 'GOODBYE' });
  });

  it("a wampy session's testament is published when its TCP connection drops (ws.terminate(), no GOODBYE)", async () => {
    const router = await startTestRouter();
    const [testator, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const { inbox } = await autobahnInbox(subscriber, 'com.will.dropped');
    await within(testator.wampy.call('wamp.session.add_testament', ['com.will.dropped', ['lost'], {}], { disclose_me: false }), 3000, 'RESULT');
    await within(
      testator.wampy.call('wamp.session.add_testament', ['com.will.dropped', ['disclosed'], {}, { publish_options: { disclose_me: true } }]),
      3000,
      'RESULT',
    );
    const id = exactNumbers(testator.wampy.getSessionId());
    testator.socket.terminate();
    const [plain, disclosed] = await inbox.take(2);
    expect(plain?.args).toEqual(['lost']);
    expect(plain?.details.publisher).toBeUndefined();
    expect(disclosed?.args).toEqual(['disclosed']);
    // The leaving session is the publisher of its testament.
    expect(disclosed?.details.publisher).toBe(id);
    expect(disclosed?.details.publisher_authrole).toBe('anonymous');
  });
});

describe('testaments: frames', () => {
  it('published when the session is killed', async () => {
    const router = await startTestRouter();
    const [testator, killer, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    await subscriber.subscribe('com.will.killed');
    await testator.callResult('wamp.session.add_testament', ['com.will.killed', ['killed'], { by: killer.session }]);
    await killer.callResult('wamp.session.kill', [testator.session]);
    const event = await subscriber.event();
    expect([event.args, event.kwargs]).toEqual([['killed'], { by: killer.session }]);
  });

  it('several per scope, in the order added: detached ones before destroyed ones', async () => {
    const router = await startTestRouter();
    const [testator, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    await subscriber.subscribe('com.will.order');
    const add = (label: string, scope?: string): Promise<unknown[]> =>
      testator.callResult('wamp.session.add_testament', ['com.will.order', [label], {}], scope === undefined ? undefined : { scope });
    await add('destroyed 1');
    await add('detached 1', 'detached');
    await add('destroyed 2', 'destroyed');
    await add('detached 2', 'detached');
    await testator.leave();
    const labels = [];
    for (let i = 0; i < 4; i++) labels.push((await subscriber.event()).args?.[0]);
    expect(labels).toEqual(['detached 1', 'detached 2', 'destroyed 1', 'destroyed 2']);
  });

  it('flush_testaments clears one scope (destroyed by default)', async () => {
    const router = await startTestRouter();
    const [testator, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    await subscriber.subscribe('com.will.flush');
    await subscriber.subscribe('com.marker');
    await testator.callResult('wamp.session.add_testament', ['com.will.flush', ['destroyed, flushed'], {}]);
    await testator.callResult('wamp.session.add_testament', ['com.will.flush', ['detached, flushed'], {}], { scope: 'detached' });
    expect(await testator.callResult('wamp.session.flush_testaments')).toEqual([MessageCode.Result, expect.any(Number), {}]);
    await testator.callResult('wamp.session.flush_testaments', [], { scope: 'detached' });
    await testator.callResult('wamp.session.add_testament', ['com.will.flush', ['kept'], {}], { scope: 'detached' });
    await testator.callResult('wamp.session.add_testament', ['com.marker', ['marker'], {}]);
    await testator.leave();
    expect((await subscriber.event()).args).toEqual(['kept']);
    expect((await subscriber.event()).args).toEqual(['marker']);
  });

  it('publish_options apply (eligible_authid); an invalid scope or topic is invalid_argument', async () => {
    const router = await startTestRouter();
    const [testator, a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    await a.subscribe('com.will.private');
    await b.subscribe('com.will.private');
    await testator.callResult('wamp.session.add_testament', ['com.will.private', ['for a'], {}], { publish_options: { eligible_authid: [a.authid] } });
    await testator.callResult('wamp.session.add_testament', ['com.will.private', ['for all'], {}]);
    expect(await testator.metaError('wamp.session.add_testament', ['com.will.private', [], {}], { scope: 'forever' })).toBe(ErrorUri.InvalidArgument);
    expect(await testator.metaError('wamp.session.flush_testaments', [], { scope: 'forever' })).toBe(ErrorUri.InvalidArgument);
    expect(await testator.metaError('wamp.session.add_testament', ['not a uri!', [], {}])).toBe(ErrorUri.InvalidArgument);
    await testator.leave();
    expect((await a.event()).args).toEqual(['for a']);
    expect((await a.event()).args).toEqual(['for all']);
    expect((await b.event()).args).toEqual(['for all']);
  });
});

const HISTORY: RouterConfigFile = {
  realms: [
    {
      name: 'realm1',
      eventHistory: [
        { topic: 'com.solo.hist', limit: 5 },
        { topic: 'com.hist.', match: 'prefix', limit: 100 },
      ],
    },
  ],
};

interface Stored {
  timestamp: string;
  subscription: number;
  publication: number;
  details: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

async function getEvents(peer: Raw, subscription: number, kwargs?: Record<string, unknown>, args: unknown[] = []): Promise<Stored[]> {
  return asList(await peer.meta('wamp.subscription.get_events', [subscription, ...args], kwargs)).map((e) => asDict(e) as unknown as Stored);
}

/** Publishes labels one by one, each in a later millisecond than the one before. */
async function publishLabels(publisher: Raw, topic: string, labels: unknown[], options: Record<string, unknown> = {}): Promise<number[]> {
  const ids: number[] = [];
  for (const label of labels) {
    await tick();
    ids.push(await publisher.publish(topic, [label], {}, options));
  }
  await tick();
  return ids;
}

describe('event history: frames', () => {
  it('the configured topic has a subscription before anyone subscribes; get_events returns the last `limit` events, oldest first', async () => {
    const router = await startTestRouter(HISTORY);
    const [publisher, reader] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const id = reader.meta('wamp.subscription.lookup', ['com.solo.hist']);
    const subscription = Number(await id);
    expect(subscription).toBeGreaterThan(0);
    expect(await getEvents(reader, subscription)).toEqual([]);
    const publications = await publishLabels(publisher, 'com.solo.hist', [1, 2, 3, 4, 5, 6, 7]);
    const events = await getEvents(reader, subscription);
    expect(events.map((e) => e.args)).toEqual([[3], [4], [5], [6], [7]]);
    expect(events[0]).toEqual({ timestamp: expect.stringMatching(RFC3339), subscription, publication: publications[2], details: {}, args: [3], kwargs: {} });
    const times = events.map((e) => Date.parse(e.timestamp));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
    // A subscriber joining later shares the subscription.
    expect(await reader.subscribe('com.solo.hist')).toBe(subscription);
  });

  it('reverse, limit (also positional), and the publication bounds', async () => {
    const router = await startTestRouter(HISTORY);
    const [publisher, reader] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const subscription = Number(await reader.meta('wamp.subscription.lookup', ['com.hist.', { match: 'prefix' }]));
    const p = await publishLabels(publisher, 'com.hist.x', ['a', 'b', 'c', 'd', 'e']);
    const labels = async (kwargs?: Record<string, unknown>, args?: unknown[]): Promise<unknown[]> =>
      (await getEvents(reader, subscription, kwargs, args)).map((e) => e.args?.[0]);
    expect(await labels()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await labels({ reverse: true })).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(await labels({ limit: 2 })).toEqual(['a', 'b']);
    expect(await labels({ reverse: true, limit: 2 })).toEqual(['e', 'd']);
    expect(await labels(undefined, [3])).toEqual(['a', 'b', 'c']); // Crossbar's positional form
    expect(await labels({ from_publication: p[1] })).toEqual(['b', 'c', 'd', 'e']);
    expect(await labels({ after_publication: p[1] })).toEqual(['c', 'd', 'e']);
    expect(await labels({ before_publication: p[3] })).toEqual(['a', 'b', 'c']);
    expect(await labels({ until_publication: p[3] })).toEqual(['a', 'b', 'c', 'd']);
    expect(await labels({ after_publication: p[0], before_publication: p[4], limit: 2 })).toEqual(['b', 'c']);
    // Pagination in reverse order: before_publication of the last one seen.
    expect(await labels({ reverse: true, before_publication: p[3], limit: 2 })).toEqual(['c', 'b']);
    // A publication bound the store does not hold is a gap (kwargs gap: true): from/after start at the oldest kept.
    expect(await labels({ from_publication: 123456789 })).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await labels({ until_publication: 123456789 })).toEqual([]);
  });

  it('the time bounds (RFC 3339), combined with AND; topic for a pattern subscription', async () => {
    const router = await startTestRouter(HISTORY);
    const [publisher, reader] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const subscription = Number(await reader.meta('wamp.subscription.lookup', ['com.hist.', { match: 'prefix' }]));
    await publishLabels(publisher, 'com.hist.one', ['1a']);
    await publishLabels(publisher, 'com.hist.two', ['2a']);
    await publishLabels(publisher, 'com.hist.one', ['1b']);
    await publishLabels(publisher, 'com.hist.two', ['2b']);
    const all = await getEvents(reader, subscription);
    expect(all.map((e) => [e.args?.[0], e.details])).toEqual([
      ['1a', { topic: 'com.hist.one' }],
      ['2a', { topic: 'com.hist.two' }],
      ['1b', { topic: 'com.hist.one' }],
      ['2b', { topic: 'com.hist.two' }],
    ]);
    const t = all.map((e) => e.timestamp);
    const labels = async (kwargs: Record<string, unknown>): Promise<unknown[]> => (await getEvents(reader, subscription, kwargs)).map((e) => e.args?.[0]);
    expect(await labels({ from_time: t[1] })).toEqual(['2a', '1b', '2b']);
    expect(await labels({ after_time: t[1] })).toEqual(['1b', '2b']);
    expect(await labels({ before_time: t[2] })).toEqual(['1a', '2a']);
    expect(await labels({ until_time: t[2] })).toEqual(['1a', '2a', '1b']);
    expect(await labels({ from_time: t[1], until_time: t[2] })).toEqual(['2a', '1b']);
    expect(await labels({ topic: 'com.hist.one' })).toEqual(['1a', '1b']);
    expect(await labels({ topic: 'com.hist.two', after_time: t[1] })).toEqual(['2b']);
    // RFC 3339 with an offset means the same instant.
    const offset = new Date(Date.parse(t[1]!) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(await labels({ from_time: offset })).toEqual(['2a', '1b', '2b']);
  });

  it('publications restricted to session IDs are not stored; authid/authrole lists are applied to the reader', async () => {
    const router = await startTestRouter(HISTORY);
    const [publisher, reader, other] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const subscription = Number(await reader.meta('wamp.subscription.lookup', ['com.solo.hist']));
    await publisher.publish('com.solo.hist', ['excluded a session'], {}, { exclude: [other.session] });
    await publisher.publish('com.solo.hist', ['for one session'], {}, { eligible: [reader.session] });
    await publisher.publish('com.solo.hist', ['not for the reader'], {}, { exclude_authid: [reader.authid] });
    await publisher.publish('com.solo.hist', ['admins only'], {}, { eligible_authrole: ['admin'] });
    await publisher.publish('com.solo.hist', ['disclosed'], {}, { disclose_me: true, eligible_authrole: ['anonymous'] });
    expect((await getEvents(reader, subscription)).map((e) => [e.args?.[0], e.details])).toEqual([
      ['disclosed', { publisher: publisher.session, publisher_authid: publisher.authid, publisher_authrole: 'anonymous' }],
    ]);
    expect((await getEvents(other, subscription)).map((e) => e.args?.[0])).toEqual(['not for the reader', 'disclosed']);
  });

  it('errors: unknown subscription no_such_subscription; one without history history_unavailable; bad filters invalid_argument', async () => {
    const router = await startTestRouter(HISTORY);
    const reader = await Raw.join(router.url);
    const plain = await reader.subscribe('com.no.history');
    const history = Number(await reader.meta('wamp.subscription.lookup', ['com.solo.hist']));
    expect(await reader.metaError('wamp.subscription.get_events', [987654])).toBe(ErrorUri.NoSuchSubscription);
    expect(await reader.metaError('wamp.subscription.get_events', [plain])).toBe('wamp.error.history_unavailable');
    for (const kwargs of [{ limit: 0 }, { limit: 'ten' }, { reverse: 'yes' }, { from_time: 'yesterday' }, { after_publication: 'x' }]) {
      expect({ kwargs, error: await reader.metaError('wamp.subscription.get_events', [history], kwargs) }).toEqual({ kwargs, error: ErrorUri.InvalidArgument });
    }
  });

  it('a history-enabled subscription outlives its last subscriber', async () => {
    const router = await startTestRouter(HISTORY);
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const subscription = await subscriber.subscribe('com.solo.hist');
    await subscriber.unsubscribe(subscription);
    await publisher.publish('com.solo.hist', ['after'], {});
    expect(await subscriber.meta('wamp.subscription.lookup', ['com.solo.hist'])).toBe(subscription);
    expect((await getEvents(subscriber, subscription)).map((e) => e.args)).toEqual([['after']]);
  });
});

describe.each(SERIALIZERS)('event history with clients over %s', (serializer) => {
  it('autobahn and wampy read it with wamp.subscription.get_events', async () => {
    const router = await startTestRouter(HISTORY);
    const [publisher, byAutobahn, byWampy] = await Promise.all([
      connectAutobahn(router.url, serializer),
      connectAutobahn(router.url, serializer),
      connectWampy(router.url, serializer),
    ]);
    for (const n of [1, 2, 3]) await within(publisher.session.publish('com.solo.hist', [n], { n }, { acknowledge: true })!, 3000, 'PUBLISHED');
    const subscription = await within(byAutobahn.session.call('wamp.subscription.lookup', ['com.solo.hist']), 3000, 'lookup');
    const newest = asList(
      await within(byAutobahn.session.call('wamp.subscription.get_events', [subscription], { reverse: true, limit: 2 }), 3000, 'get_events'),
    );
    expect(newest.map((e) => [asDict(e)['args'], asDict(e)['kwargs']])).toEqual([
      [[3], { n: 3 }],
      [[2], { n: 2 }],
    ]);
    const viaWampy = await within(byWampy.wampy.call('wamp.subscription.get_events', [subscription], {}), 3000, 'get_events (wampy)');
    const events = asList(exactNumbers(viaWampy.argsList?.[0]));
    expect(events.map((e) => asDict(e)['args'])).toEqual([[1], [2], [3]]);
    expect(asDict(events[0])).toMatchObject({ subscription, timestamp: expect.stringMatching(RFC3339), details: {} });
  });
});
