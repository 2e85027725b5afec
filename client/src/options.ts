/**
 * Options of each session operation. Wire options keep the spec's names (`exclude_me`,
 * `disclose_me`, `get_retained`); options the client handles itself are camelCase and carry their
 * unit (`waitForConnectionMs`). `extra` passes further options to the router untouched.
 */
import type { Dict, PublicationId, SessionId, SubscriptionId } from '@switchboard/schemas/core';
import type { MatchPolicy } from '@switchboard/schemas/core';

interface Common {
  /**
   * When no session is open: wait at most this many milliseconds for one (reconnecting) instead of
   * failing at once with NotConnectedError.
   */
  waitForConnectionMs?: number;
  /** Options passed to the router as they are (router-specific or newer than this client). */
  extra?: Dict;
}

export interface PublishOptions extends Common {
  /** Ask for PUBLISHED: the promise then resolves with the publication ID once the broker has it. */
  acknowledge?: boolean;
  /** Default true: the publisher does not receive its own event. [bp_pubsub] */
  exclude_me?: boolean;
  // [ap_pubsub_subscriber_blackwhite_listing]
  exclude?: SessionId[] | number[];
  exclude_authid?: string[];
  exclude_authrole?: string[];
  eligible?: SessionId[] | number[];
  eligible_authid?: string[];
  eligible_authrole?: string[];
  /** [ap_pubsub_publisher_identification] */
  disclose_me?: boolean;
  /** [ap_pubsub_event_retention] */
  retain?: boolean;
}

export interface SubscribeOptions extends Common {
  /** [ap_pubsub_pattern_based_subscription] */
  match?: MatchPolicy;
  /** [ap_pubsub_event_retention]: deliver the retained event (if any) right after subscribing. */
  get_retained?: boolean;
  /**
   * Gapless catch-up (a Switchboard extension; the router announces
   * `roles.broker.features.history_catch_up`): before live events, replay the stored events of the
   * topic (or of every topic a pattern matches) — those after a publication ID (`{ after }`), or
   * the last `n` (`{ last: n }`, at most the router's page size, `limits.maxHistoryPage`). Replayed
   * events have `details.replayed === true` and go to this subscription only; the first live event
   * follows the last replayed one with no gap and no duplicate. The topic must be kept by one of
   * the realm's `eventHistory` rules (else the subscribe fails with
   * wamp.error.history_unavailable). Persist `subscription.lastPublication` to resume with
   * `{ after: lastPublication }`; after a reconnect the client resumes so by itself.
   */
  history?: HistoryRequest;
  /** Iterator mode: events buffered for a slow consumer before the oldest is dropped (default 10000). */
  queueLimit?: number;
}

/** What a catch-up replays: events after this publication, or the last `last` events. */
export type HistoryRequest = { after: PublicationId | number } | { last: number };

export type InvocationPolicy = 'single' | 'roundrobin' | 'random' | 'first' | 'last';

export interface RegisterOptions extends Common {
  /** [ap_rpc_pattern_based_registration] */
  match?: MatchPolicy;
  /** [ap_rpc_shared_registration] */
  invoke?: InvocationPolicy;
  /** Ask the dealer to disclose callers to this callee. [ap_rpc_caller_identification] */
  disclose_caller?: boolean;
  /** Take over a registration of the same authid. */
  force_reregister?: boolean;
  /**
   * [ap_rpc_call_timeout] The dealer forwards a call's `timeout` to this callee instead of timing
   * out itself; the client then aborts the handler's `details.signal` when it passes.
   */
  forward_timeout?: boolean;
}

/** [ap_rpc_call_canceling]: skip (callee not told), kill (callee interrupted, router waits), killnowait. */
export type CancelMode = 'skip' | 'kill' | 'killnowait';

export interface CallOptions<Progress extends unknown[] = unknown[]> extends Common {
  /** Aborting sends CANCEL (when the dealer supports it) and rejects the call with wamp.error.canceled. */
  signal?: AbortSignal;
  /**
   * Milliseconds. Sent as the call's `timeout` when the dealer announces call_timeout; enforced by
   * the client otherwise (rejecting with wamp.error.timeout and canceling the call).
   */
  timeout?: number;
  /** CANCEL mode on abort (default killnowait). */
  cancelMode?: CancelMode;
  /** Receives progressive results (sets receive_progress). [ap_rpc_progressive_call_results] */
  onProgress?: (args: Progress, kwargs: Dict, details: Dict) => void;
  /** [ap_rpc_caller_identification] */
  disclose_me?: boolean;
}

export interface EventDetails extends Dict {
  subscription: SubscriptionId;
  publication: PublicationId;
  /** The concrete topic (for pattern subscriptions the router sends it; otherwise the subscribed topic). */
  topic: string;
  publisher?: SessionId;
  publisher_authid?: string;
  publisher_authrole?: string;
  retained?: boolean;
  /** True for an event of a catch-up replay (`history` option, EVENT.Details.history), false for a live one. */
  replayed: boolean;
  /**
   * A gap notice: events before this one may be missing. On the first event after a catch-up's SUBSCRIBED (the first replayed one or, when nothing was
   * replayed, the first live one), for the subscription that asked: the `after` publication is no
   * longer stored, so events between it and this one may be missing. And on the first event after a
   * session resumption that could not replay what the subscription missed (see `missed`).
   */
  gap?: boolean;
  /**
   * With `gap` after a session resumption that could not catch up (the topic keeps no history, or
   * the router does not announce `history_catch_up`): how many events the router dropped for this
   * subscription while the session was detached (WELCOME.Details.resume-missed). Undefined with
   * `gap: true`: events may have been lost (in flight when the connection broke), how many is unknown.
   */
  missed?: number;
}

/** One event, as the async iterator of a subscription yields it. */
export interface EventMessage<A extends unknown[] = unknown[], K = Dict> {
  args: A;
  kwargs: K;
  details: EventDetails;
}
