/**
 * Routed RPC in one realm: REGISTER/UNREGISTER (with a cluster's claim), CALL, CANCEL and the
 * callee's answers, registration revocation. The dealer keeps registrations (dealer/dealer.ts),
 * the gate authorizes (auth/gate.ts), each call's life is calls.ts's; this module checks the
 * requests and answers them.
 */
import type { Call, Cancel, Dict, ErrorMessage, MatchPolicy, Register, Unregister, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode, isValidUri } from '@switchboard/schemas';
import type { UriCheck } from '@switchboard/schemas';
import { isInvocationPolicy } from '../dealer/dealer.js';
import type { Dealer, InvocationPolicy, Registration } from '../dealer/dealer.js';
import { mayMatchReserved } from '../auth/coverage.js';
import type { Gate } from '../auth/gate.js';
import { refusal } from '../core/outcome.js';
import type { Refusal } from '../core/outcome.js';
import { Pause } from '../core/pause.js';
import type { Handled } from '../core/pause.js';
import type { Endpoint } from '../core/endpoint.js';
import type { Calls, IncomingCall } from '../calls.js';
import { hasPpt, supportsPpt } from '../details.js';
import type { Quotas } from '../limits.js';
import type { ClaimOptions, RealmHookSet } from '../realm-hooks.js';
import type { RouterStats } from '../stats.js';
import { matchRefusal, patternRefusal, refuse } from './requests.js';

/** What routed RPC needs of its realm. */
export interface RpcParts {
  readonly stats: RouterStats;
  readonly uriCheck: UriCheck;
  readonly dealer: Dealer<Endpoint>;
  readonly calls: Calls<Endpoint>;
  readonly gate: Gate<Endpoint>;
  readonly quotas: Quotas;
  readonly hooks: RealmHookSet;
}

export class Rpc {
  readonly #stats: RouterStats;
  readonly #uriCheck: UriCheck;
  readonly #dealer: Dealer<Endpoint>;
  readonly #calls: Calls<Endpoint>;
  readonly #gate: Gate<Endpoint>;
  readonly #quotas: Quotas;
  readonly #hooks: RealmHookSet;

  constructor(parts: RpcParts) {
    this.#stats = parts.stats;
    this.#uriCheck = parts.uriCheck;
    this.#dealer = parts.dealer;
    this.#calls = parts.calls;
    this.#gate = parts.gate;
    this.#quotas = parts.quotas;
    this.#hooks = parts.hooks;
  }

  // ---- register ----------------------------------------------------------------------------

  onRegister(session: Endpoint, msg: Register): Handled {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const invoke = msg.options.invoke ?? 'single';
    const refused =
      this.#quotas.refusesUri(msg.procedure) ??
      this.#quotas.refusesRegister(session) ??
      matchRefusal(msg.options) ??
      (isInvocationPolicy(invoke)
        ? undefined
        : refusal(ErrorUri.InvalidArgument, `unknown invocation policy '${String(invoke)}' (single, roundrobin, random, first or last)`)) ??
      patternRefusal('procedure', msg.procedure, match, this.#uriCheck) ??
      // A pattern that could take calls to a wamp.* procedure is refused as an exact one is.
      (mayMatchReserved(msg.procedure, match)
        ? refusal(
            ErrorUri.InvalidUri,
            `procedure ${match === 'exact' ? '' : `${match} pattern `}'${msg.procedure}' ${match === 'exact' ? 'uses' : 'reaches'} the reserved 'wamp' prefix`,
          )
        : undefined);
    if (refused !== undefined) return refuse(this.#stats, session, MessageCode.Register, msg.request, refused);
    return this.#gate.pass(
      session,
      { type: MessageCode.Register, id: msg.request },
      { uri: msg.procedure, action: 'register', match, options: msg.options },
      () => this.#register(session, msg),
    );
  }

  readonly #register = (session: Endpoint, msg: Register): Handled => {
    const match = (msg.options.match ?? 'exact') as MatchPolicy;
    const invoke = (msg.options.invoke ?? 'single') as InvocationPolicy;
    const options: ClaimOptions = { discloseCaller: msg.options['disclose_caller'] === true, forwardTimeout: msg.options['forward_timeout'] === true };
    if (!this.#hooks.claims) return this.#registerHere(session, msg, match, invoke, options);
    // A conflict this node already sees is answered at once; otherwise the claimers (a cluster) decide.
    const existing = this.#dealer.lookup(msg.procedure, match);
    if (existing !== undefined && (existing.invoke !== invoke || invoke === 'single')) return this.#registerHere(session, msg, match, invoke, options);
    return new Pause(
      this.#hooks.claim(session, msg.procedure, match, invoke, options).then((refused) => {
        if (!session.live) return;
        if (refused !== undefined) return refuse(this.#stats, session, MessageCode.Register, msg.request, refused);
        this.#registerHere(session, msg, match, invoke, options);
      }),
    );
  };

