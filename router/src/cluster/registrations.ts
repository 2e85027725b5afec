/**
 * Registration claims, for one realm. The `registrations` bucket holds one key per (realm, match,
 * URI): a REGISTER claims it with a compare-and-set (create for a new key, update at the read
 * revision otherwise, read again after a lost race), so that a `single` registration is unique
 * cluster-wide and a shared one keeps one policy. A callee leaving releases its claim; the node
 * that purges a dead node removes that node's callees. Every change of the bucket is mirrored
 * into stand-ins (stand-ins.ts).
 *
 * After a partition (this node cut off from NATS while the others were not), the bucket and this
 * node's dealer disagree: the others took this node for dead and removed its callees, a callee
 * here left without its release reaching the bucket, or a `single` registration was made on both
 * sides. The bucket is the cluster's word: once the node has settled (it has heard the live
 * nodes again), its registrations missing from the bucket are claimed again — a claim refused
 * there is revoked here, with the refusal's URI as the reason — and its callees in the bucket
 * that no longer exist here are removed. A change of the bucket that drops a callee of this node
 * (a purge racing the heal, a node that took this one for dead) is answered the same way.
 */
import type { KvEntry } from '@nats-io/kv';
import type { MatchPolicy, SessionId } from '@switchboard/schemas';
import { ErrorUri, isMatchPolicy } from '@switchboard/schemas';
import { refusal } from '../core/outcome.js';
import type { Refusal } from '../core/outcome.js';
import type { InvocationPolicy, Registration } from '../dealer/dealer.js';
import { isInvocationPolicy } from '../dealer/dealer.js';
import type { ClaimOptions } from '../realm-hooks.js';
import type { Endpoint } from '../core/endpoint.js';
import type { NodeLink } from './link.js';
import { isConflict, json, liveEntries, parseRecord } from './link.js';
import { token } from './names.js';
import type { CalleeRecord, RegistrationRecord, RemoteCallees } from './stand-ins.js';

function isRegistrationRecord(r: unknown): r is RegistrationRecord {
  const v = r as RegistrationRecord | undefined;
  return (
    typeof v === 'object' && v !== null && typeof v.procedure === 'string' && isMatchPolicy(v.match) && isInvocationPolicy(v.policy) && Array.isArray(v.callees)
  );
}

/** What claims need of their realm. */
export interface ClaimRealm {
  readonly name: string;
  registrations(): Iterable<Registration<Endpoint>>;
  /** The registration of a procedure under a match policy here (callees: this node's sessions and stand-ins). */
  registration(procedure: string, match: MatchPolicy): Registration<Endpoint> | undefined;
  /** Takes a registration back from a session whose claim was lost (while NATS was away). */
  revoke(session: Endpoint, registration: Registration<Endpoint>, reason: string): void;
}

export class RegistrationClaims {
  /** The registrations bucket, as last seen. */
  readonly #records = new Map<string, RegistrationRecord>();
  /** `key/session` while a REGISTER's claim is in flight. */
  readonly #claiming = new Set<string>();

  constructor(
    readonly node: NodeLink,
    readonly realm: ClaimRealm,
    readonly standIns: RemoteCallees,
  ) {}

