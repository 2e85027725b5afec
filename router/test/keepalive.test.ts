import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, until, within } from './helpers.js';
import { openStalledPeer } from './stalled-peer.js';

describe('keep-alive pings', () => {
  it('drops a peer that does not answer pings and keeps one that does', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', pingIntervalMs: 100 }] });
    const dead = await openStalledPeer(router.url); // never answers a ping
    dead.send([MessageCode.Hello, 'realm1', { roles: { subscriber: {} } }]);
    await dead.message(1);
    const alive = await RawPeer.join(router.url); // ws answers pings by itself
    expect(router.sessionCount).toBe(2);
    const closed = new Promise<void>((resolve) => dead.socket.once('close', () => resolve()));
    await within(closed, 2000, 'the dead peer to be dropped');
    await until(() => router.sessionCount === 1, 1000, 'the router to end the dead session');
    // Several more ping rounds: the live peer stays and still works.
    for (let i = 0; i < 4; i++) {
      alive.send([MessageCode.Subscribe, alive.nextRequest(), {}, `com.t${i}`]);
      expect((await alive.next())[0]).toBe(MessageCode.Subscribed);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(router.sessionCount).toBe(1);
  });
});
