/**
 * One realm of a cluster node: what crosses NATS for it.
 *
 * Pub/sub — a PUBLISH is delivered to this node's subscribers, then published once on the
 * topic's subject; each node listens on the subjects of its own subscriptions only (interest,
 * not a firehose) and delivers what arrives through its own broker, exactly as a local
 * publication (one encode per subscription and serializer). A node may hold overlapping NATS
 * subscriptions (`a.>` and `a.b`): a publication then arrives twice, and the second copy is
 * dropped by the origin's sequence number (NATS keeps one publisher's order).
 *
 * RPC — registrations live in the `registrations` KV bucket, one key per (realm, match, URI): a
 * REGISTER claims it with a compare-and-set (create for a new key, update at the read revision
 * otherwise), so a `single` registration is unique cluster-wide and a shared one keeps one
 * policy. Every node mirrors the bucket into its own dealer as stand-in callees (RemoteSession),
 * so matching precedence, policies, timeouts, cancel modes and progressive results run on the
 * caller's node, unchanged; the callee's node only relays INVOCATION/INTERRUPT to the real
 * session under that session's own IDs, and YIELD/ERROR back.
 *
 * Sessions — the `sessions` bucket holds every session's meta details (wamp.session.count, list,
 * get across the cluster). Retained events — the `retained` bucket keeps the last retained event
 * per topic; every node mirrors it into its broker.
 */
import type { KvEntry, KV } from '@nats-io/kv';
import type { QueuedIterator, Subscription } from '@nats-io/transport-node';
import type { Args, Dict, ErrorMessage, Kwargs, MatchPolicy, RequestId, SessionId, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode, isMatchPolicy, msgpackCodec, parseMessage, toWire } from '@switchboard/schemas';
import type { DeliveryPlan, Subscription as BrokerSubscription } from '../broker/broker.js';
import type { RouterCore } from '../core.js';
import type { InvocationPolicy, Registration } from '../dealer/dealer.js';
import { isInvocationPolicy } from '../dealer/dealer.js';
import { isListed, sessionDetails } from '../meta/sessions.js';
import { publishTestament } from '../meta/testament.js';
import type { Realm, RealmCluster } from '../realm.js';
import type { Endpoint } from '../core/endpoint.js';
import { token } from './names.js';
import type { ClusterNode } from './node.js';
import { RemoteSession } from './remote-session.js';
import { CLUSTER_DECODE, decodeCluster, encodeCluster } from './wire.js';
import type { ClusterMessage, EventEnvelope } from './wire.js';

/** One callee of a registration, as the KV bucket holds it. */
interface CalleeRecord {
  node: string;
  inc: number;
  session: number;
  authid: string;
  authrole: string;
  authmethod: string;
  authprovider: string;
  /** HELLO.roles.callee.features of the real session. */
  features: Dict;
  disclose: boolean;
  forward: boolean;
}

interface RegistrationRecord {
  procedure: string;
  match: MatchPolicy;
  policy: InvocationPolicy;
  callees: CalleeRecord[];
}

/** A subscription of one node, as the `subscriptions` bucket holds it (meta API). */
export interface SubscriptionRecord {
  node: string;
  inc: number;
  id: number;
  topic: string;
  match: MatchPolicy;
  /** Milliseconds since the epoch. */
  created: number;
  subscribers: number[];
}

interface SessionRecord {
  node: string;
  inc: number;
  details: Dict;
}

