export { MessageCode, messageName, isMessageCode, CLIENT_TO_ROUTER, ROUTER_TO_CLIENT } from './codes.js';
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
} from './messages.js';
export { assertNever } from './messages.js';
export { parseMessage, toWire, DecodeError, isDict } from './wire.js';
export type { Branded, SessionId, PublicationId, SubscriptionId, RegistrationId, RequestId } from './ids.js';
export { MAX_ID, isId, RandomIds, SequentialIds } from './ids.js';
export type { UriCheck, MatchPolicy } from './uri.js';
export { isValidUri, isValidPattern, isReservedUri, isMatchPolicy, MATCH_POLICIES } from './uri.js';
export { ErrorUri, CloseUri, WampError } from './errors.js';
export type { Codec, SerializerName } from './codecs/codec.js';
export { SERIALIZER_NAMES, isSerializerName } from './codecs/codec.js';
export { jsonCodec } from './codecs/json.js';
export { msgpackCodec } from './codecs/msgpack.js';
export { cborCodec } from './codecs/cbor.js';
export { CODECS, codecForSubprotocol } from './codecs/index.js';
export { schemaUrl } from './schema-files.js';
export type { SchemaName } from './schema-files.js';
