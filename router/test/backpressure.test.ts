/**
 * A slow consumer must cost only itself: past the soft limit its EVENTs are dropped and counted,
 * past the drain timeout (or the hard limit) it is cut off, and the other subscribers get every
 * event meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, until, within } from './helpers.js';
import { openStalledPeer } from './stalled-peer.js';

describe('outbound backpressure', () => {
  it('drops EVENTs for a stalled subscriber, cuts it off after the drain timeout, and serves the others in full', async () => {
    const router = await startTestRouter({
      listeners: [{ type: 'websocket', maxMessageBytes: 1 << 20, outbound: { softLimitBytes: 256 * 1024, hardLimitBytes: 1024 * 1024, drainTimeoutMs: 300 } }],
    });
    const slow = await openStalledPeer(router.url);
    slow.send([MessageCode.Hello, 'realm1', { roles: { subscriber: {} } }]);
    expect((await slow.message(1))[0]).toBe(MessageCode.Welcome);
    slow.send([MessageCode.Subscribe, 1, {}, 'com.firehose']);
    expect((await slow.message(2))[0]).toBe(MessageCode.Subscribed);
    slow.stall();

    const fast = await RawPeer.join(router.url, 'msgpack');
    fast.send([MessageCode.Subscribe, fast.nextRequest(), {}, 'com.firehose']);
    await fast.next();
    const pub = await RawPeer.join(router.url, 'json');

    const chunk = 'x'.repeat(64 * 1024);
    const total = 600; // ~38 MB: far past what the kernel buffers hold for the stalled socket
    let received = 0;
    for (let i = 0; i < total; i++) {
      pub.send([MessageCode.Publish, pub.nextRequest(), { acknowledge: true }, 'com.firehose', [i, chunk]]);
      expect((await pub.next())[0]).toBe(MessageCode.Published);
      const event = await fast.next();
      expect(event[4]).toEqual([i, chunk]);
      received++;
      if (router.counters.peersCutOff > 0 && i > 100) break;
    }
    expect(router.counters.eventsDropped).toBeGreaterThan(0);
    await within(
      (async () => {
        while (router.counters.peersCutOff === 0) {
          pub.send([MessageCode.Publish, pub.nextRequest(), { acknowledge: true }, 'com.firehose', [-1, chunk]]);
          await pub.next();
          await fast.next();
        }
      })(),
      5000,
      'the stalled peer to be cut off',
    );
    expect(router.counters.peersCutOff).toBe(1);
    expect(received).toBeGreaterThan(100);
    // The cut-off session is gone; the others are still there.
    await until(() => router.sessionCount === 2, 1000, 'the cut-off session to end');
    slow.socket.destroy();
  });

  it('cuts off a peer whose replies alone would pass the hard limit', async () => {
    const router = await startTestRouter({
      listeners: [{ type: 'websocket', outbound: { softLimitBytes: 64 * 1024, hardLimitBytes: 128 * 1024, drainTimeoutMs: 0 } }],
    });
    const callee = await RawPeer.join(router.url, 'json');
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.big']);
    await callee.next();
    const slow = await openStalledPeer(router.url);
    slow.send([MessageCode.Hello, 'realm1', { roles: { caller: {} } }]);
    await slow.message(1);
    slow.stall();
    const chunk = 'y'.repeat(64 * 1024);
    let request = 0;
    for (let i = 0; i < 300 && router.counters.peersCutOff === 0; i++) {
      slow.send([MessageCode.Call, ++request, {}, 'com.big']);
      const [, invocation] = await callee.next();
      callee.send([MessageCode.Yield, invocation, {}, [chunk]]);
      // A round trip on the callee's connection: the router has handled the YIELD when it answers.
      callee.send([MessageCode.Subscribe, callee.nextRequest(), {}, `com.sync.${i}`]);
      expect((await callee.next())[0]).toBe(MessageCode.Subscribed);
    }
    expect(router.counters.peersCutOff).toBe(1);
    await until(() => router.sessionCount === 1, 1000, 'the cut-off session to end');
    slow.socket.destroy();
  });
});
