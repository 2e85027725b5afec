/**
 * The one module that knows array positions: decoded arrays ⇄ typed messages.
 * Checks are hand-written (no generic schema validation on the hot path); each failure names the
 * message, the element index and name, what was expected and what arrived.
 */
import { MessageCode, isMessageCode, messageName } from './codes.js';
import { isId } from './ids.js';
import type { PublicationId, RegistrationId, RequestId, SessionId, SubscriptionId } from './ids.js';
import type { Dict, Kwargs, WampMessage, WireArgs } from './messages.js';
import { assertNever } from './messages.js';
import type { RawPayload } from './payload.js';
import { SplitFrame, withRawPayload } from './payload.js';

/** A frame that is not a well-formed WAMP message. Becomes ABORT wamp.error.protocol_violation. */
export class DecodeError extends Error {
  override name = 'DecodeError';

  constructor(
    message: string,
    /** Index of the offending element, when one element is at fault. */
    readonly element?: number,
  ) {
    super(message);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `string "${value.slice(0, 40)}…"` : `string "${value}"`;
    case 'number':
      return `number ${value}`;
    case 'object':
      return 'a dict';
    default:
      return typeof value;
  }
}

export function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function fail(code: number, index: number, name: string, expected: string, got: unknown): never {
  throw new DecodeError(`${messageName(code)} element ${index} (${name}): expected ${expected}, got ${describe(got)}`, index);
}

/** Checks an ID element and gives it its brand: the one place where wire numbers become IDs. */
function id<T extends number>(arr: unknown[], code: number, index: number, name: string): T {
  const v = arr[index];
  if (isId(v)) return v as T;
  // A 64-bit integer may arrive as BigInt (a CBOR bignum: autobahn-js writes 2^53 as one).
  if (typeof v === 'bigint' && v >= 1n && v <= 9007199254740992n) return Number(v) as T;
  return fail(code, index, name, 'an ID (integer in [1, 2^53])', v);
}

function dict(arr: unknown[], code: number, index: number, name: string): Dict {
  const v = arr[index];
  if (!isDict(v)) fail(code, index, name, 'a dict', v);
  return v;
}

function str(arr: unknown[], code: number, index: number, name: string): string {
  const v = arr[index];
  if (typeof v !== 'string') fail(code, index, name, 'a string', v);
  return v;
}

function uri(arr: unknown[], code: number, index: number, name: string): string {
  const v = arr[index];
  if (typeof v !== 'string') fail(code, index, name, 'a URI string', v);
  return v;
}

/**
 * The raw payload of the SplitFrame being parsed (payload.ts), its elements counted after the
 * head's; undefined for a whole frame. Set at the start of every parseMessage.
 */
let raw: RawPayload | undefined;

function length(arr: unknown[], code: number, min: number, max: number): void {
  const n = raw === undefined ? arr.length : arr.length + raw.tail.count;
  if (n < min || n > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new DecodeError(`${messageName(code)}: expected ${want} elements, got ${n}`);
  }
}

/**
 * Reads optional trailing Arguments|list and ArgumentsKw|dict starting at `index`. With
 * `enc_algo` in `options` (Options or Details), payload transparency as autobahn-python's
 * end-to-end encryption writes it: one binary in place of Arguments, and nothing after it.
 * (JSON peers write the binary as "\0" + base64, which the JSON codec has already turned into
 * bytes.) The router passes it on as it is; it never looks inside.
 */
function payload(arr: unknown[], code: number, index: number, options: Dict, target: { args?: WireArgs; kwargs?: Kwargs }): void {
  if (raw !== undefined) {
    // A split frame's payload elements follow the head; the codec checked they are a list and a dict.
    withRawPayload(target, raw);
    return;
  }
  if (arr.length > index) {
    const a = arr[index];
    if (a instanceof Uint8Array && isTransparent(options)) {
      if (arr.length > index + 1) fail(code, index + 1, 'ArgumentsKw', 'nothing after a transparent (enc_algo) payload', arr[index + 1]);
      target.args = a;
      return;
    }
    if (!Array.isArray(a)) fail(code, index, 'Arguments', 'a list', a);
    target.args = a;
  }
  if (arr.length > index + 1) {
    const k = arr[index + 1];
    if (!isDict(k)) fail(code, index + 1, 'ArgumentsKw', 'a dict', k);
    target.kwargs = k;
  }
}