/** An INVOCATION relayed from another node to a session here. */
interface Relay {
  from: string;
  /** The INVOCATION request ID the caller's node gave. */
  origin: RequestId;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const json = (value: unknown): Uint8Array => textEncoder.encode(JSON.stringify(value));

function parseRecord<T>(entry: KvEntry): T | undefined {
  try {
    return JSON.parse(textDecoder.decode(entry.value)) as T;
  } catch {
    return undefined;
  }
}

function isRegistrationRecord(r: unknown): r is RegistrationRecord {
  const v = r as RegistrationRecord | undefined;
  return typeof v === 'object' && v !== null && typeof v.procedure === 'string' && isMatchPolicy(v.match) && isInvocationPolicy(v.policy) && Array.isArray(v.callees);
}

/** A KV operation lost a compare-and-set race (or the key appeared meanwhile): read again. */
function isConflict(err: unknown): boolean {
  const text = String((err as Error)?.message ?? err);
  return /wrong last sequence|exists|10071/i.test(text);
}

export class RealmLink implements RealmCluster {
  readonly #name: string;
  readonly #prefix: string;
  /** NATS subscriptions of this node's topic subscriptions, by subject, with how many share each. */
  readonly #interest = new Map<string, { count: number; sub: Subscription }>();
  /** Highest sequence number seen per origin node (duplicate copies are dropped). */
  readonly #seen = new Map<string, number>();
  /** The registrations bucket, as last seen. */
  readonly #registrations = new Map<string, RegistrationRecord>();
  /** Stand-ins for callees on other nodes, by `node/session`, with the keys each is registered under. */
  readonly #proxies = new Map<string, { session: RemoteSession; keys: Map<string, Registration<Endpoint>['id']> }>();
  /** The sessions bucket, as last seen. */
  readonly #sessions = new Map<number, SessionRecord>();
  /** Invocations relayed to sessions here: by session, by the request ID given here. */
  readonly #relays = new Map<Endpoint, Map<RequestId, Relay>>();
  /** `from/session/origin` → the request ID given here (progressive call invocations, INTERRUPT). */
  readonly #relayIds = new Map<string, RequestId>();
  /** `key/session` while a REGISTER's claim is in flight. */
  readonly #claiming = new Set<string>();
  readonly #watchers: QueuedIterator<KvEntry>[] = [];
  /** The subscriptions bucket, as last seen. */
  readonly #subscriptionRecords = new Map<string, SubscriptionRecord>();
  /** This node's subscriptions whose record is to be written (once per turn, however many changes). */
  readonly #dirty = new Set<BrokerSubscription<Endpoint>>();
  #flushing = false;

  constructor(
    readonly node: ClusterNode,
    readonly realm: Realm,
    readonly core: RouterCore,
  ) {
    this.#name = realm.name;
    this.#prefix = `${token(realm.name)}.`;
    realm.cluster = this;
    realm.observe({
      onJoin: (session) => this.#joined(session),
      onLeave: (session) => this.#left(session),
      onSubscriptionCreated: (_session, subscription) => this.#listen(subscription),
      onSubscriptionDeleted: (_session, subscription) => {
        this.#unlisten(subscription);
        this.#touch(subscription);
      },
      onSubscribe: (_session, subscription) => this.#touch(subscription),
      onUnsubscribe: (_session, subscription) => this.#touch(subscription),
      onUnregister: (session, registration) => {
        if (!(session instanceof RemoteSession)) void this.#release(this.node.names.registrationKey(this.#name, registration.match, registration.procedure), session.id);
      },
    });
  }

  get #kv(): { registrations: KV; sessions: KV; retained: KV; subscriptions: KV; testaments: KV } {
    return this.node.buckets;
  }

  /** Loads the buckets' current content and keeps following them. */
  async load(): Promise<void> {
    await Promise.all([
      this.#follow(this.#kv.registrations, (e) => this.#onRegistrationEntry(e)),
      this.#follow(this.#kv.sessions, (e) => this.#onSessionEntry(e)),
      this.#follow(this.#kv.retained, (e) => this.#onRetainedEntry(e)),
      this.#follow(this.#kv.subscriptions, (e) => this.#onSubscriptionEntry(e)),
    ]);
  }

