/**
 * The cluster's per-realm modules (router/src/cluster/) without NATS: a fake node, fake sessions
 * and fake buckets stand in for the link. The end-to-end behaviour over a real nats-server is
 * router/test/cluster/cluster.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import type { KvEntry } from '@nats-io/kv';
import type { Dict, PublicationId, RegistrationId, RequestId, SessionId, WampMessage } from '@switchboard/schemas';
import { ErrorUri, MessageCode, msgpackCodec } from '@switchboard/schemas';
import { NO_FILTER } from '../../src/broker/broker.js';
import type { DeliveryPlan, RecipientFilter, Subscription } from '../../src/broker/broker.js';
import { EventForwarding } from '../../src/cluster/events.js';
import type { EventNode } from '../../src/cluster/events.js';
import type { NodeLink } from '../../src/cluster/link.js';
import { ClusterNames } from '../../src/cluster/names.js';
import { InvocationRelays } from '../../src/cluster/relays.js';
import { SessionRegistry } from '../../src/cluster/session-registry.js';
import { SubscriptionRegistry } from '../../src/cluster/subscription-registry.js';
import { ClusterTestaments } from '../../src/cluster/testaments.js';
import type { Realm } from '../../src/realm.js';
import type { Broker } from '../../src/broker/broker.js';
import { RemoteCallees } from '../../src/cluster/stand-ins.js';
import type { CalleeRecord, RegistrationRecord } from '../../src/cluster/stand-ins.js';
import { decodeCluster, encodeCluster } from '../../src/cluster/wire.js';
import type { ClusterMessage } from '../../src/cluster/wire.js';
import { silentLogger } from '../../src/log.js';
import type { Endpoint } from '../../src/core/endpoint.js';

const names = new ClusterNames('sb');

/** A session as the modules see it: what it was sent. */
interface FakeSession {
  readonly session: Endpoint;
  readonly sent: WampMessage[];
}

function fakeSession(id: number, options: { canceling?: boolean; live?: boolean } = {}): FakeSession {
  const sent: WampMessage[] = [];
  const session = {
    id: id as SessionId,
    live: options.live ?? true,
    identity: { authid: `user${id}`, authrole: 'user', authmethod: 'anonymous', authprovider: 'static' },
    transport: { type: 'websocket', protocol: 'wamp.2.json', peer: 'tcp4:127.0.0.1:1' },
    send: (msg: WampMessage) => (sent.push(msg), 'sent'),
    supports: (role: string, feature: string) => role === 'callee' && feature === 'call_canceling' && options.canceling !== false,
  };
  return { session: session as unknown as Endpoint, sent };
}

