/**
 * A session on another node, as this node's dealer sees it: the stand-in callee of a remote
 * registration. A plain Endpoint (it never had a connection or a handshake): the realm runs calls
 * to it exactly as to a local callee (policies, timeouts, cancel modes, progressive results);
 * what it is sent goes, through its own outbox, to the callee's node, which relays it to the real
 * session with that session's own IDs. It never joins the realm (no meta events, not listed by
 * this node: the session registry lists it).
 */
import type { Dict, Encoded, MessageCode, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { MessageCode as Code, Spliced, msgpackCodec, toWire } from '@switchboard/schemas';
import type { RouterCore } from '../core.js';
import type { Realm } from '../realm.js';
import type { Endpoint, Hold, HoldLimits, PeerRole, SendOutcome, SessionIdentity, SharedEvent } from '../core/endpoint.js';
import { HeldEvents } from '../core/hold.js';
import { Outbox } from '../core/outbox.js';
import { rolesSupport } from '../core/roles.js';
import type { Peer, SharedFrame, TransportDetails } from '../transports/peer.js';
import { encodeCluster } from './wire.js';

/** Where a stand-in's messages go. */
export interface RemoteLink {
  /** This node's name. */
  readonly self: string;
  /** Publishes to a node's subject; false when NATS cannot take it. */
  sendToNode(node: string, bytes: Uint8Array): boolean;
}

export class RemoteSession implements Endpoint {
  readonly roles: Dict;
  readonly #outbox: Outbox;
  readonly #core: RouterCore;

  constructor(
    core: RouterCore,
    readonly link: RemoteLink,
    /** The node the real session is on. */
    readonly node: string,
    readonly realm: Realm,
    readonly id: SessionId,
    readonly identity: SessionIdentity,
    calleeFeatures: Dict,
  ) {
    this.#core = core;
    this.roles = { callee: { features: calleeFeatures } };
    // Not counted here: the node that delivers the message to its client counts it.
    this.#outbox = new Outbox(remotePeer(link, node), core.stats, core.sessionLog, { encode: (msg) => this.#encode(msg), counted: false });
    this.#outbox.session = id;
  }

  get authid(): string {
    return this.identity.authid;
  }

  get authrole(): string {
    return this.identity.authrole;
  }

  get membership(): object {
    return this;
  }

  get transport(): TransportDetails {
    return this.#outbox.peer.transport;
  }

  get serializer(): string {
    return this.#outbox.serializer;
  }

  /** A stand-in lives until its node says the session left (the link drops it). */
  /** A stand-in is never detached: its node says when its callee goes. */
  get attached(): boolean {
    return true;
  }

  get live(): boolean {
    return true;
  }

  supports(role: PeerRole, feature: string): boolean {
    return rolesSupport(this.roles, role, feature);
  }

  send(msg: WampMessage): SendOutcome {
    return this.#outbox.send(msg);
  }

  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void {
    this.#outbox.send({ code: Code.Error, requestType, request, details: {}, error, ...(message !== undefined && { args: [message] }) });
  }

  /** Its node's connection bounds what reaches the real session; nothing is queued here. */
  readonly outboundRoom = Number.POSITIVE_INFINITY;

  /** Events reach a remote session through its own node's broker, never through a stand-in. */
  sendEvent(_event: SharedEvent): SendOutcome {
    return 'gone';
  }

  /** A stand-in never subscribes (it is only a callee): a hold of it holds nothing. */
  hold(_subscription: SubscriptionId, limits: HoldLimits): Hold {
    return new HeldEvents(limits, { bytes: () => 0, send: () => undefined, done: () => undefined });
  }

  unhold(_subscription: SubscriptionId): void {}

  /**
   * The real session's node judges its own session: a stand-in is never closed from here (its
   * answers that break a rule are dropped by the caller's checks and logged).
   */
  protocolViolation(message: string): void {
    this.#core.sessionLog.warn({ session: this.id, node: this.node }, `remote callee broke a rule: ${message}`);
  }

  abort(reason: string, message: string): void {
    this.#core.sessionLog.warn({ session: this.id, node: this.node, reason }, `remote session not aborted from this node: ${message}`);
  }

  goodbye(_reason: string, _message: string, onDone: () => void): void {
    onDone();
  }

  /** INVOCATION (with its registration named by URI and match, since IDs are per node), INTERRUPT or ERROR. Throws when it cannot. */
  #encode(msg: WampMessage): Uint8Array {
    let match = '';
    let procedure = '';
    if (msg.code === Code.Invocation) {
      const registration = this.realm.dealer.getRegistration(msg.registration);
      if (registration === undefined) throw new Error(`registration ${msg.registration} is gone`);
      match = registration.match;
      procedure = registration.procedure;
    }
    return encodeCluster({ kind: 'i', from: this.link.self, realm: this.realm.name, session: this.id, match, procedure, wire: toWire(msg) });
  }
}

function remotePeer(link: RemoteLink, node: string): Peer {
  return {
    codec: msgpackCodec,
    transport: { type: 'cluster', protocol: 'nats', peer: `node:${node}` },
    send: (frame: Encoded): boolean => typeof frame !== 'string' && link.sendToNode(node, frame instanceof Spliced ? frame.join() : frame),
    sendDroppable: (_frame: SharedFrame): boolean => false,
    close: (): void => undefined,
    bufferedBytes: 0,
  };
}
