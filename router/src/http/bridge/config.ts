/**
 * The HTTP bridge's configuration: a websocket listener's `http.paths` (Crossbar's path services
 * `publisher`, `caller`, `webhook`, plus `sse`), and the router's outgoing `httpIntegrations`.
 *
 * A path's `options` block is Crossbar's, with Crossbar's key names and meanings (so a Crossbar
 * path service can be copied over as written); what Switchboard adds sits beside it, at the path
 * level, in camelCase.
 */
import { isIP } from 'node:net';

/** Whether every entry of require_ip is an address or a CIDR network (what guard.ts's BlockList is built from). */
function isNetwork(entry: string): boolean {
  const [address, prefix, rest] = entry.split('/');
  if (rest !== undefined || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/** Crossbar's `options` of a publisher or caller path service. [Crossbar: HTTP Bridge Publisher] */
export interface BridgeOptionsFile {
  /** Signed requests: the key clients name in `?key=`. */
  key?: string;
  /** Signed requests: the shared secret (HMAC-SHA256). With it, every request must be signed. */
  secret?: string;
  /** Largest body in bytes; 0 (Crossbar's default): the listener's maxMessageBytes. */
  post_body_limit?: number;
  /** Largest difference in seconds between a signed request's timestamp and now (default 300; 0: no check). */
  timestamp_delta_limit?: number;
  /** Client addresses or networks (CIDR) allowed; others get 400. */
  require_ip?: string[];
  /** Refuse requests that did not come over TLS (400). */
  require_tls?: boolean;
  /** Accepted for Crossbar compatibility; use the log level instead. */
  debug?: boolean;
}

/** Crossbar's `options` of a webhook path service. [Crossbar: HTTP Bridge Webhook] */
export interface WebhookOptionsFile {
  /** The topic every request is published to, as `{headers, body}`. */
  topic: string;
  /** The 202 answer's body (default `OK`). */
  success_response?: string;
  /** The 500 answer's body when publishing fails (default `NOT OK`). */
  error_response?: string;
  /** Check GitHub's `X-Hub-Signature` (HMAC-SHA1 of the body) with this secret; 400 otherwise. */
  github_secret?: string;
  post_body_limit?: number;
  require_ip?: string[];
  require_tls?: boolean;
  debug?: boolean;
}

/** A bearer token and who its requests act as (authorized like a WAMP session with that role). */
export interface BridgeTokenFile {
  token: string;
  role: string;
  /** Default: `token:<the first 4 characters>…`. */
  authid?: string;
}

/**
 * Which browser pages may use a path across origins. Without it a path sends no CORS headers, and
 * a request whose `Origin` is another than the path's own is refused (403). [#14]
 */
export interface BridgeCorsFile {
  /** Exact origins (`https://app.example.com`, scheme, host and port), or `["*"]` for every origin. */
  origins: string[];
  /** `Access-Control-Allow-Credentials: true` (cookies, TLS client certificates); never with `*`. Default false. */
  credentials?: boolean;
}

interface PathCommonFile {
  realm: string;
  /** The role requests act as (authorized like a WAMP session with this role). */
  role: string;
  /** The authid requests act as (default `http-bridge`). */
  authid?: string;
  /** Bearer tokens (`Authorization: Bearer …`), each with its own authid and role. */
  tokens?: BridgeTokenFile[];
  /** Cross-origin browser pages allowed (default: none). */
  cors?: BridgeCorsFile;
}

export interface PublisherPathFile extends PathCommonFile {
  type: 'publisher';
  options?: BridgeOptionsFile;
  /** Real HTTP status codes for WAMP errors instead of Crossbar's 200 (default false). */
  strict?: boolean;
  /** With a key: seq must increase from one request to the next (default false). */
  requireIncreasingSeq?: boolean;
  /** Most publications in one batch (a JSON array body; default 1000). */
  maxBatch?: number;
  /** How long an Idempotency-Key answer is remembered (default 10 minutes). */
  idempotencyTtlMs?: number;
}

export interface CallerPathFile extends PathCommonFile {
  type: 'caller';
  options?: BridgeOptionsFile;
  strict?: boolean;
  requireIncreasingSeq?: boolean;
  /**
   * CALL timeout when the body gives none, and the longest a body may ask for (ms; default 60000;
   * 0: none, a body's timeout alone).
   */
  callTimeoutMs?: number;
  /** Calls one client address may have in flight on this path (default 100); past it HTTP 429. */
  maxConcurrentCallsPerIp?: number;
}

export interface WebhookPathFile extends PathCommonFile {
  type: 'webhook';
  options: WebhookOptionsFile;
}

export interface SsePathFile extends PathCommonFile {
  type: 'sse';
  /** require_ip, require_tls, key/secret (a signed GET: the body is empty), timestamp_delta_limit. */
  options?: BridgeOptionsFile;
  requireIncreasingSeq?: boolean;
  /** A comment line is sent this often so proxies keep the stream open (default 15000 ms). */
  keepAliveMs?: number;
  /** A stream whose unsent output passes this is closed (the client resumes with Last-Event-ID; default 1 MiB). */
  maxBufferedBytes?: number;
}

export type BridgePathFile = PublisherPathFile | CallerPathFile | WebhookPathFile | SsePathFile;

/** A websocket listener's `http` block. */
export interface HttpBridgeFile {
  /** URL path (exact, starting with `/`) → path service. */
  paths: Record<string, BridgePathFile>;
  /** Where the OpenAPI 3 document of these paths is served (default `/openapi.json`); false: not served. */
  openapi?: string | false;
}

/** Forwards a topic's events to a URL as POSTs of `{"args": [...], "kwargs": {...}}`. */
export interface HttpSubscriberFile {
  realm: string;
  role: string;
  authid?: string;
  topic: string;
  match?: 'exact' | 'prefix' | 'wildcard';
  url: string;
  /** Default POST. */
  method?: 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** The status that means delivered (default: every 2xx status). */
  expectedCode?: number;
  /** Per request (default 10000 ms). */
  timeoutMs?: number;
  /** Further attempts after a failed one (default 3), with exponential backoff from retryDelayMs. */
  retries?: number;
  /** Default 500 ms. */
  retryDelayMs?: number;
  /** Events waiting to be sent; past it new events are dropped and counted (default 1000). */
  maxQueue?: number;
  /**
   * Bytes (of the JSON bodies) of the events waiting to be sent; an event that would take the
   * queue past it is dropped and counted like one past maxQueue (default 16 MiB).
   */
  maxQueueBytes?: number;
}

/** An HTTP subscriber's default maxQueueBytes: 16 MiB. */
export const DEFAULT_SUBSCRIBER_MAX_QUEUE_BYTES = 16 * 1024 * 1024;
/** An HTTP callee's default timeoutMs. */
export const DEFAULT_CALLEE_TIMEOUT_MS = 10_000;
/** An HTTP callee's default maxResponseBytes: 1 MiB, an answer body read into memory per call (below the 16 MiB default maxMessageBytes its result may travel in; raise it per callee). */
export const DEFAULT_CALLEE_MAX_RESPONSE_BYTES = 1024 * 1024;

/** A procedure that performs an HTTP request (Crossbar's RESTCallee contract). */
export interface HttpCalleeFile {
  realm: string;
  role: string;
  authid?: string;
  procedure: string;
  /** Requests go to URLs under this one only. */
  baseUrl: string;
  /** For the whole exchange, the answer's body included (default 10000 ms). */
  timeoutMs?: number;
  /** Bytes of an answer's body read; past it the request is aborted and the call fails with limit_exceeded (default 1 MiB). */
  maxResponseBytes?: number;
}

export interface HttpIntegrationsFile {
  subscribers?: HttpSubscriberFile[];
  callees?: HttpCalleeFile[];
}

// ---- resolved --------------------------------------------------------------------------------

export interface BridgeOptions {
  key: string | undefined;
  secret: string | undefined;
  /** Crossbar's post_body_limit; 0: the listener's maxMessageBytes. */
  postBodyLimit: number;
  /** Seconds; 0: none. */
  timestampDeltaLimit: number;
  requireIp: string[] | undefined;
  requireTls: boolean;
}

export interface BridgeToken {
  token: string;
  authid: string;
  role: string;
}

/** A path's resolved CORS setting: the origins allowed (lowercase), or any origin. */
export interface BridgeCors {
  origins: ReadonlySet<string> | 'any';
  credentials: boolean;
}

export interface BridgePath {
  path: string;
  type: BridgePathFile['type'];
  realm: string;
  role: string;
  authid: string;
  tokens: BridgeToken[];
  options: BridgeOptions;
  /** Undefined: same-origin pages and non-browser clients only. */
  cors: BridgeCors | undefined;
  strict: boolean;
  requireIncreasingSeq: boolean;
  maxBatch: number;
  idempotencyTtlMs: number;
  callTimeoutMs: number;
  /** Caller only: calls in flight per client address. */
  maxConcurrentCallsPerIp: number;
  keepAliveMs: number;
  maxBufferedBytes: number;
  /** Webhook only. */
  webhook: { topic: string; successResponse: string; errorResponse: string; githubSecret: string | undefined } | undefined;
}

export interface HttpBridgeConfig {
  paths: BridgePath[];
  openapi: string | undefined;
}

export const DEFAULT_BRIDGE_AUTHID = 'http-bridge';
export const DEFAULT_TIMESTAMP_DELTA_LIMIT_S = 300;
/** A caller path's call timeout: a call to a callee that never answers frees its slot after a minute. */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
export const DEFAULT_CONCURRENT_CALLS_PER_IP = 100;

export function resolveHttpBridge(file: HttpBridgeFile): HttpBridgeConfig {
  const paths = Object.entries(file.paths).map(([path, p]): BridgePath => {
    const o: BridgeOptionsFile & Partial<WebhookOptionsFile> = p.options ?? {};
    return {
      path,
      type: p.type,
      realm: p.realm,
      role: p.role,
      authid: p.authid ?? DEFAULT_BRIDGE_AUTHID,
      tokens: (p.tokens ?? []).map((t) => ({ token: t.token, role: t.role, authid: t.authid ?? `token:${t.token.slice(0, 4)}…` })),
      options: {
        key: o.key,
        secret: o.secret,
        postBodyLimit: o.post_body_limit ?? 0,
        timestampDeltaLimit: o.timestamp_delta_limit ?? DEFAULT_TIMESTAMP_DELTA_LIMIT_S,
        requireIp: o.require_ip,
        requireTls: o.require_tls === true,
      },
      cors:
        p.cors === undefined
          ? undefined
          : { origins: p.cors.origins.includes('*') ? 'any' : new Set(p.cors.origins.map((o) => o.toLowerCase())), credentials: p.cors.credentials === true },
      strict: 'strict' in p && p.strict === true,
      requireIncreasingSeq: 'requireIncreasingSeq' in p && p.requireIncreasingSeq === true,
      maxBatch: (p.type === 'publisher' ? p.maxBatch : undefined) ?? 1000,
      idempotencyTtlMs: (p.type === 'publisher' ? p.idempotencyTtlMs : undefined) ?? 600_000,
      callTimeoutMs: (p.type === 'caller' ? p.callTimeoutMs : undefined) ?? DEFAULT_CALL_TIMEOUT_MS,
      maxConcurrentCallsPerIp: (p.type === 'caller' ? p.maxConcurrentCallsPerIp : undefined) ?? DEFAULT_CONCURRENT_CALLS_PER_IP,
      keepAliveMs: (p.type === 'sse' ? p.keepAliveMs : undefined) ?? 15_000,
      maxBufferedBytes: (p.type === 'sse' ? p.maxBufferedBytes : undefined) ?? 1024 * 1024,
      webhook:
        p.type === 'webhook'
          ? {
              topic: p.options.topic,
              successResponse: p.options.success_response ?? 'OK',
              errorResponse: p.options.error_response ?? 'NOT OK',
              githubSecret: p.options.github_secret,
            }
          : undefined,
    };
  });
  return { paths, openapi: file.openapi === false ? undefined : (file.openapi ?? '/openapi.json') };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * What the schema cannot say about a listener's `http` block and the `httpIntegrations`: realms
 * that do not exist, a path that clashes with the listener's WebSocket or long-poll paths, a
 * secret without a key. Runs on unvalidated input.
 */
export function bridgeProblems(listener: unknown, at: string, realms: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!isRecord(listener) || !isRecord(listener['http']) || !isRecord(listener['http']['paths'])) return problems;
  const http = listener['http'];
  const websocketPaths =
    typeof listener['path'] === 'string'
      ? [listener['path']]
      : Array.isArray(listener['path'])
        ? listener['path'].filter((p): p is string => typeof p === 'string')
        : ['/ws'];
  const taken = new Map<string, string>([...websocketPaths.map((p): [string, string] => [p, 'the WebSocket path']), ['/health', 'the health check']]);
  if (isRecord(listener['longpoll'])) taken.set(typeof listener['longpoll']['path'] === 'string' ? listener['longpoll']['path'] : '/lp', 'the long-poll path');
  if (typeof http['openapi'] === 'string') taken.set(http['openapi'], 'the OpenAPI document');
  else if (http['openapi'] === undefined) taken.set('/openapi.json', 'the OpenAPI document');
  for (const [path, p] of Object.entries(http['paths'] as Record<string, unknown>)) {
    const here = `${at}/http/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const clash = taken.get(path);
    if (clash !== undefined) problems.push(`${here}: ${path} is already ${clash}`);
    if (!isRecord(p)) continue;
    if (typeof p['realm'] === 'string' && !realms.has(p['realm'])) problems.push(`${here}/realm: no realm named '${p['realm']}' in this config`);
    const o = p['options'];
    if (isRecord(o) && (o['secret'] === undefined) !== (o['key'] === undefined))
      problems.push(`${here}/options: key and secret go together (signed requests need both)`);
    if (isRecord(o) && Array.isArray(o['require_ip'])) {
      o['require_ip'].forEach((entry: unknown, i) => {
        if (typeof entry === 'string' && !isNetwork(entry)) problems.push(`${here}/options/require_ip/${i}: '${entry}' is not an IP address or CIDR network`);
      });
    }
    if (p['requireIncreasingSeq'] === true && !(isRecord(o) && typeof o['secret'] === 'string'))
      problems.push(`${here}/requireIncreasingSeq: needs options.key and options.secret`);
    problems.push(...corsProblems(p['cors'], `${here}/cors`));
  }
  return problems;
}

/** Whether `text` is an origin as browsers send it: scheme://host[:port], nothing more. */
function isOrigin(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text.toLowerCase();
}

function corsProblems(cors: unknown, at: string): string[] {
  if (!isRecord(cors) || !Array.isArray(cors['origins'])) return [];
  const problems: string[] = [];
  const origins = cors['origins'] as unknown[];
  origins.forEach((origin, i) => {
    if (typeof origin === 'string' && origin !== '*' && !isOrigin(origin))
      problems.push(`${at}/origins/${i}: '${origin}' is not an origin (scheme://host[:port], e.g. https://app.example.com)`);
  });
  if (origins.includes('*') && origins.length > 1) problems.push(`${at}/origins: '*' (any origin) stands alone`);
  // Any origin with credentials would let every web page act with a visitor's cookies and certificates.
  if (origins.includes('*') && cors['credentials'] === true)
    problems.push(`${at}/credentials: not with origins '*'; list the origins that may send credentials`);
  return problems;
}

export function integrationProblems(value: unknown, realms: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  if (!isRecord(value)) return problems;
  for (const kind of ['subscribers', 'callees'] as const) {
    const list = value[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((entry: unknown, i) => {
      if (isRecord(entry) && typeof entry['realm'] === 'string' && !realms.has(entry['realm'])) {
        problems.push(`/httpIntegrations/${kind}/${i}/realm: no realm named '${entry['realm']}' in this config`);
      }
    });
  }
  return problems;
}
