/**
 * Session lifecycle and Basic Profile routing, driven frame by frame.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from './helpers.js';

const {
  Abort,
  Call,
  Error: ERROR,
  Event,
  Goodbye,
  Hello,
  Invocation,
  Publish,
  Published,
  Register,
  Result,
  Subscribe,
  Subscribed,
  Unregister,
  Unregistered,
  Unsubscribe,
  Unsubscribed,
  Welcome,
  Yield,
} = MessageCode;
const ROLES = { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } };

describe('opening and closing', () => {
  it('WELCOME announces broker and dealer roles, agent and identity', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.join(router.url);
    const [, session, details] = peer.welcome as [number, number, Record<string, unknown>];
    expect(session).toBeGreaterThanOrEqual(1);
    expect(session).toBeLessThanOrEqual(2 ** 53);
    expect(details).toMatchObject({
      roles: { broker: { features: {} }, dealer: { features: {} } },
      authrole: 'anonymous',
      authmethod: 'anonymous',
      realm: 'realm1',
    });
    expect(details['agent']).toMatch(/^switchboard-\d+\.\d+\.\d+/);
    expect(typeof details['authid']).toBe('string');
  });

  it('an unknown realm gets ABORT wamp.error.no_such_realm', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.connect(router.url);
    peer.send([Hello, 'nowhere', ROLES]);
    const abort = await peer.next();
    expect(abort).toEqual([Abort, { message: expect.stringContaining('nowhere') }, 'wamp.error.no_such_realm']);
    await peer.waitClosed();
  });

  it('GOODBYE is answered with wamp.close.goodbye_and_out whatever the reason, and the transport can open a new session', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.join(router.url, 'msgpack');
    peer.send([Goodbye, { message: 'bye' }, 'com.myapp.custom_reason']);
    expect(await peer.next()).toEqual([Goodbye, {}, 'wamp.close.goodbye_and_out']);
    expect(router.sessionCount).toBe(0);
    peer.send([Hello, 'realm1', ROLES]);
    const welcome = await peer.next();
    expect(welcome[0]).toBe(Welcome);
    expect(welcome[1]).not.toBe(peer.session);
    // Request IDs start again at 1 in the new session.
    peer.send([Subscribe, 1, {}, 'com.topic']);
    expect((await peer.next())[0]).toBe(Subscribed);
  });

  it('serves several realms at once, isolated from each other', async () => {
    const router = await startTestRouter({ realms: [{ name: 'com.a' }, { name: 'com.b' }] });
    const subA = await RawPeer.join(router.url, 'json', 'com.a');
    const subB = await RawPeer.join(router.url, 'json', 'com.b');
    const pubA = await RawPeer.join(router.url, 'json', 'com.a');
    for (const sub of [subA, subB]) {
      sub.send([Subscribe, sub.nextRequest(), {}, 'com.topic']);
      expect((await sub.next())[0]).toBe(Subscribed);
    }
    pubA.send([Publish, pubA.nextRequest(), { acknowledge: true }, 'com.topic', ['only a']]);
    expect((await pubA.next())[0]).toBe(Published);
    expect((await subA.next())[4]).toEqual(['only a']);
    expect(await subB.silentFor(100)).toBe(true);
  });

  it('a client ABORT ends the session and the connection', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.join(router.url);
    peer.send([Abort, {}, 'wamp.close.system_shutdown']);
    await peer.waitClosed();
    expect(router.sessionCount).toBe(0);
  });

  it('stop() sends GOODBYE wamp.close.system_shutdown to every session', async () => {
    const router = await startTestRouter();
    const a = await RawPeer.join(router.url, 'json');
    const b = await RawPeer.join(router.url, 'cbor');
    const stopping = router.stop();
    for (const peer of [a, b]) {
      const goodbye = await peer.next();
      expect(goodbye[0]).toBe(Goodbye);
      expect(goodbye[2]).toBe('wamp.close.system_shutdown');
      peer.send([Goodbye, {}, 'wamp.close.goodbye_and_out']);
    }
    await stopping;
    await a.waitClosed();
    await b.waitClosed();
  });
});

describe('publish and subscribe', () => {
  it('one subscription ID per topic, shared by its subscribers; acknowledge → PUBLISHED; exclude_me defaults to true', async () => {
    const router = await startTestRouter();
    const [s1, s2, pub] = await Promise.all([RawPeer.join(router.url), RawPeer.join(router.url, 'msgpack'), RawPeer.join(router.url, 'cbor')]);
    const ids: unknown[] = [];
    for (const peer of [s1, s2, pub]) {
      peer.send([Subscribe, peer.nextRequest(), {}, 'com.news']);
      const subscribed = await peer.next();
      expect(subscribed[0]).toBe(Subscribed);
      ids.push(subscribed[2]);
    }
    expect(new Set(ids).size).toBe(1);
    const request = pub.nextRequest();
    pub.send([Publish, request, { acknowledge: true }, 'com.news', [1, 'two', { three: 3 }], { k: [null, true] }]);
    const published = await pub.next();
    expect(published).toEqual([Published, request, expect.any(Number)]);
    for (const sub of [s1, s2]) {
      expect(await sub.next()).toEqual([Event, ids[0], published[2], {}, [1, 'two', { three: 3 }], { k: [null, true] }]);
    }
    expect(await pub.silentFor(100)).toBe(true);

    pub.send([Publish, pub.nextRequest(), { exclude_me: false }, 'com.news']);
    expect(await pub.next()).toEqual([Event, ids[0], expect.any(Number), {}]);
  });

  it('unsubscribe stops delivery; unknown subscriptions get wamp.error.no_such_subscription', async () => {
    const router = await startTestRouter();
    const sub = await RawPeer.join(router.url);
    const pub = await RawPeer.join(router.url);
    sub.send([Subscribe, sub.nextRequest(), {}, 'com.t']);
    const [, , subscription] = await sub.next();
    let request = sub.nextRequest();
    sub.send([Unsubscribe, request, subscription]);
    expect(await sub.next()).toEqual([Unsubscribed, request]);
    request = sub.nextRequest();
    sub.send([Unsubscribe, request, subscription]);
    expect(await sub.next()).toEqual([ERROR, Unsubscribe, request, {}, 'wamp.error.no_such_subscription']);
    pub.send([Publish, pub.nextRequest(), { acknowledge: true }, 'com.t']);
    expect((await pub.next())[0]).toBe(Published);
    expect(await sub.silentFor(100)).toBe(true);
  });

  it('invalid or reserved topic URIs get wamp.error.invalid_uri', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', uriCheck: 'strict' }] });
    const peer = await RawPeer.join(router.url);
    for (const topic of ['com..empty', 'com.with space', 'com.#hash', 'Com.Upper', '']) {
      const request = peer.nextRequest();
      peer.send([Subscribe, request, {}, topic]);
      expect(await peer.next()).toEqual([ERROR, Subscribe, request, {}, 'wamp.error.invalid_uri', [expect.any(String)]]);
    }
    const request = peer.nextRequest();
    peer.send([Publish, request, { acknowledge: true }, 'wamp.session.on_join']);
    expect(await peer.next()).toEqual([ERROR, Publish, request, {}, 'wamp.error.invalid_uri', [expect.stringContaining('reserved')]]);
  });

  it('keeps each publisher’s order', async () => {
    const router = await startTestRouter();
    const sub = await RawPeer.join(router.url, 'msgpack');
    const pub = await RawPeer.join(router.url, 'json');
    sub.send([Subscribe, sub.nextRequest(), {}, 'com.seq']);
    await sub.next();
    for (let i = 0; i < 1000; i++) pub.send([Publish, pub.nextRequest(), {}, 'com.seq', [i]]);
    for (let i = 0; i < 1000; i++) expect((await sub.next())[4]).toEqual([i]);
  });
});

describe('routed RPC', () => {
  it('CALL → INVOCATION → YIELD → RESULT with args and kwargs untouched', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url, 'cbor');
    const caller = await RawPeer.join(router.url, 'json');
    callee.send([Register, callee.nextRequest(), {}, 'com.add']);
    const [, , registration] = await callee.next();
    const request = caller.nextRequest();
    caller.send([Call, request, {}, 'com.add', [2, 3], { opt: { deep: [1] } }]);
    const invocation = await callee.next();
    expect(invocation).toEqual([Invocation, 1, registration, {}, [2, 3], { opt: { deep: [1] } }]);
    callee.send([Yield, invocation[1], {}, [5], { note: 'ü' }]);
    expect(await caller.next()).toEqual([Result, request, {}, [5], { note: 'ü' }]);
  });

  it('callee ERROR reaches the caller with its URI, args and kwargs', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url);
    const caller = await RawPeer.join(router.url, 'msgpack');
    callee.send([Register, callee.nextRequest(), {}, 'com.fail']);
    await callee.next();
    const request = caller.nextRequest();
    caller.send([Call, request, {}, 'com.fail']);
    const [, invocation] = await callee.next();
    callee.send([ERROR, Invocation, invocation, { x: 1 }, 'com.myapp.error.bad', ['why'], { code: 42 }]);
    expect(await caller.next()).toEqual([ERROR, Call, request, { x: 1 }, 'com.myapp.error.bad', ['why'], { code: 42 }]);
  });

  it('no_such_procedure, procedure_already_exists, no_such_registration, reserved URIs', async () => {
    const router = await startTestRouter();
    const a = await RawPeer.join(router.url);
    const b = await RawPeer.join(router.url);
    let request = a.nextRequest();
    a.send([Call, request, {}, 'com.none']);
    expect(await a.next()).toEqual([ERROR, Call, request, {}, 'wamp.error.no_such_procedure', [expect.any(String)]]);
    a.send([Register, a.nextRequest(), {}, 'com.once']);
    const [, , registration] = await a.next();
    request = b.nextRequest();
    b.send([Register, request, {}, 'com.once']);
    expect(await b.next()).toEqual([ERROR, Register, request, {}, 'wamp.error.procedure_already_exists', [expect.any(String)]]);
    request = b.nextRequest();
    b.send([Unregister, request, registration]);
    expect(await b.next()).toEqual([ERROR, Unregister, request, {}, 'wamp.error.no_such_registration']);
    request = a.nextRequest();
    a.send([Unregister, request, registration]);
    expect(await a.next()).toEqual([Unregistered, request]);
    request = a.nextRequest();
    a.send([Register, request, {}, 'wamp.session.get']);
    expect(await a.next()).toEqual([ERROR, Register, request, {}, 'wamp.error.invalid_uri', [expect.stringContaining('reserved')]]);
  });

  it('a callee leaving answers every call pending on it with wamp.error.canceled at once', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url);
    const c1 = await RawPeer.join(router.url);
    const c2 = await RawPeer.join(router.url, 'cbor');
    callee.send([Register, callee.nextRequest(), {}, 'com.slow']);
    await callee.next();
    const r1 = c1.nextRequest();
    const r2 = c2.nextRequest();
    c1.send([Call, r1, {}, 'com.slow']);
    c2.send([Call, r2, {}, 'com.slow']);
    await callee.next();
    await callee.next();
    callee.ws.terminate();
    expect(await c1.next(1000)).toEqual([ERROR, Call, r1, {}, 'wamp.error.canceled', [expect.any(String)]]);
    expect(await c2.next(1000)).toEqual([ERROR, Call, r2, {}, 'wamp.error.canceled', [expect.any(String)]]);
    // And the procedure is gone.
    const r3 = c1.nextRequest();
    c1.send([Call, r3, {}, 'com.slow']);
    expect((await c1.next())[4]).toBe('wamp.error.no_such_procedure');
  });

  it('a caller leaving: the late YIELD is dropped and the callee keeps working', async () => {
    const router = await startTestRouter();
    const callee = await RawPeer.join(router.url);
    const gone = await RawPeer.join(router.url);
    const stays = await RawPeer.join(router.url);
    callee.send([Register, callee.nextRequest(), {}, 'com.echo']);
    await callee.next();
    gone.send([Call, gone.nextRequest(), {}, 'com.echo', ['late']]);
    const [, lateInvocation] = await callee.next();
    gone.ws.terminate();
    await gone.waitClosed();
    callee.send([Yield, lateInvocation, {}, ['late']]);
    const request = stays.nextRequest();
    stays.send([Call, request, {}, 'com.echo', ['on time']]);
    const [, invocation, , , args] = await callee.next();
    expect(invocation).toBe((lateInvocation as number) + 1);
    callee.send([Yield, invocation, {}, args]);
    expect(await stays.next()).toEqual([Result, request, {}, ['on time']]);
  });
});
