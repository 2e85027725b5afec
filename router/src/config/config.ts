/**
 * Router configuration: the JSON file format (validated with ajv against the schema shipped in
 * @switchboard/schemas), defaults, and command-line overrides.
 */
import { readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import type { MatchPolicy, SerializerName, UriCheck } from '@switchboard/schemas';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, schemaUrl } from '@switchboard/schemas';
import type { ListenerAuthConfig, RoleConfig } from '../auth/index.js';
import { authProblems, listenerAuthProblems } from '../auth/check.js';
import type { StaticConfig } from '../http/static.js';
import { DEFAULT_REFUSAL_INTERVAL_MS } from '../log.js';
import type { LogLevel, LogModule } from '../log.js';
import type { OutboundLimits } from '../transports/outbound.js';
import type { CookieTrackingConfig } from '../transports/cookie-tracking.js';
import { DEFAULT_OUTBOUND_LIMITS } from '../transports/outbound.js';
import { DEFAULT_REALM_LIMITS } from '../limits.js';
import type { RealmLimits } from '../limits.js';
import { convertCrossbar, isCrossbarConfig } from './crossbar.js';
import { bridgeProblems, integrationProblems, resolveHttpBridge } from '../http/bridge/config.js';
import type { HttpBridgeConfig, HttpBridgeFile, HttpIntegrationsFile } from '../http/bridge/config.js';
import { substituteEnv } from './env.js';
import { PATTERN_DESCRIPTION, jsonSyntaxProblem, schemaProblems } from './errors.js';
import type { Environment } from './env.js';

/** The config file as written: every field optional. */
export interface RouterConfigFile {
  $schema?: string;
  listeners?: ListenerFile[];
  realms?: RealmFile[];
  log?: {
    level?: LogLevel;
    pretty?: boolean;
    modules?: Partial<Record<LogModule, LogLevel>>;
    /** Refused connections and joins are logged at most once per reason per this many ms (default 10 000; 0: all). */
    refusalIntervalMs?: number;
  };
  requestIds?: 'sequential' | 'any';
  shutdownTimeoutMs?: number;
  authTimeoutMs?: number;
  metrics?: MetricsFile;
  /** Outgoing HTTP: event forwarding and HTTP-calling procedures (http/bridge/). */
  httpIntegrations?: HttpIntegrationsFile;
  /** One node of a cluster over NATS (cluster/). */
  cluster?: ClusterFile;
}

export interface ClusterFile {
  node?: string;
  nats: { servers: string[]; user?: string; password?: string; token?: string; name?: string };
  prefix?: string;
  heartbeatMs?: number;
  nodeTimeoutMs?: number;
}

export interface ClusterConfig {
  node: string;
  nats: { servers: string[]; user?: string; password?: string; token?: string; name: string };
  prefix: string;
  heartbeatMs: number;
  nodeTimeoutMs: number;
}

