/**
 * The config file's types, generated from schemas/schema/router-config.schema.json by `npm run schema:types`
 * (scripts/schema-types.mjs). Do not edit: change the schema and run it again
 * (router/test/unit/schema-types.test.ts fails while this file is out of date).
 */
/* eslint-disable */

/**
 * A listener: type websocket (WebSocket, and on the same port optionally RawSocket, HTTP long-poll, TLS) or rawsocket (RawSocket only, over TCP or a Unix socket).
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "listener".
 */
export type Listener = WebsocketListener | RawsocketListener;
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "bridgePath".
 */
export type BridgePath = PublisherPath | CallerPath | WebhookPath | SsePath;
/**
 * Client addresses or CIDR networks allowed; other clients get 400.
 */
export type RequireIp = string[];
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "tlsPrincipal".
 */
export type TlsPrincipal = TlsPrincipal1 & {
  /**
   * SHA-1 fingerprint of the client certificate (as openssl x509 -fingerprint prints it; colons optional).
   */
  'certificate-sha1'?: string;
  /**
   * SHA-256 fingerprint of the client certificate (colons optional).
   */
  'certificate-sha256'?: string;
  role: string;
  /**
   * The realm the session joins, whatever it asked for (as in Crossbar).
   */
  realm?: string;
};
export type TlsPrincipal1 =
  | {
      'certificate-sha1': unknown;
    }
  | {
      'certificate-sha256': unknown;
    };

/**
 * Configuration of a Switchboard WAMP router. Every field is optional; omitted fields take the defaults shown.
 */
