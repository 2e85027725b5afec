/**
 * A cluster on a NATS cluster, not one nats-server (#19): three nats-servers with routes and
 * JetStream (test/support/cluster.ts startNatsCluster), router processes with every server's URL
 * (each first on a different one: `randomize: false`) and `cluster.nats.replicas: 3`.
 *
 * - replicas: what NATS cannot honour stops a node at start, naming the key; buckets made with
 *   other replicas are scaled to the configured number.
 * - a JetStream leader election (the buckets' leader server killed, no router node connected to
 *   it): the KV writes that fail meanwhile are put back once the buckets have a leader again,
 *   without a reconnect.
 * - the proof: a NATS server a router node is connected to is SIGKILLed while a publisher sends
 *   numbered events (every other one acknowledged) to subscribers on two other nodes, calls go
 *   both ways across nodes and new sessions register procedures; the node moves to another
 *   server, no acknowledged event is lost, order holds, every call is answered, everything flows
 *   again within a bound, and the buckets hold exactly the live sessions and registrations. Then
 *   the server is restarted and another one killed.
 *
 * Heavy tests (processes): each its own NATS cluster. Traffic is paced (one event and two calls
 * every 20 ms) so that CI's two shared cores keep up; every wait is bounded and awaits an event or
 * a condition.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect as natsConnect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { WampError, connect } from '@switchboard/client';
import type { Session } from '@switchboard/client';
import { open, uri, within } from '../../../client/test/helpers.js';
import { startClusterNode, startNats, startNatsCluster } from '../../../test/support/cluster.js';
import type { ClusterNode, ClusterNodeOptions, NatsCluster } from '../../../test/support/cluster.js';

const BUCKETS = ['registrations', 'sessions', 'retained', 'subscriptions', 'testaments', 'resumable'];
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A router node on the NATS cluster, first on server `first`, with `replicas`. */
function node(nats: NatsCluster, name: string, first: number, extra: Partial<ClusterNodeOptions> = {}, replicas: 1 | 3 | 5 = 3): Promise<ClusterNode> {
  return startClusterNode({
    // Six buckets with 3 replicas each: every one a Raft group the JetStream cluster forms first.
    timeoutMs: 60_000,
    ...extra,
    natsUrl: nats.urlsFrom(first),
    node: name,
    cluster: { ...extra.cluster, nats: { servers: [], randomize: false, replicas } },
  });
}

/** A NATS connection of the test's own (closed when the test finishes), and JetStream's manager on it. */
async function natsClient(servers: string[]): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await natsConnect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  onTestFinished(() => nc.close());
  return { nc, jsm: await jetstreamManager(nc) };
}

/** Index of the NATS server a router node is connected to (its connection is named switchboard-<node>). */
async function serverOf(nats: NatsCluster, name: string): Promise<number> {
  for (const [i, server] of nats.servers.entries()) {
    if (!server.running) continue;
    const connz = await nats.monitor(i, 'connz').catch(() => ({}) as Record<string, unknown>);
    const connections = (connz['connections'] ?? []) as { name?: string }[];
    if (connections.some((c) => c.name === `switchboard-${name}`)) return i;
  }
  return -1;
}

/** Calls until the procedure answers (a registration made on another node is callable once that node's claim is in the bucket). */
async function callable(session: Session, procedure: string, ms: number): Promise<unknown> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await session.call(procedure, [1], {}, { timeout: 5000 });
    } catch (err) {
      if (!(err instanceof WampError) || Date.now() > end) throw err;
      await sleep(100);
    }
  }
}

describe('cluster on a NATS cluster: replicas', () => {
  it('replicas 3 on a single nats-server: the node refuses to start, naming cluster.nats.replicas', { timeout: 60_000 }, async () => {
    const single = await startNats();
    const start = startClusterNode({ natsUrl: single.url, node: 'lonely', cluster: { nats: { servers: [], replicas: 3 } } });
    await expect(start).rejects.toThrow(/cluster\.nats\.replicas: 3 replicas need a NATS cluster of at least 3 JetStream servers.*single nats-server/);
  });

  it('5 replicas on 3 servers are refused at start; buckets made with 1 replica are scaled to 3', { timeout: 120_000 }, async () => {
    const nats = await startNatsCluster();
    expect(nats.urls).toHaveLength(3);
    expect(nats.urlsFrom(1)).toEqual([nats.urls[1], nats.urls[2], nats.urls[0]]);
    await expect(node(nats, 'five', 0, { cluster: { nats: { servers: [] }, prefix: 'five' } }, 5)).rejects.toThrow(
      /cluster\.nats\.replicas: NATS refused 5 replicas for the KV bucket 'five-registrations'/,
    );

    // Made with 1 replica, then a node configured with 3 scales them.
    const first = await node(nats, 'one', 0, {}, 1);
    const { jsm } = await natsClient(nats.urls);
    const replicas = async (): Promise<number[]> => Promise.all(BUCKETS.map(async (b) => (await jsm.streams.info(`KV_sb-${b}`)).config.num_replicas));
    expect(await replicas()).toEqual([1, 1, 1, 1, 1, 1]);
    await first.stop();
    const second = await node(nats, 'three', 1);
    expect(await replicas()).toEqual([3, 3, 3, 3, 3, 3]);
    expect(second.output()).toMatch(/"msg":"cluster: KV bucket scaled to cluster.nats.replicas"/);
    // …and serves: a session joins.
    const session = await open(second.url);
    expect(session.isOpen).toBe(true);
  });
});

describe('cluster on a NATS cluster: a JetStream leader election', () => {
  it('a registration and a session written while the buckets have no leader are put back once they have one, without a reconnect', {
    timeout: 120_000,
  }, async () => {
    const nats = await startNatsCluster();
    const a = await node(nats, 'node-a', 0);
    const c = await node(nats, 'node-c', 1);
    expect([await serverOf(nats, 'node-a'), await serverOf(nats, 'node-c')]).toEqual([0, 1]);
    // Every bucket's stream leader on n3, the server no router node is connected to.
    const { nc, jsm } = await natsClient([nats.urls[0]!]);
    for (const bucket of BUCKETS) {
      const stream = `KV_sb-${bucket}`;
      await waitFor(
        async () => {
          const leader = (await jsm.streams.info(stream)).cluster?.leader;
          if (leader === 'n3') return true;
          await nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5000 }).catch(() => undefined);
          await sleep(500);
          return false;
        },
        `${stream}'s leader on n3`,
        60_000,
      );
    }
    const caller = await open(a.url);
    await nats.kill(2);
    // Written while no bucket has a leader: the claim and the session record fail (JetStream does
    // not answer), the registration holds on node C.
    const callee = await open(c.url);
    const procedure = uri('election.proc');
    await callee.register(procedure, () => 'from C');
    expect(await within(callable(caller, procedure, 60_000), 65_000, 'the registration callable from node A')).toBe('from C');
    // The session record too (node A's meta API lists sessions of the whole cluster).
    const known = async (): Promise<boolean> => {
      const details = await caller.call('wamp.session.get', [callee.id]).catch(() => undefined);
      return (details as { session?: number } | undefined)?.session === callee.id;
    };
    await waitFor(known, "node C's session known to node A", 30_000);
    expect(c.output()).toMatch(/"msg":"cluster: KV operations failed; resynchronising"/);
    // No router node lost its NATS connection: the resync was not a reconnect's.
    for (const n of [a, c]) expect(n.output()).not.toMatch(/NATS connection lost/);
  });
});
