/**
 * The realm's side of detached sessions (session resumption) on fake endpoints, no sockets, no
 * clock: the dealer never picks a detached callee (single → wamp.error.session_unattached; shared
 * policies choose among the attached ones), the invocations a session served end at its detach and
 * its late answers are dropped, the meta events wamp.session.on_attach / on_detach, testaments of
 * scope `detached` at the detach and `destroyed` at the leave, and what wamp.session.get tells of
 * a resumable session. The tests flip `attached` and call realm.detach / realm.attach as session.ts
 * does. [ap_session_resumption, ap_shared_registration, ap_pubsub_testament, ap_session_meta_api]
 */
import { describe, expect, it } from 'vitest';
import type { Call, ErrorMessage, MessageCode as Code, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import type { Endpoint, HoldLimits, SendOutcome, SharedEvent } from '../../src/core/endpoint.js';
import { sessionDetails } from '../../src/core/sessions.js';
import { HeldEvents } from '../../src/core/hold.js';
import { InvocationRelays } from '../../src/cluster/relays.js';
import { Dealer } from '../../src/dealer/dealer.js';
import type { InvocationPolicy } from '../../src/dealer/dealer.js';
import { silentLogger } from '../../src/log.js';
import { installMetaApi } from '../../src/meta/index.js';
import { Realm } from '../../src/realm.js';
import type { TestamentRecord } from '../../src/realm-hooks.js';
import { RouterStats } from '../../src/stats.js';

let nextId = 0;

type Fake = Endpoint & { sent: WampMessage[]; violations: string[]; attached: boolean; resumable: boolean; live: boolean };

/** A session that keeps what it is sent; `attached` and `resumable` are the test's to flip. */
function endpoint(options: { authprovider?: string; resumable?: boolean } = {}): Fake {
  const sent: WampMessage[] = [];
  const violations: string[] = [];
  const identity = { authid: `user${nextId + 1}`, authrole: 'user', authmethod: 'anonymous', authprovider: options.authprovider ?? 'static' };
  return {
    id: ++nextId as SessionId,
    identity,
    authid: identity.authid,
    authrole: identity.authrole,
    membership: {},
    roles: {},
    transport: { type: 'test', protocol: 'wamp.2.json', peer: 'test:1' },
    serializer: 'json',
    live: true,
    attached: true,
    resumable: options.resumable ?? true,
    sent,
    violations,
    supports: () => true,
    outboundRoom: Number.POSITIVE_INFINITY,
    send(msg: WampMessage): SendOutcome {
      sent.push(msg);
      return 'sent';
    },
    sendError(requestType: Code, request: RequestId, error: string, message?: string): void {
      const err: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error };
      if (message !== undefined) err.args = [message];
      sent.push(err);
    },
    sendEvent(event: SharedEvent): SendOutcome {
      sent.push(event.message());
      return 'sent';
    },
    hold: (_subscription: SubscriptionId, limits: HoldLimits) =>
      new HeldEvents(limits, { bytes: () => 0, send: (event) => void sent.push(event.message()), done: () => undefined }),
    unhold: () => undefined,
    protocolViolation: (message: string) => void violations.push(message),
    abort: () => undefined,
    goodbye: () => undefined,
  };
}

const req = (n: number): RequestId => n as RequestId;

function realmWithMeta(): { realm: Realm; stats: RouterStats } {
  const stats = new RouterStats();
  const realm = new Realm({ name: 'realm1', uriCheck: 'loose' }, silentLogger(), undefined, stats);
  installMetaApi(realm);
  return { realm, stats };
}

/** Detaches a member as session.ts does: `attached` false first, then the realm hears. */
function detach(realm: Realm, s: Fake): void {
  s.attached = false;
  realm.detach(s);
}

function attach(realm: Realm, s: Fake): void {
  s.attached = true;
  realm.attach(s);
}

/** What `s` was sent since the last take. */
function take(s: Fake): WampMessage[] {
  return s.sent.splice(0);
}

