/**
 * The WAMP session as the application sees it: typed call / register / publish / subscribe.
 * One Session object lives across reconnects (its Connection attaches each new WAMP session to
 * it); request state belongs to one WAMP session and ends with it, subscriptions and registrations
 * are carried over. ERROR is routed by the type of request it answers.
 */
import type {
  Dict,
  ErrorMessage,
  Event,
  Invocation,
  Interrupt,
  MessageCode as Code,
  PublicationId,
  Published,
  Registered,
  RegistrationId,
  RequestId,
  Result as ResultMessage,
  SessionId,
  Subscribed,
  SubscriptionId,
  Unregistered,
  Unsubscribed,
  WampMessage,
} from '@switchboard/schemas/core';
import { ANSWER_CODES, ErrorUri, MAX_ID, MessageCode, WampError, isDict, listArgs, messageName, timerMs } from '@switchboard/schemas/core';
import type { Connection } from './connection.js';
import { ConnectionLostError, NotConnectedError, SessionClosedError, SwitchboardError, toError } from './errors.js';
import type { CallOptions, EventDetails, PublishOptions, RegisterOptions, SubscribeOptions } from './options.js';
import { CallInput, ProgressiveCall } from './progressive.js';
import type { InputChunk } from './progressive.js';
import { AsyncQueue } from './queue.js';
import { Registration } from './registration.js';
import type { InvocationDetails, ProcedureHandler, RegistrationOwner } from './registration.js';
import { Result } from './result.js';
import type { CallResult } from './result.js';
import { Subscription } from './subscription.js';
import type { ClosedReason, EventHandler, SubscriptionOwner } from './subscription.js';
import type { Transport } from './transport.js';
import type {
  ApiContract,
  ArgsOf,
  CallableOf,
  CallableUri,
  KwargsOf,
  PayloadWith,
  ProcedureOf,
  ProcedureUri,
  ProgressOf,
  ResultOf,
  SubscribableOf,
  SubscribableUri,
  TopicOf,
  TopicUri,
  Untyped,
} from './typed.js';

/** Options the client handles itself; everything else goes on the wire. */
const CLIENT_ONLY = new Set(['waitForConnectionMs', 'extra', 'queueLimit', 'signal', 'onProgress', 'cancelMode', 'timeout']);

function wireOptions(options: object): Dict {
  const out: Dict = {};
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && !CLIENT_ONLY.has(key)) out[key] = value;
  }
  const extra = (options as { extra?: Dict }).extra;
  if (extra !== undefined) Object.assign(out, extra);
  return out;
}

function withPayload<T extends object>(msg: T, args: unknown[] | undefined, kwargs: Dict | undefined): T {
  const out = msg as T & { args?: unknown[]; kwargs?: Dict };
  if (args !== undefined && args.length > 0) out.args = args;
  if (kwargs !== undefined && Object.keys(kwargs).length > 0) {
    out.args = args ?? [];
    out.kwargs = kwargs;
  }
  return out;
}

/**
 * What a handler (or the iterator) gets as an event's details. `catchingUp`: this subscription
 * asked for the catch-up this event ends, so a history_gap on it is this subscription's news (the
 * router puts it on the first EVENT after SUBSCRIBED, a live one when nothing was replayed).
 */
function withoutEndMark(details: Dict): Dict {
  const { history_last: _last, ...rest } = details;
  return rest;
}

function eventDetails(msg: Event, subscription: Subscription<unknown[], unknown>, replayed: boolean, catchingUp = replayed): EventDetails {
  const details: EventDetails = {
    // The catch-up's end mark (history_last) is the client's business, not the application's.
    ...(replayed ? withoutEndMark(msg.details) : msg.details),
    subscription: msg.subscription,
    publication: msg.publication,
    topic: typeof msg.details['topic'] === 'string' ? msg.details['topic'] : subscription.topic,
    replayed,
  };
  if (catchingUp && msg.details['history_gap'] === true) details.gap = true;
  return details;
}

function errorFrom(msg: ErrorMessage): WampError {
  return new WampError(msg.error, listArgs(msg.args), msg.kwargs ?? {});
}

/** Roles and features this client announces in HELLO: what it implements. */
export const CLIENT_ROLES: Dict = {
  publisher: { features: { publisher_exclusion: true, publisher_identification: true, subscriber_blackwhite_listing: true } },
  subscriber: { features: { pattern_based_subscription: true, publisher_identification: true } },
  caller: {
    features: { call_canceling: true, call_timeout: true, caller_identification: true, progressive_call_results: true, progressive_call_invocations: true },
  },
  callee: {
    features: {
      call_canceling: true,
      call_timeout: true,
      caller_identification: true,
      pattern_based_registration: true,
      progressive_call_results: true,
      progressive_call_invocations: true,
      shared_registration: true,
      // [ap_rpc_registration_revocation] UNREGISTERED with request 0 closes the registration with its reason.
      registration_revocation: true,
    },
  },
};

interface PendingRequest {
  readonly type: Code;
  resolve(msg: WampMessage): void;
  reject(error: Error): void;
}

interface PendingCall {
  resolve(result: CallResult): void;
  reject(error: Error): void;
  onProgress: ((args: unknown[], kwargs: Dict, details: Dict) => void) | undefined;
  cleanup(): void;
}

interface ActiveInvocation {
  readonly controller: AbortController;
  readonly receiveProgress: boolean;
  answered: boolean;
  /** The rest of a progressive call invocation's input, while more is expected. */
  input: AsyncQueue<InputChunk> | undefined;
}

/** Un-acknowledged PUBLISHes kept for a resume (they get no answer that would release them). */
const KEPT_PUBLISHES = 1000;
/** …and at most this many estimated bytes of them, the oldest going first. */
const KEPT_PUBLISH_BYTES = 1 << 20;

/** Live events buffered for one catch-up while its SUBSCRIBED is awaited; past it the oldest go (a gap notice says so). */
const CATCH_UP_BUFFER = 10_000;

/**
 * Milliseconds after SUBSCRIBED without a replayed event after which an empty replay is taken as
 * complete (only when live events wait behind it; a replay that has begun ends at its
 * `history_last` mark, the first live event or any other message).
 */
const REPLAY_IDLE_MS = 100;

/**
 * One router subscription catching up after a resume: SUBSCRIBE again with `history`, live events
 * buffered until its SUBSCRIBED, then the replay, then the buffered ones, each publication once.
 */
interface CatchUp {
  /** `waiting`: for SUBSCRIBED (live events are buffered); `replaying`: SUBSCRIBED came, replayed EVENTs follow. */
  phase: 'waiting' | 'replaying';
  readonly members: Subscription<unknown[], unknown>[];
  readonly buffered: Event[];
  /** Publications delivered by this catch-up (dedupe). */
  readonly seen: Set<PublicationId>;
  /** Live events dropped from a full buffer. */
  overflow: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Asked `{last: missed}` (no event seen before the cut): the router replays the newest `missed`
   * events when it reads the SUBSCRIBE, which include the live events buffered meanwhile; each of
   * those pushed one of the oldest missed ones out of the replay. The replay is held until its end
   * to count them and say that gap before it.
   */
  readonly byCount: boolean;
  readonly held: Event[];
  /** WELCOME.Details.resume-missed's count for it: carried to the next resume if this one is cut short. */
  readonly missed: number;
}

/** How a resume tells the session what the router kept (WELCOME.Details of a resumed session). */
export interface Resumed extends Attached {
  /**
   * WELCOME.Details.resume-last-request: requests after it are sent again. Undefined: the router
   * did not say (not Switchboard): nothing is sent again, pending requests fail (they may have run).
   */
  lastRequest: number | undefined;
  /**
   * WELCOME.Details.resume-resent: how many kept answers follow the WELCOME. They are handled
   * (revocations, a SUBSCRIBED lost in the cut) before the catch-ups start. Undefined: at once.
   */
  resent: number | undefined;
  /** WELCOME.Details.resume-missed: EVENTs dropped per router subscription while detached. */
  missed: ReadonlyMap<SubscriptionId, number>;
  /**
   * The session was paused cleanly (the router's GOODBYE resumable): nothing was in flight, so
   * `missed` is all that was lost. False after a broken connection (events may have been in flight).
   */
  exact: boolean;
}

