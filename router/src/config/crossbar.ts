/**
 * Reads the router part of a Crossbar.io node configuration (`"version": 2`, `workers[]`) and
 * writes the Switchboard config that does the same, so Crossbar users can move over with their
 * file. Router workers give realms (roles, permissions, dynamic authorizers, event history) and
 * listeners: `websocket` and `rawsocket` transports, and `web` and `universal` transports as one
 * listener per port (their WebSocket paths, RawSocket part, static, long-poll and HTTP bridge
 * paths), with their `auth` blocks, which use Crossbar's shapes. Everything else (components,
 * other worker types and Web services, options without an equivalent, the controller) is reported
 * as a warning naming its JSON pointer in the Crossbar file: nothing is dropped silently. The
 * table of every key is docs/crossbar.md.
 *
 * The output is a config value like a parsed JSON file: the caller validates it against the
 * schema and maps its problems back into the Crossbar file, in its field names, with `locate`.
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

/** Our field → Crossbar's, by the name of the object holding it, for problems and pointers about them. */
const CROSSBAR_FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  tls: { cert: 'certificate', ca: 'ca_certificates', clientCertificates: 'ca_certificates' },
  longpoll: {
    requestTimeoutMs: 'request_timeout',
    sessionTimeoutMs: 'session_timeout',
    queueMaxBytes: 'queue_limit_bytes',
    queueMaxMessages: 'queue_limit_messages',
  },
  static: {},
};

/** Advice in our terms → the same in Crossbar's (the fields it names do not exist in a Crossbar file). */
const CROSSBAR_ADVICE: readonly (readonly [RegExp, string])[] = [
  [/ with ca and clientCertificates "request" or "require"\)/, ' with ca_certificates)'],
  [/needs a websocket listener \(cookies travel in the HTTP upgrade\)/, 'needs a WebSocket transport (or a "websocket" path of a Web transport)'],
];

/** A WebSocket path or Web service: its key in the Crossbar file, its value, its JSON pointer. */
interface Service {
  key: string;
  service: unknown;
  at: string;
  /** A WebSocket path (else a Web service). */
  websocket: boolean;
}

/** What to do instead, for Web services Switchboard does not have. [Crossbar docs: Web Services] */
const WEB_SERVICE_HINTS: Readonly<Record<string, string>> = {
  wsgi: 'run the Python app behind a reverse proxy, beside Switchboard',
  resource: 'run the Python app behind a reverse proxy, beside Switchboard',
  cgi: 'run the program behind a web server, beside Switchboard',
  reverseproxy: 'put a reverse proxy such as nginx in front, routing this path elsewhere',
  'websocket-reverseproxy': 'put a reverse proxy such as nginx in front, routing this path elsewhere',
  redirect: 'put a reverse proxy such as nginx in front, routing this path elsewhere',
  wap: 'render the pages in your web app; call procedures through the HTTP bridge',
  json: 'serve the value as a file of a static path',
  upload: 'handle uploads in your web app',
  archive: 'unpack the archive and serve its directory as a static path',
  path: 'list its paths on the transport itself',
};

