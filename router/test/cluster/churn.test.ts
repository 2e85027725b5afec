/**
 * Node churn (issue #19, "Failure behaviour"): a router node joins and leaves, round after round —
 * a clean stop (SIGTERM) and a kill -9 in turn, a killed node sometimes rejoining at once under the
 * same name (a new incarnation while the old one is not yet timed out) — while traffic flows
 * between two stable nodes and the churning one: a publisher and subscribers, callers and callees
 * on each side. After every round: every call made got RESULT or ERROR within a bound, the meta API
 * of each stable node and every KV bucket hold exactly the sessions that exist, and no stand-in of
 * a dead node is left in a dealer.
 *
 * CHURN_ROUNDS=N runs N rounds (default 20).
 */
import { describe, expect, it } from 'vitest';
import { WampError } from '@switchboard/client';
import type { Session } from '@switchboard/client';
import { open, uri } from '../../../client/test/helpers.js';
import { clusterSaid, startCluster } from '../../../test/support/cluster.js';
import type { ClusterNode } from '../../../test/support/cluster.js';
import { kvReader, listedSessions, sorted, waitFor } from './cluster-state.js';
import type { KvState } from './cluster-state.js';

const ROUNDS = Number(process.env['CHURN_ROUNDS'] ?? 20);
/** Every call ends in RESULT or ERROR within this (a callee's node killed: the node timeout, 1.5 s, and then some, under load). */
const CALL_BOUND_MS = 8000;
const CHURNING = 'node-0'; // first by name: the node that purges others is never the one churning

/** Every bucket holds only the session `id`: no other session, no callee, subscription or testament. */
function holdsOnly(kv: KvState, id: unknown): boolean {
  return (
    JSON.stringify(kv.sessionIds()) === JSON.stringify([id]) && kv.callees().length === 0 && kv.subscriptions().length === 0 && kv.buckets.testaments.size === 0
  );
}

/** What the buckets hold, for a failure message beside holdsOnly. */
function bucketsSaid(kv: KvState): string {
  return `sessions ${JSON.stringify(kv.sessionIds())}, callees ${JSON.stringify(kv.callees())}, subscriptions ${JSON.stringify(kv.subscriptions())}, testaments ${JSON.stringify([...kv.buckets.testaments.keys()])}`;
}

