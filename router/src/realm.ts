/**
 * One realm: its sessions, broker and dealer, and the glue that turns their plans into messages.
 * EVENTs are encoded once per subscription per serializer and the same bytes go to every subscriber.
 */
import type {
  Call,
  Codec,
  Dict,
  ErrorMessage,
  Event,
  Hello,
  Invocation,
  Publish,
  Register,
  Result,
  SessionId,
  Subscribe,
  Unregister,
  Unsubscribe,
  Yield,
} from '@switchboard/schemas';
import { ErrorUri, MessageCode, isReservedUri, isValidUri, toWire } from '@switchboard/schemas';
import type { UriCheck } from '@switchboard/schemas';
import { Broker } from './broker/broker.js';
import type { DeliveryPlan } from './broker/broker.js';
import { Dealer } from './dealer/dealer.js';
import type { Logger } from './log.js';
import type { RouterSession, SessionIdentity } from './session.js';
import { VERSION } from './version.js';

/** An encoded frame, or null when the payload could not be encoded. */
type Frame = string | Uint8Array | null;

export interface RealmOptions {
  name: string;
  uriCheck: UriCheck;
}

/** Features announced in WELCOME: only what this router really implements. */
const ROLES = {
  broker: { features: {} },
  dealer: { features: {} },
} as const;

export class Realm {
  readonly name: string;
  readonly broker = new Broker<RouterSession>();
  readonly dealer = new Dealer<RouterSession>();
  readonly sessions = new Map<SessionId, RouterSession>();
  readonly #uriCheck: UriCheck;
  #anonymousCount = 0;

  constructor(
    options: RealmOptions,
    private readonly log: Logger,
  ) {
    this.name = options.name;
    this.#uriCheck = options.uriCheck;
  }

  // ---- membership --------------------------------------------------------------------------

  authenticate(_session: RouterSession, _hello: Hello): SessionIdentity {
    // Anonymous access (the only method of the Basic Profile); authid is unique within the realm.
    return { authid: `anonymous-${++this.#anonymousCount}`, authrole: 'anonymous', authmethod: 'anonymous', authprovider: 'static' };
  }

  welcomeDetails(identity: SessionIdentity): Dict {
    return { realm: this.name, agent: `switchboard-${VERSION}`, roles: ROLES, ...identity };
  }

  join(session: RouterSession): void {
    this.sessions.set(session.id, session);
    this.log.debug({ realm: this.name, session: session.id, authid: session.identity?.authid }, 'session joined');
  }

