/**
 * The one way the router's pure parts say that something was refused: an outcome is either
 * `{ ok: true, …value }` or a Refusal naming the WAMP error URI and a message for a person. Code
 * that fails because of a bug throws; code that refuses a request returns a Refusal; a router
 * procedure that refuses throws WampError (the client sees exactly that ERROR).
 */
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