describe('InvocationRelays', () => {
  const registration = 42 as RegistrationId;

  function setup(takes: (wire: unknown[]) => boolean = () => true): {
    relays: InvocationRelays;
    callee: FakeSession;
    answers: { node: string; session: SessionId; wire: unknown[] }[];
    warnings: string[];
  } {
    const callee = fakeSession(11);
    let next = 100;
    const answers: { node: string; session: SessionId; wire: unknown[] }[] = [];
    const warnings: string[] = [];
    const relays = new InvocationRelays(
      {
        sessions: new Map([[callee.session.id, callee.session]]),
        registrationOf: (procedure, match) =>
          procedure === 'com.p' && match === 'exact' ? { id: registration, callees: [{ session: callee.session }] } : undefined,
        reserveInvocationId: () => next++ as RequestId,
      },
      (node, session, wire) => {
        if (!takes(wire)) return false;
        answers.push({ node, session, wire });
        return true;
      },
      (_fields, message) => void warnings.push(message),
    );
    return { relays, callee, answers, warnings };
  }

  const invocation = (request: number, options: Dict = {}): unknown[] => [MessageCode.Invocation, request, 999, options, ['x']];

  it("hands an INVOCATION to the callee under an ID of this node, and its YIELD back under the caller node's ID", () => {
    const { relays, callee, answers } = setup();
    relays.toCallee('n2', callee.session.id, 'exact', 'com.p', invocation(7));
    expect(callee.sent).toEqual([{ code: MessageCode.Invocation, request: 100, registration, details: {}, args: ['x'] }]);
    expect(relays.size).toBe(1);
    // A progressive result keeps the relay; the final one ends it.
    expect(relays.takeAnswer(callee.session, { code: MessageCode.Yield, request: 100 as RequestId, options: { progress: true }, args: [1] })).toBe(true);
    expect(relays.size).toBe(1);
    expect(relays.takeAnswer(callee.session, { code: MessageCode.Yield, request: 100 as RequestId, options: {}, args: [2] })).toBe(true);
    expect(relays.size).toBe(0);
    expect(answers.map((a) => [a.node, a.session, a.wire])).toEqual([
      ['n2', 11, [MessageCode.Yield, 7, { progress: true }, [1]]],
      ['n2', 11, [MessageCode.Yield, 7, {}, [2]]],
    ]);
    // Not a relayed invocation (any more): the realm's own dealer's business.
    expect(relays.takeAnswer(callee.session, { code: MessageCode.Yield, request: 100 as RequestId, options: {} })).toBe(false);
  });

  it('an answer NATS does not take (too large) becomes a small ERROR to the caller, and the relay ends', () => {
    // Only small messages cross: a YIELD with a big payload does not.
    const { relays, callee, answers, warnings } = setup((wire) => JSON.stringify(wire).length < 200);
    relays.toCallee('n2', callee.session.id, 'exact', 'com.p', invocation(7));
    const big = 'x'.repeat(500);
    expect(relays.takeAnswer(callee.session, { code: MessageCode.Yield, request: 100 as RequestId, options: { progress: true }, args: [big] })).toBe(true);
    expect(relays.size).toBe(0);
    expect(answers.map((a) => [a.node, a.session, a.wire[0], a.wire[2], a.wire[4]])).toEqual([
      ['n2', 11, MessageCode.Error, 7, 'switchboard.error.limit_exceeded'],
    ]);
    expect(warnings).toHaveLength(1);
    // Later answers of that invocation find no relay.
    expect(relays.takeAnswer(callee.session, { code: MessageCode.Yield, request: 100 as RequestId, options: {}, args: [1] })).toBe(false);
  });

  it("a progressive call invocation's next INVOCATION and an INTERRUPT find the ID given first", () => {
    const { relays, callee } = setup();
    relays.toCallee('n2', callee.session.id, 'exact', 'com.p', invocation(7, { progress: true }));
    relays.toCallee('n2', callee.session.id, 'exact', 'com.p', invocation(7));
    relays.toCallee('n2', callee.session.id, '', '', [MessageCode.Interrupt, 7, { mode: 'killnowait' }]);
    expect(callee.sent.map((m) => [m.code, 'request' in m ? m.request : undefined])).toEqual([
      [MessageCode.Invocation, 100],
      [MessageCode.Invocation, 100],
      [MessageCode.Interrupt, 100],
    ]);
    // killnowait: the caller's node has closed the call.
    expect(relays.size).toBe(0);
  });

  it('refuses with wamp.error.canceled when the callee left or no longer holds the registration', () => {
    const { relays, callee, answers } = setup();
    relays.toCallee('n2', 12 as SessionId, 'exact', 'com.p', invocation(1));
    relays.toCallee('n2', callee.session.id, 'exact', 'com.other', invocation(2));
    relays.toCallee('n2', callee.session.id, 'bogus', 'com.p', invocation(3));
    expect(callee.sent).toEqual([]);
    expect(answers.map((a) => a.wire)).toEqual([
      [MessageCode.Error, MessageCode.Invocation, 1, {}, ErrorUri.Canceled, ['callee left the realm before answering']],
      [MessageCode.Error, MessageCode.Invocation, 2, {}, ErrorUri.Canceled, ['callee no longer registered']],
      [MessageCode.Error, MessageCode.Invocation, 3, {}, ErrorUri.Canceled, ['callee no longer registered']],
    ]);
  });

  it('a callee leaving answers its relayed invocations with wamp.error.canceled', () => {
    const { relays, callee, answers } = setup();
    relays.toCallee('n2', callee.session.id, 'exact', 'com.p', invocation(7));
    relays.toCallee('n3', callee.session.id, 'exact', 'com.p', invocation(7));
    relays.left(callee.session);
    expect(relays.size).toBe(0);
    expect(answers.map((a) => [a.node, a.wire[4]])).toEqual([
      ['n2', ErrorUri.Canceled],
      ['n3', ErrorUri.Canceled],
    ]);
  });

  it("a caller's node going away interrupts its invocations here (killnowait), the others stay", () => {
    const { relays, callee } = setup();
    relays.toCallee('n2', callee.session.id, 'exact', 'com.p', invocation(7));
    relays.toCallee('n3', callee.session.id, 'exact', 'com.p', invocation(8));
    callee.sent.length = 0;
    relays.nodeGone('n2');
    expect(callee.sent).toEqual([{ code: MessageCode.Interrupt, request: 100, options: { mode: 'killnowait', reason: ErrorUri.Canceled } }]);
    expect(relays.size).toBe(1);
  });
});

