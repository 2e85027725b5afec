/**
 * Type tests for URI contracts: what must compile does, and what must not is marked
 * @ts-expect-error (which itself fails the type-check if the line compiles).
 */
import { describe, expectTypeOf, it } from 'vitest';
import type {
  CallResult,
  EventDetails,
  InvocationDetails,
  ProgressiveCall,
  PublicationId,
  Registration,
  Result,
  Session,
  Subscription,
} from '@switchboard/client';

interface Api {
  procedures: {
    'com.example.add': { args: [number, number]; result: number };
    'com.example.greet': { args: [name: string]; kwargs: { polite?: boolean }; result: string };
    'com.example.ping': { result: 'pong' };
    'com.example.search': { args: [query: string]; kwargs: { limit: number }; result: string[]; progress: [hit: string] };
  };
  topics: {
    'chat.message': { args: [string]; kwargs: { from: string } };
    'chat.typing': { args: [user: string] };
    'chat.tick': Record<never, never>;
  };
}

declare const session: Session<Api>;
declare const untyped: Session;

describe('call', () => {
  it('infers the result type from the contract', () => {
    expectTypeOf(session.call('com.example.add', [2, 3])).resolves.toEqualTypeOf<number>();
    expectTypeOf(session.call('com.example.greet', ['Ada'])).resolves.toEqualTypeOf<string>();
    expectTypeOf(session.call('com.example.greet', ['Ada'], { polite: true }, { timeout: 1000 })).resolves.toEqualTypeOf<string>();
    expectTypeOf(session.call('com.example.ping')).resolves.toEqualTypeOf<'pong'>();
  });

  it('rejects wrong URIs, argument types, arity and kwargs at compile time', () => {
    // @ts-expect-error: not a procedure of the contract
    void session.call('com.example.nope', []);
    // @ts-expect-error: a string where a number belongs
    void session.call('com.example.add', [1, '2']);
    // @ts-expect-error: one argument missing
    void session.call('com.example.add', [1]);
    // @ts-expect-error: arguments are required
    void session.call('com.example.add');
    // @ts-expect-error: unknown keyword argument
    void session.call('com.example.greet', ['Ada'], { rude: true });
    // @ts-expect-error: required kwargs missing
    void session.call('com.example.search', ['q']);
    // @ts-expect-error: a topic is not a procedure
    void session.call('chat.message', ['hi']);
  });

  it('types onProgress and progressive iteration from the contract', () => {
    void session.call(
      'com.example.search',
      ['q'],
      { limit: 5 },
      {
        onProgress: (args) => {
          expectTypeOf(args).toEqualTypeOf<[hit: string]>();
        },
      },
    );
    const stream = session.callStream('com.example.search', ['q'], { limit: 5 });
    expectTypeOf(stream).toEqualTypeOf<ProgressiveCall<[hit: string], string[]>>();
    expectTypeOf(stream.result).resolves.toEqualTypeOf<CallResult<string[]>>();
  });

  it('types the chunks of a progressive call invocation', () => {
    const input = session.callWithInput('com.example.search');
    input.send(['q'], { limit: 1 });
    // @ts-expect-error: a chunk carries the procedure's args
    input.send([1]);
    expectTypeOf(input.end()).resolves.toEqualTypeOf<CallResult<string[]>>();
  });
});

describe('register', () => {
  it('types the handler from the contract', () => {
    expectTypeOf(
      session.register('com.example.add', (args, kwargs, details) => {
        expectTypeOf(args).toEqualTypeOf<[number, number]>();
        expectTypeOf(kwargs).toEqualTypeOf<Record<string, never>>();
        expectTypeOf(details).toEqualTypeOf<InvocationDetails<[]>>();
        expectTypeOf(details.signal).toEqualTypeOf<AbortSignal>();
        return args[0] + args[1];
      }),
    ).resolves.toEqualTypeOf<Registration>();
    void session.register('com.example.search', async (args, kwargs, details) => {
      expectTypeOf(kwargs.limit).toEqualTypeOf<number>();
      details.progress([args[0]]);
      return [args[0]];
    });
    void session.register('com.example.greet', async ([name]) => `hello ${name}`);
  });

  it('rejects a handler returning the wrong type, or progress of the wrong type', () => {
    // @ts-expect-error: returns a string where the contract says number
    void session.register('com.example.add', () => 'three');
    void session.register('com.example.search', (_args, _kwargs, details) => {
      // @ts-expect-error: progress carries [hit: string]
      details.progress([42]);
      return [];
    });
    // @ts-expect-error: not a procedure of the contract
    void session.register('com.example.other', () => 1);
  });

  it('a Result answers with several values regardless of the contract', () => {
    void session.register('com.example.ping', () => ({}) as Result);
  });
});

describe('publish and subscribe', () => {
  it('checks topics and payloads', () => {
    expectTypeOf(session.publish('chat.message', ['hi'], { from: 'ada' }, { acknowledge: true })).resolves.toEqualTypeOf<PublicationId | undefined>();
    void session.publish('chat.typing', ['ada']);
    void session.publish('chat.tick');
    // @ts-expect-error: kwargs { from } are required
    void session.publish('chat.message', ['hi']);
    // @ts-expect-error: a number where a string belongs
    void session.publish('chat.message', [1], { from: 'ada' });
    // @ts-expect-error: not a topic of the contract
    void session.publish('chat.unknown', []);
    // @ts-expect-error: unknown publish option
    void session.publish('chat.typing', ['ada'], {}, { acknowledged: true });
  });

  it('types handlers and iterated events', async () => {
    void session.subscribe('chat.message', (args, kwargs, details) => {
      expectTypeOf(args).toEqualTypeOf<[string]>();
      expectTypeOf(kwargs).toEqualTypeOf<{ from: string }>();
      expectTypeOf(details).toEqualTypeOf<EventDetails>();
    });
    const subscription = await session.subscribe('chat.message');
    expectTypeOf(subscription).toEqualTypeOf<Subscription<[string], { from: string }>>();
    for await (const event of subscription) {
      expectTypeOf(event.args[0]).toEqualTypeOf<string>();
      expectTypeOf(event.kwargs.from).toEqualTypeOf<string>();
    }
    // @ts-expect-error: the handler's args do not match the topic
    void session.subscribe('chat.message', (args: [number]) => void args);
    // @ts-expect-error: not a topic of the contract
    void session.subscribe('chat.unknown');
  });
});

describe('an untyped session', () => {
  it('accepts any URI with unknown payloads', async () => {
    expectTypeOf(untyped.call('any.procedure', [1, 'x'], { k: 1 })).resolves.toEqualTypeOf<unknown>();
    void untyped.publish('any.topic');
    const subscription = await untyped.subscribe('any.topic');
    expectTypeOf(subscription).toEqualTypeOf<Subscription<unknown[], Record<string, unknown>>>();
    void untyped.register('any.proc', (args) => args.length);
    // @ts-expect-error: args must still be a list
    void untyped.call('any.procedure', 'not a list');
  });
});
