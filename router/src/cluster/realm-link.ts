/**
 * One realm of a cluster node: the cluster's part of the realm, assembled from one module per
 * concern and plugged into the realm through its hooks (realm-hooks.ts; plugin.ts installs it).
 *
 * - events.ts: publications forwarded on topic subjects, interest per subscription, retained events.
 * - session-registry.ts: every node's sessions (wamp.session.* across the cluster, kill).
 * - subscription-registry.ts: every node's subscriptions (wamp.subscription.* across the cluster).
 * - registrations.ts: cluster-wide registration claims (compare-and-set on the bucket).
 * - stand-ins.ts: callees of other nodes as stand-in sessions in this node's dealer.
 * - relays.ts: invocations relayed to this node's callees, and their answers.
 * - testaments.ts: testaments kept in the cluster, published for a dead node's sessions.
 *
 * This file only wires them: the realm's hooks, the buckets they follow, the direct messages
 * from other nodes, and nodes coming and going.
 */
import type { ErrorMessage, SessionId, Yield } from '@switchboard/schemas';
import { MessageCode, parseMessage } from '@switchboard/schemas';
import type { RouterCore } from '../core.js';
import type { Realm } from '../realm.js';
import type { RealmHooks } from '../realm-hooks.js';
import type { Endpoint } from '../core/endpoint.js';
import { EventForwarding } from './events.js';
import { followBucket } from './link.js';
import type { NodeLink, Watch } from './link.js';
import { token } from './names.js';
import { RegistrationClaims } from './registrations.js';
import { InvocationRelays } from './relays.js';
import { RemoteSession } from './remote-session.js';
import { SessionRegistry } from './session-registry.js';
import { RemoteCallees } from './stand-ins.js';
import type { CalleeRecord } from './stand-ins.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import { ClusterTestaments } from './testaments.js';
import { encodeCluster } from './wire.js';
import type { ClusterMessage } from './wire.js';

/** How often a link tries to follow its buckets anew after a NATS server change (one second apart). */
const REFOLLOW_TRIES = 30;

export class RealmLink {
  /** This realm's keys in every bucket start with this. */
  readonly #prefix: string;
  readonly #watches: Watch[] = [];
  #stopped = false;
  readonly events: EventForwarding;
  readonly sessions: SessionRegistry;
  readonly subscriptions: SubscriptionRegistry;
  readonly standIns: RemoteCallees;
  readonly claims: RegistrationClaims;
  readonly relays: InvocationRelays;
  readonly testaments: ClusterTestaments;
  /** What the realm tells the cluster, and asks it. */
  readonly hooks: RealmHooks;