/** A Web path key (`ws`, `/`, `shared/`) as a URL path (`/ws`, `/`, `/shared`). */
function webPath(key: string, trimEnd: boolean): string {
  const path = `/${key.replace(/^\/+/, '')}`;
  return trimEnd && path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** Deep equality of JSON values (auth blocks as written). */
function sameJson(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return a === b;
}

class Converter {
  readonly warnings: string[] = [];
  readonly problems: string[] = [];
  /** [Switchboard pointer, Crossbar pointer], most specific last. */
  readonly #origins: [string, string][] = [];
  /** Listener index → the pointer of its endpoint (for messages that name another listener). */
  readonly #endpoints = new Map<number, string>();
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

  /**
   * A problem about the Switchboard config, in the Crossbar file's terms: its pointer, the
   * pointers inside its message ("set /listeners/0/tls …", "clashes with /listeners/1"), the field
   * it names ('cert' → 'certificate'), and advice that names Switchboard-only keys.
   */
  readonly locate = (problem: string): string => {
    const colon = problem.indexOf(': ');
    const leading = colon !== -1 && problem.startsWith('/');
    const pointer = leading ? problem.slice(0, colon) : '';
    let message = leading ? problem.slice(colon + 2) : problem;
    message = message.replace(/(?<=^|[\s(])\/(?:listeners|realms)(?:\/[^\s,;:()'"]+)*/g, (ours) => {
      const endpoint = /^\/listeners\/(\d+)$/.exec(ours);
      return (endpoint !== null ? this.#endpoints.get(Number(endpoint[1])) : undefined) ?? this.#theirs(ours) ?? ours;
    });
    message = message.replace(/^(missing required field|unknown field) '([^']+)'/, (all: string, what: string, field: string) => {
      const name = CROSSBAR_FIELDS[pointer.slice(pointer.lastIndexOf('/') + 1)]?.[field];
      return name === undefined ? all : `${what} '${name}'`;
    });
    for (const [ours, theirs] of CROSSBAR_ADVICE) message = message.replace(ours, theirs);
    return leading ? `${this.#theirs(pointer) ?? pointer}: ${message}` : message;
  };

  /** The Crossbar pointer for a Switchboard one: the longest recorded prefix, the rest kept (its field names as Crossbar's). */
  #theirs(pointer: string): string | undefined {
    let best: [string, string] | undefined;
    for (const entry of this.#origins) {
      const [ours] = entry;
      if ((pointer === ours || pointer.startsWith(`${ours}/`)) && (best === undefined || ours.length >= best[0].length)) best = entry;
    }
    if (best === undefined) return undefined;
    const rest = pointer.slice(best[0].length).split('/').slice(1);
    let parent = best[0].slice(best[0].lastIndexOf('/') + 1);
    const renamed = rest.map((segment) => {
      const name = CROSSBAR_FIELDS[parent]?.[segment] ?? segment;
      parent = segment;
      return name;
    });
    return [best[1], ...renamed].join('/');
  }

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
      if (!isRecord(worker)) this.warn(at, 'not an object: ignored');
      else if (worker['type'] === 'proxy') {
        this.warn(
          at,
          '"proxy" workers are not supported: one Switchboard process takes every connection (or run several as a cluster over NATS behind a load balancer)',
        );
      } else if (worker['type'] !== 'router') {
        this.warn(at, `${JSON.stringify(worker['type'])} workers are not supported: run their components as separate WAMP clients`);
      } else {
        routers++;
        this.router(worker, at);
      }
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
    realms.forEach((realm: unknown, r) => {
      this.realm(realm, `${at}/realms/${r}`);
    });
    const transports = Array.isArray(worker['transports']) ? worker['transports'] : [];
    transports.forEach((transport: unknown, t) => {
      this.transport(transport, `${at}/transports/${t}`);
    });
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
    if (isRecord(store)) this.store(store, `${at}/store`, out, index);
    this.realms.push(out);
  }

  /** Crossbar's event store: `{type: "memory", "event-history": [{uri, match, limit}]}` → eventHistory. */
  store(store: Json, at: string, realm: Json, index: number): void {
    if (store['type'] !== 'memory')
      return this.warn(at, `event store of type ${JSON.stringify(store['type'])} is not supported: Switchboard keeps history in memory only`);
    this.unknownKeys(store, at, ['type', 'event-history'], 'event store');
    const history = store['event-history'];
    if (!Array.isArray(history)) return;
    let kept = 0;
    realm['eventHistory'] = history.flatMap((h: unknown, i) => {
      const here = `${at}/event-history/${i}`;
      if (!isRecord(h) || typeof h['uri'] !== 'string') {
        this.warn(here, 'an event-history entry needs a uri: ignored');
        return [];
      }
      this.unknownKeys(h, here, ['uri', 'match', 'limit'], 'event-history');
      const entry: Json = { topic: h['uri'] };
      const ours = `/realms/${index}/eventHistory/${kept++}`;
      this.from(ours, here);
      this.from(`${ours}/topic`, `${here}/uri`);
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
      case 'universal':
        return this.universal(transport, at);
      default:
        this.warn(at, `transports of type ${JSON.stringify(transport['type'])} are not supported: ignored`);
    }
  }

  /** A `web` transport: its `paths` hold WebSocket paths and Web services side by side. */
  web(transport: Json, at: string): void {
    this.unknownKeys(transport, at, ['type', 'id', 'endpoint', 'paths', 'options'], 'Web transport');
    this.webOptions(transport['options'], `${at}/options`);
    const paths = isRecord(transport['paths']) ? transport['paths'] : {};
    const entries = Object.entries(paths).map(([key, service]) => ({
      key,
      service,
      at: `${at}/paths/${escapePointer(key)}`,
      websocket: isRecord(service) && service['type'] === 'websocket',
    }));
    this.site(transport['endpoint'], at, entries, undefined);
  }

  /**
   * A `universal` transport: RawSocket, WebSocket paths and Web paths on one port, told apart by
   * the first octet (0x7F: RawSocket) and then the URL path, as a Switchboard listener with
   * `rawsocket: true` does. [Crossbar docs: Transport Endpoints, Universal Listening Endpoints]
   */
  universal(transport: Json, at: string): void {
    this.unknownKeys(transport, at, ['type', 'id', 'endpoint', 'rawsocket', 'websocket', 'web', 'mqtt'], 'Universal transport');
    if (transport['mqtt'] !== undefined) this.warn(`${at}/mqtt`, 'MQTT is not supported: MQTT clients cannot connect to this port');
    const entries: Service[] = [];
    if (isRecord(transport['websocket'])) {
      for (const [key, service] of Object.entries(transport['websocket']))
        entries.push({ key, service: isRecord(service) ? service : {}, at: `${at}/websocket/${escapePointer(key)}`, websocket: true });
    } else if (transport['websocket'] !== undefined) this.warn(`${at}/websocket`, 'not a dict of WebSocket paths: ignored');
    const site = transport['web'];
    if (isRecord(site)) {
      this.unknownKeys(site, `${at}/web`, ['paths', 'options'], 'Web part');
      this.webOptions(site['options'], `${at}/web/options`);
      const paths = isRecord(site['paths']) ? site['paths'] : {};
      for (const [key, service] of Object.entries(paths)) entries.push({ key, service, at: `${at}/web/paths/${escapePointer(key)}`, websocket: false });
    }
    const rawsocket = transport['rawsocket'];
    if (!isRecord(rawsocket)) {
      if (rawsocket !== undefined) this.warn(`${at}/rawsocket`, 'not a dict: ignored');
      return this.site(transport['endpoint'], at, entries, undefined);
    }
    // RawSocket alone on the port: a rawsocket listener, as a `rawsocket` transport would be.
    if (entries.length === 0) return this.rawsocket(rawsocket, `${at}/rawsocket`, transport['endpoint'], `${at}/endpoint`);
    this.site(transport['endpoint'], at, entries, { service: rawsocket, at: `${at}/rawsocket` });
  }

  webOptions(options: unknown, at: string): void {
    if (isRecord(options))
      for (const key of Object.keys(options)) this.warn(`${at}/${escapePointer(key)}`, `Web transport option '${key}' is not supported: ignored`);
  }

  /**
   * One port's WebSocket paths, Web services and (universal) RawSocket part → one websocket
   * listener. The first WebSocket path with a usable auth block is served; static, long-poll and
   * HTTP bridge paths are added to it; other services are warnings naming their path.
   */
  site(endpoint: unknown, at: string, entries: Service[], rawsocket: { service: Json; at: string } | undefined): void {
    // publisher, caller and webhook path services: the listener's HTTP bridge (http/bridge/crossbar.ts).
    const bridge = new CrossbarBridgeImport();
    const statics: [string, Json, Service][] = [];
    let longpoll: { config: Json; fields: [string, string][]; at: string } | undefined;
    let listener: Json | undefined;
    let served: Service | undefined;
    let websocketPaths = 0;
    for (const s of entries) {
      if (s.websocket) {
        websocketPaths++;
        if (served !== undefined && listener !== undefined) {
          // One listener has one set of settings: a further path with the same ones is served beside the first.
          const settings = (service: unknown): Json => {
            const rest: Json = isRecord(service) ? { ...service } : {};
            for (const key of ['type', 'id', 'url', 'debug']) delete rest[key];
            return rest;
          };
          if (sameJson(settings(s.service), settings(served.service))) {
            const path = webPath(s.key, false);
            const paths = Array.isArray(listener['path']) ? listener['path'] : [listener['path']];
            if (!paths.includes(path)) listener['path'] = [...paths, path];
          } else this.warn(s.at, `its settings differ from those of ${served.at} (one listener has one set): not served; give it a port of its own`);
          continue;
        }
        const service = isRecord(s.service) ? s.service : {};
        const auth = this.authOf(service, s.at);
        if (auth === null) continue;
        listener = this.endpoint(endpoint, `${at}/endpoint`);
        if (listener === undefined) return;
        listener['path'] = webPath(s.key, false);
        this.unknownKeys(service, s.at, ['type', 'id', 'url', 'serializers', 'options', 'auth', 'debug', 'cookie'], 'WebSocket service');
        this.websocket(service, s.at, listener, auth);
        served = s;
        continue;
      }
      if (bridge.take(s.key, s.service, s.at, (pointer, message) => this.warn(pointer, message))) continue;
      const type = isRecord(s.service) ? s.service['type'] : undefined;
      if (!isRecord(s.service)) this.warn(s.at, 'not a dict: ignored');
      else if (type === 'static') {
        const mount = this.staticPath(s.service, s.at);
        if (mount !== undefined) statics.push([webPath(s.key, true), mount, s]);
      } else if (type === 'longpoll') {
        if (longpoll === undefined) longpoll = { ...this.longpoll(s.service, s.at, webPath(s.key, true)), at: s.at };
        else this.warn(s.at, `a second long-poll path on one port is not supported: only ${String(longpoll.config['path'])} is served`);
      } else if (type === 'nodeinfo') {
        this.warn(s.at, "Crossbar's node info page has no equivalent: not served (GET /health and /ready on this port tell whether the router is up)");
      } else {
        const hint = typeof type === 'string' ? WEB_SERVICE_HINTS[type] : undefined;
        this.warn(s.at, `Web service of type ${JSON.stringify(type)} is not supported: ignored${hint === undefined ? '' : ` (${hint})`}`);
      }
    }
    const extras = bridge.size > 0 || statics.length > 0 || longpoll !== undefined || rawsocket !== undefined;
    if (listener === undefined) {
      if (websocketPaths > 0) {
        // Every WebSocket path was refused for its auth: the port is not opened to anonymous sessions.
        if (extras)
          this.warn(at, 'none of its WebSocket paths could be imported (see above): the whole transport is left out rather than opened to anonymous sessions');
        return;
      }
      if (!extras) return this.warn(at, 'no "websocket" path: this Web transport is not imported');
      listener = this.endpoint(endpoint, `${at}/endpoint`);
      if (listener === undefined) return;
      if (bridge.size > 0 || statics.length > 0 || longpoll !== undefined)
        this.warn(at, 'no "websocket" path: WebSocket clients are accepted on /ws beside its Web paths');
    }
    const index = this.listeners.indexOf(listener);
    if (statics.length > 0) {
      const mounts: Json = {};
      for (const [prefix, mount, s] of statics) {
        mounts[prefix] = mount;
        const ours = `/listeners/${index}/static/${escapePointer(prefix)}`;
        this.from(ours, s.at);
        this.from(`${ours}/directory`, `${s.at}/directory`);
        if ('maxAgeSeconds' in mount) this.from(`${ours}/maxAgeSeconds`, `${s.at}/options/cache_timeout`);
      }
      listener['static'] = mounts;
    }
    if (longpoll !== undefined) {
      listener['longpoll'] = longpoll.config;
      this.from(`/listeners/${index}/longpoll`, longpoll.at);
      for (const [field, origin] of longpoll.fields) this.from(`/listeners/${index}/longpoll/${field}`, origin);
    }
    if (bridge.size > 0) {
      listener['http'] = { paths: bridge.paths };
      for (const [path, origin] of bridge.origins) this.from(`/listeners/${index}/http/paths/${escapePointer(path)}`, origin);
    }
    if (rawsocket !== undefined) this.sharedRawSocket(rawsocket.service, rawsocket.at, listener, served);
  }

  /** Crossbar's static Web service: `{directory, options: {cache_timeout, enable_directory_listing, mime_types}}`. */
  staticPath(service: Json, at: string): Json | undefined {
    this.unknownKeys(service, at, ['type', 'id', 'directory', 'package', 'resource', 'options'], 'static path');
    if (typeof service['directory'] !== 'string') {
      this.warn(at, 'a static path served from a Python package (package/resource) is not supported: give its directory instead');
      return undefined;
    }
    const mount: Json = { directory: service['directory'] };
    const options = service['options'];
    if (isRecord(options)) {
      for (const [key, value] of Object.entries(options)) {
        const here = `${at}/options/${escapePointer(key)}`;
        if (key === 'cache_timeout' && typeof value === 'number' && value >= 0) mount['maxAgeSeconds'] = Math.floor(value);
        else if (key === 'enable_directory_listing') {
          if (value !== false) this.warn(here, 'directory listings are not served: a directory answers with its index.html, or 404');
        } else if (key === 'mime_types') this.warn(here, "static option 'mime_types' is not supported: content types come from the file extension");
        else this.warn(here, `static option '${key}' = ${JSON.stringify(value)} is not supported: ignored`);
      }
    }
    return mount;
  }

  /** Crossbar's long-poll Web service; its timeouts are in seconds, ours in milliseconds. [Crossbar docs: Long-poll Service] */
  longpoll(service: Json, at: string, path: string): { config: Json; fields: [string, string][] } {
    this.unknownKeys(service, at, ['type', 'id', 'options'], 'long-poll path');
    const out: Json = { path };
    const fields: [string, string][] = [];
    const options = service['options'];
    if (!isRecord(options)) return { config: out, fields };
    // [our key, our unit in Crossbar's, our bounds (the schema's), in our unit]
    const ours: Readonly<Record<string, [string, number, number, number]>> = {
      request_timeout: ['requestTimeoutMs', 1000, 100, 300_000],
      session_timeout: ['sessionTimeoutMs', 1000, 100, 3_600_000],
      queue_limit_bytes: ['queueMaxBytes', 1, 1024, Number.MAX_SAFE_INTEGER],
      queue_limit_messages: ['queueMaxMessages', 1, 1, Number.MAX_SAFE_INTEGER],
    };
    for (const [key, value] of Object.entries(options)) {
      const here = `${at}/options/${escapePointer(key)}`;
      const mapped = ours[key];
      if (mapped !== undefined) {
        const [key2, unit, min, max] = mapped;
        if (value === 0) this.warn(here, `0 (no limit) is not supported: the default ${key2} applies`);
        else if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
          const bounded = Math.min(max, Math.max(min, Math.round(value * unit)));
          const u = unit === 1000 ? ' s' : '';
          const range = max === Number.MAX_SAFE_INTEGER ? `below ${min / unit}${u}` : `outside ${min / unit}${u}…${max / unit}${u}`;
          if (bounded !== value * unit) this.warn(here, `${value}${u} is ${range}: ${bounded / unit}${u} is used`);
          out[key2] = bounded;
          fields.push([key2, here]);
        } else {
          out[key2] = value;
          fields.push([key2, here]);
        }
      } else if (key === 'debug' || key === 'debug_transport_id') this.warn(here, `long-poll option '${key}' is not supported: use --log-level debug`);
      else this.warn(here, `long-poll option '${key}' is not supported: ignored`);
    }
    return { config: out, fields };
  }

  /**
   * The RawSocket part of a universal transport, on the listener of its port. One listener has one
   * auth block and one serializer list for every transport on it: a RawSocket auth block that
   * differs from the WebSocket path's is an error (never a silent change of who may join).
   */
  sharedRawSocket(rs: Json, at: string, listener: Json, served: Service | undefined): void {
    this.unknownKeys(rs, at, ['type', 'id', 'serializers', 'max_message_size', 'debug', 'auth'], 'RawSocket part');
    if (rs['debug'] !== undefined) this.warn(`${at}/debug`, 'not supported: use --log-level debug');
    const auth = this.authOf(rs, at);
    if (auth === null) return;
    const index = this.listeners.indexOf(listener);
    const max = rs['max_message_size'];
    if (served === undefined) {
      // No WebSocket path: the RawSocket part's settings are the listener's.
      this.serializers(rs, at, listener, index);
      if (typeof max === 'number' && max > 0) {
        listener['maxMessageBytes'] = Math.min(MAX_MESSAGE_BYTES.max, Math.max(MAX_MESSAGE_BYTES.min, Math.floor(max)));
        this.from(`/listeners/${index}/maxMessageBytes`, `${at}/max_message_size`);
      }
      if (auth !== undefined) {
        listener['auth'] = auth;
        this.from(`/listeners/${index}/auth`, `${at}/auth`);
      }
    } else {
      if (auth === undefined && listener['auth'] !== undefined) {
        this.warn(at, `no auth block (anonymous in Crossbar): RawSocket clients on this port authenticate as ${served.at}/auth says`);
      } else if (!sameJson(auth, listener['auth'])) {
        this.problems.push(
          `${at}/auth: differs from the auth of ${served.at}: Switchboard authenticates every transport on one port alike; make the two blocks the same, or give RawSocket a port of its own (a "rawsocket" transport)`,
        );
        return;
      }
      const ours = this.supportedSerializers(rs, at);
      const theirs = Array.isArray(listener['serializers']) ? listener['serializers'] : [...SERIALIZERS];
      if (ours !== undefined && (ours.length !== theirs.length || ours.some((s) => !theirs.includes(s)))) {
        this.warn(`${at}/serializers`, `RawSocket on this port offers the serializers of ${served.at} (${theirs.join(', ')})`);
      }
      if (max !== undefined && max !== listener['maxMessageBytes']) {
        this.warn(`${at}/max_message_size`, `RawSocket on this port takes the maximum message size of ${served.at} (the largest power of two up to it)`);
      }
    }
    listener['rawsocket'] = true;
    this.from(`/listeners/${index}/rawsocket`, at);
  }

  /** A `rawsocket` transport, or the RawSocket part of a universal transport with nothing else on its port. */
  rawsocket(transport: Json, at: string, endpoint: unknown = transport['endpoint'], endpointAt = `${at}/endpoint`): void {
    this.unknownKeys(transport, at, ['type', 'id', 'endpoint', 'serializers', 'max_message_size', 'auth', 'debug'], 'RawSocket transport');
    const auth = this.authOf(transport, at);
    if (auth === null) return;
    const listener = this.endpoint(endpoint, endpointAt, 'rawsocket');
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
    } else if (max !== undefined)
      this.warn(`${at}/max_message_size`, `${JSON.stringify(max)} (no limit) is not supported: the default maxMessageBytes (16 MiB) applies`);
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
      this.#endpoints.set(this.listeners.length, at);
      this.from(`/listeners/${this.listeners.length}/path`, `${at}/path`);
      this.listeners.push(listener);
      return listener;
    }
    if (endpoint['type'] !== 'tcp') {
      this.warn(
        at,
        `endpoints of type ${JSON.stringify(endpoint['type'])} are not supported for ${type === 'websocket' ? 'WebSocket' : 'RawSocket'}: transport ignored`,
      );
      return undefined;
    }
    const listener: Json = { type };
    const index = this.listeners.length;
    this.from(`/listeners/${index}`, at);
    this.#endpoints.set(index, at);
    // Also when absent: "set /listeners/0/tls …" is advice about this endpoint's tls.
    this.from(`/listeners/${index}/tls`, `${at}/tls`);
    this.unknownKeys(endpoint, at, ['type', 'port', 'interface', 'version', 'tls', 'backlog', 'shared'], 'endpoint');
    for (const key of ['backlog', 'shared'] as const) {
      if (endpoint[key] !== undefined) this.warn(`${at}/${key}`, `endpoint option '${key}' is not supported: ignored`);
    }
    const port = endpoint['port'];
    // Crossbar reads a port from the environment as a string ("$PORT"); it is a number here.
    listener['port'] = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
    this.from(`/listeners/${index}/port`, `${at}/port`);
    // Not a string: passed on for the schema to name (a missing host would listen everywhere).
    if (endpoint['interface'] !== undefined) {
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
    if (service['debug'] !== undefined) this.warn(`${at}/debug`, 'not supported: use --log-level debug');
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
    const ours = this.supportedSerializers(service, at);
    if (ours === undefined) return;
    if (ours.length > 0) {
      listener['serializers'] = ours;
      this.from(`/listeners/${index}/serializers`, `${at}/serializers`);
    } else this.warn(`${at}/serializers`, 'no supported serializer: json, msgpack and cbor are offered');
  }

  /** The serializers of a `serializers` list that we speak (each other one warned); undefined without a list. */
  supportedSerializers(service: Json, at: string): string[] | undefined {
    if (!Array.isArray(service['serializers'])) return undefined;
    const ours: string[] = [];
    service['serializers'].forEach((s: unknown, i) => {
      if (typeof s === 'string' && SERIALIZERS.has(s)) ours.push(s);
      else this.warn(`${at}/serializers/${i}`, `serializer ${JSON.stringify(s)} is not supported`);
    });
    return ours;
  }

  options(options: Json, at: string, listener: Json, index: number): void {
    for (const [key, value] of Object.entries(options)) {
      const here = `${at}/${escapePointer(key)}`;
      switch (key) {
        case 'max_message_size':
          if (typeof value !== 'number') {
            // Passed on for the schema to name its type.
            listener['maxMessageBytes'] = value;
            this.from(`/listeners/${index}/maxMessageBytes`, here);
          } else if (value <= 0) {
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