  #key(match: MatchPolicy, procedure: string): string {
    return this.node.names.registrationKey(this.realm.name, match, procedure);
  }

  #callee(session: Endpoint, options: ClaimOptions): CalleeRecord {
    const callee = session.roles['callee'];
    const features =
      typeof callee === 'object' && callee !== null && typeof (callee as Record<string, unknown>)['features'] === 'object'
        ? ((callee as Record<string, unknown>)['features'] as Record<string, unknown>)
        : {};
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

  /** Claims a registration for the whole cluster before the realm makes it here. */
  async claim(session: Endpoint, procedure: string, match: MatchPolicy, invoke: InvocationPolicy, options: ClaimOptions): Promise<Refusal | undefined> {
    const key = this.#key(match, procedure);
    const mark = `${key}/${session.id}`;
    if (!this.node.settled()) {
      // Cut off from NATS: the registration holds here at once (a bucket operation would wait for
      // its timeout), and is claimed by the resync once the node has settled after the reconnect.
      // Just reconnected: the node takes the others for dead until it hears them; the same resync
      // claims it then, rather than a claim now that would overwrite theirs.
      this.node.log.warn({ procedure }, 'cluster: registration not claimed in the cluster yet (NATS unreachable or just back); claimed on resync');
      return undefined;
    }
    this.#claiming.add(mark);
    try {
      return await this.#claim(key, procedure, match, invoke, this.#callee(session, options));
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
  async #modify<T>(
    key: string,
    change: (record: RegistrationRecord | undefined) => { put: RegistrationRecord } | { remove: true } | { done: T },
    contended: T,
  ): Promise<T | undefined> {
    const kv = this.node.buckets.registrations;
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

  #claim(key: string, procedure: string, match: MatchPolicy, invoke: InvocationPolicy, me: CalleeRecord): Promise<Refusal | undefined> {
    return this.#modify<Refusal>(
      key,
      (record) => {
        // Session IDs are unique in the cluster: the same session on another node is this one before
        // it moved here (session resumption), whose release may still be on its way.
        const live = record?.callees.filter((c) => this.node.isLive(c.node, c.inc) && c.session !== me.session) ?? [];
        if (record === undefined || live.length === 0) return { put: { procedure, match, policy: invoke, callees: [me] } };
        if (record.policy !== invoke)
          return {
            done: refusal(ErrorUri.ProcedureExistsWithDifferentInvocationPolicy, `'${procedure}' is registered with invocation policy '${record.policy}'`),
          };
        if (invoke === 'single') return { done: refusal(ErrorUri.ProcedureAlreadyExists, `'${procedure}' is already registered`) };
        return { put: { ...record, callees: [...live, me] } };
      },
      refusal(ErrorUri.Unavailable, `'${procedure}' could not be claimed in the cluster (too much contention)`),
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

  /** A callee of this node unregistered (or left): its claim goes. */
  async release(registration: Registration<Endpoint>, session: SessionId): Promise<void> {
    const key = this.#key(registration.match, registration.procedure);
    try {
      await this.#removeCallees(key, (c) => c.node === this.node.self && c.session === session);
    } catch (err) {
      this.node.log.warn({ key, err: (err as Error).message }, 'cluster: registration not released (removed when this node is taken for dead)');
    }
  }

  onEntry(entry: KvEntry): void {
    const before = this.#records.get(entry.key);
    if (entry.operation !== 'PUT') this.#records.delete(entry.key);
    else {
      const record = parseRecord<RegistrationRecord>(entry);
      if (!isRegistrationRecord(record)) return;
      for (const c of record.callees) this.node.presume(c.node, c.inc);
      this.#records.set(entry.key, record);
    }
    const record = this.#records.get(entry.key);
    this.standIns.reconcile(entry.key, record);
    // A callee of this node dropped from the key (a purge, a node that took this one for dead): claimed again.
    if (before?.callees.some((c) => c.node === this.node.self) === true && this.node.settled()) {
      const registration = this.realm.registration(before.procedure, before.match);
      if (registration !== undefined) void this.#reclaim(registration).catch((err: unknown) => this.#unsettled(registration.procedure, err));
    }
  }

  #unsettled(procedure: string, err: unknown): void {
    this.node.log.warn({ procedure, err: (err as Error).message }, 'cluster: registration not reconciled with the cluster (retried on resync)');
  }

  /** A node came or went: every key's stand-ins follow. */
  reconcileAll(): void {
    for (const [key, record] of this.#records) this.standIns.reconcile(key, record);
  }

  /** Removes a dead node's callees from the bucket, as the bucket holds them now (see SessionRegistry.purge). */
  async purge(dead: (c: { node: string; inc: number }) => boolean): Promise<number> {
    let removed = 0;
    for (const entry of await liveEntries(this.node.buckets.registrations, `${token(this.realm.name)}.>`)) {
      const record = parseRecord<RegistrationRecord>(entry);
      if (isRegistrationRecord(record) && record.callees.some(dead)) {
        await this.#removeCallees(entry.key, dead);
        removed++;
      }
    }
    return removed;
  }

  /**
   * After NATS comes back (and the node has settled): this node's callees that no longer exist
   * here leave the bucket, and its registrations are claimed again where missing; one taken
   * elsewhere meanwhile is revoked here.
   */
  async resync(): Promise<void> {
    for (const [key, record] of [...this.#records]) {
      if (record.callees.some((c) => this.#stale(key, record, c))) {
        await this.#removeCallees(key, (c) => this.#stale(key, record, c));
      }
    }
    for (const registration of [...this.realm.registrations()]) await this.#reclaim(registration);
  }

  /** A callee of this node in the bucket that is not (or no longer) one here: a leave whose release was lost, an earlier incarnation. */
  #stale(key: string, record: RegistrationRecord, c: CalleeRecord): boolean {
    if (c.node !== this.node.self) return false;
    if (c.inc !== this.node.incarnation) return true;
    if (this.#claiming.has(`${key}/${c.session}`)) return false;
    const registration = this.realm.registration(record.procedure, record.match);
    if (registration === undefined) return true;
    for (const callee of registration.callees) if (callee.session.id === c.session && !this.standIns.has(callee.session)) return false;
    return true;
  }

  /** Claims again, one by one, the callees of a registration here that the bucket does not hold; a refused claim is revoked here. */
  async #reclaim(registration: Registration<Endpoint>): Promise<void> {
    const key = this.#key(registration.match, registration.procedure);
    for (const callee of [...registration.callees]) {
      const session = callee.session;
      if (this.standIns.has(session) || !registration.callees.includes(callee)) continue;
      const record = this.#records.get(key);
      if (record?.callees.some((c) => c.node === this.node.self && c.session === session.id && c.inc === this.node.incarnation) === true) continue;
      const mark = `${key}/${session.id}`;
      if (this.#claiming.has(mark)) continue;
      this.#claiming.add(mark);
      try {
        const refused = await this.#claim(
          key,
          registration.procedure,
          registration.match,
          registration.invoke,
          this.#callee(session, { discloseCaller: callee.discloseCaller, forwardTimeout: callee.forwardTimeout }),
        );
        if (refused !== undefined && registration.callees.includes(callee)) {
          this.node.log.warn(
            { procedure: registration.procedure, session: session.id, error: refused.error },
            'cluster: registration taken elsewhere while this node was cut off from NATS; revoked here',
          );
          this.realm.revoke(session, registration, refused.error);
          // The other node's callee, kept out of this dealer by the registration revoked, comes in now.
          this.standIns.reconcile(key, this.#records.get(key));
        } else if (refused === undefined && !registration.callees.includes(callee)) {
          // It left while its claim was in flight: its release may have come first.
          await this.#removeCallees(key, (c) => c.node === this.node.self && c.session === session.id);
        }
      } finally {
        this.#claiming.delete(mark);
      }
    }
  }
}