  constructor(
    readonly node: NodeLink,
    readonly realm: Realm,
    readonly core: RouterCore,
  ) {
    this.#prefix = `${token(realm.name)}.`;
    this.events = new EventForwarding(node, realm.pubsub);
    this.sessions = new SessionRegistry(node, realm, this.#prefix);
    this.subscriptions = new SubscriptionRegistry(node, realm);
    this.standIns = new RemoteCallees(
      node.self,
      {
        register: (session, procedure, options) => realm.dealer.register(session, procedure, options),
        unregister: (session, registration) => realm.dealer.unregister(session, registration),
        drop: (session, reason) => realm.rpc.dropRemoteCallee(session, reason),
        answer: (session, msg) => realm.rpc.onCalleeAnswer(session, msg),
      },
      (from, id, callee) => this.#standIn(from, id, callee),
      (n, inc) => node.isLive(n, inc),
      (fields, message) => node.log.warn(fields, message),
    );
    this.claims = new RegistrationClaims(
      node,
      {
        name: realm.name,
        registrations: () => realm.dealer.registrations(),
        registration: (procedure, match) => realm.dealer.lookup(procedure, match),
        revoke: (session, registration, reason) => void realm.rpc.revokeRegistration(session, registration, reason),
      },
      this.standIns,
    );
    this.relays = new InvocationRelays(
      {
        sessions: realm.sessions,
        registrationOf: (procedure, match) => realm.dealer.lookup(procedure, match),
        reserveInvocationId: (session) => realm.dealer.reserveInvocationId(session),
      },
      (to, session, wire) => node.sendToNode(to, encodeCluster({ kind: 'a', from: node.self, realm: realm.name, session, wire })),
      (fields, message) => node.log.warn(fields, message),
    );
    this.testaments = new ClusterTestaments(
      node,
      realm,
      this.#prefix,
      (from, id, identity) => new RemoteSession(core, node, from, realm, id, { ...identity, authmethod: '', authprovider: '' }, {}),
    );
    const { events, sessions, subscriptions, standIns, claims, relays, testaments } = this;
    this.hooks = {
      // A detached callee's relayed invocations end (its stand-ins elsewhere still look attached:
      // an INVOCATION relayed to it later is refused with session_unattached). [ap_session_resumption]
      onDetach: (session, closing) => {
        if (!closing) relays.detached(session);
      },
      // A session resumed here may have come from another node (resumption.ts adopt): its record
      // in the sessions bucket, deleted there at the move, is written again (a resume on this
      // node rewrites it with the new transport's details). [ap_session_resumption]
      onAttach: (session, resumed) => {
        if (resumed) sessions.joined(session);
      },
      onJoin: (session) => sessions.joined(session),
      onLeave: (session) => {
        // Invocations relayed to it end now: the callers' nodes answer wamp.error.canceled.
        relays.left(session);
        sessions.left(session);
      },
      onSubscriptionCreated: (_session, subscription) => events.listen(subscription),
      onSubscriptionDeleted: (_session, subscription) => {
        events.unlisten(subscription);
        subscriptions.touch(subscription);
      },
      onSubscribe: (_session, subscription) => subscriptions.touch(subscription),
      onUnsubscribe: (_session, subscription) => subscriptions.touch(subscription),
      onUnregister: (session, registration) => {
        if (!standIns.has(session)) void claims.release(registration, session.id);
      },
      onPublished: (plan, details, args, kwargs, origin) => {
        // What came from another node is never forwarded again.
        if (origin.kind === 'remote') return undefined;
        return events.forward(plan, details, args, kwargs, origin.kind === 'session' && origin.retain, origin.kind === 'session' && origin.acknowledged);
      },
      // A subscriber elsewhere is known to NATS, not to this node.
      wantsEvent: () => true,
      claimRegistration: (session, procedure, match, invoke, options) => {
        // Only a session moved here registers while detached (resumption.ts adopt restores its
        // registrations before the resume attaches it). Session IDs are unique in the cluster:
        // stand-ins with its ID are the session before it moved; they go before it registers
        // again, whatever the bucket still says of the node it left.
        if (!session.attached) standIns.moved(session.id);
        return claims.claim(session, procedure, match, invoke, options);
      },
      takeAnswer: (session, msg) => relays.takeAnswer(session, msg),
      onTestaments: (session, list) => testaments.store(session, list),
      remoteSessions: () => sessions.remoteSessions(),
      remoteSession: (id) => sessions.remoteSession(id),
      remoteSubscriptions: () => subscriptions.remoteSubscriptions(),
      killRemote: (id, reason, message, silent) => sessions.killRemote(id, reason, message, silent),
    };
  }

  /** The stand-in of a callee on node `from`. */
  #standIn(from: string, id: SessionId, c: CalleeRecord): Endpoint {
    return new RemoteSession(
      this.core,
      this.node,
      from,
      this.realm,
      id,
      { authid: c.authid, authrole: c.authrole, authmethod: c.authmethod, authprovider: c.authprovider },
      c.features,
    );
  }

