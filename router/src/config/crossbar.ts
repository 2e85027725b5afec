/**
 * Reads the router part of a Crossbar.io node configuration (`"version": 2`, `workers[]`) and
 * writes the Switchboard config that does the same, so Crossbar users can move over with their
 * file. Router workers give realms (roles, permissions, dynamic authorizers, event history) and
 * listeners (`websocket` transports, and the `websocket` paths of `web` transports, with their
 * `auth` blocks, which use Crossbar's shapes). Everything else (components, static web paths,
 * other worker types, options without an equivalent, the controller) is reported as a warning
 * naming its JSON pointer in the Crossbar file: nothing is dropped silently.
 *
 * The output is a config value like a parsed JSON file: the caller validates it against the
 * schema and can map schema errors back to the Crossbar file with `locate`.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { schemaUrl } from '@switchboard/schemas';
import { escapePointer } from './env.js';
import { CrossbarBridgeImport } from '../http/bridge/crossbar.js';

export interface CrossbarImport {
  /** The equivalent Switchboard config (not yet validated). */
  config: Record<string, unknown>;
  /** `pointer: what was not imported and why`, one line each, in file order. */
  warnings: string[];
  /** Errors that make the file unusable (no router worker, nothing to listen on…). */
  problems: string[];
  /** Rewrites a problem about the Switchboard config (`/listeners/0/port: …`) to point into the Crossbar file. */
  locate(problem: string): string;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SERIALIZERS = new Set(['json', 'msgpack', 'cbor']);
/** Switchboard's default, used when Crossbar's auto_ping_interval is absent. */
const DEFAULT_PING_INTERVAL_MS = 30_000;
const MAX_MESSAGE_BYTES = { min: 1024, max: 64 * 1024 * 1024 };
/** RawSocket announces its maximum as a power of two, 2^9 … 2^24. [ap_transport_rawsocket: Handshake] */
const RAWSOCKET_MAX_MESSAGE_BYTES = { min: 512, max: 16 * 1024 * 1024 };

/**
 * WebSocket options whose Crossbar value, when it is this one, is what Switchboard always does;
 * any other value is reported. [Crossbar docs: WebSocket Options]
 */
const SAME_AS_OURS: Readonly<Record<string, unknown>> = {
  validate_utf8: true,
  require_masked_client_frames: true,
  mask_server_frames: false,
  apply_mask: true,
  enable_rfc6455: true,
  enable_hybi10: true, // ws speaks Sec-WebSocket-Version 8 (hybi-10) and 13
  tcp_nodelay: true,
  require_websocket_subprotocol: true,
  enable_webstatus: false,
  enable_flash_policy: false,
  compression: false,
  auto_fragment_size: 0,
  max_frame_size: 0,
};

/** A file is read as Crossbar's when it has Crossbar's top-level sections or `"version": 2`. */
export function isCrossbarConfig(value: unknown): value is Json {
  return isRecord(value) && ('workers' in value || 'controller' in value || value['version'] === 2);
}

/** Auth method → the schema of its block, for the methods a WebSocket listener accepts. */
let authSupport: Map<string, Json> | undefined;

