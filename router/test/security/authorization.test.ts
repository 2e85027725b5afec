/**
 * Issue #14, authorization: what a role may do is what it gets, whatever the door.
 * 3. a prefix or wildcard SUBSCRIBE/REGISTER (and an SSE stream) needs the right on every URI the
 *    pattern can match; a REGISTER pattern that reaches `wamp.*` is refused;
 * 4. wamp.subscription.get_events needs subscribe permission on the topics of what it returns;
 * 5. a testament is authorized as a PUBLISH when added and again when published;
 * 6. what an authorizer caches (dynamic decisions, filled-in {authid} rules) dies with the WAMP
 *    session, not the connection, which may carry another session after GOODBYE.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from '../helpers.js';

const {
  Call,
  Error: ERROR,
  Event,
  Goodbye,
  Hello,
  Invocation,
  Publish,
  Published,
  Register,
  Registered,
  Result,
  Subscribe,
  Subscribed,
  Welcome,
  Yield,
} = MessageCode;

const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

const config: RouterConfigFile = {
  listeners: [
    { type: 'websocket', http: { paths: { '/events': { type: 'sse', realm: 'realm1', role: 'anonymous', keepAliveMs: 1000 } } } },
    { type: 'websocket', path: '/trusted', auth: { anonymous: { role: 'trusted' } } },
  ],
  realms: [
    {
      name: 'realm1',
      eventHistory: [
        { topic: 'com.secret.feed', limit: 10 },
        { topic: 'com.mixed.', match: 'prefix', limit: 10 },
      ],
      roles: [
        {
          name: 'anonymous',
          permissions: [
            { uri: 'com.public.news', allow: { subscribe: true } },
            { uri: 'com.svc.echo', allow: { register: true } },
            { uri: 'com.app.', match: 'prefix', allow: { subscribe: true, register: true, publish: true } },
            { uri: 'com.app.secret', allow: { publish: true } },
            { uri: 'com.user.{authid}.', match: 'prefix', allow: { subscribe: true } },
            { uri: 'com.mixed.public', allow: { subscribe: true } },
            { uri: 'com.alerts', allow: { subscribe: true } },
            { uri: 'wamp.', match: 'prefix', allow: { call: true } },
          ],
        },
        { name: 'trusted', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, subscribe: true, publish: true } }] },
      ],
    },
  ],
};

async function start(): Promise<{ router: Router; anon: () => ReturnType<typeof RawPeer.join>; trusted: () => ReturnType<typeof RawPeer.join> }> {
  const router = await startTestRouter(config);
  return { router, anon: () => RawPeer.join(router.url), trusted: () => RawPeer.join(router.addresses[1]!.url) };
}

/** Sends `frame(request)` and returns the answer. */
async function ask(peer: RawPeer, frame: (request: number) => unknown[]): Promise<{ request: number; answer: unknown[] }> {
  const request = peer.nextRequest();
  peer.send(frame(request));
  return { request, answer: await peer.next() };
}

async function subscribe(peer: RawPeer, topic: string, options: Record<string, unknown> = {}): Promise<unknown[]> {
  return (await ask(peer, (r) => [Subscribe, r, options, topic])).answer;
}

async function register(peer: RawPeer, procedure: string, options: Record<string, unknown> = {}): Promise<unknown[]> {
  return (await ask(peer, (r) => [Register, r, options, procedure])).answer;
}

