/**
 * Testaments across nodes, for one realm: a session's testaments (meta/testament.ts) are copied
 * to the `testaments` bucket under its node, so that they are published even if the node dies
 * with the session — by the node that purges the dead one, as the session would have (authorized
 * again as its session's would be).
 */
import type { Args, Dict, Kwargs, SessionId } from '@switchboard/schemas';
import { msgpackCodec } from '@switchboard/schemas';
import { publishTestament } from '../meta/testament.js';
import type { Realm } from '../realm.js';
import type { TestamentRecord } from '../realm-hooks.js';
import type { Endpoint } from '../core/endpoint.js';
import type { NodeLink } from './link.js';
import { deleteAt, liveEntries } from './link.js';
import { CLUSTER_DECODE } from './wire.js';

/** A stand-in for a dead node's session, with the identity its testaments are authorized as. */
export type TestatorFactory = (node: string, session: SessionId, identity: { authid: string; authrole: string }) => Endpoint;

export class ClusterTestaments {
  /** Copies (`key@revision`) of dead nodes' testaments published, whose delete has not gone through yet. */
  readonly #published = new Set<string>();

  constructor(
    readonly node: NodeLink,
    readonly realm: Realm,
    readonly prefix: string,
    readonly testator: TestatorFactory,
  ) {}

  /** A session's testaments changed: the bucket keeps a copy (an empty list drops it). */
  store(session: Endpoint, testaments: readonly TestamentRecord[]): void {
    const key = this.node.names.testamentKey(this.realm.name, this.node.self, session.id);
    const kv = this.node.buckets.testaments;
    const done =
      testaments.length === 0
        ? kv.delete(key)
        : kv.put(
            key,
            msgpackCodec.encode([
              this.node.incarnation,
              session.identity?.authid ?? null,
              session.identity?.authrole ?? null,
              testaments.map((t) => [t.topic, t.args, t.kwargs, t.publishOptions]),
            ]) as Uint8Array,
          );
    done.catch((err: unknown) => this.node.log.warn({ session: session.id, err: (err as Error).message }, 'cluster: testaments not stored in the cluster'));
  }

  /**
   * After NATS comes back (and the node has settled): this node's copies for sessions that are
   * gone (a leave whose delete was lost while NATS was away) are removed, so that no purge
   * publishes them later.
   */
  async resync(): Promise<void> {
    const kv = this.node.buckets.testaments;
    const keys: string[] = [];
    for await (const key of await kv.keys(`${this.prefix}${this.node.self}.>`)) keys.push(key);
    for (const key of keys) {
      const id = Number(key.slice(key.lastIndexOf('.') + 1));
      if (this.realm.sessions.get(id as SessionId)?.live === true) continue;
      await kv.delete(key);
    }
  }

  /** A dead node's testaments, published by the node that purges it (once), as its sessions would have. */
  async publishDead(node: string, inc: number): Promise<void> {
    const kv = this.node.buckets.testaments;
    for (const entry of await liveEntries(kv, `${this.prefix}${node}.>`)) {
      const key = entry.key;
      let value: unknown;
      try {
        value = msgpackCodec.decode(entry.value, CLUSTER_DECODE);
      } catch {
        continue; // not a copy this router wrote: it must not stop the purge (tried again for good)
      }
      const id = Number(key.slice(key.lastIndexOf('.') + 1));
      if (!Array.isArray(value) || value[0] !== inc || !Array.isArray(value[3]) || !Number.isSafeInteger(id)) continue;
      const [, authid, authrole, list] = value as [number, string | null, string | null, [string, Args, Kwargs, Dict][]];
      // Published once: a purge tried again after this copy's delete failed (or one running beside
      // it, the node having flapped) finds it marked, and only deletes it.
      const mark = `${key}@${entry.revision}`;
      if (!this.#published.has(mark)) {
        this.#published.add(mark);
        const stand = this.testator(node, id as SessionId, { authid: authid ?? '', authrole: authrole ?? '' });
        try {
          // Authorized again as its session's would be (meta/testament.ts).
          for (const [topic, args, kwargs, publishOptions] of list) await publishTestament(this.realm, stand, { topic, args, kwargs, publishOptions });
        } catch (err) {
          this.#published.delete(mark);
          throw err;
        }
      }
      await deleteAt(kv, key, entry.revision);
      this.#published.delete(mark);
    }
  }
}
