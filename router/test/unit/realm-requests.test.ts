/**
 * The realm's request handling without sockets (realm/pubsub.ts, realm/rpc.ts, realm/requests.ts,
 * realm/filter.ts, Quotas): one refusal convention (an OverLimit answered once, with kwargs, and
 * counted), the shared route checks, the route observers told alike for subscriptions and
 * registrations, the recipient filter. Fake endpoints, no clock.
 */
import { describe, expect, it } from 'vitest';
import type { Dict, ErrorMessage, MessageCode as Code, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { NO_FILTER } from '../../src/broker/broker.js';
import type { Endpoint, HoldLimits, SendOutcome, SharedEvent } from '../../src/core/endpoint.js';
import { HeldEvents } from '../../src/core/hold.js';
import { LIMIT_EXCEEDED, overLimit, refusal, refusalMessage } from '../../src/core/outcome.js';
import { silentLogger } from '../../src/log.js';
import { Realm } from '../../src/realm.js';
import type { RealmLimits } from '../../src/limits.js';
import { recipientFilter } from '../../src/realm/filter.js';
import { matchRefusal, patternRefusal, routeId } from '../../src/realm/requests.js';
import { RouterStats } from '../../src/stats.js';

let nextId = 0;

/** A joined session that keeps what it is sent. */
function endpoint(authprovider = 'static'): Endpoint & { sent: WampMessage[]; violations: string[] } {
  const sent: WampMessage[] = [];
  const violations: string[] = [];
  const identity = { authid: 'alice', authrole: 'user', authmethod: 'anonymous', authprovider };
  const self = {
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
  return self;
}

function realmWith(limits: Partial<RealmLimits> = {}): { realm: Realm; stats: RouterStats } {
  const stats = new RouterStats();
  return { realm: new Realm({ name: 'realm1', uriCheck: 'loose', limits }, silentLogger(), undefined, stats), stats };
}

const req = (n: number): RequestId => n as RequestId;

describe('one refusal convention', () => {
  it('an OverLimit is a Refusal with a message and the limit; its ERROR carries kwargs {limit, value}', () => {
    const refused = overLimit({ limit: 'maxUriLength', value: 8 });
    expect(refused).toEqual({ ok: false, error: LIMIT_EXCEEDED, message: 'limit maxUriLength (8) reached', limit: { limit: 'maxUriLength', value: 8 } });
    expect(refusalMessage(MessageCode.Subscribe, req(3), refused)).toEqual({
      code: MessageCode.Error,
      requestType: MessageCode.Subscribe,
      request: 3,
      details: {},
      error: LIMIT_EXCEEDED,
      args: ['limit maxUriLength (8) reached'],
      kwargs: { limit: 'maxUriLength', value: 8 },
    });
    // Any other refusal: its message as the only argument, no kwargs.
    expect(refusalMessage(MessageCode.Call, req(4), refusal(ErrorUri.NoSuchProcedure, 'no'))).toEqual({
      code: MessageCode.Error,
      requestType: MessageCode.Call,
      request: 4,
      details: {},
      error: ErrorUri.NoSuchProcedure,
      args: ['no'],
    });
  });

  it('quotas answer with a refusal and send nothing; the realm answers once and counts', () => {
    const { realm, stats } = realmWith({ maxSubscriptionsPerSession: 1, maxUriLength: 20 });
    const s = endpoint();
    expect(realm.quotas.refusesUri('x'.repeat(21))).toEqual(overLimit({ limit: 'maxUriLength', value: 20 }));
    expect(realm.quotas.refusesUri('x'.repeat(20))).toBeUndefined();
    expect(s.sent).toEqual([]);

    realm.join(s);
    realm.pubsub.onSubscribe(s, { code: MessageCode.Subscribe, request: req(1), options: {}, topic: 'com.a' });
    realm.pubsub.onSubscribe(s, { code: MessageCode.Subscribe, request: req(2), options: {}, topic: 'com.b' });
    expect(s.sent[1]).toEqual(refusalMessage(MessageCode.Subscribe, req(2), overLimit({ limit: 'maxSubscriptionsPerSession', value: 1 })));
    expect(stats.limitsExceeded.get('maxSubscriptionsPerSession')).toBe(1);
    // Subscribing again to what it holds adds nothing, so it is no refusal.
    realm.pubsub.onSubscribe(s, { code: MessageCode.Subscribe, request: req(3), options: {}, topic: 'com.a' });
    expect(s.sent[2]).toMatchObject({ code: MessageCode.Subscribed, request: 3 });
  });

  it('an unacknowledged PUBLISH over maxUriLength is counted and not answered', () => {
    const { realm, stats } = realmWith({ maxUriLength: 5 });
    const s = endpoint();
    realm.join(s);
    realm.pubsub.onPublish(s, { code: MessageCode.Publish, request: req(1), options: {}, topic: 'com.toolong' });
    expect(s.sent).toEqual([]);
    realm.pubsub.onPublish(s, { code: MessageCode.Publish, request: req(2), options: { acknowledge: true }, topic: 'com.toolong' });
    expect(s.sent).toEqual([refusalMessage(MessageCode.Publish, req(2), overLimit({ limit: 'maxUriLength', value: 5 }))]);
    expect(stats.limitsExceeded.get('maxUriLength')).toBe(2);
  });

  it("the router's own session has no quota", () => {
    const { realm } = realmWith({ maxSubscriptionsPerSession: 0, maxRegistrationsPerSession: 0 });
    const router = endpoint('router');
    expect(realm.quotas.refusesSubscribe(router, { code: MessageCode.Subscribe, request: req(1), options: {}, topic: 'com.a' })).toBeUndefined();
    expect(realm.quotas.refusesRegister(router)).toBeUndefined();
    expect(realm.quotas.refusesRegister(endpoint())).toEqual(overLimit({ limit: 'maxRegistrationsPerSession', value: 0 }));
    expect(realm.quotas.callLimit(router)).toBeUndefined();
  });

  it('REGISTER over its quota, and CALL to nothing, get the one ERROR shape', () => {
    const { realm, stats } = realmWith({ maxRegistrationsPerSession: 1 });
    const s = endpoint();
    realm.join(s);
    realm.rpc.onRegister(s, { code: MessageCode.Register, request: req(1), options: {}, procedure: 'com.p' });
    realm.rpc.onRegister(s, { code: MessageCode.Register, request: req(2), options: {}, procedure: 'com.q' });
    expect(s.sent[1]).toEqual(refusalMessage(MessageCode.Register, req(2), overLimit({ limit: 'maxRegistrationsPerSession', value: 1 })));
    expect(stats.limitsExceeded.get('maxRegistrationsPerSession')).toBe(1);
    const caller = endpoint();
    realm.join(caller);
    realm.rpc.onCall(caller, { code: MessageCode.Call, request: req(1), options: {}, procedure: 'com.none' }, { kind: 'new' });
    expect(caller.sent).toEqual([refusalMessage(MessageCode.Call, req(1), refusal(ErrorUri.NoSuchProcedure, "no callee registered for 'com.none'"))]);
  });
});

describe('what SUBSCRIBE and REGISTER share', () => {
  it('refuse an unknown match policy and an invalid pattern alike', () => {
    expect(matchRefusal({})).toBeUndefined();
    expect(matchRefusal({ match: 'prefix' })).toBeUndefined();
    expect(matchRefusal({ match: 'regex' })).toEqual(refusal(ErrorUri.InvalidArgument, "unknown match policy 'regex' (exact, prefix or wildcard)"));
    expect(patternRefusal('topic', 'com..a', 'exact', 'loose')).toEqual(refusal(ErrorUri.InvalidUri, "invalid topic URI 'com..a'"));
    expect(patternRefusal('procedure', 'com..a', 'wildcard', 'loose')).toBeUndefined();
    expect(patternRefusal('procedure', 'com. a', 'prefix', 'loose')).toEqual(refusal(ErrorUri.InvalidUri, "invalid procedure prefix pattern 'com. a'"));

    const { realm } = realmWith();
    const s = endpoint();
    realm.join(s);
    realm.pubsub.onSubscribe(s, { code: MessageCode.Subscribe, request: req(1), options: { match: 'regex' }, topic: 'com.a' });
    realm.rpc.onRegister(s, { code: MessageCode.Register, request: req(2), options: { match: 'regex' }, procedure: 'com.a' });
    expect(s.sent.map((m) => (m as ErrorMessage).args)).toEqual([
      ["unknown match policy 'regex' (exact, prefix or wildcard)"],
      ["unknown match policy 'regex' (exact, prefix or wildcard)"],
    ]);
  });

  it('derive one route ID per realm, kind, policy and URI, in [1, 2^53]', () => {
    const id = routeId('realm1', 'subscription', 'exact', 'com.a');
    expect(id).toBe(routeId('realm1', 'subscription', 'exact', 'com.a'));
    expect(id).not.toBe(routeId('realm1', 'registration', 'exact', 'com.a'));
    expect(id).not.toBe(routeId('realm1', 'subscription', 'prefix', 'com.a'));
    expect(id).not.toBe(routeId('realm2', 'subscription', 'exact', 'com.a'));
    expect(Number.isSafeInteger(id) && id >= 1 && id <= 2 ** 53).toBe(true);
  });

  it('tell observers of subscriptions and registrations in the same order, leaving included', () => {
    const { realm } = realmWith();
    const trace: string[] = [];
    realm.observe({
      onSubscriptionCreated: () => void trace.push('sub created'),
      onSubscribe: () => void trace.push('subscribe'),
      onUnsubscribe: () => void trace.push('unsubscribe'),
      onSubscriptionDeleted: () => void trace.push('sub deleted'),
      onRegistrationCreated: () => void trace.push('reg created'),
      onRegister: () => void trace.push('register'),
      onUnregister: () => void trace.push('unregister'),
      onRegistrationDeleted: () => void trace.push('reg deleted'),
    });
    const a = endpoint();
    const b = endpoint();
    realm.join(a);
    realm.join(b);
    realm.pubsub.onSubscribe(a, { code: MessageCode.Subscribe, request: req(1), options: {}, topic: 'com.t' });
    realm.pubsub.onSubscribe(b, { code: MessageCode.Subscribe, request: req(1), options: {}, topic: 'com.t' });
    realm.rpc.onRegister(a, { code: MessageCode.Register, request: req(2), options: {}, procedure: 'com.p' });
    const subscription = (a.sent[0] as { subscription: SubscriptionId }).subscription;
    realm.pubsub.onUnsubscribe(b, { code: MessageCode.Unsubscribe, request: req(3), subscription });
    realm.leave(a);
    expect(trace).toEqual([
      'sub created',
      'subscribe',
      'subscribe',
      'reg created',
      'register',
      'unsubscribe',
      'unsubscribe',
      'sub deleted',
      'unregister',
      'reg deleted',
    ]);
  });
});

describe('the recipient filter of PUBLISH.Options', () => {
  it('answers the two plain cases with the same objects, and refuses a malformed list by name', () => {
    const plain = recipientFilter({});
    expect(plain).toEqual({ ok: true, filter: NO_FILTER });
    expect(recipientFilter({})).toBe(plain);
    expect(recipientFilter({ exclude_me: false })).toEqual({ ok: true, filter: { excludeMe: false } });
    const listed = recipientFilter({ eligible: [1, 2], exclude_authrole: ['guest'] } as Dict);
    expect(listed.ok && [...(listed.filter.eligible ?? [])]).toEqual([1, 2]);
    expect(recipientFilter({ exclude: ['1'] })).toEqual(refusal(ErrorUri.InvalidArgument, 'exclude and eligible must be lists of session IDs'));
    expect(recipientFilter({ eligible_authid: 'alice' })).toEqual(
      refusal(ErrorUri.InvalidArgument, 'exclude_authid and eligible_authid must be lists of strings'),
    );
  });
});
