/**
 * Pub/sub across nodes, for one realm. A publication delivered here is published once on its
 * topic's subject; this node listens on the subjects of its own subscriptions only (interest, not
 * a firehose: one NATS subscription per subject, however many subscriptions share it) and
 * delivers what arrives through its realm's broker, exactly as a local publication. An event
 * larger than NATS's max_payload crosses in chunks (node.ts). An acknowledged publication's
 * PUBLISHED waits until NATS confirmed its event (and, retained, until the bucket has it).
 * Overlapping
 * NATS subscriptions (`a.>` and `a.b`) bring a publication twice: the second copy is dropped by
 * its origin's sequence number (NATS keeps one publisher's order). A retained publication is also
 * kept in the `retained` bucket, which every node mirrors into its broker.
 */
import type { KvEntry } from '@nats-io/kv';
import type { Dict, Kwargs, WireArgs } from '@switchboard/schemas';
import type { DeliveryPlan, Subscription } from '../broker/broker.js';
import type { Endpoint } from '../core/endpoint.js';
import { CLUSTER_UNAVAILABLE, RefusalError, overLimit, refusal } from '../core/outcome.js';
import { logRefusal } from '../log.js';
import type { PubSub } from '../realm/pubsub.js';
import type { Interest, NodeLink } from './link.js';
import { decodeCluster, encodeCluster } from './wire.js';
import type { ClusterMessage, EventEnvelope } from './wire.js';

/** What forwarding needs of its realm: its name and the delivery of another node's publications. */
export type EventSink = Pick<PubSub, 'name' | 'deliverRemote' | 'retainRemote'>;

export type EventNode = Pick<NodeLink, 'self' | 'names' | 'log' | 'publish' | 'publishConfirmed' | 'maxPayload' | 'subscribe' | 'nextSeq' | 'stats'> & {
  /** Keeps a retained publication in the cluster (the `retained` bucket). */
  readonly buckets: { readonly retained: { put(key: string, value: Uint8Array): Promise<unknown> } };
};

/** The bound of a retained event in the cluster: one KV value, one NATS message (`limit` of the ERROR's kwargs). */
const RETAINED_LIMIT = 'nats.max_payload';

export class EventForwarding {
  /** NATS subscriptions of this node's topic subscriptions, by subject, with how many share each. */
  readonly #interest = new Map<string, { count: number; sub: Interest }>();
  /** Highest sequence number seen per origin node (duplicate copies are dropped). */
  readonly #seen = new Map<string, number>();
  /**
   * Publications this incarnation put into the `retained` bucket whose own entry has not come back
   * yet: that entry is skipped (the broker here retained it already). Entries of this node's name
   * that are not here were written by an earlier incarnation (a node restarted or replaced under
   * the same name): they are loaded like another node's. Bounded by the puts in flight.
   */
  readonly #retaining = new Set<number>();

  constructor(
    readonly node: EventNode,
    readonly realm: EventSink,
  ) {}

  /**
   * A publication was delivered here (a session's or the router's): to the nodes that want it.
   * Acknowledged: a promise the PUBLISHED waits for (node.ts publishConfirmed; with retain, the
   * bucket's write too), rejected with the publisher's refusal.
   */
  forward(
    plan: DeliveryPlan<Endpoint>,
    details: Dict,
    args: WireArgs | undefined,
    kwargs: Kwargs | undefined,
    retain: boolean,
    acknowledged: boolean,
  ): Promise<void> | undefined {
    const envelope: EventEnvelope = {
      kind: 'e',
      node: this.node.self,
      seq: this.node.nextSeq(),
      realm: this.realm.name,
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
      return acknowledged
        ? Promise.reject(new RefusalError(refusal(CLUSTER_UNAVAILABLE, 'the event cannot be encoded for the other nodes; it was delivered on this node only')))
        : undefined;
    }
    const subject = this.node.names.event(this.realm.name, plan.topic);
    let confirmed: Promise<void> | undefined;
    if (acknowledged) confirmed = this.node.publishConfirmed(subject, bytes);
    else this.node.publish(subject, bytes);
    if (retain) {
      const stored = this.#retain(plan, bytes, acknowledged);
      if (acknowledged) confirmed = Promise.all([confirmed, stored]).then(() => undefined);
      else stored.catch(() => undefined);
    }
    return confirmed;
  }

