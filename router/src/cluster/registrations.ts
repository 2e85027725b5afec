/**
 * Registration claims, for one realm. The `registrations` bucket holds one key per (realm, match,
 * URI): a REGISTER claims it with a compare-and-set (create for a new key, update at the read
 * revision otherwise, read again after a lost race), so that a `single` registration is unique
 * cluster-wide and a shared one keeps one policy. A callee leaving releases its claim; the node
 * that purges a dead node removes that node's callees. Every change of the bucket is mirrored
 * into stand-ins (stand-ins.ts).
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
import { isConflict, json, parseRecord } from './link.js';
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
    if (entry.operation !== 'PUT') this.#records.delete(entry.key);
    else {
      const record = parseRecord<RegistrationRecord>(entry);
      if (!isRegistrationRecord(record)) return;
      for (const c of record.callees) this.node.presume(c.node, c.inc);
      this.#records.set(entry.key, record);
    }
    this.standIns.reconcile(entry.key, this.#records.get(entry.key));
  }

  /** A node came or went: every key's stand-ins follow. */
  reconcileAll(): void {
    for (const [key, record] of this.#records) this.standIns.reconcile(key, record);
  }

  /** Removes a dead node's callees from the bucket. */
  async purge(dead: (c: { node: string; inc: number }) => boolean): Promise<void> {
    for (const [key, record] of [...this.#records]) if (record.callees.some(dead)) await this.#removeCallees(key, dead);
  }

  /** After NATS comes back: this node's registrations are claimed again where missing; one taken elsewhere meanwhile is revoked here. */
  async resync(): Promise<void> {
    for (const registration of [...this.realm.registrations()]) {
      for (const callee of [...registration.callees]) {
        const session = callee.session;
        if (this.standIns.has(session)) continue;
        const key = this.#key(registration.match, registration.procedure);
        const record = this.#records.get(key);
        if (record?.callees.some((c) => c.node === this.node.self && c.session === session.id && c.inc === this.node.incarnation) === true) continue;
        if (this.#claiming.has(`${key}/${session.id}`)) continue;
        const refused = await this.#claim(
          key,
          registration.procedure,
          registration.match,
          registration.invoke,
          this.#callee(session, { discloseCaller: callee.discloseCaller, forwardTimeout: callee.forwardTimeout }),
        );
        if (refused !== undefined) {
          this.node.log.warn(
            { procedure: registration.procedure, session: session.id, error: refused.error },
            'cluster: registration taken elsewhere while NATS was away; revoked here',
          );
          this.realm.revoke(session, registration, refused.error);
        }
      }
    }
  }
}