function errors(messages: WampMessage[]): string[] {
  return messages.filter((m): m is ErrorMessage => m.code === MessageCode.Error).map((m) => m.error);
}

/** Lets the async router procedures (wamp.session.add_testament waits for the gate) answer. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the dealer never picks a detached callee', () => {
  /** Callees A, B, C of one registration with `policy`; `random` draws from the given values. */
  function shared(policy: InvocationPolicy, draws: number[] = []) {
    const dealer = new Dealer<Fake>({ random: () => draws.shift() ?? 0 });
    const [a, b, c, caller] = [endpoint(), endpoint(), endpoint(), endpoint()];
    for (const s of policy === 'single' ? [a] : [a, b, c]) expect(dealer.register(s, 'com.p', { invoke: policy }).ok).toBe(true);
    let request = 0;
    const route = (): Fake | string => {
      const outcome = dealer.call(caller, req(++request), 'com.p');
      if (!outcome.ok) return outcome.error;
      dealer.end(outcome.call);
      return outcome.call.callee.session;
    };
    return { dealer, a, b, c, route };
  }

  it('a single registration whose callee is detached refuses with wamp.error.session_unattached, and routes again once it attaches', () => {
    const { a, route } = shared('single');
    a.attached = false;
    expect(route()).toBe(ErrorUri.SessionUnattached);
    a.attached = true;
    expect(route()).toBe(a);
  });

  it('roundrobin goes round the attached callees only', () => {
    const { a, b, c, route } = shared('roundrobin');
    expect(route()).toBe(a);
    b.attached = false;
    expect([route(), route(), route(), route()]).toEqual([c, a, c, a]);
    b.attached = true;
    expect([route(), route(), route()]).toEqual([b, c, a]);
  });

  it('first and last pick the first and the last attached callee', () => {
    const first = shared('first');
    first.a.attached = false;
    expect(first.route()).toBe(first.b);
    const last = shared('last');
    last.c.attached = false;
    expect(last.route()).toBe(last.b);
    last.b.attached = false;
    expect(last.route()).toBe(last.a);
  });

  it('random draws again among the attached callees (uniform over them)', () => {
    // 0.5 draws B (detached): drawn again among [A, C], 0.75 → C; then 0.1 → A at once.
    const { b, a, c, route } = shared('random', [0.5, 0.75, 0.1]);
    b.attached = false;
    expect(route()).toBe(c);
    expect(route()).toBe(a);
  });

  it.each(['roundrobin', 'random', 'first', 'last'] as const)('%s with every callee detached refuses with session_unattached', (policy) => {
    const { a, b, c, route } = shared(policy, [0.3, 0.6]);
    for (const s of [a, b, c]) s.attached = false;
    expect(route()).toBe(ErrorUri.SessionUnattached);
  });

  it('with maxInvocationsPerCallee, a busy attached callee is passed over for an attached one, never for a detached one', () => {
    const dealer = new Dealer<Fake>({ maxInvocationsPerCallee: 1 });
    const [a, b, c, caller] = [endpoint(), endpoint(), endpoint(), endpoint()];
    for (const s of [a, b, c]) dealer.register(s, 'com.p', { invoke: 'first' });
    b.attached = false;
    const first = dealer.call(caller, req(1), 'com.p');
    const second = dealer.call(caller, req(2), 'com.p');
    expect(first.ok && first.call.callee.session).toBe(a);
    expect(second.ok && second.call.callee.session).toBe(c);
    // Every attached callee busy: a quota, not session_unattached.
    const third = dealer.call(caller, req(3), 'com.p');
    expect(!third.ok && third.error).toBe('switchboard.error.limit_exceeded');
  });

  it('detachCallee forgets the invocations the session serves (their IDs stay issued) and keeps its registrations and its calls as caller', () => {
    const dealer = new Dealer<Fake>();
    const [callee, caller, other] = [endpoint(), endpoint(), endpoint()];
    dealer.register(callee, 'com.p');
    dealer.register(other, 'com.q');
    const served = dealer.call(caller, req(1), 'com.p');
    const made = dealer.call(callee, req(7), 'com.q');
    if (!served.ok || !made.ok) throw new Error('not routed');
    expect(dealer.detachCallee(callee)).toEqual([served.call]);
    expect(dealer.pendingInvocation(callee, served.call.invocationRequest)).toBeUndefined();
    expect(dealer.pendingCall(caller, req(1))).toBeUndefined();
    expect(dealer.wasIssued(callee, served.call.invocationRequest)).toBe(true);
    expect(dealer.pendingCall(callee, req(7))).toBe(made.call);
    expect([...dealer.registrationsOf(callee)].map((r) => r.procedure)).toEqual(['com.p']);
    expect(dealer.detachCallee(callee)).toEqual([]);
  });
});

