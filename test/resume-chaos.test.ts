/**
 * Session resumption's proof on one router (issue #18): our client, resumable by default, keeps
 * its session through 100 abrupt cuts of its TCP connection (no GOODBYE, no close frame) while
 * 10 000 events and 1 000 calls flow — every event once and in order (the router keeps the
 * answers, the client catches up from the memory history store), every call answered once, the
 * session IDs never changing. The scenario and its checks: test/support/chaos.ts.
 */
import { it } from 'vitest';
import { open } from '../client/test/helpers.js';
import { startTestRouter } from '../router/test/helpers.js';
import { chaosSeed, runChaos } from './support/chaos.js';
import { CuttingProxy } from './support/proxy.js';

const TOPIC = 'com.chaos.events';

it('100 cuts under 10 000 events and 1 000 calls: every event once and in order, every call answered once, the same sessions', {
  timeout: 180_000,
}, async () => {
  const seed = chaosSeed('resume chaos (single node)');
  const router = await startTestRouter({
    realms: [{ name: 'realm1', eventHistory: [{ topic: TOPIC, limit: 20_000 }] }],
  });
  const port = router.addresses[0]!.port;
  const publisher = await open(router.url);
  const callee = await open(router.url);
  const subscriberProxy = await CuttingProxy.start([port]);
  const callerProxy = await CuttingProxy.start([port]);
  await runChaos({
    name: 'resume chaos (single node)',
    seed,
    publisher,
    callee,
    subscriberProxy,
    callerProxy,
    topic: TOPIC,
    procedure: 'com.chaos.echo',
    sessions: () => router.realm('realm1')?.sessions.size ?? 0,
  });
});
