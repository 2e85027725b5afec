/**
 * The Basic Profile against a third-party router: fox-wamp (npm, JSON only). Proves the client
 * speaks WAMP, not just Switchboard.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import FoxRouter from 'fox-wamp';
import { Result, WampError } from '@switchboard/client';
import { Inbox } from '../../../router/test/interop/clients.js';
import { nextEvent, open, uri } from '../helpers.js';

async function startFox(): Promise<string> {
  const server = new FoxRouter().listenWAMP({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of server.clients) ws.terminate();
        server.close(() => resolve());
      }),
  );
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
}

describe('against fox-wamp (JSON)', () => {
  it('joins, publishes with acknowledge, and a subscriber receives args and kwargs', async () => {
    const url = await startFox();
    const [publisher, subscriber] = await Promise.all([open(url), open(url)]);
    expect(publisher.serializer).toBe('json');
    const topic = uri('fox.pubsub');
    const inbox = new Inbox<unknown>('event');
    await subscriber.subscribe(topic, (args, kwargs) => inbox.push({ args, kwargs }));
    const publication = await publisher.publish(topic, [1, 'two'], { three: 3 }, { acknowledge: true });
    expect(publication).toBeTypeOf('number');
    expect(await inbox.next()).toEqual({ args: [1, 'two'], kwargs: { three: 3 } });
  });

  it('iterator subscriptions and unsubscribe', async () => {
    const url = await startFox();
    const [publisher, subscriber] = await Promise.all([open(url), open(url)]);
    const topic = uri('fox.iter');
    const subscription = await subscriber.subscribe(topic);
    await publisher.publish(topic, ['a'], {}, { acknowledge: true });
    expect((await nextEvent(subscription)).args).toEqual(['a']);
    await subscription.unsubscribe();
    expect(subscription.active).toBe(false);
  });

  it('register, call, Result with kwargs, application errors, unregister', async () => {
    const url = await startFox();
    const [callee, caller] = await Promise.all([open(url), open(url)]);
    const add = uri('fox.add');
    const fail = uri('fox.fail');
    const registration = await callee.register(add, (args) => (args as number[])[0]! + (args as number[])[1]!);
    await callee.register(fail, () => {
      throw new WampError('com.example.error.fox', ['nope'], { code: 7 });
    });
    expect(await caller.call(add, [2, 3])).toBe(5);
    // fox-wamp does not forward a callee's error URI: it answers wamp.error.callee_failure and
    // names the original URI in the first argument. The client still surfaces a WampError.
    const error = await caller.call(fail).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WampError);
    expect((error as WampError).uri).toBe('wamp.error.callee_failure');
    expect(String((error as WampError).args[0])).toContain('com.example.error.fox');
    await registration.unregister();
    await expect(caller.call(add, [1, 1])).rejects.toMatchObject({ uri: 'wamp.error.no_such_procedure' });
    const multi = uri('fox.multi');
    await callee.register(multi, () => new Result(['x'], { y: 1 }));
    const full = await caller.callStream(multi).result;
    expect([full.args, full.kwargs]).toEqual([['x'], { y: 1 }]);
  });

  it('leave sends GOODBYE and ends the session', async () => {
    const url = await startFox();
    const session = await open(url);
    await session.leave();
    expect(session.isOpen).toBe(false);
  });
});