describe('EventForwarding', () => {
  interface Delivered {
    topic: string;
    publication: PublicationId;
    filter: RecipientFilter;
    args: unknown;
  }

  function setup(maxPayload = 1024 * 1024): {
    events: EventForwarding;
    published: { subject: string; m: ClusterMessage; now: boolean }[];
    subscribed: Map<string, boolean>;
    delivered: Delivered[];
    retained: string[];
    retainedHere: string[];
  } {
    const published: { subject: string; m: ClusterMessage; now: boolean }[] = [];
    const subscribed = new Map<string, boolean>();
    const retained: string[] = [];
    let seq = 0;
    const node: EventNode = {
      self: 'n1',
      names,
      log: silentLogger(),
      publish: (subject, bytes, now = false) => (published.push({ subject, m: decodeCluster(bytes), now }), true),
      publishConfirmed: async (subject, bytes) => void published.push({ subject, m: decodeCluster(bytes), now: true }),
      maxPayload,
      stats: { limitExceeded: () => undefined },
      subscribe: (subject) => {
        subscribed.set(subject, true);
        return { unsubscribe: () => void subscribed.set(subject, false) };
      },
      nextSeq: () => ++seq,
      buckets: { retained: { put: async (key) => void retained.push(key) } },
    };
    const delivered: Delivered[] = [];
    const retainedHere: string[] = [];
    const events = new EventForwarding(node, {
      name: 'realm1',
      deliverRemote: (topic, publication, _details, filter, args) => (delivered.push({ topic, publication, filter, args }), 1),
      retainRemote: (topic) => void retainedHere.push(topic),
    });
    return { events, published, subscribed, delivered, retained, retainedHere };
  }

  const subscription = (topic: string, match: 'exact' | 'prefix' | 'wildcard' = 'exact'): Subscription<Endpoint> =>
    ({ topic, match }) as Subscription<Endpoint>;
  const envelope = (node: string, seq: number, topic = 'com.t', realm = 'realm1', publication = 5): Uint8Array =>
    encodeCluster({
      kind: 'e',
      node,
      seq,
      realm,
      topic,
      publication: publication as PublicationId,
      details: {},
      filter: NO_FILTER,
      args: [seq],
      kwargs: undefined,
    });

  it("publishes a delivered publication once on its topic's subject, and keeps a retained one in the bucket", () => {
    const { events, published, retained } = setup();
    const plan = { publication: 5 as PublicationId, publisher: undefined, topic: 'com.t', subscriptions: [], filter: NO_FILTER } as DeliveryPlan<Endpoint>;
    events.forward(plan, { publisher: 1 }, ['a'], { k: 1 }, false, true);
    events.forward(plan, {}, undefined, undefined, true, false);
    expect(published.map((p) => [p.subject, p.now])).toEqual([
      ['sb.realm1.e.com.t', true],
      ['sb.realm1.e.com.t', false],
    ]);
    expect(published[0]!.m).toMatchObject({
      kind: 'e',
      node: 'n1',
      seq: 1,
      realm: 'realm1',
      topic: 'com.t',
      publication: 5,
      details: { publisher: 1 },
      args: ['a'],
      kwargs: { k: 1 },
    });
    expect(retained).toEqual(['realm1.com.t']);
  });

  it('an acknowledged publication waits for NATS; a retained event over max_payload is refused to it, kept on this node only', async () => {
    const { events, published, retained } = setup(300);
    const plan = { publication: 6 as PublicationId, publisher: undefined, topic: 'com.t', subscriptions: [], filter: NO_FILTER } as DeliveryPlan<Endpoint>;
    await expect(events.forward(plan, {}, ['small'], undefined, true, true)).resolves.toBeUndefined();
    expect(retained).toEqual(['realm1.com.t']);
    const big = events.forward(plan, {}, ['x'.repeat(400)], undefined, true, true);
    await expect(big).rejects.toMatchObject({ refusal: { error: 'switchboard.error.limit_exceeded', limit: { limit: 'nats.max_payload', value: 300 } } });
    // The event itself still went to the other nodes (in chunks); only the bucket could not keep it.
    expect(published).toHaveLength(2);
    expect(retained).toEqual(['realm1.com.t']);
    expect(events.forward(plan, {}, ['x'.repeat(400)], undefined, false, false)).toBeUndefined();
  });

  it('listens once per subject however many subscriptions share it, and stops with the last', () => {
    const { events, subscribed } = setup();
    const a = subscription('com.t');
    const b = subscription('com.t');
    const p = subscription('com.', 'prefix');
    events.listen(a);
    events.listen(b);
    events.listen(p);
    expect(events.subjects).toEqual(['sb.realm1.e.com.t', 'sb.realm1.e.com.>']);
    events.unlisten(a);
    expect(subscribed.get('sb.realm1.e.com.t')).toBe(true);
    events.unlisten(b);
    expect(subscribed.get('sb.realm1.e.com.t')).toBe(false);
    events.stop();
    expect(subscribed.get('sb.realm1.e.com.>')).toBe(false);
    expect(events.subjects).toEqual([]);
  });

  it("delivers another node's publication once: a second copy, its own and another realm's are dropped", () => {
    const { events, delivered } = setup();
    events.receive(envelope('n2', 1));
    events.receive(envelope('n2', 1)); // overlapping subjects: the same publication again
    events.receive(envelope('n1', 2)); // its own
    events.receive(envelope('n2', 3, 'com.t', 'realm2'));
    events.receive(envelope('n3', 1));
    events.receive(envelope('n2', 2));
    events.receive(new Uint8Array([1, 2, 3])); // undecodable: dropped, nothing thrown
    expect(delivered.map((d) => d.args)).toEqual([[1], [1], [2]]);
  });

  it("mirrors the retained bucket's entries of other nodes and of its name's earlier incarnations, not its own", () => {
    const { events, retainedHere } = setup();
    const entry = (value: Uint8Array, operation: 'PUT' | 'DEL' = 'PUT'): KvEntry => ({ key: 'realm1.com.t', value, operation }) as unknown as KvEntry;
    // This incarnation retained publication 7 (its broker has it): its own entry coming back is skipped.
    const plan = { publication: 7 as PublicationId, publisher: undefined, topic: 'com.mine', subscriptions: [], filter: NO_FILTER } as DeliveryPlan<Endpoint>;
    events.forward(plan, {}, ['mine'], undefined, true, false);
    events.onRetainedEntry(entry(envelope('n2', 1)));
    events.onRetainedEntry(entry(envelope('n1', 2, 'com.mine', 'realm1', 7)));
    // An entry under this node's name it did not put: an earlier incarnation's (a node restarted under its name).
    events.onRetainedEntry(entry(envelope('n1', 1, 'com.before', 'realm1', 3)));
    events.onRetainedEntry(entry(envelope('n2', 3), 'DEL'));
    events.onRetainedEntry(entry(new Uint8Array([0xc1])));
    expect(retainedHere).toEqual(['com.t', 'com.before']);
  });
});

