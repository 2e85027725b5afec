/**
 * Session resumption's seams, types only [ap_session_resumption]: what a HELLO asks to resume,
 * what moves with a session between cluster nodes, and where a node looks for a session it does
 * not hold. The single-node registry (resumption.ts) and the cluster (cluster/resume.ts) implement
 * them. A leaf: no import of the realm or the connection.
 */
import type { Args, Dict, Kwargs, MatchPolicy, RegistrationId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import type { InvocationPolicy } from '../dealer/registration.js';
import type { TransportDetails } from '../transports/peer.js';
import type { SessionIdentity } from './endpoint.js';

/** What a HELLO asks to resume: HELLO.Details.resume-session and resume-token, checked for shape. */
export interface ResumeRequest {
  readonly session: SessionId;
  /** The resume token as the client sent it (base64 of 16 octets; compared in constant time). */
  readonly token: string;
  /**
   * HELLO.Details.resume-answers (a Switchboard extension of the opportunistic resume): how many
   * answers of the session the client has received; the router resends those after it. Undefined:
   * not said (the router resends only what it kept while the session was detached).
   */
  readonly answers: number | undefined;
  /** HELLO.Realm of an opportunistic resume (it must be the session's); undefined for a dedicated one. */
  readonly realm: string | undefined;
  /** HELLO.Details.authid of an opportunistic resume, if any (it must be the session's). */
  readonly authid: string | undefined;
  /** The transport the resume arrives on (a transport-level authentication is checked again). */
  readonly transport: TransportDetails;
  /**
   * A snapshot the holding node sent after `take` gave up waiting (it answered undefined): the
   * session is no longer held there, so it is adopted here anyway, parked detached with its expiry,
   * rather than lost (a later resume or its expiry ends it properly: on_leave, testaments).
   */
  readonly late?: (snapshot: SessionSnapshot) => void;
  /**
   * The key of the listener the resume arrives on: a session bound to another listener is refused
   * before it is moved (the cluster record keeps the key).
   */
  readonly listener?: string;
}

/** One answer kept for a resume, with its place in the session's sequence of answers (1, 2, 3…). */
export interface KeptAnswer {
  readonly seq: number;
  readonly message: WampMessage;
  /**
   * Handed to a transport that was open on the old node: a resume without resume-answers does not
   * resend it (as on one node). Absent: not known to have arrived.
   */
  readonly delivered?: boolean;
}

/** One subscription of a moving session, as it was asked for. */
export interface SubscriptionSnapshot {
  /** Its ID on the old node: the new node must give it the same (cluster route IDs are derived), or the move fails. */
  readonly id: SubscriptionId;
  readonly topic: string;
  readonly match: MatchPolicy;
  /** SUBSCRIBE.Options as the session gave them (minus the one-off `history`). */
  readonly options: Dict;
  /** EVENTs dropped while the session was detached (WELCOME.Details.resume-missed). */
  readonly missed: number;
}

/** One registration of a moving session. */
export interface RegistrationSnapshot {
  /** Its ID on the old node: the new node must give it the same (cluster route IDs are derived), or the move fails. */
  readonly id: RegistrationId;
  readonly procedure: string;
  readonly match: MatchPolicy;
  readonly invoke: InvocationPolicy;
  /** REGISTER.Options as the session gave them (match, invoke, disclose_caller, forward_timeout). */
  readonly options: Dict;
}

/** A testament of scope `destroyed` of a moving session (wamp.session.add_testament), as it was added. */
export interface TestamentSnapshot {
  readonly topic: string;
  readonly args: Args;
  readonly kwargs: Kwargs;
  readonly publishOptions: Dict;
}

/**
 * What moves with a detached session from one cluster node to another: the session less its
 * transport. Plain data (MessagePack over NATS keeps it intact).
 */
export interface SessionSnapshot {
  readonly id: SessionId;
  readonly realm: string;
  readonly identity: SessionIdentity;
  /** HELLO.Details.roles as the client announced them at the first HELLO. */
  readonly roles: Dict;
  /** The last client request ID the router handled (WELCOME.Details.resume-last-request). */
  readonly lastRequest: number;
  /** The sequence number of the last answer counted. */
  readonly answerSeq: number;
  /** The answers kept, oldest first. */
  readonly answers: readonly KeptAnswer[];
  /** An answer never handed to an open transport was let go by a bound there: a resume without resume-answers is refused. */
  readonly answersLost?: boolean;
  readonly subscriptions: readonly SubscriptionSnapshot[];
  readonly registrations: readonly RegistrationSnapshot[];
  /**
   * Its testaments of scope `destroyed` (those of scope `detached` fired at its detach on the old
   * node); published when it ends on the new node. Absent: none.
   */
  readonly testaments?: readonly TestamentSnapshot[];
  /**
   * The request IDs of its calls as caller left running on the old node: the only answers that
   * node may forward for it (resumption.ts deliver). Absent: none.
   */
  readonly calls?: readonly number[];
  /** The node it comes from (set by the taking node, never read from the wire): the only sender of its forwarded answers. */
  readonly from?: string;
  /** Milliseconds since the epoch when the detached session expires (limits.resumeWindowMs). */
  readonly expiresAt: number;
  /**
   * The identity of the listener the session joined on (its index, type, port and path in the
   * config: the same on every node that runs the same config). A resume is refused on a listener
   * with another key (a resume never escapes a listener's restrictions). Absent: a listener
   * without a key (a connection accepted by an embedder's own transport).
   */
  readonly listener?: string | undefined;
}

/**
 * Where a router looks for a resumable session it does not hold, and whom it tells about the ones
 * it does: the cluster (cluster/resume.ts), which keeps one record per resumable session in its KV
 * bucket and moves a session to the node a client resumes on. A single router has none.
 */
export interface ResumeSource {
  /**
   * A session of this node was given a resume token (each WELCOME that grants resumption: the
   * previous token is void). `tokenHash`: SHA-256 of the token's 16 octets, hex; the token itself
   * never leaves the node.
   */
  issued(session: SessionId, realm: string, identity: SessionIdentity, tokenHash: string, listener?: string): void;
  /** A resumable session of this node ended for good (left its realm), or moved to another node. */
  ended(session: SessionId): void;
  /**
   * Takes over a session that another node holds: checks the token against the record, claims
   * the record atomically (a race with its expiry or another resume has one winner), has the
   * holding node give the session up, and answers its snapshot. Undefined: no such session, wrong
   * token or identity, or a lost race (the resume is refused).
   */
  take(request: ResumeRequest): Promise<SessionSnapshot | undefined>;
  /**
   * A detached session of this node reached the end of its window: true when it may end (its
   * record is gone), false when another node claimed it first (it is handed over instead, or ended
   * by the source through the registry if the claimer never asks). Absent: it ends at once.
   */
  expire?(session: SessionId): Promise<boolean>;
  /** Whether a take of this session is in flight on this node (answers forwarded for it early may wait). */
  taking?(session: SessionId): boolean;
}
