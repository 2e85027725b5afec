/**
 * One router node cut off from NATS while the others stay connected (issue #19, "Failure
 * behaviour"): a cutting TCP proxy (test/support/proxy.ts) stands between node-c and nats-server,
 * and `partition(true)` cuts it and refuses its reconnects until `partition(false)` heals it.
 * What node-c's clients see, what the other nodes see, and the state after the heal — meta API on
 * every node and every KV bucket — compared with the sessions that really exist.
 */
import { describe, expect, it } from 'vitest';
import { WampError } from '@switchboard/client';
import type { Registration, Session } from '@switchboard/client';
import { deferred, open, uri, within } from '../../../client/test/helpers.js';
import { startCluster } from '../../../test/support/cluster.js';
import { CuttingProxy } from '../../../test/support/proxy.js';
import { kvReader, listedSessions, sorted, waitFor } from './cluster-state.js';
import { callable } from './callable.js';

/** A callee that answers `name`, or never answers a call whose first argument is 'hang' (telling `invoked`). */
function hangingCallee(name: string): { invoked: ReturnType<typeof deferred<void>>; handler: (args: unknown[]) => unknown } {
  const invoked = deferred<void>();
  return {
    invoked,
    handler: (args) => {
      if (args[0] !== 'hang') return name;
      invoked.resolve();
      return new Promise(() => undefined);
    },
  };
}

const NODE_TIMEOUT_MS = 1500;

