/**
 * Event retention: PUBLISH.Options.retain, SUBSCRIBE.Options.get_retained, EVENT.Details.retained,
 * eligibility, pattern subscribers, and the realm's limits (`retention: {maxTopics, ttlMs}`).
 * [ap_28_pubsub_event_retention]
 *
 * A retained event is sent right after SUBSCRIBED, before the router reads the subscriber's next
 * message; so "nothing retained" is shown by the reply to a following call arriving first.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import { Inbox, SERIALIZERS, autobahnInbox, autobahnPublish, connectAutobahn, connectWampy } from '../interop/clients.js';
import { Raw } from './support.js';

/** Subscribes with get_retained; resolves to the retained events sent (none if the next frame is the RESULT of a probe call). */
async function subscribeRetained(peer: Raw, topic: string, options: Record<string, unknown> = {}): Promise<Awaited<ReturnType<Raw['event']>>[]> {
  const subscription = await peer.subscribe(topic, { ...options, get_retained: true });
  const probe = peer.call('wamp.session.count');
  const events: Awaited<ReturnType<Raw['event']>>[] = [];
  for (;;) {
    const frame = await peer.next();
    if (frame[0] === MessageCode.Result && frame[1] === probe) return events;
    if (frame[0] !== MessageCode.Event) throw new Error(`expected EVENT or the probe's RESULT, got ${JSON.stringify(frame)}`);
    expect(frame[1]).toBe(subscription);
    events.push({
      subscription,
      publication: frame[2] as number,
      details: frame[3] as Record<string, unknown>,
      args: frame[4] as unknown[] | undefined,
      kwargs: frame[5] as Record<string, unknown> | undefined,
      frame,
    });
  }
}

describe.each(SERIALIZERS)('event retention with clients over %s', (serializer) => {
  it('an autobahn publisher retains; autobahn and wampy subscribers asking with get_retained get the latest, marked retained', async () => {
    const router = await startTestRouter();
    const publisher = await connectAutobahn(router.url, serializer);
    const topic = 'com.retain.sensor';
    await autobahnPublish(publisher, topic, ['old'], {}, { retain: true });
    const latest = await autobahnPublish(publisher, topic, ['latest'], { celsius: 21.5 }, { retain: true });
    await autobahnPublish(publisher, topic, ['not retained']);

    const [byAutobahn, byWampy] = await Promise.all([connectAutobahn(router.url, serializer), connectWampy(router.url, serializer)]);
    const a = new Inbox<{ args: unknown[]; kwargs: Record<string, unknown>; retained: boolean | undefined; publication: number }>('retained events (autobahn)');
    await within(
      byAutobahn.session.subscribe(topic, (args, kwargs, details) => a.push({ args, kwargs, retained: details.retained, publication: details.publication }), {
        get_retained: true,
      }),
      3000,
      'SUBSCRIBED',
    );
    expect(await a.next()).toEqual({ args: ['latest'], kwargs: { celsius: 21.5 }, retained: true, publication: latest.id });

    const w = await within(
      new Promise<{ argsList: unknown[] | undefined; details: Record<string, unknown> }>((resolve, reject) => {
        byWampy.wampy.subscribe(topic, (e) => resolve({ argsList: e.argsList, details: e.details }), { get_retained: true }).catch(reject);
      }),
      3000,
      'the retained event (wampy)',
    );
    expect(w.argsList).toEqual(['latest']);
    expect(w.details).toEqual({ retained: true });
  });

  it('a subscriber that does not ask with get_retained gets no retained event', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectAutobahn(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const topic = 'com.retain.optin';
    await autobahnPublish(publisher, topic, ['retained'], {}, { retain: true });
    const { inbox } = await autobahnInbox(subscriber, topic);
    await autobahnPublish(publisher, topic, ['live']);
    const event = await inbox.next();
    expect(event.args).toEqual(['live']);
    expect(event.details.retained).toBe(false); // autobahn's default when EVENT.Details.retained is absent
  });

  it('wampy 8.0.2 validates PUBLISH retain but never sends it, so nothing is retained (a client limitation)', async () => {
    const router = await startTestRouter();
    const publisher = await connectWampy(router.url, serializer);
    const topic = 'com.retain.wampy';
    await within(publisher.wampy.publish(topic, ['x'], { retain: true }), 3000, 'PUBLISHED');
    const frame = publisher.sent.find((m) => m[0] === MessageCode.Publish);
    expect(frame?.[2]).toEqual({ acknowledge: true });
    const subscriber = await Raw.join(router.url, {}, { serializer });
    expect(await subscribeRetained(subscriber, topic)).toEqual([]);
  });
});

