import type { MessageCode } from './codes.js';
import type { PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId } from './ids.js';

/** A WAMP dict: string keys, any values. */
export type Dict = Record<string, unknown>;
/** Positional payload. */
export type Args = unknown[];
/**
 * What a message carries where Arguments|list goes: the list, or in payload transparency
 * (autobahn-python's end-to-end encryption: `enc_algo` in Options/Details) the opaque binary
 * payload in its place, which the router passes on untouched. wire.ts admits the binary only with
 * `enc_algo` and without ArgumentsKw.
 */
export type WireArgs = Args | Uint8Array;

/**
 * Arguments as a list for code that reads them: none is [], and a transparent payload is its
 * only element (the shape payload passthru mode, ppt_*, gives it).
 */
export function listArgs(args: WireArgs | undefined): Args {
  if (args === undefined) return [];
  return args instanceof Uint8Array ? [args] : args;
}
/** Keyword payload. */
export type Kwargs = Dict;

/** Options a publisher may set. Unknown keys are kept and ignored. [bp_pubsub, ap_pubsub] */
export interface PublishOptions extends Dict {
  acknowledge?: boolean;
  exclude_me?: boolean;
}

export interface SubscribeOptions extends Dict {
  match?: string;
}

export interface CallOptions extends Dict {
  timeout?: number;
  receive_progress?: boolean;
}

export interface RegisterOptions extends Dict {
  match?: string;
  invoke?: string;
}