export interface WebSocketListenerFile {
  /** Messages a session may send per second; past it the session is closed (switchboard.close.rate_limited). Unset: no limit. */
  maxMessagesPerSecond?: number;
  type: 'websocket';
  auth?: ListenerAuthConfig;
  host?: string;
  port?: number;
  /** The WebSocket path, or several (served alike; the first is the listener's URL). */
  path?: string | string[];
  serializers?: SerializerName[];
  maxMessageBytes?: number;
  /**
   * Bytes of incoming messages in progress (received, not yet complete) that all connections and
   * requests of this listener may hold together (default 256 MiB; at least maxMessageBytes); past
   * it the connection that brought the bytes is refused (WebSocket 1013, RawSocket closed, HTTP 503).
   */
  maxInboundBytes?: number;
  /** Deepest nesting of lists and dicts in an incoming message (default 64); deeper aborts the session (wamp.error.protocol_violation). */
  maxNestingDepth?: number;
  /**
   * Most values (keys included) in an incoming message, and in one batch of the batched
   * subprotocols and long-poll, whose messages share it (default 131072); more aborts the session
   * (wamp.error.protocol_violation).
   */
  maxMessageItems?: number;
  pingIntervalMs?: number;
  outbound?: Partial<OutboundLimits>;
  /** Also accept RawSocket on this port (a connection whose first octet is 0x7F). */
  rawsocket?: boolean;
  /** HTTP long-poll under `path` (default `/lp`). */
  longpoll?: LongPollFile;
  /** Offer the batched subprotocols `wamp.2.<serializer>.batched` (default true). */
  batched?: boolean;
  /** permessage-deflate for clients that offer it (off unless set; unset keys take DEFAULT_COMPRESSION). */
  compression?: Partial<CompressionConfig>;
  /** https and wss (and RawSocket over TLS when `rawsocket` is on): PEM file paths. */
  tls?: TlsFile;
  /** Browser origins allowed to open a WebSocket (exact, or with `*` wildcards). Unset: every origin. */
  allowedOrigins?: string[];
  /** With allowedOrigins: also allow `Origin: null` (default false). */
  allowNullOrigin?: boolean;
  /** Open WebSocket connections per client IP address; more are refused with HTTP 429. */
  maxConnectionsPerIp?: number;
  /** How long a peer has to answer a keep-alive ping (default: until the next ping). */
  pingTimeoutMs?: number;
  /** A connection without a WELCOME this long after it opened (no HELLO, an unanswered CHALLENGE) is closed. */
  helloTimeoutMs?: number;
  /** Open long-poll transports one IP address may hold on this listener. */
  maxLongPollTransportsPerIp?: number;
  /** Open SSE streams (HTTP bridge) one IP address may hold on this listener. */
  maxSseStreamsPerIp?: number;
  /**
   * TCP connections one IP address may hold on this port, counted when accepted, before any byte is
   * read (HTTP requests in progress and keep-alive connections too); past it a connection is
   * closed at once. Default 1024, or maxConnectionsPerIp when that is larger.
   */
  maxSocketsPerIp?: number;
  /** Time to receive a request's headers, from the connection's first (or a keep-alive request's) byte (default 10000 ms; at most httpRequestTimeoutMs); past it 408. */
  httpHeadersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body (default 30000 ms); past it 408. A response held open (long-poll, SSE) is not bounded by it. */
  httpRequestTimeoutMs?: number;
  /** The HTTP bridge: publisher, caller, webhook and SSE paths on this port (http/bridge/). */
  http?: HttpBridgeFile;
  /** Static files: URL path prefix → directory (relative paths start at the config file's directory). */
  static?: StaticConfig;
  /** Cookie tracking (Crossbar's `cookie`): needed by the `cookie` authmethod, on by default with it. */
  cookie?: CookieTrackingConfig;
}

export interface RawSocketListenerFile {
  /** Messages a session may send per second; past it the session is closed (switchboard.close.rate_limited). Unset: no limit. */
  maxMessagesPerSecond?: number;
  type: 'rawsocket';
  auth?: ListenerAuthConfig;
  host?: string;
  port?: number;
  /** A Unix domain socket path instead of host and port. */
  path?: string;
  serializers?: SerializerName[];
  /** The maximum message length announced in the handshake: a power of two, 2^9 … 2^24. */
  maxMessageBytes?: number;
  /**
   * Bytes of incoming messages in progress (received, not yet complete) that all connections and
   * requests of this listener may hold together (default 256 MiB; at least maxMessageBytes); past
   * it the connection that brought the bytes is refused (WebSocket 1013, RawSocket closed, HTTP 503).
   */
  maxInboundBytes?: number;
  /** Deepest nesting of lists and dicts in an incoming message (default 64); deeper aborts the session (wamp.error.protocol_violation). */
  maxNestingDepth?: number;
  /** Most values (keys included) in an incoming message (default 131072); more aborts the session (wamp.error.protocol_violation). */
  maxMessageItems?: number;
  /** Clients announcing a smaller maximum are refused (handshake error 2). */
  minPeerMaxMessageBytes?: number;
  /** Open connections past which handshakes are refused (handshake error 4). */
  maxConnections?: number;
  /** Open connections per client IP address; more are refused (handshake error 4). */
  maxConnectionsPerIp?: number;
  /** A connection without a WELCOME this long after it opened is closed. */
  helloTimeoutMs?: number;
  pingIntervalMs?: number;
  tls?: TlsFile;
  outbound?: Partial<OutboundLimits>;
}

export type ListenerFile = WebSocketListenerFile | RawSocketListenerFile;

export interface TlsFile {
  /** PEM certificate (chain) file. */
  cert: string;
  /** PEM private key file. */
  key: string;
  /** PEM CA file(s) that client certificates must chain to (with requestCert). */
  ca?: string | string[];
  /** Require a client certificate signed by `ca` (mutual TLS). */
  requestCert?: boolean;
  /**
   * Ask clients for a certificate that chains to `ca`: `request` lets clients without one (or with
   * one that does not verify) connect, for other authmethods; `require` refuses them during the
   * handshake (as `requestCert: true`). The `tls` authmethod admits verified certificates only.
   */
  clientCertificates?: 'request' | 'require';
}

export interface LongPollFile {
  path?: string;
  requestTimeoutMs?: number;
  sessionTimeoutMs?: number;
  queueMaxBytes?: number;
  queueMaxMessages?: number;
}

export interface RealmFile {
  name: string;
  roles?: RoleConfig[];
  uriCheck?: UriCheck;
  retention?: { maxTopics?: number; ttlMs?: number };
  eventHistory?: { topic: string; match?: MatchPolicy; limit?: number }[];
  /** Quotas per session of the realm and byte budgets of the realm (limits.ts); unset keys take their defaults. */
  limits?: Partial<RealmLimits>;
}

