/**
 * The history plugin (meta/history.ts) on the event store, without sockets: what it records (a
 * topic's policy from the rules that match it, no session-ID-restricted publications, no router
 * events, with a shared store only the publications made here), the durability acknowledgement
 * (PUBLISHED after the store's flush, ERROR switchboard.error.store_failed when it fails), that a
 * topic without history costs no store call, retained events persisted and loaded back with their
 * original time, and the catch-up replay. Fake endpoints; a test double of the EventStore where
 * the order of the store's calls is what is tested, the real memory engine elsewhere.
 */
import { describe, expect, it } from 'vitest';
import type { ErrorMessage, MessageCode as Code, PublicationId, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import type { Endpoint, HoldLimits, SendOutcome, SharedEvent } from '../../src/core/endpoint.js';
import { LIMIT_EXCEEDED, STORE_FAILED } from '../../src/core/outcome.js';
import type { RealmLimits } from '../../src/limits.js';
import { MemoryStore } from '../../src/history/memory.js';
import type {
  AppendOutcome,
  EventStore,
  HistoryEvent,
  HistoryPage,
  HistoryQuery,
  RealmStore,
  RetainedRecord,
  StoreStats,
  TopicPolicy,
} from '../../src/history/store.js';
import { silentLogger } from '../../src/log.js';
import { HISTORY_UNAVAILABLE } from '../../src/core/outcome.js';
import { catchUpReplay, historyPlugin } from '../../src/meta/history.js';
import type { HistoryPluginOptions, HistoryTopic } from '../../src/meta/history.js';
import { HeldEvents } from '../../src/core/hold.js';
import { Realm } from '../../src/realm.js';
import { RealmPlugins } from '../../src/realm-plugin.js';

let nextId = 0;

/** A joined session that keeps what it is sent. */
function endpoint(authid = 'alice', authrole = 'user'): Endpoint & { sent: WampMessage[] } {
  const sent: WampMessage[] = [];
  const identity = { authid, authrole, authmethod: 'anonymous', authprovider: 'static' };
  return {
    id: ++nextId as SessionId,
    identity,
    authid,
    authrole,
    membership: {},
    roles: {},
    transport: { type: 'test', protocol: 'wamp.2.json', peer: 'test:1' },
    serializer: 'json',
    live: true,
    attached: true,
    sent,
    supports: () => true,
    outboundRoom: Number.POSITIVE_INFINITY,
    send(msg: WampMessage): SendOutcome {
      sent.push(msg);
      return 'sent';
    },
    sendError(requestType: Code, request: RequestId, error: string): void {
      const err: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error };
      sent.push(err);
    },
    sendEvent(event: SharedEvent): SendOutcome {
      sent.push(event.message());
      return 'sent';
    },
    hold: (_subscription: SubscriptionId, limits: HoldLimits) =>
      new HeldEvents(limits, { bytes: () => 0, send: (event) => void sent.push(event.message()), done: () => undefined }),
    unhold: () => undefined,
    protocolViolation: () => undefined,
    abort: () => undefined,
    goodbye: () => undefined,
  };
}

