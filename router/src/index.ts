export { Router, startRouter } from './router.js';
export type { RouterOptions, ListenerAddress, ClusterStatus } from './router.js';
export { Realm } from './realm.js';
export { Connection, ConnectionState } from './connection.js';
export { WampSession } from './session.js';
export type { Endpoint, SessionIdentity, SendOutcome } from './core/endpoint.js';
export { Broker, NO_FILTER, isRecipient } from './broker/broker.js';
export type { Subscriber, Subscription, DeliveryPlan, SubscribeOutcome, UnsubscribeOutcome, BrokerOptions, RecipientFilter, RetainedEvent, RetentionOptions } from './broker/broker.js';
export { PrefixTrie, WildcardTrie, SubscriptionIndex } from './broker/subscription-index.js';
export { EventHistory } from './broker/history.js';
export type { StoredEvent, HistoryQuery } from './broker/history.js';
export { Dealer, INVOCATION_POLICIES, isInvocationPolicy } from './dealer/dealer.js';
export type { Callee, CalleeEntry, Registration, PendingCall, CallOutcome, RegisterOutcome, RegisterOptions, UnregisterOutcome, SessionRemoval, DealerOptions, InvocationPolicy } from './dealer/dealer.js';
export { installMetaApi, sessionDetails } from './meta/index.js';
export type { RealmObserver, RouterProcedure, CancelMode } from './realm.js';
export { createAuthenticators } from './auth/index.js';
export type { ListenerAuthConfig, AuthContext, TicketConfig, WampcraConfig, CryptosignConfig, FailureLimits } from './auth/index.js';
export type { Authenticator, AuthResult, HelloInfo, Principal } from './auth/types.js';
export type { TlsConfig, TlsPrincipal, CookieAuthConfig } from './auth/index.js';
export type { ClientCertificate } from './transports/client-certificate.js';
export type { CookieTrackingConfig, CookieIdentity, TrackedCookie } from './transports/cookie-tracking.js';
export { deriveKey } from './auth/wampcra.js';
export { scramCredentials } from './auth/scram.js';
export type { ScramConfig, ScramPrincipal, ScramKdf, ScramCredentialOptions, ScramDialectName } from './auth/scram.js';
export { ConfigError, MAX_CONFIG_FILE_BYTES, checkConfig, loadConfigFile, resolveConfig } from './config/config.js';
export type { RouterConfig, RouterConfigFile, WebSocketListenerConfig, WebSocketListenerFile, RealmConfig, RealmFile } from './config/config.js';
export { DEFAULT_LONGPOLL, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RAWSOCKET_PORT } from './config/config.js';
export type { ListenerConfig, ListenerFile, RawSocketListenerConfig, RawSocketListenerFile, LongPollConfig, LongPollFile, TlsFile } from './config/config.js';
export { loadConfig } from './config/config.js';
export type { LoadedConfig } from './config/config.js';
export { convertCrossbar, isCrossbarConfig } from './config/crossbar.js';
export type { CrossbarImport } from './config/crossbar.js';
export { substituteEnv } from './config/env.js';
export type { Environment } from './config/env.js';
export { loadTls, tlsProblems } from './config/tls.js';
export type { TlsCredentials } from './config/tls.js';
export { OriginPolicy, ConnectionsPerIp } from './http/admission.js';
export { DEFAULT_REALM_LIMITS, LIMIT_EXCEEDED, payloadBytes } from './limits.js';
export type { RealmLimits, LimitHit } from './limits.js';
export { StaticFiles, CONTENT_TYPES, contentTypeOf } from './http/static.js';
export type { StaticConfig, StaticMountConfig } from './http/static.js';
export { createLogger, silentLogger, LOG_LEVELS } from './log.js';
export type { Logger, LogLevel, LoggerOptions } from './log.js';
export { OutboundCounters, DEFAULT_OUTBOUND_LIMITS, SLOW_CONSUMER_REASON } from './transports/outbound.js';
export type { OutboundLimits } from './transports/outbound.js';
export type { Peer, PeerHandler, TransportDetails } from './transports/peer.js';
export { SharedFrame } from './transports/peer.js';
export { VERSION } from './version.js';
export { createLocalConnection } from './transports/local.js';
export type { LocalClient, LocalConnection } from './transports/local.js';
export type {
  HttpBridgeFile,
  BridgePathFile,
  PublisherPathFile,
  CallerPathFile,
  WebhookPathFile,
  SsePathFile,
  BridgeOptionsFile,
  WebhookOptionsFile,
  BridgeTokenFile,
  BridgeCorsFile,
  HttpIntegrationsFile,
  HttpSubscriberFile,
  HttpCalleeFile,
} from './http/bridge/config.js';
export { computeSignature } from './http/bridge/signature.js';