  /**
   * Keeps a retained publication in the `retained` bucket (one value per topic, so at most the
   * server's max_payload: a larger event stays retained on this node only, logged and counted).
   * Rejects with the refusal an acknowledged publisher gets (its ERROR counts the limit).
   */
  #retain(plan: DeliveryPlan<Endpoint>, bytes: Uint8Array, acknowledged: boolean): Promise<unknown> {
    const maxPayload = this.node.maxPayload;
    if (bytes.length > maxPayload) {
      if (!acknowledged) this.node.stats.limitExceeded(RETAINED_LIMIT);
      logRefusal(
        this.node.log,
        'cluster_retained_too_large',
        { topic: plan.topic, bytes: bytes.length, max: maxPayload },
        "cluster: a retained event larger than NATS's max_payload is retained on this node only",
        'warn',
      );
      return Promise.reject(new RefusalError(overLimit({ limit: RETAINED_LIMIT, value: maxPayload })));
    }
    const publication = plan.publication;
    this.#retaining.add(publication);
    return this.node.buckets.retained.put(this.node.names.retainedKey(this.realm.name, plan.topic), bytes).catch((err: unknown) => {
      this.#retaining.delete(publication);
      this.node.log.warn({ topic: plan.topic, err: (err as Error).message }, 'cluster: retained event not stored in the cluster');
      throw new RefusalError(refusal(CLUSTER_UNAVAILABLE, 'the retained event was not stored in the cluster; it was delivered'));
    });
  }

  /** A subscription was created here: listen on its subject. */
  listen(subscription: Subscription<Endpoint>): void {
    const subject = this.node.names.interest(this.realm.name, subscription.topic, subscription.match);
    const entry = this.#interest.get(subject);
    if (entry !== undefined) entry.count++;
    else this.#interest.set(subject, { count: 1, sub: this.node.subscribe(subject, (data) => this.receive(data)) });
  }

  /** A subscription was deleted here: stop listening once no other shares its subject. */
  unlisten(subscription: Subscription<Endpoint>): void {
    const subject = this.node.names.interest(this.realm.name, subscription.topic, subscription.match);
    const entry = this.#interest.get(subject);
    if (entry === undefined) return;
    if (--entry.count > 0) return;
    this.#interest.delete(subject);
    entry.sub.unsubscribe();
  }

  /** Subjects this node listens on (tests, diagnostics). */
  get subjects(): readonly string[] {
    return [...this.#interest.keys()];
  }

  /** A publication from NATS: delivered here once, whatever it costs itself. */
  receive(data: Uint8Array): void {
    let m: ClusterMessage;
    try {
      m = decodeCluster(data);
    } catch (err) {
      this.node.log.warn({ err: (err as Error).message }, 'cluster: undecodable publication dropped');
      return;
    }
    if (m.kind !== 'e' || m.node === this.node.self || m.realm !== this.realm.name) return;
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

  /** An entry of the `retained` bucket: another node's retained event, kept here too. */
  onRetainedEntry(entry: KvEntry): void {
    if (entry.operation !== 'PUT') return;
    let m: ClusterMessage;
    try {
      m = decodeCluster(entry.value);
    } catch {
      return;
    }
    if (m.kind !== 'e') return;
    if (m.node === this.node.self && this.#retaining.delete(m.publication)) return;
    this.realm.retainRemote(m.topic, m.publication, m.details, m.filter, m.args, m.kwargs);
  }

  stop(): void {
    for (const entry of this.#interest.values()) entry.sub.unsubscribe();
    this.#interest.clear();
  }
}
