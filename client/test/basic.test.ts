/**
 * The Basic Profile against Switchboard's router, over json, msgpack and cbor.
 */
import { describe, expect, it } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { NotConnectedError, Result, WampError } from '@switchboard/client';
import type { EventDetails } from '@switchboard/client';
import { startTestRouter } from '../../router/test/helpers.js';
import { Inbox } from '../../router/test/interop/clients.js';
import { nextEvent, open, uri, within } from './helpers.js';

const SERIALIZERS: SerializerName[] = ['json', 'msgpack', 'cbor'];

describe.each(SERIALIZERS)('against the router over %s', (serializer) => {
  it('joins with the chosen serializer and a session ID', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    expect(session.serializer).toBe(serializer);
    expect(Number.isSafeInteger(session.id)).toBe(true);
    expect(session.isOpen).toBe(true);
    expect(session.details?.['authrole']).toBe('anonymous');
  });

  it('publish with acknowledge resolves with the publication ID; a handler gets args, kwargs and details', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    const topic = uri('pubsub');
    const inbox = new Inbox<{ args: unknown[]; kwargs: unknown; details: EventDetails }>('event');
    const subscription = await subscriber.subscribe(topic, (args, kwargs, details) => inbox.push({ args, kwargs, details }));
    expect(subscription.id).toBeTypeOf('number');
    const publication = await publisher.publish(topic, [1, 'two', { three: [3] }], { k: 'v', n: 2 ** 40 }, { acknowledge: true });
    expect(publication).toBeTypeOf('number');
    const event = await inbox.next();
    expect(event.args).toEqual([1, 'two', { three: [3] }]);
    expect(event.kwargs).toEqual({ k: 'v', n: 2 ** 40 });
    expect(event.details.publication).toBe(publication);
    expect(event.details.topic).toBe(topic);
    expect(event.details.subscription).toBe(subscription.id);
  });

  it('subscribe without a handler is an async iterator; unsubscribe ends it and closed resolves to undefined', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    const topic = uri('iter');
    const subscription = await subscriber.subscribe(topic);
    for (let i = 0; i < 3; i++) await publisher.publish(topic, [i], {}, { acknowledge: true });
    const seen: unknown[] = [];
    for await (const event of subscription) {
      seen.push(event.args[0]);
      if (seen.length === 3) break; // break unsubscribes
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(await within(subscription.closed, 2000, 'closed')).toBeUndefined();
    expect(subscription.active).toBe(false);
  });

  it('exclude_me: false delivers to the publisher itself; the default does not', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    const topic = uri('self');
    const subscription = await session.subscribe(topic);
    await session.publish(topic, ['excluded'], {}, { acknowledge: true });
    await session.publish(topic, ['mine'], {}, { acknowledge: true, exclude_me: false });
    expect((await nextEvent(subscription)).args).toEqual(['mine']);
  });

  it('two subscriptions to one topic share the router subscription; unsubscribing one keeps the other', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    const topic = uri('shared');
    const a = await subscriber.subscribe(topic);
    const b = await subscriber.subscribe(topic);
    expect(a.id).toBe(b.id);
    await a.unsubscribe();
    await publisher.publish(topic, ['after'], {}, { acknowledge: true });
    expect((await nextEvent(b)).args).toEqual(['after']);
    await b.unsubscribe();
    expect(router.realm('realm1')!.broker.subscriptionCount).toBe(0);
  });

  it('call returns the result; args and kwargs reach the callee untouched; Result answers with several values', async () => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    const add = uri('add');
    const multi = uri('multi');
    await callee.register(add, (args: unknown[], kwargs) => (args as number[]).reduce((a, b) => a + b, 0) + Number(kwargs['extra'] ?? 0));
    await callee.register(multi, () => new Result([1, 2], { three: 3 }));
    expect(await caller.call(add, [2, 3])).toBe(5);
    expect(await caller.call(add, [2, 3], { extra: 10 })).toBe(15);
    const full = await caller.callStream(multi).result;
    expect(full.args).toEqual([1, 2]);
    expect(full.kwargs).toEqual({ three: 3 });
    expect(full.value).toBe(1);
  });

  it('an application error keeps its URI, args and kwargs; a thrown Error becomes wamp.error.runtime_error', async () => {
    const router = await startTestRouter();
    const [callee, caller] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    const app = uri('apperror');
    const crash = uri('crash');
    await callee.register(app, () => {
      throw new WampError('com.example.error.out_of_stock', ['no more'], { item: 'widget' });
    });
    await callee.register(crash, async () => {
      throw new Error('boom');
    });
    const appError = await caller.call(app).catch((e: unknown) => e);
    expect(appError).toBeInstanceOf(WampError);
    expect(appError).toMatchObject({ uri: 'com.example.error.out_of_stock', args: ['no more'], kwargs: { item: 'widget' } });
    await expect(caller.call(crash)).rejects.toMatchObject({ uri: 'wamp.error.runtime_error', args: ['boom'] });
    await expect(caller.call(uri('nobody'))).rejects.toMatchObject({ uri: 'wamp.error.no_such_procedure' });
  });

  it('register twice: the router refuses with procedure_already_exists; unregister frees the URI', async () => {
    const router = await startTestRouter();
    const [a, b] = await Promise.all([open(router.url, serializer), open(router.url, serializer)]);
    const proc = uri('once');
    const registration = await a.register(proc, () => 'a');
    await expect(b.register(proc, () => 'b')).rejects.toMatchObject({ uri: 'wamp.error.procedure_already_exists' });
    await registration.unregister();
    expect(await within(registration.closed, 1000, 'closed')).toBeUndefined();
    await b.register(proc, () => 'b');
    expect(await a.call(proc)).toBe('b');
  });

  it('a publish error (invalid URI) rejects with the broker error when acknowledged', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    await expect(session.publish('wamp.reserved.topic', [], {}, { acknowledge: true })).rejects.toMatchObject({ uri: 'wamp.error.invalid_uri' });
    // The request counter stayed in step: a further request works.
    await session.publish(uri('ok'), [], {}, { acknowledge: true });
  });

  it('leave ends the session: closed resolves, later requests fail fast with NotConnectedError', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    const subscription = await session.subscribe(uri('bye'));
    await session.leave();
    expect(session.isOpen).toBe(false);
    expect(await within(subscription.closed, 1000, 'closed')).toBeUndefined();
    await expect(session.call(uri('x'))).rejects.toBeInstanceOf(NotConnectedError);
  });
});
