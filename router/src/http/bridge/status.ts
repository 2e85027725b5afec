/**
 * What a WAMP error becomes over HTTP. Crossbar's bridge answers every WAMP error with 200
 * `{"error": uri, "args", "kwargs"}` (its clients expect that); a `strict` path answers with the
 * status the error means instead, with the same body.
 */
import { ErrorUri, WampError } from '@switchboard/schemas';
import { BridgeMessageRefused, BridgeSessionClosed } from './local-session.js';

export interface ErrorAnswer {
  status: number;
  body: { error: string; args: unknown[]; kwargs: Record<string, unknown> };
}

const STRICT: Readonly<Record<string, number>> = {
  [ErrorUri.NotAuthorized]: 403,
  [ErrorUri.AuthorizationFailed]: 500,
  [ErrorUri.NoSuchProcedure]: 404,
  [ErrorUri.InvalidUri]: 400,
  [ErrorUri.InvalidArgument]: 400,
  [ErrorUri.Timeout]: 504,
  [ErrorUri.Canceled]: 503,
  [ErrorUri.Unavailable]: 503,
  [ErrorUri.NoAvailableCallee]: 503,
  [ErrorUri.NoSuchRole]: 500,
  [ErrorUri.NoSuchRealm]: 500,
};

/** The status of a WAMP error on a strict path: a callee's own error (any other URI) is 502. */
export function strictStatus(uri: string): number {
  return STRICT[uri] ?? 502;
}

/**
 * The answer for a failed publish or call. A WampError is the WAMP outcome (200, or its status on a
 * strict path); anything else is the bridge's own failure: 500 with wamp.error.runtime_error, as in
 * Crossbar. A request the in-process connection refused to encode is a 400, as for a body the
 * bridge does not accept.
 */
export function errorAnswer(err: unknown, strict: boolean): ErrorAnswer {
  // A request that could not be sent as WAMP was not accepted: the bridge's 400 refusal.
  if (err instanceof BridgeMessageRefused) return { status: 400, body: { error: err.message, args: [], kwargs: {} } };
  if (err instanceof WampError) {
    return { status: strict ? strictStatus(err.uri) : 200, body: { error: err.uri, args: err.args, kwargs: err.kwargs } };
  }
  const message =
    err instanceof BridgeSessionClosed ? 'the router is shutting down or the bridge session was closed' : 'Sorry, the router has encountered a problem.';
  return { status: err instanceof BridgeSessionClosed ? 503 : 500, body: { error: ErrorUri.RuntimeError, args: [message], kwargs: {} } };
}
