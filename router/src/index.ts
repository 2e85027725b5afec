/**
 * `@switchboard/router`: the public API, deliberately small. An embedder creates a router
 * (`createRouter`), attaches it to a server or lets it listen, adds authenticators, an authorizer
 * and realm plugins, and opens in-process sessions (`router.session(realm)`); an operator loads
 * and checks a config file. Everything else (broker, dealer, sessions, transports, the bridge) is
 * the router's own: tests and benchmarks import it by source path, and it is not in the published
 * types.
 */

// The router and the embedding API.
export { Router, createRouter, startRouter } from './router.js';
export type { RouterOptions, AttachOptions, SessionOptions, ListenerAddress, ClusterStatus } from './router.js';
export type { UpgradeServer } from './listeners.js';
export type { RealmPlugin, PluginContext, PluginTeardown } from './realm-plugin.js';
export type { RealmHooks, RealmObserver, PluginScope, CatchUpSource } from './realm-hooks.js';
/** What a catch-up source (the SUBSCRIBE `history` option) is asked and answers. */
export type { CatchUpRequest, CatchUpReplay, ReplayEvent } from './history/store.js';
export type { Outcome, Refusal } from './core/outcome.js';
/** What the realm and its plugins see of a session. */
export type { Endpoint, SessionIdentity, SendOutcome } from './core/endpoint.js';
/** What a RealmPlugin is installed into. */
export type { Realm } from './realm.js';
/** What `router.session(realm)` resolves to: `@switchboard/client`'s Session. */
export type { Session } from '@switchboard/client';

// Authentication and authorization seams.
export type { Authenticator, AuthResult, HelloInfo, Principal, Authorizer, Decision, Action, Subject } from './auth/types.js';
export type { TransportDetails } from './transports/peer.js';

// Configuration: the file's shape, loading and checking it.
export { ConfigError, checkConfig, loadConfig, loadConfigFile, resolveConfig } from './config/config.js';
export type {
  RouterConfigFile,
  RouterConfig,
  LoadedConfig,
  ListenerFile,
  WebSocketListenerFile,
  RawSocketListenerFile,
  RealmFile,
  TlsFile,
  LongPollFile,
  StoreFile,
  StoreConfig,
} from './config/config.js';
export type { ListenerAuthConfig } from './auth/index.js';
export type { HttpBridgeFile, BridgePathFile, HttpIntegrationsFile } from './http/bridge/config.js';

// Credentials for a config file (wampcra salted keys, SCRAM stored keys).
export { deriveKey } from './auth/wampcra.js';
export { scramCredentials } from './auth/scram.js';
export type { ScramPrincipal, ScramCredentialOptions } from './auth/scram.js';

// Errors and URIs a router-side procedure or plugin answers with.
export { WampError, ErrorUri, CloseUri } from '@switchboard/schemas';
export { LIMIT_EXCEEDED } from './limits.js';

// The event store's SQLite engine on its own (benchmarks, tools that read a history file).
export { SqliteStore } from './history/sqlite.js';
export type { SqliteStoreOptions } from './history/sqlite.js';

// Logging.
export { createLogger, silentLogger } from './log.js';
export type { Logger, LogLevel } from './log.js';

export { VERSION } from './version.js';
