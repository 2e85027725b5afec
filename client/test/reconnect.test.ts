/**
 * Reconnecting: stop the router, start a new one on the same port, and the session comes back with
 * its subscriptions and registrations (original options and handlers); what the router now
 * refuses is reported; fatal ABORTs stop retrying; calls while disconnected fail fast or wait;
 * keep-alive finds a half-open link.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { Router, silentLogger } from '@switchboard/router';
import type { RealmFile } from '@switchboard/router';
import { NotConnectedError, SessionAbortedError, WampError, backoffDelay } from '@switchboard/client';
import type { CloseEvent, ConnectionEvents } from '@switchboard/client';
import { Inbox } from '../../router/test/interop/clients.js';
import { Proxy, deferred, nextEvent, open, openConnection, uri, within } from './helpers.js';

/** A router on 127.0.0.1:`port` (0: a free one), stopped when the test finishes. */
async function routerOn(port: number, realms?: RealmFile[]): Promise<Router> {
  const config = { listeners: [{ type: 'websocket' as const, host: '127.0.0.1', port }], shutdownTimeoutMs: 300, ...(realms ? { realms } : {}) };
  const router = new Router({ config, logger: silentLogger() });
  await router.start();
  onTestFinished(() => router.stop());
  return router;
}

const FAST = { initialDelayMs: 50, maxDelayMs: 200, jitter: 0 };

function events<K extends keyof ConnectionEvents>(): Inbox<ConnectionEvents[K]> {
  return new Inbox<ConnectionEvents[K]>('connection event');
}

describe('backoff', () => {
  it('grows exponentially, is capped, and jitter takes at most its fraction off', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 0.5 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, options, () => 0.999999)).toBe(200);
    expect(backoffDelay(3, { ...options, jitter: 0 }, () => 0.7)).toBe(400);
  });
});

describe.each(['json', 'msgpack', 'cbor'] as SerializerName[])('reconnect over %s', (serializer) => {
  it('after a router restart on the same port, subscriptions and registrations work again with their original options', async () => {
    const first = await routerOn(0);
    const port = first.addresses[0]!.port;
    const url = first.url;
    const connection = await openConnection({ url, realm: 'realm1', serializers: [serializer], reconnect: FAST });
    const session = connection.session;
    const opened = events<'open'>();
    const closed = events<'close'>();
    const restored = events<'restored'>();
    connection.on('open', opened.push);
    connection.on('close', closed.push);
    connection.on('restored', restored.push);

    const base = uri('restart');
    const inbox = new Inbox<unknown>('event');
    const subscription = await session.subscribe(base, (args, _k, details) => inbox.push([args[0], details.topic]), { match: 'prefix' });
    const registration = await session.register(`${base}.proc`, (args) => `echo ${String(args[0])}`, { invoke: 'roundrobin' });
    const firstSessionId = session.id;

    await first.stop();
    const lost = await closed.next(3000);
    expect(lost).toMatchObject({ reason: 'goodbye', wampReason: 'wamp.close.system_shutdown', willReconnect: true });
    expect(session.isOpen).toBe(false);
    await expect(session.call(`${base}.proc`, ['x'])).rejects.toBeInstanceOf(NotConnectedError);

    const second = await routerOn(port);
    const back = await opened.next(5000);
    expect(back.reconnected).toBe(true);
    const report = await restored.next(3000);
    expect(report.failed).toEqual([]);
    expect(report.outcomes.map((o) => [o.kind, o.uri, o.ok])).toEqual([
      ['subscription', base, true],
      ['registration', `${base}.proc`, true],
    ]);
    expect(session.id).not.toBe(firstSessionId);
    expect(subscription.active && registration.active).toBe(true);

    const other = await open(second.url, serializer);
    // match: prefix came back: an event on a topic below the prefix arrives.
    await other.publish(`${base}.deep.topic`, ['after'], {}, { acknowledge: true });
    expect(await inbox.next()).toEqual(['after', `${base}.deep.topic`]);
    // invoke: roundrobin came back: a second callee may join the shared registration.
    await other.register(`${base}.proc`, () => 'other', { invoke: 'roundrobin' });
    const answers = new Set([await other.call(`${base}.proc`, [1]), await other.call(`${base}.proc`, [1])]);
    expect(answers).toEqual(new Set(['echo 1', 'other']));
  });
});

