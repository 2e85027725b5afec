/** The public API both entry points (node.ts, browser.ts) export, besides `connect` and `Connection`. */
export { Session, CLIENT_ROLES } from './session.js';
export type { RestoreOutcome } from './session.js';
export { Connection as BaseConnection, CLIENT_AGENT, transportTypeOf } from './connection.js';
export { longPollSocketFactory } from './longpoll.js';
export type {
  TransportType,
  TransportSpec,
  TransportInUse,
  ConnectOptions,
  ConnectionEvents,
  ConnectionState,
  CloseEvent,
  CloseReason,
  Runtime,
  NodeWebSocketOptions,
} from './connection.js';
export { Subscription } from './subscription.js';
export type { EventHandler, ClosedReason } from './subscription.js';
export { Registration } from './registration.js';
export type { InvocationDetails, ProcedureHandler } from './registration.js';
export { ProgressiveCall, CallInput } from './progressive.js';
export type { ProgressMessage, InputChunk } from './progressive.js';
export { Result } from './result.js';
export type { CallResult } from './result.js';
export type {
  PublishOptions,
  SubscribeOptions,
  RegisterOptions,
  CallOptions,
  CancelMode,
  InvocationPolicy,
  EventDetails,
  EventMessage,
  HistoryRequest,
} from './options.js';
export type { AuthOptions, AuthAttempt, ChallengeResponse } from './join.js';
export type { ReconnectOptions } from './backoff.js';
export { backoffDelay, DEFAULT_RECONNECT } from './backoff.js';
export type { KeepaliveOptions } from './node-socket.js';
export type { SocketFactory, Socket, SocketHandlers } from './socket.js';
export type { Refusal } from './refusal.js';
export { isPermanentRefusal } from './refusal.js';
export {
  WampError,
  SwitchboardError,
  UnreachableError,
  ConnectionLostError,
  NotConnectedError,
  SessionAbortedError,
  ProtocolViolationError,
  SessionClosedError,
  SerializerError,
  FATAL_ABORT_REASONS,
} from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type {
  ApiContract,
  Untyped,
  ProcedureUri,
  TopicUri,
  ProcedureOf,
  TopicOf,
  ArgsOf,
  KwargsOf,
  ResultOf,
  ProgressOf,
  Payload,
  PayloadWith,
  CallableUri,
  CallableOf,
  SubscribableUri,
  SubscribableOf,
} from './typed.js';
export type {
  MetaApi,
  MetaProcedures,
  MetaTopics,
  MetaSessionDetails,
  MetaSubscriptionDetails,
  MetaRegistrationDetails,
  MetaRouteIds,
  MetaStoredEvent,
  MetaKillOptions,
  MetaTestamentOptions,
  MetaEventQuery,
  RouterStats,
} from './meta-api.js';
export { ErrorUri, CloseUri } from '@switchboard/schemas/core';
export type { Codec, SerializerName, Dict, SessionId, PublicationId, SubscriptionId, RegistrationId } from '@switchboard/schemas/core';