describe('calls at a detach', () => {
  it('the invocations a session served end for their callers with session_unattached; its late YIELD is dropped, no protocol violation', () => {
    const { realm, stats } = realmWithMeta();
    const [callee, caller] = [endpoint(), endpoint()];
    realm.join(callee);
    realm.join(caller);
    realm.rpc.onRegister(callee, { code: MessageCode.Register, request: req(1), options: {}, procedure: 'com.p' });
    realm.rpc.onCall(caller, { code: MessageCode.Call, request: req(1), options: {}, procedure: 'com.p' }, { kind: 'new' });
    const invocation = take(callee).find((m) => m.code === MessageCode.Invocation);
    if (invocation?.code !== MessageCode.Invocation) throw new Error('no INVOCATION');

    detach(realm, callee);
    expect(take(caller)).toEqual([
      {
        code: MessageCode.Error,
        requestType: MessageCode.Call,
        request: 1,
        details: {},
        error: ErrorUri.SessionUnattached,
        args: ['the callee detached before answering'],
      },
    ]);
    // No INTERRUPT to a session without a transport.
    expect(take(callee)).toEqual([]);
    expect(stats.callsUnattached.get('callee_detached')).toBe(1);

    // Resumed, the callee answers late: session.ts finds the ID issued (no violation), the answer is dropped.
    attach(realm, callee);
    expect(realm.dealer.wasIssued(callee, invocation.request)).toBe(true);
    realm.rpc.onCalleeAnswer(callee, { code: MessageCode.Yield, request: invocation.request, options: {}, args: ['late'] });
    expect(take(caller)).toEqual([]);
    expect(callee.violations).toEqual([]);
    // Its registration stayed: the next call reaches it.
    realm.rpc.onCall(caller, { code: MessageCode.Call, request: req(2), options: {}, procedure: 'com.p' }, { kind: 'new' });
    expect(take(callee).map((m) => m.code)).toEqual([MessageCode.Invocation]);
  });

  it("a detached session's calls as caller go on: the answer is sent to it", () => {
    const { realm } = realmWithMeta();
    const [callee, caller] = [endpoint(), endpoint()];
    realm.join(callee);
    realm.join(caller);
    realm.rpc.onRegister(callee, { code: MessageCode.Register, request: req(1), options: {}, procedure: 'com.p' });
    realm.rpc.onCall(caller, { code: MessageCode.Call, request: req(5), options: {}, procedure: 'com.p' }, { kind: 'new' });
    const invocation = take(callee).find((m) => m.code === MessageCode.Invocation);
    if (invocation?.code !== MessageCode.Invocation) throw new Error('no INVOCATION');
    detach(realm, caller);
    expect(take(caller)).toEqual([]);
    realm.rpc.onCalleeAnswer(callee, { code: MessageCode.Yield, request: invocation.request, options: {}, args: [42] });
    expect(take(caller)).toEqual([{ code: MessageCode.Result, request: 5, details: {}, args: [42] }]);
  });

  it('a progressive call invocation streaming to the callee ends the same way; its later chunks are late ones', () => {
    const { realm } = realmWithMeta();
    const [callee, caller] = [endpoint(), endpoint()];
    realm.join(callee);
    realm.join(caller);
    realm.rpc.onRegister(callee, { code: MessageCode.Register, request: req(1), options: {}, procedure: 'com.stream' });
    const chunk = (progress: boolean) => ({ code: MessageCode.Call, request: req(3), options: { progress }, procedure: 'com.stream' }) as const;
    realm.rpc.onCall(caller, chunk(true), realm.calls.classify(caller, chunk(true), 3));
    expect(take(callee).map((m) => m.code)).toEqual([MessageCode.Registered, MessageCode.Invocation]);
    detach(realm, callee);
    expect(errors(take(caller))).toEqual([ErrorUri.SessionUnattached]);
    expect(realm.calls.classify(caller, chunk(false), 3)).toEqual({ kind: 'late' });
  });

  it('a CALL to a single registration of a detached callee gets session_unattached, counted; shared ones skip it', () => {
    const { realm, stats } = realmWithMeta();
    const [single, sharedA, sharedB, caller] = [endpoint(), endpoint(), endpoint(), endpoint()];
    for (const s of [single, sharedA, sharedB, caller]) realm.join(s);
    realm.rpc.onRegister(single, { code: MessageCode.Register, request: req(1), options: {}, procedure: 'com.single' });
    realm.rpc.onRegister(sharedA, { code: MessageCode.Register, request: req(1), options: { invoke: 'roundrobin' }, procedure: 'com.shared' });
    realm.rpc.onRegister(sharedB, { code: MessageCode.Register, request: req(1), options: { invoke: 'roundrobin' }, procedure: 'com.shared' });
    detach(realm, single);
    detach(realm, sharedA);
    realm.rpc.onCall(caller, { code: MessageCode.Call, request: req(1), options: {}, procedure: 'com.single' }, { kind: 'new' });
    expect(take(caller)).toMatchObject([{ code: MessageCode.Error, request: 1, error: ErrorUri.SessionUnattached }]);
    expect(stats.callsUnattached.get('no_attached_callee')).toBe(1);
    for (const n of [2, 3, 4]) realm.rpc.onCall(caller, { code: MessageCode.Call, request: req(n), options: {}, procedure: 'com.shared' }, { kind: 'new' });
    expect(take(sharedB).filter((m) => m.code === MessageCode.Invocation)).toHaveLength(3);
    expect(take(sharedA).filter((m) => m.code === MessageCode.Invocation)).toHaveLength(0);
  });
});