describe('reconnect', () => {
  it('reports a registration the new router refuses, closes it with the WampError, and keeps the rest', async () => {
    const first = await routerOn(0);
    const port = first.addresses[0]!.port;
    const proxy = await Proxy.start(port);
    const connection = await openConnection({ url: `ws://127.0.0.1:${proxy.port}/ws`, realm: 'realm1', reconnect: FAST });
    const session = connection.session;
    const restored = events<'restored'>();
    connection.on('restored', restored.push);
    const proc = uri('taken');
    const topic = uri('kept');
    const registration = await session.register(proc, () => 'mine');
    const subscription = await session.subscribe(topic);
    // Keep the client out until another session has taken the procedure on the new router.
    proxy.refuseNew = true;
    await first.stop();
    const second = await routerOn(port);
    const thief = await open(second.url);
    await thief.register(proc, () => 'theirs');
    proxy.refuseNew = false;
    const report = await restored.next(5000);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]).toMatchObject({ kind: 'registration', uri: proc, ok: false });
    const failure = report.failed[0]!;
    expect(failure.ok === false && failure.error).toBeInstanceOf(WampError);
    expect(await within(registration.closed, 1000, 'closed')).toMatchObject({ uri: 'wamp.error.procedure_already_exists' });
    expect(session.registrations).toEqual([]);
    await thief.publish(topic, ['still here'], {}, { acknowledge: true });
    expect((await nextEvent(subscription)).args).toEqual(['still here']);
  });

  it('a call made while disconnected waits for the next session when asked to (waitForConnectionMs)', async () => {
    const first = await routerOn(0);
    const port = first.addresses[0]!.port;
    const connection = await openConnection({ url: first.url, realm: 'realm1', reconnect: FAST });
    const session = connection.session;
    const proc = uri('wait');
    await session.register(proc, (args) => args[0]);
    const closed = deferred<CloseEvent>();
    connection.once('close', closed.resolve);
    await first.stop();
    await within(closed.promise, 3000, 'close');
    const waiting = session.call(proc, ['patient'], {}, { waitForConnectionMs: 5000 });
    const impatient = session.call(proc, ['impatient'], {}, { waitForConnectionMs: 30 });
    await expect(impatient).rejects.toBeInstanceOf(NotConnectedError);
    await routerOn(port);
    // The registration is restored before waiting calls go out, so it finds its own procedure.
    expect(await within(waiting, 5000, 'the waiting call')).toBe('patient');
  });

  it('a fatal ABORT (no_such_realm after restart) stops reconnecting; subscriptions close with the error', async () => {
    const first = await routerOn(0);
    const port = first.addresses[0]!.port;
    const connection = await openConnection({ url: first.url, realm: 'realm1', reconnect: FAST });
    const subscription = await connection.session.subscribe(uri('fatal'));
    const closes = events<'close'>();
    connection.on('close', closes.push);
    await first.stop();
    await closes.next(3000);
    await routerOn(port, [{ name: 'other-realm' }]);
    const final = await closes.next(5000);
    expect(final).toMatchObject({ reason: 'gave_up', wampReason: 'wamp.error.no_such_realm', willReconnect: false });
    expect(connection.state).toBe('closed');
    const reason = await within(subscription.closed, 1000, 'closed');
    expect(reason).toBeInstanceOf(SessionAbortedError);
    await expect(connection.session.publish(uri('x'))).rejects.toBeInstanceOf(NotConnectedError);
  });

  it('maxRetries: gives up after that many attempts, reporting each with attempt and delay', async () => {
    const first = await routerOn(0);
    const connection = await openConnection({ url: first.url, realm: 'realm1', reconnect: { ...FAST, maxRetries: 3 } });
    const reconnecting = events<'reconnecting'>();
    const closes = events<'close'>();
    connection.on('reconnecting', reconnecting.push);
    connection.on('close', closes.push);
    await first.stop();
    const attempts = await reconnecting.take(3, 5000);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(attempts.map((a) => a.delayMs)).toEqual([50, 100, 200]);
    expect(attempts[1]!.error?.name).toBe('UnreachableError');
    const [, final] = await closes.take(2, 5000);
    expect(final).toMatchObject({ reason: 'gave_up', willReconnect: false });
  });

  it('keep-alive: a half-open link (no bytes either way, no FIN) is detected and the client reconnects', async () => {
    const router = await routerOn(0);
    const proxy = await Proxy.start(router.addresses[0]!.port);
    const connection = await openConnection({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      realm: 'realm1',
      reconnect: FAST,
      keepalive: { intervalMs: 100, timeoutMs: 200 },
    });
    const subscription = await connection.session.subscribe(uri('alive'));
    const opens = events<'open'>();
    const closes = events<'close'>();
    connection.on('open', opens.push);
    connection.on('close', closes.push);
    proxy.blackhole();
    const lost = await closes.next(3000);
    expect(lost).toMatchObject({ reason: 'lost', willReconnect: true });
    expect(lost.message).toContain('keepalive');
    expect((await opens.next(3000)).reconnected).toBe(true);
    const publisher = await open(router.url);
    await publisher.publish(subscription.topic, ['through the new link'], {}, { acknowledge: true });
    expect((await nextEvent(subscription)).args).toEqual(['through the new link']);
  });
});
