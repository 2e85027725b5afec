/**
 * Review finding 5: the in-process path must not share objects between sessions, or with the
 * router. What a router.session() sends is copied as it is checked (client/src/in-process.ts);
 * the EVENT every in-process subscriber of a publication gets is one deep-frozen object
 * (core/outbox.ts); the roles every WELCOME announces are deep-frozen (realm.ts).
 */
import { expect, it, onTestFinished, vi } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { createRouter, silentLogger } from '@switchboard/router';
import type { Router } from '@switchboard/router';
import { deepFreeze } from '../../src/core/freeze.js';
import { RawPeer } from '../helpers.js';

async function started(): Promise<Router> {
  const router = await createRouter({
    logger: silentLogger(),
    config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], shutdownTimeoutMs: 500 },
  }).start();
  onTestFinished(() => router.stop());
  return router;
}

it('an in-process subscriber cannot change the EVENT another subscriber or the publisher sees', async () => {
  const router = await started();
  const [a, b, pub] = await Promise.all([router.session('realm1'), router.session('realm1'), router.session('realm1')]);
  const tried: string[] = [];
  const seenB: unknown[] = [];
  await a.subscribe('com.example.t', (args: unknown[]) => {
    try {
      (args[0] as { x: string }).x = 'mutated by a';
    } catch (err) {
      tried.push((err as Error).name);
    }
    try {
      args.push('extra');
    } catch (err) {
      tried.push((err as Error).name);
    }
  });
  await b.subscribe('com.example.t', (args: unknown[]) => void seenB.push(args));
  const payload = [{ x: 'original' }];
  await pub.publish('com.example.t', payload, undefined, { acknowledge: true });
  await vi.waitUntil(() => seenB.length === 1 && tried.length === 2);
  expect(tried).toEqual(['TypeError', 'TypeError']);
  expect(seenB[0]).toEqual([{ x: 'original' }]);
  expect(payload).toEqual([{ x: 'original' }]);
  // The publisher's own array was copied on the way in: it stays the application's to change.
  payload[0]!.x = 'mine';
  expect(payload[0]!.x).toBe('mine');
});

it('a publisher that reuses its array after publish({retain}) changes nothing retained', async () => {
  const router = await started();
  const pub = await router.session('realm1');
  const payload: unknown[] = [{ x: 'original' }];
  await pub.publish('com.example.r', payload, undefined, { acknowledge: true, retain: true });
  (payload[0] as { x: string }).x = 'rewritten after publish';
  payload.push('x'.repeat(100_000));
  const peer = await RawPeer.join(router.url, 'json');
  peer.send([MessageCode.Subscribe, 1, { get_retained: true }, 'com.example.r']);
  expect((await peer.next())[0]).toBe(MessageCode.Subscribed);
  const event = await peer.next();
  expect(event[0]).toBe(MessageCode.Event);
  expect(event[4]).toEqual([{ x: 'original' }]);
});

it('WELCOME.Details.roles of an in-process session cannot be changed for the sessions after it', async () => {
  const router = await started();
  const inside = await router.session('realm1');
  const roles = inside.details?.roles as { dealer: { features: Record<string, unknown> }; broker?: unknown };
  expect(() => {
    roles.dealer.features['call_canceling'] = false;
  }).toThrow(TypeError);
  expect(() => delete roles.broker).toThrow(TypeError);
  const peer = await RawPeer.join(router.url, 'json');
  const announced = (peer.welcome[2] as { roles: { broker?: unknown; dealer: { features: Record<string, unknown> } } }).roles;
  expect(announced.broker).toBeDefined();
  expect(announced.dealer.features['call_canceling']).toBe(true);
});

it('deepFreeze freezes plain objects and lists all the way down, and leaves bytes alone', () => {
  const bytes = new Uint8Array([1]);
  const value = deepFreeze({ a: [{ b: 1 }], bytes });
  expect(Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.a[0])).toBe(true);
  bytes[0] = 2;
  expect(value.bytes[0]).toBe(2);
});