export interface RouterConfigFile {
  /**
   * Path or URL of this schema, for editors.
   */
  $schema?: string;
  /**
   * Network endpoints. Default: one listener on 0.0.0.0:8080 speaking every transport, as Crossbar's universal transport: WebSocket at /ws, RawSocket (rs://host:8080) and HTTP long-poll at /lp. A listener written here has only what it names (rawsocket and longpoll are opt-in).
   *
   * @minItems 1
   */
  listeners?: Listener[];
  /**
   * Realms served. Default: one realm named realm1 with anonymous access.
   *
   * @minItems 1
   */
  realms?: Realm[];
  log?: {
    level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /**
     * Human-readable lines instead of JSON, written by pino-pretty, an optional dependency of the router (without it: JSON lines and one warning). Default: when stdout is a terminal.
     */
    pretty?: boolean;
    /**
     * Refused connections and joins (404 path, origin, connections per address, subprotocol, handshake timeout, ABORT at join, bad frames) are logged at info, at most one line per reason per this many ms; the next line says how many were not logged. 0: every refusal.
     */
    refusalIntervalMs?: number;
    /**
     * Levels for parts of the router, overriding `level` for them.
     */
    modules?: {
      realm?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
      session?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
      auth?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
      transport?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
      bridge?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
      cluster?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
      history?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    };
  };
  /**
   * sequential: client request IDs must count up by 1 from 1, as the WAMP spec requires (protocol violation otherwise). any: accept any ID in [1, 2^53], for old clients.
   */
  requestIds?: 'sequential' | 'any';
  /**
   * How long a graceful shutdown waits for clients to answer GOODBYE before dropping them.
   */
  shutdownTimeoutMs?: number;
  /**
   * How long a client has to answer a CHALLENGE before the session is aborted, and how long a dynamic authenticator procedure has to answer.
   */
  authTimeoutMs?: number;
  httpIntegrations?: HttpIntegrations;
  /**
   * Prometheus metrics (and /health, /ready) on an HTTP server of their own. Off unless this block is present.
   */
  metrics?: {
    /**
     * Listen address; the default keeps metrics off the network.
     */
    host?: string;
    port?: number;
    path?: string;
  };
  /**
   * Where event history and retained events are kept. memory (the default): in the router's memory, nothing to set up, lost at exit. sqlite: one SQLite file through better-sqlite3 (an optional dependency of the router), survives restarts of a single node. jetstream: NATS JetStream streams over the cluster's NATS connection (needs the cluster block), shared by every node. History is written in batches, one per event-loop turn.
   */
  store?: {
    /**
     * The engine: memory, sqlite or jetstream.
     */
    type?: 'memory' | 'sqlite' | 'jetstream';
    /**
     * sqlite: the database file; a relative path is relative to the config file's directory. Its directory is created when missing. The file is in WAL mode: keep the -wal and -shm files next to it.
     */
    path?: string;
    /**
     * batched: an event is stored at most one event-loop turn after the router acknowledged it (PUBLISHED), in one batch with its neighbours; a crash can lose that last batch. ack: PUBLISHED (acknowledge: true) is sent only once the event is stored; when the store fails, the publisher gets ERROR switchboard.error.store_failed (the event was still delivered).
     */
    durability?: 'batched' | 'ack';
    /**
     * How often events past their topic's maxAgeMs (and past the realm's maxHistoryBytes) are deleted, in chunks that leave the event loop free. Reads never return an expired event, whenever it is deleted.
     */
    expiryIntervalMs?: number;
    /**
     * jetstream: replicas of each realm's history stream (at most the number of JetStream servers). Default: cluster.nats.replicas.
     */
    replicas?: number;
    /**
     * jetstream: the streams' storage on the NATS servers; memory streams are lost when the servers restart.
     */
    storage?: 'file' | 'memory';
  };
  /**
   * Run this router as one node of a cluster over NATS: every node serves the same realms and acts as one router (pub/sub, RPC, meta API, retained events). Without this block the router is a single node and never loads NATS. The NATS packages (@nats-io/transport-node, @nats-io/kv, @nats-io/jetstream) are optional dependencies of the router: installed by default, left out by npm install --omit=optional, in which case a router with this block refuses to start and prints the npm install line that adds them.
   */
  cluster?: {
    /**
     * This node's name, unique in the cluster (default: host name and process ID). Letters, digits, '_' and '-'.
     */
    node?: string;
    /**
     * How to reach NATS (JetStream must be enabled for the KV buckets).
     */
    nats: {
      /**
       * NATS URLs, e.g. nats://127.0.0.1:4222. For a NATS cluster, list every server: the node connects to one of them and, when it is lost, moves to another (also to servers the cluster announces).
       *
       * @minItems 1
       */
      servers: string[];
      /**
       * true: try the servers in a random order, which spreads the router nodes over the NATS servers. false: in the order listed (put the NATS server next to this node first).
       */
      randomize?: boolean;
      user?: string;
      /**
       * May be "$VAR" to read it from the environment.
       */
      password?: string;
      /**
       * May be "$VAR" to read it from the environment.
       */
      token?: string;
      /**
       * Connection name shown by NATS monitoring (default switchboard-<node>).
       */
      name?: string;
      /**
       * JetStream replicas of every KV bucket the cluster makes (sessions, registrations, subscriptions, retained events, testaments, resumable sessions) and, unless store.replicas says otherwise, of the jetstream store's history streams. 1 for a single nats-server; 3 (or 5) for a NATS cluster of at least that many JetStream servers, so that the buckets survive the loss of one (two) of them. A value the NATS servers cannot honour stops the router at start. An existing bucket with other replicas is scaled to this value at start.
       */
      replicas?: 1 | 3 | 5;
    };
    /**
     * First token of every subject and part of every KV bucket name, so that several clusters can share one NATS.
     */
    prefix?: string;
    /**
     * How often this node says it is alive.
     */
    heartbeatMs?: number;
    /**
     * A node not heard from for this long is taken as dead: its sessions, subscriptions and registrations are removed and calls routed to it fail with wamp.error.canceled.
     */
    nodeTimeoutMs?: number;
    /**
     * A message between nodes larger than the NATS server's max_payload crosses in chunks. This bounds the largest such message (a node refuses to send a larger one: an acknowledged PUBLISH gets ERROR switchboard.error.limit_exceeded, a call ERROR wamp.error.canceled) and the bytes of partial messages a node holds from one other node at once. The default (64 MiB) takes the MessagePack form of the largest WAMP message a listener accepts by default (16 MiB), which can be larger than its JSON.
     */
    maxReassemblyBytes?: number;
    /**
     * The bytes of partial chunked messages a node holds from all other nodes together; past it a new chunked message is dropped (counted in switchboard_cluster_chunks_dropped_total).
     */
    maxReassemblyTotalBytes?: number;
    /**
     * Chunked messages a node reassembles from one other node at once, and 4 times as many from all other nodes together; past either a new one is dropped. Each partial message is charged its announced size plus 512 bytes against maxReassemblyBytes and maxReassemblyTotalBytes.
     */
    maxPartialMessages?: number;
    /**
     * A chunked message whose next chunk does not arrive within this time is dropped.
     */
    chunkTimeoutMs?: number;
    /**
     * An acknowledged PUBLISH on a cluster node is answered PUBLISHED once NATS has confirmed the event (a flush); without that confirmation within this time, or while the node's NATS connection is down, the publisher gets ERROR switchboard.error.cluster_unavailable (the event was delivered on this node).
     */
    publishAckTimeoutMs?: number;
  };
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "websocketListener".
 */
export interface WebsocketListener {
  type: 'websocket';
  host?: string;
  /**
   * 0 picks a free port.
   */
  port?: number;
  /**
   * The URL path of WebSocket connections, or a list of such paths (all served alike; the first is the listener's URL), e.g. a Crossbar file's several WebSocket paths.
   */
  path?: string | string[];
  /**
   * @minItems 1
   */
  serializers?: ('json' | 'msgpack' | 'cbor')[];
  /**
   * Bytes of incoming messages in progress (received but not yet complete: WebSocket fragments, a RawSocket frame, a long-poll send or HTTP bridge body) that every connection and request of this listener may hold together, whatever the transport. maxMessageBytes bounds one connection; this bounds the sum, so many connections each sending most of a large message and never finishing it cannot exhaust the process's memory (without it, maxSocketsPerIp x maxMessageBytes = 16 GiB from one address). Default 256 MiB: sixteen maximal messages arriving at once, or thousands of ordinary ones. A connection or request whose bytes would pass it is refused: WebSocket close 1013 (try again later), RawSocket connection closed, HTTP 503; metric switchboard_limits_exceeded_total{limit="maxInboundBytes"}. At least maxMessageBytes.
   */
  maxInboundBytes?: number;
  /**
   * Largest incoming message (default 16 MiB, as Crossbar): larger ones close the connection with 1009. Also the largest long-poll send body, the HTTP bridge's body limit when post_body_limit is 0, and (at most 16 MiB) the length RawSocket on this port announces. Decoding stays bounded by maxNestingDepth and maxMessageItems; memory by outbound and the realm limits.
   */
  maxMessageBytes?: number;
  /**
   * Deepest nesting of lists and dicts in an incoming message, the message's own list counting 1. A deeper message, or one outside the WAMP data model (MessagePack extensions, CBOR tags other than bignums up to 64 bits, undefined, NaN, non-string keys), aborts its session with wamp.error.protocol_violation (metric switchboard_bad_frames_total).
   */
  maxNestingDepth?: number;
  /**
   * Most values in an incoming message (every list, dict, scalar, string and binary counts one, and every dict key), and in one batch of the batched subprotocols and batched long-poll, whose messages share the budget (every message counting at least one): decoding costs about a microsecond per value, so this bounds the time the values of one frame can hold the event loop (about 50 ms at the default; a long string or binary costs by its length instead, about 15 ms per MiB of JSON, bounded by maxMessageBytes). More aborts the session with wamp.error.protocol_violation (metric switchboard_bad_frames_total).
   */
  maxMessageItems?: number;
  /**
   * Keep-alive ping interval; a peer that misses a ping is dropped. 0 disables.
   */
  pingIntervalMs?: number;
  /**
   * Also accept WAMP-over-RawSocket on this port: a connection whose first octet is 0x7F. Same serializers and outbound limits; the announced maximum message length is the largest power of two up to maxMessageBytes (at most 2^24).
   */
  rawsocket?: boolean;
  longpoll?: Longpoll;
  /**
   * Also offer the batched subprotocols wamp.2.json.batched, wamp.2.msgpack.batched and wamp.2.cbor.batched (to long-poll clients too). A client gets them only when it asks.
   */
  batched?: boolean;
  /**
   * Offer permessage-deflate (RFC 7692) to WebSocket clients that ask for it (browsers do by themselves); absent: never negotiated. Costs CPU per message, not per receiver: the router compresses each message on its own (server_no_context_takeover), on its event loop, an EVENT at most twice per serializer (windowBits, and 9 for clients that asked for less), and sends the same bytes to every plain receiver that negotiated it; batched subprotocols get their batches uncompressed; messages over maxBytes go uncompressed. Clients are asked to compress each message on its own (client_no_context_takeover) but may compress every one: inflating one costs some 200 µs of router CPU on the thread pool against 8 µs for an uncompressed one. No connection keeps a compression context between messages; one whose client sends compressed messages holds an inflate state (about 40 KiB). maxMessageBytes applies to a message after inflating it: a compressed message that inflates past it closes the connection with 1009 (metric switchboard_limits_exceeded_total{limit="maxMessageBytes"}).
   */
  compression?: {
    /**
     * Messages shorter than this many bytes are sent uncompressed: compressing a small message costs more CPU than the bytes it saves.
     */
    threshold?: number;
    /**
     * zlib compression level: 1 is fastest, 9 smallest (0 stores without compressing).
     */
    level?: number;
    /**
     * zlib memLevel: memory for the compression state, 2^(memLevel+9) bytes while one message is compressed; lower saves memory for a little size.
     */
    memLevel?: number;
    /**
     * Largest LZ77 window the router compresses with (server_max_window_bits), 2^(windowBits+2) bytes while one message is compressed. A client that asks for less gets messages compressed with a window of 9 (one that asks for 8: uncompressed), so an EVENT is compressed at most twice per serializer.
     */
    windowBits?: number;
    /**
     * Messages longer than this many bytes are sent uncompressed: the router compresses on its event loop, some 5 ms per MiB at level 1 and 90 to 270 ms at level 9 (depending on the data), during which no other session is served; lower it with a higher level. Counted once per message as switchboard_limits_exceeded_total{limit="compression.maxBytes"}.
     */
    maxBytes?: number;
  };
  tls?: Tls;
  /**
   * How long a peer has to answer a keep-alive ping before it is dropped; at most pingIntervalMs. Default: until the next ping.
   */
  pingTimeoutMs?: number;
  /**
   * Browser origins allowed to open a WebSocket, e.g. "https://app.example.com" or "*.example.com" (* matches any characters; case does not matter). Others get HTTP 403. A request without an Origin header (not from a browser) is always allowed. Default: every origin.
   */
  allowedOrigins?: string[];
  /**
   * With allowedOrigins: also allow "Origin: null" (sandboxed iframes, file:// pages).
   */
  allowNullOrigin?: boolean;
  /**
   * Open connections one client IP address may hold on this listener, whatever carries them: WebSocket, RawSocket on the same port, long-poll transports and SSE streams count together. Past it a WebSocket upgrade, long-poll open or SSE stream gets HTTP 429, a RawSocket handshake error 4. Behind a reverse proxy every client has the proxy's address. Default: no limit.
   */
  maxConnectionsPerIp?: number;
  /**
   * A connection that has no WELCOME this long after it opened (it never sent HELLO, or never answered a CHALLENGE, or sits without a session after GOODBYE) is closed with ABORT switchboard.close.handshake_timeout; counted in switchboard_handshake_timeouts_total.
   */
  helloTimeoutMs?: number;
  /**
   * Open long-poll transports one client IP address may hold on this listener; a further open gets HTTP 429 (switchboard_limits_exceeded_total{limit="maxLongPollTransportsPerIp"}).
   */
  maxLongPollTransportsPerIp?: number;
  /**
   * Open SSE streams (HTTP bridge sse paths) one client IP address may hold on this listener; a further stream gets HTTP 429 (switchboard_limits_exceeded_total{limit="maxSseStreamsPerIp"}).
   */
  maxSseStreamsPerIp?: number;
  /**
   * TCP connections one client IP address may hold on this port, counted when accepted, before any byte is read: HTTP requests in progress, keep-alive connections, WebSocket, RawSocket, long-poll and SSE alike. Past it a connection is closed at once (switchboard_limits_exceeded_total{limit="maxSocketsPerIp"}). Behind a reverse proxy every client has the proxy's address. Default: 1024, or maxConnectionsPerIp when that is larger.
   */
  maxSocketsPerIp?: number;
  /**
   * Time a client has to send a request's headers (from its connection, or a keep-alive request's first byte); past it HTTP 408 and the connection is closed (switchboard_limits_exceeded_total{limit="httpHeadersTimeoutMs"}). Also how long a connection on a port shared with RawSocket may stay silent. At most httpRequestTimeoutMs.
   */
  httpHeadersTimeoutMs?: number;
  /**
   * Time a client has to send a whole request, headers and body; past it HTTP 408 and the connection is closed (switchboard_limits_exceeded_total{limit="httpRequestTimeoutMs"}). A response the router holds open (a long-poll receive, an SSE stream) is not bounded by it.
   */
  httpRequestTimeoutMs?: number;
  outbound?: Outbound;
  auth?: Auth;
  /**
   * Static files served on this listener's HTTP port: URL path prefix ("/", "/lib") → directory. GET and HEAD only, no directory listings, dotfiles hidden, no path may leave its directory (symlinks included). The WebSocket path, long-poll, the HTTP bridge and /health always win over a static path. Example: {"/": {"directory": "public"}, "/lib": {"directory": "node_modules/@switchboard/client/dist/bundle"}}.
   */
  static?: {
    [k: string]: StaticPath | undefined;
  };
  http?: HttpBridge;
  /**
   * Messages one session may send per second; a session going past it is closed with ABORT switchboard.close.rate_limited. Unset: no limit.
   */
  maxMessagesPerSecond?: number;
  /**
   * Cookie tracking (Crossbar's): the WebSocket upgrade response sets a random tracking cookie (HttpOnly, SameSite=Lax, Secure on TLS) that remembers the last login made on it, for the cookie authmethod. On with these defaults when auth.cookie is set.
   */
  cookie?: {
    /**
     * Cookie name.
     */
    name?: string;
    /**
     * Cookie lifetime in seconds (Max-Age); an older cookie is unknown.
     */
    max_age?: number;
    /**
     * Where cookies and their logins are kept: memory (lost at stop), or a JSON file (only SHA-256 hashes of cookie values; relative paths start at the config file's directory).
     */
    store?: {
      type: 'memory' | 'file';
      /**
       * With type file: the JSON file.
       */
      filename?: string;
    };
  };
}
/**
 * WAMP over HTTP long-poll: POST <path>/open, then <path>/<transport>/receive, /send and /close.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "longpoll".
 */
export interface Longpoll {
  /**
   * Base path of the long-poll endpoints.
   */
  path?: string;
  /**
   * A receive request with nothing to deliver is answered empty (204) after this long.
   */
  requestTimeoutMs?: number;
  /**
   * A transport with no receive request outstanding for this long is closed.
   */
  sessionTimeoutMs?: number;
  /**
   * Messages waiting for a receive request, in bytes: the hard limit of the transport's outgoing buffer (past it the session is cut off); EVENTs are dropped past min(outbound.softLimitBytes, this).
   */
  queueMaxBytes?: number;
  /**
   * Messages waiting for a receive request at which further EVENTs are dropped (and counted); replies still queue, up to queueMaxBytes.
   */
  queueMaxMessages?: number;
}
/**
 * TLS with a PEM certificate (chain) file and its PEM private key file. Relative paths start at the config file's directory (at the working directory for a config given in code).
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "tls".
 */
export interface Tls {
  cert: string;
  key: string;
  /**
   * PEM file(s) of the CAs that client certificates must chain to (with requestCert).
   */
  ca?: string | string[];
  /**
   * Mutual TLS: every client must present a certificate that chains to ca; others are refused during the handshake.
   */
  requestCert?: boolean;
  /**
   * Ask clients for a certificate that chains to ca (required with this). request: clients without a verified one still connect (for other authmethods); require: they are refused during the handshake (as requestCert). The tls authmethod admits verified certificates only.
   */
  clientCertificates?: 'request' | 'require';
}
/**
 * Per-session outgoing buffer limits.
 */
export interface Outbound {
  /**
   * Above this many queued bytes, EVENTs to the session are dropped (and counted).
   */
  softLimitBytes?: number;
  /**
   * A session whose queue would pass this is disconnected (switchboard.close.slow_consumer).
   */
  hardLimitBytes?: number;
  /**
   * A session still over the soft limit this long after its first dropped EVENT is disconnected. 0: never.
   */
  drainTimeoutMs?: number;
}
/**
 * Authentication methods accepted on this listener, in Crossbar's shapes (one key per authmethod). Default: anonymous with role 'anonymous'. A client gets the first method of its HELLO.authmethods that is listed here.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "listenerAuth".
 */
export interface Auth {
  anonymous?: {
    /**
     * Accepted for Crossbar compatibility; the only kind.
     */
    type?: 'static';
    role?: string;
    /**
     * The realm anonymous sessions join, whatever they asked for (as in Crossbar).
     */
    realm?: string;
  };
  /**
   * WAMP-Ticket: the client sends a shared secret in AUTHENTICATE (use TLS).
   */
  ticket?: {
    /**
     * static: principals in this file; dynamic: a WAMP procedure decides (Crossbar's dynamic authenticator); webhook: an HTTP endpoint decides.
     */
    type: 'static' | 'dynamic' | 'webhook';
  };
  /**
   * WAMP-CRA: challenge-response over a shared secret that never crosses the wire.
   */
  wampcra?: {
    /**
     * static: principals in this file; dynamic: a WAMP procedure decides (Crossbar's dynamic authenticator); webhook: an HTTP endpoint decides.
     */
    type: 'static' | 'dynamic' | 'webhook';
  };
  /**
   * WAMP-Cryptosign: the client signs a challenge with its Ed25519 key; HELLO.authextra.pubkey names the key.
   */
  cryptosign?: {
    /**
     * static: principals in this file; dynamic: a WAMP procedure decides (Crossbar's dynamic authenticator); webhook: an HTTP endpoint decides.
     */
    type: 'static' | 'dynamic' | 'webhook';
  };
  /**
   * WAMP-SCRAM (Crossbar's and autobahn-python's dialect): the client proves it knows the password; the router keeps only salt, stored key and server key and sends WELCOME.Details.authextra.scram_server_signature. HELLO.authextra.nonce carries the client nonce. dynamic/webhook: the authenticator answers {role, kdf, iterations, memory?, salt, stored-key, server-key} (hex, as in principals).
   */
  scram?: {
    /**
     * static: principals in this file; dynamic: a WAMP procedure decides (Crossbar's dynamic authenticator); webhook: an HTTP endpoint decides.
     */
    type: 'static' | 'dynamic' | 'webhook';
  };
  /**
   * WAMP-SCRAM as the WAMP spec writes it (authmethod wamp-scram): HELLO.authextra {nonce, channel_binding}, CHALLENGE {nonce, salt, kdf: argon2id13|pbkdf2, iterations, memory}, AUTHENTICATE {nonce, channel_binding, cbind_data}, WELCOME.Details.authextra.verifier. Principals and authenticator answers as for scram; argon2id keys differ from the scram dialect's (scramCredentials with dialect 'wamp-scram'), pbkdf2 keys are the same.
   */
  'wamp-scram'?: {
    /**
     * static: principals in this file; dynamic: a WAMP procedure decides (Crossbar's dynamic authenticator); webhook: an HTTP endpoint decides.
     */
    type: 'static' | 'dynamic' | 'webhook';
  };
  /**
   * Brute-force limits, per client IP address and per authid, for ticket, wampcra, cryptosign, scram and wamp-scram.
   */
  limits?: {
    /**
     * Failed authentications within a minute after which the address (or authid) is refused for blockMs. 0 turns the limits off.
     */
    failuresPerMinute?: number;
    /**
     * How long a blocked address or authid is refused (ABORT wamp.error.authentication_failed without checking credentials).
     */
    blockMs?: number;
  };
  /**
   * TLS client-certificate authentication (Crossbar's): the certificate the listener verified against tls.ca (tls.clientCertificates) names the principal; no CHALLENGE. A connection without a verified certificate does not offer this method. dynamic/webhook authenticators get it in details.transport.client_cert.
   */
  tls?: {
    /**
     * static: principals in this file; dynamic: a WAMP procedure decides (Crossbar's dynamic authenticator); webhook: an HTTP endpoint decides.
     */
    type: 'static' | 'dynamic' | 'webhook';
  };
  /**
   * Cookie authentication (Crossbar's, WebSocket listeners): a connection whose tracking cookie remembers a login to the realm asked for (made by another method on an earlier connection) is welcomed as that principal, authmethod cookie. GOODBYE wamp.close.logout forgets the login. Turns on cookie tracking (see the listener's cookie).
   */
  cookie?: {
    /**
     * Accepted for symmetry; the only kind.
     */
    type?: 'static';
  };
}
/**
 * One static path: the directory served under its URL prefix.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "staticPath".
 */
export interface StaticPath {
  /**
   * The directory to serve. A relative path starts at the config file's directory (at the working directory for a config given in code). Must exist when the router starts.
   */
  directory: string;
  /**
   * The file a directory request (a URL ending in /) answers with; a directory without it is a 404.
   */
  index?: string;
  /**
   * Cache-Control max-age. 0: no-cache, so browsers revalidate every time with the ETag (and get 304 Not Modified).
   */
  maxAgeSeconds?: number;
}
/**
 * The HTTP bridge on this listener's port: Crossbar-compatible publisher, caller and webhook path services, and Server-Sent Events.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "httpBridge".
 */
export interface HttpBridge {
  /**
   * URL path (exact, e.g. "/publish") → path service.
   */
  paths: {
    [k: string]: BridgePath | undefined;
  };
  /**
   * Where the OpenAPI 3 document of the bridge paths is served; false: not served.
   */
  openapi?: string | false;
}
/**
 * POST/PUT {"topic", "args"?, "kwargs"?, "options"?} → 200 {"id": publication}; a JSON array publishes a batch.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "publisherPath".
 */
export interface PublisherPath {
  type: 'publisher';
  /**
   * The realm requests act in.
   */
  realm: string;
  /**
   * The role requests act as: authorized like a WAMP session with this role.
   */
  role: string;
  /**
   * The authid requests act as (what subscribers see with disclosure, what exclude_authid/eligible_authid match).
   */
  authid?: string;
  /**
   * Bearer tokens (Authorization: Bearer …), each acting as its own authid and role. With tokens and no secret, every request needs a token.
   */
  tokens?: BridgeToken[];
  cors?: BridgeCors;
  options?: BridgeOptions;
  /**
   * Answer WAMP errors with real HTTP status codes (403 not_authorized, 404 no_such_procedure, 502 callee error, 503 no callee, 504 timeout) instead of Crossbar's 200 {"error": …}.
   */
  strict?: boolean;
  /**
   * Signed requests: seq must increase from one request to the next (per key); others get 401.
   */
  requireIncreasingSeq?: boolean;
  /**
   * Most publications in one batch request.
   */
  maxBatch?: number;
  /**
   * How long the answer to a request with an Idempotency-Key header is replayed for a repeat of it.
   */
  idempotencyTtlMs?: number;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "bridgeToken".
 */
export interface BridgeToken {
  /**
   * The secret token (at least 16 characters; use $ENV substitution to keep it out of the file).
   */
  token: string;
  role: string;
  /**
   * Default: "token:" and the token's first 4 characters.
   */
  authid?: string;
}
/**
 * Browser pages of other origins that may use this path (CORS). Without it the path sends no CORS headers and refuses (403) a request whose Origin is neither its own nor listed; requests without Origin (non-browser clients) are not affected.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "bridgeCors".
 */
export interface BridgeCors {
  /**
   * Exact origins (scheme://host[:port], e.g. "https://app.example.com"), or ["*"] for every origin (answered with Access-Control-Allow-Origin: *, never with credentials).
   *
   * @minItems 1
   */
  origins: string[];
  /**
   * Send Access-Control-Allow-Credentials: true to the listed origins (cookies, TLS client certificates). Not with "*".
   */
  credentials?: boolean;
}
/**
 * Crossbar's path service options, with Crossbar's names and meanings.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "bridgeOptions".
 */
export interface BridgeOptions {
  /**
   * Signed requests: the key clients send as ?key=.
   */
  key?: string;
  /**
   * Signed requests: the shared secret; with it every request must carry key, timestamp, seq, nonce and signature = base64url(HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body)).
   */
  secret?: string;
  /**
   * Largest body in bytes (413 past it); 0: the listener's maxMessageBytes.
   */
  post_body_limit?: number;
  /**
   * Seconds a signed request's timestamp may differ from the router's clock; 0: no check.
   */
  timestamp_delta_limit?: number;
  require_ip?: RequireIp;
  /**
   * Refuse requests not made over TLS (400).
   */
  require_tls?: boolean;
  /**
   * Accepted for Crossbar compatibility; use the log level.
   */
  debug?: boolean;
}
/**
 * POST/PUT {"procedure", "args"?, "kwargs"?, "timeout"?} → 200 {"args", "kwargs"}; a WAMP error → 200 {"error", "args", "kwargs"} (strict: a real status).
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "callerPath".
 */
export interface CallerPath {
  type: 'caller';
  /**
   * The realm requests act in.
   */
  realm: string;
  /**
   * The role requests act as: authorized like a WAMP session with this role.
   */
  role: string;
  /**
   * The authid requests act as (what subscribers see with disclosure, what exclude_authid/eligible_authid match).
   */
  authid?: string;
  /**
   * Bearer tokens (Authorization: Bearer …), each acting as its own authid and role. With tokens and no secret, every request needs a token.
   */
  tokens?: BridgeToken[];
  cors?: BridgeCors;
  options?: BridgeOptions;
  /**
   * Answer WAMP errors with real HTTP status codes (403 not_authorized, 404 no_such_procedure, 502 callee error, 503 no callee, 504 timeout) instead of Crossbar's 200 {"error": …}.
   */
  strict?: boolean;
  /**
   * Signed requests: seq must increase from one request to the next (per key); others get 401.
   */
  requireIncreasingSeq?: boolean;
  /**
   * CALL timeout (ms) when the body gives none, and the longest a body's timeout may ask for (a body's 0 or longer timeout gets this one); 0: none. Default 60000.
   */
  callTimeoutMs?: number;
  /**
   * Calls one client IP address may have in flight on this path; a further request gets HTTP 429 (switchboard_limits_exceeded_total{limit="maxConcurrentCallsPerIp"}). Every request of a path acts through one shared bridge session, which the realm's maxPendingCallsPerSession does not bound: this does. Behind a reverse proxy every client has the proxy's address.
   */
  maxConcurrentCallsPerIp?: number;
}
/**
 * Any body is published to options.topic as {"headers", "body"}; 202 with options.success_response.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "webhookPath".
 */
export interface WebhookPath {
  type: 'webhook';
  /**
   * The realm requests act in.
   */
  realm: string;
  /**
   * The role requests act as: authorized like a WAMP session with this role.
   */
  role: string;
  /**
   * The authid requests act as (what subscribers see with disclosure, what exclude_authid/eligible_authid match).
   */
  authid?: string;
  /**
   * Bearer tokens (Authorization: Bearer …), each acting as its own authid and role. With tokens and no secret, every request needs a token.
   */
  tokens?: BridgeToken[];
  cors?: BridgeCors;
  options: WebhookOptions;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "webhookOptions".
 */
export interface WebhookOptions {
  /**
   * Every request is published here as {"headers": {name: [values]}, "body": text}.
   */
  topic: string;
  /**
   * Body of the 202 answer.
   */
  success_response?: string;
  /**
   * Body of the 500 answer when the publication fails.
   */
  error_response?: string;
  /**
   * Require a valid GitHub X-Hub-Signature (HMAC-SHA1 of the body with this secret); 400 otherwise.
   */
  github_secret?: string;
  /**
   * Largest body in bytes (413 past it); 0: the listener's maxMessageBytes.
   */
  post_body_limit?: number;
  require_ip?: RequireIp;
  /**
   * Refuse requests not made over TLS (400).
   */
  require_tls?: boolean;
  debug?: boolean;
}
/**
 * GET ?topic=…[&match=prefix|wildcard] streams the topic's events as Server-Sent Events; Last-Event-ID resumes from event history or the retained event.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "ssePath".
 */
export interface SsePath {
  type: 'sse';
  /**
   * The realm requests act in.
   */
  realm: string;
  /**
   * The role requests act as: authorized like a WAMP session with this role.
   */
  role: string;
  /**
   * The authid requests act as (what subscribers see with disclosure, what exclude_authid/eligible_authid match).
   */
  authid?: string;
  /**
   * Bearer tokens (Authorization: Bearer …), each acting as its own authid and role. With tokens and no secret, every request needs a token.
   */
  tokens?: BridgeToken[];
  cors?: BridgeCors;
  options?: BridgeOptions;
  /**
   * Signed requests: seq must increase from one request to the next (per key); others get 401.
   */
  requireIncreasingSeq?: boolean;
  /**
   * A comment line is sent this often so that proxies keep the stream open.
   */
  keepAliveMs?: number;
  /**
   * A stream whose unsent output passes this is closed; the client resumes with Last-Event-ID.
   */
  maxBufferedBytes?: number;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "rawsocketListener".
 */
export interface RawsocketListener {
  type: 'rawsocket';
  auth?: Auth;
  host?: string;
  /**
   * 0 picks a free port.
   */
  port?: number;
  /**
   * A Unix domain socket path to listen on instead of host and port.
   */
  path?: string;
  /**
   * @minItems 1
   */
  serializers?: ('json' | 'msgpack' | 'cbor')[];
  /**
   * Bytes of incoming messages in progress (frames received in part) that every connection of this listener may hold together. maxMessageBytes bounds one connection; this bounds the sum, so many connections each sending most of a large frame and never finishing it cannot exhaust the process's memory. Default 256 MiB: sixteen maximal messages arriving at once, or thousands of ordinary ones. A connection whose bytes would pass it is closed; metric switchboard_limits_exceeded_total{limit="maxInboundBytes"}. At least maxMessageBytes.
   */
  maxInboundBytes?: number;
  /**
   * The maximum message length announced in the RawSocket handshake (a power of two from 2^9 to 2^24; the default is the largest, 16 MiB); a longer incoming message fails the connection.
   */
  maxMessageBytes?:
    512 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768 | 65536 | 131072 | 262144 | 524288 | 1048576 | 2097152 | 4194304 | 8388608 | 16777216;
  /**
   * Deepest nesting of lists and dicts in an incoming message, the message's own list counting 1. A deeper message, or one outside the WAMP data model (MessagePack extensions, CBOR tags other than bignums up to 64 bits, undefined, NaN, non-string keys), aborts its session with wamp.error.protocol_violation (metric switchboard_bad_frames_total).
   */
  maxNestingDepth?: number;
  /**
   * Most values in an incoming message (every list, dict, scalar, string and binary counts one, and every dict key): decoding costs about a microsecond per value, so this bounds the time the values of one frame can hold the event loop (about 50 ms at the default; a long string or binary costs by its length instead, about 15 ms per MiB of JSON, bounded by maxMessageBytes). More aborts the session with wamp.error.protocol_violation (metric switchboard_bad_frames_total).
   */
  maxMessageItems?: number;
  /**
   * A client announcing a smaller maximum message length is refused (handshake error: maximum message length unacceptable). 512 accepts every client.
   */
  minPeerMaxMessageBytes?:
    512 | 1024 | 2048 | 4096 | 8192 | 16384 | 32768 | 65536 | 131072 | 262144 | 524288 | 1048576 | 2097152 | 4194304 | 8388608 | 16777216;
  /**
   * Open connections past which handshakes are refused (handshake error: maximum connection count reached). Default: no limit.
   */
  maxConnections?: number;
  /**
   * Open connections one client IP address may hold on this listener; further handshakes are refused (handshake error: maximum connection count reached). Default: no limit.
   */
  maxConnectionsPerIp?: number;
  /**
   * A connection that has no WELCOME this long after it opened (it never sent HELLO, or never answered a CHALLENGE, or sits without a session after GOODBYE) is closed with ABORT switchboard.close.handshake_timeout; counted in switchboard_handshake_timeouts_total.
   */
  helloTimeoutMs?: number;
  /**
   * Keep-alive PING interval; a peer that sent nothing since the previous PING is dropped. 0 (default) disables: autobahn-python's asyncio RawSocket cannot answer a PING.
   */
  pingIntervalMs?: number;
  tls?: Tls;
  outbound?: Outbound;
  /**
   * Messages one session may send per second; a session going past it is closed with ABORT switchboard.close.rate_limited. Unset: no limit.
   */
  maxMessagesPerSecond?: number;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "realm".
 */
export interface Realm {
  /**
   * Realm name (a WAMP URI).
   */
  name: string;
  /**
   * URI rules for topics and procedures.
   */
  uriCheck?: 'loose' | 'strict';
  /**
   * Event retention (PUBLISH retain: true, SUBSCRIBE get_retained: true).
   */
  retention?: {
    /**
     * Most topics with a retained event; the oldest is dropped past it. 0 turns retention off.
     */
    maxTopics?: number;
    /**
     * A retained event older than this is no longer delivered. 0: kept until replaced.
     */
    ttlMs?: number;
  };
  /**
   * Topics whose recent events are kept (in the store block's engine), for wamp.subscription.get_events, wamp.topic.history.last/since/after and SUBSCRIBE with the history option. A topic several rules match keeps the largest limit and the largest maxAgeMs among them.
   */
  eventHistory?: {
    /**
     * Topic URI or pattern.
     */
    topic: string;
    match?: 'exact' | 'prefix' | 'wildcard';
    /**
     * Events kept per topic: each topic the rule matches keeps its last limit events (the oldest is dropped past it).
     */
    limit?: number;
    /**
     * Events older than this (ms) are dropped; 0: no age limit. Among several rules matching a topic, 0 (no limit) wins over any age.
     */
    maxAgeMs?: number;
  }[];
  /**
   * Quotas per session of this realm and byte budgets of the realm; each refusal is counted in switchboard_limits_exceeded_total{limit}. Unset keys take their defaults.
   */
  limits?: {
    /**
     * Subscriptions one session may hold (exact and pattern). A further SUBSCRIBE gets ERROR switchboard.error.limit_exceeded with kwargs {limit, value}.
     */
    maxSubscriptionsPerSession?: number;
    /**
     * Registrations one session may hold. A further REGISTER gets ERROR switchboard.error.limit_exceeded.
     */
    maxRegistrationsPerSession?: number;
    /**
     * Calls one session may have in flight as caller. A further CALL gets ERROR switchboard.error.limit_exceeded (the callee is not invoked).
     */
    maxPendingCallsPerSession?: number;
    /**
     * Invocations one session may have in flight as callee. Past it a call to a shared registration goes to another callee; when every callee is at the limit the caller gets ERROR switchboard.error.limit_exceeded and no callee is invoked.
     */
    maxInvocationsPerSession?: number;
    /**
     * Testaments (both scopes) one session may hold. A further wamp.session.add_testament gets ERROR switchboard.error.limit_exceeded.
     */
    maxTestamentsPerSession?: number;
    /**
     * Bytes (estimated from topic, payload and options) of the testaments one session holds. A further wamp.session.add_testament gets ERROR switchboard.error.limit_exceeded.
     */
    maxTestamentBytesPerSession?: number;
    /**
     * Bytes (estimated) of retained events one SUBSCRIBE with get_retained replays (a pattern can match many retained topics). What does not fit is not sent (switchboard_limits_exceeded_total{limit="maxRetainedReplayBytes"}).
     */
    maxRetainedReplayBytes?: number;
    /**
     * Characters in a topic or procedure URI (or pattern) of a SUBSCRIBE, REGISTER, CALL, PUBLISH or testament. A longer one gets ERROR switchboard.error.limit_exceeded (an unacknowledged PUBLISH is dropped, counted).
     */
    maxUriLength?: number;
    /**
     * Estimated bytes (payload, details and topic) all retained events of the realm may hold. The oldest topics' retained events are evicted to make room (switchboard_limit_evictions_total); an event larger than the budget is not retained (switchboard_limits_exceeded_total).
     */
    maxRetainedBytes?: number;
    /**
     * Bytes all event history of the realm may hold, as its store counts them (memory: an estimate of payload, details and topic plus a per-topic cost; sqlite, jetstream: the encoded size). The oldest stored events (of any topic) are removed to make room (switchboard_history_expired_total{reason="bytes"}); an event larger than the budget is not stored (counted the same way; with durability "ack" its acknowledged PUBLISH gets ERROR switchboard.error.limit_exceeded).
     */
    maxHistoryBytes?: number;
    /**
     * Most events one history read returns (wamp.subscription.get_events, wamp.topic.history.*, the replay of a SUBSCRIBE with history {last: n}). A larger limit is clamped, and the answer says more: true (ask for the next page with wamp.topic.history.after).
     */
    maxHistoryPage?: number;
    /**
     * Bytes (estimated from payload, details and topic, as maxHistoryBytes counts them) one history read returns at most (wamp.subscription.get_events, wamp.topic.history.*, the replay of a SUBSCRIBE with the history option). A page stops before the event that would pass it (it always holds at least one event) and says more: true; a replay cut by it keeps the newest events (history {after} then marks history_gap).
     */
    maxHistoryPageBytes?: number;
    /**
     * Distinct topics one wamp.subscription.get_events on a pattern rule asks the authorizer about, one at a time, for a caller that may not subscribe to the whole pattern (each may be a question to a dynamic authorizer). Past it the call gets ERROR switchboard.error.limit_exceeded with kwargs {limit, value} (switchboard_limits_exceeded_total{limit="maxHistoryReadTopics"}); the caller reads one topic at a time with the keyword argument topic.
     */
    maxHistoryReadTopics?: number;
    /**
     * Most live events held for one SUBSCRIBE with the history option while its replay is read from the store. Past it the SUBSCRIBE gets ERROR switchboard.error.limit_exceeded with kwargs {limit, value} and is undone.
     */
    maxCatchUpEvents?: number;
    /**
     * Most bytes (as the subscriber's serializer encodes them) of live events held for one SUBSCRIBE with the history option while its replay is read, and for one SSE stream resuming with Last-Event-ID. Past it the SUBSCRIBE gets ERROR switchboard.error.limit_exceeded with kwargs {limit, value} and is undone (an SSE stream closes; the client resumes); counted in switchboard_limits_exceeded_total{limit="maxCatchUpBytes"}. Below the listener's outbound.hardLimitBytes (16 MiB) so that the replay, the retained event and the held events fit: a catch-up that would still pass the room left under that hard limit is refused the same way with {limit: 'outboundHardLimitBytes', value: the room left}, counted under that name, instead of cutting the subscriber off.
     */
    maxCatchUpBytes?: number;
    /**
     * How long the history replay of one SUBSCRIBE with the history option may take to read. Past it the SUBSCRIBE gets ERROR wamp.error.timeout and is undone.
     */
    catchUpTimeoutMs?: number;
    /**
     * Session resumption [ap_session_resumption]: how long a resumable session lives detached (its transport closed without GOODBYE, a client GOODBYE {resumable: true}, a wamp.session.kill with resumable: true) before it ends as a leave (on_leave, testaments of scope destroyed, its subscriptions and registrations gone). 0: resumption is off in this realm (WELCOME says resumable: false to a client that asks). Detached sessions count in switchboard_sessions_detached; those that expire in switchboard_session_detached_ends_total{reason="expired"}.
     */
    resumeWindowMs?: number;
    /**
     * Most detached sessions the realm keeps for a resume. A resumable session that loses its transport past it ends instead of detaching, counted in switchboard_limits_exceeded_total{limit="maxDetachedSessions"} and switchboard_session_detached_ends_total{reason="limit"}.
     */
    maxDetachedSessions?: number;
    /**
     * Most detached sessions of one client IP address the realm keeps for a resume: one address cannot fill maxDetachedSessions and deny resumption to everyone else. A resumable session from an address at the cap that loses its transport ends instead of detaching, counted in switchboard_limits_exceeded_total{limit="maxDetachedSessionsPerAddress"} and switchboard_session_detached_ends_total{reason="limit"}. Clients behind one NAT address share it.
     */
    maxDetachedSessionsPerAddress?: number;
    /**
     * Most answers (RESULT, ERROR, PUBLISHED, SUBSCRIBED, UNSUBSCRIBED, REGISTERED, UNREGISTERED) one resumable session keeps for a resume. While attached the oldest go first (a resume that lacks them is refused). While detached, the oldest answers the client already received make room first (a resume that says it lacks them is refused); when the answers it has not received alone pass the bound, the session ends (reason overflow, switchboard_limits_exceeded_total{limit="maxResumeAnswers"}): a resume is exact or refused, nothing is lost silently.
     */
    maxResumeAnswers?: number;
    /**
     * Most bytes (estimated payloads) of answers one resumable session keeps for a resume; past it as for maxResumeAnswers (counted under limit="maxResumeBytes").
     */
    maxResumeBytes?: number;
    /**
     * Most bytes (estimated payloads) of the answers the realm's detached sessions keep that their clients have not received, in all (answers already delivered do not count: they make room when needed). An answer kept for a detached session past it ends that session (reason overflow, switchboard_limits_exceeded_total{limit="maxDetachedBytes"}); a session whose undelivered answers pass it at the detach ends instead of detaching (reason limit).
     */
    maxDetachedBytes?: number;
  };
  /**
   * Roles and their permissions. A realm without roles lets every session do everything.
   */
  roles?: Role[];
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "role".
 */
export interface Role {
  name: string;
  permissions?: Permission[];
  /**
   * A WAMP procedure that authorizes this role's sessions: called (session, uri, action, options), returns a boolean or {allow, disclose, cache}.
   */
  authorizer?: string;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "permission".
 */
export interface Permission {
  /**
   * URI, prefix or wildcard pattern; a trailing * means prefix; {authid} and {authrole} are replaced by the session's.
   */
  uri: string;
  match?: 'exact' | 'prefix' | 'wildcard';
  allow?: {
    call?: boolean;
    register?: boolean;
    publish?: boolean;
    subscribe?: boolean;
  };
  disclose?: {
    caller?: boolean;
    publisher?: boolean;
  };
  cache?: boolean;
}
/**
 * Outgoing HTTP: forward events to URLs, and procedures that perform HTTP requests.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "httpIntegrations".
 */
export interface HttpIntegrations {
  subscribers?: HttpSubscriber[];
  callees?: HttpCallee[];
}
/**
 * Subscribes as role (and authid) and POSTs each event as {"args", "kwargs"} to url, one at a time, in order.
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "httpSubscriber".
 */
export interface HttpSubscriber {
  realm: string;
  role: string;
  authid?: string;
  topic: string;
  match?: 'exact' | 'prefix' | 'wildcard';
  url: string;
  method?: 'POST' | 'PUT';
  headers?: {
    [k: string]: string | undefined;
  };
  /**
   * The status that means delivered. Default: every 2xx status.
   */
  expectedCode?: number;
  timeoutMs?: number;
  /**
   * Further attempts after a failed delivery (network error, 5xx, 408, 429), with exponential backoff.
   */
  retries?: number;
  retryDelayMs?: number;
  /**
   * Events waiting for delivery; past it new events are dropped (counted and logged).
   */
  maxQueue?: number;
  /**
   * Bytes (of the JSON bodies) of the events waiting for delivery; an event that would take the queue past it is dropped (counted in switchboard_limits_exceeded_total{limit="maxQueueBytes"} and logged), like one past maxQueue.
   */
  maxQueueBytes?: number;
}
/**
 * Registers procedure; a call with kwargs {method, url, body?, headers?, params?} performs that request under baseUrl and returns {code, content, headers} (Crossbar's RESTCallee).
 *
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "httpCallee".
 */
export interface HttpCallee {
  realm: string;
  role: string;
  authid?: string;
  procedure: string;
  baseUrl: string;
  /**
   * For the whole exchange, the answer's body included; past it the call fails with wamp.error.timeout.
   */
  timeoutMs?: number;
  /**
   * Bytes of an answer's body read (as a stream); past it the request is aborted and the call fails with switchboard.error.limit_exceeded {limit: "maxResponseBytes", value}, counted in switchboard_limits_exceeded_total. Redirects are never followed: a 3xx is the answer.
   */
  maxResponseBytes?: number;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "authDynamic".
 */
export interface AuthDynamic {
  type?: unknown;
  /**
   * URI of the WAMP procedure called (realm, authid, details); it returns a role or {role, authid?, realm?, extra?} (wampcra: also secret, salt?, iterations?, keylen?; cryptosign: pubkey?; scram, wamp-scram: kdf, iterations, memory?, salt, stored-key, server-key); an ERROR refuses.
   */
  authenticator: string;
  /**
   * The realm the authenticator procedure is registered in. Default: the realm the client asked for.
   */
  'authenticator-realm'?: string;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "authWebhook".
 */
export interface AuthWebhook {
  type?: unknown;
  /**
   * POSTed JSON {realm, authid, authmethod, details}; HTTP 200 with the same answer as a dynamic authenticator admits, anything else refuses.
   */
  url: string;
  /**
   * No complete answer (body included) within this time refuses.
   */
  timeoutMs?: number;
  /**
   * Bytes of the answer read, as a stream; past it the request is aborted and the login refused, counted in switchboard_limits_exceeded_total{limit="maxAnswerBytes"}. Redirects are never followed (a redirect refuses).
   */
  maxAnswerBytes?: number;
  /**
   * Extra request headers, e.g. an Authorization the webhook checks.
   */
  headers?: {
    [k: string]: string | undefined;
  };
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "ticketPrincipal".
 */
export interface TicketPrincipal {
  ticket: string;
  role: string;
  /**
   * The realm the session joins, whatever it asked for (as in Crossbar).
   */
  realm?: string;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "wampcraUser".
 */
export interface WampcraUser {
  /**
   * The shared secret. For a salted user, the key derived from the password (autobahn's auth_cra.derive_key(password, salt, iterations, keylen)), as in Crossbar.
   */
  secret: string;
  role: string;
  /**
   * The realm the session joins, whatever it asked for (as in Crossbar).
   */
  realm?: string;
  salt?: string;
  iterations?: number;
  /**
   * Derived key length in bytes; autobahn-js derives only multiples of 4 correctly.
   */
  keylen?: number;
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "cryptosignPrincipal".
 */
export interface CryptosignPrincipal {
  role: string;
  /**
   * The realm the session joins, whatever it asked for (as in Crossbar).
   */
  realm?: string;
  /**
   * @minItems 1
   *
   * Items: An Ed25519 public key: 32 bytes as 64 hex characters.
   */
  authorized_keys: string[];
}
/**
 * This interface was referenced by `RouterConfigFile`'s JSON-Schema
 * via the `definition` "scramPrincipal".
 */
export interface ScramPrincipal {
  role: string;
  /**
   * The realm the session joins, whatever it asked for (as in Crossbar).
   */
  realm?: string;
  /**
   * argon2id-13 (argon2id13 is the same; parallelism 1, 32-byte hash) or pbkdf2 (PBKDF2-HMAC-SHA256, 32 bytes). The CHALLENGE names argon2id as 'argon2id-13', the only spelling autobahn-python accepts.
   */
  kdf: 'argon2id-13' | 'argon2id13' | 'pbkdf2';
  /**
   * argon2id time cost, or PBKDF2 iterations.
   */
  iterations: number;
  /**
   * argon2id memory cost in KiB (required for argon2id).
   */
  memory?: number;
  /**
   * The salt, as hex (as Crossbar and autobahn's derive_scram_credential write it).
   */
  salt: string;
  /**
   * SHA-256(HMAC-SHA256(SaltedPassword, 'Client Key')), 32 bytes as hex.
   */
  'stored-key': string;
  /**
   * HMAC-SHA256(SaltedPassword, 'Server Key'), 32 bytes as hex.
   */
  'server-key': string;
}
