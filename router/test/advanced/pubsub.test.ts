/**
 * Advanced pub/sub: publisher exclusion and identification, subscriber black/white listing,
 * pattern-based subscriptions, payload passthru. autobahn-js and wampy over each serializer; raw
 * frames where a client cannot say it (HELLO features, ppt_* options, exact EVENT.Details).
 *
 * Non-delivery is shown without sleeping: after the filtered publications the same publisher
 * sends an unfiltered marker, and events of one publisher reach a subscriber in order, so once
 * the marker is in, anything else it should have had is in too.
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import type { AutobahnPeer, WampyPeer } from '../interop/clients.js';
import {
  BYTES,
  Inbox,
  SERIALIZERS,
  autobahnInbox,
  autobahnPublish,
  connectAutobahn,
  connectWampy,
  exactNumbers,
  plainBytes,
  wampyInbox,
} from '../interop/clients.js';
import { Raw, asDict, asNumber } from './support.js';

const MARKER = 'marker';

/** Labels (args[0]) a subscriber received up to and including the marker. */
async function labelsUntilMarker<T extends { label: unknown }>(inbox: Inbox<T>): Promise<unknown[]> {
  const labels: unknown[] = [];
  for (;;) {
    const { label } = await inbox.next();
    if (label === MARKER) return labels;
    labels.push(label);
  }
}

/** An inbox of labels for either client. */
async function labelInbox(
  peer: AutobahnPeer | WampyPeer,
  topic: string,
  options: Record<string, unknown> = {},
): Promise<Inbox<{ label: unknown; details: Record<string, unknown> }>> {
  const inbox = new Inbox<{ label: unknown; details: Record<string, unknown> }>(`labels on ${topic}`);
  if ('session' in peer) {
    await within(
      peer.session.subscribe(topic, (args, _kwargs, details) => inbox.push({ label: args[0], details: { ...details } }), options),
      3000,
      'SUBSCRIBED',
    );
  } else {
    await within(
      peer.wampy.subscribe(topic, (e) => inbox.push({ label: e.argsList?.[0], details: e.details }), options),
      3000,
      'SUBSCRIBED',
    );
  }
  return inbox;
}

function wampySession(peer: WampyPeer): number {
  return asNumber(exactNumbers(peer.wampy.getSessionId()), 'wampy session ID');
}

