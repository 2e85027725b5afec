/**
 * The cluster as a realm plugin. Loaded only when the config has a `cluster` block (router.ts
 * imports it dynamically), so a single node never loads NATS. The first installation connects
 * the node (one NATS connection for every realm); each realm then gets its RealmLink, plugged in
 * through the realm's hooks; the last teardown stops the node.
 */
import type { ClusterConfig } from '../config/config.js';
import type { RouterCore } from '../core.js';
import type { Logger } from '../log.js';
import type { RealmPlugin, PluginContext, PluginTeardown } from '../realm-plugin.js';
import type { Realm } from '../realm.js';
import { ClusterNode } from './node.js';
import { RealmLink } from './realm-link.js';

export interface ClusterStatus {
  node: string;
  nats: boolean;
  nodes: string[];
}

export class ClusterPlugin implements RealmPlugin {
  readonly name = 'cluster';
  #node: Promise<ClusterNode> | undefined;
  #connected: ClusterNode | undefined;
  #links = 0;

  constructor(
    readonly config: ClusterConfig,
    readonly core: RouterCore,
    readonly log: Logger,
  ) {}

  /** This node's link to NATS, made on first use (the first realm's install, or the JetStream event store before it). */
  connect(): Promise<ClusterNode> {
    this.#node ??= ClusterNode.connect(this.config, this.log, this.core.stats).then((node) => {
      this.#connected = node;
      this.#resumeAcross(node);
      return node;
    });
    return this.#node;
  }

  /**
   * Session resumption across nodes [ap_session_resumption]: the node's ClusterResume becomes the
   * router's ResumeSource (where a resume of a session held elsewhere is looked up, and whom the
   * registry tells of tokens and ends), the registry its host (hand-overs, forwarded answers,
   * expiries). The adopted session's routes are the registry's to restore (resumption.ts adopt,
   * through the realm's hooks: this node's realm link claims and listens as for any route).
   */
  #resumeAcross(node: ClusterNode): void {
    const resumption = this.core.resumption;
    node.resume.host = {
      handOver: (session, forward, answers) => resumption.handOver(session, forward, answers),
      deliver: (session, msg, from) => resumption.deliver(session, msg, from),
      expire: (session) => resumption.expire(session),
      limitExceeded: (limit) => this.core.stats.limitExceeded(limit),
      accepts: (name) => {
        const realm = this.core.realm(name);
        return realm !== undefined && resumption.grants(realm);
      },
    };
    resumption.resumeSource = node.resume;
  }

  async install(realm: Realm, context: PluginContext): Promise<PluginTeardown> {
    const node = await this.connect();
    const link = new RealmLink(node, realm, this.core);
    this.#links++;
    const teardown = async (): Promise<void> => {
      node.detach(link);
      if (--this.#links === 0) {
        if (this.core.resumption.resumeSource === node.resume) this.core.resumption.resumeSource = undefined;
        await node.stop();
      }
    };
    context.observe(link.hooks);
    // Subscriptions made before this plugin observed the realm (a history rule's, which the history
    // plugin makes at its install) get their NATS interest now: otherwise a session subscribing to
    // such a topic joins an existing subscription, no 'created' hook fires, and events published on
    // other nodes never reach it (nor this node's local history store). Synchronous with observe(),
    // so that no subscription is counted twice.
    for (const subscription of realm.broker.subscriptions()) link.events.listen(subscription);
    try {
      await node.attach(link);
    } catch (err) {
      await teardown();
      throw err;
    }
    return teardown;
  }

  /** Whether a session with this ID is known anywhere in the cluster (so that a new one does not take it). */
  hasSession(id: number): boolean {
    return this.#connected?.hasSession(id) === true;
  }

  /** For GET /ready: before the node is connected, NATS counts as down. */
  status(): ClusterStatus {
    return this.#connected?.status() ?? { node: this.config.node, nats: false, nodes: [] };
  }
}
