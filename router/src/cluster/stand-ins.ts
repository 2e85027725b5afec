/**
 * Stand-ins for callees on other nodes, for one realm: every registration in the bucket with a
 * callee on another live node is mirrored into this node's dealer as a registration of a stand-in
 * session (remote-session.ts), so that matching precedence, policies, timeouts, cancel modes and
 * progressive results run on the caller's node, unchanged. A stand-in goes with its last key, or
 * with its node; calls pending on it then end with wamp.error.canceled.
 */
import type { Dict, ErrorMessage, MatchPolicy, RegistrationId, SessionId, Yield } from '@switchboard/schemas';
import type { InvocationPolicy } from '../dealer/dealer.js';
import type { Endpoint } from '../core/endpoint.js';
import type { Outcome } from '../core/outcome.js';

/** One callee of a registration, as the `registrations` bucket holds it. */
export interface CalleeRecord {
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

/** A registration, as the `registrations` bucket holds it (one key per realm, match and URI). */
export interface RegistrationRecord {
  procedure: string;
  match: MatchPolicy;
  policy: InvocationPolicy;
  callees: CalleeRecord[];
}

/** What stand-ins need of their realm's dealer. */
export interface StandInRealm {
  register(
    session: Endpoint,
    procedure: string,
    options: { match: MatchPolicy; invoke: InvocationPolicy; discloseCaller: boolean; forwardTimeout: boolean },
  ): Outcome<{ registration: { id: RegistrationId } }>;
  unregister(session: Endpoint, registration: RegistrationId): unknown;
  /** Removes a stand-in: calls pending on it end now with wamp.error.canceled and `reason`. */
  drop(session: Endpoint, reason: string): void;
  /** A YIELD or ERROR from the stand-in's real session. */
  answer(session: Endpoint, msg: Yield | ErrorMessage): void;
}

/** A stand-in session for callee `session` of node `node`. */
export type StandInFactory = (node: string, session: SessionId, callee: CalleeRecord) => Endpoint;

interface StandIn {
  readonly node: string;
  readonly session: Endpoint;
  /** The bucket keys it is registered under, with the registration each made here. */
  readonly keys: Map<string, RegistrationId>;
}

export class RemoteCallees {
  /** Stand-ins by `node/session`. */
  readonly #standIns = new Map<string, StandIn>();
  /** Every stand-in session this module made (a dealer's callee may be one). */
  readonly #sessions = new WeakSet<Endpoint>();

  constructor(
    readonly self: string,
    readonly realm: StandInRealm,
    readonly create: StandInFactory,
    /** Whether entries of a node's incarnation count. */
    readonly isLive: (node: string, incarnation: number) => boolean,
    readonly warn: (fields: Dict, message: string) => void,
  ) {}

  /** How many stand-ins this node holds (tests, diagnostics). */
  get size(): number {
    return this.#standIns.size;
  }

  /** Whether `session` is a stand-in of this module. */
  has(session: Endpoint): boolean {
    return this.#sessions.has(session);
  }

  /** Makes this node's stand-ins for one bucket key match its record (undefined: deleted) and the live nodes. */
  reconcile(key: string, record: RegistrationRecord | undefined): void {
    const wanted = new Map<string, CalleeRecord>();
    if (record !== undefined) {
      for (const c of record.callees) if (c.node !== this.self && this.isLive(c.node, c.inc)) wanted.set(`${c.node}/${c.session}`, c);
    }
    for (const [id, standIn] of this.#standIns) {
      const registration = standIn.keys.get(key);
      if (registration === undefined || wanted.has(id)) continue;
      standIn.keys.delete(key);
      this.realm.unregister(standIn.session, registration);
      if (standIn.keys.size === 0) this.#drop(id, 'callee unregistered');
    }
    if (record === undefined) return;
    for (const [id, c] of wanted) {
      let standIn = this.#standIns.get(id);
      if (standIn === undefined) {
        standIn = { node: c.node, session: this.create(c.node, c.session as SessionId, c), keys: new Map() };
        this.#sessions.add(standIn.session);
        this.#standIns.set(id, standIn);
      }
      if (standIn.keys.has(key)) continue;
      const outcome = this.realm.register(standIn.session, record.procedure, {
        match: record.match,
        invoke: record.policy,
        discloseCaller: c.disclose,
        forwardTimeout: c.forward,
      });
      if (outcome.ok) standIn.keys.set(key, outcome.registration.id);
      else this.warn({ procedure: record.procedure, node: c.node, error: outcome.error }, 'cluster: remote registration conflicts with one on this node');
    }
  }

  /**
   * A session moved to this node (session resumption): its stand-ins for the node it left go now,
   * before the bucket says so, so that its registrations can be made here at once.
   */
  moved(session: SessionId): void {
    for (const [id, standIn] of this.#standIns) if (standIn.session.id === session) this.#drop(id, 'callee moved to another node');
  }

  /** A node is gone: its stand-ins go first, and the calls pending on them end. */
  nodeGone(node: string): void {
    for (const [id, standIn] of this.#standIns) if (standIn.node === node) this.#drop(id, 'callee node is gone');
  }

  /** A YIELD or ERROR from a callee on node `from`, for the stand-in of its session. */
  answer(from: string, session: SessionId, msg: Yield | ErrorMessage): void {
    const standIn = this.#standIns.get(`${from}/${session}`);
    if (standIn !== undefined) this.realm.answer(standIn.session, msg);
  }

  /** Every stand-in goes (the router stops). */
  stop(): void {
    for (const id of [...this.#standIns.keys()]) this.#drop(id, 'router shutting down');
  }

  #drop(id: string, reason: string): void {
    const standIn = this.#standIns.get(id);
    if (standIn === undefined) return;
    this.#standIns.delete(id);
    this.realm.drop(standIn.session, reason);
  }
}