describe.each(SERIALIZERS)('pub/sub with clients over %s', (serializer) => {
  it('exclude_me: the publisher gets its own event only with exclude_me false', async () => {
    const router = await startTestRouter();
    const [publisher, other] = await Promise.all([connectAutobahn(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const topic = 'com.adv.excludeme';
    const mine = await labelInbox(publisher, topic);
    const theirs = await labelInbox(other, topic);
    await autobahnPublish(publisher, topic, ['default']);
    await autobahnPublish(publisher, topic, ['false'], {}, { exclude_me: false });
    await autobahnPublish(publisher, topic, ['true'], {}, { exclude_me: true });
    await autobahnPublish(publisher, topic, [MARKER], {}, { exclude_me: false });
    expect(await labelsUntilMarker(mine)).toEqual(['false']);
    expect(await labelsUntilMarker(theirs)).toEqual(['default', 'false', 'true']);
  });

  it('disclose_me: EVENT.Details name the publisher (session, authid, authrole), to autobahn and wampy subscribers', async () => {
    const router = await startTestRouter();
    const [publisher, byAutobahn, byWampy] = await Promise.all([
      connectAutobahn(router.url, serializer),
      connectAutobahn(router.url, serializer),
      connectWampy(router.url, serializer),
    ]);
    const topic = 'com.adv.disclose';
    const a = await autobahnInbox(byAutobahn, topic);
    const w = await wampyInbox(byWampy, topic);

    await autobahnPublish(publisher, topic, ['anonymous']);
    await autobahnPublish(publisher, topic, ['disclosed'], {}, { disclose_me: true });
    const [hidden, shown] = await a.inbox.take(2);
    expect(hidden?.details).toMatchObject({ publisher: undefined, publisher_authid: undefined, publisher_authrole: undefined });
    expect(shown?.details).toMatchObject({ publisher: publisher.session.id, publisher_authid: publisher.welcome['authid'], publisher_authrole: 'anonymous' });

    const [wHidden, wShown] = await w.inbox.take(2);
    expect(wHidden?.details).toEqual({});
    expect(exactNumbers(wShown?.details)).toEqual({
      publisher: publisher.session.id,
      publisher_authid: publisher.welcome['authid'],
      publisher_authrole: 'anonymous',
    });
  });

  it('disclose_me from a wampy publisher reaches an autobahn subscriber', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const topic = 'com.adv.disclose.wampy';
    const { inbox } = await autobahnInbox(subscriber, topic);
    await within(publisher.wampy.publish(topic, ['x'], { disclose_me: true }), 3000, 'PUBLISHED');
    const event = await inbox.next();
    expect(exactNumbers(event.details.publisher)).toBe(wampySession(publisher));
    expect(event.details.publisher_authid).toMatch(/^anonymous-\d+$/);
    expect(event.details.publisher_authrole).toBe('anonymous');
  });

  it('black/white listing by session, authid and authrole, alone and combined (all lists must pass)', async () => {
    const router = await startTestRouter();
    const [publisher, a, c] = await Promise.all([
      connectAutobahn(router.url, serializer),
      connectAutobahn(router.url, serializer),
      connectAutobahn(router.url, serializer),
    ]);
    const b = await connectWampy(router.url, serializer);
    const topic = 'com.adv.listing';
    const inboxes = { a: await labelInbox(a, topic), b: await labelInbox(b, topic), c: await labelInbox(c, topic) };
    const ids = { a: a.session.id, b: wampySession(b), c: c.session.id };
    const authids = {
      a: String(a.welcome['authid']),
      b: String(asDict(await within(a.session.call('wamp.session.get', [ids.b]), 3000, 'wamp.session.get'))['authid']),
      c: String(c.welcome['authid']),
    };
    expect(new Set(Object.values(authids)).size).toBe(3); // anonymous-N: unique per session in the realm

    const cases: [label: string, options: Record<string, unknown>, receivers: ('a' | 'b' | 'c')[]][] = [
      ['exclude a', { exclude: [ids.a] }, ['b', 'c']],
      ['eligible a b', { eligible: [ids.a, ids.b] }, ['a', 'b']],
      ['exclude_authid b', { exclude_authid: [authids.b] }, ['a', 'c']],
      ['eligible_authid c', { eligible_authid: [authids.c] }, ['c']],
      ['exclude_authrole anonymous', { exclude_authrole: ['anonymous'] }, []],
      ['eligible_authrole anonymous', { eligible_authrole: ['anonymous'] }, ['a', 'b', 'c']],
      ['eligible_authrole other', { eligible_authrole: ['other'] }, []],
      ['exclude_authrole other', { exclude_authrole: ['other'] }, ['a', 'b', 'c']],
      ['eligible a b, exclude_authid b', { eligible: [ids.a, ids.b], exclude_authid: [authids.b] }, ['a']],
      ['eligible_authid a b, exclude a', { eligible_authid: [authids.a, authids.b], exclude: [ids.a] }, ['b']],
      ['eligible_authrole anonymous, exclude c', { eligible_authrole: ['anonymous'], exclude: [ids.c] }, ['a', 'b']],
      ['eligible a, eligible_authid b', { eligible: [ids.a], eligible_authid: [authids.b] }, []],
      ['eligible publisher only, exclude_me false', { eligible: [publisher.session.id], exclude_me: false }, []],
    ];
    for (const [label, options] of cases) await autobahnPublish(publisher, topic, [label], {}, options);
    await autobahnPublish(publisher, topic, [MARKER]);
    for (const who of ['a', 'b', 'c'] as const) {
      const expected = cases.filter(([, , receivers]) => receivers.includes(who)).map(([label]) => label);
      expect({ who, labels: await labelsUntilMarker(inboxes[who]) }).toEqual({ who, labels: expected });
    }
  });

  it('black/white listing from a wampy publisher (it sends the lists as given)', async () => {
    const router = await startTestRouter();
    const publisher = await connectWampy(router.url, serializer);
    const [a, b] = await Promise.all([connectAutobahn(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const topic = 'com.adv.listing.wampy';
    const inboxes = { a: await labelInbox(a, topic), b: await labelInbox(b, topic) };
    await within(publisher.wampy.publish(topic, ['not b'], { exclude: [b.session.id] }), 3000, 'PUBLISHED');
    await within(publisher.wampy.publish(topic, ['only b'], { eligible_authid: [String(b.welcome['authid'])] }), 3000, 'PUBLISHED');
    await within(publisher.wampy.publish(topic, ['nobody'], { eligible_authrole: ['other'] }), 3000, 'PUBLISHED');
    await within(publisher.wampy.publish(topic, [MARKER]), 3000, 'PUBLISHED');
    expect(await labelsUntilMarker(inboxes.a)).toEqual(['not b']);
    expect(await labelsUntilMarker(inboxes.b)).toEqual(['only b']);
  });

  it('prefix subscription: a string prefix ("com.a" matches "com.ab.c"), with details.topic', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const inbox = await labelInbox(subscriber, 'com.a', { match: 'prefix' });
    for (const topic of ['com.a', 'com.ab.c', 'com.a.b.c', 'com.b', 'org.com.a', 'com'])
      await within(publisher.wampy.publish(topic, [topic]), 3000, 'PUBLISHED');
    await within(publisher.wampy.publish('com.a.marker', [MARKER]), 3000, 'PUBLISHED');
    const received = await inbox.take(4);
    expect(received.map((e) => [e.label, e.details['topic']])).toEqual([
      ['com.a', 'com.a'],
      ['com.ab.c', 'com.ab.c'],
      ['com.a.b.c', 'com.a.b.c'],
      [MARKER, 'com.a.marker'],
    ]);
  });

  it('wildcard subscription: "com..update" matches one whole component, with details.topic', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectAutobahn(router.url, serializer), connectWampy(router.url, serializer)]);
    const inbox = await labelInbox(subscriber, 'com..update', { match: 'wildcard' });
    for (const topic of ['com.x.update', 'com.x.y.update', 'com.update', 'com.xupdate', 'org.x.update', 'com.y.update'])
      await autobahnPublish(publisher, topic, [topic]);
    await autobahnPublish(publisher, 'com.marker.update', [MARKER]);
    const received = await inbox.take(3);
    expect(received.map((e) => [e.label, e.details['topic']])).toEqual([
      ['com.x.update', 'com.x.update'],
      ['com.y.update', 'com.y.update'],
      [MARKER, 'com.marker.update'],
    ]);
  });

  it('one session with an exact and a prefix subscription that both match gets the event twice: same publication, two subscriptions', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const exact = await autobahnInbox(subscriber, 'com.both.topic');
    const prefix = { inbox: new Inbox<{ details: { publication: number } }>('prefix events') };
    const prefixSubscription = await within(
      subscriber.session.subscribe('com.both', (_a, _k, details) => prefix.inbox.push({ details }), { match: 'prefix' }),
      3000,
      'SUBSCRIBED',
    );
    expect(prefixSubscription.id).not.toBe(exact.subscription.id);
    const published = await within(publisher.wampy.publish('com.both.topic', ['x']), 3000, 'PUBLISHED');
    const [e1, e2] = [await exact.inbox.next(), await prefix.inbox.next()];
    expect(e1.details.publication).toBe(e2.details.publication);
    expect(exactNumbers(e1.details.publication)).toBe(exactNumbers(published.publicationId));
  });

  it('payload passthru between wampy peers (mqtt scheme, native serializer): ppt_* reach the subscriber, the payload is untouched', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
    const topic = 'com.adv.ppt';
    const { inbox } = await wampyInbox(subscriber, topic);
    await within(
      publisher.wampy.publish(topic, { argsList: [1, 'two'], argsDict: { three: 3 } }, { ppt_scheme: 'mqtt', ppt_serializer: 'native' }),
      3000,
      'PUBLISHED',
    );
    const event = await inbox.next();
    expect(event.details).toMatchObject({ ppt_scheme: 'mqtt', ppt_serializer: 'native' });
    expect(event.argsList).toEqual([1, 'two']);
    expect(event.argsDict).toEqual({ three: 3 });
    // On the wire the payload was one item, `{args, kwargs}`, as wampy packed it.
    const frame = publisher.sent.find((m) => m[0] === MessageCode.Publish);
    expect(frame?.slice(4)).toEqual([[{ args: [1, 'two'], kwargs: { three: 3 } }]]);
  });
});

