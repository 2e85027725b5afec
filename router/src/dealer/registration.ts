/**
 * What a registration is: its callees with their options and its invocation policy. A leaf, so
 * that the dealer (dealer.ts) and the Call it makes (call.ts) share it without importing each other.
 */
import type { MatchPolicy, RegistrationId } from '@switchboard/schemas';

/** [ap_rpc_shared_registration] */
export type InvocationPolicy = 'single' | 'roundrobin' | 'random' | 'first' | 'last';

/** One session's part of a registration, with the options it registered with. */
export interface CalleeEntry<S> {
  readonly session: S;
  /** REGISTER.Options.disclose_caller */
  readonly discloseCaller: boolean;
  /** REGISTER.Options.forward_timeout: the callee enforces CALL timeouts itself. */
  readonly forwardTimeout: boolean;
}

export interface Registration<S> {
  readonly id: RegistrationId;
  readonly procedure: string;
  readonly match: MatchPolicy;
  readonly invoke: InvocationPolicy;
  /** Milliseconds since the epoch. */
  readonly created: number;
  /** In order of registration: `first` picks [0], `last` the end. */
  readonly callees: CalleeEntry<S>[];
}
