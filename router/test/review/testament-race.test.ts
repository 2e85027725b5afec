/**
 * Review finding 2: wamp.session.add_testament read in the same chunk as the session's GOODBYE.
 * The gate's verdict (decided at once by the static authorizer) reaches the procedure a microtask
 * later, after the session left: the testament must not be kept (it would outlive its session,
 * and the cluster would store and publish it).
 */
import { expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { createRouter, silentLogger } from '@switchboard/router';
import type { RealmPlugin } from '@switchboard/router';
import { RawPeer } from '../helpers.js';

it('CALL add_testament and GOODBYE in one write: no testament is kept for the session that left', async () => {
  const log: string[] = [];
  const spy: RealmPlugin = {
    name: 'spy',
    install: (_realm, ctx) =>
      void ctx.observe({
        onLeave: (s) => void log.push(`leave ${s.id}`),
        onTestaments: (s, t) => void log.push(`testaments ${s.id} ${t.length}`),
      }),
  };
  const router = await createRouter({
    logger: silentLogger(),
    plugins: [spy],
    config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], shutdownTimeoutMs: 500 },
  }).start();
  onTestFinished(() => router.stop());
  const peer = await RawPeer.join(router.url, 'json');
  // Both in one TCP write: the router reads them in one chunk, GOODBYE before the verdict is handed over.
  const socket = (peer.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  socket.cork();
  peer.send([MessageCode.Call, 1, {}, 'wamp.session.add_testament', ['com.example.will', ['bye']]]);
  peer.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
  socket.uncork();
  await peer.next((m) => m[0] === MessageCode.Goodbye);
  // The router runs in this process: its microtasks for that chunk ran before GOODBYE arrived here.
  expect(log.filter((l) => l.startsWith('leave'))).toHaveLength(1);
  expect(log.filter((l) => l.startsWith('testaments'))).toEqual([]);
});