describe('RemoteCallees', () => {
  const callee = (node: string, session: number, inc = 1): CalleeRecord => ({
    node,
    inc,
    session,
    authid: 'a',
    authrole: 'r',
    authmethod: 'anonymous',
    authprovider: 'static',
    features: {},
    disclose: false,
    forward: false,
  });
  const record = (callees: CalleeRecord[]): RegistrationRecord => ({ procedure: 'com.p', match: 'exact', policy: 'roundrobin', callees });

  function setup(live = (node: string): boolean => node !== 'dead'): { standIns: RemoteCallees; log: string[] } {
    const log: string[] = [];
    let id = 0;
    const standIns = new RemoteCallees(
      'n1',
      {
        register: (session, procedure) => (log.push(`register ${session.id} ${procedure}`), { ok: true, registration: { id: ++id as RegistrationId } }),
        unregister: (session, registration) => void log.push(`unregister ${session.id} ${registration}`),
        drop: (session, reason) => void log.push(`drop ${session.id}: ${reason}`),
        answer: (session, msg) => void log.push(`answer ${session.id} ${msg.code}`),
      },
      (_node, session) => fakeSession(session).session,
      (node) => live(node),
      () => undefined,
    );
    return { standIns, log };
  }

  it("mirrors the live remote callees of a key, never this node's own, and drops them with the key", () => {
    const { standIns, log } = setup();
    standIns.reconcile('k', record([callee('n1', 1), callee('n2', 2), callee('dead', 3)]));
    expect(log).toEqual(['register 2 com.p']);
    expect(standIns.size).toBe(1);
    standIns.reconcile('k', record([callee('n2', 2)])); // unchanged: nothing to do
    expect(log).toHaveLength(1);
    standIns.reconcile('k', undefined);
    expect(log).toEqual(['register 2 com.p', 'unregister 2 1', 'drop 2: callee unregistered']);
    expect(standIns.size).toBe(0);
  });

  it('a node going away takes its stand-ins with it; answers reach the stand-in of their session', () => {
    const { standIns, log } = setup();
    standIns.reconcile('k', record([callee('n2', 2), callee('n3', 3)]));
    standIns.answer('n2', 2 as SessionId, { code: MessageCode.Yield, request: 1 as RequestId, options: {} });
    standIns.answer('n2', 9 as SessionId, { code: MessageCode.Yield, request: 1 as RequestId, options: {} });
    standIns.nodeGone('n2');
    expect(log.slice(2)).toEqual([`answer 2 ${MessageCode.Yield}`, 'drop 2: callee node is gone']);
    standIns.stop();
    expect(log.at(-1)).toBe('drop 3: router shutting down');
  });

  it('a session that moved here (resumption) loses its stand-ins, under every key, and no other', () => {
    const { standIns, log } = setup();
    standIns.reconcile('k', record([callee('n2', 2), callee('n3', 3)]));
    standIns.reconcile('k2', { ...record([callee('n2', 2)]), procedure: 'com.q' });
    log.length = 0;
    standIns.moved(2 as SessionId);
    expect(log).toEqual(['drop 2: callee moved to another node']);
    expect(standIns.size).toBe(1);
    standIns.moved(9 as SessionId);
    expect(log).toHaveLength(1);
  });
});