interface OpenWaiter {
  resolve(transport: Transport): void;
  reject(error: Error): void;
}

/** What the connection tells the session about each WAMP session it attaches. */
export interface Attached {
  transport: Transport;
  session: SessionId;
  details: Dict;
}

/** How restoring one subscription or registration after a reconnect went. */
export type RestoreOutcome =
  | { kind: 'subscription'; uri: string; subscription: Subscription<unknown[], unknown>; ok: true }
  | { kind: 'subscription'; uri: string; subscription: Subscription<unknown[], unknown>; ok: false; error: Error }
  | { kind: 'registration'; uri: string; registration: Registration; ok: true }
  | { kind: 'registration'; uri: string; registration: Registration; ok: false; error: Error };

/** The hooks the session needs from its connection. */
export interface SessionHost {
  protocolViolation(detail: string): void;
  reportHandlerError(error: unknown, context: string): void;
}

export class Session<Api extends ApiContract = Untyped> implements SubscriptionOwner, RegistrationOwner {
  #attached: Attached | undefined;
  #lastRequest = 0;
  #brokerFeatures: Dict = {};
  #dealerFeatures: Dict = {};
  readonly #requests = new Map<number, PendingRequest>();
  readonly #calls = new Map<number, PendingCall>();
  readonly #subscriptions = new Set<Subscription<unknown[], unknown>>();
  readonly #subscriptionsById = new Map<SubscriptionId, Set<Subscription<unknown[], unknown>>>();
  /**
   * The subscription a catch-up replay is for, by router subscription, from its SUBSCRIBED to the
   * first live event: replayed EVENTs go to it alone, not to the other local subscriptions that
   * share the router's subscription.
   */
  readonly #replayTo = new Map<SubscriptionId, Subscription<unknown[], unknown>>();
  readonly #registrations = new Set<Registration>();
  readonly #registrationsById = new Map<RegistrationId, Registration>();
  readonly #invocations = new Map<number, ActiveInvocation>();
  readonly #openWaiters = new Set<OpenWaiter>();
  #ended: Error | undefined;

  // [ap_session_resumption] What a resume needs; kept only while the session is resumable.
  /** WELCOME.Details.resumable of the current WAMP session. */
  #resumable = false;
  /** Answers received in this WAMP session, across its resumes (HELLO.Details.resume-answers). */
  #answers = 0;
  /** Requests sent and not answered yet, by ID: sent again after a resume when the router did not get them. */
  readonly #unanswered = new Map<number, WampMessage>();
  /** The last un-acknowledged PUBLISHes, oldest first (sent again after a resume when the router did not get them). */
  #published: { request: number; msg: WampMessage; bytes: number }[] = [];
  /** Calls whose input goes out in chunks (progressive call invocations): they do not survive a lost link. */
  readonly #chunked = new Set<number>();
  /** Why the link went while a resume may follow: pending requests wait for the next WELCOME. */
  #suspended: Error | undefined;
  /** The last publication seen per router subscription: where a catch-up after a resume starts. */
  readonly #lastSeen = new Map<SubscriptionId, PublicationId>();
  readonly #catchUps = new Map<SubscriptionId, CatchUp>();
  /** Catch-ups in the `replaying` phase. */
  #replaying = 0;
  /** Subscriptions and registrations the application ended while suspended: undone on the router after a resume. */
  #orphans: { kind: 'subscription' | 'registration'; id: number }[] = [];
  /** Calls given up (abort, client timeout) while suspended: CANCELed after a resume if the router has them. */
  #toCancel: { request: number; mode: string }[] = [];
  /** The estimated bytes of `#published` (bounded by KEPT_PUBLISH_BYTES). */
  #publishedBytes = 0;
  /** Kept answers still to come after a resumed WELCOME, before the catch-ups start. */
  #resentLeft = 0;
  /** The catch-ups to start once the kept answers are handled. */
  #deferredCatchUp: { missed: ReadonlyMap<SubscriptionId, number>; exact: boolean } | undefined;
  /**
   * resume-missed counts of a resume cut short before its catch-ups ended: the router said them
   * once, so the next resume adds them to its own (a gap notice keeps its count).
   */
  #carriedMissed: Map<SubscriptionId, number> | undefined;
  /**
   * Requests failed at a resume that did not say what the router handled: their late answers are
   * dropped (a SUBSCRIBED or REGISTERED undone), not taken for a protocol violation.
   */
  readonly #forgotten = new Set<number>();

  /** @internal created by its Connection */
  constructor(
    readonly connection: Connection<Api>,
    readonly realm: string,
    private readonly host: SessionHost,
  ) {}

  // ---- state -------------------------------------------------------------------------------

  /** The WAMP session ID, while a session is open. */
  get id(): SessionId | undefined {
    return this.#attached?.session;
  }

  get isOpen(): boolean {
    return this.#attached !== undefined;
  }

  /**
   * Whether the current WAMP session can be resumed after a lost connection (the router granted
   * `resumable`). While the connection is down and a resume may follow, pending calls and requests
   * wait for it.
   */
  get resumable(): boolean {
    return this.#resumable;
  }

  /** @internal the last request ID sent in this WAMP session (a resume's resume-last-request cannot be past it). */
  get lastRequestSent(): number {
    return this.#lastRequest;
  }

  /** @internal answers received in this WAMP session (HELLO.Details.resume-answers). */
  get answers(): number {
    return this.#answers;
  }

  /** WELCOME.Details of the current session (roles, authid, authrole, …). */
  get details(): Dict | undefined {
    return this.#attached?.details;
  }

  /** The serializer in use (`json`, `msgpack`, `cbor`). */
  get serializer(): string | undefined {
    return this.#attached?.transport.codec.name;
  }

  /** Whether the router announced an Advanced Profile feature for its broker or dealer role. */
  supports(role: 'broker' | 'dealer', feature: string): boolean {
    return (role === 'broker' ? this.#brokerFeatures : this.#dealerFeatures)[feature] === true;
  }

  /** Subscriptions and registrations that are kept across reconnects. */
  get subscriptions(): readonly Subscription<unknown[], unknown>[] {
    return [...this.#subscriptions];
  }

  get registrations(): readonly Registration[] {
    return [...this.#registrations];
  }

  /** GOODBYE, close the connection, and never reconnect. */
  leave(reason?: string, message?: string): Promise<void> {
    return this.connection.close(reason, message);
  }

  // ---- publish & subscribe -----------------------------------------------------------------

  /**
   * PUBLISH. Resolves once sent, or, with `acknowledge: true`, once the broker acknowledged it
   * (with the publication ID); rejects with the broker's WampError.
   */
  publish<T extends TopicUri<Api>>(topic: T, ...rest: PayloadWith<TopicOf<Api, T>, PublishOptions>): Promise<PublicationId | undefined> {
    const [args, kwargs, options = {}] = rest as unknown as [unknown[]?, Dict?, PublishOptions?];
    return this.#withTransport(options.waitForConnectionMs, 'publish', async () => {
      const build = (request: RequestId): WampMessage =>
        withPayload({ code: MessageCode.Publish, request, options: wireOptions(options), topic }, args, kwargs);
      if (options.acknowledge !== true) {
        this.#send(build);
        return undefined;
      }
      const ack = (await this.#request(MessageCode.Publish, build)) as Published;
      return ack.publication;
    });
  }

  /** SUBSCRIBE with a handler called for each event. */
  subscribe<T extends SubscribableUri<Api>>(
    topic: T,
    handler: EventHandler<ArgsOf<SubscribableOf<Api, T>>, KwargsOf<SubscribableOf<Api, T>>>,
    options?: SubscribeOptions,
  ): Promise<Subscription<ArgsOf<SubscribableOf<Api, T>>, KwargsOf<SubscribableOf<Api, T>>>>;
  /** SUBSCRIBE as an async iterator: `for await (const { args, kwargs, details } of sub)`. */
  subscribe<T extends SubscribableUri<Api>>(
    topic: T,
    options?: SubscribeOptions,
  ): Promise<Subscription<ArgsOf<SubscribableOf<Api, T>>, KwargsOf<SubscribableOf<Api, T>>>>;
  async subscribe(topic: string, handlerOrOptions?: unknown, maybeOptions?: SubscribeOptions): Promise<unknown> {
    const handler = typeof handlerOrOptions === 'function' ? (handlerOrOptions as EventHandler<unknown[], unknown>) : undefined;
    const options = (handler !== undefined ? maybeOptions : (handlerOrOptions as SubscribeOptions | undefined)) ?? {};
    return this.#withTransport(options.waitForConnectionMs, 'subscribe', async () => {
      const subscription = new Subscription<unknown[], unknown>(this, topic, wireOptions(options), handler, options.queueLimit);
      await this.#subscribeOnWire(subscription);
      this.#subscriptions.add(subscription);
      return subscription;
    });
  }