describe('meta events wamp.session.on_attach / on_detach', () => {
  /** A listener on the session meta events: each event's topic and first argument, in order. */
  function listening(realm: Realm) {
    const listener = endpoint({ resumable: false });
    realm.join(listener);
    const topics = ['wamp.session.on_attach', 'wamp.session.on_detach', 'wamp.session.on_join', 'wamp.session.on_leave'];
    const byId = new Map<number, string>();
    topics.forEach((topic, i) => {
      realm.pubsub.onSubscribe(listener, { code: MessageCode.Subscribe, request: req(i + 1), options: {}, topic });
      const subscribed = listener.sent[listener.sent.length - 1];
      if (subscribed?.code !== MessageCode.Subscribed) throw new Error('not subscribed');
      byId.set(subscribed.subscription, topic.slice('wamp.session.'.length));
    });
    take(listener);
    return (): [string, unknown][] =>
      take(listener).flatMap((m) => (m.code === MessageCode.Event ? [[byId.get(m.subscription) ?? '?', (m.args as unknown[])[0]] as [string, unknown]] : []));
  }

  it('on_attach before on_join, on_detach and on_attach (resumed) at a detach and a resume, on_detach before on_leave', () => {
    const { realm } = realmWithMeta();
    const events = listening(realm);
    const s = endpoint();
    const base = { session: s.id, authid: s.identity?.authid, authrole: 'user', authmethod: 'anonymous', authprovider: 'static', resumable: true };
    realm.join(s);
    expect(events()).toEqual([
      ['on_attach', { ...base, transport: expect.any(Object), attached: true, resumed: false }],
      ['on_join', { ...base, transport: expect.any(Object), attached: true }],
    ]);
    detach(realm, s);
    expect(events()).toEqual([['on_detach', { ...base, transport: expect.any(Object), attached: false }]]);
    attach(realm, s);
    expect(events()).toEqual([['on_attach', { ...base, transport: expect.any(Object), attached: true, resumed: true }]]);
    realm.leave(s);
    expect(events()).toEqual([
      ['on_detach', { ...base, transport: expect.any(Object), attached: false }],
      ['on_leave', s.id],
    ]);
  });

  it('a detached session that expires: on_leave only; a silent leave (kill_all): nothing', () => {
    const { realm } = realmWithMeta();
    const events = listening(realm);
    const expiring = endpoint();
    const killed = endpoint();
    realm.join(expiring);
    realm.join(killed);
    events();
    detach(realm, expiring);
    events();
    realm.leave(expiring);
    expect(events()).toEqual([['on_leave', expiring.id]]);
    realm.leave(killed, true);
    expect(events()).toEqual([]);
  });

  it("a session that is not resumable gets the same events with on_join's details; the router's own sessions none", () => {
    const { realm } = realmWithMeta();
    const events = listening(realm);
    const plain = endpoint({ resumable: false });
    realm.join(plain);
    const joined = events();
    expect(joined.map(([e]) => e)).toEqual(['on_attach', 'on_join']);
    expect(joined[0]?.[1]).toEqual({ ...sessionDetails(plain), resumed: false });
    expect(joined[0]?.[1]).not.toHaveProperty('attached');
    realm.leave(plain);
    expect(events()).toEqual([
      ['on_detach', sessionDetails(plain)],
      ['on_leave', plain.id],
    ]);
    const own = endpoint({ authprovider: 'router', resumable: false });
    realm.join(own);
    realm.leave(own);
    expect(events()).toEqual([]);
  });

  it('WELCOME announces broker feature session_resumption_meta_api', () => {
    const { realm } = realmWithMeta();
    const identity = { authid: 'a', authrole: 'user', authmethod: 'anonymous', authprovider: 'static' };
    expect(realm.welcomeDetails(identity)['roles']).toMatchObject({ broker: { features: { session_resumption_meta_api: true } } });
  });
});