/** `metrics`: a Prometheus endpoint on a port of its own, off unless configured. */
export interface MetricsFile {
  host?: string;
  port?: number;
  path?: string;
}

/** The config with every default filled in. */
export interface RouterConfig {
  listeners: ListenerConfig[];
  realms: RealmConfig[];
  log: { level: LogLevel; pretty?: boolean; modules?: Partial<Record<LogModule, LogLevel>>; refusalIntervalMs: number };
  requestIds: 'sequential' | 'any';
  shutdownTimeoutMs: number;
  authTimeoutMs: number;
  /** Undefined: no metrics endpoint (the default). */
  metrics: { host: string; port: number; path: string } | undefined;
  /** Present when configured. */
  httpIntegrations?: HttpIntegrationsFile;
  /** Present when this router is a cluster node. */
  cluster?: ClusterConfig;
}

export interface WebSocketListenerConfig {
  /** Messages a session may send per second; past it the session is closed (switchboard.close.rate_limited). Unset: no limit. */
  maxMessagesPerSecond?: number;
  type: 'websocket';
  auth: ListenerAuthConfig | undefined;
  host: string;
  port: number;
  /** The WebSocket path (the first, when several). */
  path: string;
  /** Present when the listener has several WebSocket paths: all of them, `path` first. */
  paths?: string[];
  serializers: SerializerName[];
  maxMessageBytes: number;
  /** Bytes of incoming messages in progress all connections of this listener may hold together. */
  maxInboundBytes: number;
  /** Deepest nesting of lists and dicts in an incoming message; deeper aborts the session. */
  maxNestingDepth: number;
  /** Most values (keys included) in an incoming message, and in one batch (its messages share it); more aborts the session. */
  maxMessageItems: number;
  pingIntervalMs: number;
  outbound: OutboundLimits;
  /** Offer the batched subprotocols. */
  batched: boolean;
  /** Present when permessage-deflate is offered. */
  compression?: CompressionConfig;
  /** Present when RawSocket shares this port. */
  rawsocket?: true;
  /** Present when HTTP long-poll is on. */
  longpoll?: LongPollConfig;
  tls?: TlsFile;
  /** Present when origins are checked. */
  allowedOrigins?: string[];
  allowNullOrigin?: boolean;
  /** Present when connections per IP are limited. */
  maxConnectionsPerIp?: number;
  /** Present when shorter than the ping interval. */
  pingTimeoutMs?: number;
  /** A connection without a WELCOME this long after it opened is closed (switchboard.close.handshake_timeout). */
  helloTimeoutMs: number;
  /** Open long-poll transports per client IP address (HTTP 429 past it). */
  maxLongPollTransportsPerIp: number;
  /** Open SSE streams per client IP address (HTTP 429 past it). */
  maxSseStreamsPerIp: number;
  /** TCP connections per client IP address, counted when accepted (closed at once past it). */
  maxSocketsPerIp: number;
  /** Time to receive a request's headers (408 past it); also how long a connection on a port shared with RawSocket may stay silent. */
  httpHeadersTimeoutMs: number;
  /** Time to receive a whole request (408 past it). */
  httpRequestTimeoutMs: number;
  /** Present when the HTTP bridge is on. */
  http?: HttpBridgeConfig;
  /** Present when static files are served. */
  static?: StaticConfig;
  /** Present when cookie tracking is configured (the `cookie` authmethod turns it on with defaults). */
  cookie?: CookieTrackingConfig;
}

export interface RawSocketListenerConfig {
  /** Messages a session may send per second; past it the session is closed (switchboard.close.rate_limited). Unset: no limit. */
  maxMessagesPerSecond?: number;
  type: 'rawsocket';
  auth: ListenerAuthConfig | undefined;
  host: string;
  port: number;
  /** Unix domain socket path; host and port are then unused. */
  path?: string;
  serializers: SerializerName[];
  maxMessageBytes: number;
  /** Bytes of incoming messages in progress all connections of this listener may hold together. */
  maxInboundBytes: number;
  /** Deepest nesting of lists and dicts in an incoming message; deeper aborts the session. */
  maxNestingDepth: number;
  /** Most values (keys included) in an incoming message; more aborts the session. */
  maxMessageItems: number;
  minPeerMaxMessageBytes: number;
  /** 0: no limit. */
  maxConnections: number;
  /** Present when connections per IP are limited. */
  maxConnectionsPerIp?: number;
  /** A connection without a WELCOME this long after it opened is closed. */
  helloTimeoutMs: number;
  pingIntervalMs: number;
  outbound: OutboundLimits;
  tls?: TlsFile;
}