  /** @internal use subscription.unsubscribe() */
  async unsubscribe(subscription: Subscription<unknown[], unknown>): Promise<void> {
    if (!subscription.active) return;
    this.#subscriptions.delete(subscription);
    const id = subscription.id;
    subscription.close();
    if (id === undefined) return;
    const shared = this.#subscriptionsById.get(id);
    shared?.delete(subscription);
    // The router has one subscription per topic for all of this session's subscribers of it.
    if (this.#replayTo.get(id) === subscription) this.#replayTo.delete(id);
    if (shared !== undefined && shared.size > 0) return;
    this.#subscriptionsById.delete(id);
    this.#lastSeen.delete(id);
    this.#catchUpEnded(id);
    if (this.#attached === undefined) {
      if (this.#suspended !== undefined) this.#orphans.push({ kind: 'subscription', id });
      return;
    }
    await this.#request(MessageCode.Unsubscribe, (request) => ({ code: MessageCode.Unsubscribe, request, subscription: id }));
  }

  async #subscribeOnWire(subscription: Subscription<unknown[], unknown>): Promise<void> {
    await this.#request(
      MessageCode.Subscribe,
      (request) => ({ code: MessageCode.Subscribe, request, options: subscription.wireOptions, topic: subscription.topic }),
      (msg) => {
        const ack = msg as Subscribed;
        if (!subscription.active) {
          // Unsubscribed while SUBSCRIBE was in flight.
          if (!this.#subscriptionsById.has(ack.subscription)) {
            this.#send((request) => ({ code: MessageCode.Unsubscribe, request, subscription: ack.subscription }));
          }
          return;
        }
        subscription.id = ack.subscription;
        let set = this.#subscriptionsById.get(ack.subscription);
        if (set === undefined) this.#subscriptionsById.set(ack.subscription, (set = new Set()));
        set.add(subscription);
        // The replay, if any, follows this SUBSCRIBED at once (the router sends them together).
        if (subscription.options['history'] !== undefined) this.#replayTo.set(ack.subscription, subscription);
      },
    );
  }

  // ---- routed RPC: caller ------------------------------------------------------------------

  /** CALL; resolves to the callee's result (its first positional result). */
  call<P extends CallableUri<Api>>(
    procedure: P,
    ...rest: PayloadWith<CallableOf<Api, P>, CallOptions<ProgressOf<CallableOf<Api, P>>>>
  ): Promise<ResultOf<CallableOf<Api, P>>> {
    const [args, kwargs, options = {}] = rest as unknown as [unknown[]?, Dict?, CallOptions?];
    return this.#call(procedure, args, kwargs, options, options.onProgress).then((r) => r.value as ResultOf<CallableOf<Api, P>>);
  }

  /** CALL; resolves to everything the RESULT carried (all positional and keyword results, details). */
  callResult<P extends CallableUri<Api>>(
    procedure: P,
    args?: unknown[],
    kwargs?: Dict,
    options: Omit<CallOptions, 'onProgress'> = {},
  ): Promise<CallResult<ResultOf<CallableOf<Api, P>>>> {
    return this.#call(procedure, args, kwargs, options, undefined) as Promise<CallResult<ResultOf<CallableOf<Api, P>>>>;
  }

  /**
   * CALL with progressive results as an async iterator; `result` gives the whole final RESULT
   * (all positional and keyword results, details).
   */
  callStream<P extends CallableUri<Api>>(
    procedure: P,
    ...rest: PayloadWith<CallableOf<Api, P>, Omit<CallOptions, 'onProgress'>>
  ): ProgressiveCall<ProgressOf<CallableOf<Api, P>>, ResultOf<CallableOf<Api, P>>> {
    const [args, kwargs, options = {}] = rest as unknown as [unknown[]?, Dict?, CallOptions?];
    return new ProgressiveCall(
      (onProgress) =>
        this.#call(procedure, args, kwargs, options, onProgress as PendingCall['onProgress']) as Promise<CallResult<ResultOf<CallableOf<Api, P>>>>,
    );
  }

  /**
   * CALL whose arguments go out in chunks (progressive call invocations): `send()` each chunk,
   * `end()` the last; progressive results through the async iterator, the final one in `result`.
   * Needs an open session and a dealer that announces progressive_call_invocations.
   */
  callWithInput<P extends ProcedureUri<Api>>(
    procedure: P,
    options: Omit<CallOptions, 'onProgress' | 'waitForConnectionMs'> = {},
  ): CallInput<ArgsOf<ProcedureOf<Api, P>>, KwargsOf<ProcedureOf<Api, P>>, ProgressOf<ProcedureOf<Api, P>>, ResultOf<ProcedureOf<Api, P>>> {
    type Input = CallInput<ArgsOf<ProcedureOf<Api, P>>, KwargsOf<ProcedureOf<Api, P>>, ProgressOf<ProcedureOf<Api, P>>, ResultOf<ProcedureOf<Api, P>>>;
    return new CallInput((input: Input) => {
      let started: { request: RequestId; transport: Transport } | undefined;
      return {
        send: (args, kwargs, last) => {
          if (started === undefined) {
            const transport = this.#attached?.transport;
            if (transport === undefined) throw new NotConnectedError('cannot call: not connected');
            if (!last && !this.supports('dealer', 'progressive_call_invocations')) {
              throw new WampError(ErrorUri.FeatureNotSupported, ['the dealer does not announce progressive_call_invocations']);
            }
            const begun = this.#beginCall(
              procedure,
              args,
              kwargs,
              options,
              (a, k, d) => input.progress(a as ProgressOf<ProcedureOf<Api, P>>, k, d),
              last ? {} : { progress: true },
            );
            started = { request: begun.request, transport };
            begun.promise.then(
              (result) => input.settle(result as CallResult<ResultOf<ProcedureOf<Api, P>>>),
              (err: unknown) => input.fail(toError(err)),
            );
            return;
          }
          const { request, transport } = started;
          if (this.#attached?.transport !== transport || !this.#calls.has(request)) throw new Error('the call is over: it takes no more input');
          // [ap_rpc_progressive_call_invocations] Later chunks reuse the first CALL's request ID.
          transport.send(withPayload({ code: MessageCode.Call, request, options: last ? {} : { progress: true }, procedure }, args, kwargs));
        },
      };
    });
  }