describe('SessionRegistry', () => {
  function setup(): { registry: SessionRegistry; sent: { node: string; m: ClusterMessage }[]; puts: string[]; local: FakeSession } {
    const sent: { node: string; m: ClusterMessage }[] = [];
    const puts: string[] = [];
    const bucket = { put: async (key: string) => void puts.push(key), delete: async (key: string) => void puts.push(`-${key}`) };
    const node = {
      self: 'n1',
      incarnation: 1,
      names,
      log: silentLogger(),
      buckets: { sessions: bucket },
      isLive: (n: string, inc: number) => n !== 'dead' && inc === 1,
      presume: () => undefined,
      sendToNode: (n: string, bytes: Uint8Array) => (sent.push({ node: n, m: decodeCluster(bytes) }), true),
    } as unknown as NodeLink;
    const local = fakeSession(5);
    const registry = new SessionRegistry(node, { name: 'realm1', sessions: new Map([[local.session.id, local.session]]) }, 'realm1.');
    return { registry, sent, puts, local };
  }
  const entry = (key: string, value: unknown, operation: 'PUT' | 'DEL' = 'PUT'): KvEntry =>
    ({ key, value: new TextEncoder().encode(JSON.stringify(value)), operation }) as unknown as KvEntry;

  it('lists and kills the sessions of other live nodes only', () => {
    const { registry, sent } = setup();
    registry.onEntry(entry('realm1.7', { node: 'n2', inc: 1, details: { session: 7 } }));
    registry.onEntry(entry('realm1.8', { node: 'dead', inc: 1, details: { session: 8 } }));
    registry.onEntry(entry('realm1.5', { node: 'n1', inc: 1, details: { session: 5 } }));
    registry.onEntry(entry('realm1.x', { node: 'n2', inc: 1, details: {} })); // not a session ID
    expect(registry.remoteSessions()).toEqual([{ session: 7 }]);
    expect(registry.remoteSession(7)).toEqual({ session: 7 });
    expect(registry.remoteSession(5)).toBeUndefined();
    expect(registry.has(8)).toBe(true); // its ID stays taken until the node is purged
    expect(registry.killRemote(7, 'wamp.close.killed', 'bye', false)).toBe(true);
    expect(registry.killRemote(8, 'wamp.close.killed', 'bye', false)).toBe(false);
    expect(sent).toEqual([{ node: 'n2', m: { kind: 'k', realm: 'realm1', session: 7, reason: 'wamp.close.killed', message: 'bye', silent: false } }]);
  });

  it('puts a session of this node back when another node removed it for dead', () => {
    const { registry, puts } = setup();
    registry.onEntry(entry('realm1.5', { node: 'n1', inc: 1, details: { session: 5 } }));
    registry.onEntry(entry('realm1.5', null, 'DEL'));
    expect(registry.has(5)).toBe(false);
    expect(puts).toEqual(['realm1.5']);
  });

  it("resync after a partition: this node's sessions are put back; its records of sessions gone here or of an earlier incarnation are deleted at the revision seen", () => {
    const { registry, puts } = setup();
    registry.onEntry(entry('realm1.5', { node: 'n1', inc: 1, details: { session: 5 } }));
    registry.onEntry(entry('realm1.6', { node: 'n1', inc: 1, details: { session: 6 } })); // left while NATS was away
    registry.onEntry(entry('realm1.9', { node: 'n1', inc: 0, details: { session: 9 } })); // an earlier incarnation's
    registry.onEntry(entry('realm1.7', { node: 'n2', inc: 1, details: { session: 7 } }));
    registry.resync();
    expect(puts).toEqual(['realm1.5', '-realm1.6', '-realm1.9']);
  });
});