describe('cluster: one node partitioned from NATS', () => {
  it('keeps serving its own clients; the others take it for dead; on heal one registration survives cluster-wide and no session is a ghost', {
    timeout: 120_000,
  }, async () => {
    const cluster = await startCluster(2);
    const [nA, nB] = cluster.nodes as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const proxy = await CuttingProxy.start([cluster.nats.port]);
    const nC = await cluster.addNode('node-c', { natsUrl: `nats://127.0.0.1:${proxy.port}` });
    const state = await kvReader(cluster.nats.url);
    /** Every session open now: what the meta API and the buckets must list at the end. */
    const live = new Set<Session>();
    const join = async (url: string): Promise<Session> => {
      const s = await open(url);
      live.add(s);
      return s;
    };
    const a = await join(nA.url);
    const b = await join(nB.url);
    const c = await join(nC.url);
    const procA = uri('partition.a');
    const procC = uri('partition.c');
    const onA = hangingCallee('a');
    const onC = hangingCallee('c');
    const calleeOfA = await join(nA.url);
    const calleeOfC = await join(nC.url);
    await calleeOfA.register(procA, onA.handler);
    await calleeOfC.register(procC, onC.handler);
    expect(await callable(c, procA, [], 10_000)).toBe('a');
    expect(await callable(a, procC, [], 10_000)).toBe('c');
    expect(await callable(b, procC, [], 10_000)).toBe('c');
    // A session that leaves while the node is cut off: its entry must not outlive the heal.
    const ghost = await open(nC.url);
    await waitFor(async () => (await a.call('wamp.session.count')) === live.size + 1, 'every session seen from node-a');

    // Calls pending across the cut, both ways.
    const pendingFromC = c.call(procA, ['hang']).catch((e: unknown) => e);
    const pendingFromA = a.call(procC, ['hang']).catch((e: unknown) => e);
    await within(Promise.all([onA.invoked.promise, onC.invoked.promise]), 5000, 'both invocations');

    // A subscriber on node-b, for an acknowledged publish from node-c across the cut.
    const acrossTopic = uri('partition.across');
    const across: unknown[] = [];
    await b.subscribe(acrossTopic, (args) => void across.push(args[0]));
    await waitFor(async () => {
      await c.publish(acrossTopic, ['probe'], {}, { acknowledge: true });
      return across.length > 0;
    }, 'events from node-c to node-b');

    const cutAt = Date.now();
    proxy.partition(true);

    // ---- node-c's clients: local pub/sub and RPC go on ------------------------------------------
    const localTopic = uri('partition.local');
    const localEvents: unknown[] = [];
    const localSub = await join(nC.url);
    await localSub.subscribe(localTopic, (args) => void localEvents.push(args[0]));
    // Delivered here; acknowledged, it is answered ERROR all the same: with NATS unreachable the
    // node cannot confirm that no other node wanted it (PUBLISHED means NATS has the event).
    const localAck = await c.publish(localTopic, ['local'], {}, { acknowledge: true }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((localAck as WampError).uri).toBe('switchboard.error.cluster_unavailable');
    await c.publish(localTopic, ['local']);
    await waitFor(() => localEvents.length === 2, 'local events on node-c during the partition');
    const localProc = uri('partition.localproc');
    const registerStart = Date.now();
    const localCallee = await join(nC.url);
    await localCallee.register(localProc, () => 'local');
    const registerMs = Date.now() - registerStart;
    expect(await c.call(localProc)).toBe('local');

    // An acknowledged PUBLISH with a subscriber on another node is refused while the node is cut
    // off (PUBLISHED means NATS confirmed the event): ERROR, never a PUBLISHED for an event that
    // may never leave.
    const refused = await c.publish(acrossTopic, ['cut'], {}, { acknowledge: true }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(WampError);
    expect((refused as WampError).uri).toBe('switchboard.error.cluster_unavailable');

    // Calls across the cut end in an ERROR, none hangs: the one pending on node-a within the node timeout…
    const fromC = (await within(pendingFromC, NODE_TIMEOUT_MS + 8000, 'the call pending from node-c to end')) as WampError;
    expect(fromC).toBeInstanceOf(WampError);
    expect(fromC.uri).toBe('wamp.error.canceled');
    const pendingEndedMs = Date.now() - cutAt;
    // …and a new one, once node-a is dead for node-c, at once.
    await waitFor(async () => (await c.call('wamp.session.count')) === 5, 'node-c to list only its own sessions');
    const newCallStart = Date.now();
    await expect(c.call(procA)).rejects.toMatchObject({ uri: 'wamp.error.no_such_procedure' });
    const newCallMs = Date.now() - newCallStart;

    // ---- the other nodes: node-c is dead for them after the node timeout ---------------------------
    const fromA = (await within(pendingFromA, NODE_TIMEOUT_MS + 8000, 'the call pending from node-a to end')) as WampError;
    expect(fromA.uri).toBe('wamp.error.canceled');
    await waitFor(
      async () => (await a.call('wamp.session.count')) === 3 && (await b.call('wamp.session.count')) === 3,
      "node-c's sessions gone for node-a and node-b",
    );
    const deadForOthersMs = Date.now() - cutAt;
    await expect(a.call(procC)).rejects.toMatchObject({ uri: 'wamp.error.no_such_procedure' });

    // ---- during the split: the same procedure on both sides, subscriptions on both sides, a session leaves
    await ghost.leave();
    const split = uri('partition.split');
    const calleeA = await join(nA.url);
    const calleeC = await join(nC.url);
    const regA: Registration = await calleeA.register(split, () => 'A');
    const regC: Registration = await calleeC.register(split, () => 'C');
    const splitTopic = uri('partition.topic');
    const seenA: unknown[] = [];
    const seenC: unknown[] = [];
    await (await join(nA.url)).subscribe(splitTopic, (args) => void seenA.push(args[0]));
    await (await join(nC.url)).subscribe(splitTopic, (args) => void seenC.push(args[0]));
    const joinedDuringSplit = await join(nC.url);

    // ---- heal ------------------------------------------------------------------------------------
    const healAt = Date.now();
    proxy.partition(false);
    const ended = await within(
      Promise.race([regA.closed.then((reason) => ({ side: 'A', reason })), regC.closed.then((reason) => ({ side: 'C', reason }))]),
      20_000,
      'one of the two registrations made during the split to be revoked',
    ).catch((err: unknown) => {
      for (const n of [nA, nC])
        console.error(
          n.node,
          n
            .output()
            .split('\n')
            .filter((l) => l.includes('cluster'))
            .join('\n'),
        );
      throw err;
    });
    const revokedMs = Date.now() - healAt;
    // The registration the cluster held (node-a's) survives; the cut node's is revoked, with a reason.
    expect(ended.side).toBe('C');
    expect(ended.reason).toBeInstanceOf(WampError);
    expect((ended.reason as WampError).uri).toBe('wamp.error.procedure_already_exists');
    expect(regA.active).toBe(true);
    expect(regC.active).toBe(false);
    // Every node calls the one survivor.
    for (const caller of [a, b, c]) for (let i = 0; i < 5; i++) expect(await callable(caller, split, [], 10_000)).toBe('A');
    // The registrations of both sides are callable from everywhere again.
    expect(await callable(c, procA, [], 10_000)).toBe('a');
    expect(await callable(a, procC, [], 10_000)).toBe('c');
    expect(await callable(b, localProc, [], 10_000)).toBe('local');

    // No ghost: every node lists exactly the sessions that exist, and so do the buckets.
    const expected = sorted([...live].map((s) => s.id));
    expect(expected).not.toContain(ghost.id);
    expect(expected).toContain(joinedDuringSplit.id);
    for (const observer of [a, b, c])
      await waitFor(
        async () => JSON.stringify(await listedSessions(observer)) === JSON.stringify(expected),
        'wamp.session.list to equal the live sessions',
        15_000,
      );
    const consistentMs = Date.now() - healAt;
    await waitFor(
      async () => {
        const kv = await state();
        const ids = new Set(expected);
        return (
          JSON.stringify(kv.sessionIds()) === JSON.stringify(expected) &&
          kv.callees().every((callee) => ids.has(callee.session)) &&
          kv.callees().filter((callee) => callee.key.endsWith(split.split('.').at(-1)!)).length === 1 &&
          kv.subscriptions().every((sub) => sub.subscribers.every((id) => ids.has(id))) &&
          kv.buckets.testaments.size === 0 &&
          [...kv.buckets.resumable.keys()].every((key) => ids.has(Number(key)))
        );
      },
      'the buckets to hold exactly the live entries',
      15_000,
    );
    const kv = await state();
    expect(sorted(kv.callees().map((callee) => callee.session))).toEqual(sorted([calleeOfA.id, calleeOfC.id, localCallee.id, calleeA.id]));

    // Subscriptions made on both sides during the split get events from every node.
    await waitFor(
      async () => {
        await b.publish(splitTopic, ['healed'], {}, { acknowledge: true });
        return seenA.length > 0 && seenC.length > 0;
      },
      'events from node-b to the subscribers made on both sides during the split',
      10_000,
    );

    console.info(
      `partition figures: register on the cut node ${registerMs} ms; pending cross-node call ended ${pendingEndedMs} ms after the cut; ` +
        `new cross-node call refused in ${newCallMs} ms; node-c dead for the others ${deadForOthersMs} ms after the cut; ` +
        `duplicate revoked ${revokedMs} ms after the heal; meta API consistent ${consistentMs} ms after the heal`,
    );
  });

  it('a cut shorter than the node timeout: what left the cut node meanwhile (session, registration, subscription) leaves the cluster at the heal — no ghost', {
    timeout: 120_000,
  }, async () => {
    // The node timeout outlasts the cut, and the cut outlasts a bucket operation's timeout (5 s):
    // the others never take node-c for dead, and its deletes during the cut are lost, not late.
    const cluster = await startCluster(1, { cluster: { heartbeatMs: 300, nodeTimeoutMs: 20_000 } });
    const nA = cluster.nodes[0]!;
    const proxy = await CuttingProxy.start([cluster.nats.port]);
    const nC = await cluster.addNode('node-c', { natsUrl: `nats://127.0.0.1:${proxy.port}` });
    const state = await kvReader(cluster.nats.url);
    const a = await open(nA.url);
    const c = await open(nC.url);
    const leaving = await open(nC.url);
    const procedure = uri('partition.gone');
    const topic = uri('partition.gone.topic');
    await leaving.register(procedure, () => 'c');
    await leaving.subscribe(topic, () => undefined);
    await leaving.call('wamp.session.add_testament', [uri('partition.gone.testament'), [], {}]);
    expect(await callable(a, procedure, [], 10_000)).toBe('c');
    await waitFor(async () => (await a.call('wamp.subscription.lookup', [topic])) !== null, "node-c's subscription seen from node-a");
    await waitFor(async () => (await state()).buckets.testaments.size === 1, 'the testament in the bucket');
    await waitFor(async () => (await state()).buckets.resumable.has(String(leaving.id)), 'its resumable record in the bucket');
    const expected = sorted([a.id, c.id]);

    const leftId = leaving.id;
    proxy.partition(true);
    await leaving.leave();
    // Its claim's release fails for good once a bucket operation times out (5 s): the others missed the leave.
    await waitFor(() => nC.output().includes('cluster: registration not released'), "node-c's release of the registration to fail", 20_000);
    // node-a still takes node-c for alive: the ghost is listed there until the heal.
    expect(await listedSessions(a)).toContain(leftId);

    const healAt = Date.now();
    proxy.partition(false);
    for (const observer of [a, c])
      await waitFor(
        async () => JSON.stringify(await listedSessions(observer)) === JSON.stringify(expected),
        'wamp.session.list without the session that left during the cut',
        15_000,
      );
    await waitFor(async () => (await a.call('wamp.registration.lookup', [procedure])) === null, 'its registration gone on node-a', 15_000);
    await waitFor(async () => (await a.call('wamp.subscription.lookup', [topic])) === null, 'its subscription gone on node-a', 15_000);
    await waitFor(
      async () => {
        const kv = await state();
        return (
          JSON.stringify(kv.sessionIds()) === JSON.stringify(expected) &&
          kv.callees().length === 0 &&
          kv.subscriptions().length === 0 &&
          kv.buckets.testaments.size === 0 &&
          !kv.buckets.resumable.has(String(leftId))
        );
      },
      'the buckets to hold exactly the live entries',
      15_000,
    );
    console.info(`short partition figures: the cluster forgot what left during the cut ${Date.now() - healAt} ms after the heal`);
  });
});