export type ListenerConfig = WebSocketListenerConfig | RawSocketListenerConfig;

/**
 * permessage-deflate (RFC 7692) on a WebSocket listener, for the clients that offer it (browsers
 * do by themselves). The router compresses each message on its own (server_no_context_takeover),
 * synchronously on the event loop, and keeps no compression context on any connection: an EVENT
 * is compressed at most twice per serializer (windowBits, and 9 for clients that asked for less)
 * and the same bytes go to every plain subscriber that negotiated it; a per-peer message (RESULT,
 * INVOCATION …) once for its receiver; batched peers' batches not at all; nothing over maxBytes.
 * About 2^(windowBits+2) + 2^(memLevel+9) bytes (256 KiB at 15 and 8) while one message is
 * compressed. Inflating what clients send runs on ws's zlib streams on the thread pool: a
 * connection whose client compresses holds an inflate state (about 40 KiB).
 */
export interface CompressionConfig {
  /** Messages shorter than this (bytes, before compression) are sent as they are. */
  threshold: number;
  /** zlib level: 1 fastest … 9 smallest (0 stores: framing without compression). */
  level: number;
  /** zlib memLevel, 1 … 9: memory for the compression state; less is a little worse compression. */
  memLevel: number;
  /** Largest LZ77 window the router compresses with, 9 … 15 (the client may ask for less). */
  windowBits: number;
  /**
   * Messages longer than this (bytes) are sent uncompressed (switchboard_limits_exceeded_total
   * {limit="compression.maxBytes"}, once per message): compression is synchronous, on the event loop.
   */
  maxBytes: number;
}

/**
 * Level 1: most of the size gain on JSON for a fraction of level 6's CPU (bench: --compression).
 * maxBytes 1 MiB: the event loop stops at most some 5 ms per message at level 1 (90–270 ms at
 * level 9, depending on the data) rather than 16 times that for a 16 MiB message; messages that
 * large are rare, and sent as they are.
 */
export const DEFAULT_COMPRESSION: Readonly<CompressionConfig> = { threshold: 1024, level: 1, memLevel: 8, windowBits: 15, maxBytes: 1024 * 1024 };

export interface LongPollConfig {
  path: string;
  requestTimeoutMs: number;
  sessionTimeoutMs: number;
  queueMaxBytes: number;
  queueMaxMessages: number;
}

export interface RealmConfig {
  name: string;
  roles: RoleConfig[] | undefined;
  uriCheck: UriCheck;
  retention: { maxTopics: number; ttlMs: number };
  eventHistory: { topic: string; match: MatchPolicy; limit: number }[];
  limits: RealmLimits;
}

/** Problems a ConfigError's message lists; the count of the rest follows (a hostile file has thousands). */
export const MAX_PROBLEMS_SHOWN = 100;