  #registerHere(session: Endpoint, msg: Register, match: MatchPolicy, invoke: InvocationPolicy, options: ClaimOptions): void {
    const outcome = this.#dealer.register(session, msg.procedure, { match, invoke, ...options });
    if (!outcome.ok) return refuse(this.#stats, session, MessageCode.Register, msg.request, outcome);
    session.send({ code: MessageCode.Registered, request: msg.request, registration: outcome.registration.id });
    this.#hooks.registered(session, outcome.registration, outcome.created);
  }

  onUnregister(session: Endpoint, msg: Unregister): void {
    const outcome = this.#dealer.unregister(session, msg.registration);
    if (outcome === undefined) return session.sendError(MessageCode.Unregister, msg.request, ErrorUri.NoSuchRegistration);
    session.send({ code: MessageCode.Unregistered, request: msg.request });
    this.#hooks.unregistered(session, outcome.registration, outcome.deleted);
  }

  /** [ap_rpc_registration_revocation] Removes a callee by the router's decision. */
  revokeRegistration(session: Endpoint, registration: Registration<Endpoint>, reason?: string): boolean {
    const outcome = this.#dealer.unregister(session, registration.id);
    if (outcome === undefined) return false;
    if (session.supports('callee', 'registration_revocation')) {
      const details: Dict = { registration: registration.id };
      if (reason !== undefined) details['reason'] = reason;
      session.send({ code: MessageCode.Unregistered, request: 0, details });
    }
    this.#hooks.unregistered(session, registration, outcome.deleted);
    return true;
  }

  /** A leaving session's registrations end (observers told of each), then every call it served or made. */
  leave(session: Endpoint): void {
    const removal = this.#dealer.removeSession(session);
    for (const { registration, deleted } of removal.registrations) this.#hooks.unregistered(session, registration, deleted);
    // Every call the session served or made ends now, not at some timeout.
    this.#calls.leave(session, removal);
  }

  /**
   * A session detached (session resumption): it keeps its registrations, but the invocations it
   * was serving end now for their callers with wamp.error.session_unattached; a later YIELD or
   * ERROR for one of them is dropped, not a protocol violation. Its calls as caller go on: their
   * answers are the session's to keep for the resume. [ap_session_resumption]
   */
  detach(session: Endpoint): void {
    this.#calls.detach(this.#dealer.detachCallee(session));
  }

  /**
   * A session moved to another cluster node (resumption.ts handOver): its registrations end here
   * as at a leave (the observers hear: a cluster releases its claims), the invocations it served
   * end as at a detach, and its calls as caller go on (calls.ts moveOut). [ap_session_resumption]
   */
  moveOut(session: Endpoint): number[] {
    const removal = this.#dealer.removeSession(session, true);
    for (const { registration, deleted } of removal.registrations) this.#hooks.unregistered(session, registration, deleted);
    this.#calls.moveOut(session, removal);
    // The calls that go on (a streaming one ended above): their answers follow the session.
    return (removal.movedCalls ?? []).filter((c) => !c.callerStreaming).map((c) => c.callRequest);
  }

