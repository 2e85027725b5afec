/**
 * The cutting proxy of the resumption tests itself (test/support/proxy.ts): it forwards WAMP both
 * ways, cuts one chosen connection without touching the others, cuts all at once, and alternates
 * its upstreams. A cut is abrupt on both sides: the client's WebSocket ends without a close frame
 * (1006) and the router sees its session's transport go without a GOODBYE.
 */
import { expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, until, within } from '../router/test/helpers.js';
import { CuttingProxy } from './support/proxy.js';

it('forwards both ways; cuts one chosen link (1006 on the client, the session gone on the router) and leaves the others', async () => {
  const router = await startTestRouter();
  const proxy = await CuttingProxy.start([router.addresses[0]!.port]);
  const a = await RawPeer.join(proxy.url());
  const b = await RawPeer.join(proxy.url());
  expect(proxy.links.map((l) => l.id)).toEqual([1, 2]);
  const sessions = () => router.realm('realm1')?.sessions.size ?? 0;
  expect(sessions()).toBe(2);

  proxy.links[0]!.cut();
  expect((await a.waitClosed()).code).toBe(1006);
  await until(() => sessions() === 1, 3000, 'the router to see the cut');
  expect(proxy.links.map((l) => l.id)).toEqual([2]);

  // The other link still carries a round trip.
  b.send([MessageCode.Subscribe, b.nextRequest(), {}, 'com.proxy.t']);
  expect((await b.next())[0]).toBe(MessageCode.Subscribed);
});

it('cutAll cuts every open link (RST too); new connections go through as before', async () => {
  const router = await startTestRouter();
  const proxy = await CuttingProxy.start([router.addresses[0]!.port]);
  const peers = await Promise.all([RawPeer.join(proxy.url()), RawPeer.join(proxy.url()), RawPeer.join(proxy.url())]);
  expect(proxy.cutAll('reset')).toBe(3);
  for (const peer of peers) expect((await peer.waitClosed()).code).toBe(1006);
  expect(proxy.links).toEqual([]);
  const again = await RawPeer.join(proxy.url());
  expect(again.session).toBeGreaterThan(0);
  expect(proxy.acceptedTotal).toBe(4);
});

it('alternates its upstreams: each new connection goes to the next one', async () => {
  const first = await startTestRouter();
  const second = await startTestRouter();
  const ports = [first.addresses[0]!.port, second.addresses[0]!.port];
  const proxy = await CuttingProxy.start(ports);
  const onFirst = () => first.realm('realm1')?.sessions.size ?? 0;
  const onSecond = () => second.realm('realm1')?.sessions.size ?? 0;
  const peer = await RawPeer.join(proxy.url());
  expect([onFirst(), onSecond()]).toEqual([1, 0]);
  expect(proxy.links[0]!.target).toBe(ports[0]);
  proxy.cutAll();
  await peer.waitClosed();
  await RawPeer.join(proxy.url());
  await until(() => onFirst() === 0, 3000, 'the first router to see the cut');
  expect([onFirst(), onSecond()]).toEqual([0, 1]);
  await within(proxy.accepts(2), 1000, 'two connections');
  expect(Object.fromEntries(proxy.accepted)).toEqual({ [ports[0]!]: 1, [ports[1]!]: 1 });
});