/** Payload transparency (autobahn-python's `enc_algo`): a non-empty string names the algorithm. */
export function isTransparent(options: Dict): boolean {
  const algo = options['enc_algo'];
  return typeof algo === 'string' && algo.length > 0;
}

/**
 * Turns a decoded frame into a typed message, or throws DecodeError saying what is wrong.
 * Checks structure and element types only; URI validity and state rules belong to the peer.
 */
export function parseMessage(decoded: unknown): WampMessage {
  if (!(decoded instanceof SplitFrame)) return parseFrame(decoded);
  raw = decoded.payload;
  try {
    return parseFrame(decoded.head);
  } finally {
    // Not kept past the parse: the payload (and the bytes it holds) belongs to the message.
    raw = undefined;
  }
}

function parseFrame(frame: unknown): WampMessage {
  if (!Array.isArray(frame)) throw new DecodeError(`a WAMP message must be a list, got ${describe(frame)}`);
  if (frame.length === 0) throw new DecodeError('a WAMP message must not be an empty list');
  const code = frame[0];
  if (typeof code !== 'number' || !Number.isInteger(code)) {
    throw new DecodeError(`element 0 (MessageType): expected an integer, got ${describe(code)}`, 0);
  }
  if (!isMessageCode(code)) throw new DecodeError(`element 0 (MessageType): expected a known WAMP message type, got number ${code}`, 0);
  switch (code) {
    case MessageCode.Hello:
      length(frame, code, 3, 3);
      if (frame[1] === null) {
        // A dedicated resume [ap_session_resumption]: nothing but the session and its token. Any
        // other null realm is refused as before (a URI string is expected).
        const details = dict(frame, code, 2, 'Details');
        const keys = Object.keys(details);
        if (keys.length === 2 && 'resume-session' in details && 'resume-token' in details) return { code, realm: null, details };
      }
      return { code, realm: uri(frame, code, 1, 'Realm'), details: dict(frame, code, 2, 'Details') };
    case MessageCode.Welcome:
      length(frame, code, 3, 3);
      return { code, session: id<SessionId>(frame, code, 1, 'Session'), details: dict(frame, code, 2, 'Details') };
    case MessageCode.Abort:
      length(frame, code, 3, 3);
      return { code, details: dict(frame, code, 1, 'Details'), reason: uri(frame, code, 2, 'Reason') };
    case MessageCode.Challenge:
      length(frame, code, 3, 3);
      return { code, authMethod: str(frame, code, 1, 'AuthMethod'), extra: dict(frame, code, 2, 'Extra') };
    case MessageCode.Authenticate:
      length(frame, code, 3, 3);
      return { code, signature: str(frame, code, 1, 'Signature'), extra: dict(frame, code, 2, 'Extra') };
    case MessageCode.Goodbye:
      length(frame, code, 3, 3);
      return { code, details: dict(frame, code, 1, 'Details'), reason: uri(frame, code, 2, 'Reason') };
    case MessageCode.Error: {
      length(frame, code, 5, 7);
      const requestType = frame[1];
      if (!isMessageCode(requestType)) fail(code, 1, 'REQUEST.Type', 'a WAMP message type', requestType);
      const msg: WampMessage = {
        code,
        requestType,
        request: id<RequestId>(frame, code, 2, 'REQUEST.Request'),
        details: dict(frame, code, 3, 'Details'),
        error: uri(frame, code, 4, 'Error'),
      };
      payload(frame, code, 5, msg.details, msg);
      return msg;
    }
    case MessageCode.Publish: {
      length(frame, code, 4, 6);
      const msg: WampMessage = {
        code,
        request: id<RequestId>(frame, code, 1, 'Request'),
        options: dict(frame, code, 2, 'Options'),
        topic: uri(frame, code, 3, 'Topic'),
      };
      payload(frame, code, 4, msg.options, msg);
      return msg;
    }
    case MessageCode.Published:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'PUBLISH.Request'), publication: id<PublicationId>(frame, code, 2, 'Publication') };
    case MessageCode.Subscribe:
      length(frame, code, 4, 4);
      return {
        code,
        request: id<RequestId>(frame, code, 1, 'Request'),
        options: dict(frame, code, 2, 'Options'),
        topic: uri(frame, code, 3, 'Topic'),
      };
    case MessageCode.Subscribed:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'SUBSCRIBE.Request'), subscription: id<SubscriptionId>(frame, code, 2, 'Subscription') };
    case MessageCode.Unsubscribe:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'Request'), subscription: id<SubscriptionId>(frame, code, 2, 'SUBSCRIBED.Subscription') };
    case MessageCode.Unsubscribed:
    case MessageCode.Unregistered: {
      length(frame, code, 2, 3);
      // Router-initiated (revocation) acknowledgements carry request 0 and a Details dict.
      const request = frame[1] === 0 && frame.length === 3 ? 0 : id<RequestId>(frame, code, 1, 'Request');
      return frame.length === 3 ? { code, request, details: dict(frame, code, 2, 'Details') } : { code, request };
    }
    case MessageCode.Event: {
      length(frame, code, 4, 6);
      const msg: WampMessage = {
        code,
        subscription: id<SubscriptionId>(frame, code, 1, 'SUBSCRIBED.Subscription'),
        publication: id<PublicationId>(frame, code, 2, 'PUBLISHED.Publication'),
        details: dict(frame, code, 3, 'Details'),
      };
      payload(frame, code, 4, msg.details, msg);
      return msg;
    }
    case MessageCode.Call: {
      length(frame, code, 4, 6);
      const msg: WampMessage = {
        code,
        request: id<RequestId>(frame, code, 1, 'Request'),
        options: dict(frame, code, 2, 'Options'),
        procedure: uri(frame, code, 3, 'Procedure'),
      };
      payload(frame, code, 4, msg.options, msg);
      return msg;
    }
    case MessageCode.Cancel:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'CALL.Request'), options: dict(frame, code, 2, 'Options') };
    case MessageCode.Result: {
      length(frame, code, 3, 5);
      const msg: WampMessage = { code, request: id<RequestId>(frame, code, 1, 'CALL.Request'), details: dict(frame, code, 2, 'Details') };
      payload(frame, code, 3, msg.details, msg);
      return msg;
    }
    case MessageCode.Register:
      length(frame, code, 4, 4);
      return {
        code,
        request: id<RequestId>(frame, code, 1, 'Request'),
        options: dict(frame, code, 2, 'Options'),
        procedure: uri(frame, code, 3, 'Procedure'),
      };
    case MessageCode.Registered:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'REGISTER.Request'), registration: id<RegistrationId>(frame, code, 2, 'Registration') };
    case MessageCode.Unregister:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'Request'), registration: id<RegistrationId>(frame, code, 2, 'REGISTERED.Registration') };
    case MessageCode.Invocation: {
      length(frame, code, 4, 6);
      const msg: WampMessage = {
        code,
        request: id<RequestId>(frame, code, 1, 'Request'),
        registration: id<RegistrationId>(frame, code, 2, 'REGISTERED.Registration'),
        details: dict(frame, code, 3, 'Details'),
      };
      payload(frame, code, 4, msg.details, msg);
      return msg;
    }
    case MessageCode.Interrupt:
      length(frame, code, 3, 3);
      return { code, request: id<RequestId>(frame, code, 1, 'INVOCATION.Request'), options: dict(frame, code, 2, 'Options') };
    case MessageCode.Yield: {
      length(frame, code, 3, 5);
      const msg: WampMessage = { code, request: id<RequestId>(frame, code, 1, 'INVOCATION.Request'), options: dict(frame, code, 2, 'Options') };
      payload(frame, code, 3, msg.options, msg);
      return msg;
    }
    default:
      return assertNever(code);
  }
}

