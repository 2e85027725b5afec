/**
 * Type tests for the router's own contract (meta-api.ts): a typed session calls the meta API and
 * subscribes to meta events besides its own contract, with the router's shapes; wrong arguments
 * are type errors; the app's own contract still works, and wins for a URI it declares itself.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type {
  MetaApi,
  MetaRegistrationDetails,
  MetaRouteIds,
  MetaSessionDetails,
  MetaStoredEvent,
  MetaSubscriptionDetails,
  RouterStats,
  Session,
  Subscription,
} from '@switchboard/client';

interface Api {
  procedures: {
    'com.example.add': { args: [number, number]; result: number };
  };
  topics: {
    'chat.message': { args: [string] };
  };
}

/** An app that declares a meta URI itself (its own, narrower view of wamp.session.get). */
interface Overriding {
  procedures: {
    'wamp.session.get': { args: [session: number]; result: { authid: string } };
  };
}

declare const session: Session<Api>;
declare const bare: Session<{ procedures: { 'a.b': { result: string } } }>;
declare const overriding: Session<Overriding>;
declare const untyped: Session;
declare const meta: Session<MetaApi>;

describe('the meta API on a typed session', () => {
  it('types the session procedures', () => {
    expectTypeOf(session.call('wamp.session.count')).resolves.toEqualTypeOf<number>();
    expectTypeOf(session.call('wamp.session.count', [['admin']])).resolves.toEqualTypeOf<number>();
    expectTypeOf(session.call('wamp.session.list')).resolves.toEqualTypeOf<number[]>();
    expectTypeOf(session.call('wamp.session.get', [42])).resolves.toEqualTypeOf<MetaSessionDetails>();
    expectTypeOf(session.call('wamp.session.kill', [42], { reason: 'wamp.close.killed', message: 'bye' })).resolves.toEqualTypeOf<undefined>();
    expectTypeOf(session.call('wamp.session.kill_by_authrole', ['guest'])).resolves.toEqualTypeOf<number>();
    expectTypeOf(session.call('wamp.session.kill_all')).resolves.toEqualTypeOf<number>();
    expectTypeOf(session.call('wamp.session.add_testament', ['app.gone', ['bye'], {}], { scope: 'destroyed' })).resolves.toEqualTypeOf<undefined>();
    expectTypeOf(bare.call('wamp.session.count')).resolves.toEqualTypeOf<number>();
  });

  it('types the subscription and registration procedures, event history and stats', async () => {
    expectTypeOf(session.call('wamp.subscription.list')).resolves.toEqualTypeOf<MetaRouteIds>();
    expectTypeOf(session.call('wamp.subscription.lookup', ['chat.', { match: 'prefix' }])).resolves.toEqualTypeOf<number | null>();
    expectTypeOf(session.call('wamp.subscription.match', ['chat.message'])).resolves.toEqualTypeOf<number[] | null>();
    expectTypeOf(session.call('wamp.subscription.get', [1])).resolves.toEqualTypeOf<MetaSubscriptionDetails>();
    expectTypeOf(session.call('wamp.subscription.get_events', [1], { limit: 10, reverse: true })).resolves.toEqualTypeOf<MetaStoredEvent[]>();
    expectTypeOf(session.call('wamp.registration.match', ['com.example.add'])).resolves.toEqualTypeOf<number | null>();
    expectTypeOf(session.call('wamp.registration.get', [1])).resolves.toEqualTypeOf<MetaRegistrationDetails>();
    expectTypeOf(session.call('wamp.registration.count_callees', [1])).resolves.toEqualTypeOf<number>();
    expectTypeOf(session.call('switchboard.router.stats')).resolves.toEqualTypeOf<RouterStats>();
    const details = await session.call('wamp.registration.get', [1]);
    expectTypeOf(details.invoke).toEqualTypeOf<'single' | 'roundrobin' | 'random' | 'first' | 'last'>();
    expectTypeOf(details.match).toEqualTypeOf<'exact' | 'prefix' | 'wildcard'>();
  });

  it('rejects wrong meta arguments at compile time', () => {
    // @ts-expect-error: a session ID is a number
    void session.call('wamp.session.get', ['42']);
    // @ts-expect-error: the session ID is required
    void session.call('wamp.session.get');
    // @ts-expect-error: filter_authroles is a list of strings
    void session.call('wamp.session.count', ['admin']);
    // @ts-expect-error: kill takes reason and message, nothing else
    void session.call('wamp.session.kill', [1], { why: 'x' });
    // @ts-expect-error: no such meta procedure
    void session.call('wamp.session.counts');
    // @ts-expect-error: unknown event-history filter
    void session.call('wamp.subscription.get_events', [1], { newest: true });
    // @ts-expect-error: a match policy is exact, prefix or wildcard
    void session.call('wamp.subscription.lookup', ['a', { match: 'regex' }]);
  });

  it('types the meta events', () => {
    void session.subscribe('wamp.session.on_join', ([details]) => {
      expectTypeOf(details).toEqualTypeOf<MetaSessionDetails>();
      expectTypeOf(details.transport.protocol).toEqualTypeOf<string>();
    });
    void session.subscribe('wamp.session.on_leave', (args) => {
      expectTypeOf(args).toEqualTypeOf<[session: number, authid: string, authrole: string]>();
    });
    void session.subscribe('wamp.registration.on_create', ([sessionId, details]) => {
      expectTypeOf(sessionId).toEqualTypeOf<number>();
      expectTypeOf(details).toEqualTypeOf<MetaRegistrationDetails>();
    });
    expectTypeOf(session.subscribe('wamp.subscription.on_subscribe')).resolves.toEqualTypeOf<
      Subscription<[session: number, subscription: number], Record<string, never>>
    >();
    // @ts-expect-error: on_join carries one details dict
    void session.subscribe('wamp.session.on_join', (args: [number]) => void args);
  });

  it('is for calling and subscribing only: the router refuses to let a client provide or publish wamp.*', () => {
    // @ts-expect-error: not a procedure of the app's contract
    void session.register('wamp.session.count', () => 1);
    // @ts-expect-error: not a topic of the app's contract
    void session.publish('wamp.session.on_join', []);
  });
});

describe('merged with the app contract', () => {
  it("keeps the app's own procedures and topics", () => {
    expectTypeOf(session.call('com.example.add', [1, 2])).resolves.toEqualTypeOf<number>();
    // @ts-expect-error: still checked against the app's contract
    void session.call('com.example.add', [1, '2']);
    // @ts-expect-error: still no unknown URIs
    void session.call('com.example.nope');
    void session.subscribe('chat.message', (args) => {
      expectTypeOf(args).toEqualTypeOf<[string]>();
    });
  });

  it("an app's own entry for a meta URI wins", () => {
    expectTypeOf(overriding.call('wamp.session.get', [1])).resolves.toEqualTypeOf<{ authid: string }>();
    expectTypeOf(overriding.call('wamp.session.count')).resolves.toEqualTypeOf<number>();
  });

  it('an untyped session stays untyped; MetaApi alone is a contract too', () => {
    expectTypeOf(untyped.call('wamp.session.count')).resolves.toEqualTypeOf<unknown>();
    expectTypeOf(meta.call('wamp.session.list')).resolves.toEqualTypeOf<number[]>();
  });
});