describe('event retention frames', () => {
  it('keeps the publication ID and the publisher disclosure; adds retained: true', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const publication = await publisher.publish('com.retain.frames', [1], { k: 'v' }, { retain: true, disclose_me: true });
    const [event] = await subscribeRetained(subscriber, 'com.retain.frames');
    expect(event?.frame).toEqual([
      MessageCode.Event,
      event?.subscription,
      publication,
      { publisher: publisher.session, publisher_authid: publisher.authid, publisher_authrole: 'anonymous', retained: true },
      [1],
      { k: 'v' },
    ]);
  });

  it('an event is retained even when nobody is subscribed; each subscriber asking gets it once', async () => {
    const router = await startTestRouter();
    const publisher = await Raw.join(router.url);
    await publisher.publish('com.retain.nobody', ['kept'], {}, { retain: true });
    for (let i = 0; i < 2; i++) {
      const subscriber = await Raw.join(router.url);
      const events = await subscribeRetained(subscriber, 'com.retain.nobody');
      expect(events.map((e) => e.args)).toEqual([['kept']]);
    }
  });

  it('the retained event respects eligibility: session, authid and authrole lists', async () => {
    const router = await startTestRouter();
    const [publisher, a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    await publisher.publish('com.retain.authid', ['for a'], {}, { retain: true, eligible_authid: [a.authid] });
    await publisher.publish('com.retain.session', ['not b'], {}, { retain: true, exclude: [b.session] });
    await publisher.publish('com.retain.role', ['other role'], {}, { retain: true, eligible_authrole: ['other'] });
    expect((await subscribeRetained(a, 'com.retain.authid')).map((e) => e.args)).toEqual([['for a']]);
    expect(await subscribeRetained(b, 'com.retain.authid')).toEqual([]);
    expect((await subscribeRetained(a, 'com.retain.session')).map((e) => e.args)).toEqual([['not b']]);
    expect(await subscribeRetained(b, 'com.retain.session')).toEqual([]);
    expect(await subscribeRetained(a, 'com.retain.role')).toEqual([]);
  });

  it("[spec] a restricted retained event does not take the topic's event for everyone away from the others", async () => {
    // [ap_28] "limited to one event that all subscribers would receive, and MAY include other
    // supplemental events that have limited distribution"; "the Broker MUST send the Subscriber
    // the most recent Retained Event that they would have received".
    const router = await startTestRouter();
    const [publisher, a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    await publisher.publish('com.retain.mixed', ['for everyone'], {}, { retain: true });
    await publisher.publish('com.retain.mixed', ['for a only'], {}, { retain: true, eligible_authid: [a.authid] });
    expect((await subscribeRetained(a, 'com.retain.mixed')).map((e) => e.args)).toEqual([['for a only']]);
    expect((await subscribeRetained(b, 'com.retain.mixed')).map((e) => e.args)).toEqual([['for everyone']]);
  });

  it('the publisher itself may fetch its retained event (exclude_me governs live delivery only)', async () => {
    const router = await startTestRouter();
    const publisher = await Raw.join(router.url);
    await publisher.publish('com.retain.self', ['mine'], {}, { retain: true });
    expect((await subscribeRetained(publisher, 'com.retain.self')).map((e) => e.args)).toEqual([['mine']]);
  });

  it('prefix and wildcard subscribers get the retained events of every matching topic, with details.topic', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    await publisher.publish('com.rooms.kitchen.temp', ['k'], {}, { retain: true });
    await publisher.publish('com.rooms.hall.temp', ['h'], {}, { retain: true });
    await publisher.publish('com.rooms.hall.light', ['l'], {}, { retain: true });
    await publisher.publish('com.other.temp', ['o'], {}, { retain: true });

    const byPrefix = await subscribeRetained(subscriber, 'com.rooms.', { match: 'prefix' });
    expect(byPrefix.map((e) => [e.args, e.details]).sort()).toEqual([
      [['h'], { retained: true, topic: 'com.rooms.hall.temp' }],
      [['k'], { retained: true, topic: 'com.rooms.kitchen.temp' }],
      [['l'], { retained: true, topic: 'com.rooms.hall.light' }],
    ]);
    const byWildcard = await subscribeRetained(subscriber, 'com.rooms..temp', { match: 'wildcard' });
    expect(byWildcard.map((e) => [e.args, e.details]).sort()).toEqual([
      [['h'], { retained: true, topic: 'com.rooms.hall.temp' }],
      [['k'], { retained: true, topic: 'com.rooms.kitchen.temp' }],
    ]);
  });

  it('realm retention.ttlMs: a retained event older than the TTL is no longer delivered', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', retention: { ttlMs: 150 } }] });
    const [publisher, early, late] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    await publisher.publish('com.retain.ttl', ['fresh'], {}, { retain: true });
    expect((await subscribeRetained(early, 'com.retain.ttl')).map((e) => e.args)).toEqual([['fresh']]);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the TTL is wall-clock time: nothing to wait on but the clock
    expect(await subscribeRetained(late, 'com.retain.ttl')).toEqual([]);
  });

  it('realm retention.maxTopics: past the limit the topic retained longest ago is dropped (re-retaining renews a topic)', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', retention: { maxTopics: 2 } }] });
    const publisher = await Raw.join(router.url);
    for (const topic of ['com.max.a', 'com.max.b', 'com.max.c']) await publisher.publish(topic, [topic], {}, { retain: true });
    expect(router.realm('realm1')?.broker.retainedCount).toBe(2);
    await publisher.publish('com.max.b', ['com.max.b again'], {}, { retain: true }); // b is now newer than c
    await publisher.publish('com.max.d', ['com.max.d'], {}, { retain: true }); // drops c
    const subscriber = await Raw.join(router.url);
    const got: Record<string, unknown> = {};
    for (const topic of ['com.max.a', 'com.max.b', 'com.max.c', 'com.max.d']) got[topic] = (await subscribeRetained(subscriber, topic)).map((e) => e.args?.[0]);
    expect(got).toEqual({ 'com.max.a': [], 'com.max.b': ['com.max.b again'], 'com.max.c': [], 'com.max.d': ['com.max.d'] });
  });

  it('realm retention.maxTopics 0 turns retention off', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', retention: { maxTopics: 0 } }] });
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    await publisher.publish('com.retain.off', ['x'], {}, { retain: true });
    expect(await subscribeRetained(subscriber, 'com.retain.off')).toEqual([]);
  });
});
