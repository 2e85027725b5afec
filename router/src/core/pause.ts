/**
 * The one contract between a message handler and the connection that feeds it. A handler that
 * must wait before the session's next message may run (an asynchronous authorizer's decision, an
 * authenticator's answer, a cluster-wide registration claim) returns a Pause; the connection holds
 * that session's later input, in order, until it settles (at most MAX_BACKLOG messages, see
 * connection.ts). A handler that is done returns nothing. A Pause that rejects costs the session
 * (ABORT wamp.error.internal_error), never the process.
 */
export class Pause {
  constructor(readonly settled: Promise<void>) {}
}

/** What a handler of a session's message returns. */
export type Handled = Pause | void;

/** The promise to chain on when a handler's answer is itself a Pause (a decision that leads to another wait). */
export function settledOf(handled: Handled): Promise<void> | undefined {
  return handled instanceof Pause ? handled.settled : undefined;
}