/**
 * A bucket as a purge reads it (keys, get, delete at a revision): what it holds, not what this
 * node's watch delivered. A delete at an older revision than the key's is refused as JetStream
 * refuses it.
 */
function fakeBucket(records: Record<string, unknown>): { kv: unknown; held: () => string[]; rewrite: (key: string, value: unknown) => void } {
  let revision = 0;
  const held = new Map<string, { value: Uint8Array; revision: number }>();
  const rewrite = (key: string, value: unknown): void => void held.set(key, { value: new TextEncoder().encode(JSON.stringify(value)), revision: ++revision });
  for (const [key, value] of Object.entries(records)) rewrite(key, value);
  const matches = (key: string, filter?: string): boolean => filter === undefined || key.startsWith(filter.replace(/>$/, ''));
  const kv = {
    keys: async (filter?: string) =>
      (async function* () {
        yield* [...held.keys()].filter((key) => matches(key, filter));
      })(),
    get: async (key: string) => {
      const entry = held.get(key);
      return entry === undefined ? null : ({ key, value: entry.value, revision: entry.revision, operation: 'PUT' } as unknown as KvEntry);
    },
    delete: async (key: string, options?: { previousSeq?: number }) => {
      if (options?.previousSeq !== undefined && held.get(key)?.revision !== options.previousSeq) throw new Error('wrong last sequence');
      held.delete(key);
    },
  };
  return { kv, held: () => [...held.keys()].sort(), rewrite };
}