/** Calls `procedure` from `session` until stopped, one at a time, recording how each ended and how long it took. */
function callLoop(
  session: Session,
  procedure: string,
): {
  results: Map<string, number>;
  errors: Map<string, number>;
  slowest: () => number;
  stop: () => Promise<void>;
} {
  const results = new Map<string, number>();
  const errors = new Map<string, number>();
  let slowest = 0;
  let running = true;
  const loop = (async () => {
    while (running && session.isOpen) {
      const start = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`a call to ${procedure} got no RESULT or ERROR within ${CALL_BOUND_MS} ms`)), CALL_BOUND_MS);
      });
      try {
        const value = String(await Promise.race([session.call(procedure), stuck]));
        results.set(value, (results.get(value) ?? 0) + 1);
      } catch (err) {
        if (!(err instanceof Error) || err.message.includes('within')) throw err;
        const key = err instanceof WampError ? err.uri : err.name;
        errors.set(key, (errors.get(key) ?? 0) + 1);
        if (key === 'wamp.error.no_such_procedure') await new Promise((r) => setTimeout(r, 20));
      } finally {
        clearTimeout(timer);
      }
      slowest = Math.max(slowest, Date.now() - start);
    }
  })();
  return {
    results,
    errors,
    slowest: () => slowest,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Publishes on `topic` from `session` every few milliseconds until stopped. */
function publishLoop(session: Session, topic: string): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    for (let n = 0; running && session.isOpen; n++) {
      await session.publish(topic, [n]).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

describe('cluster: node churn', () => {
  it(`${ROUNDS} rounds of a node joining and leaving (clean stop and kill -9 in turn) under traffic: no stuck call, no leaked KV entry, no stand-in of a dead node`, {
    timeout: Math.max(300_000, ROUNDS * 15_000),
  }, async () => {
    const started = Date.now();
    const cluster = await startCluster(2);
    const [nA, nB] = cluster.nodes as [ClusterNode, ClusterNode];
    const state = await kvReader(cluster.nats.url);
    const fromStable = uri('churn.stable.events');
    const fromChurn = uri('churn.churning.events');
    const onStable = uri('churn.stable.proc');
    const onBoth = uri('churn.shared.proc');

    // The stable side: a publisher and a callee on node-a, a subscriber and a callee (shared with the churning node's) on node-b.
    const publisher = await open(nA.url);
    const stableCallee = await open(nA.url);
    await stableCallee.register(onStable, () => 'stable');
    const sharedCallee = await open(nB.url);
    await sharedCallee.register(onBoth, () => 'node-b', { invoke: 'roundrobin' });
    const stableSubscriber = await open(nB.url);
    let churnEvents = 0;
    await stableSubscriber.subscribe(fromChurn, () => void churnEvents++);
    const callerA = await open(nA.url);
    const callerB = await open(nB.url);
    const stable = [publisher, stableCallee, sharedCallee, stableSubscriber, callerA, callerB];
    const stopPublishing = publishLoop(publisher, fromStable);
    const callsA = callLoop(callerA, onBoth);
    const callsB = callLoop(callerB, onBoth);

    /** Meta API on both stable nodes and every bucket hold exactly the stable sessions; no stand-in of the churning node is left. */
    const settled = async (round: number): Promise<void> => {
      const ids = sorted(stable.map((s) => s.id));
      const idSet = new Set(ids);
      const json = JSON.stringify(ids);
      let last = '';
      await waitFor(
        async () => {
          const problems: string[] = [];
          for (const observer of [callerA, callerB]) {
            const listed = await listedSessions(observer);
            if (JSON.stringify(listed) !== json) problems.push(`wamp.session.list ${JSON.stringify(listed)}`);
            const registration = await observer.call('wamp.registration.lookup', [onBoth]);
            const callees = registration === null ? [] : ((await observer.call('wamp.registration.list_callees', [registration])) as number[]);
            if (JSON.stringify(callees) !== JSON.stringify([sharedCallee.id])) problems.push(`callees of the shared procedure ${JSON.stringify(callees)}`);
          }
          const kv = await state();
          if (JSON.stringify(kv.sessionIds()) !== json) {
            // The records left, with the node and incarnation that wrote them.
            const left = [...kv.buckets.sessions].filter(([key]) => !idSet.has(Number(key.slice(key.lastIndexOf('.') + 1))));
            problems.push(
              `sessions bucket ${JSON.stringify(kv.sessionIds())}, left ${JSON.stringify(left.map(([key, r]) => [key, (r as { node?: string }).node, (r as { inc?: number }).inc]))}`,
            );
          }
          const leaked = kv.callees().filter((c) => !idSet.has(c.session) || c.node === CHURNING);
          if (leaked.length > 0) problems.push(`registrations bucket ${JSON.stringify(leaked)}`);
          const subs = kv.subscriptions().filter((s) => s.node === CHURNING || s.subscribers.some((id) => !idSet.has(id)));
          if (subs.length > 0) problems.push(`subscriptions bucket ${JSON.stringify(subs)}`);
          if (kv.buckets.testaments.size > 0) problems.push(`testaments bucket ${JSON.stringify([...kv.buckets.testaments.keys()])}`);
          const resumable = [...kv.buckets.resumable.keys()].filter((key) => !idSet.has(Number(key)));
          if (resumable.length > 0) problems.push(`resumable bucket ${JSON.stringify(resumable)}`);
          last = problems.join('; ');
          return problems.length === 0;
        },
        `round ${round}: nothing of the churning node left`,
        // A killed node is purged after the node timeout, then its records deleted: seconds, but
        // CI's full suite on 2 cores once took past 15 s in one round.
        30_000,
      ).catch((err: unknown) => {
        // What the stable nodes said about the churning one (node down, purge): a missed purge or a failed one.
        throw new Error(`${(err as Error).message}: ${last}\n${clusterSaid([nA, nB])}`);
      });
    };

    let node: ClusterNode | undefined;
    let starting: Promise<ClusterNode> | undefined;
    const leaves: string[] = [];
    const spent = { start: 0, traffic: 0, leave: 0, settle: 0 };
    let mark = Date.now();
    const lap = (phase: keyof typeof spent): void => {
      spent[phase] += Date.now() - mark;
      mark = Date.now();
    };
    for (let round = 0; round < ROUNDS; round++) {
      node ??= await (starting ?? cluster.addNode(CHURNING));
      starting = undefined;
      lap('start');
      // The churning side: a callee of the shared procedure (with a testament), a caller of node-a's,
      // a subscriber to node-a's events and a publisher to node-b's subscriber.
      const callee = await open(node.url);
      await callee.register(onBoth, () => new Promise((r) => setTimeout(() => r(CHURNING), 20)), { invoke: 'roundrobin' });
      await callee.call('wamp.session.add_testament', [uri('churn.testament'), [round], {}]);
      const caller = await open(node.url);
      const subscriber = await open(node.url);
      let stableEvents = 0;
      await subscriber.subscribe(fromStable, () => void stableEvents++);
      const publisherHere = await open(node.url);
      const churnEventsBefore = churnEvents;
      const churnResultsBefore = (callsA.results.get(CHURNING) ?? 0) + (callsB.results.get(CHURNING) ?? 0);
      const calls = callLoop(caller, onStable);
      const stopHere = publishLoop(publisherHere, fromChurn);
      // Traffic flows both ways through the churning node before it goes.
      await waitFor(
        () =>
          stableEvents > 0 &&
          churnEvents > churnEventsBefore &&
          (calls.results.get('stable') ?? 0) > 0 &&
          (callsA.results.get(CHURNING) ?? 0) + (callsB.results.get(CHURNING) ?? 0) > churnResultsBefore,
        `round ${round}: traffic through the churning node`,
        15_000,
      );
      lap('traffic');
      const how = round % 2 === 0 ? 'stop' : 'kill';
      leaves.push(how);
      if (how === 'stop') expect(await node.stop()).toBe(0);
      else await node.kill('SIGKILL');
      node = undefined;
      // Its clients' loops end with their sessions; none of their calls is stuck.
      await calls.stop();
      await stopHere();
      expect(calls.slowest()).toBeLessThan(CALL_BOUND_MS);
      lap('leave');
      // Every fourth round the killed node rejoins at once (a new incarnation, started while the old
      // one times out; the next test makes the restart beat the timeout). After a clean stop the next one starts while the cluster settles; after the
      // other kills only once it has (the old incarnation purged after the node timeout).
      if (round % 4 === 3) node = await cluster.addNode(CHURNING);
      else if (how === 'stop' && round + 1 < ROUNDS) starting = cluster.addNode(CHURNING);
      await settled(round);
      lap('settle');
    }
    await stopPublishing();
    await callsA.stop();
    await callsB.stop();
    expect(callsA.slowest()).toBeLessThan(CALL_BOUND_MS);
    expect(callsB.slowest()).toBeLessThan(CALL_BOUND_MS);
    expect(callsA.results.get('node-b') ?? 0).toBeGreaterThan(0);
    // Errors the stable callers saw are the documented ones: a callee gone (canceled) or briefly none (no_such_procedure never: node-b's stays).
    const errorKinds = new Set([...callsA.errors.keys(), ...callsB.errors.keys()]);
    for (const kind of errorKinds) expect(['wamp.error.canceled']).toContain(kind);
    // A dead incarnation is purged twice, a node timeout apart: what the second pass still found
    // were writes that reached the buckets after the first (node-a purges: it is first by name).
    const passes = new Map<number, number[]>();
    for (const line of nA
      .output()
      .split('\n')
      .filter((l) => l.includes("removed a dead node's"))) {
      const { incarnation, sessions, subscriptions, registrations } = JSON.parse(line) as Record<string, number>;
      passes.set(incarnation!, [...(passes.get(incarnation!) ?? []), sessions! + subscriptions! + registrations!]);
    }
    const late = [...passes.values()].reduce((sum, removed) => sum + (removed[1] ?? 0), 0);
    console.info(
      `churn figures: ${ROUNDS} rounds (${leaves.filter((l) => l === 'stop').length} clean stops, ${leaves.filter((l) => l === 'kill').length} kills) in ${Date.now() - started} ms; ` +
        `stable callers: ${JSON.stringify(Object.fromEntries(callsA.results))} / ${JSON.stringify(Object.fromEntries(callsB.results))} results, ` +
        `errors ${JSON.stringify(Object.fromEntries(callsA.errors))} / ${JSON.stringify(Object.fromEntries(callsB.errors))}, slowest call ${Math.max(callsA.slowest(), callsB.slowest())} ms; entries removed by a purge's second pass ${late}; time spent ${JSON.stringify(spent)} ms`,
    );
  });

  it("a node first by name, killed and restarted at once, is a new incarnation: the others purge the old one's entries (the restart seen, not a timeout)", {
    timeout: 120_000,
  }, async () => {
    // A node timeout longer than a restart: the old incarnation goes because the new one's heartbeat
    // says 'restarted', not by timing out — and the node first by name is the new incarnation itself,
    // which never purges its old self: the next live node must, once it has been up for a node
    // timeout (it tries again until then).
    const cluster = await startCluster(0, { cluster: { heartbeatMs: 300, nodeTimeoutMs: 20_000 } });
    const stable = await cluster.addNode('node-b');
    const first = await cluster.addNode('node-a');
    const state = await kvReader(cluster.nats.url);
    const observer = await open(stable.url);
    const old = await open(first.url);
    const procedure = uri('churn.reborn');
    const topic = uri('churn.reborn.topic');
    await old.register(procedure, () => 'old');
    await old.subscribe(topic, () => undefined);
    await old.call('wamp.session.add_testament', [uri('churn.reborn.testament'), [], {}]);
    await waitFor(async () => (await observer.call('wamp.registration.lookup', [procedure])) !== null, 'the registration seen from node-b');
    await waitFor(async () => (await state()).buckets.testaments.size === 1, 'the testament in the bucket');
    await first.kill('SIGKILL');
    const killedAt = Date.now();
    await cluster.addNode('node-a');
    await waitFor(
      async () => {
        const kv = await state();
        return (
          JSON.stringify(await listedSessions(observer)) === JSON.stringify([observer.id]) &&
          (await observer.call('wamp.registration.lookup', [procedure])) === null &&
          holdsOnly(kv, observer.id)
        );
      },
      "the old incarnation's session, registration, subscription and testament to go",
      // The purge comes once node-b has been up for a node timeout (20 s); under CI's full suite
      // node-b's view then once took over 10 s more to follow the bucket's deletions.
      45_000,
    ).catch(async (err: unknown) => {
      const kv = await state();
      throw new Error(
        `${(err as Error).message}: listed ${JSON.stringify(await listedSessions(observer))}, ${bucketsSaid(kv)}\n${stable
          .output()
          .split('\n')
          .filter((l) => l.includes('"cluster"'))
          .join('\n')}`,
      );
    });
    expect(stable.output()).toMatch(/"peer":"node-a","why":"restarted"/);
    expect(Date.now() - killedAt).toBeLessThan(45_000);
  });
  it('two nodes dying within a node timeout of each other: the purge the first by name had still to do is done by the next one', {
    timeout: 120_000,
  }, async () => {
    const cluster = await startCluster(3);
    const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
    const state = await kvReader(cluster.nats.url);
    const observer = await open(b.url);
    const onA = await open(a.url);
    const doomed = await open(c.url);
    await doomed.register(uri('churn.left.proc'), () => 'c');
    await doomed.subscribe(uri('churn.left.topic'), () => undefined);
    await doomed.call('wamp.session.add_testament', [uri('churn.left.testament'), [], {}]);
    await waitFor(async () => {
      const kv = await state();
      return kv.sessionIds().length === 3 && kv.callees().length === 1 && kv.subscriptions().length === 1 && kv.buckets.testaments.size === 1;
    }, "node-c's entries in the buckets");
    expect(onA.id).not.toBe(observer.id);
    await c.kill('SIGKILL');
    // node-a, first by name, purges node-c a heartbeat after it takes it for dead: it dies first.
    // node-b, which left the purge to node-a (alive for it for another node timeout), must do it
    // once node-a goes down too.
    await a.process.waitFor(/"peer":"node-c","why":"timeout",.*"msg":"cluster: node down"/, 15_000);
    await a.kill('SIGKILL');
    await waitFor(
      async () => {
        const kv = await state();
        return holdsOnly(kv, observer.id);
      },
      "node-c's and node-a's entries to go",
      30_000,
    ).catch(async (err: unknown) => {
      const kv = await state();
      throw new Error(`${(err as Error).message}: ${bucketsSaid(kv)} (node-b's session ${observer.id})\n${clusterSaid([b])}`);
    });
    expect(b.output()).toMatch(/"node":"node-b","dead":"node-c",.*"msg":"cluster: removed a dead node's sessions and registrations"/);
  });
});