async function call(peer: RawPeer, procedure: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<unknown[]> {
  return (await ask(peer, (r) => [Call, r, {}, procedure, args, kwargs])).answer;
}

async function publish(peer: RawPeer, topic: string, args: unknown[]): Promise<void> {
  const { answer } = await ask(peer, (r) => [Publish, r, { acknowledge: true }, topic, args]);
  expect(answer[0], JSON.stringify(answer)).toBe(Published);
}

function errorOf(answer: unknown[]): unknown {
  return answer[0] === ERROR ? answer[4] : `not an ERROR: ${JSON.stringify(answer)}`;
}

/**
 * GOODBYE, then a new HELLO on the same connection: the same socket, another session (and authid).
 * The new session's request IDs start again at 1 (sent by hand: RawPeer counts per connection).
 */
async function rejoin(peer: RawPeer): Promise<unknown[]> {
  peer.send([Goodbye, {}, 'wamp.close.close_realm']);
  expect(await peer.next()).toEqual([Goodbye, {}, 'wamp.close.goodbye_and_out']);
  peer.send([Hello, 'realm1', { roles: ROLES }]);
  const welcome = await peer.next();
  expect(welcome[0]).toBe(Welcome);
  return welcome;
}

/** The status of GET `url`, without reading an event stream's body. */
async function status(url: string): Promise<number> {
  const ac = new AbortController();
  onTestFinished(() => ac.abort());
  const res = await within(fetch(url, { headers: { Accept: 'text/event-stream' }, signal: ac.signal }), 5000, `GET ${url}`);
  ac.abort();
  return res.status;
}

describe('security: pattern subscriptions and registrations need every URI they can match (#14.3)', () => {
  it('an exact subscribe permission does not stretch to a prefix or wildcard subscription', async () => {
    const { anon, trusted } = await start();
    const peer = await anon();
    expect(errorOf(await subscribe(peer, 'com.public.news', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await subscribe(peer, 'com.public.', { match: 'wildcard' }))).toBe('wamp.error.not_authorized');
    const exact = await subscribe(peer, 'com.public.news');
    expect(exact[0]).toBe(Subscribed);
    const publisher = await trusted();
    await publish(publisher, 'com.public.newsroom', ['not for you']);
    await publish(publisher, 'com.public.news.internal', ['not for you']);
    await publish(publisher, 'com.public.news', ['news']);
    const event = await peer.next();
    expect([event[0], event[1], event[4]]).toEqual([Event, exact[2], ['news']]);
  });

  it("an exact register permission does not stretch to a prefix registration taking another user's calls", async () => {
    const { anon, trusted } = await start();
    const peer = await anon();
    expect(errorOf(await register(peer, 'com.svc.echo', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await register(peer, 'com.svc.', { match: 'wildcard' }))).toBe('wamp.error.not_authorized');
    expect((await register(peer, 'com.svc.echo'))[0]).toBe(Registered);
    expect(errorOf(await call(await trusted(), 'com.svc.echo.transfer', ['secret argument']))).toBe('wamp.error.no_such_procedure');
  });

  it('a more specific rule that denies inside the pattern refuses it; prefixes are string prefixes', async () => {
    const { anon } = await start();
    const peer = await anon();
    // com.app.secret allows publish only: a pattern that would receive it is refused.
    expect(errorOf(await subscribe(peer, 'com.app.', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await subscribe(peer, 'com.app.', { match: 'wildcard' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await register(peer, 'com.app.', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    // Prefix com.app matches com.apple, which no rule allows.
    expect(errorOf(await subscribe(peer, 'com.app', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    // Inside the permission and clear of com.app.secret: allowed.
    expect((await subscribe(peer, 'com.app.x.', { match: 'prefix' }))[0]).toBe(Subscribed);
    expect((await subscribe(peer, 'com.app.sec', { match: 'prefix' }))[0]).toBe(ERROR);
    expect((await subscribe(peer, 'com.app..status', { match: 'wildcard' }))[0]).toBe(Subscribed);
    expect((await register(peer, 'com.app.rpc.', { match: 'prefix' }))[0]).toBe(Registered);
  });

  it('{authid} rules: a prefix inside my own space, never one that reaches another user’s', async () => {
    const { anon } = await start();
    const peer = await anon();
    const me = (peer.welcome[2] as { authid: string }).authid;
    expect((await subscribe(peer, `com.user.${me}.`, { match: 'prefix' }))[0]).toBe(Subscribed);
    expect((await subscribe(peer, `com.user.${me}..inbox`, { match: 'wildcard' }))[0]).toBe(Subscribed);
    // Without the dot it matches com.user.<me>0.… too: another user's space.
    expect(errorOf(await subscribe(peer, `com.user.${me}`, { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await subscribe(peer, 'com.user.', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await subscribe(peer, 'com.user..inbox', { match: 'wildcard' }))).toBe('wamp.error.not_authorized');
  });

  it('a REGISTER pattern that can match a wamp.* procedure is refused with invalid_uri; subscriptions need the meta topics’ rights', async () => {
    const { anon, trusted } = await start();
    const admin = await trusted();
    for (const [procedure, match] of [
      ['w', 'prefix'],
      ['wam', 'prefix'],
      ['wamp', 'prefix'],
      ['wamp.session.', 'prefix'],
      ['.session.get', 'wildcard'],
      ['wamp..get', 'wildcard'],
    ] as const) {
      expect({ procedure, match, error: errorOf(await register(admin, procedure, { match })) }).toEqual({ procedure, match, error: 'wamp.error.invalid_uri' });
    }
    expect((await register(admin, 'wx', { match: 'prefix' }))[0]).toBe(Registered);
    expect((await register(admin, 'com..get', { match: 'wildcard' }))[0]).toBe(Registered);
    // The meta API is still the router's.
    expect((await call(admin, 'wamp.session.count'))[0]).toBe(Result);
    // A role with subscribe rights on wamp.* may watch meta events by pattern; one without may not.
    expect((await subscribe(admin, 'wamp.session.', { match: 'prefix' }))[0]).toBe(Subscribed);
    const peer = await anon();
    expect(errorOf(await subscribe(peer, 'w', { match: 'prefix' }))).toBe('wamp.error.not_authorized');
    expect(errorOf(await subscribe(peer, '.session.on_join', { match: 'wildcard' }))).toBe('wamp.error.not_authorized');
  });

  it('SSE streams go through the same gate: an exact permission is no prefix stream', async () => {
    const { router } = await start();
    const base = `http://127.0.0.1:${router.addresses[0]!.port}/events`;
    expect(await status(`${base}?topic=com.public.news&match=prefix`)).toBe(403);
    expect(await status(`${base}?topic=com.app.&match=prefix`)).toBe(403);
    expect(await status(`${base}?topic=com.app.&match=wildcard`)).toBe(403);
    expect(await status(`${base}?topic=com.public.news`)).toBe(200);
    expect(await status(`${base}?topic=com.app.x.&match=prefix`)).toBe(200);
  });
});

describe('security: the route meta API shows a route only to roles that may act on its URI (#14.4)', () => {
  it('subscriptions: list, lookup and match leave out, get, list_subscribers, count_subscribers and remove_subscriber refuse', async () => {
    const { anon, trusted } = await start();
    const admin = await trusted();
    expect((await subscribe(admin, 'com.secret.feed'))[0]).toBe(Subscribed);
    const mine = await anon();
    const news = (await subscribe(mine, 'com.public.news'))[2] as number;
    const secret = ((await call(admin, 'wamp.subscription.lookup', ['com.secret.feed']))[3] as number[])[0]!;
    // The admin sees both; the anonymous role only the one it may subscribe to.
    const all = ((await call(admin, 'wamp.subscription.list'))[3] as { exact: number[] }[])[0]!.exact;
    expect(all).toEqual(expect.arrayContaining([news, secret]));
    const seen = ((await call(mine, 'wamp.subscription.list'))[3] as { exact: number[] }[])[0]!.exact;
    expect(seen).toContain(news);
    expect(seen).not.toContain(secret);
    expect((await call(mine, 'wamp.subscription.lookup', ['com.secret.feed']))[3]).toEqual([null]);
    expect((await call(mine, 'wamp.subscription.match', ['com.secret.feed']))[3]).toEqual([null]);
    expect((await call(mine, 'wamp.subscription.lookup', ['com.public.news']))[3]).toEqual([news]);
    for (const procedure of ['get', 'list_subscribers', 'count_subscribers']) {
      expect(errorOf(await call(mine, `wamp.subscription.${procedure}`, [secret])), procedure).toBe('wamp.error.not_authorized');
    }
    expect(errorOf(await call(mine, 'wamp.subscription.remove_subscriber', [secret, admin.session]))).toBe('wamp.error.not_authorized');
    expect((await call(mine, 'wamp.subscription.list_subscribers', [news]))[3]).toEqual([[mine.session]]);
    expect((await call(admin, 'wamp.subscription.list_subscribers', [secret]))[3]).toEqual([[admin.session]]);
  });

  it('registrations: a role that may neither call nor register a procedure does not learn who serves it', async () => {
    const { anon, trusted } = await start();
    const admin = await trusted();
    const hidden = (await register(admin, 'com.hidden.transfer'))[2] as number;
    const mine = await anon();
    const echo = (await register(mine, 'com.svc.echo'))[2] as number;
    const seen = ((await call(mine, 'wamp.registration.list'))[3] as { exact: number[] }[])[0]!.exact;
    expect(seen).toContain(echo);
    expect(seen).not.toContain(hidden);
    expect((await call(mine, 'wamp.registration.lookup', ['com.hidden.transfer']))[3]).toEqual([null]);
    expect((await call(mine, 'wamp.registration.match', ['com.hidden.transfer']))[3]).toEqual([null]);
    for (const procedure of ['get', 'list_callees', 'count_callees']) {
      expect(errorOf(await call(mine, `wamp.registration.${procedure}`, [hidden])), procedure).toBe('wamp.error.not_authorized');
    }
    expect((await call(admin, 'wamp.registration.list_callees', [hidden]))[3]).toEqual([[admin.session]]);
  });
});

describe('security: wamp.subscription.get_events needs subscribe permission (#14.4)', () => {
  it('a role refused subscribe on the topic cannot read its history by subscription ID', async () => {
    const { anon, trusted } = await start();
    const admin = await trusted();
    await publish(admin, 'com.secret.feed', ['classified']);
    const peer = await anon();
    // The route is not shown to this role (see the meta-route tests below); the ID is guessable.
    expect((await call(peer, 'wamp.subscription.lookup', ['com.secret.feed']))[3]).toEqual([null]);
    const id = ((await call(admin, 'wamp.subscription.lookup', ['com.secret.feed']))[3] as number[])[0]!;
    expect(typeof id).toBe('number');
    expect(errorOf(await call(peer, 'wamp.subscription.get_events', [id]))).toBe('wamp.error.not_authorized');
    // Whoever may subscribe reads it.
    const mine = await call(admin, 'wamp.subscription.get_events', [id]);
    expect(((mine[3] as unknown[])[0] as { args: unknown[] }[]).map((e) => e.args)).toEqual([['classified']]);
  });

  it('a pattern history gives each reader the events of the topics it may subscribe to', async () => {
    const { anon, trusted } = await start();
    const admin = await trusted();
    await publish(admin, 'com.mixed.public', [1]);
    await publish(admin, 'com.mixed.private', [2]);
    await publish(admin, 'com.mixed.public', [3]);
    const peer = await anon();
    const id = ((await call(admin, 'wamp.subscription.lookup', ['com.mixed.', { match: 'prefix' }]))[3] as number[])[0]!;
    const theirs = await call(peer, 'wamp.subscription.get_events', [id]);
    expect(((theirs[3] as unknown[])[0] as { args: unknown[] }[]).map((e) => e.args)).toEqual([[1], [3]]);
    const all = await call(admin, 'wamp.subscription.get_events', [id]);
    expect(((all[3] as unknown[])[0] as { args: unknown[] }[]).map((e) => e.args)).toEqual([[1], [2], [3]]);
  });

  it('meta procedures are authorized as a CALL on their URI, like any procedure', async () => {
    const { router } = await startDynamic();
    // The backend role has no call permission at all.
    const backend = await RawPeer.join(router.addresses[1]!.url);
    for (const procedure of [
      'wamp.subscription.get_events',
      'wamp.session.list',
      'wamp.session.get',
      'wamp.subscription.list',
      'wamp.registration.list_callees',
      'wamp.session.add_testament',
    ]) {
      expect({ procedure, error: errorOf(await call(backend, procedure, [1])) }).toEqual({ procedure, error: 'wamp.error.not_authorized' });
    }
  });
});

describe('security: testaments are publications and are authorized as such (#14.5)', () => {
  it('add_testament on a topic the role may not publish to is refused, retain or not', async () => {
    const { anon, trusted } = await start();
    const watcher = await trusted();
    expect((await subscribe(watcher, 'com.alerts'))[0]).toBe(Subscribed);
    const peer = await anon();
    const refused = await call(peer, 'wamp.session.add_testament', ['com.alerts', ['forged'], {}], { publish_options: { retain: true } });
    expect(errorOf(refused)).toBe('wamp.error.not_authorized');
    peer.close();
    await peer.waitClosed();
    // What the watcher gets next is a marker published after: no forged event came first.
    const publisher = await trusted();
    await publish(publisher, 'com.alerts', ['marker']);
    const next = await watcher.next();
    expect([next[0], next[4]]).toEqual([Event, ['marker']]);
    // Nothing was retained: a late subscriber's first event is the next marker.
    const late = await trusted();
    expect((await subscribe(late, 'com.alerts', { get_retained: true }))[0]).toBe(Subscribed);
    await publish(publisher, 'com.alerts', ['marker 2']);
    expect((await late.next())[4]).toEqual(['marker 2']);
  });
});

const dynamicConfig: RouterConfigFile = {
  listeners: [
    { type: 'websocket', auth: { anonymous: { role: 'user' } } },
    { type: 'websocket', path: '/backend', auth: { anonymous: { role: 'backend' } } },
  ],
  realms: [
    {
      name: 'realm1',
      roles: [
        { name: 'user', authorizer: 'com.example.authorize' },
        { name: 'backend', permissions: [{ uri: 'com.', match: 'prefix', allow: { register: true, subscribe: true, publish: true } }] },
      ],
    },
  ],
};

/** The backend's next authorizer INVOCATION: its request and [details, uri, action, options]. */
async function question(
  backend: RawPeer,
): Promise<{ request: number; details: { authid: string }; uri: string; action: string; options: Record<string, unknown> }> {
  const inv = await backend.next();
  expect(inv[0], JSON.stringify(inv)).toBe(Invocation);
  const [details, uri, action, options] = inv[4] as [{ authid: string }, string, string, Record<string, unknown>];
  return { request: inv[1] as number, details, uri, action, options };
}

async function startDynamic(): Promise<{ router: Router; backend: RawPeer }> {
  const router = await startTestRouter(dynamicConfig);
  const backend = await RawPeer.join(router.addresses[1]!.url);
  expect((await register(backend, 'com.example.authorize'))[0]).toBe(Registered);
  return { router, backend };
}

describe('security: testaments are authorized again when published (#14.5)', () => {
  it('a testament the authorizer no longer allows is dropped, not delivered, not retained', async () => {
    const { router, backend } = await startDynamic();
    const watcher = await RawPeer.join(router.addresses[1]!.url);
    expect((await subscribe(watcher, 'com.app.alerts'))[0]).toBe(Subscribed);
    const user = await RawPeer.join(router.url);
    user.send([Call, user.nextRequest(), {}, 'wamp.session.add_testament', ['com.app.alerts', ['forged'], {}], { publish_options: { retain: true } }]);
    const asked = await question(backend);
    expect([asked.uri, asked.action]).toEqual(['wamp.session.add_testament', 'call']);
    backend.send([Yield, asked.request, {}, [{ allow: true }]]);
    const atAdd = await question(backend);
    expect([atAdd.uri, atAdd.action]).toEqual(['com.app.alerts', 'publish']);
    backend.send([Yield, atAdd.request, {}, [{ allow: true }]]);
    expect((await user.next())[0]).toBe(Result);
    user.close();
    // The session left: its testament is authorized again, and now refused.
    const atPublish = await question(backend);
    expect([atPublish.uri, atPublish.action]).toEqual(['com.app.alerts', 'publish']);
    backend.send([Yield, atPublish.request, {}, [{ allow: false }]]);
    await publish(backend, 'com.app.alerts', ['marker']);
    const next = await watcher.next();
    expect([next[0], next[4]]).toEqual([Event, ['marker']]);
    const late = await RawPeer.join(router.addresses[1]!.url);
    expect((await subscribe(late, 'com.app.alerts', { get_retained: true }))[0]).toBe(Subscribed);
    await publish(backend, 'com.app.alerts', ['marker 2']);
    expect((await late.next())[4]).toEqual(['marker 2']);
  });
});

describe('security: cached authorization dies with the WAMP session (#14.6)', () => {
  it("dynamic: after alice's GOODBYE, bob on the same socket is asked about, not given, alice's subscription", async () => {
    const { router, backend } = await startDynamic();
    const peer = await RawPeer.join(router.url);
    const alice = (peer.welcome[2] as { authid: string }).authid;
    peer.send([Subscribe, peer.nextRequest(), {}, `com.secret.${alice}`]);
    const first = await question(backend);
    expect(first.details.authid).toBe(alice);
    backend.send([Yield, first.request, {}, [true]]); // a bare true: cacheable
    expect((await peer.next())[0]).toBe(Subscribed);
    const bob = ((await rejoin(peer))[2] as { authid: string }).authid;
    expect(bob).not.toBe(alice);
    peer.send([Subscribe, 1, {}, `com.secret.${alice}`]);
    const again = await question(backend);
    expect([again.details.authid, again.uri]).toEqual([bob, `com.secret.${alice}`]);
    backend.send([Yield, again.request, {}, [false]]);
    expect(errorOf(await peer.next())).toBe('wamp.error.not_authorized');
  });

  it('dynamic: a cached decision on a URI is not reused for a pattern of the same text', async () => {
    const { router, backend } = await startDynamic();
    const peer = await RawPeer.join(router.url);
    peer.send([Subscribe, peer.nextRequest(), {}, 'com.feed']);
    const exact = await question(backend);
    backend.send([Yield, exact.request, {}, [true]]);
    expect((await peer.next())[0]).toBe(Subscribed);
    peer.send([Subscribe, peer.nextRequest(), { match: 'prefix' }, 'com.feed']);
    const pattern = await question(backend);
    expect([pattern.uri, pattern.options['match']]).toEqual(['com.feed', 'prefix']);
    backend.send([Yield, pattern.request, {}, [false]]);
    expect(errorOf(await peer.next())).toBe('wamp.error.not_authorized');
  });

  it("static {authid} rules: after alice's GOODBYE, bob on the same socket does not get alice's rights", async () => {
    const { anon } = await start();
    const peer = await anon();
    const alice = (peer.welcome[2] as { authid: string }).authid;
    expect((await subscribe(peer, `com.user.${alice}.inbox`))[0]).toBe(Subscribed);
    const bob = ((await rejoin(peer))[2] as { authid: string }).authid;
    expect(bob).not.toBe(alice);
    peer.send([Subscribe, 1, {}, `com.user.${alice}.inbox`]);
    expect(errorOf(await peer.next())).toBe('wamp.error.not_authorized');
    peer.send([Subscribe, 2, {}, `com.user.${bob}.inbox`]);
    expect((await peer.next())[0]).toBe(Subscribed);
  });
});