describe('wamp.session.get of a resumable session', () => {
  it('adds resumable and attached (false while detached); other sessions are unchanged', async () => {
    const { realm } = realmWithMeta();
    const [resumable, plain, asker] = [endpoint(), endpoint({ resumable: false }), endpoint({ resumable: false })];
    for (const s of [resumable, plain, asker]) realm.join(s);
    const get = async (id: SessionId): Promise<unknown> => {
      realm.rpc.onCall(asker, { code: MessageCode.Call, request: req(id), options: {}, procedure: 'wamp.session.get', args: [id] }, { kind: 'new' });
      await settle();
      const result = take(asker).find((m) => m.code === MessageCode.Result);
      return result?.code === MessageCode.Result ? result.args?.[0] : undefined;
    };
    expect(await get(resumable.id)).toMatchObject({ session: resumable.id, resumable: true, attached: true });
    detach(realm, resumable);
    expect(await get(resumable.id)).toMatchObject({ session: resumable.id, resumable: true, attached: false });
    const details = await get(plain.id);
    expect(details).toEqual({
      session: plain.id,
      authid: plain.identity?.authid,
      authrole: 'user',
      authmethod: 'anonymous',
      authprovider: 'static',
      transport: { type: 'test', protocol: 'wamp.2.json', peer: 'test:1' },
    });
  });
});