  /** Loads the buckets' current content and keeps following them. */
  async load(): Promise<void> {
    const { buckets, log } = this.node;
    const watches = await Promise.all([
      followBucket(buckets.registrations, this.#prefix, (e) => this.claims.onEntry(e), log),
      followBucket(buckets.sessions, this.#prefix, (e) => this.sessions.onEntry(e), log),
      followBucket(buckets.retained, this.#prefix, (e) => this.events.onRetainedEntry(e), log),
      followBucket(buckets.subscriptions, this.#prefix, (e) => this.subscriptions.onEntry(e), log),
    ]);
    this.#watches.push(...watches);
  }

  /**
   * After this node moved to another NATS server: the buckets are followed anew. A watch is a
   * JetStream consumer on one server; when that server died, the client's watch may stay silent
   * (measured: registrations made elsewhere never became callable here). The new watches deliver
   * every key's current value (delete markers included) before the old ones stop; applying a
   * value twice is harmless. While JetStream cannot answer yet, the old watches stay and this
   * tries again, at most REFOLLOW_TRIES times.
   */
  refollow(attempt = 1): void {
    if (this.#stopped) return;
    void (async () => {
      const old = this.#watches.splice(0);
      try {
        await this.load();
      } catch (err) {
        this.#watches.push(...old);
        if (attempt >= REFOLLOW_TRIES) this.node.log.warn({ err: (err as Error).message }, 'cluster: buckets not followed anew after a NATS server change');
        else setTimeout(() => this.refollow(attempt + 1), 1000).unref();
        return;
      }
      for (const watch of old) watch.stop();
      // Stopped meanwhile: the new watches go too.
      if (this.#stopped) for (const watch of this.#watches.splice(0)) watch.stop();
    })();
  }

  /** Whether a session with this ID is on some node of the cluster (a new one must not take it). */
  hasSession(id: number): boolean {
    return this.sessions.has(id);
  }

  /** A message from another node for this realm: a relayed INVOCATION/INTERRUPT/ERROR, an answer, a kill. */
  onDirect(m: ClusterMessage): void {
    if (m.kind === 'i') this.relays.toCallee(m.from, m.session, m.match, m.procedure, m.wire);
    else if (m.kind === 'a') {
      const msg = parseMessage(m.wire);
      if (msg.code === MessageCode.Yield || (msg.code === MessageCode.Error && msg.requestType === MessageCode.Invocation))
        this.standIns.answer(m.from, m.session, msg as Yield | ErrorMessage);
    } else if (m.kind === 'k') {
      this.realm.sessions.get(m.session)?.goodbye(m.reason, m.message, () => undefined, { silent: m.silent });
    }
  }

  /** A node came up or went down (for this node): stand-ins and relays follow. */
  nodeChanged(node: string): void {
    const alive = this.node.isAlive(node);
    // A dead node's stand-ins go first, and the calls pending on them end: wamp.error.canceled.
    if (!alive) this.standIns.nodeGone(node);
    this.claims.reconcileAll();
    if (!alive) this.relays.nodeGone(node);
  }

  /** Removes a dead node's entries from the buckets (done by one live node). */
  async purgeNode(node: string, inc: number): Promise<boolean> {
    const dead = (c: { node: string; inc: number }): boolean => c.node === node && c.inc === inc;
    try {
      const registrations = await this.claims.purge(dead);
      const sessions = await this.sessions.purge(dead);
      const subscriptions = await this.subscriptions.purge(dead);
      await this.testaments.publishDead(node, inc);
      this.node.log.info(
        { node: this.node.self, dead: node, incarnation: inc, realm: this.realm.name, sessions, subscriptions, registrations },
        "cluster: removed a dead node's sessions and registrations",
      );
      return true;
    } catch (err) {
      this.node.log.warn({ dead: node, err: (err as Error).message }, 'cluster: purge of a dead node incomplete (tried again)');
      return false;
    }
  }

  /**
   * After NATS comes back, once the node has heard the live nodes again (node.ts): this node's
   * sessions, subscriptions and registrations are put back where missing, and its entries for
   * what is gone meanwhile are removed; a registration taken elsewhere meanwhile is revoked here.
   */
  resync(): void {
    void (async () => {
      try {
        this.sessions.resync();
        this.subscriptions.resync();
        await this.claims.resync();
        await this.testaments.resync();
      } catch (err) {
        this.node.log.warn({ err: (err as Error).message }, 'cluster: resync incomplete');
      }
    })();
  }

  stop(): void {
    this.#stopped = true;
    this.events.stop();
    for (const watch of this.#watches) watch.stop();
    this.#watches.length = 0;
    this.standIns.stop();
  }
}
