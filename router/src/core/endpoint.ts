/**
 * What the routing core (realm, broker, dealer, calls, meta API, limits) sees of a WAMP session:
 * who it is, what it announced, how the router sends to it and what the router may do to it.
 * A leaf: it names no concrete class, so the core never depends on how a session is carried (a
 * client connection, the router's own in-process session, a callee on another cluster node).
 */
import type { Codec, Dict, Event, MessageCode, PublicationId, RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import type { SharedFrame, TransportDetails } from '../transports/peer.js';

/** Who the session is, as announced in WELCOME; fixed for the session's life. */
export interface SessionIdentity {
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod: string;
  readonly authprovider: string;
}

/** The roles a peer announces in HELLO.Details.roles. */
export type PeerRole = 'publisher' | 'subscriber' | 'caller' | 'callee';

/**
 * What became of one message the router sent (the outbox's answer):
 * - `sent`: handed to the transport (or the in-process peer) and counted;
 * - `unserializable`: the receiver's serializer cannot represent the payload (counted, logged);
 * - `gone`: the peer is closed, was cut off by its outbound budget, or dropped a droppable EVENT.
 */
export type SendOutcome = 'sent' | 'unserializable' | 'gone';

/**
 * One EVENT for every subscriber of one subscription: encoded at most once per serializer and
 * built as an object at most once (for in-process peers), whatever the number of subscribers.
 */
export interface SharedEvent {
  /** The subscription it is an EVENT of (a session holding that subscription's events keeps it). */
  readonly subscription: SubscriptionId;
  readonly publication: PublicationId;
  /** The EVENT in `codec`, or null when the payload cannot be represented there. */
  frame(codec: Codec): SharedFrame | null;
  /** The EVENT as a message object (read-only: shared with every in-process subscriber). */
  message(): Event;
}

/** The bounds of one Hold: `limits.maxCatchUpEvents` and `limits.maxCatchUpBytes`. */
export interface HoldLimits {
  readonly maxEvents: number;
  /** Bytes as the session's serializer encodes the held events. */
  readonly maxBytes: number;
  /**
   * The session was subscribed before the catch-up (it re-joined its own subscription): its
   * live events are its own, not only the catch-up's. On overflow the hold sends what it holds and
   * stops holding instead of discarding, and a refused catch-up releases instead of dropping.
   */
  readonly existing?: boolean;
}

/** Which bound a Hold went past. */
export type HoldOverflow = 'events' | 'bytes';

/**
 * A session's live EVENTs of one subscription, kept back while a SUBSCRIBE's history replay is read
 * (the `history` option, realm/pubsub.ts): released after the replay, less what it contained, so
 * that the subscriber gets every event once and in order. Released events are sent as messages
 * that must arrive, like the replay before them: a large replay never turns them into drops.
 * Bounded in count and bytes: past a bound the held events are let go and `overflow` says which
 * (the SUBSCRIBE then fails).
 */
export interface Hold {
  /** More events (or bytes) arrived than the bound: they were let go. */
  readonly overflow: HoldOverflow | undefined;
  /** Bytes held now (as `HoldLimits.maxBytes` counts them): what a release would queue at most. */
  readonly bytes: number;
  /** Whether an event of this publication is held. */
  holds(publication: PublicationId): boolean;
  /**
   * Sends what is held, in order, except the publications in `skip`; the session's events flow
   * again. `gap` (nothing sent before carried details.history_gap): the first event sent carries
   * it — the first released one or, when none is, the next live event of the subscription.
   */
  release(skip: ReadonlySet<PublicationId>, gap?: boolean): void;
  /** Lets what is held go unsent; the session's events flow again. */
  drop(): void;
}

export interface Endpoint {
  readonly id: SessionId;
  readonly identity: SessionIdentity;
  readonly authid: string;
  readonly authrole: string;
  /**
   * The object authorizers key their caches on: the session itself. A connection that opens
   * another session after GOODBYE gets a new Endpoint, so nothing cached for alice is bob's.
   */
  readonly membership: object;
  /** HELLO.Details.roles as the client announced them. */
  readonly roles: Dict;
  /** The transport the session came over (meta API, logs). */
  readonly transport: TransportDetails;
  /** The name of the session's serializer (`json`, `msgpack`, `cbor`…), for messages to people. */
  readonly serializer: string;
  /**
   * True from WELCOME until the session leaves its realm (GOODBYE, ABORT, transport closed). An
   * answer that arrives after that (an authorizer's decision, an async router procedure) is dropped.
   */
  readonly live: boolean;
  /**
   * False while the session is detached from its transport (session resumption,
   * [ap_session_resumption]): it lost its connection, or paused with GOODBYE resumable, and lives
   * on for its realm's limits.resumeWindowMs. A detached session keeps its subscriptions and
   * registrations, but the dealer never picks it as a callee (a single registration's caller gets
   * wamp.error.session_unattached) and the invocations it served end at the detach. What the router
   * sends it meanwhile is the session's to handle: answers kept for the resume (bounded), EVENTs
   * dropped and counted as missed. Always true for sessions that cannot be resumed (in-process
   * peers, cluster stand-ins).
   */
  readonly attached: boolean;
  /**
   * True for a resumable session (its HELLO asked, its realm allows, its peer is not in-process):
   * it detaches instead of ending when its transport goes, and the meta API says so
   * (wamp.session.get: `resumable`, `attached`). Unset or false: a session that cannot be resumed.
   * [ap_session_resumption]
   */
  readonly resumable?: boolean;
  /** Whether the client announced `feature` for `role` in HELLO. */
  supports(role: PeerRole, feature: string): boolean;

  /** Sends one message through the session's outbox. */
  send(msg: WampMessage): SendOutcome;
  /** ERROR for one request, with `message` as its only argument. */
  sendError(requestType: MessageCode, request: RequestId, error: string, message?: string): void;
  /**
   * Bytes of must-arrive messages the session's connection can still be sent before its outbound
   * hard limit cuts it off; Infinity where there is none (in-process peer, cluster stand-in). A
   * catch-up checks it before queuing its replay and held events at once (realm/pubsub.ts).
   */
  readonly outboundRoom: number;
  /** One subscriber's copy of a shared EVENT, droppable under backpressure. */
  sendEvent(event: SharedEvent): SendOutcome;
  /**
   * Starts holding this session's EVENTs of `subscription` (within `limits`) until the Hold is
   * released or dropped. One hold per subscription at a time; a session that leaves drops it.
   */
  hold(subscription: SubscriptionId, limits: HoldLimits): Hold;
  /**
   * The session no longer holds, nor marks with history_gap, the EVENTs of `subscription` (it
   * unsubscribed, or was unsubscribed): a later subscription with the same ID starts clean.
   */
  unhold(subscription: SubscriptionId): void;

  /** ABORT wamp.error.protocol_violation: the session ends and its transport closes. */
  protocolViolation(message: string): void;
  /** ABORT with `reason`: the session ends and its transport closes. */
  abort(reason: string, message: string, closeCode?: number): void;
  /**
   * Router-initiated close: GOODBYE, the session leaves its realm at once, `onDone` when the client
   * answers (or after `closeTimeoutMs`). `silent`: no on_leave meta event, no testaments.
   * `resumable`: a router pause [ap_session_resumption]: a resumable session gets GOODBYE
   * {resumable: true} and detaches instead of ending (others end as without it).
   */
  goodbye(reason: string, message: string, onDone: () => void, options?: { closeTimeoutMs?: number; silent?: boolean; resumable?: boolean }): void;
}