function withPayload(head: unknown[], args: WireArgs | undefined, kwargs: Kwargs | undefined): unknown[] {
  if (kwargs !== undefined) head.push(args ?? [], kwargs);
  else if (args !== undefined) head.push(args);
  return head;
}

/**
 * The elements of a message with a payload that come before it (code, IDs, options or details,
 * URI): what a codec encodes in front of a raw payload (splice.ts). Undefined for other messages.
 */
export function wireHead(msg: WampMessage): unknown[] | undefined {
  switch (msg.code) {
    case MessageCode.Error:
    case MessageCode.Publish:
    case MessageCode.Event:
    case MessageCode.Call:
    case MessageCode.Result:
    case MessageCode.Invocation:
    case MessageCode.Yield:
      return headOf(msg);
    default:
      return undefined;
  }
}

/** The messages that carry a payload. */
type WithPayload = Extract<WampMessage, { args?: unknown }>;

/** The elements of a payload message before its payload: toWire's and wireHead's one list of them. */
function headOf(msg: WithPayload): unknown[] {
  switch (msg.code) {
    case MessageCode.Error:
      return [msg.code, msg.requestType, msg.request, msg.details, msg.error];
    case MessageCode.Publish:
      return [msg.code, msg.request, msg.options, msg.topic];
    case MessageCode.Event:
      return [msg.code, msg.subscription, msg.publication, msg.details];
    case MessageCode.Call:
      return [msg.code, msg.request, msg.options, msg.procedure];
    case MessageCode.Result:
      return [msg.code, msg.request, msg.details];
    case MessageCode.Invocation:
      return [msg.code, msg.request, msg.registration, msg.details];
    case MessageCode.Yield:
      return [msg.code, msg.request, msg.options];
    default:
      return assertNever(msg);
  }
}

