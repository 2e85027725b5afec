/**
 * The cluster's session registry, for one realm: the `sessions` bucket holds every listed
 * session's meta details under its ID, so that wamp.session.count, list, get and kill answer for
 * the whole cluster, and a new session's ID is not one in use on another node.
 */
import type { KvEntry } from '@nats-io/kv';
import type { Dict, SessionId } from '@switchboard/schemas';
import { isListed, sessionDetails } from '../core/sessions.js';
import type { Endpoint } from '../core/endpoint.js';
import type { NodeLink } from './link.js';
import { json, parseRecord, purgeRecords } from './link.js';
import { encodeCluster } from './wire.js';

interface SessionRecord {
  node: string;
  inc: number;
  details: Dict;
}

/** A record as last seen, with the bucket revision it was read at. */
interface Seen {
  record: SessionRecord;
  revision: number;
}

/** What the registry needs of its realm. */
export interface SessionRealm {
  readonly name: string;
  readonly sessions: ReadonlyMap<SessionId, Endpoint>;
}

export class SessionRegistry {
  readonly #prefix: string;
  /** The sessions bucket, as last seen, by session ID. */
  readonly #sessions = new Map<number, Seen>();

  constructor(
    readonly node: NodeLink,
    readonly realm: SessionRealm,
    prefix: string,
  ) {
    this.#prefix = prefix;
  }

  /** A session joined here. */
  joined(session: Endpoint): void {
    if (isListed(session)) this.#put(session);
  }

  /** A session left here. */
  left(session: Endpoint): void {
    if (!isListed(session)) return;
    this.node.buckets.sessions.delete(this.node.names.sessionKey(this.realm.name, session.id)).catch(() => undefined);
  }

  #put(session: Endpoint): void {
    const record: SessionRecord = { node: this.node.self, inc: this.node.incarnation, details: sessionDetails(session) };
    this.node.buckets.sessions.put(this.node.names.sessionKey(this.realm.name, session.id), json(record)).catch((err: unknown) => {
      this.node.log.warn({ session: session.id, err: (err as Error).message }, 'cluster: session not registered (resynchronised when NATS is back)');
    });
  }

  onEntry(entry: KvEntry): void {
    const id = Number(entry.key.slice(this.#prefix.length));
    if (!Number.isSafeInteger(id)) return;
    if (entry.operation !== 'PUT') {
      this.#sessions.delete(id);
      // Removed by a node that took this one for dead: still here, so back in.
      const local = this.realm.sessions.get(id as SessionId);
      if (local?.live && isListed(local)) this.#put(local);
      return;
    }
    const record = parseRecord<SessionRecord>(entry);
    if (record === undefined || typeof record.node !== 'string') return;
    this.node.presume(record.node, record.inc);
    this.#sessions.set(id, { record, revision: entry.revision });
  }

  has(id: number): boolean {
    return this.#sessions.has(id);
  }

  /** Sessions of the realm on other live nodes (meta API). */
  remoteSessions(): Dict[] {
    const out: Dict[] = [];
    for (const { record } of this.#sessions.values()) if (this.#remote(record)) out.push(record.details);
    return out;
  }

  remoteSession(id: number): Dict | undefined {
    const record = this.#sessions.get(id)?.record;
    return record !== undefined && this.#remote(record) ? record.details : undefined;
  }

  /** wamp.session.kill of a session on another node; false if there is none. */
  killRemote(id: number, reason: string, message: string, silent: boolean): boolean {
    const record = this.#sessions.get(id)?.record;
    if (record === undefined || !this.#remote(record)) return false;
    return this.node.sendToNode(record.node, encodeCluster({ kind: 'k', realm: this.realm.name, session: id as SessionId, reason, message, silent }));
  }

  #remote(record: SessionRecord): boolean {
    return record.node !== this.node.self && this.node.isLive(record.node, record.inc);
  }

  /**
   * After NATS comes back (and the node has settled): this node's sessions are put back, and its
   * records of sessions that are gone — one that left while NATS was away, whose delete was lost;
   * an earlier incarnation's — are removed (at the revision seen: a session that moved to another
   * node meanwhile has a newer record, left alone). No ghost outlives a partition.
   */
  resync(): void {
    for (const session of this.realm.sessions.values()) if (session.live && isListed(session)) this.#put(session);
    for (const [id, { record, revision }] of this.#sessions) {
      if (record.node !== this.node.self) continue;
      const local = this.realm.sessions.get(id as SessionId);
      if (record.inc === this.node.incarnation && local?.live === true && isListed(local)) continue;
      this.node.buckets.sessions.delete(this.node.names.sessionKey(this.realm.name, id), { previousSeq: revision }).catch(() => undefined);
    }
  }

  /**
   * Removes a dead node's sessions from the bucket, as the bucket holds them now (liveEntries): not
   * as this node's watch last delivered them. A record rewritten meanwhile (the session resumed
   * elsewhere) stays.
   */
  purge(dead: (record: { node: string; inc: number }) => boolean): Promise<number> {
    return purgeRecords(this.node.buckets.sessions, `${this.#prefix}>`, dead);
  }
}