  leave(session: RouterSession): void {
    if (!this.sessions.delete(session.id)) return;
    this.broker.removeSession(session);
    const removal = this.dealer.removeSession(session);
    // A callee left: every call pending on it ends now, not at some timeout.
    for (const call of removal.orphanedCalls) {
      call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.Canceled, 'callee left the realm before answering');
    }
    this.log.debug({ realm: this.name, session: session.id }, 'session left');
  }

  // ---- publish & subscribe -----------------------------------------------------------------

  onSubscribe(session: RouterSession, msg: Subscribe): void {
    const match = msg.options.match ?? 'exact';
    if (match !== 'exact') {
      return session.sendError(MessageCode.Subscribe, msg.request, ErrorUri.InvalidArgument, `match policy '${String(match)}' is not supported`);
    }
    if (!isValidUri(msg.topic, this.#uriCheck)) {
      return session.sendError(MessageCode.Subscribe, msg.request, ErrorUri.InvalidUri, `invalid topic URI '${msg.topic}'`);
    }
    const { subscription } = this.broker.subscribe(session, msg.topic, match);
    session.send({ code: MessageCode.Subscribed, request: msg.request, subscription: subscription.id });
  }

  onUnsubscribe(session: RouterSession, msg: Unsubscribe): void {
    if (this.broker.unsubscribe(session, msg.subscription) === undefined) {
      return session.sendError(MessageCode.Unsubscribe, msg.request, ErrorUri.NoSuchSubscription);
    }
    session.send({ code: MessageCode.Unsubscribed, request: msg.request });
  }

  onPublish(session: RouterSession, msg: Publish): void {
    const acknowledge = msg.options.acknowledge === true;
    const invalid = !isValidUri(msg.topic, this.#uriCheck) ? `invalid topic URI '${msg.topic}'` : isReservedUri(msg.topic) ? `topic '${msg.topic}' uses the reserved 'wamp' prefix` : undefined;
    if (invalid !== undefined) {
      if (acknowledge) session.sendError(MessageCode.Publish, msg.request, ErrorUri.InvalidUri, invalid);
      return;
    }
    const plan = this.broker.publish(session, msg.topic, { excludeMe: msg.options.exclude_me !== false });
    if (plan.subscriptions.length > 0) this.#deliver(plan, msg);
    if (acknowledge) session.send({ code: MessageCode.Published, request: msg.request, publication: plan.publication });
  }

  #deliver(plan: DeliveryPlan<RouterSession>, msg: Publish): void {
    const event: Event = { code: MessageCode.Event, subscription: 0 as Event['subscription'], publication: plan.publication, details: {} };
    if (msg.args !== undefined) event.args = msg.args;
    if (msg.kwargs !== undefined) event.kwargs = msg.kwargs;
    for (const subscription of plan.subscriptions) {
      event.subscription = subscription.id;
      // Serialize once per subscription per serializer; every subscriber gets the same bytes.
      // The first serializer seen is kept in locals: most realms use one.
      let wire: unknown[] | undefined;
      let codec0: Codec | undefined;
      let frame0: Frame = null;
      let others: Map<Codec, Frame> | undefined;
      for (const subscriber of subscription.subscribers) {
        if (subscriber === plan.exclude) continue;
        const codec = subscriber.peer.codec;
        let frame: Frame | undefined;
        if (codec === codec0) frame = frame0;
        else {
          frame = others?.get(codec);
          if (frame === undefined) {
            frame = this.#encodeEvent(codec, (wire ??= toWire(event)));
            if (codec0 === undefined) {
              codec0 = codec;
              frame0 = frame;
            } else (others ??= new Map()).set(codec, frame);
          }
        }
        if (frame !== null) subscriber.peer.sendDroppable(frame);
      }
    }
  }

  /** null when the payload cannot be represented in this serializer: those subscribers miss the event. */
  #encodeEvent(codec: Codec, wire: unknown[]): Frame {
    try {
      return codec.encode(wire);
    } catch (err) {
      this.log.warn({ realm: this.name, serializer: codec.name, err: (err as Error).message }, 'cannot serialize EVENT: not delivered to these subscribers');
      return null;
    }
  }

  // ---- routed RPC --------------------------------------------------------------------------

  onRegister(session: RouterSession, msg: Register): void {
    const match = msg.options.match ?? 'exact';
    if (match !== 'exact') {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidArgument, `match policy '${String(match)}' is not supported`);
    }
    const invoke = msg.options.invoke ?? 'single';
    if (invoke !== 'single') {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidArgument, `invocation policy '${String(invoke)}' is not supported`);
    }
    if (!isValidUri(msg.procedure, this.#uriCheck)) {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidUri, `invalid procedure URI '${msg.procedure}'`);
    }
    if (isReservedUri(msg.procedure)) {
      return session.sendError(MessageCode.Register, msg.request, ErrorUri.InvalidUri, `procedure '${msg.procedure}' uses the reserved 'wamp' prefix`);
    }
    const outcome = this.dealer.register(session, msg.procedure);
    if (!outcome.ok) return session.sendError(MessageCode.Register, msg.request, outcome.error, `procedure '${msg.procedure}' is already registered`);
    session.send({ code: MessageCode.Registered, request: msg.request, registration: outcome.registration.id });
  }

  onUnregister(session: RouterSession, msg: Unregister): void {
    if (this.dealer.unregister(session, msg.registration) === undefined) {
      return session.sendError(MessageCode.Unregister, msg.request, ErrorUri.NoSuchRegistration);
    }
    session.send({ code: MessageCode.Unregistered, request: msg.request });
  }

  onCall(session: RouterSession, msg: Call): void {
    if (!isValidUri(msg.procedure, this.#uriCheck)) {
      return session.sendError(MessageCode.Call, msg.request, ErrorUri.InvalidUri, `invalid procedure URI '${msg.procedure}'`);
    }
    const outcome = this.dealer.call(session, msg.request, msg.procedure);
    if (!outcome.ok) return session.sendError(MessageCode.Call, msg.request, outcome.error, `no callee registered for '${msg.procedure}'`);
    const { call } = outcome;
    const invocation: Invocation = { code: MessageCode.Invocation, request: call.invocationRequest, registration: call.registration.id, details: {} };
    if (msg.args !== undefined) invocation.args = msg.args;
    if (msg.kwargs !== undefined) invocation.kwargs = msg.kwargs;
    const frame = call.callee.encode(invocation);
    if (frame === undefined) {
      this.dealer.settle(call.callee, call.invocationRequest);
      return session.sendError(MessageCode.Call, msg.request, ErrorUri.InvalidArgument, `the arguments cannot be represented in the callee's serializer (${call.callee.peer.codec.name})`);
    }
    if (!call.callee.peer.send(frame)) {
      // The callee cannot take it (gone or cut off): answer the caller now.
      this.dealer.settle(call.callee, call.invocationRequest);
      session.sendError(MessageCode.Call, msg.request, ErrorUri.Canceled, 'callee unavailable');
    }
  }

  /** YIELD or ERROR from a callee. Answers for calls whose caller has left are dropped. */
  onCalleeAnswer(session: RouterSession, msg: Yield | ErrorMessage): void {
    const call = this.dealer.settle(session, msg.request);
    if (call === undefined) return;
    const answer: Result | ErrorMessage =
      msg.code === MessageCode.Yield
        ? { code: MessageCode.Result, request: call.callRequest, details: {} }
        : { code: MessageCode.Error, requestType: MessageCode.Call, request: call.callRequest, details: msg.details, error: msg.error };
    if (msg.args !== undefined) answer.args = msg.args;
    if (msg.kwargs !== undefined) answer.kwargs = msg.kwargs;
    const frame = call.caller.encode(answer);
    if (frame !== undefined) call.caller.peer.send(frame);
    else {
      // The call was settled: the caller must still get an answer.
      call.caller.sendError(MessageCode.Call, call.callRequest, ErrorUri.InvalidArgument, `the callee's answer cannot be represented in the caller's serializer (${call.caller.peer.codec.name})`);
    }
  }
}