  /** Watches this realm's keys of a bucket; resolves once the current values are in. */
  async #follow(kv: KV, apply: (entry: KvEntry) => void): Promise<void> {
    const filter = `${this.#prefix}>`;
    const keys = await kv.keys(filter);
    let count = 0;
    for await (const _ of keys) count++;
    const watcher = await kv.watch({ key: filter });
    this.#watchers.push(watcher);
    let seen = 0;
    let done: () => void = () => undefined;
    const loaded = new Promise<void>((resolve) => (done = resolve));
    if (count === 0) done();
    void (async () => {
      for await (const entry of watcher) {
        try {
          apply(entry);
        } catch (err) {
          this.node.log.error({ err, key: entry.key }, 'cluster: bucket entry handling failed');
        }
        if (++seen >= count || entry.delta === 0) done();
      }
    })().catch((err: unknown) => this.node.log.error({ err }, 'cluster: bucket watch ended'));
    // A key deleted between the count and the watch would leave the count unreached.
    await Promise.race([loaded, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  }

  // ---- pub/sub -------------------------------------------------------------------------------

  published(plan: DeliveryPlan<Endpoint>, details: Dict, args: Args | undefined, kwargs: Kwargs | undefined, retain: boolean, acknowledged = false): void {
    const envelope: EventEnvelope = {
      kind: 'e',
      node: this.node.self,
      seq: this.node.nextSeq(),
      realm: this.#name,
      topic: plan.topic,
      publication: plan.publication,
      details,
      filter: plan.filter,
      args,
      kwargs,
    };
    let bytes: Uint8Array;
    try {
      bytes = encodeCluster(envelope);
    } catch (err) {
      this.node.log.warn({ topic: plan.topic, err: (err as Error).message }, 'cluster: publication cannot be encoded; delivered on this node only');
      return;
    }
    this.node.publish(this.node.names.event(this.#name, plan.topic), bytes, acknowledged);
    if (retain) {
      this.#kv.retained.put(this.node.names.retainedKey(this.#name, plan.topic), bytes).catch((err: unknown) => {
        this.node.log.warn({ topic: plan.topic, err: (err as Error).message }, 'cluster: retained event not stored in the cluster');
      });
    }
  }

  #listen(subscription: BrokerSubscription<Endpoint>): void {
    const subject = this.node.names.interest(this.#name, subscription.topic, subscription.match);
    const entry = this.#interest.get(subject);
    if (entry !== undefined) entry.count++;
    else this.#interest.set(subject, { count: 1, sub: this.node.subscribe(subject, (data) => this.#onEvent(data)) });
  }

  #unlisten(subscription: BrokerSubscription<Endpoint>): void {
    const subject = this.node.names.interest(this.#name, subscription.topic, subscription.match);
    const entry = this.#interest.get(subject);
    if (entry === undefined) return;
    if (--entry.count > 0) return;
    this.#interest.delete(subject);
    entry.sub.unsubscribe();
  }

  #onEvent(data: Uint8Array): void {
    let m: ClusterMessage;
    try {
      m = decodeCluster(data);
    } catch (err) {
      this.node.log.warn({ err: (err as Error).message }, 'cluster: undecodable publication dropped');
      return;
    }
    if (m.kind !== 'e' || m.node === this.node.self || m.realm !== this.#name) return;
    const last = this.#seen.get(m.node) ?? 0;
    if (m.seq <= last) return; // a second copy (overlapping subjects)
    this.#seen.set(m.node, m.seq);
    try {
      this.realm.deliverRemote(m.topic, m.publication, m.details, m.filter, m.args, m.kwargs);
    } catch (err) {
      // A publication from another node costs itself, never this process.
      this.node.log.error({ err, topic: m.topic }, 'cluster: remote publication not delivered');
    }
  }

  #onRetainedEntry(entry: KvEntry): void {
    if (entry.operation !== 'PUT') return;
    let m: ClusterMessage;
    try {
      m = decodeCluster(entry.value);
    } catch {
      return;
    }
    if (m.kind !== 'e' || m.node === this.node.self) return;
    this.realm.retainRemote(m.topic, m.publication, m.details, m.filter, m.args, m.kwargs);
  }

  // ---- subscription registry (meta API) ------------------------------------------------------