/**
 * A config that failed validation; `problems` holds one line per error, each naming its field.
 * `warnings` are what a Crossbar import left out, reported with the errors.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    readonly source: string,
    readonly problems: string[],
    readonly warnings: string[] = [],
  ) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `  - ${p}`);
    if (problems.length > MAX_PROBLEMS_SHOWN) shown.push(`  … and ${problems.length - MAX_PROBLEMS_SHOWN} more problems`);
    super(`invalid configuration in ${source}:\n${shown.join('\n')}`);
  }
}

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  if (validator === undefined) {
    const schema: unknown = JSON.parse(readFileSync(schemaUrl('router-config'), 'utf8'));
    // verbose: each error carries its schema and value, for suggestions and pattern words (errors.ts).
    const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
    ajv.addKeyword({ keyword: PATTERN_DESCRIPTION, schemaType: 'string' });
    validator = ajv.compile(schema as object);
  }
  return validator;
}

/** Checks a parsed config object; throws ConfigError listing every problem (schema and semantic) at once. */
export function checkConfig(value: unknown, source = 'config'): RouterConfigFile {
  const check = validate();
  const problems = check(value) ? [] : schemaProblems(check.errors ?? []);
  problems.push(...semanticProblems(value));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return value as RouterConfigFile;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** Rules a JSON Schema cannot say. Runs on any input, so a file's problems are all reported in one pass. */
function semanticProblems(value: unknown): string[] {
  const problems: string[] = [];
  if (!isRecord(value)) return problems;
  const listeners = Array.isArray(value['listeners']) ? value['listeners'] : [];
  const bound: { host: string; port: number; index: number }[] = [];
  const sockets = new Map<string, number>();
  listeners.forEach((l: unknown, i) => {
    if (!isRecord(l)) return;
    const outbound = isRecord(l['outbound']) ? l['outbound'] : {};
    const soft = typeof outbound['softLimitBytes'] === 'number' ? outbound['softLimitBytes'] : DEFAULT_OUTBOUND_LIMITS.softLimitBytes;
    const hard = typeof outbound['hardLimitBytes'] === 'number' ? outbound['hardLimitBytes'] : DEFAULT_OUTBOUND_LIMITS.hardLimitBytes;
    if (hard < soft) problems.push(`/listeners/${i}/outbound/hardLimitBytes: must be at least softLimitBytes (${soft})`);
    const maxMessage = typeof l['maxMessageBytes'] === 'number' ? l['maxMessageBytes'] : DEFAULT_MAX_MESSAGE_BYTES;
    if (typeof l['maxInboundBytes'] === 'number' && l['maxInboundBytes'] < maxMessage) {
      problems.push(`/listeners/${i}/maxInboundBytes: must be at least maxMessageBytes (${maxMessage}), or no message of the largest size could arrive`);
    }
    const interval = typeof l['pingIntervalMs'] === 'number' ? l['pingIntervalMs'] : 30_000;
    if (l['type'] === 'websocket' && typeof l['pingTimeoutMs'] === 'number' && interval > 0 && l['pingTimeoutMs'] > interval) {
      problems.push(`/listeners/${i}/pingTimeoutMs: must be at most pingIntervalMs (${interval})`);
    }
    if (l['type'] === 'rawsocket' && typeof l['path'] === 'string') {
      if (l['host'] !== undefined || l['port'] !== undefined) problems.push(`/listeners/${i}: give either path (a Unix socket) or host and port, not both`);
      const clash = sockets.get(l['path']);
      if (clash !== undefined) problems.push(`/listeners/${i}/path: Unix socket ${l['path']} is also /listeners/${clash}/path`);
      sockets.set(l['path'], i);
      return;
    }
    const host = typeof l['host'] === 'string' ? l['host'] : '0.0.0.0';
    const port = typeof l['port'] === 'number' ? l['port'] : l['type'] === 'rawsocket' ? DEFAULT_RAWSOCKET_PORT : 8080;
    if (port === 0) return;
    // A wildcard address takes the port on every interface, so it clashes with any host.
    const clash = bound.find((b) => b.port === port && (b.host === host || WILDCARD_HOSTS.has(b.host) || WILDCARD_HOSTS.has(host)));
    if (clash !== undefined) problems.push(`/listeners/${i}/port: ${host}:${port} clashes with /listeners/${clash.index} (${clash.host}:${port})`);
    bound.push({ host, port, index: i });
  });
  const realms = Array.isArray(value['realms']) ? value['realms'] : [];
  const names = new Set<string>();
  realms.forEach((r: unknown, i) => {
    if (!isRecord(r) || typeof r['name'] !== 'string') return;
    if (names.has(r['name'])) problems.push(`/realms/${i}/name: realm '${r['name']}' is defined twice`);
    names.add(r['name']);
  });
  const realmNames = value['realms'] === undefined ? new Set(['realm1']) : names;
  listeners.forEach((l: unknown, i) => {
    if (isRecord(l)) problems.push(...authProblems(l['auth'], `/listeners/${i}/auth`, realmNames));
    if (isRecord(l)) problems.push(...listenerAuthProblems(l, `/listeners/${i}`));
    if (isRecord(l)) problems.push(...bridgeProblems(l, `/listeners/${i}`, realmNames));
  });
  problems.push(...integrationProblems(value['httpIntegrations'], realmNames));
  const cluster = value['cluster'];
  if (isRecord(cluster)) {
    const beat = typeof cluster['heartbeatMs'] === 'number' ? cluster['heartbeatMs'] : 1000;
    const timeout = typeof cluster['nodeTimeoutMs'] === 'number' ? cluster['nodeTimeoutMs'] : 3000;
    if (timeout < 2 * beat) problems.push(`/cluster/nodeTimeoutMs: must be at least twice heartbeatMs (${beat}), or one late heartbeat takes a live node for dead`);
    const servers = isRecord(cluster['nats']) && Array.isArray(cluster['nats']['servers']) ? cluster['nats']['servers'] : [];
    servers.forEach((url: unknown, i) => {
      if (typeof url === 'string' && !/^(nats|tls|wss?):\/\/[^\s]+$/.test(url) && !/^[^\s/:]+(:\d+)?$/.test(url)) {
        problems.push(`/cluster/nats/servers/${i}: '${url}' is not a NATS URL (nats://host:port)`);
      }
    });
  }
  return problems;
}

/** A config file as loaded: the Switchboard config, and what a Crossbar import could not carry over. */
export interface LoadedConfig {
  file: RouterConfigFile;
  format: 'switchboard' | 'crossbar';
  /** `pointer: message` lines (Crossbar imports only); never fatal. */
  warnings: string[];
  /** Points a later problem about this config (`/listeners/0/tls/cert: …`) into the file as written. */
  locate(problem: string): string;
}

/**
 * The largest config file read: 16 MiB, far beyond any real one (a config cannot configure its own
 * file, so this is a constant). A larger file is refused before it is read.
 */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/** Reads, parses and checks a JSON config file (see loadConfig). */
export function loadConfigFile(path: string, env?: Environment): RouterConfigFile {
  return loadConfig(path, env).file;
}

/**
 * Reads a JSON config file: Switchboard's own, or a Crossbar node config (converted, see
 * crossbar.ts). `$NAME` / `${NAME}` string values come from `env` first (see env.ts). Every
 * problem (unset variables, schema, semantics) is reported in one ConfigError, pointing into the
 * file as written. TLS file paths are resolved against the file's directory.
 */
export function loadConfig(path: string, env: Environment = process.env): LoadedConfig {
  let text: string;
  try {
    if (statSync(path).size > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigError(path, [`cannot read file: larger than ${MAX_CONFIG_FILE_BYTES} bytes (16 MiB), the most a config file may be`]);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  // A byte order mark (some Windows editors write one) is not part of the JSON text.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8 says "position 55" or nothing at all: locate the error ourselves, as a person reads the file.
    throw new ConfigError(path, [`not valid JSON: ${jsonSyntaxProblem(text) ?? (err as Error).message}`]);
  }
  const substituted = substituteEnv(value, env);
  const problems = [...substituted.problems];
  let config: unknown = substituted.value;
  let warnings: string[] = [];
  let locate = (problem: string): string => problem;
  const format = isCrossbarConfig(config) ? 'crossbar' : 'switchboard';
  if (isCrossbarConfig(config)) {
    const imported = convertCrossbar(config, dirname(path));
    problems.push(...imported.problems);
    warnings = imported.warnings;
    locate = imported.locate;
    config = imported.config;
  }
  try {
    checkConfig(config, path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems.map(locate));
  }
  if (problems.length > 0) throw new ConfigError(path, problems, warnings);
  const dir = dirname(path);
  return { file: withCookiePathsFrom(dir, withStaticPathsFrom(dir, withTlsPathsFrom(dir, config as RouterConfigFile))), format, warnings, locate };
}

/** Relative TLS file paths in a config file mean relative to that file (as in Crossbar). */
function withTlsPathsFrom(dir: string, file: RouterConfigFile): RouterConfigFile {
  if (file.listeners === undefined || !file.listeners.some((l) => l.tls !== undefined)) return file;
  const abs = (p: string): string => resolvePath(dir, p);
  return {
    ...file,
    listeners: file.listeners.map((l) => {
      if (l.tls === undefined) return l;
      const tls: TlsFile = { ...l.tls, cert: abs(l.tls.cert), key: abs(l.tls.key) };
      if (l.tls.ca !== undefined) tls.ca = typeof l.tls.ca === 'string' ? abs(l.tls.ca) : l.tls.ca.map(abs);
      return { ...l, tls };
    }),
  };
}

/** Relative static directories in a config file mean relative to that file, as TLS paths do. */
function withStaticPathsFrom(dir: string, file: RouterConfigFile): RouterConfigFile {
  if (file.listeners === undefined || !file.listeners.some((l) => l.type === 'websocket' && l.static !== undefined)) return file;
  return {
    ...file,
    listeners: file.listeners.map((l) => {
      if (l.type !== 'websocket' || l.static === undefined) return l;
      const mounts = Object.entries(l.static).map(([prefix, mount]) => [prefix, { ...mount, directory: resolvePath(dir, mount.directory) }] as const);
      return { ...l, static: Object.fromEntries(mounts) };
    }),
  };
}

/** A relative cookie store file in a config file means relative to that file, as TLS paths do. */
function withCookiePathsFrom(dir: string, file: RouterConfigFile): RouterConfigFile {
  if (file.listeners === undefined || !file.listeners.some((l) => l.type === 'websocket' && l.cookie?.store?.type === 'file')) return file;
  return {
    ...file,
    listeners: file.listeners.map((l) => {
      if (l.type !== 'websocket' || l.cookie?.store?.type !== 'file') return l;
      return { ...l, cookie: { ...l.cookie, store: { type: 'file', filename: resolvePath(dir, l.cookie.store.filename) } } };
    }),
  };
}

/**
 * How long a connection may go without a WELCOME: time enough for a HELLO and a CHALLENGE round
 * trip on a slow link, short enough that idle connections cannot pile up.
 */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/**
 * Largest incoming message on every transport: 16 MiB, RawSocket's largest length (2^24), as
 * Crossbar and Nexus allow. A 1 MiB payload needs more than 1 MiB once in its envelope, and at
 * 16 MiB the decode-time bounds (maxNestingDepth, maxMessageItems) still hold a frame to tens of
 * milliseconds; memory is held by the outbound budget and the realm quotas, not by this.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/**
 * Bytes of incomplete incoming messages a listener holds at once, over all its connections: 16
 * maximal (16 MiB) messages arriving together, or thousands of ordinary ones, while an attacker
 * with many connections pins at most this much (without it, maxSocketsPerIp × maxMessageBytes:
 * 16 GiB from one address). Well within a small container's memory.
 */
export const DEFAULT_MAX_INBOUND_BYTES = 256 * 1024 * 1024;
/** Long-poll transports per address: a browser needs one per tab; 100 leaves room for a NAT. */
export const DEFAULT_LONGPOLL_TRANSPORTS_PER_IP = 100;
/** SSE streams per address: one per topic a page follows; 100 leaves room for a NAT. */
export const DEFAULT_SSE_STREAMS_PER_IP = 100;
/**
 * TCP connections per address: a browser opens at most 6 HTTP/1.1 connections per host and a few
 * WebSockets, and an office behind one NAT address holds some hundreds of such browsers; 1024 keeps
 * one address far below a process's file descriptors (a half-sent request held 19 705 of them).
 */
export const DEFAULT_SOCKETS_PER_IP = 1024;
export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 30_000;

/** A RawSocket listener's port when it names neither a port nor a Unix socket path. */
export const DEFAULT_RAWSOCKET_PORT = 8081;

export const DEFAULT_LONGPOLL: Readonly<LongPollConfig> = {
  path: '/lp',
  // Under autobahn-js's 12 s client-side request timeout, as Crossbar's 10 s is.
  requestTimeoutMs: 10_000,
  sessionTimeoutMs: 30_000,
  queueMaxBytes: 4 * 1024 * 1024,
  queueMaxMessages: 10_000,
};

function resolveWebSocketListener(l: WebSocketListenerFile): WebSocketListenerConfig {
  const out: WebSocketListenerConfig = {
    type: 'websocket',
    auth: l.auth,
    host: l.host ?? '0.0.0.0',
    port: l.port ?? 8080,
    path: (Array.isArray(l.path) ? l.path[0] : l.path) ?? '/ws',
    serializers: l.serializers ?? ['json', 'msgpack', 'cbor'],
    maxMessageBytes: l.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxInboundBytes: l.maxInboundBytes ?? DEFAULT_MAX_INBOUND_BYTES,
    maxNestingDepth: l.maxNestingDepth ?? DEFAULT_MAX_DEPTH,
    maxMessageItems: l.maxMessageItems ?? DEFAULT_MAX_ITEMS,
    pingIntervalMs: l.pingIntervalMs ?? 30_000,
    outbound: { ...DEFAULT_OUTBOUND_LIMITS, ...l.outbound },
    batched: l.batched ?? true,
    helloTimeoutMs: l.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
    maxLongPollTransportsPerIp: l.maxLongPollTransportsPerIp ?? DEFAULT_LONGPOLL_TRANSPORTS_PER_IP,
    maxSseStreamsPerIp: l.maxSseStreamsPerIp ?? DEFAULT_SSE_STREAMS_PER_IP,
    maxSocketsPerIp: l.maxSocketsPerIp ?? Math.max(DEFAULT_SOCKETS_PER_IP, l.maxConnectionsPerIp ?? 0),
    httpHeadersTimeoutMs: l.httpHeadersTimeoutMs ?? DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: l.httpRequestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  };
  if (Array.isArray(l.path) && l.path.length > 1) out.paths = [...l.path];
  if (l.rawsocket === true) out.rawsocket = true;
  if (l.compression !== undefined) out.compression = { ...DEFAULT_COMPRESSION, ...l.compression };
  if (l.longpoll !== undefined) out.longpoll = { ...DEFAULT_LONGPOLL, ...l.longpoll };
  if (l.tls !== undefined) out.tls = { ...l.tls };
  if (l.allowedOrigins !== undefined) {
    out.allowedOrigins = [...l.allowedOrigins];
    out.allowNullOrigin = l.allowNullOrigin ?? false;
  }
  if (l.maxConnectionsPerIp !== undefined && l.maxConnectionsPerIp > 0) out.maxConnectionsPerIp = l.maxConnectionsPerIp;
  if (l.maxMessagesPerSecond !== undefined) out.maxMessagesPerSecond = l.maxMessagesPerSecond;
  if (l.pingTimeoutMs !== undefined && l.pingTimeoutMs < out.pingIntervalMs) out.pingTimeoutMs = l.pingTimeoutMs;
  if (l.http !== undefined) out.http = resolveHttpBridge(l.http);
  if (l.static !== undefined) out.static = Object.fromEntries(Object.entries(l.static).map(([prefix, mount]) => [prefix, { ...mount }]));
  if (l.cookie !== undefined) out.cookie = { ...l.cookie };
  return out;
}

function resolveRawSocketListener(l: RawSocketListenerFile): RawSocketListenerConfig {
  const out: RawSocketListenerConfig = {
    type: 'rawsocket',
    auth: l.auth,
    host: l.host ?? '0.0.0.0',
    port: l.port ?? DEFAULT_RAWSOCKET_PORT,
    serializers: l.serializers ?? ['json', 'msgpack', 'cbor'],
    maxMessageBytes: l.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    maxInboundBytes: l.maxInboundBytes ?? DEFAULT_MAX_INBOUND_BYTES,
    maxNestingDepth: l.maxNestingDepth ?? DEFAULT_MAX_DEPTH,
    maxMessageItems: l.maxMessageItems ?? DEFAULT_MAX_ITEMS,
    minPeerMaxMessageBytes: l.minPeerMaxMessageBytes ?? 512,
    maxConnections: l.maxConnections ?? 0,
    // Off by default: autobahn-python's asyncio RawSocket cannot answer a PING.
    pingIntervalMs: l.pingIntervalMs ?? 0,
    outbound: { ...DEFAULT_OUTBOUND_LIMITS, ...l.outbound },
    helloTimeoutMs: l.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
  };
  if (l.maxConnectionsPerIp !== undefined) out.maxConnectionsPerIp = l.maxConnectionsPerIp;
  if (l.path !== undefined) out.path = l.path;
  if (l.tls !== undefined) out.tls = { ...l.tls };
  if (l.maxMessagesPerSecond !== undefined) out.maxMessagesPerSecond = l.maxMessagesPerSecond;
  return out;
}

/**
 * The listener of a config without `listeners` (and of `switchboard start` with no config): every
 * transport on one port, as Crossbar's `universal` transport: WebSocket at /ws, RawSocket (a
 * connection whose first octet is 0x7F, so `rs://host:8080`) and HTTP long-poll at /lp. A listener
 * written in the config means what it says: RawSocket and long-poll stay opt-in there.
 */
export function embeddedListener(): WebSocketListenerFile {
  return { type: 'websocket', rawsocket: true, longpoll: {} };
}

/** Fills in every default. The embedded default: realm1, anonymous, all serializers, embeddedListener() on 0.0.0.0:8080. */
export function resolveConfig(file: RouterConfigFile = {}): RouterConfig {
  const listeners = (file.listeners ?? [embeddedListener()]).map(
    (l): ListenerConfig => (l.type === 'rawsocket' ? resolveRawSocketListener(l) : resolveWebSocketListener(l)),
  );
  const realms = (file.realms ?? [{ name: 'realm1' }]).map(
    (r): RealmConfig => ({
      name: r.name,
      roles: r.roles,
      uriCheck: r.uriCheck ?? 'loose',
      retention: { maxTopics: r.retention?.maxTopics ?? 10_000, ttlMs: r.retention?.ttlMs ?? 0 },
      eventHistory: (r.eventHistory ?? []).map((h) => ({ topic: h.topic, match: h.match ?? 'exact', limit: h.limit ?? 100 })),
      limits: { ...DEFAULT_REALM_LIMITS, ...r.limits },
    }),
  );
  const log: RouterConfig['log'] = { level: file.log?.level ?? 'info', refusalIntervalMs: file.log?.refusalIntervalMs ?? DEFAULT_REFUSAL_INTERVAL_MS };
  if (file.log?.pretty !== undefined) log.pretty = file.log.pretty;
  if (file.log?.modules !== undefined) log.modules = file.log.modules;
  return {
    listeners,
    realms,
    log,
    requestIds: file.requestIds ?? 'sequential',
    shutdownTimeoutMs: file.shutdownTimeoutMs ?? 2000,
    authTimeoutMs: file.authTimeoutMs ?? 10_000,
    metrics: file.metrics === undefined ? undefined : { host: file.metrics.host ?? '127.0.0.1', port: file.metrics.port ?? 9464, path: file.metrics.path ?? '/metrics' },
    ...(file.httpIntegrations !== undefined && { httpIntegrations: file.httpIntegrations }),
    ...(file.cluster !== undefined && { cluster: resolveCluster(file.cluster) }),
  };
}

function resolveCluster(file: ClusterFile): ClusterConfig {
  const node = file.node ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}`;
  return {
    node,
    nats: { ...file.nats, name: file.nats.name ?? `switchboard-${node}` },
    prefix: file.prefix ?? 'sb',
    heartbeatMs: file.heartbeatMs ?? 1000,
    nodeTimeoutMs: file.nodeTimeoutMs ?? 3000,
  };
}
