/**
 * Meta API: wamp.session.* procedures and events [ap_session_meta_api], wamp.subscription.* and
 * wamp.registration.* procedures and events [ap_pubsub_subscription_meta_api,
 * ap_rpc_registration_meta_api]. autobahn-js and wampy over each serializer; raw frames for the
 * exact payloads and the order of events.
 */
import { describe, expect, it } from 'vitest';
import { CloseUri, ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import { Inbox, SERIALIZERS, autobahnCallError, connectAutobahn, connectWampy, exactNumbers } from '../interop/clients.js';
import { Raw, asDict, asList } from './support.js';

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The router's GOODBYE to a killed raw session; the session answers, and the router closes. */
async function expectKilled(victim: Raw, reason: string, message: string): Promise<void> {
  expect(await victim.next()).toEqual([MessageCode.Goodbye, { message }, reason]);
  victim.send([MessageCode.Goodbye, {}, CloseUri.GoodbyeAndOut]);
  await victim.peer.waitClosed();
}

describe.each(SERIALIZERS)('session meta API with clients over %s', (serializer) => {
  it('wamp.session.count / list, with and without filter_authroles; get describes a session', async () => {
    const router = await startTestRouter();
    const observer = await connectAutobahn(router.url, serializer);
    const wampy = await connectWampy(router.url, serializer);
    const raw = await Raw.join(router.url);
    const call = (procedure: string, args: unknown[] = []): Promise<unknown> => within(observer.session.call(procedure, args), 3000, procedure);
    const wampyId = exactNumbers(wampy.wampy.getSessionId());
    expect(await call('wamp.session.count')).toBe(3);
    expect(await call('wamp.session.count', [['anonymous']])).toBe(3);
    expect(await call('wamp.session.count', [['other', 'admin']])).toBe(0);
    expect(new Set(asList(await call('wamp.session.list')))).toEqual(new Set([observer.session.id, wampyId, raw.session]));
    expect(await call('wamp.session.list', [['other']])).toEqual([]);

    const mine = asDict(await call('wamp.session.get', [observer.session.id]));
    expect(mine).toEqual({
      session: observer.session.id,
      authid: observer.welcome['authid'],
      authrole: 'anonymous',
      authmethod: 'anonymous',
      authprovider: 'static',
      transport: { type: 'websocket', protocol: `wamp.2.${serializer}`, peer: expect.stringMatching(/^tcp4:127\.0\.0\.1:\d+$/) },
    });
    expect(asDict(await call('wamp.session.get', [raw.session]))['transport']).toMatchObject({ protocol: 'wamp.2.json' });
    expect((await autobahnCallError(observer.session.call('wamp.session.get', [12345]))).error).toBe(ErrorUri.NoSuchSession);
  });

  it('wamp.session.on_join [details] and on_leave [session, authid, authrole]', async () => {
    const router = await startTestRouter();
    const observer = await connectAutobahn(router.url, serializer);
    const joins = new Inbox<unknown[]>('on_join');
    const leaves = new Inbox<unknown[]>('on_leave');
    await within(
      observer.session.subscribe('wamp.session.on_join', (args) => joins.push(args)),
      3000,
      'SUBSCRIBED',
    );
    await within(
      observer.session.subscribe('wamp.session.on_leave', (args) => leaves.push(args)),
      3000,
      'SUBSCRIBED',
    );
    const peer = await connectWampy(router.url, serializer);
    const id = exactNumbers(peer.wampy.getSessionId());
    const [joined] = exactNumbers(await joins.next()) as [Record<string, unknown>];
    expect(joined).toMatchObject({
      session: id,
      authid: expect.stringMatching(/^anonymous-\d+$/),
      authrole: 'anonymous',
      authmethod: 'anonymous',
      authprovider: 'static',
      transport: { type: 'websocket', protocol: `wamp.2.${serializer}` },
    });
    await within(peer.wampy.disconnect(), 3000, 'wampy GOODBYE');
    expect(await leaves.next()).toEqual([id, joined['authid'], 'anonymous']);
  });

  it('wamp.session.kill with reason and message: the autobahn victim gets GOODBYE with both', async () => {
    const router = await startTestRouter();
    const [killer, victim] = await Promise.all([connectAutobahn(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const result = await within(
      killer.session.call('wamp.session.kill', [victim.session.id], { reason: 'com.example.maintenance', message: 'back in 5' }),
      3000,
      'RESULT',
    );
    expect(result).toBeNull(); // no result
    const closed = await within(victim.closed, 3000, 'the victim to be closed');
    // (autobahn reports 'lost' rather than 'closed': it closes the WebSocket before its async
    // send of the GOODBYE reply, so the close frame overtakes it.)
    expect(closed).toMatchObject({ wampReason: 'com.example.maintenance', message: 'back in 5' });
  });
});

describe('session meta API: frames', () => {
  it('kill: default reason wamp.close.normal; own ID and unknown IDs are no_such_session; a bad reason is invalid_uri', async () => {
    const router = await startTestRouter();
    const [killer, victim] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    expect(await killer.metaError('wamp.session.kill', [killer.session])).toBe(ErrorUri.NoSuchSession);
    expect(await killer.metaError('wamp.session.kill', [424242])).toBe(ErrorUri.NoSuchSession);
    expect(await killer.metaError('wamp.session.kill', [victim.session], { reason: 'not a uri!' })).toBe(ErrorUri.InvalidUri);
    expect(await killer.callResult('wamp.session.kill', [victim.session])).toEqual([MessageCode.Result, expect.any(Number), {}]);
    await expectKilled(victim, CloseUri.Normal, '');
    expect(await killer.meta('wamp.session.count')).toBe(1);
  });

  it('kill_by_authid and kill_by_authrole return how many were killed and spare the caller', async () => {
    const router = await startTestRouter();
    const killer = await Raw.join(router.url);
    const [v1, v2, v3] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    expect(await killer.meta('wamp.session.kill_by_authid', [killer.authid])).toBe(0);
    expect(await killer.meta('wamp.session.kill_by_authid', ['nobody'])).toBe(0);
    expect(await killer.metaError('wamp.session.kill_by_authid', [v1.authid], { reason: 'bad reason' })).toBe(ErrorUri.InvalidUri);
    expect(await killer.meta('wamp.session.kill_by_authid', [v1.authid], { reason: 'com.example.bye', message: 'you' })).toBe(1);
    await expectKilled(v1, 'com.example.bye', 'you');
    expect(await killer.meta('wamp.session.kill_by_authrole', ['other'])).toBe(0);
    expect(await killer.meta('wamp.session.kill_by_authrole', ['anonymous'], { message: 'everyone else' })).toBe(2);
    await expectKilled(v2, CloseUri.Normal, 'everyone else');
    await expectKilled(v3, CloseUri.Normal, 'everyone else');
    expect(await killer.meta('wamp.session.list')).toEqual([killer.session]);
  });

  it('kill_all spares the caller and produces no on_leave and no testaments; kill does', async () => {
    const router = await startTestRouter();
    const killer = await Raw.join(router.url);
    await killer.subscribe('wamp.session.on_leave');
    await killer.subscribe('com.testament');
    const victims = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    for (const v of victims) await v.callResult('wamp.session.add_testament', ['com.testament', [v.session], {}]);
    // kill_all: the RESULT is the next frame, no on_leave or testament event before it.
    const request = killer.call('wamp.session.kill_all', [], { reason: 'wamp.close.system_shutdown' });
    expect(await killer.next()).toEqual([MessageCode.Result, request, {}, [2]]);
    for (const v of victims) await expectKilled(v, 'wamp.close.system_shutdown', '');
    // kill (for contrast): on_leave and the testament do come.
    const last = await Raw.join(router.url);
    await last.callResult('wamp.session.add_testament', ['com.testament', ['last words'], {}]);
    const request2 = killer.call('wamp.session.kill', [last.session]);
    const frames = [await killer.next(), await killer.next(), await killer.next()];
    expect(frames).toEqual([
      [MessageCode.Event, expect.any(Number), expect.any(Number), {}, [last.session, last.authid, 'anonymous']],
      [MessageCode.Event, expect.any(Number), expect.any(Number), {}, ['last words'], {}],
      [MessageCode.Result, request2, {}],
    ]);
    await expectKilled(last, CloseUri.Normal, '');
  });

  it('meta procedures and events belong to one realm', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1' }, { name: 'realm2' }] });
    const one = await Raw.join(router.url);
    const two = await Raw.join(router.url, {}, { realm: 'realm2' });
    await two.subscribe('wamp.session.on_join');
    const another = await Raw.join(router.url); // realm1: realm2 hears nothing of it
    expect(await two.meta('wamp.session.count')).toBe(1);
    expect(await two.meta('wamp.session.list')).toEqual([two.session]);
    expect(await two.metaError('wamp.session.get', [one.session])).toBe(ErrorUri.NoSuchSession);
    expect(await two.metaError('wamp.session.kill', [another.session])).toBe(ErrorUri.NoSuchSession);
    expect(await one.meta('wamp.session.count')).toBe(2);
  });

  it('meta events cost nothing until someone subscribes: no subscribers on the meta topics, no events', async () => {
    const router = await startTestRouter();
    const broker = router.realm('realm1')!.broker;
    const metaTopics = ['wamp.session.on_join', 'wamp.session.on_leave', 'wamp.subscription.on_create', 'wamp.registration.on_create'];
    const early = await Raw.join(router.url);
    await early.subscribe('com.x');
    await early.register('com.y');
    expect(metaTopics.map((t) => broker.hasSubscribers(t))).toEqual([false, false, false, false]);
    const observer = await Raw.join(router.url);
    await observer.subscribe('wamp.session.on_join');
    expect(broker.hasSubscribers('wamp.session.on_join')).toBe(true);
    // Only what happens from now on is published.
    const late = await Raw.join(router.url);
    const joined = await observer.event();
    expect(asDict(joined.args?.[0])['session']).toBe(late.session);
  });
});

describe('subscription meta API: frames', () => {
  it('lookup, match, list, get, list_subscribers, count_subscribers', async () => {
    const router = await startTestRouter();
    const [observer, a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const exact = await a.subscribe('com.meta.topic');
    expect(await b.subscribe('com.meta.topic')).toBe(exact);
    const prefix = await a.subscribe('com.meta', { match: 'prefix' });
    const wildcard = await b.subscribe('com..topic', { match: 'wildcard' });

    expect(await observer.meta('wamp.subscription.lookup', ['com.meta.topic'])).toBe(exact);
    expect(await observer.meta('wamp.subscription.lookup', ['com.meta', { match: 'prefix' }])).toBe(prefix);
    expect(await observer.meta('wamp.subscription.lookup', ['com.meta'])).toBeNull();
    expect(new Set(asList(await observer.meta('wamp.subscription.match', ['com.meta.topic'])))).toEqual(new Set([exact, prefix, wildcard]));
    expect(await observer.meta('wamp.subscription.match', ['org.nothing'])).toBeNull();
    expect(await observer.meta('wamp.subscription.list')).toEqual({ exact: [exact], prefix: [prefix], wildcard: [wildcard] });
    const details = asDict(await observer.meta('wamp.subscription.get', [prefix]));
    expect(details).toEqual({ id: prefix, created: expect.stringMatching(ISO_TIME), uri: 'com.meta', match: 'prefix' });
    expect(Math.abs(Date.parse(String(details['created'])) - Date.now())).toBeLessThan(60_000);
    expect(new Set(asList(await observer.meta('wamp.subscription.list_subscribers', [exact])))).toEqual(new Set([a.session, b.session]));
    expect(await observer.meta('wamp.subscription.count_subscribers', [exact])).toBe(2);
    expect(await observer.meta('wamp.subscription.count_subscribers', [wildcard])).toBe(1);
    for (const procedure of ['get', 'list_subscribers', 'count_subscribers']) {
      expect(await observer.metaError(`wamp.subscription.${procedure}`, [777])).toBe(ErrorUri.NoSuchSubscription);
    }
  });

  it('events: on_create then on_subscribe; on_unsubscribe then on_delete, each [session, payload]', async () => {
    const router = await startTestRouter();
    const observer = await Raw.join(router.url);
    const metaSubs: Record<number, string> = {};
    for (const e of ['on_create', 'on_subscribe', 'on_unsubscribe', 'on_delete']) metaSubs[await observer.subscribe(`wamp.subscription.${e}`)] = e;
    const next = async (): Promise<[string, unknown[]]> => {
      const event = await observer.event();
      return [String(metaSubs[event.subscription]), event.args ?? []];
    };
    const [a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const id = await a.subscribe('com.meta.events');
    const [created, subscribed] = [await next(), await next()];
    expect(created).toEqual(['on_create', [a.session, { id, created: expect.stringMatching(ISO_TIME), uri: 'com.meta.events', match: 'exact' }]]);
    expect(subscribed).toEqual(['on_subscribe', [a.session, id]]);
    await b.subscribe('com.meta.events');
    expect(await next()).toEqual(['on_subscribe', [b.session, id]]);
    await a.unsubscribe(id);
    expect(await next()).toEqual(['on_unsubscribe', [a.session, id]]);
    await b.leave(); // leaving counts as unsubscribing
    expect([await next(), await next()]).toEqual([
      ['on_unsubscribe', [b.session, id]],
      ['on_delete', [b.session, id]],
    ]);
  });

  it('no meta events about subscriptions to wamp.* topics', async () => {
    const router = await startTestRouter();
    const observer = await Raw.join(router.url);
    await observer.subscribe('wamp.subscription.on_create');
    const other = await Raw.join(router.url);
    await other.subscribe('wamp.session.on_join');
    await other.subscribe('wamp.', { match: 'prefix' });
    await other.subscribe('com.after');
    const event = await observer.event();
    expect(asDict(event.args?.[1])['uri']).toBe('com.after');
  });
});

describe('registration meta API: frames', () => {
  it('lookup, match (the best match), list, get (with invoke), list_callees, count_callees', async () => {
    const router = await startTestRouter();
    const [observer, a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const exact = await a.register('com.meta.proc', { invoke: 'roundrobin' });
    expect(await b.register('com.meta.proc', { invoke: 'roundrobin' })).toBe(exact);
    const prefix = await a.register('com.meta.', { match: 'prefix' });
    const wildcard = await b.register('com..proc', { match: 'wildcard', invoke: 'first' });

    expect(await observer.meta('wamp.registration.lookup', ['com.meta.proc'])).toBe(exact);
    expect(await observer.meta('wamp.registration.lookup', ['com..proc', { match: 'wildcard' }])).toBe(wildcard);
    expect(await observer.meta('wamp.registration.lookup', ['com.meta.other'])).toBeNull();
    expect(await observer.meta('wamp.registration.list')).toEqual({ exact: [exact], prefix: [prefix], wildcard: [wildcard] });
    expect(await observer.meta('wamp.registration.get', [wildcard])).toEqual({
      id: wildcard,
      created: expect.stringMatching(ISO_TIME),
      uri: 'com..proc',
      match: 'wildcard',
      invoke: 'first',
    });
    expect(await observer.meta('wamp.registration.get', [exact])).toMatchObject({ uri: 'com.meta.proc', match: 'exact', invoke: 'roundrobin' });
    expect(await observer.meta('wamp.registration.list_callees', [exact])).toEqual([a.session, b.session]);
    expect(await observer.meta('wamp.registration.count_callees', [exact])).toBe(2);
    for (const procedure of ['get', 'list_callees', 'count_callees']) {
      expect(await observer.metaError(`wamp.registration.${procedure}`, [777])).toBe(ErrorUri.NoSuchRegistration);
    }
    expect(await observer.meta('wamp.registration.match', ['org.none'])).toBeNull();
  });

  it('[spec] wamp.registration.match returns the one registration a call would go to, not a list', async () => {
    // [ap_rpc_registration_meta_api] "Obtains the registration best matching a given procedure
    // URI. Results: (Nullable) registration|id".
    const router = await startTestRouter();
    const [observer, callee] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const exact = await callee.register('com.best.x');
    await callee.register('com.best.', { match: 'prefix' });
    const prefix = await callee.register('com.', { match: 'prefix' });
    expect(await observer.meta('wamp.registration.match', ['com.best.x'])).toBe(exact);
    expect(await observer.meta('wamp.registration.match', ['com.other'])).toBe(prefix);
  });

  it('events: on_create then on_register; on_unregister then on_delete, each [session, payload]', async () => {
    const router = await startTestRouter();
    const observer = await Raw.join(router.url);
    const metaSubs: Record<number, string> = {};
    for (const e of ['on_create', 'on_register', 'on_unregister', 'on_delete']) metaSubs[await observer.subscribe(`wamp.registration.${e}`)] = e;
    const next = async (): Promise<[string, unknown[]]> => {
      const event = await observer.event();
      return [String(metaSubs[event.subscription]), event.args ?? []];
    };
    const [a, b] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const id = await a.register('com.meta.rpc', { invoke: 'last' });
    expect([await next(), await next()]).toEqual([
      ['on_create', [a.session, { id, created: expect.stringMatching(ISO_TIME), uri: 'com.meta.rpc', match: 'exact', invoke: 'last' }]],
      ['on_register', [a.session, id]],
    ]);
    await b.register('com.meta.rpc', { invoke: 'last' });
    expect(await next()).toEqual(['on_register', [b.session, id]]);
    await b.unregister(id);
    expect(await next()).toEqual(['on_unregister', [b.session, id]]);
    a.peer.ws.terminate(); // a dropped connection unregisters too
    expect([await next(), await next()]).toEqual([
      ['on_unregister', [a.session, id]],
      ['on_delete', [a.session, id]],
    ]);
  });
});

describe.each(SERIALIZERS)('route meta API with clients over %s', (serializer) => {
  it("an autobahn observer follows a wampy callee's registration; wampy calls the meta procedures", async () => {
    const router = await startTestRouter();
    const observer = await connectAutobahn(router.url, serializer);
    const events = new Inbox<[string, unknown[]]>('registration meta events');
    for (const e of ['on_create', 'on_register', 'on_unregister', 'on_delete']) {
      await within(
        observer.session.subscribe(`wamp.registration.${e}`, (args) => events.push([e, args])),
        3000,
        'SUBSCRIBED',
      );
    }
    const callee = await connectWampy(router.url, serializer);
    const calleeId = exactNumbers(callee.wampy.getSessionId());
    const { registrationId } = await within(
      callee.wampy.register('com.meta.wampy', () => null),
      3000,
      'REGISTERED',
    );
    const id = exactNumbers(registrationId);
    expect(exactNumbers(await events.take(2))).toEqual([
      ['on_create', [calleeId, { id, created: expect.stringMatching(ISO_TIME), uri: 'com.meta.wampy', match: 'exact', invoke: 'single' }]],
      ['on_register', [calleeId, id]],
    ]);
    const lookup = await within(callee.wampy.call('wamp.registration.lookup', ['com.meta.wampy']), 3000, 'lookup');
    expect(exactNumbers(lookup.argsList)).toEqual([id]);
    const callees = await within(callee.wampy.call('wamp.registration.list_callees', [id]), 3000, 'list_callees');
    expect(exactNumbers(callees.argsList)).toEqual([[calleeId]]);
    await within(callee.wampy.unregister('com.meta.wampy'), 3000, 'UNREGISTERED');
    expect(exactNumbers(await events.take(2))).toEqual([
      ['on_unregister', [calleeId, id]],
      ['on_delete', [calleeId, id]],
    ]);
  });
});