  /**
   * A registration of a session moved here from another node (resumption.ts adopt): made again as
   * a REGISTER makes it, claimed through the realm's claimers (a cluster) first, but without an
   * answer (the client has had its REGISTERED) and without authorization again (the identity is
   * the one the old node authorized). The registration made, or why not.
   */
  async restore(
    session: Endpoint,
    procedure: string,
    match: MatchPolicy,
    invoke: InvocationPolicy,
    options: ClaimOptions,
  ): Promise<Registration<Endpoint> | Refusal> {
    if (this.#hooks.claims) {
      const refused = await this.#hooks.claim(session, procedure, match, invoke, options);
      if (refused !== undefined) return refused;
    }
    if (!session.live) return refusal(ErrorUri.Canceled, 'the session ended meanwhile');
    const outcome = this.#dealer.register(session, procedure, { match, invoke, ...options });
    if (!outcome.ok) return outcome;
    this.#hooks.registered(session, outcome.registration, outcome.created);
    return outcome.registration;
  }

  /**
   * Removes a stand-in for a callee on another node (it left, or its node is gone): calls pending
   * on it end now with wamp.error.canceled. Not a session of this realm: no meta events.
   */
  dropRemoteCallee(session: Endpoint, reason: string): void {
    this.#calls.leave(session, this.#dealer.removeSession(session), reason);
  }

  // ---- call --------------------------------------------------------------------------------

  /**
   * A CALL, as `calls.classify` found it (session.ts asks once): a continuation goes on to its
   * callee; a new call is checked, authorized and routed (calls.route asks the dealer once,
   * quota included). [ap_rpc_progressive_call_invocations]
   */
  onCall(session: Endpoint, msg: Call, incoming: IncomingCall<Endpoint>): Handled {
    if (incoming.kind === 'continuation') return this.#calls.continueCall(incoming.call, msg);
    if (incoming.kind === 'late') return;
    const overLimit = this.#quotas.refusesUri(msg.procedure);
    if (overLimit !== undefined) return refuse(this.#stats, session, MessageCode.Call, msg.request, overLimit);
    if (!isValidUri(msg.procedure, this.#uriCheck)) {
      return refuse(this.#stats, session, MessageCode.Call, msg.request, refusal(ErrorUri.InvalidUri, `invalid procedure URI '${msg.procedure}'`));
    }
    const timeout = msg.options.timeout ?? 0;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0) {
      return refuse(
        this.#stats,
        session,
        MessageCode.Call,
        msg.request,
        refusal(ErrorUri.InvalidArgument, 'timeout must be a non-negative integer (milliseconds)'),
      );
    }
    const progressive = msg.options['progress'] === true;
    if (progressive && !session.supports('caller', 'progressive_call_invocations')) {
      return session.protocolViolation('CALL with progress: true from a caller that did not announce progressive_call_invocations');
    }
    if (hasPpt(msg.options) && !supportsPpt(session, 'caller')) {
      return session.protocolViolation('CALL with ppt_scheme or enc_algo from a caller that announced neither payload_passthru_mode nor payload_transparency');
    }
    return this.#gate.pass(session, { type: MessageCode.Call, id: msg.request }, { uri: msg.procedure, action: 'call', options: msg.options }, (allowed) =>
      this.#calls.route(session, msg, { allow: true, disclose: allowed.disclose }),
    );
  }

  onCancel(session: Endpoint, msg: Cancel): void {
    this.#calls.cancel(session, msg);
  }

  /** A callee's YIELD or ERROR (session.ts checked that the router issued its request ID). */
  onCalleeAnswer(session: Endpoint, msg: Yield | ErrorMessage): void {
    this.#calls.answer(session, msg);
  }
}
