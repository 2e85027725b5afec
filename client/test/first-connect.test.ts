/**
 * Retrying the first connection (#16 item 9): `reconnect: { firstConnection: true }` lets a
 * service started before its router wait for it, with the reconnect backoff and bound; refusals
 * that cannot change (a wrong path, an unknown realm, a refused credential) end it at once. The
 * default is unchanged: the first attempt's failure rejects connect().
 */
import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Router, silentLogger } from '@switchboard/router';
import { Connection, type SessionAbortedError, SessionClosedError, UnreachableError, connect, ticketAuth } from '@switchboard/client';
import type { ConnectOptions, ConnectionEvents } from '@switchboard/client';
import { Inbox } from '../../router/test/interop/clients.js';
import { within } from './helpers.js';

const FAST = { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 };

/** A port that was free a moment ago (bound, then closed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function routerOn(port: number, listener: Record<string, unknown> = {}): Promise<Router> {
  const router = new Router({
    config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port, ...listener }], shutdownTimeoutMs: 300 },
    logger: silentLogger(),
  });
  await router.start();
  onTestFinished(() => router.stop());
  return router;
}

/** A Connection with its 'reconnecting' events; closed when the test finishes. */
function connection(options: ConnectOptions): { connection: Connection; retries: Inbox<ConnectionEvents['reconnecting']> } {
  const created = new Connection(options);
  const retries = new Inbox<ConnectionEvents['reconnecting']>('reconnecting event');
  created.on('reconnecting', retries.push);
  onTestFinished(() => within(created.close(), 5000, 'close'));
  return { connection: created, retries };
}

describe('reconnect.firstConnection', () => {
  it('a client started before the router connects once the router is up', async () => {
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/ws`;
    const { connection: c, retries } = connection({ url, realm: 'realm1', reconnect: { ...FAST, firstConnection: true } });
    const opened = c.open();
    const [first] = await retries.take(1, 5000);
    expect(first).toMatchObject({ attempt: 1, delayMs: 50 });
    expect(first!.error).toBeInstanceOf(UnreachableError);
    expect(first!.error?.message).toMatch(/ECONNREFUSED/);
    await routerOn(port);
    const session = await within(opened, 5000, 'the first connection once the router is up');
    await session.register('com.first.echo', (args) => args[0]);
    expect(await session.call('com.first.echo', ['up'])).toBe('up');
    expect(c.state).toBe('open');
  });

  it('is bounded by maxRetries: the last error rejects connect()', async () => {
    const url = `ws://127.0.0.1:${await freePort()}/ws`;
    const { connection: c, retries } = connection({ url, realm: 'realm1', reconnect: { ...FAST, firstConnection: true, maxRetries: 2 } });
    const err = await within(
      c.open().then(
        () => undefined,
        (e: unknown) => e,
      ),
      5000,
      'connect to give up',
    );
    expect(err).toBeInstanceOf(UnreachableError);
    expect(retries.all.map((r) => r.attempt)).toEqual([1, 2]);
    expect(c.state).toBe('closed');
  });

  it('close() while waiting for the router ends the attempts: connect() rejects with SessionClosedError', async () => {
    const url = `ws://127.0.0.1:${await freePort()}/ws`;
    const { connection: c, retries } = connection({ url, realm: 'realm1', reconnect: { initialDelayMs: 60_000, jitter: 0, firstConnection: true } });
    const opening = c.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    await retries.take(1, 5000);
    await within(c.close(), 2000, 'close');
    expect(await within(opening, 2000, 'connect to reject')).toBeInstanceOf(SessionClosedError);
  });

  describe('refusals that cannot change are not retried', () => {
    it('404: a wrong path', async () => {
      const router = await routerOn(0);
      const url = router.url.replace(/\/ws$/, '/wamp');
      const { connection: c, retries } = connection({ url, realm: 'realm1', reconnect: { ...FAST, firstConnection: true } });
      const err = await within(
        c.open().then(
          () => undefined,
          (e: unknown) => e,
        ),
        5000,
        'connect to fail',
      );
      expect((err as UnreachableError).refusal?.status).toBe(404);
      expect(retries.all).toEqual([]);
    });

    it('an unknown realm (wamp.error.no_such_realm)', async () => {
      const router = await routerOn(0);
      const { connection: c, retries } = connection({ url: router.url, realm: 'nope', reconnect: { ...FAST, firstConnection: true } });
      const err = await within(
        c.open().then(
          () => undefined,
          (e: unknown) => e,
        ),
        5000,
        'connect to fail',
      );
      expect((err as SessionAbortedError).reason).toBe('wamp.error.no_such_realm');
      expect(retries.all).toEqual([]);
    });

    it('a refused credential (wamp.error.authentication_failed)', async () => {
      const router = await routerOn(0, { auth: { ticket: { type: 'static', principals: { joe: { ticket: 'right', role: 'frontend' } } } } });
      const { connection: c, retries } = connection({
        url: router.url,
        realm: 'realm1',
        auth: ticketAuth({ authid: 'joe', ticket: 'wrong' }),
        reconnect: { ...FAST, firstConnection: true },
      });
      const err = await within(
        c.open().then(
          () => undefined,
          (e: unknown) => e,
        ),
        5000,
        'connect to fail',
      );
      expect((err as SessionAbortedError).reason).toBe('wamp.error.authentication_failed');
      expect(retries.all).toEqual([]);
    });

    it('429 is worth retrying: the client gets in once a slot is free', async () => {
      const router = await routerOn(0, { maxConnectionsPerIp: 1 });
      const holder = await connect({ url: router.url, realm: 'realm1', reconnect: false });
      const { connection: c, retries } = connection({ url: router.url, realm: 'realm1', reconnect: { ...FAST, firstConnection: true } });
      const opened = c.open();
      const [first] = await retries.take(1, 5000);
      expect((first!.error as UnreachableError).refusal?.status).toBe(429);
      await holder.leave();
      await within(opened, 5000, 'the connection once a slot is free');
    });
  });

  it('the default is unchanged: no router, connect() rejects at once', async () => {
    const url = `ws://127.0.0.1:${await freePort()}/ws`;
    const started = Date.now();
    await expect(connect({ url, realm: 'realm1' })).rejects.toBeInstanceOf(UnreachableError);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
