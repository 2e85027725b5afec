/**
 * The router's own contract (client/src/meta-api.ts) end to end: a session typed with an app
 * contract calls the meta API and subscribes to meta events against Switchboard's router, and each
 * value has the shape its type says (exact keys, and the type of each). Type-level checks are in
 * meta-api.test-d.ts.
 */
import { describe, expect, it } from 'vitest';
import type { MetaRegistrationDetails, MetaSessionDetails, MetaStoredEvent, MetaSubscriptionDetails, RouterStats } from '@switchboard/client';
import { startTestRouter } from '../../router/test/helpers.js';
import { deferred, open, within } from './helpers.js';

interface Api {
  procedures: { 'com.meta.add': { args: [number, number]; result: number } };
  topics: { 'com.meta.news': { args: [string] } };
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** What MetaSessionDetails says, key for key. */
function sessionShape(id: number): MetaSessionDetails {
  return {
    session: id,
    authid: expect.any(String) as string,
    authrole: 'anonymous',
    authmethod: 'anonymous',
    authprovider: expect.any(String) as string,
    transport: { type: 'websocket', protocol: 'wamp.2.json', peer: expect.stringMatching(/^tcp[46]:/) as string },
    // Our client asks for session resumption by default.
    resumable: true,
    attached: true,
  };
}

describe('the meta API through a typed session', () => {
  it('session procedures and stats return what their types say', async () => {
    const router = await startTestRouter();
    const admin = await open<Api>(router.url);
    const other = await open<Api>(router.url);
    const count: number = await admin.call('wamp.session.count');
    expect(count).toBe(2);
    expect(await admin.call('wamp.session.count', [['nobody']])).toBe(0);
    const list: number[] = await admin.call('wamp.session.list');
    expect([...list].sort()).toEqual([admin.id, other.id].sort());
    const details: MetaSessionDetails = await admin.call('wamp.session.get', [other.id!]);
    expect(details).toStrictEqual(sessionShape(other.id!));
    const stats: RouterStats = await admin.call('switchboard.router.stats');
    expect(stats).toStrictEqual({
      messagesIn: expect.any(Object) as Record<string, number>,
      messagesOut: expect.any(Object) as Record<string, number>,
      eventsDropped: expect.any(Number) as number,
      slowConsumersCutOff: expect.any(Number) as number,
      protocolViolations: expect.any(Number) as number,
      sessions: 2,
    });
    expect(Object.values(stats.messagesIn).every((n) => typeof n === 'number')).toBe(true);
    const killed: number = await admin.call('wamp.session.kill_by_authid', [details.authid], { reason: 'wamp.close.killed' });
    expect(killed).toBe(1);
  });

  it('subscription, registration and event-history procedures return what their types say', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.meta.news' }] }] });
    const app = await open<Api>(router.url);
    const reader = await open<Api>(router.url);
    const registration = await app.register('com.meta.add', ([a, b]) => a + b);
    const news = deferred<string>();
    const subscription = await reader.subscribe('com.meta.news', ([text]) => news.resolve(text));
    await app.publish('com.meta.news', ['hello'], {}, { acknowledge: true });
    expect(await within(news.promise, 3000, 'the event')).toBe('hello');
    expect(await app.call('com.meta.add', [2, 3])).toBe(5);

    const subscriptionId = (await app.call('wamp.subscription.lookup', ['com.meta.news']))!;
    expect(subscriptionId).toBe(subscription.id);
    expect(await app.call('wamp.subscription.lookup', ['com.meta.none'])).toBeNull();
    expect(await app.call('wamp.subscription.match', ['com.meta.news'])).toEqual([subscriptionId]);
    const sub: MetaSubscriptionDetails = await app.call('wamp.subscription.get', [subscriptionId]);
    expect(sub).toStrictEqual({ id: subscriptionId, created: expect.stringMatching(ISO_TIME) as string, uri: 'com.meta.news', match: 'exact' });
    expect(await app.call('wamp.subscription.list')).toStrictEqual({ exact: [subscriptionId], prefix: [], wildcard: [] });
    expect(await app.call('wamp.subscription.list_subscribers', [subscriptionId])).toEqual([reader.id]);
    expect(await app.call('wamp.subscription.count_subscribers', [subscriptionId])).toBe(1);
    const events: MetaStoredEvent[] = await reader.call('wamp.subscription.get_events', [subscriptionId], { limit: 5 });
    expect(events).toStrictEqual([
      {
        timestamp: expect.stringMatching(ISO_TIME) as string,
        subscription: subscriptionId,
        publication: expect.any(Number) as number,
        details: expect.any(Object) as object,
        args: ['hello'],
      },
    ]);
    // The spec's per topic reads (#17): the same events; callResult carries {more, gap}.
    expect(await reader.call('wamp.topic.history.last', ['com.meta.news', 5])).toStrictEqual(events);
    const after = await reader.callResult('wamp.topic.history.since', ['com.meta.news', 0]);
    expect(after.value).toStrictEqual(events);
    expect(after.kwargs).toStrictEqual({ more: false, gap: false });
    expect(await reader.call('wamp.topic.history.after', ['com.meta.news', events[0]!.publication])).toStrictEqual([]);

    const registrationId = (await app.call('wamp.registration.match', ['com.meta.add']))!;
    expect(registrationId).toBe(registration.id);
    const reg: MetaRegistrationDetails = await app.call('wamp.registration.get', [registrationId]);
    expect(reg).toStrictEqual({
      id: registrationId,
      created: expect.stringMatching(ISO_TIME) as string,
      uri: 'com.meta.add',
      match: 'exact',
      invoke: 'single',
    });
    expect(await app.call('wamp.registration.count_callees', [registrationId])).toBe(1);
    expect(await app.call('wamp.registration.list_callees', [registrationId])).toEqual([app.id]);
  });

  it('meta events carry what their types say', async () => {
    const router = await startTestRouter();
    const watcher = await open<Api>(router.url);
    const joined = deferred<MetaSessionDetails>();
    const left = deferred<[session: number, authid: string, authrole: string]>();
    const created = deferred<[session: number, details: MetaRegistrationDetails]>();
    await watcher.subscribe('wamp.session.on_join', ([details]) => joined.resolve(details));
    await watcher.subscribe('wamp.session.on_leave', (args) => left.resolve(args));
    await watcher.subscribe('wamp.registration.on_create', (args) => created.resolve(args));
    const guest = await open<Api>(router.url);
    expect(await within(joined.promise, 3000, 'on_join')).toStrictEqual(sessionShape(guest.id!));
    await guest.register('com.meta.add', ([a, b]) => a + b);
    const [creator, reg] = await within(created.promise, 3000, 'on_create');
    expect(creator).toBe(guest.id);
    expect(reg).toStrictEqual({
      id: expect.any(Number) as number,
      created: expect.stringMatching(ISO_TIME) as string,
      uri: 'com.meta.add',
      match: 'exact',
      invoke: 'single',
    });
    const guestId = guest.id!;
    const authid = (await watcher.call('wamp.session.get', [guestId])).authid;
    await guest.leave();
    expect(await within(left.promise, 3000, 'on_leave')).toEqual([guestId, authid, 'anonymous']);
  });
});