/** A store that records each call and answers from a memory engine; flush() resolves or fails when the test says. */
class ObservedStore implements EventStore {
  readonly calls: string[] = [];
  readonly memory = new MemoryStore();
  readonly persisted: RetainedRecord[] = [];
  /** What append answers instead of the memory engine's (a store that is closed: 'refused'). */
  appendAnswer: AppendOutcome | undefined;
  #flushes: { resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(
    readonly type: EventStore['type'] = 'memory',
    readonly shared = false,
  ) {}

  get stats(): StoreStats {
    return this.memory.stats;
  }

  /** Settles the flushes asked for so far. */
  settle(error?: Error): void {
    for (const f of this.#flushes.splice(0)) error === undefined ? f.resolve() : f.reject(error);
  }

  async realm(name: string, maxBytes: number): Promise<RealmStore> {
    const inner = this.memory.realmNow(name, maxBytes);
    const calls = this.calls;
    const store = this;
    return {
      append(event: HistoryEvent, policy: TopicPolicy): AppendOutcome {
        calls.push(`append ${event.topic} ${String(event.args?.[0])} limit=${policy.limit} maxAgeMs=${policy.maxAgeMs}`);
        return store.appendAnswer ?? inner.append(event, policy);
      },
      flush(): Promise<void> {
        calls.push('flush');
        return new Promise((resolve, reject) => store.#flushes.push({ resolve, reject }));
      },
      query(q: HistoryQuery): Promise<HistoryPage> {
        calls.push('query');
        return inner.query(q);
      },
      unretain(topic: string): void {
        calls.push(`unretain ${topic}`);
      },
      retain(record: RetainedRecord): void {
        calls.push(`retain ${record.topic}`);
        store.persisted.push(record);
      },
      async retained(): Promise<RetainedRecord[]> {
        calls.push('retained');
        return store.persisted;
      },
      get size() {
        return inner.size;
      },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const RULES: HistoryTopic[] = [
  { topic: 'com.h.', match: 'prefix', limit: 5, maxAgeMs: 60_000 },
  { topic: 'com.h.big', match: 'exact', limit: 50, maxAgeMs: 1000 },
  { topic: 'com.h.forever', match: 'exact', limit: 2 },
];

async function installed(
  store: EventStore,
  rules: HistoryTopic[] = RULES,
  options: HistoryPluginOptions = {},
  limits: Partial<RealmLimits> = {},
): Promise<Realm> {
  const realm = new Realm({ name: 'r', uriCheck: 'loose', limits }, silentLogger());
  await new RealmPlugins(() => silentLogger()).install([realm], [historyPlugin(store, () => rules, options)]);
  return realm;
}

function publish(realm: Realm, session: Endpoint, request: number, topic: string, args: unknown[], options: Record<string, unknown> = {}): void {
  realm.pubsub.onPublish(session, { code: MessageCode.Publish, request: request as RequestId, options, topic, args });
}

/** Lets promise callbacks run. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the history plugin records', () => {
  it("a topic's policy: the largest limit and the largest maxAgeMs (0: none) of the rules that match it, the event built once", async () => {
    const store = new ObservedStore();
    const realm = await installed(store);
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.h.x', [1]);
    publish(realm, s, 2, 'com.h.big', [2]);
    publish(realm, s, 3, 'com.h.forever', [3]);
    publish(realm, s, 4, 'com.other', [4]);
    expect(store.calls).toEqual([
      'append com.h.x 1 limit=5 maxAgeMs=60000',
      'append com.h.big 2 limit=50 maxAgeMs=60000',
      'append com.h.forever 3 limit=5 maxAgeMs=0',
    ]);
  });

  it('never a publication restricted to session IDs; authid/authrole lists are kept with the event', async () => {
    const store = new ObservedStore();
    const realm = await installed(store);
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.h.x', ['excluded'], { exclude: [12345] });
    publish(realm, s, 2, 'com.h.x', ['eligible'], { eligible: [s.id] });
    publish(realm, s, 3, 'com.h.x', ['listed'], { exclude_authid: ['bob'], eligible_authrole: ['user'] });
    expect(store.calls).toEqual(['append com.h.x listed limit=5 maxAgeMs=60000']);
    const page = store.memory.realmNow('r', Infinity).read({ select: { match: 'exact', topic: 'com.h.x' }, limit: 10 });
    expect(page.events[0]?.filter).toEqual({ excludeAuthid: ['bob'], eligibleAuthrole: ['user'] });
  });

  it('with a shared store (JetStream) only what was published on this node; never the router’s own events', async () => {
    const store = new ObservedStore('jetstream', true);
    const realm = await installed(store);
    const s = endpoint();
    realm.join(s);
    realm.pubsub.deliverRemote('com.h.x', 7 as PublicationId, {}, { excludeMe: false }, ['remote'], undefined);
    realm.pubsub.publishFromRouter('com.h.x', ['router']);
    publish(realm, s, 1, 'com.h.x', ['here']);
    expect(store.calls).toEqual(['append com.h.x here limit=5 maxAgeMs=60000']);
    // A node-local store records what another node forwarded.
    const local = new ObservedStore();
    const other = await installed(local);
    other.pubsub.deliverRemote('com.h.x', 7 as PublicationId, {}, { excludeMe: false }, ['remote'], undefined);
    expect(local.calls).toEqual(['append com.h.x remote limit=5 maxAgeMs=60000']);
  });

  it('a topic without history costs no store call, acknowledged or not, whatever the durability', async () => {
    const store = new ObservedStore();
    const realm = await installed(store, RULES, { durability: 'ack' });
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.plain', [1], { acknowledge: true });
    publish(realm, s, 2, 'com.plain', [2]);
    expect(store.calls).toEqual([]);
    expect(s.sent).toEqual([{ code: MessageCode.Published, request: 1, publication: expect.any(Number) }]);
    // A realm without rules (and a memory store) observes no publication at all.
    const bare = await installed(new ObservedStore(), []);
    expect(bare.hooks.observesPublications).toBe(false);
  });
});

describe('durability "ack"', () => {
  it('PUBLISHED is sent only once the store flushed the event; an unacknowledged PUBLISH waits for nothing', async () => {
    const store = new ObservedStore();
    const realm = await installed(store, RULES, { durability: 'ack' });
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.h.x', [1]);
    expect(store.calls).toEqual(['append com.h.x 1 limit=5 maxAgeMs=60000']);
    publish(realm, s, 2, 'com.h.x', [2], { acknowledge: true });
    expect(store.calls.slice(1)).toEqual(['append com.h.x 2 limit=5 maxAgeMs=60000', 'flush']);
    await settled();
    expect(s.sent).toEqual([]);
    store.settle();
    await settled();
    expect(s.sent).toEqual([{ code: MessageCode.Published, request: 2, publication: expect.any(Number) }]);
  });

  it('a failed flush answers the acknowledged PUBLISH with ERROR switchboard.error.store_failed; the session goes on', async () => {
    const store = new ObservedStore();
    const realm = await installed(store, RULES, { durability: 'ack' });
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 3, 'com.h.x', [1], { acknowledge: true });
    store.settle(new Error('disk full'));
    await settled();
    expect(s.sent).toEqual([expect.objectContaining({ code: MessageCode.Error, requestType: MessageCode.Publish, request: 3, error: STORE_FAILED })]);
    publish(realm, s, 4, 'com.h.x', [2], { acknowledge: true });
    store.settle();
    await settled();
    expect(s.sent[1]).toEqual({ code: MessageCode.Published, request: 4, publication: expect.any(Number) });
  });

  it('an event the store will not keep is never acknowledged: too large is ERROR limit_exceeded {maxHistoryBytes}, refused is store_failed', async () => {
    const store = new ObservedStore();
    const realm = await installed(store, RULES, { durability: 'ack' }, { maxHistoryBytes: 2048 });
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.h.x', ['x'.repeat(4096)], { acknowledge: true });
    await settled();
    expect(s.sent).toEqual([
      {
        code: MessageCode.Error,
        requestType: MessageCode.Publish,
        request: 1,
        details: {},
        error: LIMIT_EXCEEDED,
        args: ['limit maxHistoryBytes (2048) reached'],
        kwargs: { limit: 'maxHistoryBytes', value: 2048 },
      },
    ]);
    expect(store.calls).toEqual(['append com.h.x xxxx'.replace('xxxx', 'x'.repeat(4096)) + ' limit=5 maxAgeMs=60000']);
    expect(realm.stats.limitsExceeded.get('maxHistoryBytes')).toBe(1);
    store.appendAnswer = 'refused';
    publish(realm, s, 2, 'com.h.x', [2], { acknowledge: true });
    await settled();
    expect(s.sent[1]).toEqual(expect.objectContaining({ code: MessageCode.Error, request: 2, error: STORE_FAILED }));
    // Unacknowledged, or "batched": nothing to answer; too large is counted all the same.
    store.appendAnswer = undefined;
    publish(realm, s, 3, 'com.h.x', ['x'.repeat(4096)]);
    expect(realm.stats.limitsExceeded.get('maxHistoryBytes')).toBe(2);
    expect(s.sent).toHaveLength(2);
  });

  it('"batched" (the default): PUBLISHED at once, no flush asked', async () => {
    const store = new ObservedStore();
    const realm = await installed(store);
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.h.x', [1], { acknowledge: true });
    expect(s.sent).toEqual([{ code: MessageCode.Published, request: 1, publication: expect.any(Number) }]);
    expect(store.calls).toEqual(['append com.h.x 1 limit=5 maxAgeMs=60000']);
  });
});

describe('retained events with a durable single-node store', () => {
  it('are persisted when a session retains one for everybody, and loaded back at install with their original time', async () => {
    const store = new ObservedStore('sqlite');
    const realm = await installed(store, []);
    const s = endpoint();
    realm.join(s);
    publish(realm, s, 1, 'com.state', ['v1'], { retain: true });
    publish(realm, s, 2, 'com.state', ['only bob'], { retain: true, eligible_authid: ['bob'] });
    expect(store.calls).toEqual(['retained', 'retain com.state']);
    const at = store.persisted[0]!.at - 5000;
    store.persisted[0] = { ...store.persisted[0]!, at };
    const restarted = await installed(store, []);
    const subscription = restarted.broker.ensureSubscription('com.state', 'exact');
    const retained = restarted.broker.retainedFor(subscription);
    expect(retained.map((r) => [r.args, r.at])).toEqual([[['v1'], at]]);
  });

  it('only what the broker kept: an event it refused is not persisted, the topics it evicted are forgotten', async () => {
    const store = new ObservedStore('sqlite');
    const realm = await installed(store, [], {}, { maxRetainedBytes: 1024 });
    const s = endpoint();
    realm.join(s);
    const half = 'x'.repeat(300);
    publish(realm, s, 1, 'com.a', [half], { retain: true });
    publish(realm, s, 2, 'com.b', [half], { retain: true });
    // Past 1024 bytes with com.a's: the broker evicts com.a for com.c.
    publish(realm, s, 3, 'com.c', [half], { retain: true });
    // Larger than the budget: refused by the broker (com.b and com.c stay).
    publish(realm, s, 4, 'com.big', ['y'.repeat(2048)], { retain: true });
    expect(store.calls).toEqual(['retained', 'retain com.a', 'retain com.b', 'unretain com.a', 'retain com.c']);
  });

  it('a memory or shared store persists nothing', async () => {
    for (const store of [new ObservedStore('memory'), new ObservedStore('jetstream', true)]) {
      const realm = await installed(store, []);
      const s = endpoint();
      realm.join(s);
      publish(realm, s, 1, 'com.state', ['v1'], { retain: true });
      expect(store.calls).toEqual([]);
    }
  });
});

describe('catchUpReplay', () => {
  async function withEvents() {
    const store = new ObservedStore();
    const realm = await installed(store);
    const s = endpoint();
    realm.join(s);
    const ids: number[] = [];
    for (let i = 1; i <= 4; i++) {
      publish(realm, s, i, i === 3 ? 'com.h.y' : 'com.h.x', [i], { acknowledge: true, ...(i === 2 ? { exclude_authid: ['carol'] } : {}) });
      ids.push((s.sent.at(-1) as { publication: number }).publication);
    }
    store.settle();
    return { store, realm, ids };
  }

  const replay = async (
    realm: Realm,
    reader: Endpoint,
    topic: string,
    match: 'exact' | 'prefix' | 'wildcard',
    request: { after: number } | { last: number },
  ) => {
    const subscription = realm.broker.subscribe(reader, topic, match).subscription;
    const done = catchUpReplay(realm, reader, subscription, request as never);
    return done;
  };

  it('last: the newest n, oldest first; after: those after it, with gap when it is no longer stored; flushed first', async () => {
    const { store, realm, ids } = await withEvents();
    const reader = endpoint('dave');
    store.calls.length = 0;
    const pending = replay(realm, reader, 'com.h.x', 'exact', { last: 2 });
    await settled();
    expect(store.calls).toEqual(['flush']);
    store.settle();
    expect(await pending).toEqual({
      ok: true,
      gap: false,
      events: [expect.objectContaining({ publication: ids[1], args: [2] }), expect.objectContaining({ publication: ids[3], args: [4] })],
    });
    const after = replay(realm, reader, 'com.h.', 'prefix', { after: ids[0]! });
    await settled();
    store.settle();
    expect(await after).toMatchObject({ ok: true, gap: false, events: [{ args: [2] }, { args: [3], topic: 'com.h.y' }, { args: [4] }] });
    const gone = replay(realm, reader, 'com.h.x', 'exact', { after: 999 });
    await settled();
    store.settle();
    expect(await gone).toMatchObject({ ok: true, gap: true, events: [{ args: [1] }, { args: [2] }, { args: [4] }] });
  });

  it("re-applies the publications' authid lists to the subscriber; a topic or pattern no rule covers is history_unavailable", async () => {
    const { store, realm } = await withEvents();
    const carol = endpoint('carol');
    const pending = replay(realm, carol, 'com.h.x', 'exact', { last: 10 });
    await settled();
    store.settle();
    expect(await pending).toMatchObject({ ok: true, events: [{ args: [1] }, { args: [4] }] });
    expect(await replay(realm, carol, 'com.plain', 'exact', { last: 1 })).toMatchObject({ ok: false, error: HISTORY_UNAVAILABLE });
    expect(await replay(realm, carol, 'com.', 'prefix', { last: 1 })).toMatchObject({ ok: false, error: HISTORY_UNAVAILABLE });
    expect(await replay(realm, carol, '.x', 'wildcard', { last: 1 })).toMatchObject({ ok: false, error: HISTORY_UNAVAILABLE });
    // Patterns inside a prefix rule are covered.
    const covered = replay(realm, carol, 'com.h..z', 'wildcard', { last: 1 });
    await settled();
    store.settle();
    expect(await covered).toMatchObject({ ok: true, events: [] });
  });

  it('a store that fails to read is switchboard.error.store_failed', async () => {
    const { store, realm } = await withEvents();
    const pending = replay(realm, endpoint(), 'com.h.x', 'exact', { last: 1 });
    await settled();
    store.settle(new Error('NATS down'));
    expect(await pending).toMatchObject({ ok: false, error: STORE_FAILED });
  });
});
