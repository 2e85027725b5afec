/**
 * Router configuration: the JSON file format (validated with ajv against the schema shipped in
 * @switchboard/schemas), defaults, and command-line overrides.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { MatchPolicy, SerializerName, UriCheck } from '@switchboard/schemas';
import { schemaUrl } from '@switchboard/schemas';
import type { ListenerAuthConfig, RoleConfig } from '../auth/index.js';
import type { LogLevel } from '../log.js';
import type { OutboundLimits } from '../transports/outbound.js';
import { DEFAULT_OUTBOUND_LIMITS } from '../transports/outbound.js';

/** The config file as written: every field optional. */
export interface RouterConfigFile {
  $schema?: string;
  listeners?: WebSocketListenerFile[];
  realms?: RealmFile[];
  log?: { level?: LogLevel; pretty?: boolean };
  requestIds?: 'sequential' | 'any';
  shutdownTimeoutMs?: number;
  authTimeoutMs?: number;
}

export interface WebSocketListenerFile {
  type: 'websocket';
  auth?: ListenerAuthConfig;
  host?: string;
  port?: number;
  path?: string;
  serializers?: SerializerName[];
  maxMessageBytes?: number;
  pingIntervalMs?: number;
  outbound?: Partial<OutboundLimits>;
}

export interface RealmFile {
  name: string;
  roles?: RoleConfig[];
  uriCheck?: UriCheck;
  retention?: { maxTopics?: number; ttlMs?: number };
  eventHistory?: { topic: string; match?: MatchPolicy; limit?: number }[];
}

/** The config with every default filled in. */
export interface RouterConfig {
  listeners: WebSocketListenerConfig[];
  realms: RealmConfig[];
  log: { level: LogLevel; pretty?: boolean };
  requestIds: 'sequential' | 'any';
  shutdownTimeoutMs: number;
  authTimeoutMs: number;
}

export interface WebSocketListenerConfig {
  type: 'websocket';
  auth: ListenerAuthConfig | undefined;
  host: string;
  port: number;
  path: string;
  serializers: SerializerName[];
  maxMessageBytes: number;
  pingIntervalMs: number;
  outbound: OutboundLimits;
}

export interface RealmConfig {
  name: string;
  roles: RoleConfig[] | undefined;
  uriCheck: UriCheck;
  retention: { maxTopics: number; ttlMs: number };
  eventHistory: { topic: string; match: MatchPolicy; limit: number }[];
}

/** A config that failed validation; `problems` holds one line per error, each naming its field. */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  if (validator === undefined) {
    const schema: unknown = JSON.parse(readFileSync(schemaUrl('router-config'), 'utf8'));
    validator = new Ajv({ allErrors: true, strict: true }).compile(schema as object);
  }
  return validator;
}

/** One line per ajv error: the JSON pointer of the field, then what is wrong with it in plain words. */
function explain(error: ErrorObject): string {
  const at = error.instancePath === '' ? '(top level)' : error.instancePath;
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `${at}: unknown field '${String(p['additionalProperty'])}'`;
    case 'required':
      return `${at}: missing required field '${String(p['missingProperty'])}'`;
    case 'enum':
      return `${at}: must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${at}: must be ${JSON.stringify(p['allowedValue'])}`;
    case 'type':
      return `${at}: must be of type ${String(p['type'])}`;
    default:
      return `${at}: ${error.message ?? 'is invalid'}`;
  }
}

/** Checks a parsed config object; throws ConfigError listing every problem (schema and semantic) at once. */
export function checkConfig(value: unknown, source = 'config'): RouterConfigFile {
  const check = validate();
  const problems = check(value) ? [] : [...new Set((check.errors ?? []).map(explain))];
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
  listeners.forEach((l: unknown, i) => {
    if (!isRecord(l)) return;
    const outbound = isRecord(l['outbound']) ? l['outbound'] : {};
    const soft = typeof outbound['softLimitBytes'] === 'number' ? outbound['softLimitBytes'] : DEFAULT_OUTBOUND_LIMITS.softLimitBytes;
    const hard = typeof outbound['hardLimitBytes'] === 'number' ? outbound['hardLimitBytes'] : DEFAULT_OUTBOUND_LIMITS.hardLimitBytes;
    if (hard < soft) problems.push(`/listeners/${i}/outbound/hardLimitBytes: must be at least softLimitBytes (${soft})`);
    const host = typeof l['host'] === 'string' ? l['host'] : '0.0.0.0';
    const port = typeof l['port'] === 'number' ? l['port'] : 8080;
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
  return problems;
}

/** Reads, parses and checks a JSON config file. */
export function loadConfigFile(path: string): RouterConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid JSON: ${(err as Error).message}`]);
  }
  return checkConfig(value, path);
}

/** Fills in every default. The embedded default: realm1, anonymous, ws://0.0.0.0:8080/ws, all serializers. */
export function resolveConfig(file: RouterConfigFile = {}): RouterConfig {
  const listeners = (file.listeners ?? [{ type: 'websocket' }]).map(
    (l): WebSocketListenerConfig => ({
      type: 'websocket',
      auth: l.auth,
      host: l.host ?? '0.0.0.0',
      port: l.port ?? 8080,
      path: l.path ?? '/ws',
      serializers: l.serializers ?? ['json', 'msgpack', 'cbor'],
      maxMessageBytes: l.maxMessageBytes ?? 1024 * 1024,
      pingIntervalMs: l.pingIntervalMs ?? 30_000,
      outbound: { ...DEFAULT_OUTBOUND_LIMITS, ...l.outbound },
    }),
  );
  const realms = (file.realms ?? [{ name: 'realm1' }]).map(
    (r): RealmConfig => ({
      name: r.name,
      roles: r.roles,
      uriCheck: r.uriCheck ?? 'loose',
      retention: { maxTopics: r.retention?.maxTopics ?? 10_000, ttlMs: r.retention?.ttlMs ?? 0 },
      eventHistory: (r.eventHistory ?? []).map((h) => ({ topic: h.topic, match: h.match ?? 'exact', limit: h.limit ?? 100 })),
    }),
  );
  const log: RouterConfig['log'] = { level: file.log?.level ?? 'info' };
  if (file.log?.pretty !== undefined) log.pretty = file.log.pretty;
  return {
    listeners,
    realms,
    log,
    requestIds: file.requestIds ?? 'sequential',
    shutdownTimeoutMs: file.shutdownTimeoutMs ?? 2000,
    authTimeoutMs: file.authTimeoutMs ?? 10_000,
  };
}
