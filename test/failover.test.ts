/**
 * Graceful shutdown end to end: on SIGTERM a router process says GOODBYE wamp.close.system_shutdown
 * to every session and exits 0; a client given two routers reconnects to the other one by itself,
 * subscribes again, and keeps receiving events.
 */
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { Connection } from '@switchboard/client';
import type { CloseEvent } from '@switchboard/client';
import { RawPeer, within } from '../router/test/helpers.js';
import { spawnProcess } from './support/processes.js';

const BIN = fileURLToPath(new URL('../router/bin/switchboard.js', import.meta.url));

async function router(name: string): Promise<{ url: string; stop: (graceMs?: number) => Promise<number | null>; exited: Promise<number | null> }> {
  const p = spawnProcess(process.execPath, [BIN, 'start', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'], {
    name,
    env: { ...process.env, NO_COLOR: '1' },
  });
  const [, url] = await p.waitFor(/"url":"(ws:\/\/127\.0\.0\.1:\d+\/ws)"/, 10_000);
  await p.waitFor(/router started/, 5000);
  return { url: url!, stop: (graceMs) => p.stop(graceMs), exited: p.exited };
}

it('SIGTERM: GOODBYE system_shutdown, exit 0, and the client carries on with the other router', async () => {
  const a = await router('router A');
  const b = await router('router B');
  const connection = new Connection({
    transports: [
      { type: 'websocket', url: a.url },
      { type: 'websocket', url: b.url },
    ],
    realm: 'realm1',
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
  });
  onTestFinished(() => connection.close());
  const closes: CloseEvent[] = [];
  connection.on('close', (e) => void closes.push(e));
  const session = await connection.open();
  expect(connection.url).toBe(a.url);
  const received: unknown[] = [];
  await session.subscribe('com.failover.tick', (args) => void received.push(args[0]));

  const reopened = new Promise<string>((resolve) => connection.on('open', (e) => e.reconnected && resolve(e.transport.url)));
  const restored = new Promise<string>((resolve) => connection.on('restored', (e) => resolve(JSON.stringify(e.failed))));
  // SIGTERM to A: it exits 0 after saying GOODBYE; the client goes to B.
  expect(await within(a.stop(5000), 6000, 'router A to exit')).toBe(0);
  expect(closes[0]).toMatchObject({ reason: 'goodbye', wampReason: 'wamp.close.system_shutdown', willReconnect: true });
  expect(await within(reopened, 10_000, 'the client to reopen')).toBe(b.url);
  expect(await within(restored, 5000, 'subscriptions restored')).toBe('[]');

  const publisher = await RawPeer.join(b.url, 'json');
  publisher.send([MessageCode.Publish, publisher.nextRequest(), { acknowledge: true }, 'com.failover.tick', [42]]);
  expect((await publisher.next())[0]).toBe(MessageCode.Published);
  await within(
    (async () => {
      while (received.length === 0) await new Promise((r) => setTimeout(r, 10));
    })(),
    3000,
    'the event on the other router',
  );
  expect(received).toEqual([42]);
  await b.stop();
});
