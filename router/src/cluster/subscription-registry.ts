/**
 * The cluster's subscription registry, for one realm (meta API): each node writes its own
 * subscriptions with their subscribers to the `subscriptions` bucket — once per event-loop turn
 * per subscription, however many changes — and reads the others', so that wamp.subscription.*
 * speak of one subscription per (topic, match) with the subscribers of every node.
 */
import type { KvEntry } from '@nats-io/kv';
import type { MatchPolicy, SubscriptionId } from '@switchboard/schemas';
import type { Broker, Subscription } from '../broker/broker.js';
import type { RemoteSubscription } from '../realm-hooks.js';
import type { Endpoint } from '../core/endpoint.js';
import type { NodeLink } from './link.js';
import { json, parseRecord, purgeRecords } from './link.js';
import { token } from './names.js';

/** A subscription of one node, as the `subscriptions` bucket holds it. */
export interface SubscriptionRecord extends RemoteSubscription {
  node: string;
  inc: number;
  id: number;
  topic: string;
  match: MatchPolicy;
  created: number;
  subscribers: number[];
}

export class SubscriptionRegistry {
  /** The subscriptions bucket, as last seen, by key. */
  readonly #records = new Map<string, SubscriptionRecord>();
  /** The revision each record was read at (a stale one of this node is deleted at it). */
  readonly #revisions = new Map<string, number>();
  /** This node's subscriptions whose record is to be written (once per turn, however many changes). */
  readonly #dirty = new Set<Subscription<Endpoint>>();
  #flushing = false;

  constructor(
    readonly node: NodeLink,
    readonly realm: { readonly name: string; readonly broker: Broker<Endpoint> },
  ) {}

  /** A subscription of this node changed (created, deleted, a subscriber more or less). */
  touch(subscription: Subscription<Endpoint>): void {
    if (subscription.topic.startsWith('wamp.')) return; // meta topics are not routes the meta API lists
    this.#dirty.add(subscription);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      for (const sub of this.#dirty) this.#put(sub);
      this.#dirty.clear();
    });
  }

  #put(subscription: Subscription<Endpoint>): void {
    const key = this.node.names.subscriptionKey(this.realm.name, this.node.self, subscription.id);
    const kv = this.node.buckets.subscriptions;
    const live = this.realm.broker.getSubscription(subscription.id) === subscription && subscription.subscribers.size > 0;
    const done = live
      ? kv.put(
          key,
          json({
            node: this.node.self,
            inc: this.node.incarnation,
            id: subscription.id,
            topic: subscription.topic,
            match: subscription.match,
            created: subscription.created,
            subscribers: [...subscription.subscribers].map((s) => s.id),
          } satisfies SubscriptionRecord),
        )
      : kv.delete(key);
    done.catch(() => undefined); // resynchronised when NATS is back
  }

  onEntry(entry: KvEntry): void {
    if (entry.operation !== 'PUT') {
      const before = this.#records.get(entry.key);
      this.#records.delete(entry.key);
      this.#revisions.delete(entry.key);
      // Removed by a node that took this one for dead: still here, so back in.
      if (before?.node === this.node.self) {
        const here = this.realm.broker.getSubscription(before.id as SubscriptionId);
        if (here !== undefined && here.subscribers.size > 0) this.touch(here);
      }
      return;
    }
    const record = parseRecord<SubscriptionRecord>(entry);
    if (record === undefined || typeof record.node !== 'string' || !Array.isArray(record.subscribers)) return;
    this.node.presume(record.node, record.inc);
    this.#records.set(entry.key, record);
    this.#revisions.set(entry.key, entry.revision);
  }

  /** Subscriptions held on the other live nodes (meta API). */
  remoteSubscriptions(): SubscriptionRecord[] {
    const out: SubscriptionRecord[] = [];
    for (const record of this.#records.values()) if (record.node !== this.node.self && this.node.isLive(record.node, record.inc)) out.push(record);
    return out;
  }

  /**
   * After NATS comes back (and the node has settled): this node's subscriptions are written
   * again, and its records of subscriptions gone meanwhile (a delete lost while NATS was away, an
   * earlier incarnation's) are removed at the revision seen.
   */
  resync(): void {
    for (const subscription of this.realm.broker.subscriptions()) this.touch(subscription);
    for (const [key, record] of this.#records) {
      if (record.node !== this.node.self) continue;
      const here = this.realm.broker.getSubscription(record.id as SubscriptionId);
      if (record.inc === this.node.incarnation && here !== undefined && here.subscribers.size > 0) continue;
      this.node.buckets.subscriptions.delete(key, { previousSeq: this.#revisions.get(key) }).catch(() => undefined);
    }
  }

  /** Removes a dead node's subscriptions from the bucket, as the bucket holds them now (see SessionRegistry.purge). */
  purge(dead: (record: { node: string; inc: number }) => boolean): Promise<number> {
    return purgeRecords(this.node.buckets.subscriptions, `${token(this.realm.name)}.>`, dead);
  }
}