  #call(
    procedure: string,
    args: unknown[] | undefined,
    kwargs: Dict | undefined,
    options: CallOptions,
    onProgress: PendingCall['onProgress'],
  ): Promise<CallResult> {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(this.#canceledError(signal));
    return this.#withTransport(options.waitForConnectionMs, 'call', () => this.#beginCall(procedure, args, kwargs, options, onProgress, {}).promise);
  }

  /** Sends CALL and tracks it until RESULT, ERROR, abort, timeout, or the session's end. */
  #beginCall(
    procedure: string,
    args: unknown[] | undefined,
    kwargs: Dict | undefined,
    options: CallOptions,
    onProgress: PendingCall['onProgress'],
    extraWire: Dict,
  ): { request: RequestId; promise: Promise<CallResult> } {
    const signal = options.signal;
    if (signal?.aborted === true) throw this.#canceledError(signal);
    const wire = { ...wireOptions(options), ...extraWire };
    const dealerTimeout = options.timeout !== undefined && options.timeout > 0 && this.supports('dealer', 'call_timeout');
    if (dealerTimeout) wire['timeout'] = options.timeout;
    if (onProgress !== undefined) wire['receive_progress'] = true;
    const request = this.#send((request) => withPayload({ code: MessageCode.Call, request, options: wire, procedure }, args, kwargs));
    const promise = new Promise<CallResult>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const giveUp = (error: Error): void => {
        if (this.#calls.get(request) !== pending) return;
        this.#calls.delete(request);
        this.#unanswered.delete(request);
        this.#chunked.delete(request);
        cleanup();
        // Only a dealer that announces call_canceling understands CANCEL; otherwise the late
        // answer is dropped (its request ID is no longer pending). The call belongs to this WAMP
        // session, whichever transport carries it now; while suspended, the CANCEL waits for the
        // resume (the router may have the call and run it on).
        const mode = options.cancelMode ?? 'killnowait';
        if (this.#attached !== undefined) {
          if (this.supports('dealer', 'call_canceling')) this.#trySend({ code: MessageCode.Cancel, request, options: { mode } });
        } else if (this.#suspended !== undefined) {
          this.#toCancel.push({ request, mode });
        }
        reject(error);
      };
      const onAbort = (): void => giveUp(this.#canceledError(signal!));
      const pending: PendingCall = { resolve, reject, onProgress, cleanup };
      this.#calls.set(request, pending);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeout !== undefined && options.timeout > 0 && !dealerTimeout) {
        const ms = options.timeout;
        timer = setTimeout(() => giveUp(new WampError(ErrorUri.Timeout, [`no result within ${ms} ms (timeout enforced by the client)`])), timerMs(ms));
      }
    });
    return { request, promise };
  }

  #canceledError(signal: AbortSignal): WampError {
    const reason: unknown = signal.reason;
    return new WampError(ErrorUri.Canceled, ['the call was canceled by its caller'], {}, { cause: reason });
  }

  // ---- routed RPC: callee ------------------------------------------------------------------

  /**
   * REGISTER a procedure. The handler's return value (or resolved promise) is the result; throw a
   * WampError to answer with an application error URI (anything else becomes wamp.error.runtime_error).
   */
  register<P extends ProcedureUri<Api>>(
    procedure: P,
    handler: ProcedureHandler<
      ArgsOf<ProcedureOf<Api, P>>,
      KwargsOf<ProcedureOf<Api, P>>,
      ResultOf<ProcedureOf<Api, P>> | Result,
      ProgressOf<ProcedureOf<Api, P>>
    >,
    options: RegisterOptions = {},
  ): Promise<Registration> {
    return this.#withTransport(options.waitForConnectionMs, 'register', async () => {
      const registration = new Registration(this, procedure, wireOptions(options), handler as unknown as ProcedureHandler);
      await this.#registerOnWire(registration);
      this.#registrations.add(registration);
      return registration;
    });
  }

  /** @internal use registration.unregister() */
  async unregister(registration: Registration): Promise<void> {
    if (!registration.active) return;
    this.#registrations.delete(registration);
    const id = registration.id;
    registration.close();
    if (id === undefined) return;
    this.#registrationsById.delete(id);
    if (this.#attached === undefined) {
      if (this.#suspended !== undefined) this.#orphans.push({ kind: 'registration', id });
      return;
    }
    await this.#request(MessageCode.Unregister, (request) => ({ code: MessageCode.Unregister, request, registration: id }));
  }

  async #registerOnWire(registration: Registration): Promise<void> {
    await this.#request(
      MessageCode.Register,
      (request) => ({ code: MessageCode.Register, request, options: registration.options, procedure: registration.procedure }),
      (msg) => {
        const ack = msg as Registered;
        if (!registration.active) {
          // Unregistered while REGISTER was in flight.
          this.#send((request) => ({ code: MessageCode.Unregister, request, registration: ack.registration }));
          return;
        }
        registration.id = ack.registration;
        this.#registrationsById.set(ack.registration, registration);
      },
    );
  }

  #onInvocation(msg: Invocation): void {
    const running = this.#invocations.get(msg.request);
    if (running !== undefined) {
      // [ap_rpc_progressive_call_invocations] A further chunk of a progressive call's input.
      if (running.input === undefined) return;
      running.input.push({ args: listArgs(msg.args), kwargs: msg.kwargs ?? {} });
      if (msg.details['progress'] !== true) {
        running.input.end();
        running.input = undefined;
      }
      return;
    }
    const registration = this.#registrationsById.get(msg.registration);
    if (registration === undefined) {
      this.#trySend({
        code: MessageCode.Error,
        requestType: MessageCode.Invocation,
        request: msg.request,
        details: {},
        error: ErrorUri.NoSuchRegistration,
        args: [`no registration ${msg.registration} in this session`],
      });
      return;
    }
    const input = msg.details['progress'] === true ? new AsyncQueue<InputChunk>() : undefined;
    const invocation: ActiveInvocation = {
      controller: new AbortController(),
      receiveProgress: msg.details['receive_progress'] === true,
      answered: false,
      input,
    };
    this.#invocations.set(msg.request, invocation);
    const request = msg.request;
    const details: InvocationDetails = {
      signal: invocation.controller.signal,
      receiveProgress: invocation.receiveProgress,
      procedure: typeof msg.details['procedure'] === 'string' ? msg.details['procedure'] : registration.procedure,
      request,
      raw: msg.details,
      progress: (args, kwargs) => {
        if (!invocation.receiveProgress || invocation.answered || this.#invocations.get(request) !== invocation) return;
        this.#trySend(withPayload({ code: MessageCode.Yield, request, options: { progress: true } }, args, kwargs));
      },
    };
    if (input !== undefined) details.input = input;
    if (typeof msg.details['caller'] === 'number') details.caller = msg.details['caller'];
    if (typeof msg.details['caller_authid'] === 'string') details.caller_authid = msg.details['caller_authid'];
    if (typeof msg.details['caller_authrole'] === 'string') details.caller_authrole = msg.details['caller_authrole'];
    const timeout = msg.details['timeout'];
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (typeof timeout === 'number' && timeout > 0) {
      // [ap_rpc_call_timeout] callee-side: the dealer forwarded the timeout; stop working when it passes.
      // Clamped: a longer delay than a timer holds (from another router) would fire at once.
      timer = setTimeout(() => invocation.controller.abort(new WampError(ErrorUri.Timeout, [`call timed out after ${timeout} ms`])), timerMs(timeout));
    }
    let outcome: unknown;
    try {
      outcome = registration.handler(listArgs(msg.args), msg.kwargs ?? {}, details);
    } catch (err) {
      clearTimeout(timer);
      this.#answerInvocation(request, invocation, { error: err });
      return;
    }
    Promise.resolve(outcome).then(
      (value) => {
        clearTimeout(timer);
        this.#answerInvocation(request, invocation, { value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.#answerInvocation(request, invocation, { error });
      },
    );
  }

  #answerInvocation(request: RequestId, invocation: ActiveInvocation, outcome: { value: unknown } | { error: unknown }): void {
    // A different object under this ID means the answer belongs to an earlier WAMP session.
    if (invocation.answered || this.#invocations.get(request) !== invocation) return;
    invocation.answered = true;
    this.#invocations.delete(request);
    invocation.input?.end();
    if ('value' in outcome) {
      const { value } = outcome;
      const msg =
        value instanceof Result
          ? withPayload({ code: MessageCode.Yield, request, options: {} }, value.args, value.kwargs)
          : withPayload({ code: MessageCode.Yield, request, options: {} }, value === undefined ? undefined : [value], undefined);
      try {
        this.#attached?.transport.send(msg);
      } catch (err) {
        this.#trySend({
          code: MessageCode.Error,
          requestType: MessageCode.Invocation,
          request,
          details: {},
          error: ErrorUri.InvalidArgument,
          args: [toError(err).message],
        });
      }
      return;
    }
    const { error } = outcome;
    const answer: ErrorMessage =
      error instanceof WampError
        ? withPayload({ code: MessageCode.Error, requestType: MessageCode.Invocation, request, details: {}, error: error.uri }, error.args, error.kwargs)
        : { code: MessageCode.Error, requestType: MessageCode.Invocation, request, details: {}, error: ErrorUri.RuntimeError, args: [toError(error).message] };
    try {
      this.#attached?.transport.send(answer);
    } catch {
      this.#trySend({
        code: MessageCode.Error,
        requestType: MessageCode.Invocation,
        request,
        details: {},
        error: ErrorUri.RuntimeError,
        args: ['the error could not be serialized'],
      });
    }
  }

  #onInterrupt(msg: Interrupt): void {
    const invocation = this.#invocations.get(msg.request);
    if (invocation === undefined || invocation.answered) return;
    invocation.answered = true;
    this.#invocations.delete(msg.request);
    const reason = typeof msg.options['reason'] === 'string' ? msg.options['reason'] : ErrorUri.Canceled;
    const error = new WampError(reason, ['the caller canceled the call'], { mode: msg.options['mode'] });
    invocation.input?.end(error);
    invocation.controller.abort(error);
    // [ap_rpc_call_canceling] The callee answers an INTERRUPT with ERROR wamp.error.canceled.
    this.#trySend({
      code: MessageCode.Error,
      requestType: MessageCode.Invocation,
      request: msg.request,
      details: {},
      error: ErrorUri.Canceled,
      args: ['canceled by the caller'],
    });
  }

  // ---- incoming ----------------------------------------------------------------------------

  /** @internal one message of the attached WAMP session (GOODBYE and ABORT stay with the connection). */
  handle(msg: WampMessage): void {
    if (this.#deferredCatchUp === undefined) return this.#handle(msg);
    // [ap_session_resumption] After a resumed WELCOME the router sends the kept answers first:
    // anything else means they are all here.
    const answer = ANSWER_CODES.has(msg.code);
    if (!answer) this.#startCatchUps();
    this.#handle(msg);
    if (answer && this.#deferredCatchUp !== undefined && --this.#resentLeft <= 0) this.#startCatchUps();
  }

  #startCatchUps(): void {
    const deferred = this.#deferredCatchUp;
    this.#deferredCatchUp = undefined;
    this.#resentLeft = 0;
    if (deferred !== undefined) this.#catchUpAll(deferred.missed, deferred.exact);
  }

  #handle(msg: WampMessage): void {
    if (ANSWER_CODES.has(msg.code)) this.#answered(msg);
    if (this.#replaying > 0) this.#endReplays(msg);
    switch (msg.code) {
      case MessageCode.Event:
        return this.#onEvent(msg);
      case MessageCode.Result:
        return this.#onResult(msg);
      case MessageCode.Invocation:
        return this.#onInvocation(msg);
      case MessageCode.Interrupt:
        return this.#onInterrupt(msg);
      case MessageCode.Published:
      case MessageCode.Subscribed:
      case MessageCode.Registered:
        return this.#settle(msg);
      case MessageCode.Unsubscribed:
        if (msg.request === 0) return this.#onRevoked('subscription', msg);
        return this.#settle(msg);
      case MessageCode.Unregistered:
        if (msg.request === 0) return this.#onRevoked('registration', msg);
        return this.#settle(msg);
      case MessageCode.Error:
        return this.#onError(msg);
      default:
        return this.host.protocolViolation(`received ${messageName(msg.code)} in an established session`);
    }
  }

  #settle(msg: Published | Subscribed | Unsubscribed | Registered | Unregistered): void {
    const requestType = (msg.code - 1) as Code; // PUBLISHED = PUBLISH + 1, SUBSCRIBED = SUBSCRIBE + 1, …
    const pending = this.#requests.get(msg.request);
    if (pending === undefined && this.#forgotten.delete(msg.request)) return this.#undoForgotten(msg);
    if (pending === undefined || pending.type !== requestType) {
      return this.host.protocolViolation(`received ${messageName(msg.code)} for request ${msg.request}, which is not a pending ${messageName(requestType)}`);
    }
    this.#requests.delete(msg.request);
    pending.resolve(msg);
  }

  /** The late answer of a request failed at a resume: what it made on the router is undone (this client no longer knows it). */
  #undoForgotten(msg: Published | Subscribed | Unsubscribed | Registered | Unregistered): void {
    if (msg.code === MessageCode.Subscribed && !this.#subscriptionsById.has(msg.subscription)) {
      this.#request(MessageCode.Unsubscribe, (request) => ({ code: MessageCode.Unsubscribe, request, subscription: msg.subscription })).catch(() => {});
    } else if (msg.code === MessageCode.Registered && !this.#registrationsById.has(msg.registration)) {
      this.#request(MessageCode.Unregister, (request) => ({ code: MessageCode.Unregister, request, registration: msg.registration })).catch(() => {});
    }
  }

  #onError(msg: ErrorMessage): void {
    if (msg.requestType === MessageCode.Call) {
      const call = this.#calls.get(msg.request);
      if (call === undefined) return; // canceled or timed out here already: a late answer
      this.#calls.delete(msg.request);
      call.cleanup();
      call.reject(errorFrom(msg));
      return;
    }
    const pending = this.#requests.get(msg.request);
    if (pending === undefined && this.#forgotten.delete(msg.request)) return;
    if (pending === undefined || pending.type !== msg.requestType) {
      return this.host.protocolViolation(`received ERROR for ${messageName(msg.requestType)} request ${msg.request}, which is not pending`);
    }
    this.#requests.delete(msg.request);
    pending.reject(errorFrom(msg));
  }

  #onResult(msg: ResultMessage): void {
    const call = this.#calls.get(msg.request);
    if (call === undefined) return; // canceled or timed out: dropped
    const args = listArgs(msg.args);
    const kwargs = msg.kwargs ?? {};
    if (msg.details['progress'] === true) {
      try {
        call.onProgress?.(args, kwargs, msg.details);
      } catch (err) {
        this.host.reportHandlerError(err, 'onProgress');
      }
      return;
    }
    this.#calls.delete(msg.request);
    call.cleanup();
    call.resolve({ value: args[0], args, kwargs, details: msg.details });
  }

  #onEvent(msg: Event): void {
    if (this.#catchUps.size > 0) {
      const catchUp = this.#catchUps.get(msg.subscription);
      if (catchUp !== undefined) return this.#onCatchUpEvent(msg, catchUp);
    }
    if (msg.details['history'] === true) return this.#onReplayed(msg);
    if (this.#resumable && msg.details['retained'] !== true) this.#lastSeen.set(msg.subscription, msg.publication);
    // The first live event ends the replay of its subscription (and says its gap, if any).
    let catchingUp: Subscription<unknown[], unknown> | undefined;
    if (this.#replayTo.size > 0) {
      catchingUp = this.#replayTo.get(msg.subscription);
      this.#replayTo.delete(msg.subscription);
    }
    const subscribers = this.#subscriptionsById.get(msg.subscription);
    if (subscribers === undefined) return; // unsubscribed a moment ago
    for (const subscription of subscribers)
      subscription.deliver(listArgs(msg.args), msg.kwargs ?? {}, eventDetails(msg, subscription, false, subscription === catchingUp));
  }

  /** An event of a catch-up replay: for the subscription that asked for it only (dropped if it is gone). */
  #onReplayed(msg: Event): void {
    const subscription = this.#replayTo.get(msg.subscription);
    if (subscription === undefined || !subscription.active) return;
    // The replay of one subscriber among several is older news to the others: it moves no position.
    if (this.#resumable && msg.details['retained'] !== true && this.#subscriptionsById.get(msg.subscription)?.size === 1) {
      this.#lastSeen.set(msg.subscription, msg.publication);
    }
    subscription.deliver(listArgs(msg.args), msg.kwargs ?? {}, eventDetails(msg, subscription, true));
  }

  /** [UNSUBSCRIBED, 0, {subscription, reason}]: the router revoked a subscription (or registration). */
  #onRevoked(kind: 'subscription' | 'registration', msg: Unsubscribed | Unregistered): void {
    const details = msg.details ?? {};
    const reason = typeof details['reason'] === 'string' ? details['reason'] : `wamp.${kind}.revoked`;
    const id = details[kind];
    if (kind === 'subscription') {
      const set = this.#subscriptionsById.get(id as SubscriptionId);
      this.#subscriptionsById.delete(id as SubscriptionId);
      for (const subscription of set ?? []) {
        this.#subscriptions.delete(subscription);
        subscription.close(new WampError(reason, ['the router revoked this subscription']));
      }
    } else {
      const registration = this.#registrationsById.get(id as RegistrationId);
      this.#registrationsById.delete(id as RegistrationId);
      if (registration !== undefined) {
        this.#registrations.delete(registration);
        registration.close(new WampError(reason, ['the router revoked this registration']));
      }
    }
  }

  reportHandlerError(error: unknown, context: string): void {
    this.host.reportHandlerError(error, context);
  }

  // ---- sending -----------------------------------------------------------------------------

  /**
   * Sends a request under the next request ID. [bp_identifiers] IDs are sequential from 1 per
   * session across all request types; an ID is used only if its message really went out, so a
   * payload that cannot be serialized leaves no gap.
   */
  #send(build: (request: RequestId) => WampMessage): RequestId {
    const transport = this.#attached?.transport;
    if (transport === undefined) throw new NotConnectedError('not connected');
    const request = (this.#lastRequest >= MAX_ID ? 1 : this.#lastRequest + 1) as RequestId;
    const msg = build(request);
    transport.send(msg); // throws SerializerError: the ID stays unused
    this.#lastRequest = request;
    if (this.#resumable) this.#keep(request, msg);
    return request;
  }

  /** A request of a resumable session, kept until answered: a resume sends it again if the router did not get it. */
  #keep(request: number, msg: WampMessage): void {
    if (msg.code === MessageCode.Publish && msg.options['acknowledge'] !== true) {
      const bytes = estimateBytes(msg.args, msg.kwargs) + msg.topic.length;
      this.#published.push({ request, msg, bytes });
      this.#publishedBytes += bytes;
      while (this.#published.length > KEPT_PUBLISHES || this.#publishedBytes > KEPT_PUBLISH_BYTES) {
        this.#publishedBytes -= this.#published.shift()!.bytes;
      }
    } else if (msg.code === MessageCode.Call && msg.options['progress'] === true) {
      this.#chunked.add(request);
    } else {
      this.#unanswered.set(request, msg);
    }
  }

  #keepPublished(list: { request: number; msg: WampMessage; bytes: number }[]): void {
    this.#published = list;
    this.#publishedBytes = 0;
    for (const p of list) this.#publishedBytes += p.bytes;
  }

  /** One answer arrived: counted, and its request is no longer sent again at a resume. */
  #answered(msg: WampMessage): void {
    this.#answers++;
    if (!this.#resumable || (msg.code === MessageCode.Result && msg.details['progress'] === true)) return;
    const request = (msg as { request?: number }).request ?? 0;
    this.#unanswered.delete(request);
    if (this.#chunked.size > 0) this.#chunked.delete(request);
  }

  /**
   * A request answered by an acknowledgement or ERROR. `onAck` runs synchronously when the
   * acknowledgement is read, before any later frame: an EVENT or INVOCATION may follow
   * SUBSCRIBED or REGISTERED in the same read, and must find the new ID.
   */
  #request(type: Code, build: (request: RequestId) => WampMessage, onAck?: (msg: WampMessage) => void): Promise<WampMessage> {
    return new Promise<WampMessage>((resolve, reject) => {
      const request = this.#send(build);
      this.#requests.set(request, {
        type,
        resolve: (msg) => {
          try {
            onAck?.(msg);
          } catch (err) {
            reject(toError(err));
            return;
          }
          resolve(msg);
        },
        reject,
      });
    });
  }

  /** Sends a message that is not a new request (YIELD, ERROR, CANCEL); dropped if the session is gone. */
  #trySend(msg: WampMessage): void {
    try {
      this.#attached?.transport.send(msg);
    } catch (err) {
      this.host.reportHandlerError(err, `sending ${messageName(msg.code)}`);
    }
  }

  /** Runs `fn` with the open transport, waiting for one only if the caller opted in. */
  async #withTransport<T>(waitMs: number | undefined, what: string, fn: (transport: Transport) => T | Promise<T>): Promise<T> {
    const transport = this.#attached?.transport ?? (await this.#waitOpen(waitMs, what));
    return fn(transport);
  }

  #waitOpen(waitMs: number | undefined, what: string): Promise<Transport> {
    if (this.#ended !== undefined) {
      return Promise.reject(new NotConnectedError(`cannot ${what}: the session has ended (${this.#ended.message})`, { cause: this.#ended }));
    }
    if (waitMs === undefined || waitMs <= 0) {
      return Promise.reject(new NotConnectedError(`cannot ${what}: not connected (reconnecting); pass waitForConnectionMs to wait for the next session`));
    }
    return new Promise<Transport>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#openWaiters.delete(waiter);
        reject(new NotConnectedError(`cannot ${what}: no session within ${waitMs} ms`));
      }, waitMs);
      const waiter: OpenWaiter = {
        resolve: (transport) => {
          clearTimeout(timer);
          resolve(transport);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#openWaiters.add(waiter);
    });
  }

  // ---- lifecycle (driven by the connection) ------------------------------------------------

  /** @internal a new WAMP session is established: reset request IDs, read the router's features. */
  attach(attached: Attached): void {
    // A new WAMP session: what a resume of the old one would have said is moot.
    this.#carriedMissed = undefined;
    // Requests that waited for a resume that did not happen fail as a lost connection's always did.
    const suspended = this.#suspended;
    if (suspended !== undefined) this.#dropRequests(suspended);
    this.#attached = attached;
    this.#lastRequest = 0;
    this.#readFeatures(attached.details);
    this.#resumable = attached.details['resumable'] === true;
    this.#answers = 0;
    this.#unanswered.clear();
    this.#keepPublished([]);
    this.#chunked.clear();
    this.#lastSeen.clear();
    this.#orphans = [];
    this.#toCancel = [];
    this.#forgotten.clear();
  }

  #readFeatures(details: Dict): void {
    const roles = isDict(details['roles']) ? details['roles'] : {};
    const features = (role: string): Dict => {
      const r = roles[role];
      return isDict(r) && isDict(r['features']) ? r['features'] : {};
    };
    this.#brokerFeatures = features('broker');
    this.#dealerFeatures = features('dealer');
  }

  /**
   * @internal [ap_session_resumption] The router resumed this WAMP session on a new transport: same
   * session ID, subscriptions and registrations kept on the router, pending requests still pending
   * (the router resends the answers it kept right after WELCOME). Sends again, in order, the
   * requests the router did not get; fails the calls whose input went out in chunks; then has every
   * subscription catch up on what it missed (or says the gap).
   */
  resume(resumed: Resumed): void {
    const missed = this.#withCarried(resumed.missed);
    this.#attached = resumed;
    this.#suspended = undefined;
    this.#readFeatures(resumed.details);
    this.#resumable = resumed.details['resumable'] === true;
    const last = resumed.lastRequest;
    // Whether the router has request r (undefined: it did not say; a CANCEL of a call it lacks is harmless).
    const routerHas = (r: number): boolean => last === undefined || r <= last;
    const canceling = this.supports('dealer', 'call_canceling');
    const cancels = this.#toCancel;
    this.#toCancel = [];
    for (const request of this.#chunked) {
      const call = this.#calls.get(request);
      if (call === undefined) continue;
      this.#calls.delete(request);
      this.#unanswered.delete(request);
      call.cleanup();
      call.reject(new ConnectionLostError('the link broke while this call sent its input in chunks; the callee lost the call'));
      // The router has the call open, its callee waits for more input: end it there too.
      cancels.push({ request, mode: 'killnowait' });
    }
    this.#chunked.clear();
    const again: { request: number; msg: WampMessage }[] = [];
    if (last === undefined) {
      // A router without Switchboard's resume-last-request: whether it ran a request is unknown.
      // Sending it again could run it twice; so it fails, as after a reconnect that did not resume.
      for (const request of this.#unanswered.keys()) {
        this.#forgotten.add(request);
        this.#failRequest(request, new ConnectionLostError('the link broke and the router did not say whether it handled this request (it may have)'));
      }
      this.#keepPublished([]);
    } else {
      for (const [request, msg] of this.#unanswered) if (request > last) again.push({ request, msg });
      this.#keepPublished(this.#published.filter((p) => p.request > last));
      again.push(...this.#published);
      again.sort((a, b) => a.request - b.request);
    }
    for (const { request, msg } of again) {
      try {
        resumed.transport.send(msg);
      } catch (err) {
        // The new transport's serializer cannot carry it: that request fails, the others go on.
        this.#failRequest(request, toError(err));
      }
    }
    if (canceling) {
      for (const { request, mode } of cancels)
        if (routerHas(request)) this.#trySend({ code: MessageCode.Cancel, request: request as RequestId, options: { mode } });
    }
    const orphans = this.#orphans;
    this.#orphans = [];
    for (const orphan of orphans) {
      const undo =
        orphan.kind === 'subscription'
          ? this.#request(MessageCode.Unsubscribe, (request) => ({ code: MessageCode.Unsubscribe, request, subscription: orphan.id as SubscriptionId }))
          : this.#request(MessageCode.Unregister, (request) => ({ code: MessageCode.Unregister, request, registration: orphan.id as RegistrationId }));
      undo.catch(() => {});
    }
    // The catch-ups wait for the kept answers that follow the WELCOME (a revocation must not be
    // undone by a catch-up's SUBSCRIBE; a SUBSCRIBED lost in the cut must catch up too).
    if (resumed.resent !== undefined && resumed.resent > 0) {
      this.#resentLeft = resumed.resent;
      this.#deferredCatchUp = { missed, exact: resumed.exact };
    } else {
      this.#catchUpAll(missed, resumed.exact);
    }
  }

  /** This resume's resume-missed plus what a resume cut short carried (and no longer carries). */
  #withCarried(missed: ReadonlyMap<SubscriptionId, number>): ReadonlyMap<SubscriptionId, number> {
    const carried = this.#carriedMissed;
    if (carried === undefined) return missed;
    this.#carriedMissed = undefined;
    for (const [id, n] of missed) carried.set(id, (carried.get(id) ?? 0) + n);
    return carried;
  }

  /** A request kept for a resume that cannot be sent again: it fails with `error`. */
  #failRequest(request: number, error: Error): void {
    this.#unanswered.delete(request);
    this.#keepPublished(this.#published.filter((p) => p.request !== request));
    const call = this.#calls.get(request);
    if (call !== undefined) {
      this.#calls.delete(request);
      call.cleanup();
      call.reject(error);
      return;
    }
    const pending = this.#requests.get(request);
    this.#requests.delete(request);
    pending?.reject(error);
  }

  // ---- catch-up after a resume -------------------------------------------------------------

  /**
   * For each router subscription: with the broker's `history_catch_up`, SUBSCRIBE again (same topic
   * and options) with `history` after the last publication seen (or the last `missed` when none was
   * seen); else a gap notice with the count the router gave, unless nothing can have been lost.
   */
  #catchUpAll(missed: ReadonlyMap<SubscriptionId, number>, exact: boolean): void {
    const history = this.supports('broker', 'history_catch_up');
    for (const [id, set] of this.#subscriptionsById) {
      const members = [...set].filter((s) => s.active);
      if (members.length === 0) continue;
      const count = missed.get(id) ?? 0;
      const after = this.#lastSeen.get(id);
      if (history && (after !== undefined || count > 0)) {
        this.#catchUp(id, members, after !== undefined ? { after } : { last: count }, count, after === undefined);
      } else if (count > 0 || !exact) {
        for (const member of members) member.noticeGap(count > 0 ? count : undefined);
      }
    }
  }

  #catchUp(id: SubscriptionId, members: Subscription<unknown[], unknown>[], history: Dict, missed: number, byCount: boolean): void {
    const first = members[0]!;
    // The retained event was delivered at the first SUBSCRIBE: not again.
    const { get_retained: _retained, ...options } = first.options;
    const state: CatchUp = { phase: 'waiting', members, buffered: [], seen: new Set(), overflow: false, timer: undefined, byCount, held: [], missed };
    this.#catchUps.set(id, state);
    let sent: Promise<WampMessage>;
    try {
      sent = this.#request(
        MessageCode.Subscribe,
        (request) => ({ code: MessageCode.Subscribe, request, options: { ...options, history }, topic: first.topic }),
        (msg) => {
          if (this.#catchUps.get(id) !== state) return; // an earlier resume's catch-up
          if ((msg as Subscribed).subscription !== id) {
            // Not the subscription the session held (the router lost it?): deliver what is buffered, say the gap.
            this.#catchUpFailed(id, state, missed);
            return;
          }
          state.phase = 'replaying';
          this.#replaying++;
          this.#armReplayTimer(id, state);
        },
      );
    } catch (err) {
      this.#catchUpFailed(id, state, missed);
      this.host.reportHandlerError(err, `catching up on '${first.topic}' after a resume`);
      return;
    }
    sent.catch(() => {
      // ERROR wamp.error.history_unavailable (the topic keeps no history), a limit, a timeout: the
      // subscription itself stays; what it missed is said, never hidden.
      if (this.#catchUps.get(id) === state) this.#catchUpFailed(id, state, missed);
    });
  }

  #catchUpFailed(id: SubscriptionId, state: CatchUp, missed: number): void {
    for (const member of state.members) member.noticeGap(missed > 0 ? missed : undefined);
    this.#finishCatchUp(id, state);
  }

  /** The live events of a subscription catching up: buffered, or (after SUBSCRIBED) the replay. */
  #onCatchUpEvent(msg: Event, state: CatchUp): void {
    const replayed = msg.details['history'] === true;
    if (state.phase === 'waiting') {
      // A replay of an earlier resume's catch-up: this one replays the same and more.
      if (replayed) return;
      if (state.buffered.length >= CATCH_UP_BUFFER) {
        state.buffered.shift();
        state.overflow = true;
      }
      state.buffered.push(msg);
      return;
    }
    if (replayed) {
      // The replay has begun: it ends at its mark, the first live event or another message.
      clearTimeout(state.timer);
      state.timer = undefined;
      if (state.byCount && state.held.length < CATCH_UP_BUFFER) state.held.push(msg);
      else this.#deliverCaughtUp(msg, state, true, true);
      if (msg.details['history_last'] === true) this.#finishCatchUp(msg.subscription, state);
      return;
    }
    // The first live event after the replay ends it; it carries the catch-up's history_gap when
    // nothing was replayed.
    this.#finishCatchUp(msg.subscription, state);
    this.#deliverCaughtUp(msg, state, false, true);
  }

  #deliverCaughtUp(msg: Event, state: CatchUp, replayed: boolean, catchingUp: boolean): void {
    if (state.seen.has(msg.publication)) return;
    state.seen.add(msg.publication);
    if (msg.details['retained'] !== true) this.#lastSeen.set(msg.subscription, msg.publication);
    for (const member of state.members) member.deliver(listArgs(msg.args), msg.kwargs ?? {}, eventDetails(msg, member, replayed, catchingUp));
  }

  /**
   * The replay is over when its last event says `history_last` (the router marks it), at the first
   * live event, or at any other message (the router sends SUBSCRIBED, the replay and the events it
   * held in one block). Only an empty replay with live events waiting behind it has no such end:
   * after a pause without a replayed event they are delivered (nothing can be misordered then).
   */
  #armReplayTimer(id: SubscriptionId, state: CatchUp): void {
    if (state.buffered.length === 0 && !state.overflow) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      if (this.#catchUps.get(id) === state) this.#finishCatchUp(id, state);
    }, REPLAY_IDLE_MS);
  }

  #endReplays(msg: WampMessage): void {
    // An EVENT of a replaying subscription is its own (#onCatchUpEvent); anything else ends every replay.
    if (msg.code === MessageCode.Event && this.#catchUps.get(msg.subscription)?.phase === 'replaying') return;
    for (const [id, state] of this.#catchUps) if (state.phase === 'replaying') this.#finishCatchUp(id, state);
  }

  /** Delivers what was buffered and not replayed, in order, and ends the catch-up. */
  #finishCatchUp(id: SubscriptionId, state: CatchUp): void {
    this.#catchUpEnded(id);
    if (state.held.length > 0) {
      // `{last: missed}`: each buffered live event the replay holds pushed one of the oldest
      // missed events out of it. Those are lost: said before the replay, never hidden.
      const buffered = new Set(state.buffered.map((e) => e.publication));
      let pushedOut = 0;
      for (const e of state.held) if (buffered.has(e.publication)) pushedOut++;
      if (pushedOut > 0) for (const member of state.members) member.noticeGap(pushedOut);
      for (const msg of state.held) this.#deliverCaughtUp(msg, state, true, true);
      state.held.length = 0;
    }
    if (state.overflow) for (const member of state.members) member.noticeGap(undefined);
    for (const msg of state.buffered) this.#deliverCaughtUp(msg, state, false, false);
  }

  #catchUpEnded(id: SubscriptionId): void {
    const state = this.#catchUps.get(id);
    if (state === undefined) return;
    this.#catchUps.delete(id);
    clearTimeout(state.timer);
    if (state.phase === 'replaying') this.#replaying--;
  }

  #clearCatchUps(): void {
    for (const id of [...this.#catchUps.keys()]) this.#catchUpEnded(id);
  }

  /** @internal waiters for a session may go now (after restore). */
  releaseWaiters(): void {
    const transport = this.#attached?.transport;
    if (transport === undefined) return;
    for (const waiter of this.#openWaiters) waiter.resolve(transport);
    this.#openWaiters.clear();
  }

  /**
   * @internal after a reconnect: subscribe and register again with the original options and
   * handlers; what the router now refuses is closed with its error and reported.
   */
  async restore(): Promise<RestoreOutcome[]> {
    this.#subscriptionsById.clear();
    this.#replayTo.clear();
    this.#registrationsById.clear();
    const subscriptions = [...this.#subscriptions].map(async (subscription): Promise<RestoreOutcome> => {
      subscription.id = undefined;
      try {
        await this.#subscribeOnWire(subscription);
        return { kind: 'subscription', uri: subscription.topic, subscription, ok: true };
      } catch (err) {
        const error = toError(err);
        if (error instanceof WampError) {
          this.#subscriptions.delete(subscription);
          subscription.close(error);
        }
        return { kind: 'subscription', uri: subscription.topic, subscription, ok: false, error };
      }
    });
    const registrations = [...this.#registrations].map(async (registration): Promise<RestoreOutcome> => {
      registration.id = undefined;
      try {
        await this.#registerOnWire(registration);
        return { kind: 'registration', uri: registration.procedure, registration, ok: true };
      } catch (err) {
        const error = toError(err);
        if (error instanceof WampError) {
          this.#registrations.delete(registration);
          registration.close(error);
        }
        return { kind: 'registration', uri: registration.procedure, registration, ok: false, error };
      }
    });
    return Promise.all([...subscriptions, ...registrations]);
  }

  /**
   * @internal the link is gone. `suspend` (a resume may follow): requests and calls stay pending for
   * the next WELCOME, and the router keeps subscriptions and registrations; invocations this session
   * was serving end (the router answered their callers with wamp.error.session_unattached).
   * Otherwise the WAMP session ended: requests in flight fail with `error`; callee handlers see their
   * signal abort; with `final` (no reconnect), subscriptions and registrations close too.
   */
  detach(error: Error, final: boolean, suspend = false): void {
    this.#attached = undefined;
    const invocations = [...this.#invocations.values()];
    this.#invocations.clear();
    // A catch-up cut short: what it buffered is not delivered; the next resume catches up from the
    // last event seen, and keeps the counts the router said only once.
    if (suspend && !final) {
      const carry = (id: SubscriptionId, n: number): void => {
        if (n > 0) (this.#carriedMissed ??= new Map()).set(id, (this.#carriedMissed?.get(id) ?? 0) + n);
      };
      if (this.#deferredCatchUp !== undefined) for (const [id, n] of this.#deferredCatchUp.missed) carry(id, n);
      for (const [id, state] of this.#catchUps) carry(id, state.missed);
    } else this.#carriedMissed = undefined;
    this.#clearCatchUps();
    this.#deferredCatchUp = undefined;
    this.#resentLeft = 0;
    if (suspend && !final) {
      this.#suspended ??= error;
    } else {
      this.#dropRequests(this.#suspended ?? error);
      this.#resumable = false;
    }
    for (const invocation of invocations) {
      invocation.input?.end(error);
      invocation.controller.abort(error);
    }
    if (!final) return;
    this.#ended = error;
    const reason: ClosedReason =
      error instanceof SessionClosedError ? undefined : error instanceof WampError || error instanceof SwitchboardError ? error : undefined;
    for (const subscription of this.#subscriptions) subscription.close(reason);
    for (const registration of this.#registrations) registration.close(reason);
    this.#subscriptions.clear();
    this.#registrations.clear();
    for (const waiter of this.#openWaiters) waiter.reject(new NotConnectedError(`the session has ended (${error.message})`, { cause: error }));
    this.#openWaiters.clear();
  }

  /** The WAMP session is over: its requests and calls fail with `error`, its router IDs are void. */
  #dropRequests(error: Error): void {
    this.#suspended = undefined;
    const requests = [...this.#requests.values()];
    const calls = [...this.#calls.values()];
    this.#requests.clear();
    this.#calls.clear();
    this.#unanswered.clear();
    this.#keepPublished([]);
    this.#chunked.clear();
    this.#orphans = [];
    this.#toCancel = [];
    this.#forgotten.clear();
    for (const subscription of this.#subscriptions) subscription.id = undefined;
    for (const registration of this.#registrations) registration.id = undefined;
    this.#subscriptionsById.clear();
    this.#replayTo.clear();
    this.#registrationsById.clear();
    for (const pending of requests) pending.reject(error);
    for (const call of calls) {
      call.cleanup();
      call.reject(error);
    }
  }
}

/**
 * An estimate of the memory a payload holds (strings by their length, a value 16 bytes, a list or
 * dict 64 more), for the bound on un-acknowledged PUBLISHes kept for a resume. Iterative.
 */
function estimateBytes(args: unknown, kwargs: unknown): number {
  let total = 0;
  const stack: unknown[] = [args, kwargs];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') total += 16 + value.length;
    else if (value instanceof Uint8Array) total += 64 + value.byteLength;
    else if (Array.isArray(value)) {
      total += 64 + 8 * value.length;
      for (const v of value) stack.push(v);
    } else if (typeof value === 'object' && value !== null) {
      total += 64;
      for (const [k, v] of Object.entries(value)) {
        total += 16 + k.length;
        stack.push(v);
      }
    } else total += 16;
  }
  return total;
}
