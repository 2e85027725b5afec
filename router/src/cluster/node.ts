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
 * - Every message to NATS leaves through `publish` (the one NATS outbox): a message larger than
 *   the server's current `max_payload` crosses in chunk frames (chunks.ts), put back together by
 *   the receiving node's subscriptions here before anything decodes it. An acknowledged PUBLISH
 *   is answered once NATS confirmed its event (`publishConfirmed`: a flush), never for an event
 *   that may not leave.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { NATS, importOptional } from '../optional.js';
import type { ClusterConfig } from '../config/config.js';
import { CLUSTER_UNAVAILABLE, RefusalError, overLimit, refusal } from '../core/outcome.js';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';
import type { RouterStats } from '../stats.js';
import { CHUNK_MARK, Reassembler, dropLimit, splitChunks } from './chunks.js';
import type { ChunkDrop } from './chunks.js';
import { isConflict } from './link.js';
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

/** max_payload when the server has not said (nats-server's default). */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** The first resync after a failed bucket operation, the longest wait between two, and the quiet time after which the wait starts over. */
const REPAIR_MIN_MS = 500;
const REPAIR_MAX_MS = 4000;
const REPAIR_RESET_MS = 30_000;
/** The longest wait between two tries of a dead node's purge. */
const PURGE_RETRY_MAX_MS = 30_000;
/** Dead incarnations a node remembers having left to another node to purge (the oldest go first)… */
const MAX_LEFT_PURGES = 1024;
/** …and for how long: by then the node they were left to has purged them, or is trying again. */
const LEFT_PURGE_WINDOW_MS = 60_000;

const BUCKET_KINDS = ['registrations', 'sessions', 'retained', 'subscriptions', 'testaments', 'resumable'] as const;
type BucketKind = (typeof BUCKET_KINDS)[number];
/** JetStream's advisory subject for a stream's leader election (`<this>.<stream>`). */
const LEADER_ELECTED = '$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED';
/** Buckets move leaders together: their elections within this window lead to one refollow. */
const LEADER_ELECTION_COALESCE_MS = 500;

/**
 * Creates (or opens) the cluster's KV buckets with `cluster.nats.replicas` replicas. A value the
 * NATS servers cannot honour fails here, at start, naming the key: R3 on one server (which
 * JetStream answers "replicas > 1 not supported in non-clustered mode" for a new bucket, but
 * accepts silently for an existing one), or more replicas than JetStream servers ("no suitable
 * peers"). A bucket made earlier with other replicas is scaled to the configured number (a stream
 * update; JetStream copies the data to the new peers): the config is what the operator wants now.
 */
async function openBuckets(nc: NatsConnection, config: ClusterConfig, names: ClusterNames, log: Logger, failed: () => void): Promise<ClusterBuckets> {
  const { replicas } = config.nats;
  if (replicas > 1 && nc.info !== undefined && nc.info.cluster === undefined) {
    throw new Error(
      `cluster.nats.replicas: ${replicas} replicas need a NATS cluster of at least ${replicas} JetStream servers, and ${nc.getServer()} is a single nats-server (no cluster block in its config): set cluster.nats.replicas to 1, or run NATS as a cluster`,
    );
  }
  const kvm = new Kvm(nc);
  const manager = await jetstreamManager(nc);
  const open = async (kind: BucketKind, storage: 'memory' | 'file'): Promise<KV> => {
    const name = names.bucket(kind);
    let kv: KV;
    try {
      kv = await kvm.create(name, { history: 1, storage, replicas });
    } catch (err) {
      throw replicasRefused(err, replicas, `the KV bucket '${name}'`);
    }
    const status = await kv.status();
    if (status.replicas === replicas) return reporting(kv, failed);
    const stream = status.streamInfo.config;
    try {
      await manager.streams.update(stream.name, { ...stream, num_replicas: replicas });
    } catch (err) {
      throw replicasRefused(err, replicas, `the KV bucket '${name}' (now ${status.replicas} replicas)`);
    }
    log.warn({ bucket: name, from: status.replicas, to: replicas }, 'cluster: KV bucket scaled to cluster.nats.replicas');
    return reporting(kv, failed);
  };
  return {
    registrations: await open('registrations', 'memory'),
    sessions: await open('sessions', 'memory'),
    retained: await open('retained', 'file'),
    subscriptions: await open('subscriptions', 'memory'),
    testaments: await open('testaments', 'memory'),
    resumable: await open('resumable', 'memory'),
  };
}

