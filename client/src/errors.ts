/**
 * The client's error catalogue. Application and routed errors are `WampError { uri, args, kwargs }`
 * (re-exported from `@switchboard/schemas`, so `instanceof` holds across packages); everything
 * the client raises itself is a `SwitchboardError` subclass with a stable `code`.
 */
import { WampError } from '@switchboard/schemas/core';
import type { Dict } from '@switchboard/schemas/core';
import { isPermanentRefusal } from './refusal.js';
import type { Refusal } from './refusal.js';

export { WampError };

export type ClientErrorCode =
  | 'SB_ERR_UNREACHABLE'
  | 'SB_ERR_CONNECTION_LOST'
  | 'SB_ERR_NOT_CONNECTED'
  | 'SB_ERR_ABORTED'
  | 'SB_ERR_PROTOCOL_VIOLATION'
  | 'SB_ERR_SESSION_CLOSED'
  | 'SB_ERR_SERIALIZER'
  | 'SB_ERR_INVALID_ARGUMENT'
  | 'SB_ERR_HTTP_BRIDGE';

/** Base of every error the client raises itself (not one a router or peer sent). */
export class SwitchboardError extends Error {
  override name = 'SwitchboardError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The transport could not be opened (refused, DNS, TLS, no common subprotocol, open timeout). */
export class UnreachableError extends SwitchboardError {
  override name = 'UnreachableError';
  /**
   * What the router answered when it refused (HTTP status or RawSocket error, and its words);
   * undefined when nothing answered (connection refused, DNS, TLS, timeout).
   */
  readonly refusal: Refusal | undefined;

  constructor(
    readonly url: string,
    detail: string,
    options?: ErrorOptions & { refusal?: Refusal },
  ) {
    super('SB_ERR_UNREACHABLE', `cannot connect to ${url}: ${detail}`, options);
    this.refusal = options?.refusal;
  }

  /** Asking again cannot succeed (a wrong path, Origin or serializer): see isPermanentRefusal. */
  get permanent(): boolean {
    return this.refusal !== undefined && isPermanentRefusal(this.refusal);
  }
}

/** The connection dropped while this request was in flight; its outcome is unknown. */
export class ConnectionLostError extends SwitchboardError {
  override name = 'ConnectionLostError';

  constructor(detail: string, options?: ErrorOptions) {
    super('SB_ERR_CONNECTION_LOST', `connection lost: ${detail}`, options);
  }
}

/** A request made while no session is open (and the caller did not opt in to wait for one). */
export class NotConnectedError extends SwitchboardError {
  override name = 'NotConnectedError';

  constructor(detail: string, options?: ErrorOptions) {
    super('SB_ERR_NOT_CONNECTED', detail, options);
  }
}

/** The router refused or ended the session with ABORT (e.g. `wamp.error.no_such_realm`). */
export class SessionAbortedError extends SwitchboardError {
  override name = 'SessionAbortedError';

  constructor(
    /** ABORT.Reason, e.g. `wamp.error.no_such_realm`. */
    readonly reason: string,
    readonly details: Dict,
  ) {
    const text = typeof details['message'] === 'string' ? `: ${details['message']}` : '';
    super('SB_ERR_ABORTED', `session aborted by the router with ${reason}${text}`);
  }
}

/** The router sent something WAMP does not allow; the client answered ABORT protocol_violation. */
export class ProtocolViolationError extends SwitchboardError {
  override name = 'ProtocolViolationError';

  constructor(detail: string, options?: ErrorOptions) {
    super('SB_ERR_PROTOCOL_VIOLATION', `protocol violation by the router: ${detail}`, options);
  }
}

/** The session was closed on purpose (leave(), GOODBYE) while this request was waiting. */
export class SessionClosedError extends SwitchboardError {
  override name = 'SessionClosedError';

  constructor(detail: string) {
    super('SB_ERR_SESSION_CLOSED', detail);
  }
}

/** A payload the chosen serializer cannot represent (e.g. a BigInt beyond 64 bits in JSON). */
export class SerializerError extends SwitchboardError {
  override name = 'SerializerError';

  constructor(detail: string, options?: ErrorOptions) {
    super('SB_ERR_SERIALIZER', detail, options);
  }
}

/**
 * The HTTP bridge refused a request (400 malformed, 401 signature or token, 413 too large…) or
 * could not be reached; WAMP errors it relays are WampError.
 */
export class HttpBridgeError extends SwitchboardError {
  override name = 'HttpBridgeError';

  constructor(
    /** The HTTP status; 0 when no answer came (network error, timeout). */
    readonly status: number,
    detail: string,
    options?: ErrorOptions,
  ) {
    super('SB_ERR_HTTP_BRIDGE', status === 0 ? detail : `HTTP ${status}: ${detail}`, options);
  }
}

/** Fatal ABORT reasons: retrying cannot help, so reconnecting stops. */
export const FATAL_ABORT_REASONS: ReadonlySet<string> = new Set([
  'wamp.error.no_such_realm',
  'wamp.error.authentication_failed',
  'wamp.error.authorization_failed',
  'wamp.error.no_auth_method',
  'wamp.error.not_authorized',
  'wamp.error.no_such_role',
  'wamp.error.protocol_violation',
]);

/** Any value as an Error (what a user handler throws need not be one). */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