/** The array form of a message, ready for a codec. Payloads are passed through untouched. */
export function toWire(msg: WampMessage): unknown[] {
  switch (msg.code) {
    case MessageCode.Hello:
      return [msg.code, msg.realm, msg.details];
    case MessageCode.Welcome:
      return [msg.code, msg.session, msg.details];
    case MessageCode.Abort:
    case MessageCode.Goodbye:
      return [msg.code, msg.details, msg.reason];
    case MessageCode.Challenge:
      return [msg.code, msg.authMethod, msg.extra];
    case MessageCode.Authenticate:
      return [msg.code, msg.signature, msg.extra];
    case MessageCode.Error:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    case MessageCode.Publish:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    case MessageCode.Published:
      return [msg.code, msg.request, msg.publication];
    case MessageCode.Subscribe:
      return [msg.code, msg.request, msg.options, msg.topic];
    case MessageCode.Subscribed:
      return [msg.code, msg.request, msg.subscription];
    case MessageCode.Unsubscribe:
      return [msg.code, msg.request, msg.subscription];
    case MessageCode.Unsubscribed:
    case MessageCode.Unregistered:
      return msg.details === undefined ? [msg.code, msg.request] : [msg.code, msg.request, msg.details];
    case MessageCode.Event:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    case MessageCode.Call:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    case MessageCode.Cancel:
      return [msg.code, msg.request, msg.options];
    case MessageCode.Result:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    case MessageCode.Register:
      return [msg.code, msg.request, msg.options, msg.procedure];
    case MessageCode.Registered:
      return [msg.code, msg.request, msg.registration];
    case MessageCode.Unregister:
      return [msg.code, msg.request, msg.registration];
    case MessageCode.Invocation:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    case MessageCode.Interrupt:
      return [msg.code, msg.request, msg.options];
    case MessageCode.Yield:
      return withPayload(headOf(msg), msg.args, msg.kwargs);
    default:
      return assertNever(msg);
  }
}
