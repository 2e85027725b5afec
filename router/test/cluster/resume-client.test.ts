/**
 * Session resumption across the cluster with our client (#18) [ap_session_resumption]: two routers
 * in this process, nodes of one cluster over a real nats-server, and `@switchboard/client` behind a
 * TCP proxy whose upstream is switched from node A to node B before the link is cut (as a load
 * balancer would send a reconnect elsewhere). The client resumes on B with the same session ID;
 * its subscription keeps receiving what is published on A, and a call it had in flight on A
 * resolves through B.
 */
import { createServer, connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { onTestFinished, describe, expect, it } from 'vitest';
import { Connection } from '@switchboard/client';
import type { ConnectionEvents } from '@switchboard/client';
import type { Router } from '@switchboard/router';
import { clusterNodeConfig, startNats } from '../../../test/support/cluster.js';
import { startTestRouter, until } from '../helpers.js';
import { deferred, open, uri, within } from '../../../client/test/helpers.js';

const FAST = { initialDelayMs: 30, maxDelayMs: 100, jitter: 0 };

/** A TCP proxy to one port of 127.0.0.1, which `target` can change for the links made after. */
class SwitchingProxy {
  readonly #links = new Set<{ client: Socket; upstream: Socket }>();

  private constructor(
    public target: number,
    readonly server: ReturnType<typeof createServer>,
  ) {}

  port = 0;

  static async start(target: number): Promise<SwitchingProxy> {
    let self: SwitchingProxy | undefined;
    const server = createServer((client) => {
      const upstream = connectTcp(self!.target, '127.0.0.1');
      const link = { client, upstream };
      self!.#links.add(link);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = (): void => {
        self!.#links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        socket.on('close', end);
        socket.on('error', end);
      }
    });
    self = new SwitchingProxy(target, server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    self.port = address.port;
    const made = self;
    onTestFinished(() => {
      made.cut();
      return new Promise<void>((resolve) => made.server.close(() => resolve()));
    });
    return self;
  }

  /** Links open now end at once (both sides see the TCP connection close: no GOODBYE). */
  cut(): void {
    for (const { client, upstream } of this.#links) {
      client.destroy();
      upstream.destroy();
    }
  }
}

const portOf = (router: Router): number => router.addresses[0]!.port;

describe('cluster: our client resumes across nodes', () => {
  it('cut on A, reconnected through the proxy to B: same session ID, the subscription keeps receiving, a call in flight resolves', async () => {
    const nats = await startNats();
    const a = await startTestRouter(clusterNodeConfig({ natsUrl: nats.url, node: 'node-a', realms: [{ name: 'realm1' }] }));
    const b = await startTestRouter(clusterNodeConfig({ natsUrl: nats.url, node: 'node-b', realms: [{ name: 'realm1' }] }));
    const proxy = await SwitchingProxy.start(portOf(a));
    const proxied = a.url.replace(`:${portOf(a)}`, `:${proxy.port}`);

    const connection = new Connection({ url: proxied, realm: 'realm1', reconnect: FAST });
    onTestFinished(() => within(connection.close(), 5000, 'close'));
    await within(connection.open(), 5000, 'the connection to open');
    const session = connection.session;
    expect(session.resumable).toBe(true);
    const id = session.id;
    expect(a.realm('realm1')?.sessions.get(id as never)).toBeDefined();

    // A subscription, and a publisher and a slow callee that stay on A.
    const topic = uri('moved.topic');
    const got: unknown[] = [];
    let arrived = deferred();
    await session.subscribe(topic, (args) => {
      got.push(args[0]);
      arrived.resolve();
    });
    const publisher = await open(a.url);
    const callee = await open(a.url);
    const procedure = uri('moved.slow');
    const release = deferred();
    let invoked = 0;
    await callee.register(procedure, async (args) => {
      invoked++;
      await release.promise;
      return `done ${String(args[0])}`;
    });
    await publisher.publish(topic, ['before'], {}, { acknowledge: true });
    await within(arrived.promise, 5000, 'the event before the move');

    const calling = session.call(procedure, ['x']);
    await until(() => invoked === 1, 5000, 'the invocation on A');

    // The load balancer sends the reconnect to B; the link to A is cut under the client.
    const resumed = new Promise<ConnectionEvents['resumed']>((resolve) => connection.once('resumed', resolve));
    proxy.target = portOf(b);
    proxy.cut();
    const report = await within(resumed, 10_000, 'the resume on B');
    expect(report.session).toBe(session);
    expect(session.id).toBe(id);
    expect(b.realm('realm1')?.sessions.get(id as never)?.attached).toBe(true);
    expect(a.realm('realm1')?.sessions.get(id as never)).toBeUndefined();

    // The call made on A resolves: its answer is forwarded from A to B.
    release.resolve();
    expect(await within(calling, 10_000, 'the result of the call made on A')).toBe('done x');
    expect(invoked).toBe(1);

    // The subscription, restored on B, receives what is published on A (the interest crosses
    // NATS in its own time: publish until one arrives).
    const end = Date.now() + 10_000;
    for (let i = 0; ; i++) {
      arrived = deferred();
      await publisher.publish(topic, [i], {}, { acknowledge: true });
      const came = await Promise.race([arrived.promise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 100))]);
      if (came) break;
      if (Date.now() > end) throw new Error('no event reached the resumed session on B');
    }
    expect(got[0]).toBe('before');
    expect(got.length).toBeGreaterThanOrEqual(2);
    // Still the same session, never re-opened as a new one.
    expect(session.id).toBe(id);
  });
});