describe("a dead node's purge", () => {
  const node = (buckets: Record<string, unknown>): NodeLink =>
    ({ self: 'n1', incarnation: 1, names, log: silentLogger(), buckets, isLive: () => true, presume: () => undefined }) as unknown as NodeLink;
  const dead = (r: { node: string; inc: number }): boolean => r.node === 'n0' && r.inc === 7;

  it("removes the dead incarnation's sessions the bucket holds, though this node's watch never delivered them; another node's, a new incarnation's and another realm's stay", async () => {
    const sessions = fakeBucket({
      'realm1.1': { node: 'n0', inc: 7, details: {} },
      'realm1.2': { node: 'n0', inc: 7, details: {} },
      'realm1.3': { node: 'n0', inc: 8, details: {} },
      'realm1.4': { node: 'n2', inc: 7, details: {} },
      'realm2.5': { node: 'n0', inc: 7, details: {} },
      'realm1.6': 'not a record',
    });
    const registry = new SessionRegistry(node({ sessions: sessions.kv }), { name: 'realm1', sessions: new Map() }, 'realm1.');
    expect(registry.has(1)).toBe(false); // nothing came through a watch
    await registry.purge(dead);
    expect(sessions.held()).toEqual(['realm1.3', 'realm1.4', 'realm1.6', 'realm2.5']);
  });

  it("is not stopped for good by a foreign record (JSON null) in the bucket: the dead node's entries still go", async () => {
    const sessions = fakeBucket({ 'realm1.1': null, 'realm1.2': { node: 'n0', inc: 7, details: {} } });
    await new SessionRegistry(node({ sessions: sessions.kv }), { name: 'realm1', sessions: new Map() }, 'realm1.').purge(dead);
    expect(sessions.held()).toEqual(['realm1.1']);
    const subscriptions = fakeBucket({
      'realm1.n0.1': null,
      'realm1.n0.2': { node: 'n0', inc: 7, id: 2, topic: 'com.t', match: 'exact', created: 0, subscribers: [2] },
    });
    const broker = { getSubscription: () => undefined, subscriptions: () => [] } as unknown as Broker<Endpoint>;
    await new SubscriptionRegistry(node({ subscriptions: subscriptions.kv }), { name: 'realm1', broker }).purge(dead);
    expect(subscriptions.held()).toEqual(['realm1.n0.1']);
  });

  it('keeps a record rewritten between the read and the delete (the session resumed on another node)', async () => {
    const sessions = fakeBucket({ 'realm1.1': { node: 'n0', inc: 7, details: {} } });
    const kv = sessions.kv as { get: (key: string) => Promise<KvEntry | null> };
    const get = kv.get;
    kv.get = async (key) => {
      const entry = await get(key);
      sessions.rewrite(key, { node: 'n2', inc: 1, details: {} }); // moved meanwhile
      return entry;
    };
    const registry = new SessionRegistry(node({ sessions: sessions.kv }), { name: 'realm1', sessions: new Map() }, 'realm1.');
    await registry.purge(dead);
    expect(sessions.held()).toEqual(['realm1.1']);
  });

  it("removes the dead incarnation's subscriptions from the bucket, not its successor's", async () => {
    const record = (n: string, inc: number, id: number): unknown => ({ node: n, inc, id, topic: 'com.t', match: 'exact', created: 0, subscribers: [id] });
    const subscriptions = fakeBucket({ 'realm1.n0.1': record('n0', 7, 1), 'realm1.n0.2': record('n0', 8, 2), 'realm1.n2.3': record('n2', 1, 3) });
    const broker = { getSubscription: () => undefined, subscriptions: () => [] } as unknown as Broker<Endpoint>;
    const registry = new SubscriptionRegistry(node({ subscriptions: subscriptions.kv }), { name: 'realm1', broker });
    await registry.purge(dead);
    expect(subscriptions.held()).toEqual(['realm1.n0.2', 'realm1.n2.3']);
  });

  it("publishes a dead node's testament once, though its delete failed and the purge is tried again; a copy that does not decode is skipped", async () => {
    const held = new Map<string, { value: Uint8Array; revision: number }>();
    held.set('realm1.n0.5', { value: msgpackCodec.encode([7, 'alice', 'user', [['com.gone', [5], {}, {}]]]) as Uint8Array, revision: 3 });
    held.set('realm1.n0.6', { value: new Uint8Array([0xc1]), revision: 4 }); // not MessagePack (a foreign writer): skipped
    let failDelete = true;
    const kv = {
      keys: async (filter?: string) =>
        (async function* () {
          yield* [...held.keys()].filter((key) => filter === undefined || key.startsWith(filter.replace(/>$/, '')));
        })(),
      get: async (key: string) => {
        const e = held.get(key);
        return e === undefined ? null : ({ key, value: e.value, revision: e.revision, operation: 'PUT' } as unknown as KvEntry);
      },
      delete: async (key: string, options?: { previousSeq?: number }) => {
        if (failDelete) {
          failDelete = false;
          throw new Error('TIMEOUT'); // a loaded machine: the delete did not go through
        }
        if (options?.previousSeq !== undefined && held.get(key)?.revision !== options.previousSeq) throw new Error('wrong last sequence');
        held.delete(key);
      },
    };
    const published: string[] = [];
    const realm = {
      name: 'realm1',
      log: silentLogger(),
      gate: { judge: () => ({ ok: true }) },
      pubsub: {
        publishAs: (session: Endpoint, _verdict: unknown, topic: string) => {
          published.push(`${session.id} ${topic}`);
          return { ok: true };
        },
      },
    } as unknown as Realm;
    const testaments = new ClusterTestaments(node({ testaments: kv }), realm, 'realm1.', (_node, id) => ({ id, live: false }) as unknown as Endpoint);
    await expect(testaments.publishDead('n0', 7)).rejects.toThrow('TIMEOUT');
    await testaments.publishDead('n0', 7); // the retry
    expect(published).toEqual(['5 com.gone']);
    expect([...held.keys()]).toEqual(['realm1.n0.6']);
  });
});

