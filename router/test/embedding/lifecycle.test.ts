/**
 * The router's life and its plugins, end to end: nothing joins before the plugins are installed;
 * stop() during start() undoes the start; a plugin's hook that throws costs nothing to the other
 * clients; trust is not an authprovider an authenticator can name.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it, onTestFinished } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { createRouter, silentLogger } from '@switchboard/router';
import type { RealmHooks, RealmPlugin, Router } from '@switchboard/router';
import { RawPeer } from '../helpers.js';

async function started(options: Parameters<typeof createRouter>[0] = {}): Promise<Router> {
  const router = await createRouter({
    logger: silentLogger(),
    ...options,
    config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], shutdownTimeoutMs: 500, ...options.config },
  }).start();
  onTestFinished(() => router.stop());
  return router;
}

/** A plugin whose install waits until `release()`; `installing` resolves when it began. */
function slowPlugin(onInstalled: RealmHooks) {
  let release!: () => void;
  let began!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const installing = new Promise<void>((resolve) => (began = resolve));
  let tornDown = 0;
  const plugin: RealmPlugin = {
    name: 'slow',
    install: async (_realm, context) => {
      began();
      await gate;
      context.observe(onInstalled);
      return () => void tornDown++;
    },
  };
  return { plugin, release, installing, tornDown: () => tornDown };
}

it('admits no connection and no router.session() until the plugins are installed', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const joined: number[] = [];
  const slow = slowPlugin({ onJoin: (s) => void joined.push(s.id) });
  const router = createRouter({ logger: silentLogger(), plugins: [slow.plugin], config: { listeners: [], shutdownTimeoutMs: 300 } });
  onTestFinished(() => router.stop());
  router.attach(server, { path: '/ws' });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
  const starting = router.start();
  await slow.installing;
  const early = await RawPeer.connect(url, 'json');
  expect(await early.waitClosed()).toMatchObject({ code: 1013 });
  await expect(router.session('realm1')).rejects.toThrow(/starting/);
  slow.release();
  await starting;
  const peer = await RawPeer.join(url, 'json');
  peer.send([MessageCode.Call, 1, {}, 'wamp.session.count']);
  expect((await peer.next())[0]).toBe(MessageCode.Result);
  const inside = await router.session('realm1');
  expect(inside.isOpen).toBe(true);
  expect(joined).toEqual([peer.session, inside.id]);
});

it('stop() during start(): start() gives up, its listeners and plugins are undone; a second stop() is harmless', async () => {
  const slow = slowPlugin({});
  const router = createRouter({
    logger: silentLogger(),
    plugins: [slow.plugin],
    config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], shutdownTimeoutMs: 300 },
  });
  const starting = router.start().then(
    () => 'started',
    (err: Error) => err.message,
  );
  await slow.installing;
  const stopping = router.stop();
  const again = router.stop();
  slow.release();
  await stopping;
  await again;
  expect(await starting).toMatch(/stopped while starting/);
  expect(router.addresses).toEqual([]);
  expect(slow.tornDown()).toBe(1);
  await router.stop();
  expect(slow.tornDown()).toBe(1);
  await expect(router.session('realm1')).rejects.toThrow(/stopped/);
});

it('a plugin onUnsubscribe that throws at a disconnect: the procedure can be registered again and sessionCount is right', async () => {
  const bad: RealmPlugin = {
    name: 'bad',
    install: (_realm, context) =>
      void context.observe({
        onUnsubscribe: () => {
          throw new Error('plugin bug');
        },
        onJoin: () => {
          throw new Error('plugin bug');
        },
      }),
  };
  const router = await started({ plugins: [bad] });
  const callee = await RawPeer.join(router.url, 'json');
  callee.send([MessageCode.Register, 1, {}, 'com.example.p']);
  expect((await callee.next())[0]).toBe(MessageCode.Registered);
  callee.send([MessageCode.Subscribe, 2, {}, 'com.example.t']);
  expect((await callee.next())[0]).toBe(MessageCode.Subscribed);
  expect(router.sessionCount).toBe(1);
  callee.close();
  await callee.waitClosed();
  const other = await RawPeer.join(router.url, 'json');
  other.send([MessageCode.Register, 1, {}, 'com.example.p']);
  expect((await other.next())[0]).toBe(MessageCode.Registered);
  expect(router.sessionCount).toBe(1);
  expect(router.realm('realm1')!.sessions.size).toBe(1);
});

it('an authenticator naming authprovider "router" for a role without permissions gets no session (so no wamp.session.list)', async () => {
  const router = await started({
    authenticators: { app: { method: 'app', authenticate: () => ({ kind: 'accept', principal: { authid: 'x', authrole: 'user', authprovider: 'router' } }) } },
    config: { realms: [{ name: 'realm1', roles: [{ name: 'user', permissions: [] }] }] },
  });
  const peer = await RawPeer.connect(router.url, 'json');
  peer.send([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['app'] }]);
  const answer = await peer.next();
  expect(answer[0]).toBe(MessageCode.Abort);
  expect(answer[2]).toBe(ErrorUri.AuthenticationFailed);
  expect(router.sessionCount).toBe(0);
});
