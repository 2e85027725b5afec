/**
 * One registered procedure. Like a subscription it outlives reconnects (registered again with its
 * original options and handler) and `closed` resolves, never rejects, when it ends for good.
 */
import type { Dict, RegisterOptions as WireRegisterOptions, RegistrationId, RequestId } from '@switchboard/schemas/core';
import type { InputChunk } from './progressive.js';
import type { ClosedReason } from './subscription.js';

/** What a callee's handler gets besides the arguments. */
export interface InvocationDetails<Progress extends unknown[] = unknown[]> {
  /** Aborted when the caller cancels (INTERRUPT), the call times out, or the connection drops. */
  signal: AbortSignal;
  /** Sends a progressive result; a no-op unless the caller asked for them (`receiveProgress`). */
  progress(args?: Progress, kwargs?: Dict): void;
  /** The caller asked for progressive results. */
  receiveProgress: boolean;
  /** The concrete procedure (the router sends it for pattern registrations). */
  procedure: string;
  /** The INVOCATION request ID. */
  request: RequestId;
  /** Caller identity, when disclosed. [ap_rpc_caller_identification] */
  caller?: number;
  caller_authid?: string;
  caller_authrole?: string;
  /**
   * For a progressive call invocation (the caller streams its arguments): the chunks after the
   * first (which are the handler's args and kwargs), ending with the last one. Undefined for an
   * ordinary call. [ap_rpc_progressive_call_invocations]
   */
  input?: AsyncIterable<InputChunk>;
  /** INVOCATION.Details as received. */
  raw: Dict;
}

export type ProcedureHandler<A extends unknown[] = unknown[], K = Dict, R = unknown, P extends unknown[] = unknown[]> = (
  args: A,
  kwargs: K,
  details: InvocationDetails<P>,
) => R | Promise<R>;

export interface RegistrationOwner {
  unregister(registration: Registration): Promise<void>;
}

export class Registration implements AsyncDisposable {
  /** The router's registration ID in the current session (changes after a reconnect). */
  id: RegistrationId | undefined;
  readonly closed: Promise<ClosedReason>;
  #resolveClosed!: (reason: ClosedReason) => void;
  #active = true;

  /** @internal created by Session.register */
  constructor(
    private readonly owner: RegistrationOwner,
    readonly procedure: string,
    /** Options as sent in REGISTER (sent again, unchanged, after a reconnect). */
    readonly options: WireRegisterOptions,
    readonly handler: ProcedureHandler,
  ) {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  get active(): boolean {
    return this.#active;
  }

  unregister(): Promise<void> {
    if (!this.#active) return Promise.resolve();
    return this.owner.unregister(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unregister().catch(() => {});
  }

  /** @internal */
  close(reason: ClosedReason): void {
    if (!this.#active) return;
    this.#active = false;
    this.id = undefined;
    this.#resolveClosed(reason);
  }
}
