/**
 * A session on another node, as this node's dealer sees it: the stand-in callee of a remote
 * registration. The realm runs calls to it exactly as to a local callee (policies, timeouts,
 * cancel modes, progressive results); what it "sends" goes to the callee's node, which relays it
 * to the real session with that session's own IDs. It never joins the realm (no meta events,
 * not listed by this node: the session registry lists it).
 */
import type { Dict, SessionId, WampMessage } from '@switchboard/schemas';
import { MessageCode, msgpackCodec, toWire } from '@switchboard/schemas';
import type { RouterCore } from '../core.js';
import type { Realm } from '../realm.js';
import { RouterSession, SessionState } from '../session.js';
import type { SessionIdentity } from '../session.js';
import type { Peer, SharedFrame } from '../transports/peer.js';
import { encodeCluster } from './wire.js';

/** Where a stand-in's messages go. */
export interface RemoteLink {
  /** This node's name. */
  readonly self: string;
  /** Publishes to a node's subject; false when NATS cannot take it. */
  sendToNode(node: string, bytes: Uint8Array): boolean;
}

const NO_AUTHENTICATORS = new Map();

export class RemoteSession extends RouterSession {
  constructor(
    core: RouterCore,
    readonly link: RemoteLink,
    /** The node the real session is on. */
    readonly node: string,
    realm: Realm,
    id: SessionId,
    identity: SessionIdentity,
    calleeFeatures: Dict,
  ) {
    super(remotePeer(link, node), core, NO_AUTHENTICATORS);
    this.id = id;
    this.realm = realm;
    this.identity = identity;
    this.roles = { callee: { features: calleeFeatures } };
    this.state = SessionState.Established;
  }

  /** INVOCATION (with its registration named by URI and match, since IDs are per node), INTERRUPT or ERROR. */
  override encode(msg: WampMessage): Uint8Array | undefined {
    let match = '';
    let procedure = '';
    if (msg.code === MessageCode.Invocation) {
      const registration = this.realm?.dealer.getRegistration(msg.registration);
      if (registration === undefined) return undefined;
      match = registration.match;
      procedure = registration.procedure;
    }
    try {
      return encodeCluster({ kind: 'i', from: this.link.self, realm: this.realm!.name, session: this.id, match, procedure, wire: toWire(msg) });
    } catch {
      return undefined;
    }
  }
}

function remotePeer(link: RemoteLink, node: string): Peer {
  return {
    codec: msgpackCodec,
    transport: { type: 'cluster', protocol: 'nats', peer: `node:${node}` },
    send: (frame: string | Uint8Array): boolean => typeof frame !== 'string' && link.sendToNode(node, frame),
    sendDroppable: (_frame: SharedFrame): boolean => false,
    close: (): void => undefined,
    bufferedBytes: 0,
  };
}