  #touch(subscription: BrokerSubscription<Endpoint>): void {
    if (subscription.topic.startsWith('wamp.')) return; // meta topics are not routes the meta API lists
    this.#dirty.add(subscription);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      for (const sub of this.#dirty) this.#putSubscription(sub);
      this.#dirty.clear();
    });
  }

  #putSubscription(subscription: BrokerSubscription<Endpoint>): void {
    const key = this.node.names.subscriptionKey(this.#name, this.node.self, subscription.id);
    const kv = this.#kv.subscriptions;
    const live = this.realm.broker.getSubscription(subscription.id) === subscription && subscription.subscribers.size > 0;
    const done = live
      ? kv.put(key, json({ node: this.node.self, inc: this.node.incarnation, id: subscription.id, topic: subscription.topic, match: subscription.match, created: subscription.created, subscribers: [...subscription.subscribers].map((s) => s.id) } satisfies SubscriptionRecord))
      : kv.delete(key);
    done.catch(() => undefined); // resynchronised when NATS is back
  }

  #onSubscriptionEntry(entry: KvEntry): void {
    if (entry.operation !== 'PUT') {
      this.#subscriptionRecords.delete(entry.key);
      return;
    }
    const record = parseRecord<SubscriptionRecord>(entry);
    if (record === undefined || typeof record.node !== 'string' || !Array.isArray(record.subscribers)) return;
    this.node.presume(record.node, record.inc);
    this.#subscriptionRecords.set(entry.key, record);
  }

  /** Subscriptions held on the other live nodes (meta API). */
  remoteSubscriptions(): SubscriptionRecord[] {
    const out: SubscriptionRecord[] = [];
    for (const record of this.#subscriptionRecords.values()) if (record.node !== this.node.self && this.node.isLive(record.node, record.inc)) out.push(record);
    return out;
  }

  // ---- testaments ----------------------------------------------------------------------------

  testaments(session: Endpoint, testaments: readonly { topic: string; args: Args; kwargs: Kwargs; publishOptions: Dict }[]): void {
    const key = this.node.names.testamentKey(this.#name, this.node.self, session.id);
    const kv = this.#kv.testaments;
    const done =
      testaments.length === 0
        ? kv.delete(key)
        : kv.put(key, msgpackCodec.encode([this.node.incarnation, session.identity?.authid ?? null, session.identity?.authrole ?? null, testaments.map((t) => [t.topic, t.args, t.kwargs, t.publishOptions])]) as Uint8Array);
    done.catch((err: unknown) => this.node.log.warn({ session: session.id, err: (err as Error).message }, 'cluster: testaments not stored in the cluster'));
  }

  /** A dead node's testaments, published by the node that purges it (once), as its sessions would have. */
  async #publishTestaments(node: string, inc: number): Promise<void> {
    const kv = this.#kv.testaments;
    const keys: string[] = [];
    for await (const key of await kv.keys(`${this.#prefix}${node}.>`)) keys.push(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      const value = msgpackCodec.decode(entry.value, CLUSTER_DECODE);
      const id = Number(key.slice(key.lastIndexOf('.') + 1));
      if (!Array.isArray(value) || value[0] !== inc || !Array.isArray(value[3]) || !Number.isSafeInteger(id)) continue;
      const [, authid, authrole, list] = value as [number, string | null, string | null, [string, Args, Kwargs, Dict][]];
      const stand = new RemoteSession(this.core, this.node, node, this.realm, id as SessionId, { authid: authid ?? '', authrole: authrole ?? '', authmethod: '', authprovider: '' }, {});
      // Authorized again as its session's would be (meta/testament.ts).
      for (const [topic, args, kwargs, publishOptions] of list) await publishTestament(this.realm, stand, { topic, args, kwargs, publishOptions });
      await kv.delete(key);
    }
  }

  // ---- sessions ------------------------------------------------------------------------------

  #joined(session: Endpoint): void {
    if (isListed(session)) this.#putSession(session);
  }

  #putSession(session: Endpoint): void {
    const record: SessionRecord = { node: this.node.self, inc: this.node.incarnation, details: sessionDetails(session) };
    this.#kv.sessions.put(this.node.names.sessionKey(this.#name, session.id), json(record)).catch((err: unknown) => {
      this.node.log.warn({ session: session.id, err: (err as Error).message }, 'cluster: session not registered (resynchronised when NATS is back)');
    });
  }

  #left(session: Endpoint): void {
    // Invocations relayed to it end now: the callers' nodes answer wamp.error.canceled.
    const relays = this.#relays.get(session);
    if (relays !== undefined) {
      this.#relays.delete(session);
      for (const [, relay] of relays) {
        this.#relayIds.delete(`${relay.from}/${session.id}/${relay.origin}`);
        this.#answer(relay.from, session.id, [MessageCode.Error, MessageCode.Invocation, relay.origin, {}, ErrorUri.Canceled, ['callee left the realm before answering']]);
      }
    }
    if (!isListed(session)) return;
    this.#kv.sessions.delete(this.node.names.sessionKey(this.#name, session.id)).catch(() => undefined);
  }

  #onSessionEntry(entry: KvEntry): void {
    const id = Number(entry.key.slice(this.#prefix.length));
    if (!Number.isSafeInteger(id)) return;
    if (entry.operation !== 'PUT') {
      this.#sessions.delete(id);
      // Removed by a node that took this one for dead: still here, so back in.
      const local = this.realm.sessions.get(id as SessionId);
      if (local !== undefined && local.live && isListed(local)) this.#putSession(local);
      return;
    }
    const record = parseRecord<SessionRecord>(entry);
    if (record === undefined || typeof record.node !== 'string') return;
    this.node.presume(record.node, record.inc);
    this.#sessions.set(id, record);
  }

  hasSession(id: number): boolean {
    return this.#sessions.has(id);
  }

  /** Sessions of the realm on other live nodes (meta API). */
  remoteSessions(): Dict[] {
    const out: Dict[] = [];
    for (const record of this.#sessions.values()) if (record.node !== this.node.self && this.node.isLive(record.node, record.inc)) out.push(record.details);
    return out;
  }

  remoteSession(id: number): Dict | undefined {
    const record = this.#sessions.get(id);
    return record !== undefined && record.node !== this.node.self && this.node.isLive(record.node, record.inc) ? record.details : undefined;
  }

  /** wamp.session.kill of a session on another node; false if there is none. */
  killRemote(id: number, reason: string, message: string, silent = false): boolean {
    const record = this.#sessions.get(id);
    if (record === undefined || record.node === this.node.self || !this.node.isLive(record.node, record.inc)) return false;
    return this.node.sendToNode(record.node, encodeCluster({ kind: 'k', realm: this.#name, session: id as SessionId, reason, message, silent }));
  }

  // ---- registrations -------------------------------------------------------------------------

  #record(session: Endpoint, options: { discloseCaller: boolean; forwardTimeout: boolean }): CalleeRecord {
    const callee = session.roles['callee'];
    const features = typeof callee === 'object' && callee !== null && typeof (callee as Dict)['features'] === 'object' ? ((callee as Dict)['features'] as Dict) : {};
    return {
      node: this.node.self,
      inc: this.node.incarnation,
      session: session.id,
      authid: session.identity?.authid ?? '',
      authrole: session.identity?.authrole ?? '',
      authmethod: session.identity?.authmethod ?? '',
      authprovider: session.identity?.authprovider ?? '',
      features,
      disclose: options.discloseCaller,
      forward: options.forwardTimeout,
    };
  }

  async claim(
    session: Endpoint,
    procedure: string,
    match: MatchPolicy,
    invoke: InvocationPolicy,
    options: { discloseCaller: boolean; forwardTimeout: boolean },
  ): Promise<{ error: string; message: string } | undefined> {
    const key = this.node.names.registrationKey(this.#name, match, procedure);
    const mark = `${key}/${session.id}`;
    this.#claiming.add(mark);
    try {
      return await this.#claim(key, procedure, match, invoke, this.#record(session, options));
    } catch (err) {
      // NATS unreachable: the registration holds on this node and is claimed on resync.
      this.node.log.warn({ procedure, err: (err as Error).message }, 'cluster: registration not claimed in the cluster (NATS unreachable); claimed on resync');
      return undefined;
    } finally {
      this.#claiming.delete(mark);
    }
  }

  /**
   * Read-modify-write of one registration key with compare-and-set (create when absent, else
   * update or delete at the revision read), read again after a lost race. `change` sees the
   * current record and says what to write, or with what to stop.
   */
  async #modify<T>(key: string, change: (record: RegistrationRecord | undefined) => { put: RegistrationRecord } | { remove: true } | { done: T }, contended: T): Promise<T | undefined> {
    const kv = this.#kv.registrations;
    for (let attempt = 0; attempt < 32; attempt++) {
      const entry = await kv.get(key);
      const parsed = entry?.operation === 'PUT' ? parseRecord<RegistrationRecord>(entry) : undefined;
      const step = change(isRegistrationRecord(parsed) ? parsed : undefined);
      if ('done' in step) return step.done;
      try {
        if ('remove' in step) await kv.delete(key, { previousSeq: entry!.revision });
        else if (entry === null) await kv.create(key, json(step.put));
        else await kv.update(key, json(step.put), entry.revision);
        return undefined;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    return contended;
  }

  #claim(key: string, procedure: string, match: MatchPolicy, invoke: InvocationPolicy, me: CalleeRecord): Promise<{ error: string; message: string } | undefined> {
    return this.#modify<{ error: string; message: string }>(
      key,
      (record) => {
        const live = record?.callees.filter((c) => this.node.isLive(c.node, c.inc) && !(c.node === me.node && c.session === me.session)) ?? [];
        if (record === undefined || live.length === 0) return { put: { procedure, match, policy: invoke, callees: [me] } };
        if (record.policy !== invoke) {
          return { done: { error: ErrorUri.ProcedureExistsWithDifferentInvocationPolicy, message: `'${procedure}' is registered with invocation policy '${record.policy}'` } };
        }
        if (invoke === 'single') return { done: { error: ErrorUri.ProcedureAlreadyExists, message: `'${procedure}' is already registered` } };
        return { put: { ...record, callees: [...live, me] } };
      },
      { error: ErrorUri.Unavailable, message: `'${procedure}' could not be claimed in the cluster (too much contention)` },
    );
  }

  /** Takes a callee (of this node or, when purging, of a dead one) out of a registration's key. */
  async #removeCallees(key: string, gone: (c: CalleeRecord) => boolean): Promise<void> {
    await this.#modify(
      key,
      (record) => {
        const callees = record?.callees.filter((c) => !gone(c));
        if (record === undefined || callees === undefined || callees.length === record.callees.length) return { done: undefined };
        return callees.length === 0 ? { remove: true } : { put: { ...record, callees } };
      },
      undefined,
    );
  }

  async #release(key: string, session: SessionId): Promise<void> {
    try {
      await this.#removeCallees(key, (c) => c.node === this.node.self && c.session === session);
    } catch (err) {
      this.node.log.warn({ key, err: (err as Error).message }, 'cluster: registration not released (removed when this node is taken for dead)');
    }
  }

  #onRegistrationEntry(entry: KvEntry): void {
    if (entry.operation !== 'PUT') this.#registrations.delete(entry.key);
    else {
      const record = parseRecord<RegistrationRecord>(entry);
      if (!isRegistrationRecord(record)) return;
      for (const c of record.callees) this.node.presume(c.node, c.inc);
      this.#registrations.set(entry.key, record);
    }
    this.#reconcile(entry.key);
  }

  /** Makes this node's stand-ins for one key match the bucket and the live nodes. */
  #reconcile(key: string): void {
    const record = this.#registrations.get(key);
    const wanted = new Map<string, CalleeRecord>();
    if (record !== undefined) {
      for (const c of record.callees) if (c.node !== this.node.self && this.node.isLive(c.node, c.inc)) wanted.set(`${c.node}/${c.session}`, c);
    }
    for (const [id, proxy] of this.#proxies) {
      const registration = proxy.keys.get(key);
      if (registration === undefined || wanted.has(id)) continue;
      proxy.keys.delete(key);
      this.realm.dealer.unregister(proxy.session, registration);
      if (proxy.keys.size === 0) this.#dropProxy(id, 'callee unregistered');
    }
    if (record === undefined) return;
    for (const [id, c] of wanted) {
      let proxy = this.#proxies.get(id);
      if (proxy === undefined) {
        const session = new RemoteSession(
          this.core,
          this.node,
          c.node,
          this.realm,
          c.session as SessionId,
          { authid: c.authid, authrole: c.authrole, authmethod: c.authmethod, authprovider: c.authprovider },
          c.features,
        );
        proxy = { session, keys: new Map() };
        this.#proxies.set(id, proxy);
      }
      if (proxy.keys.has(key)) continue;
      const outcome = this.realm.dealer.register(proxy.session, record.procedure, { match: record.match, invoke: record.policy, discloseCaller: c.disclose, forwardTimeout: c.forward });
      if (outcome.ok) proxy.keys.set(key, outcome.registration.id);
      else this.node.log.warn({ procedure: record.procedure, node: c.node, error: outcome.error }, 'cluster: remote registration conflicts with one on this node');
    }
  }

  #dropProxy(id: string, reason: string): void {
    const proxy = this.#proxies.get(id);
    if (proxy === undefined) return;
    this.#proxies.delete(id);
    this.realm.dropRemoteCallee(proxy.session, reason);
  }

  // ---- relayed invocations -------------------------------------------------------------------

  onDirect(m: ClusterMessage): void {
    if (m.kind === 'i') this.#toCallee(m.from, m.session, m.match, m.procedure, m.wire);
    else if (m.kind === 'a') {
      const proxy = this.#proxies.get(`${m.from}/${m.session}`);
      if (proxy === undefined) return;
      const msg = parseMessage(m.wire);
      if (msg.code === MessageCode.Yield || (msg.code === MessageCode.Error && msg.requestType === MessageCode.Invocation)) this.realm.onCalleeAnswer(proxy.session, msg);
    } else if (m.kind === 'k') {
      const session = this.realm.sessions.get(m.session);
      session?.goodbye(m.reason, m.message, () => undefined, { silent: m.silent });
    }
  }

  #answer(node: string, session: SessionId, wire: unknown[]): void {
    this.node.sendToNode(node, encodeCluster({ kind: 'a', from: this.node.self, realm: this.#name, session, wire }));
  }

  #toCallee(from: string, id: SessionId, match: string, procedure: string, wire: unknown[]): void {
    const msg = parseMessage(wire);
    const session = this.realm.sessions.get(id);
    if (msg.code === MessageCode.Invocation) {
      const origin = msg.request;
      const refuse = (error: string, text: string): void => this.#answer(from, id, [MessageCode.Error, MessageCode.Invocation, origin, {}, error, [text]]);
      if (session === undefined || !session.live) return refuse(ErrorUri.Canceled, 'callee left the realm before answering');
      const registration = isMatchPolicy(match) ? this.realm.dealer.lookup(procedure, match) : undefined;
      if (registration === undefined || !registration.callees.some((c) => c.session === session)) return refuse(ErrorUri.Canceled, 'callee no longer registered');
      const relayKey = `${from}/${id}/${origin}`;
      let local = this.#relayIds.get(relayKey);
      if (local === undefined) {
        local = this.realm.dealer.reserveInvocationId(session);
        this.#relayIds.set(relayKey, local);
        let relays = this.#relays.get(session);
        if (relays === undefined) this.#relays.set(session, (relays = new Map()));
        relays.set(local, { from, origin });
      }
      session.send({ ...msg, request: local, registration: registration.id });
      return;
    }
    if (session === undefined) return;
    if (msg.code === MessageCode.Interrupt || (msg.code === MessageCode.Error && msg.requestType === MessageCode.Invocation)) {
      const relayKey = `${from}/${id}/${msg.request}`;
      const local = this.#relayIds.get(relayKey);
      if (local === undefined) return;
      session.send({ ...msg, request: local });
      // After killnowait or an ERROR the caller's node has closed the call: later answers go nowhere.
      if (msg.code === MessageCode.Error || msg.options['mode'] !== 'kill') this.#endRelay(session, local, relayKey);
    }
  }

  #endRelay(session: Endpoint, local: RequestId, relayKey: string): void {
    this.#relayIds.delete(relayKey);
    const relays = this.#relays.get(session);
    relays?.delete(local);
    if (relays?.size === 0) this.#relays.delete(session);
  }

  relayAnswer(session: Endpoint, msg: Yield | ErrorMessage): boolean {
    const relay = this.#relays.get(session)?.get(msg.request);
    if (relay === undefined) return false;
    const final = !(msg.code === MessageCode.Yield && msg.options['progress'] === true);
    if (final) this.#endRelay(session, msg.request, `${relay.from}/${session.id}/${relay.origin}`);
    this.#answer(relay.from, session.id, toWire({ ...msg, request: relay.origin }));
    return true;
  }

  // ---- nodes coming and going ----------------------------------------------------------------

  /** A node came up or went down (for this node): stand-ins and relays follow. */
  nodeChanged(node: string): void {
    const alive = this.node.isAlive(node);
    // A dead node's stand-ins go first, and the calls pending on them end: wamp.error.canceled.
    if (!alive) for (const [id, proxy] of this.#proxies) if (proxy.session.node === node) this.#dropProxy(id, 'callee node is gone');
    for (const key of this.#registrations.keys()) this.#reconcile(key);
    if (alive) return;
    // Callers on a node that is gone will not hear back: their invocations here are interrupted.
    for (const [session, relays] of this.#relays) {
      for (const [local, relay] of relays) {
        if (relay.from !== node) continue;
        this.#endRelay(session, local, `${relay.from}/${session.id}/${relay.origin}`);
        if (session.supports('callee', 'call_canceling')) session.send({ code: MessageCode.Interrupt, request: local, options: { mode: 'killnowait', reason: ErrorUri.Canceled } });
      }
    }
  }

  /** Removes a dead node's entries from the buckets (done by one live node). */
  async purgeNode(node: string, inc: number): Promise<void> {
    const dead = (c: { node: string; inc: number }): boolean => c.node === node && c.inc === inc;
    try {
      for (const [key, record] of [...this.#registrations]) if (record.callees.some(dead)) await this.#removeCallees(key, dead);
      for (const [id, record] of [...this.#sessions]) if (dead(record)) await this.#kv.sessions.delete(this.node.names.sessionKey(this.#name, id));
      for (const [key, record] of [...this.#subscriptionRecords]) if (dead(record)) await this.#kv.subscriptions.delete(key);
      await this.#publishTestaments(node, inc);
      this.node.log.info({ node: this.node.self, dead: node }, 'cluster: removed a dead node\'s sessions and registrations');
    } catch (err) {
      this.node.log.warn({ dead: node, err: (err as Error).message }, 'cluster: purge of a dead node incomplete');
    }
  }

  /** After NATS comes back: this node's sessions and registrations are put back where missing. */
  resync(): void {
    void (async () => {
      try {
        for (const session of this.realm.sessions.values()) {
          if (session.live && isListed(session)) this.#putSession(session);
        }
        for (const subscription of this.realm.broker.subscriptions()) this.#putSubscription(subscription);
        for (const registration of [...this.realm.dealer.registrations()]) {
          for (const callee of [...registration.callees]) {
            const session = callee.session;
            if (session instanceof RemoteSession) continue;
            const key = this.node.names.registrationKey(this.#name, registration.match, registration.procedure);
            const record = this.#registrations.get(key);
            if (record?.callees.some((c) => c.node === this.node.self && c.session === session.id && c.inc === this.node.incarnation) === true) continue;
            if (this.#claiming.has(`${key}/${session.id}`)) continue;
            const refused = await this.#claim(key, registration.procedure, registration.match, registration.invoke, this.#record(session, { discloseCaller: callee.discloseCaller, forwardTimeout: callee.forwardTimeout }));
            if (refused !== undefined) {
              this.node.log.warn({ procedure: registration.procedure, session: session.id, error: refused.error }, 'cluster: registration taken elsewhere while NATS was away; revoked here');
              this.realm.revokeRegistration(session, registration, refused.error);
            }
          }
        }
      } catch (err) {
        this.node.log.warn({ err: (err as Error).message }, 'cluster: resync incomplete');
      }
    })();
  }

  stop(): void {
    for (const entry of this.#interest.values()) entry.sub.unsubscribe();
    this.#interest.clear();
    for (const watcher of this.#watchers) watcher.stop();
    for (const id of [...this.#proxies.keys()]) this.#dropProxy(id, 'router shutting down');
  }
}