/** The bucket operations whose failure leaves the buckets short of what this node holds. */
const REPAIRED = new Set<PropertyKey>(['put', 'create', 'update', 'delete', 'purge', 'get']);

/**
 * A bucket that reports its failed operations (a lost compare-and-set race is no failure): while
 * a JetStream stream elects a new leader (its leader's nats-server died) its writes fail for
 * seconds on every node, including those whose own NATS connection never dropped — so no
 * reconnect would ever put back what they failed to write.
 */
function reporting(kv: KV, failed: () => void): KV {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(kv, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(prop);
      if (fn === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        fn = REPAIRED.has(prop)
          ? (...args: unknown[]) =>
              (method.apply(target, args) as Promise<unknown>).catch((err: unknown) => {
                if (!isConflict(err)) failed();
                throw err;
              })
          : method.bind(target);
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

/** JetStream's refusal of a replica count, said in terms of the config key. */
function replicasRefused(err: unknown, replicas: number, what: string): Error {
  const reason = (err as Error)?.message ?? String(err);
  if (/replicas > 1 not supported|insufficient resources|no suitable peers/i.test(reason)) {
    return new Error(
      `cluster.nats.replicas: NATS refused ${replicas} replicas for ${what} (${reason}): a single nats-server takes 1; 3 or 5 need a NATS cluster with at least that many JetStream servers up`,
    );
  }
  return err instanceof Error ? err : new Error(reason);
}

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
  /** The pending resync after failed bucket operations, the wait before the next one, the last failure. */
  #repair: NodeJS.Timeout | undefined;
  #repairDelayMs = REPAIR_MIN_MS;
  #lastBucketFailure = 0;
  /** The resync after a reconnect, once the node has settled (see `settled`). */
  #settleTimer: NodeJS.Timeout | undefined;
  /**
   * Not before two heartbeats after a reconnect (see `settled`).
   * 0 at start: a starting node knows the others from the buckets (`presume`).
   */
  #settledAt = 0;
  /** The nodes alive for this node when its NATS connection was last lost: a reconnect waits to hear them. */
  #awaited: string[] = [];
  /** This node's ResumeSource (the cluster plugin hands it to the core). */
  readonly resume: ClusterResume;
  /** Dead incarnations (`node/incarnation`) whose purge loop runs on this node now. */
  readonly #purging = new Set<string>();
  /**
   * Dead incarnations whose purge this node left to the node first by name: tried here again
   * whenever a node goes down, since that node may be the one (at most MAX_LEFT_PURGES).
   */
  readonly #leftPurges = new Map<string, { node: string; incarnation: number; at: number }>();
  /** Chunked messages from other nodes, being put back together. */
  readonly #chunks: Reassembler;
  /** Numbers this node's chunked messages (receivers keep streams apart by it). */
  #stream = 0;
  /** NATS subscriptions numbered: a chunked message is reassembled per subscription (chunks.ts). */
  #channels = 0;
  /** The confirmation (flush) shared by the acknowledged publications of this turn. */
  #confirming: Promise<void> | undefined;

  private constructor(
    readonly config: ClusterConfig,
    readonly nc: NatsConnection,
    readonly buckets: ClusterBuckets,
    readonly log: Logger,
    readonly stats: RouterStats,
  ) {
    // Chunks only from nodes this one has heard of (heartbeats, or entries at start): a made-up
    // origin name would otherwise get bounds of its own and starve the real nodes (chunks.ts).
    this.#chunks = new Reassembler(
      config,
      Date.now,
      (origin, reason, bytes) => this.#dropped(origin, reason, bytes),
      (node) => node === this.self || this.#peers.has(node),
    );
    this.self = config.node;
    this.names = new ClusterNames(config.prefix);
    // A holding node silent for a node timeout is dead for this one: the resume is refused then.
    this.resume = new ClusterResume(this, { handOverTimeoutMs: config.nodeTimeoutMs });
  }

  /**
   * Connects, opens the buckets and starts the heartbeat; realms are attached afterwards
   * (`attach`), each loading what the cluster holds for it.
   */
  static async connect(config: ClusterConfig, log: Logger, stats: RouterStats): Promise<ClusterNode> {
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
      noRandomize: !config.nats.randomize,
    });
    let buckets: ClusterBuckets;
    // Failures are the node's to repair; no bucket operation runs before it exists.
    let failed = (): void => undefined;
    try {
      buckets = await openBuckets(nc, config, new ClusterNames(config.prefix), log, () => failed());
    } catch (err) {
      // No node without its buckets: the connection goes, or the process would not exit.
      await nc.close().catch(() => undefined);
      throw err;
    }
    const node = new ClusterNode(config, nc, buckets, log, stats);
    failed = () => node.#bucketFailed();
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
    const onMessage = (data: Uint8Array): void => this.#onMessage(data);
    this.#subscriptions.push(this.subscribe(this.names.node(this.self), onMessage), this.subscribe(this.names.heartbeats, onMessage));
    this.#followLeaderElections();
    this.#beat();
    this.#heartbeat = setInterval(() => {
      this.#beat();
      this.#sweep();
      this.#chunks.sweep();
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
        if (this.#connectedSince !== 0) {
          const lostAt = Date.now();
          this.#awaited = [...this.#peers].filter(([, peer]) => lostAt - peer.lastSeen <= this.config.nodeTimeoutMs).map(([name]) => name);
        }
        this.#connectedSince = 0;
        clearTimeout(this.#settleTimer);
        this.log.warn({ node: this.self }, 'cluster: NATS connection lost; serving local sessions only');
      } else if (status.type === 'reconnect') {
        this.#connectedSince = Date.now();
        this.#settledAt = this.#connectedSince + 2 * this.config.heartbeatMs;
        this.log.info({ node: this.self, nats: this.nc.getServer() }, 'cluster: NATS connection back; resynchronising');
        this.#beat();
        // The watches may have gone quiet with the server this node left: followed anew.
        for (const link of this.#links.values()) link.refollow();
        // Back from a partition, this node takes the others for dead until their heartbeats come
        // in: its registrations would overwrite theirs. It resynchronises once it has heard them.
        this.#settleThenResync(this.#connectedSince);
      }
    }
  }

  /**
   * A bucket's stream that elects a new leader (its leader's server died or stepped down): this
   * node's watches of the buckets may have gone quiet with the old leader, though its own
   * connection never dropped — a watch is a consumer on the stream's leader. The NATS client's
   * ordered consumer re-creates itself only after missed heartbeats, which took over a minute on a
   * loaded machine (registrations made elsewhere were not callable here meanwhile). So the
   * buckets are followed anew at once, as after a reconnect; elections of several buckets (they
   * move together) are coalesced. Without permission to subscribe to JetStream advisories nothing
   * changes: the client's own recovery remains.
   */
  #followLeaderElections(): void {
    const streams = new Set(BUCKET_KINDS.map((kind) => `KV_${this.names.bucket(kind)}`));
    let pending: NodeJS.Timeout | undefined;
    const sub = this.nc.subscribe(`${LEADER_ELECTED}.*`, {
      callback: (err, msg) => {
        if (err !== null || this.#stopped) return;
        if (!streams.has(msg.subject.slice(LEADER_ELECTED.length + 1))) return;
        if (pending !== undefined) return;
        pending = setTimeout(() => {
          pending = undefined;
          if (this.#stopped || this.#connectedSince === 0) return;
          this.log.info({ node: this.self }, 'cluster: a bucket elected a new leader; following the buckets anew');
          for (const link of this.#links.values()) link.refollow();
        }, LEADER_ELECTION_COALESCE_MS);
        pending.unref();
      },
    });
    this.#subscriptions.push(sub);
  }

  /** This node's sessions, subscriptions, registrations and resumable sessions put back where the buckets miss them. */
  #resyncAll(): void {
    for (const link of this.#links.values()) link.resync();
    this.resume.resync();
  }

  /**
   * A bucket operation failed with the connection up (a JetStream leader election, a server
   * short of resources): what it failed to write is put back by a resync, REPAIR_MIN_MS after the
   * failure, then at growing intervals (up to REPAIR_MAX_MS) while operations keep failing — the
   * resync's own failures schedule the next. Writes failed while the connection is down are the
   * reconnect's to put back.
   */
  #bucketFailed(): void {
    if (this.#stopped) return;
    const now = Date.now();
    if (now - this.#lastBucketFailure > REPAIR_RESET_MS) this.#repairDelayMs = REPAIR_MIN_MS;
    this.#lastBucketFailure = now;
    if (this.#repair !== undefined) return;
    this.#repair = setTimeout(() => {
      this.#repair = undefined;
      // Not yet settled after a reconnect: the settled resync comes (an earlier one would take live nodes for dead).
      if (this.#stopped || this.#connectedSince === 0 || !this.settled()) return;
      this.log.info({ node: this.self }, 'cluster: KV operations failed; resynchronising');
      this.#resyncAll();
    }, this.#repairDelayMs);
    this.#repair.unref();
    this.#repairDelayMs = Math.min(this.#repairDelayMs * 2, REPAIR_MAX_MS);
  }

  // ---- liveness ------------------------------------------------------------------------------

  /** Whether entries of `node` (from that incarnation) count: this node, or a node heard from in time. */
  isLive(node: string, incarnation: number): boolean {
    if (node === this.self) return incarnation === this.incarnation;
    const peer = this.#peers.get(node);
    return peer?.alive === true && peer.incarnation === incarnation;
  }

  /**
   * The resync after a reconnect, once settled: checked every heartbeat from two heartbeats on.
   * `since`: the reconnect it is for (a later one starts its own).
   */
  #settleThenResync(since: number): void {
    clearTimeout(this.#settleTimer);
    const check = (): void => {
      if (this.#stopped || this.#connectedSince !== since) return;
      if (!this.settled()) {
        this.#settleTimer = setTimeout(check, this.config.heartbeatMs);
        this.#settleTimer.unref();
        return;
      }
      this.#resyncAll();
    };
    this.#settleTimer = setTimeout(check, 2 * this.config.heartbeatMs);
    this.#settleTimer.unref();
  }

  connected(): boolean {
    return this.#connectedSince !== 0 && !this.nc.isClosed();
  }

  settled(): boolean {
    if (!this.connected()) return false;
    const now = Date.now();
    if (now < this.#settledAt) return false;
    // Every node alive for this one when the connection went has been heard since it came back
    // (or a node timeout passed: one not heard by then is dead for every node). Two heartbeats
    // alone were not enough: a peer whose heartbeat was a moment late was taken for dead, and the
    // resync overwrote its registrations (review F6).
    if (now - this.#connectedSince >= this.config.nodeTimeoutMs) return true;
    for (const name of this.#awaited) {
      const peer = this.#peers.get(name);
      if (peer === undefined || !peer.alive || peer.lastSeen < this.#connectedSince) return false;
    }
    return true;
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
    this.log.info({ node: this.self, peer: node, incarnation }, 'cluster: node up');
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
    this.log.warn({ node: this.self, peer: node, why, incarnation: peer.incarnation }, 'cluster: node down');
    for (const link of this.#links.values()) link.nodeChanged(node);
    this.#purgeLater(node, peer.incarnation);
    // Purges this node left to the node first by name: that node may be the one that just died,
    // with the purge still to do (two nodes dying within a node timeout of each other). One left
    // longer ago than LEFT_PURGE_WINDOW_MS was done, or is being retried there.
    const since = Date.now() - LEFT_PURGE_WINDOW_MS;
    for (const [key, left] of [...this.#leftPurges]) {
      if (left.at < since) this.#leftPurges.delete(key);
      else this.#purgeLater(left.node, left.incarnation);
    }
  }

  /**
   * Removes the entries of a dead incarnation from the buckets, `heartbeatMs` from now. One node
   * does it: the first live one by name, once its own NATS link has been up for a whole timeout (a
   * node that was cut off itself must not remove the others); one not up that long yet tries again
   * when it is. Another node first by name is left to do it (and remembered: #leftPurges). A purge
   * that failed part way (a bucket operation timed out) is tried again at growing intervals: what
   * it left would otherwise stay in the buckets for good. One loop per incarnation at a time.
   */
  #purgeLater(node: string, incarnation: number): void {
    const key = `${node}/${incarnation}`;
    if (this.#purging.has(key)) return;
    this.#purging.add(key);
    let retryMs = REPAIR_MIN_MS;
    let confirmed = false;
    const end = (): void => void this.#purging.delete(key);
    const purge = (): void => {
      // Back meanwhile (same incarnation): nothing to purge. A new incarnation does not save the old one's entries.
      const current = this.#peers.get(node);
      if ((current?.alive && current.incarnation === incarnation) || this.#stopped) {
        this.#leftPurges.delete(key);
        return end();
      }
      if (this.#firstLive(node) !== this.self) {
        if (!this.#leftPurges.has(key)) this.#leftPurges.set(key, { node, incarnation, at: Date.now() });
        if (this.#leftPurges.size > MAX_LEFT_PURGES) this.#leftPurges.delete(this.#leftPurges.keys().next().value as string);
        return end();
      }
      this.#leftPurges.delete(key);
      const upFor = this.#connectedSince === 0 ? 0 : Date.now() - this.#connectedSince;
      if (upFor < this.config.nodeTimeoutMs) {
        setTimeout(purge, Math.max(this.config.heartbeatMs, this.config.nodeTimeoutMs - upFor)).unref();
        return;
      }
      const links = [...this.#links.values()].map((link) => link.purgeNode(node, incarnation));
      const resumable = this.resume.purge(node, incarnation).then(
        () => true,
        (err: unknown) => {
          this.log.warn({ dead: node, err: (err as Error).message }, "cluster: purge of a dead node's resumable sessions incomplete (tried again)");
          return false;
        },
      );
      void Promise.all([...links, resumable]).then((done) => {
        if (this.#stopped) return end();
        if (done.every(Boolean)) {
          // Once more a node timeout later: a write the dead node made just before it died can
          // reach the bucket after the first pass (measured in the churn test on a loaded machine:
          // a killed node's 4 session records left by a purge that had succeeded).
          if (confirmed) return end();
          confirmed = true;
          setTimeout(purge, this.config.nodeTimeoutMs).unref();
          return;
        }
        setTimeout(purge, retryMs).unref();
        retryMs = Math.min(retryMs * 2, PURGE_RETRY_MAX_MS);
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
   * The largest message the NATS server takes in one frame, as it said at this connection's last
   * (re)connect: read at every send, since a reconnect to another server may change it.
   */
  get maxPayload(): number {
    return this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /**
   * Queues a message for NATS; everything queued in one event-loop turn is handed to the NATS
   * client together at the end of the turn, so that it leaves in one write instead of one per
   * message (the client flushes once per microtask checkpoint). `now`: hand over the queue at
   * once. Order is kept. A message larger than the server's max_payload leaves in chunks.
   * False (logged, counted) when the connection is closed for good or the message is larger than
   * `cluster.maxReassemblyBytes`, which no node takes: a relayed call then ends in ERROR at once.
   */
  publish(subject: string, bytes: Uint8Array, now = false): boolean {
    const queued = this.#queue(subject, bytes, now);
    if (queued === 'too_large') this.stats.limitExceeded('cluster.maxReassemblyBytes');
    return queued === 'queued';
  }

  #queue(subject: string, bytes: Uint8Array, now: boolean): 'queued' | 'closed' | 'too_large' | 'refused' {
    if (this.nc.isClosed()) {
      this.stats.clusterNotSent('closed');
      return 'closed';
    }
    if (bytes.length > this.config.maxReassemblyBytes) {
      this.stats.clusterNotSent('too_large');
      logRefusal(
        this.log,
        'cluster_message_too_large',
        { node: this.self, subject, bytes: bytes.length, max: this.config.maxReassemblyBytes },
        'cluster: message larger than cluster.maxReassemblyBytes not sent to the other nodes',
        'warn',
      );
      return 'too_large';
    }
    this.#outbox.push(subject, bytes);
    // Handed over now, this message is the outbox's last: whether NATS took it is what #flush says.
    if (now) return this.#flush() ? 'queued' : 'refused';
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
    return 'queued';
  }

  /**
   * Publishes an acknowledged publication's event: resolves once NATS confirmed it (a PING/PONG
   * round trip after it, shared by every acknowledged publication of the turn), so the publisher's
   * PUBLISHED means the event left this node. Rejects with the refusal the publisher gets instead:
   * the NATS connection is down (reconnecting) or did not confirm within
   * `cluster.publishAckTimeoutMs` (switchboard.error.cluster_unavailable), or the event is larger
   * than any node takes (switchboard.error.limit_exceeded).
   */
  publishConfirmed(subject: string, bytes: Uint8Array): Promise<void> {
    if (this.#connectedSince === 0 && !this.nc.isClosed()) {
      this.stats.clusterNotSent('unavailable');
      return Promise.reject(unavailable('the node has no NATS connection now'));
    }
    // Draining (the node is leaving): NATS may still take the event but will not confirm it.
    if (this.nc.isDraining()) return Promise.reject(unavailable('the node is leaving the cluster'));
    const queued = this.#queue(subject, bytes, true);
    if (queued === 'too_large')
      return Promise.reject(new RefusalError(overLimit({ limit: 'cluster.maxReassemblyBytes', value: this.config.maxReassemblyBytes })));
    if (queued === 'closed') return Promise.reject(unavailable('the node has left the cluster'));
    if (queued === 'refused') return Promise.reject(unavailable('NATS refused the event'));
    return this.#confirm();
  }

  /**
   * The confirmation of every acknowledged event handed to NATS until the PING goes: the PING is
   * sent at the end of the turn (setImmediate), after every acknowledged event of the turn, so no
   * publisher is confirmed by a PING written before its event; events handed over later wait for
   * the next one.
   */
  #confirm(): Promise<void> {
    if (this.#confirming !== undefined) return this.#confirming;
    const timeoutMs = this.config.publishAckTimeoutMs;
    const confirming = new Promise<void>((resolve, reject) => {
      const fail = (why: string): void => {
        this.stats.clusterNotSent('unavailable');
        reject(unavailable(why));
      };
      const timer = setTimeout(() => fail(`NATS did not confirm within ${timeoutMs} ms`), timeoutMs);
      timer.unref();
      setImmediate(() => {
        // From here on, an acknowledged event waits for the next PING.
        if (this.#confirming === confirming) this.#confirming = undefined;
        this.nc.flush().then(
          () => {
            clearTimeout(timer);
            resolve();
          },
          (err: unknown) => {
            clearTimeout(timer);
            fail(`NATS did not confirm (${(err as Error).message})`);
          },
        );
      });
    });
    this.#confirming = confirming;
    return confirming;
  }

  /** Hands the outbox to NATS; false when NATS refused its last message (what `#queue(…, now)` reports). */
  readonly #flush = (): boolean => {
    this.#flushScheduled = false;
    const out = this.#outbox;
    if (out.length === 0) return true;
    this.#outbox = [];
    const max = this.maxPayload;
    let lastTaken = true;
    for (let i = 0; i < out.length; i += 2) {
      const subject = out[i] as string;
      const bytes = out[i + 1] as Uint8Array;
      try {
        if (bytes.length <= max) this.nc.publish(subject, bytes);
        else this.#publishChunks(subject, bytes, max);
        lastTaken = true;
      } catch (err) {
        lastTaken = false;
        this.stats.clusterNotSent('refused');
        this.log.warn({ node: this.self, subject, bytes: bytes.length, err: (err as Error).message }, 'cluster: message not handed to NATS');
      }
    }
    return lastTaken;
  };

  /** One message in chunk frames under max_payload, consecutively on its subject (NATS keeps their order). */
  #publishChunks(subject: string, bytes: Uint8Array, maxPayload: number): void {
    this.#stream = (this.#stream + 1) >>> 0;
    const frames = splitChunks({ node: this.self, incarnation: this.incarnation }, this.#stream, bytes, maxPayload);
    for (const frame of frames) this.nc.publish(subject, frame);
  }

  /** A chunked message from another node was dropped (chunks.ts): counted, logged once per origin per interval. */
  #dropped(origin: string, reason: ChunkDrop, bytes: number): void {
    this.stats.clusterChunksDrop(reason);
    const limit = dropLimit(reason);
    if (limit !== undefined) this.stats.limitExceeded(limit);
    logRefusal(
      this.log,
      `cluster_chunks ${origin}`,
      { node: this.self, origin, reason, bytes },
      'cluster: a chunked message from another node was dropped',
      'warn',
    );
  }

  /** Whether a session with this ID is known anywhere in the cluster (so that a new one does not take it). */
  hasSession(id: number): boolean {
    for (const link of this.#links.values()) if (link.hasSession(id)) return true;
    return false;
  }

  nextSeq(): number {
    return ++this.#seq;
  }

  /** Subscribes to a subject; chunked messages arrive whole (one byte compared on every message). */
  subscribe(subject: string, onData: (data: Uint8Array) => void): Subscription {
    const channel = ++this.#channels;
    return this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        const data = msg.data;
        if (data[0] !== CHUNK_MARK) return onData(data);
        const whole = this.#chunks.accept(channel, data);
        if (whole !== undefined) onData(whole);
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
    this.#chunks.clear();
    clearTimeout(this.#repair);
    clearTimeout(this.#settleTimer);
    this.resume.stop();
    for (const link of this.#links.values()) link.stop();
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }
}

function unavailable(why: string): RefusalError {
  return new RefusalError(refusal(CLUSTER_UNAVAILABLE, `the event was delivered on this node only: ${why}`));
}