// [HELLO, Realm|uri, Details|dict]
// [HELLO, null, {resume-session: id, resume-token: string}]: a dedicated resume. [ap_session_resumption]
export interface Hello {
  readonly code: typeof MessageCode.Hello;
  /**
   * The realm to join; null only in a dedicated resume, whose Details are exactly
   * `resume-session` and `resume-token` (the parser accepts no other null-realm HELLO).
   */
  realm: string | null;
  details: Dict;
}
// [WELCOME, Session|id, Details|dict]
export interface Welcome {
  readonly code: typeof MessageCode.Welcome;
  session: SessionId;
  details: Dict;
}
// [ABORT, Details|dict, Reason|uri]
export interface Abort {
  readonly code: typeof MessageCode.Abort;
  details: Dict;
  reason: string;
}
// [CHALLENGE, AuthMethod|string, Extra|dict]
export interface Challenge {
  readonly code: typeof MessageCode.Challenge;
  authMethod: string;
  extra: Dict;
}
// [AUTHENTICATE, Signature|string, Extra|dict]
export interface Authenticate {
  readonly code: typeof MessageCode.Authenticate;
  signature: string;
  extra: Dict;
}
// [GOODBYE, Details|dict, Reason|uri]
export interface Goodbye {
  readonly code: typeof MessageCode.Goodbye;
  details: Dict;
  reason: string;
}
// [ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list?, ArgumentsKw|dict?]
export interface ErrorMessage {
  readonly code: typeof MessageCode.Error;
  requestType: MessageCode;
  request: RequestId;
  details: Dict;
  error: string;
  args?: WireArgs;
  kwargs?: Kwargs;
}
// [PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list?, ArgumentsKw|dict?]
export interface Publish {
  readonly code: typeof MessageCode.Publish;
  request: RequestId;
  options: PublishOptions;
  topic: string;
  args?: WireArgs;
  kwargs?: Kwargs;
}
// [PUBLISHED, PUBLISH.Request|id, Publication|id]
export interface Published {
  readonly code: typeof MessageCode.Published;
  request: RequestId;
  publication: PublicationId;
}
// [SUBSCRIBE, Request|id, Options|dict, Topic|uri]
export interface Subscribe {
  readonly code: typeof MessageCode.Subscribe;
  request: RequestId;
  options: SubscribeOptions;
  topic: string;
}
// [SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]
export interface Subscribed {
  readonly code: typeof MessageCode.Subscribed;
  request: RequestId;
  subscription: SubscriptionId;
}
// [UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]
export interface Unsubscribe {
  readonly code: typeof MessageCode.Unsubscribe;
  request: RequestId;
  subscription: SubscriptionId;
}
// [UNSUBSCRIBED, UNSUBSCRIBE.Request|id] or, router-initiated (Advanced), [UNSUBSCRIBED, 0, Details|dict]
export interface Unsubscribed {
  readonly code: typeof MessageCode.Unsubscribed;
  request: RequestId | 0;
  details?: Dict;
}
// [EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict, Arguments|list?, ArgumentsKw|dict?]
export interface Event {
  readonly code: typeof MessageCode.Event;
  subscription: SubscriptionId;
  publication: PublicationId;
  details: Dict;
  args?: WireArgs;
  kwargs?: Kwargs;
}
// [CALL, Request|id, Options|dict, Procedure|uri, Arguments|list?, ArgumentsKw|dict?]
export interface Call {
  readonly code: typeof MessageCode.Call;
  request: RequestId;
  options: CallOptions;
  procedure: string;
  args?: WireArgs;
  kwargs?: Kwargs;
}
// [CANCEL, CALL.Request|id, Options|dict]
export interface Cancel {
  readonly code: typeof MessageCode.Cancel;
  request: RequestId;
  options: Dict;
}
// [RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list?, YIELD.ArgumentsKw|dict?]
export interface Result {
  readonly code: typeof MessageCode.Result;
  request: RequestId;
  details: Dict;
  args?: WireArgs;
  kwargs?: Kwargs;
}
// [REGISTER, Request|id, Options|dict, Procedure|uri]
export interface Register {
  readonly code: typeof MessageCode.Register;
  request: RequestId;
  options: RegisterOptions;
  procedure: string;
}
// [REGISTERED, REGISTER.Request|id, Registration|id]
export interface Registered {
  readonly code: typeof MessageCode.Registered;
  request: RequestId;
  registration: RegistrationId;
}
// [UNREGISTER, Request|id, REGISTERED.Registration|id]
export interface Unregister {
  readonly code: typeof MessageCode.Unregister;
  request: RequestId;
  registration: RegistrationId;
}
// [UNREGISTERED, UNREGISTER.Request|id] or, router-initiated (Advanced), [UNREGISTERED, 0, Details|dict]
export interface Unregistered {
  readonly code: typeof MessageCode.Unregistered;
  request: RequestId | 0;
  details?: Dict;
}
// [INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, Arguments|list?, ArgumentsKw|dict?]
export interface Invocation {
  readonly code: typeof MessageCode.Invocation;
  request: RequestId;
  registration: RegistrationId;
  details: Dict;
  args?: WireArgs;
  kwargs?: Kwargs;
}
// [INTERRUPT, INVOCATION.Request|id, Options|dict]
export interface Interrupt {
  readonly code: typeof MessageCode.Interrupt;
  request: RequestId;
  options: Dict;
}
// [YIELD, INVOCATION.Request|id, Options|dict, Arguments|list?, ArgumentsKw|dict?]
export interface Yield {
  readonly code: typeof MessageCode.Yield;
  request: RequestId;
  options: Dict;
  args?: WireArgs;
  kwargs?: Kwargs;
}

/** Every WAMP v2 message, discriminated by `code`. */
export type WampMessage =
  | Hello
  | Welcome
  | Abort
  | Challenge
  | Authenticate
  | Goodbye
  | ErrorMessage
  | Publish
  | Published
  | Subscribe
  | Subscribed
  | Unsubscribe
  | Unsubscribed
  | Event
  | Call
  | Cancel
  | Result
  | Register
  | Registered
  | Unregister
  | Unregistered
  | Invocation
  | Interrupt
  | Yield;

/** The message type for a code: `MessageOf<16>` is `Publish`. */
export type MessageOf<C extends MessageCode> = Extract<WampMessage, { readonly code: C }>;

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