describe.each(SERIALIZERS)('pub/sub frames over %s', (serializer) => {
  it('EVENT.Details of an exact subscription carry no topic; of a pattern subscription, the topic; both share the publication', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url, {}, { serializer }), Raw.join(router.url, {}, { serializer })]);
    const exact = await subscriber.subscribe('com.raw.a.b');
    const prefix = await subscriber.subscribe('com.raw.a', { match: 'prefix' });
    const wildcard = await subscriber.subscribe('com.raw..b', { match: 'wildcard' });
    const publication = await publisher.publish('com.raw.a.b', ['x']);
    const events = [await subscriber.event(), await subscriber.event(), await subscriber.event()];
    expect(events.map((e) => e.publication)).toEqual([publication, publication, publication]);
    expect(new Set(events.map((e) => e.subscription))).toEqual(new Set([exact, prefix, wildcard]));
    for (const e of events) expect(e.details).toEqual(e.subscription === exact ? {} : { topic: 'com.raw.a.b' });
  });

  it('payload passthru: ppt_* options travel into EVENT.Details untouched, the binary payload as is', async () => {
    const router = await startTestRouter();
    const publisher = await Raw.join(router.url, { publisher: ['payload_passthru_mode'] }, { serializer });
    const withPpt = await Raw.join(router.url, { subscriber: ['payload_passthru_mode'] }, { serializer });
    // [ap_payload_passthru_mode] a subscriber that did not announce it cannot be recognized: delivered anyway.
    const without = await Raw.join(router.url, {}, { serializer });
    const topic = 'com.raw.ppt';
    await withPpt.subscribe(topic);
    await without.subscribe(topic);
    const ppt = { ppt_scheme: 'x_custom', ppt_serializer: 'cbor', ppt_cipher: 'xsalsa20poly1305', ppt_keyid: '0xABCDEF' };
    const publication = await publisher.publish(topic, [BYTES], {}, { ...ppt, disclose_me: true });
    for (const subscriber of [withPpt, without]) {
      const event = await subscriber.event();
      expect(event.publication).toBe(publication);
      expect(event.details).toEqual({ ...ppt, publisher: publisher.session, publisher_authid: publisher.authid, publisher_authrole: 'anonymous' });
      expect(event.args?.length).toBe(1);
      expect(plainBytes(event.args?.[0])).toEqual(BYTES);
    }
  });

  it('payload passthru from a publisher that did not announce it: ABORT protocol_violation', async () => {
    const router = await startTestRouter();
    const publisher = await Raw.join(router.url, { publisher: ['publisher_exclusion'] }, { serializer });
    publisher.send([MessageCode.Publish, publisher.nextRequest(), { ppt_scheme: 'x_custom' }, 'com.raw.ppt', [BYTES]]);
    const abort = await publisher.expectAbort(ErrorUri.ProtocolViolation);
    expect(String(asDict(abort[1])['message'])).toMatch(/payload_passthru_mode/);
  });
});
