/**
 * The one way the router's pure parts say that something was refused: an outcome is either
 * `{ ok: true, …value }` or a Refusal naming the WAMP error URI and a message for a person. Code
 * that fails because of a bug throws; code that refuses a request returns a Refusal; a router
 * procedure that refuses throws WampError (the client sees exactly that ERROR).
 */
import type { ErrorMessage, RequestId } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';

export interface Refusal {
  readonly ok: false;
  /** A WAMP error URI, e.g. `wamp.error.invalid_argument`. */
  readonly error: string;
  /** What went wrong, for the person reading the ERROR. */
  readonly message: string;
}

/** A success carrying `T`'s fields, or a refusal. */
export type Outcome<T extends object = object> = ({ readonly ok: true } & T) | Refusal;

export function refusal(error: string, message: string): Refusal {
  return { ok: false, error, message };
}

/** ERROR URI of a request refused by a quota (not a spec URI). */
export const LIMIT_EXCEEDED = 'switchboard.error.limit_exceeded';

/**
 * ERROR URI of a request the event store failed (not a spec URI): an acknowledged PUBLISH whose
 * event the store could not write with durability "ack" (the event was still delivered live), a
 * history read the store could not answer.
 */
export const STORE_FAILED = 'switchboard.error.store_failed';

/**
 * ERROR URI of an acknowledged PUBLISH on a cluster node whose event NATS did not confirm (not a
 * spec URI): the node's NATS connection is down, or NATS did not answer within
 * `cluster.publishAckTimeoutMs`. The event was delivered on the publisher's node; other nodes
 * may not have it.
 */
export const CLUSTER_UNAVAILABLE = 'switchboard.error.cluster_unavailable';

/**
 * ERROR URI of a history read or a SUBSCRIBE `history` option for a topic (or subscription) that
 * keeps no event history. Not a spec URI: Crossbar's.
 */
export const HISTORY_UNAVAILABLE = 'wamp.error.history_unavailable';

/** A limit a request ran into: its config key and value. */
export interface LimitHit {
  limit: string;
  value: number;
}

/** A refusal by a quota: LIMIT_EXCEEDED, and the limit hit (sent as the ERROR's kwargs). */
export interface OverLimit extends Refusal {
  readonly limit: LimitHit;
}

export function overLimit(hit: LimitHit): OverLimit {
  return { ok: false, error: LIMIT_EXCEEDED, message: `limit ${hit.limit} (${hit.value}) reached`, limit: hit };
}

/**
 * A rejection carrying the refusal a request is answered with: a plugin's promise the realm
 * waits on before answering (event history's durability "ack" refusing an event it will not store).
 */
export class RefusalError extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
  }
}

export function isOverLimit(refused: Refusal): refused is OverLimit {
  return (refused as Partial<OverLimit>).limit !== undefined;
}

/**
 * The ERROR a refused request gets: the refusal's URI, its message as Arguments, and for a quota
 * kwargs {limit, value}. The one shape of every refusal on the wire.
 */
export function refusalMessage(requestType: MessageCode, request: RequestId, refused: Refusal): ErrorMessage {
  const message: ErrorMessage = { code: MessageCode.Error, requestType, request, details: {}, error: refused.error, args: [refused.message] };
  if (isOverLimit(refused)) message.kwargs = { limit: refused.limit.limit, value: refused.limit.value };
  return message;
}
