/**
 * `@switchboard/schemas/core`: the wire contract without the binary codecs (msgpackr, cbor-x), so
 * that a JSON-only browser bundle stays small. Add codecs from `./json`, `./msgpack`, `./cbor`.
 */
export { MessageCode, messageName, isMessageCode, CLIENT_TO_ROUTER, ROUTER_TO_CLIENT, ANSWER_CODES } from './codes.js';
export type {
  Dict,
  Args,
  Kwargs,
  PublishOptions,
  SubscribeOptions,
  CallOptions,
  RegisterOptions,
  Hello,
  Welcome,
  Abort,
  Challenge,
  Authenticate,
  Goodbye,
  ErrorMessage,
  Publish,
  Published,
  Subscribe,
  Subscribed,
  Unsubscribe,
  Unsubscribed,
  Event,
  Call,
  Cancel,
  Result,
  Register,
  Registered,
  Unregister,
  Unregistered,
  Invocation,
  Interrupt,
  Yield,
  WampMessage,
  MessageOf,
  WireArgs,
} from './messages.js';
export { assertNever, listArgs } from './messages.js';
export { parseMessage, toWire, wireHead, DecodeError, isDict, isTransparent } from './wire.js';
export type { Payload, RawPayload } from './payload.js';
export { SplitFrame, carryPayload, payloadOf, rawPayloadOf, withRawPayload } from './payload.js';
export { encodeMessage } from './splice.js';
export { PASSTHROUGH, splitJson } from './codecs/json-split.js';
export type { Passthrough } from './codecs/limits.js';
export type { Branded, SessionId, PublicationId, SubscriptionId, RegistrationId, RequestId } from './ids.js';
export { MAX_ID, isId, RandomIds, SequentialIds } from './ids.js';
export type { UriCheck, MatchPolicy } from './uri.js';
export { isValidUri, isValidPattern, isReservedUri, isMatchPolicy, MATCH_POLICIES } from './uri.js';
export { ErrorUri, CloseUri, WampError } from './errors.js';
export { MAX_TIMER_MS, timerMs } from './timers.js';
export type { Codec, Encoded, EncodedTail, SerializerName } from './codecs/codec.js';
export { EncodeError, SPLICE_MIN_BYTES, Spliced, joined } from './codecs/codec.js';
export type { BatchCount, DecodeOptions } from './codecs/limits.js';
export { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, DEFAULT_PASSTHROUGH_MIN_BYTES, ROUTER_FRAME_LIMITS } from './codecs/limits.js';
export { scanJson } from './codecs/json-scan.js';
export { SERIALIZER_NAMES, isSerializerName } from './codecs/codec.js';
