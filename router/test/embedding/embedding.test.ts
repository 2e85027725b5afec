/**
 * The embedding API end to end: createRouter attached to an HTTP server the application owns,
 * router.session(realm) as an in-process @switchboard/client Session (procedures, subscriptions,
 * progressive results, cancel, typed contracts), authenticators/authorizer/plugins, and
 * `await using`. The in-process path encodes nothing: a codec spy stays at zero and an object
 * arrives as the very object that was sent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { connect, Result } from '@switchboard/client';
import type { Session } from '@switchboard/client';
import { cborCodec, jsonCodec, msgpackCodec, WampError } from '@switchboard/schemas';
import { createRouter, silentLogger } from '@switchboard/router';
import type { Authenticator, RealmPlugin, Router } from '@switchboard/router';
import { within } from '../helpers.js';

/** A typed contract shared by the router-side callee and its callers. */
interface Api {
  procedures: {
    'com.example.add': { args: [number, number]; result: number };
    'com.example.count': { args: [number]; result: string; progress: [number] };
    'com.example.wait': { args: []; result: string };
  };
  topics: {
    'com.example.news': { args: [string] };
  };
}

async function listening(): Promise<{ server: ReturnType<typeof createServer>; port: number }> {
  const server = createServer((_req, res) => res.end('the application'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port };
}

async function started(options: Parameters<typeof createRouter>[0] = {}): Promise<Router> {
  const router = await createRouter({ logger: silentLogger(), ...options, config: { listeners: [], shutdownTimeoutMs: 500, ...options.config } }).start();
  onTestFinished(() => router.stop());
  return router;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createRouter + attach + router.session', () => {
  it('serves WebSocket clients on an application server, next to its own routes, and a router-side async procedure answers them', async () => {
    const { server, port } = await listening();
    const router = await started();
    router.attach(server, { path: '/ws' });
    const inside = await router.session<Api>('realm1');
    expect(inside.details?.['authid']).toBe('router');
    expect(inside.details?.['authrole']).toBe('trusted');
    await inside.register('com.example.add', async ([a, b]) => {
      await Promise.resolve();
      return a + b;
    });
    // The application's own routes still answer.
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('the application');
    const client = await connect<Api>({ url: `ws://127.0.0.1:${port}/ws`, realm: 'realm1', reconnect: false });
    onTestFinished(() => client.leave());
    expect(await client.call('com.example.add', [2, 3])).toBe(5);

    // Subscriptions both ways.
    const heardInside: string[] = [];
    await inside.subscribe('com.example.news', ([text]) => void heardInside.push(text));
    await client.publish('com.example.news', ['from outside'], undefined, { acknowledge: true });
    await vi.waitUntil(() => heardInside.length === 1, { timeout: 3000 });
    expect(heardInside).toEqual(['from outside']);
    const heardOutside: string[] = [];
    await client.subscribe('com.example.news', ([text]) => void heardOutside.push(text));
    await inside.publish('com.example.news', ['from inside'], undefined, { acknowledge: true, exclude_me: false });
    await vi.waitUntil(() => heardOutside.length === 1 && heardInside.length === 2, { timeout: 3000 });
    expect(heardOutside).toEqual(['from inside']);
  });

  it('progressive results and cancel, in process and from a WebSocket client', async () => {
    const { server, port } = await listening();
    const router = await started();
    router.attach(server);
    const inside = await router.session<Api>('realm1');
    await inside.register('com.example.count', ([n], _kwargs, details) => {
      for (let i = 1; i < n; i++) details.progress([i]);
      return `counted to ${n}`;
    });
    let aborted: unknown;
    let waiting = (): void => undefined;
    await inside.register('com.example.wait', (_args, _kwargs, details) => {
      waiting();
      return new Promise<string>((_resolve, reject) => {
        details.signal.addEventListener('abort', () => {
          aborted = details.signal.reason;
          reject(new WampError('wamp.error.canceled'));
        });
      });
    });
    const client = await connect<Api>({ url: `ws://127.0.0.1:${port}/ws`, realm: 'realm1', reconnect: false });
    onTestFinished(() => client.leave());
    for (const caller of [client, await router.session<Api>('realm1')]) {
      const progress: number[] = [];
      const stream = caller.callStream('com.example.count', [4]);
      for await (const chunk of stream) progress.push(chunk.args[0]);
      expect(progress).toEqual([1, 2, 3]);
      expect((await stream.result).value).toBe('counted to 4');
    }
    for (const caller of [client, await router.session<Api>('realm1')]) {
      aborted = undefined;
      const invoked = new Promise<void>((resolve) => (waiting = resolve));
      const ac = new AbortController();
      const call = caller.call('com.example.wait', [], undefined, { signal: ac.signal });
      await within(invoked, 3000, 'the invocation');
      ac.abort();
      await expect(call).rejects.toMatchObject({ uri: 'wamp.error.canceled' });
      await vi.waitUntil(() => aborted !== undefined, { timeout: 3000 });
      expect(aborted).toMatchObject({ uri: 'wamp.error.canceled' });
    }
  });

  it('nothing is encoded in process: no codec runs, and an object arrives equal to the one sent (copied on the way in, never re-encoded)', async () => {
    const router = await started();
    const publisher = await router.session('realm1');
    const subscriber = await router.session('realm1');
    const callee = await router.session('realm1');
    const payload = { nested: { list: [1, 2, 3] }, bytes: new Uint8Array([0, 1, 2]) };
    const received: unknown[] = [];
    await subscriber.subscribe('com.example.objects', (args) => void received.push(args[0]));
    let invokedWith: unknown;
    await callee.register('com.example.echo', (args) => {
      invokedWith = args[0];
      return new Result([args[0]]);
    });
    const spies = [msgpackCodec, jsonCodec, cborCodec].flatMap((codec) => [vi.spyOn(codec, 'encode'), vi.spyOn(codec, 'decode')]);
    await publisher.publish('com.example.objects', [payload], undefined, { acknowledge: true });
    const answer = await publisher.call('com.example.echo', [payload]);
    await vi.waitUntil(() => received.length === 1, { timeout: 3000 });
    // What a session sends is copied as it is checked (review finding 5): equal, not the same object.
    expect(received[0]).toEqual(payload);
    expect(received[0]).not.toBe(payload);
    expect(invokedWith).toEqual(payload);
    expect(answer).toEqual(payload);
    expect((received[0] as typeof payload).bytes).toBeInstanceOf(Uint8Array);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('a value no serializer could carry is refused to that request alone; the session goes on', async () => {
    const router = await started();
    const inside = await router.session('realm1');
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    await expect(inside.publish('com.x', [cyclic], undefined, { acknowledge: true })).rejects.toMatchObject({ name: 'SerializerError' });
    await expect(inside.publish('com.x', [() => 1], undefined, { acknowledge: true })).rejects.toMatchObject({ name: 'SerializerError' });
    await expect(inside.publish('com.x', [new Date()], undefined, { acknowledge: true })).rejects.toMatchObject({ name: 'SerializerError' });
    expect(await inside.publish('com.x', ['fine'], undefined, { acknowledge: true })).toEqual(expect.any(Number));
  });

  it('router.session(realm, { authrole }) is authorized like any session of that role; without it the router is not asked', async () => {
    const router = await started({
      config: {
        realms: [{ name: 'realm1', roles: [{ name: 'reader', permissions: [{ uri: 'com.example.', match: 'prefix', allow: { subscribe: true } }] }] }],
      },
    });
    const reader = await router.session('realm1', { authrole: 'reader', authid: 'alice' });
    expect(reader.details).toMatchObject({ authid: 'alice', authrole: 'reader' });
    await reader.subscribe('com.example.news', () => undefined);
    await expect(reader.publish('com.example.news', ['x'], undefined, { acknowledge: true })).rejects.toMatchObject({ uri: 'wamp.error.not_authorized' });
    const trusted = await router.session('realm1');
    expect(await trusted.publish('com.example.news', ['x'], undefined, { acknowledge: true })).toEqual(expect.any(Number));
    await expect(router.session('realm1', { authrole: 'nobody' })).rejects.toMatchObject({ reason: 'wamp.error.no_such_role' });
    await expect(router.session('nowhere')).rejects.toMatchObject({ reason: 'wamp.error.no_such_realm' });
  });

  it('authenticators, authorizer and plugins: installed per realm in order, torn down at stop in reverse', async () => {
    const { server, port } = await listening();
    const ticket: Authenticator = {
      method: 'ticket',
      authenticate: (hello) =>
        hello.authid === 'joe'
          ? { kind: 'accept', principal: { authid: 'joe', authrole: 'member', authprovider: 'app' } }
          : { kind: 'deny', reason: 'wamp.error.authentication_failed', message: 'who?' },
    };
    const asked: string[] = [];
    const events: string[] = [];
    const plugin = (name: string): RealmPlugin => ({
      name,
      install: (realm) => {
        events.push(`install ${name} ${realm.name}`);
        return () => void events.push(`teardown ${name} ${realm.name}`);
      },
    });
    const router = await started({
      config: { realms: [{ name: 'realm1' }, { name: 'realm2' }] },
      authenticators: { ticket },
      authorizer: (realm) => ({
        hasRole: () => true,
        authorize: (subject, uri, action) => {
          asked.push(`${realm} ${subject.authid ?? ''} ${action} ${uri}`);
          return { allow: !uri.endsWith('.secret') };
        },
      }),
      plugins: [plugin('a'), plugin('b')],
    });
    // Realm by realm, each realm's plugins in list order (realm-plugin.ts); torn down in exactly the reverse.
    expect(events).toEqual(['install a realm1', 'install b realm1', 'install a realm2', 'install b realm2']);
    router.attach(server, { path: '/wamp' });
    const joe = await connect({
      url: `ws://127.0.0.1:${port}/wamp`,
      realm: 'realm2',
      reconnect: false,
      auth: { authmethods: ['ticket'], authid: 'joe', onChallenge: () => '' },
    });
    expect(joe.details).toMatchObject({ authid: 'joe', authrole: 'member', authmethod: 'ticket' });
    await joe.publish('com.example.open', [], undefined, { acknowledge: true });
    await expect(joe.publish('com.example.secret', [], undefined, { acknowledge: true })).rejects.toMatchObject({ uri: 'wamp.error.not_authorized' });
    expect(asked).toEqual(['realm2 joe publish com.example.open', 'realm2 joe publish com.example.secret']);
    await expect(
      connect({
        url: `ws://127.0.0.1:${port}/wamp`,
        realm: 'realm2',
        reconnect: false,
        auth: { authmethods: ['ticket'], authid: 'eve', onChallenge: () => '' },
      }),
    ).rejects.toMatchObject({
      reason: 'wamp.error.authentication_failed',
    });
    await router.stop();
    expect(events.slice(4)).toEqual(['teardown b realm2', 'teardown a realm2', 'teardown b realm1', 'teardown a realm1']);
  });

  it('await using: the router stops when the scope ends, its sessions end, and the application server goes on', async () => {
    const { server, port } = await listening();
    let inside: Session | undefined;
    let outside: Session | undefined;
    {
      await using router = await createRouter({ config: { listeners: [], shutdownTimeoutMs: 500 }, logger: silentLogger() }).start();
      router.attach(server);
      inside = await router.session('realm1');
      outside = await connect({ url: `ws://127.0.0.1:${port}/ws`, realm: 'realm1', reconnect: false });
      expect(router.sessionCount).toBe(2);
    }
    await vi.waitUntil(() => inside?.isOpen === false && outside?.isOpen === false, { timeout: 3000 });
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('the application');
  });
});
