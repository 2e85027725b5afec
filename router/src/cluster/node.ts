/**
 * One router process as a node of a cluster over NATS. Loaded only when the config has a
 * `cluster` block (router.ts imports it dynamically), so a single node never loads NATS.
 *
 * - Liveness: every node publishes a heartbeat on `<prefix>.hb`; a node not heard from for
 *   `nodeTimeoutMs` is dead for this node (its stand-ins go, calls pending on it fail), and the
 *   first live node by name removes its entries from the KV buckets.
 * - Per realm, a RealmLink (realm-link.ts), attached when the cluster plugin (plugin.ts) is
 *   installed in the realm, carries publications, registrations, relayed invocations and the
 *   session and subscription registries.
 * - Direct messages to a node go to `<prefix>.n.<node>`.
 * - Session resumption across nodes: one ClusterResume (resume.ts) per node, over the
 *   `resumable` bucket (a resume names a session, not always a realm).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { NATS, importOptional } from '../optional.js';
import type { ClusterConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import type { ClusterBuckets, NodeLink } from './link.js';
import { ClusterNames } from './names.js';
import type { RealmLink } from './realm-link.js';
import type { RemoteLink } from './remote-session.js';
import { ClusterResume } from './resume.js';
import { decodeCluster, encodeCluster } from './wire.js';
import type { ClusterMessage } from './wire.js';

export type { ClusterBuckets } from './link.js';

// NATS is an optional dependency (optional.ts): without it a single node runs, and a cluster
// config fails at start naming the packages to install.
const { connect } = await importOptional(NATS, () => import('@nats-io/transport-node'));
const { Kvm } = await importOptional(NATS, () => import('@nats-io/kv'));
const { jetstream, jetstreamManager } = await importOptional(NATS, () => import('@nats-io/jetstream'));

interface Peer {
  incarnation: number;
  lastSeen: number;
  alive: boolean;
}

export class ClusterNode implements RemoteLink, NodeLink {
  readonly self: string;
  readonly incarnation = Date.now();
  readonly names: ClusterNames;
  readonly #links = new Map<string, RealmLink>();
  readonly #peers = new Map<string, Peer>();
  readonly #subscriptions: Subscription[] = [];
  #heartbeat: NodeJS.Timeout | undefined;
  #seq = Date.now() * 1000;
  /** Subjects and payloads, alternating, queued in this turn. */
  #outbox: (string | Uint8Array)[] = [];
  #flushScheduled = false;
  /** Since when the NATS connection has been up (0 while it is down). */
  #connectedSince = Date.now();
  #stopped = false;
  /** The resync after a reconnect, once the node has settled (see `settled`). */
  #resync: NodeJS.Timeout | undefined;
  /**
   * When this node's view of the others can be trusted again: two heartbeats after a reconnect.
   * 0 at start: a starting node knows the others from the buckets (`presume`).
   */
  #settledAt = 0;
  /** This node's ResumeSource (the cluster plugin hands it to the core). */
  readonly resume: ClusterResume;

  private constructor(
    readonly config: ClusterConfig,
    readonly nc: NatsConnection,
    readonly buckets: ClusterBuckets,
    readonly log: Logger,
  ) {
    this.self = config.node;
    this.names = new ClusterNames(config.prefix);
    // A holding node silent for a node timeout is dead for this one: the resume is refused then.
    this.resume = new ClusterResume(this, { handOverTimeoutMs: config.nodeTimeoutMs });
  }

  /**
   * Connects, opens the buckets and starts the heartbeat; realms are attached afterwards
   * (`attach`), each loading what the cluster holds for it.
   */
  static async connect(config: ClusterConfig, log: Logger): Promise<ClusterNode> {
    const nc = await connect({
      servers: config.nats.servers,
      name: config.nats.name,
      ...(config.nats.user !== undefined && { user: config.nats.user }),
      ...(config.nats.password !== undefined && { pass: config.nats.password }),
      ...(config.nats.token !== undefined && { token: config.nats.token }),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: false,
      noEcho: true,
    });
    const names = new ClusterNames(config.prefix);
    const kvm = new Kvm(nc);
    const open = (kind: 'registrations' | 'sessions' | 'retained' | 'subscriptions' | 'testaments' | 'resumable', storage: 'memory' | 'file'): Promise<KV> =>
      kvm.create(names.bucket(kind), { history: 1, storage });
    const buckets: ClusterBuckets = {
      registrations: await open('registrations', 'memory'),
      sessions: await open('sessions', 'memory'),
      retained: await open('retained', 'file'),
      subscriptions: await open('subscriptions', 'memory'),
      testaments: await open('testaments', 'memory'),
      resumable: await open('resumable', 'memory'),
    };
    const node = new ClusterNode(config, nc, buckets, log);
    await node.#listen();
    log.info({ node: node.self, nats: nc.getServer() }, 'cluster node joined');
    return node;
  }

  #jetstream: Promise<{ client: JetStreamClient; manager: JetStreamManager }> | undefined;

  /**
   * JetStream on this node's NATS connection, for the shared event store (history/jetstream.ts),
   * which uses the connection and never closes it.
   */
  jetstream(): Promise<{ client: JetStreamClient; manager: JetStreamManager }> {
    this.#jetstream ??= jetstreamManager(this.nc).then((manager) => ({ client: jetstream(this.nc), manager }));
    return this.#jetstream;
  }

  /** Adds a realm's link: it loads what the cluster holds for the realm and follows it. */
  async attach(link: RealmLink): Promise<void> {
    if (this.#links.has(link.realm.name)) throw new Error(`cluster: realm '${link.realm.name}' is already attached`);
    this.#links.set(link.realm.name, link);
    await link.load();
  }

  /** Removes a realm's link (its teardown). */
  detach(link: RealmLink): void {
    if (this.#links.get(link.realm.name) !== link) return;
    this.#links.delete(link.realm.name);
    link.stop();
  }

  async #listen(): Promise<void> {
    const direct = this.nc.subscribe(this.names.node(this.self), {
      callback: (err, msg) => {
        if (err === null) this.#onMessage(msg.data);
      },
    });
    const beats = this.nc.subscribe(this.names.heartbeats, {
      callback: (err, msg) => {
        if (err === null) this.#onMessage(msg.data);
      },
    });
    this.#subscriptions.push(direct, beats);
    this.#beat();
    this.#heartbeat = setInterval(() => {
      this.#beat();
      this.#sweep();
    }, this.config.heartbeatMs);
    this.#heartbeat.unref();
    this.#watchStatus().catch((err: unknown) => this.log.error({ err }, 'cluster: NATS status watch ended'));
    await this.nc.flush();
  }

  #beat(): void {
    if (this.#stopped || this.nc.isClosed()) return;
    this.nc.publish(this.names.heartbeats, encodeCluster({ kind: 'h', node: this.self, incarnation: this.incarnation }));
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.#connectedSince = 0;
        clearTimeout(this.#resync);
        this.log.warn({ node: this.self }, 'cluster: NATS connection lost; serving local sessions only');
      } else if (status.type === 'reconnect') {
        this.#connectedSince = Date.now();
        this.#settledAt = this.#connectedSince + this.#settleMs;
        this.log.info({ node: this.self }, 'cluster: NATS connection back; resynchronising');
        this.#beat();
        // Back from a partition, this node takes the others for dead until their heartbeats come
        // in: its registrations would overwrite theirs. It resynchronises once it has heard them.
        clearTimeout(this.#resync);
        this.#resync = setTimeout(() => {
          if (this.#stopped || !this.settled()) return;
          for (const link of this.#links.values()) link.resync();
          this.resume.resync();
        }, this.#settleMs);
        this.#resync.unref();
      }
    }
  }

  // ---- liveness ------------------------------------------------------------------------------

  /** Whether entries of `node` (from that incarnation) count: this node, or a node heard from in time. */
  isLive(node: string, incarnation: number): boolean {
    if (node === this.self) return incarnation === this.incarnation;
    const peer = this.#peers.get(node);
    return peer?.alive === true && peer.incarnation === incarnation;
  }

  /** Two heartbeats: every live node is heard within one, and one more for a late beat. */
  get #settleMs(): number {
    return 2 * this.config.heartbeatMs;
  }

  connected(): boolean {
    return this.#connectedSince !== 0 && !this.nc.isClosed();
  }

  settled(): boolean {
    return this.connected() && Date.now() >= this.#settledAt;
  }

  /** For GET /ready. */
  status(): { node: string; nats: boolean; nodes: string[] } {
    const nodes = [...this.#peers].filter(([, peer]) => peer.alive).map(([name]) => name);
    return { node: this.self, nats: this.#connectedSince !== 0 && !this.nc.isClosed(), nodes: nodes.sort() };
  }

  /** Whether a node (any incarnation) is alive for this node. */
  isAlive(node: string): boolean {
    return node === this.self || this.#peers.get(node)?.alive === true;
  }

  /**
   * A node seen in a KV entry before any heartbeat of it (this node just started): presumed alive
   * for one timeout, so that its registrations are callable at once; a dead one is then dropped.
   */
  presume(node: string, incarnation: number): void {
    if (node === this.self || this.#peers.has(node)) return;
    this.#peers.set(node, { incarnation, lastSeen: Date.now(), alive: true });
  }

  #heard(node: string, incarnation: number): void {
    if (node === this.self) return;
    const peer = this.#peers.get(node);
    const now = Date.now();
    if (peer?.alive && peer.incarnation === incarnation) {
      peer.lastSeen = now;
      return;
    }
    if (peer?.alive) this.#down(node, 'restarted');
    this.#peers.set(node, { incarnation, lastSeen: now, alive: true });
    this.log.info({ node: this.self, peer: node }, 'cluster: node up');
    for (const link of this.#links.values()) link.nodeChanged(node);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [name, peer] of this.#peers) {
      if (peer.alive && now - peer.lastSeen > this.config.nodeTimeoutMs) this.#down(name, 'timeout');
    }
  }

  #down(node: string, why: string): void {
    const peer = this.#peers.get(node);
    if (peer === undefined || !peer.alive) return;
    peer.alive = false;
    this.log.warn({ node: this.self, peer: node, why }, 'cluster: node down');
    for (const link of this.#links.values()) link.nodeChanged(node);
    // One node cleans the buckets: the first live one by name, once its own NATS link has been up
    // for a whole timeout (a node that was cut off itself must not remove the others). A node not
    // up that long yet tries again when it is, rather than never: the entries would stay forever.
    const incarnation = peer.incarnation;
    const purge = (): void => {
      // Back meanwhile (same incarnation): nothing to purge. A new incarnation does not save the old one's entries.
      const current = this.#peers.get(node);
      if ((current?.alive && current.incarnation === incarnation) || this.#stopped) return;
      if (this.#firstLive(node) !== this.self) return;
      const upFor = this.#connectedSince === 0 ? 0 : Date.now() - this.#connectedSince;
      if (upFor < this.config.nodeTimeoutMs) {
        setTimeout(purge, Math.max(this.config.heartbeatMs, this.config.nodeTimeoutMs - upFor)).unref();
        return;
      }
      for (const link of this.#links.values()) void link.purgeNode(node, incarnation);
      this.resume.purge(node, incarnation).catch((err: unknown) => {
        this.log.warn({ dead: node, err: (err as Error).message }, "cluster: purge of a dead node's resumable sessions incomplete");
      });
    };
    setTimeout(purge, this.config.heartbeatMs).unref();
  }

  /**
   * The first live node by name but `dead`: a node restarted under the same name is alive as a
   * new incarnation, yet never purges its old one (it hears no heartbeat of itself).
   */
  #firstLive(dead: string): string {
    let first = this.self;
    for (const [name, peer] of this.#peers) if (peer.alive && name !== dead && name < first) first = name;
    return first;
  }

  // ---- messages ------------------------------------------------------------------------------

  sendToNode(node: string, bytes: Uint8Array): boolean {
    return this.publish(this.names.node(node), bytes);
  }

  /**
   * Queues a message for NATS; everything queued in one event-loop turn is handed to the NATS
   * client together at the end of the turn, so that it leaves in one write instead of one per
   * message (the client flushes once per microtask checkpoint). `now`: hand over the queue at
   * once (an acknowledged PUBLISH is answered after its event is with NATS). Order is kept.
   * False when the connection is closed for good.
   */
  publish(subject: string, bytes: Uint8Array, now = false): boolean {
    if (this.nc.isClosed()) return false;
    this.#outbox.push(subject, bytes);
    if (now) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
    return true;
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const out = this.#outbox;
    if (out.length === 0) return;
    this.#outbox = [];
    for (let i = 0; i < out.length; i += 2) {
      try {
        this.nc.publish(out[i] as string, out[i + 1] as Uint8Array);
      } catch (err) {
        this.log.warn({ node: this.self, err: (err as Error).message }, 'cluster: message not handed to NATS');
      }
    }
  };

  /** Whether a session with this ID is known anywhere in the cluster (so that a new one does not take it). */
  hasSession(id: number): boolean {
    for (const link of this.#links.values()) if (link.hasSession(id)) return true;
    return false;
  }

  nextSeq(): number {
    return ++this.#seq;
  }

  subscribe(subject: string, onData: (data: Uint8Array) => void): Subscription {
    return this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err === null) onData(msg.data);
      },
    });
  }

  #onMessage(data: Uint8Array): void {
    let m: ClusterMessage;
    try {
      m = decodeCluster(data);
    } catch (err) {
      this.log.warn({ node: this.self, err: (err as Error).message }, 'cluster: undecodable message dropped');
      return;
    }
    if (m.kind === 'h') return this.#heard(m.node, m.incarnation);
    if (m.kind === 'r' || m.kind === 's' || m.kind === 'f') return this.resume.onDirect(m);
    const link = m.kind === 'e' ? undefined : this.#links.get(m.realm);
    if (link === undefined) return;
    try {
      link.onDirect(m);
    } catch (err) {
      this.log.error({ node: this.self, err }, 'cluster: message handling failed');
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#resync);
    this.resume.stop();
    for (const link of this.#links.values()) link.stop();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }
}