/** Read from the config schema, so methods added there are imported without touching this file. */
function supportedAuth(): Map<string, Json> {
  if (authSupport !== undefined) return authSupport;
  const schema: unknown = JSON.parse(readFileSync(schemaUrl('router-config'), 'utf8'));
  const methods = new Map<string, Json>();
  if (isRecord(schema)) {
    const resolve = (node: unknown): unknown => {
      let current = node;
      for (let i = 0; i < 8 && isRecord(current) && typeof current['$ref'] === 'string'; i++) {
        const path = current['$ref'].replace(/^#\//, '').split('/');
        let target: unknown = schema;
        for (const part of path) target = isRecord(target) ? target[part] : undefined;
        current = target;
      }
      return current;
    };
    const definitions = isRecord(schema['definitions']) ? Object.values(schema['definitions']) : [];
    for (const def of definitions) {
      const d = resolve(def);
      if (!isRecord(d) || !isRecord(d['properties'])) continue;
      const type = resolve(d['properties']['type']);
      if (!isRecord(type) || type['const'] !== 'websocket') continue;
      const auth = resolve(d['properties']['auth']);
      if (!isRecord(auth) || !isRecord(auth['properties'])) continue;
      for (const [method, block] of Object.entries(auth['properties'])) {
        const b = resolve(block);
        methods.set(method, isRecord(b) ? b : {});
      }
    }
  }
  if (methods.size === 0) methods.set('anonymous', {});
  return (authSupport = methods);
}

/** Whether a method's block schema lets `type` be `value` (Crossbar's `static` / `dynamic`). */
function allowsType(block: Json, value: string): boolean | 'absent' {
  const props = block['properties'];
  if (!isRecord(props) || !('type' in props)) return 'absent';
  const type = props['type'];
  if (!isRecord(type)) return true;
  if ('const' in type) return type['const'] === value;
  if (Array.isArray(type['enum'])) return type['enum'].includes(value);
  return true;
}

class Converter {
  readonly warnings: string[] = [];
  readonly problems: string[] = [];
  /** [Switchboard pointer, Crossbar pointer], most specific last. */
  readonly #origins: [string, string][] = [];
  readonly listeners: Json[] = [];
  readonly realms: Json[] = [];

  /** `dir`: the Crossbar node directory (the file's), against which relative Unix socket paths are resolved. */
  constructor(private readonly dir: string | undefined) {}

  warn(pointer: string, message: string): void {
    this.warnings.push(`${pointer === '' ? '(top level)' : pointer}: ${message}`);
  }

  from(ours: string, theirs: string): void {
    this.#origins.push([ours, theirs]);
  }

  /** The Crossbar pointer for a Switchboard one: the longest recorded prefix, the rest kept. */
  readonly locate = (problem: string): string => {
    const colon = problem.indexOf(': ');
    if (colon === -1 || !problem.startsWith('/')) return problem;
    const pointer = problem.slice(0, colon);
    let best: [string, string] | undefined;
    for (const entry of this.#origins) {
      const [ours] = entry;
      if ((pointer === ours || pointer.startsWith(`${ours}/`)) && (best === undefined || ours.length >= best[0].length)) best = entry;
    }
    if (best === undefined) return problem;
    return `${best[1]}${pointer.slice(best[0].length)}${problem.slice(colon)}`;
  };

  /** Reports every key of `node` not in `known`. */
  unknownKeys(node: Json, pointer: string, known: readonly string[], what: string): void {
    for (const key of Object.keys(node)) {
      if (!known.includes(key)) this.warn(`${pointer}/${escapePointer(key)}`, `${what} option '${key}' is not supported: ignored`);
    }
  }

  top(file: Json): void {
    for (const [key, value] of Object.entries(file)) {
      const at = `/${escapePointer(key)}`;
      switch (key) {
        case '$schema':
          break;
        case 'version':
          if (value !== 2) this.warn(at, `version ${JSON.stringify(value)}: read as a version 2 file`);
          break;
        case 'controller':
          if (!isRecord(value) || Object.keys(value).length > 0) this.warn(at, 'the node controller section is not used: Switchboard runs as one process');
          break;
        case 'workers':
          break;
        default:
          this.warn(at, `section '${key}' is not supported: ignored`);
      }
    }
    if (!('version' in file)) this.warn('/version', 'missing: read as a version 2 file');
    const workers = Array.isArray(file['workers']) ? file['workers'] : [];
    let routers = 0;
    workers.forEach((worker: unknown, w) => {
      const at = `/workers/${w}`;
      if (!isRecord(worker)) return this.warn(at, 'not an object: ignored');
      if (worker['type'] !== 'router') {
        return this.warn(at, `${JSON.stringify(worker['type'])} workers are not supported: run their components as separate WAMP clients`);
      }
      routers++;
      this.router(worker, at);
    });
    if (routers === 0) this.problems.push('/workers: no worker of type "router": nothing to import');
    else {
      if (this.realms.length === 0) this.problems.push('/workers: no realm could be imported from the router workers');
      if (this.listeners.length === 0) this.problems.push('/workers: no transport could be imported from the router workers (see the warnings)');
    }
  }

  router(worker: Json, at: string): void {
    for (const [key, value] of Object.entries(worker)) {
      const here = `${at}/${escapePointer(key)}`;
      switch (key) {
        case 'type':
        case 'id':
        case 'realms':
        case 'transports':
          break;
        case 'components':
          if (Array.isArray(value)) {
            value.forEach((c: unknown, i) => {
              const name = isRecord(c) ? (c['classname'] ?? c['type']) : undefined;
              this.warn(`${here}/${i}`, `router components are not supported: run ${typeof name === 'string' ? name : 'it'} as a separate WAMP client`);
            });
          } else this.warn(here, 'router components are not supported');
          break;
        case 'options':
          if (isRecord(value)) for (const k of Object.keys(value)) this.warn(`${here}/${escapePointer(k)}`, `worker option '${k}' is not supported: ignored`);
          break;
        default:
          this.warn(here, `router worker section '${key}' is not supported: ignored`);
      }
    }
    const realms = Array.isArray(worker['realms']) ? worker['realms'] : [];
    realms.forEach((realm: unknown, r) => this.realm(realm, `${at}/realms/${r}`));
    const transports = Array.isArray(worker['transports']) ? worker['transports'] : [];
    transports.forEach((transport: unknown, t) => this.transport(transport, `${at}/transports/${t}`));
  }

  realm(realm: unknown, at: string): void {
    if (!isRecord(realm) || typeof realm['name'] !== 'string') return this.warn(at, 'a realm needs a name: ignored');
    const out: Json = { name: realm['name'] };
    const index = this.realms.length;
    this.from(`/realms/${index}`, at);
    this.unknownKeys(realm, at, ['name', 'id', 'roles', 'options', 'store'], 'realm');
    // A Crossbar realm without roles admits no one (every join is refused: no such role).
    const roles = Array.isArray(realm['roles']) ? realm['roles'] : [];
    out['roles'] = roles.flatMap((role: unknown, i) => {
      const converted = this.role(role, `${at}/roles/${i}`);
      if (converted === undefined) return [];
      this.from(`/realms/${index}/roles/${i}`, `${at}/roles/${i}`);
      return [converted];
    });
    const options = realm['options'];
    if (isRecord(options)) {
      for (const [key, value] of Object.entries(options)) {
        const here = `${at}/options/${escapePointer(key)}`;
        if (key === 'uri_check' && (value === 'strict' || value === 'loose')) {
          out['uriCheck'] = value;
          this.from(`/realms/${index}/uriCheck`, here);
        } else if (key === 'enable_meta_api' && value === true) {
          // The meta API is always on.
        } else this.warn(here, `realm option '${key}' is not supported: ignored`);
      }
    }
    const store = realm['store'];
    if (isRecord(store)) this.store(store, `${at}/store`, out);
    this.realms.push(out);
  }

  /** Crossbar's event store: `{type: "memory", "event-history": [{uri, match, limit}]}` → eventHistory. */
  store(store: Json, at: string, realm: Json): void {
    if (store['type'] !== 'memory') return this.warn(at, `event store of type ${JSON.stringify(store['type'])} is not supported: Switchboard keeps history in memory only`);
    this.unknownKeys(store, at, ['type', 'event-history'], 'event store');
    const history = store['event-history'];
    if (!Array.isArray(history)) return;
    realm['eventHistory'] = history.flatMap((h: unknown, i) => {
      const here = `${at}/event-history/${i}`;
      if (!isRecord(h) || typeof h['uri'] !== 'string') {
        this.warn(here, 'an event-history entry needs a uri: ignored');
        return [];
      }
      this.unknownKeys(h, here, ['uri', 'match', 'limit'], 'event-history');
      const entry: Json = { topic: h['uri'] };
      if (h['match'] !== undefined) entry['match'] = h['match'];
      if (h['limit'] !== undefined) entry['limit'] = h['limit'];
      return [entry];
    });
  }

  role(role: unknown, at: string): Json | undefined {
    if (!isRecord(role) || typeof role['name'] !== 'string') {
      this.warn(at, 'a role needs a name: ignored');
      return undefined;
    }
    this.unknownKeys(role, at, ['name', 'id', 'permissions', 'authorizer'], 'role');
    const out: Json = { name: role['name'] };
    if (role['authorizer'] !== undefined) out['authorizer'] = role['authorizer'];
    if (Array.isArray(role['permissions'])) out['permissions'] = role['permissions'].map((p: unknown, i) => this.permission(p, `${at}/permissions/${i}`));
    return out;
  }

  /** Both forms: `{uri, match, allow: {...}, disclose, cache}` and the older `{uri, publish: true, ...}`. */
  permission(p: unknown, at: string): unknown {
    if (!isRecord(p)) return p;
    const out: Json = {};
    const allow: Json = isRecord(p['allow']) ? { ...p['allow'] } : {};
    for (const [key, value] of Object.entries(p)) {
      switch (key) {
        case 'uri':
        case 'match':
        case 'disclose':
        case 'cache':
          out[key] = value;
          break;
        case 'allow':
          if (!isRecord(value)) out[key] = value;
          break;
        case 'call':
        case 'register':
        case 'publish':
        case 'subscribe':
          allow[key] = value;
          break;
        default:
          this.warn(`${at}/${escapePointer(key)}`, `permission field '${key}' is not supported: ignored`);
      }
    }
    if (!('allow' in out) && Object.keys(allow).length > 0) out['allow'] = allow;
    return out;
  }

  transport(transport: unknown, at: string): void {
    if (!isRecord(transport)) return this.warn(at, 'not an object: ignored');
    switch (transport['type']) {
      case 'websocket': {
        this.unknownKeys(transport, at, ['type', 'id', 'endpoint', 'url', 'serializers', 'options', 'auth', 'debug', 'cookie'], 'WebSocket transport');
        const auth = this.authOf(transport, at);
        if (auth === null) return;
        const listener = this.endpoint(transport['endpoint'], `${at}/endpoint`);
        if (listener === undefined) return;
        let path = '/';
        if (typeof transport['url'] === 'string') {
          try {
            path = new URL(transport['url']).pathname || '/';
          } catch {
            this.warn(`${at}/url`, `'${transport['url']}' is not a URL: listening on /`);
          }
        }
        listener['path'] = path;
        this.warn(at, `Crossbar accepts this WebSocket transport on any URL path; Switchboard only on ${path}`);
        this.websocket(transport, at, listener, auth);
        return;
      }
      case 'web':
        return this.web(transport, at);
      case 'rawsocket':
        return this.rawsocket(transport, at);
      default:
        this.warn(at, `transports of type ${JSON.stringify(transport['type'])} are not supported: ignored`);
    }
  }

  web(transport: Json, at: string): void {
    this.unknownKeys(transport, at, ['type', 'id', 'endpoint', 'paths', 'options'], 'Web transport');
    if (isRecord(transport['options'])) {
      for (const key of Object.keys(transport['options'])) this.warn(`${at}/options/${escapePointer(key)}`, `Web transport option '${key}' is not supported: ignored`);
    }
    const paths = isRecord(transport['paths']) ? transport['paths'] : {};
    let listener: Json | undefined;
    let first: string | undefined;
    let websocketPaths = 0;
    // publisher, caller and webhook path services: the listener's HTTP bridge (http/bridge/crossbar.ts).
    const bridge = new CrossbarBridgeImport();
    for (const [key, service] of Object.entries(paths)) {
      const here = `${at}/paths/${escapePointer(key)}`;
      const type = isRecord(service) ? service['type'] : undefined;
      if (bridge.take(key, service, here, (pointer, message) => this.warn(pointer, message))) continue;
      if (type !== 'websocket' || !isRecord(service)) {
        this.warn(here, `Web service of type ${JSON.stringify(type)} is not supported: ignored`);
        continue;
      }
      websocketPaths++;
      if (listener !== undefined) {
        this.warn(here, `a second WebSocket path on one port is not supported: only ${first ?? ''} is served`);
        continue;
      }
      const auth = this.authOf(service, here);
      if (auth === null) continue;
      listener = this.endpoint(transport['endpoint'], `${at}/endpoint`);
      if (listener === undefined) return;
      first = key === '/' ? '/' : `/${key.replace(/^\/+/, '')}`;
      listener['path'] = first;
      this.unknownKeys(service, here, ['type', 'url', 'serializers', 'options', 'auth', 'debug', 'cookie'], 'WebSocket service');
      this.websocket(service, here, listener, auth);
    }
    if (bridge.size > 0) {
      if (listener === undefined) this.warn(at, 'no "websocket" path: WebSocket clients are accepted on /ws beside the HTTP bridge paths');
      listener ??= this.endpoint(transport['endpoint'], `${at}/endpoint`);
      if (listener === undefined) return;
      const index = this.listeners.indexOf(listener);
      listener['http'] = { paths: bridge.paths };
      for (const [path, origin] of bridge.origins) this.from(`/listeners/${index}/http/paths/${escapePointer(path)}`, origin);
    } else if (websocketPaths === 0) this.warn(at, 'no "websocket" path: this Web transport is not imported');
  }

  rawsocket(transport: Json, at: string): void {
    this.unknownKeys(transport, at, ['type', 'id', 'endpoint', 'serializers', 'max_message_size', 'auth', 'debug'], 'RawSocket transport');
    const auth = this.authOf(transport, at);
    if (auth === null) return;
    const listener = this.endpoint(transport['endpoint'], `${at}/endpoint`, 'rawsocket');
    if (listener === undefined) return;
    const index = this.listeners.indexOf(listener);
    this.from(`/listeners/${index}`, at);
    if (transport['debug'] !== undefined) this.warn(`${at}/debug`, 'not supported: use --log-level debug');
    this.serializers(transport, at, listener, index);
    const max = transport['max_message_size'];
    if (typeof max === 'number' && max > 0) {
      // The largest power of two that is not above Crossbar's limit, within what RawSocket can announce.
      const bounded = Math.min(RAWSOCKET_MAX_MESSAGE_BYTES.max, Math.max(RAWSOCKET_MAX_MESSAGE_BYTES.min, max));
      const power = 2 ** Math.floor(Math.log2(bounded));
      if (power !== max) this.warn(`${at}/max_message_size`, `RawSocket announces a power of two from 512 to 16 MiB: ${power} is used`);
      listener['maxMessageBytes'] = power;
      this.from(`/listeners/${index}/maxMessageBytes`, `${at}/max_message_size`);
    } else if (max !== undefined) this.warn(`${at}/max_message_size`, `${JSON.stringify(max)} (no limit) is not supported: the default maxMessageBytes (16 MiB) applies`);
    if (auth !== undefined) {
      listener['auth'] = auth;
      this.from(`/listeners/${index}/auth`, `${at}/auth`);
    }
  }

  /** A listening endpoint → a listener with host, port and tls (or a Unix socket path); undefined (with a warning) if unusable. */
  endpoint(endpoint: unknown, at: string, type: 'websocket' | 'rawsocket' = 'websocket'): Json | undefined {
    if (!isRecord(endpoint)) {
      this.warn(at, 'missing endpoint: transport ignored');
      return undefined;
    }
    if (type === 'rawsocket' && endpoint['type'] === 'unix' && typeof endpoint['path'] === 'string') {
      this.unknownKeys(endpoint, at, ['type', 'path', 'backlog'], 'endpoint');
      if (endpoint['backlog'] !== undefined) this.warn(`${at}/backlog`, "endpoint option 'backlog' is not supported: ignored");
      // Crossbar reads a relative socket path from the node directory.
      const path = this.dir !== undefined && !isAbsolute(endpoint['path']) ? resolvePath(this.dir, endpoint['path']) : endpoint['path'];
      const listener: Json = { type, path };
      this.from(`/listeners/${this.listeners.length}`, at);
      this.from(`/listeners/${this.listeners.length}/path`, `${at}/path`);
      this.listeners.push(listener);
      return listener;
    }
    if (endpoint['type'] !== 'tcp') {
      this.warn(at, `endpoints of type ${JSON.stringify(endpoint['type'])} are not supported for ${type === 'websocket' ? 'WebSocket' : 'RawSocket'}: transport ignored`);
      return undefined;
    }
    const listener: Json = { type };
    const index = this.listeners.length;
    this.from(`/listeners/${index}`, at);
    this.unknownKeys(endpoint, at, ['type', 'port', 'interface', 'version', 'tls', 'backlog', 'shared'], 'endpoint');
    for (const key of ['backlog', 'shared'] as const) {
      if (endpoint[key] !== undefined) this.warn(`${at}/${key}`, `endpoint option '${key}' is not supported: ignored`);
    }
    const port = endpoint['port'];
    // Crossbar reads a port from the environment as a string ("$PORT"); it is a number here.
    listener['port'] = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
    this.from(`/listeners/${index}/port`, `${at}/port`);
    if (typeof endpoint['interface'] === 'string') {
      listener['host'] = endpoint['interface'];
      this.from(`/listeners/${index}/host`, `${at}/interface`);
    } else if (endpoint['version'] === 6) listener['host'] = '::';
    if (isRecord(endpoint['tls'])) {
      listener['tls'] = this.tls(endpoint['tls'], `${at}/tls`, index);
      this.from(`/listeners/${index}/tls`, `${at}/tls`);
    }
    this.listeners.push(listener);
    return listener;
  }

  tls(tls: Json, at: string, index: number): Json {
    const out: Json = {};
    for (const [key, value] of Object.entries(tls)) {
      const here = `${at}/${escapePointer(key)}`;
      switch (key) {
        case 'key':
          out['key'] = value;
          this.from(`/listeners/${index}/tls/key`, here);
          break;
        case 'certificate':
          out['cert'] = value;
          this.from(`/listeners/${index}/tls/cert`, here);
          break;
        case 'ca_certificates':
          // As in Crossbar: clients may present a certificate signed by these CAs (for tls auth).
          out['ca'] = value;
          out['clientCertificates'] = 'request';
          this.from(`/listeners/${index}/tls/ca`, here);
          this.from(`/listeners/${index}/tls/clientCertificates`, here);
          break;
        case 'chain_certificates':
          this.warn(here, 'not supported: append the chain to the certificate file (tls.cert may hold the whole chain)');
          break;
        default:
          this.warn(here, `TLS option '${key}' is not supported: Node.js defaults apply`);
      }
    }
    return out;
  }

  /** What a `websocket` transport and a Web transport's `websocket` path share. */
  websocket(service: Json, at: string, listener: Json, auth: Json | undefined): void {
    const index = this.listeners.indexOf(listener);
    // Listener-level problems point at the service; endpoint fields were recorded more precisely.
    this.from(`/listeners/${index}`, at);
    if (service['debug'] !== undefined) this.warn(`${at}/debug`, "not supported: use --log-level debug");
    const cookie = service['cookie'];
    if (isRecord(cookie)) {
      // Cookie tracking: name, max_age and store carry over; values are always 192 random bits.
      const out: Json = {};
      for (const [key, value] of Object.entries(cookie)) {
        if (key === 'name' || key === 'max_age' || key === 'store') out[key] = value;
        else this.warn(`${at}/cookie/${escapePointer(key)}`, `cookie option '${key}' is not supported: ignored`);
      }
      listener['cookie'] = out;
      this.from(`/listeners/${index}/cookie`, `${at}/cookie`);
    } else if (cookie !== undefined) this.warn(`${at}/cookie`, 'not a dict: ignored');
    this.serializers(service, at, listener, index);
    if (isRecord(service['options'])) this.options(service['options'], `${at}/options`, listener, index);
    if (auth !== undefined) {
      listener['auth'] = auth;
      this.from(`/listeners/${index}/auth`, `${at}/auth`);
    }
  }

  serializers(service: Json, at: string, listener: Json, index: number): void {
    if (Array.isArray(service['serializers'])) {
      const ours: string[] = [];
      service['serializers'].forEach((s: unknown, i) => {
        if (typeof s === 'string' && SERIALIZERS.has(s)) ours.push(s);
        else this.warn(`${at}/serializers/${i}`, `serializer ${JSON.stringify(s)} is not supported`);
      });
      if (ours.length > 0) {
        listener['serializers'] = ours;
        this.from(`/listeners/${index}/serializers`, `${at}/serializers`);
      } else this.warn(`${at}/serializers`, 'no supported serializer: json, msgpack and cbor are offered');
    }
  }

  options(options: Json, at: string, listener: Json, index: number): void {
    for (const [key, value] of Object.entries(options)) {
      const here = `${at}/${escapePointer(key)}`;
      switch (key) {
        case 'max_message_size':
          if (typeof value !== 'number' || value <= 0) {
            this.warn(here, `${JSON.stringify(value)} (no limit) is not supported: the default maxMessageBytes (16 MiB) applies`);
          } else {
            const clamped = Math.min(MAX_MESSAGE_BYTES.max, Math.max(MAX_MESSAGE_BYTES.min, Math.floor(value)));
            if (clamped !== value) this.warn(here, `${value} is outside ${MAX_MESSAGE_BYTES.min}…${MAX_MESSAGE_BYTES.max}: ${clamped} is used`);
            listener['maxMessageBytes'] = clamped;
            this.from(`/listeners/${index}/maxMessageBytes`, here);
          }
          break;
        case 'auto_ping_interval':
          listener['pingIntervalMs'] = value;
          this.from(`/listeners/${index}/pingIntervalMs`, here);
          break;
        case 'auto_ping_timeout': {
          const interval = typeof options['auto_ping_interval'] === 'number' ? options['auto_ping_interval'] : DEFAULT_PING_INTERVAL_MS;
          if (value === 0) this.warn(here, '0 (never time out) is not supported: a peer that has not answered by the next ping is dropped');
          else if (typeof value === 'number' && interval > 0 && value > interval) {
            this.warn(here, `longer than the ping interval (${interval} ms): a peer that has not answered by the next ping is dropped`);
          } else {
            listener['pingTimeoutMs'] = value;
            this.from(`/listeners/${index}/pingTimeoutMs`, here);
          }
          break;
        }
        case 'allowed_origins':
          listener['allowedOrigins'] = value;
          this.from(`/listeners/${index}/allowedOrigins`, here);
          if (options['allow_null_origin'] === undefined) {
            this.warn(here, "Crossbar admits 'Origin: null' unless allow_null_origin is false; Switchboard refuses it unless allowNullOrigin is true");
          }
          break;
        case 'allow_null_origin':
          if (value === false && options['allowed_origins'] === undefined) listener['allowedOrigins'] = ['*'];
          if (value === false || options['allowed_origins'] !== undefined) {
            listener['allowNullOrigin'] = value;
            this.from(`/listeners/${index}/allowNullOrigin`, here);
          }
          break;
        case 'auto_ping_size':
          this.warn(here, 'not supported: pings carry no payload');
          break;
        default:
          if (key in SAME_AS_OURS && (SAME_AS_OURS[key] === value || (key === 'compression' && isRecord(value) && Object.keys(value).length === 0))) break;
          this.warn(here, `WebSocket option '${key}' = ${JSON.stringify(value)} is not supported: ignored`);
      }
    }
  }

  /**
   * A transport's auth block converted: undefined when it has none (anonymous, as in Crossbar);
   * null, after warnings, when none of its methods is supported: the transport is left out rather
   * than opened to anonymous sessions.
   */
  authOf(service: Json, at: string): Json | undefined | null {
    if (!isRecord(service['auth'])) return undefined;
    const auth = this.auth(service['auth'], `${at}/auth`);
    if (Object.keys(service['auth']).length > 0 && Object.keys(auth).length === 0) {
      this.warn(`${at}/auth`, 'none of these authentication methods is supported yet: this transport is not imported');
      return null;
    }
    return auth;
  }

  /**
   * Crossbar's `auth` block, method by method: a method the schema knows is passed through as
   * written (minus `type: "static"` where our block has no `type`); one it does not know, or a
   * dynamic one where only static is supported, is reported and left out.
   */
  auth(auth: Json, at: string): Json {
    const support = supportedAuth();
    const out: Json = {};
    const methods = Object.keys(auth);
    for (const method of methods) {
      const here = `${at}/${escapePointer(method)}`;
      const block = auth[method];
      const schema = support.get(method);
      if (schema === undefined) {
        this.warn(here, `${method} authentication is not supported yet: clients using it cannot join through this listener`);
        continue;
      }
      if (!isRecord(block)) {
        out[method] = block;
        continue;
      }
      const type = block['type'];
      if (typeof type === 'string') {
        const allowed = allowsType(schema, type);
        if (allowed === false || (allowed === 'absent' && type !== 'static')) {
          this.warn(here, `${type} ${method} authentication is not supported yet: clients using it cannot join through this listener`);
          continue;
        }
        if (allowed === 'absent') {
          const rest = { ...block };
          delete rest['type'];
          out[method] = rest;
          continue;
        }
      }
      out[method] = block;
    }
    return out;
  }
}

/**
 * Converts a Crossbar node configuration (see the module comment). `dir` is the Crossbar node
 * directory (where config.json is), for relative Unix socket paths; TLS file paths are left
 * relative (loadConfig resolves them against the file's directory, as for our own files).
 */
export function convertCrossbar(file: Json, dir?: string): CrossbarImport {
  const converter = new Converter(dir);
  converter.top(file);
  const config: Json = {};
  if (converter.listeners.length > 0) config['listeners'] = converter.listeners;
  if (converter.realms.length > 0) config['realms'] = converter.realms;
  return { config, warnings: converter.warnings, problems: converter.problems, locate: converter.locate };
}
