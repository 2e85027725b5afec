import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from './helpers.js';

describe('maxMessagesPerSecond', () => {
  it('closes a session that floods, and only that session', async () => {
    const router = await startTestRouter({ metrics: { port: 0 }, listeners: [{ type: 'websocket', maxMessagesPerSecond: 50 }] });
    const calm = await RawPeer.join(router.url);
    const flood = await RawPeer.join(router.url, 'msgpack');
    for (let i = 0; i < 60; i++) flood.send([MessageCode.Publish, flood.nextRequest(), {}, 'com.flood']);
    const abort = await flood.next();
    expect(abort).toEqual([MessageCode.Abort, { message: 'more than 50 messages per second' }, 'switchboard.close.rate_limited']);
    expect((await flood.waitClosed()).code).toBe(1008);
    const metrics = await (await fetch(router.metricsUrl!)).text();
    expect(metrics).toContain('switchboard_limits_exceeded_total{limit="maxMessagesPerSecond"} 1');
    // The other session is untouched.
    calm.send([MessageCode.Subscribe, calm.nextRequest(), {}, 'com.calm']);
    expect((await calm.next())[0]).toBe(MessageCode.Subscribed);
  });

  it('lets a session under the limit through', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxMessagesPerSecond: 100 }] });
    const peer = await RawPeer.join(router.url);
    for (let i = 0; i < 50; i++) peer.send([MessageCode.Publish, peer.nextRequest(), {}, 'com.ok']);
    peer.send([MessageCode.Subscribe, peer.nextRequest(), {}, 'com.ok']);
    expect((await peer.next())[0]).toBe(MessageCode.Subscribed);
  });
});