describe('SubscriptionRegistry', () => {
  it('writes a changed subscription once per turn, however many changes; an empty or deleted one is removed; meta topics never', async () => {
    vi.useFakeTimers();
    try {
      const writes: string[] = [];
      const bucket = { put: async (key: string) => void writes.push(`put ${key}`), delete: async (key: string) => void writes.push(`delete ${key}`) };
      const node = {
        self: 'n1',
        incarnation: 1,
        names,
        log: silentLogger(),
        buckets: { subscriptions: bucket },
        isLive: (n: string) => n !== 'dead',
        presume: () => undefined,
      } as unknown as NodeLink;
      const live = { id: 3, topic: 'com.t', match: 'exact', created: 0, subscribers: new Set([fakeSession(5).session]) } as unknown as Subscription<Endpoint>;
      const empty = { id: 4, topic: 'com.u', match: 'exact', created: 0, subscribers: new Set() } as unknown as Subscription<Endpoint>;
      const meta = {
        id: 6,
        topic: 'wamp.session.on_join',
        match: 'exact',
        created: 0,
        subscribers: new Set([fakeSession(5).session]),
      } as unknown as Subscription<Endpoint>;
      const broker = {
        getSubscription: (id: number) => [live, empty, meta].find((s) => s.id === id),
        subscriptions: () => [live, empty, meta],
      } as unknown as Broker<Endpoint>;
      const registry = new SubscriptionRegistry(node, { name: 'realm1', broker });
      registry.touch(live);
      registry.touch(live);
      registry.touch(empty);
      registry.touch(meta);
      expect(writes).toEqual([]);
      await vi.runAllTimersAsync();
      expect(writes).toEqual(['put realm1.n1.3', 'delete realm1.n1.4']);
      const entry = (key: string, record: unknown): KvEntry =>
        ({ key, value: new TextEncoder().encode(JSON.stringify(record)), operation: 'PUT' }) as unknown as KvEntry;
      registry.onEntry(entry('realm1.n1.3', { node: 'n1', inc: 1, id: 3, topic: 'com.t', match: 'exact', created: 0, subscribers: [5] }));
      registry.onEntry(entry('realm1.n2.3', { node: 'n2', inc: 1, id: 3, topic: 'com.t', match: 'exact', created: 0, subscribers: [8] }));
      registry.onEntry(entry('realm1.dead.3', { node: 'dead', inc: 1, id: 3, topic: 'com.t', match: 'exact', created: 0, subscribers: [9] }));
      registry.onEntry(entry('realm1.n2.9', { node: 'n2', subscribers: 'not a list' }));
      expect(registry.remoteSubscriptions().map((r) => [r.node, r.subscribers])).toEqual([['n2', [8]]]);
      // Removed by a node that took this one for dead: still here, so written again.
      writes.length = 0;
      registry.onEntry({ key: 'realm1.n1.3', operation: 'DEL' } as unknown as KvEntry);
      await vi.runAllTimersAsync();
      expect(writes).toEqual(['put realm1.n1.3']);
      // Resync after a partition: this node's records of subscriptions gone here (or of an earlier incarnation) are deleted.
      registry.onEntry(entry('realm1.n1.3', { node: 'n1', inc: 1, id: 3, topic: 'com.t', match: 'exact', created: 0, subscribers: [5] }));
      registry.onEntry(entry('realm1.n1.11', { node: 'n1', inc: 1, id: 11, topic: 'com.v', match: 'exact', created: 0, subscribers: [5] }));
      registry.onEntry(entry('realm1.n1.12', { node: 'n1', inc: 0, id: 12, topic: 'com.w', match: 'exact', created: 0, subscribers: [5] }));
      writes.length = 0;
      registry.resync();
      await vi.runAllTimersAsync();
      expect(writes.sort()).toEqual(['delete realm1.n1.11', 'delete realm1.n1.12', 'delete realm1.n1.4', 'put realm1.n1.3']);
    } finally {
      vi.useRealTimers();
    }
  });
});