describe('testaments of scope detached and destroyed', () => {
  /** A realm with a subscriber to `com.will.*` (prefix) and what the cluster's hook is told. */
  async function setup() {
    const { realm } = realmWithMeta();
    const stored: TestamentRecord[][] = [];
    realm.observe({ onTestaments: (_s, list) => void stored.push([...list]) });
    const watcher = endpoint({ resumable: false });
    const s = endpoint();
    realm.join(watcher);
    realm.join(s);
    realm.pubsub.onSubscribe(watcher, { code: MessageCode.Subscribe, request: req(1), options: { match: 'prefix' }, topic: 'com.will' });
    take(watcher);
    let request = 0;
    const add = async (topic: string, scope: 'detached' | 'destroyed'): Promise<void> => {
      const call: Call = {
        code: MessageCode.Call,
        request: req(++request),
        options: {},
        procedure: 'wamp.session.add_testament',
        args: [topic, [], {}, { scope }],
      };
      realm.rpc.onCall(s, call, { kind: 'new' });
      await settle();
      expect(take(s).map((m) => m.code)).toEqual([MessageCode.Result]);
    };
    await add('com.will.d1', 'detached');
    await add('com.will.x1', 'destroyed');
    await add('com.will.d2', 'detached');
    stored.length = 0;
    const published = (): string[] => take(watcher).flatMap((m) => (m.code === MessageCode.Event ? [String(m.details['topic'])] : []));
    return { realm, s, stored, published };
  }

  it('a detach publishes the detached ones, in order, once, and clears them; the destroyed ones wait for the end', async () => {
    const { realm, s, stored, published } = await setup();
    detach(realm, s);
    expect(published()).toEqual(['com.will.d1', 'com.will.d2']);
    expect(stored.map((l) => l.map((t) => t.topic))).toEqual([['com.will.x1']]);
    attach(realm, s);
    detach(realm, s);
    expect(published()).toEqual([]);
    // Expiry: the session leaves detached.
    realm.leave(s);
    expect(published()).toEqual(['com.will.x1']);
    expect(stored.at(-1)).toEqual([]);
  });

  it('an attached session closing publishes the detached ones (from on_detach), then the destroyed ones, each once', async () => {
    const { realm, s, stored, published } = await setup();
    realm.leave(s);
    expect(published()).toEqual(['com.will.d1', 'com.will.d2', 'com.will.x1']);
    expect(stored.map((l) => l.map((t) => t.topic))).toEqual([['com.will.x1'], []]);
  });

  it('a silent leave (kill_all) publishes none', async () => {
    const { realm, s, published } = await setup();
    realm.leave(s, true);
    expect(published()).toEqual([]);
  });
});

describe("a cluster node's invocations relayed to a detached callee", () => {
  it('end at the detach with session_unattached to the caller node; one relayed later is refused the same way; the late answer is not taken', () => {
    const callee = endpoint();
    const answers: unknown[][] = [];
    let next = 100;
    const relays = new InvocationRelays(
      {
        sessions: new Map([[callee.id, callee]]),
        registrationOf: (procedure) => (procedure === 'com.p' ? { id: 42 as never, callees: [{ session: callee }] } : undefined),
        reserveInvocationId: () => next++ as RequestId,
      },
      (_node, _session, wire) => (answers.push(wire), true),
    );
    relays.toCallee('n2', callee.id, 'exact', 'com.p', [MessageCode.Invocation, 7, 999, {}, []]);
    expect(take(callee).map((m) => m.code)).toEqual([MessageCode.Invocation]);
    callee.attached = false;
    relays.detached(callee);
    relays.toCallee('n2', callee.id, 'exact', 'com.p', [MessageCode.Invocation, 8, 999, {}, []]);
    expect(take(callee)).toEqual([]);
    expect(answers).toEqual([
      [MessageCode.Error, MessageCode.Invocation, 7, {}, ErrorUri.SessionUnattached, ['the callee detached before answering']],
      [MessageCode.Error, MessageCode.Invocation, 8, {}, ErrorUri.SessionUnattached, ['the callee is detached (its session may resume)']],
    ]);
    expect(relays.takeAnswer(callee, { code: MessageCode.Yield, request: 100 as RequestId, options: {} })).toBe(false);
  });
});
