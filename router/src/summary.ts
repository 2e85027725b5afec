/**
 * What the router says once it has started: every listener's URLs with the transports behind
 * them, its static and HTTP-bridge paths, /health and /ready, /metrics, the realms and the
 * authentication methods that reach them. What a person needs to connect a first client; the same
 * facts as structured fields for JSON logs.
 */
import type { RouterConfig } from './config/config.js';
import type { ListenerAddress } from './listeners.js';

export interface ListenerSummary {
  /** The WAMP URLs of this listener by transport: websocket, rawsocket, longpoll. */
  websocket?: string;
  rawsocket?: string;
  longpoll?: string;
  serializers: readonly string[];
  /** Authentication methods accepted (`anonymous` when none are configured). */
  auth: string[];
  /** URL prefix → directory. */
  static?: Record<string, string>;
  /** Bridge URL → its type and realm. */
  bridge?: { url: string; type: string; realm: string }[];
  health?: string;
  ready?: string;
}

export interface RealmSummary {
  name: string;
  /** Role names; undefined: no roles, every session may do everything. */
  roles: string[] | undefined;
  /** The methods of every listener, as a client sees them: on which URL which method reaches this realm. */
  auth: string[];
}

export interface StartSummary {
  listeners: ListenerSummary[];
  realms: RealmSummary[];
  metrics?: string;
}

const ALL_INTERFACES = new Set(['0.0.0.0', '::', '']);

/** The methods a listener accepts; none configured means anonymous only. */
function authMethods(auth: RouterConfig['listeners'][number]['auth']): string[] {
  if (auth === undefined) return ['anonymous'];
  return Object.keys(auth).filter((k) => k !== 'limits');
}

/** The base `http(s)://host:port` of a listener's address. */
function httpBase(address: ListenerAddress): string {
  const at = address.url.indexOf('://');
  const rest = address.url.slice(at + 3);
  const slash = rest.indexOf('/');
  return `${address.secure ? 'https' : 'http'}://${slash < 0 ? rest : rest.slice(0, slash)}`;
}

export function describeStart(config: RouterConfig, addresses: readonly ListenerAddress[], metricsUrl: string | undefined): StartSummary {
  const listeners = config.listeners.map((listener, index): ListenerSummary => {
    const address = addresses[index];
    const out: ListenerSummary = { serializers: listener.serializers, auth: authMethods(listener.auth) };
    if (address === undefined) return out;
    if (listener.type === 'rawsocket') {
      out.rawsocket = address.url;
      return out;
    }
    out.websocket = address.url;
    if (address.rawsocketUrl !== undefined) out.rawsocket = address.rawsocketUrl;
    if (address.longpollUrl !== undefined) out.longpoll = address.longpollUrl;
    const base = httpBase(address);
    if (listener.static !== undefined)
      out.static = Object.fromEntries(Object.entries(listener.static).map(([prefix, mount]) => [`${base}${prefix}`, mount.directory]));
    if (listener.http !== undefined) out.bridge = listener.http.paths.map((p) => ({ url: `${base}${p.path}`, type: p.type, realm: p.realm }));
    out.health = `${base}/health`;
    out.ready = `${base}/ready`;
    return out;
  });
  const realms = config.realms.map((realm): RealmSummary => {
    const auth = new Set<string>();
    for (const listener of config.listeners) {
      const anonymousRealm = listener.auth?.anonymous?.realm;
      for (const method of authMethods(listener.auth)) {
        if (method === 'anonymous' && anonymousRealm !== undefined && anonymousRealm !== realm.name) continue;
        auth.add(method);
      }
    }
    return { name: realm.name, roles: realm.roles?.map((r) => r.name), auth: [...auth] };
  });
  const out: StartSummary = { listeners, realms };
  if (metricsUrl !== undefined) out.metrics = metricsUrl;
  return out;
}

/** The summary as lines for a person (pretty logs, a terminal). */
export function summaryText(summary: StartSummary): string {
  const lines = ['router started'];
  for (const l of summary.listeners) {
    const url = l.websocket ?? l.rawsocket ?? '';
    const host = /^[a-z]+:\/\/(\[[^\]]*\]|[^:/]*)/.exec(url)?.[1] ?? '';
    const note = ALL_INTERFACES.has(host.replace(/^\[|\]$/g, '')) ? ' (all interfaces; from this machine use 127.0.0.1)' : '';
    lines.push(`  listener${note}: auth ${l.auth.join(', ')}; serializers ${l.serializers.join(', ')}`);
    if (l.websocket !== undefined) lines.push(`    WebSocket  ${l.websocket}`);
    if (l.rawsocket !== undefined) lines.push(`    RawSocket  ${l.rawsocket}`);
    if (l.longpoll !== undefined) lines.push(`    long-poll  ${l.longpoll}`);
    for (const b of l.bridge ?? []) lines.push(`    HTTP bridge ${b.type.padEnd(10)} ${b.url} (realm ${b.realm})`);
    for (const [url, directory] of Object.entries(l.static ?? {})) lines.push(`    static     ${url} → ${directory}`);
    if (l.health !== undefined) lines.push(`    health     ${l.health}, ${l.ready ?? ''}`);
  }
  if (summary.metrics !== undefined) lines.push(`  metrics    ${summary.metrics}`);
  for (const r of summary.realms) {
    lines.push(
      `  realm ${r.name}: auth ${r.auth.join(', ') || 'none'}; ${r.roles === undefined ? 'no roles (every session may do everything)' : `roles ${r.roles.join(', ') || 'none'}`}`,
    );
  }
  return lines.join('\n');
}
