/**
 * Config: the embedded default, validation that reports every problem with its JSON pointer,
 * file loading errors, and a check that every fixture in ./fixtures is what its name says.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, checkConfig, loadConfigFile, resolveConfig } from '@switchboard/router';
import { DEFAULT_REALM_LIMITS } from '../../src/limits.js';
import type { RouterConfigFile } from '@switchboard/router';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const fixture = (name: string): string => `${fixtures}${name}`;

/** The ConfigError `fn` throws (fails the test if it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw new Error(`expected a ConfigError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

const problemsOf = (value: unknown): string[] => configError(() => checkConfig(value)).problems;

describe('resolveConfig', () => {
  it('embeds the default: realm1, ws://0.0.0.0:8080/ws, all three serializers', () => {
    const config = resolveConfig();
    expect(config.realms).toEqual([
      { name: 'realm1', uriCheck: 'loose', retention: { maxTopics: 10_000, ttlMs: 0 }, eventHistory: [], limits: DEFAULT_REALM_LIMITS },
    ]);
    expect(config.listeners).toHaveLength(1);
    expect(config.listeners[0]).toMatchObject({
      type: 'websocket',
      host: '0.0.0.0',
      port: 8080,
      path: '/ws',
      serializers: ['json', 'msgpack', 'cbor'],
    });
    expect(config.log.level).toBe('info');
    expect(config.requestIds).toBe('sequential');
    expect(config.shutdownTimeoutMs).toBe(2000);
  });

  it('an empty file means the embedded default', () => {
    expect(resolveConfig({})).toEqual(resolveConfig());
    expect(resolveConfig(loadConfigFile(fixture('good-minimal.json')))).toEqual(resolveConfig());
  });

  it('keeps what the file sets and fills in the rest', () => {
    const config = resolveConfig(loadConfigFile(fixture('good.json')));
    expect(config.listeners[0]).toEqual({
      type: 'websocket',
      host: '127.0.0.1',
      port: 0,
      path: '/ws',
      serializers: ['json', 'msgpack'],
      maxMessageBytes: 65536,
      maxInboundBytes: 256 * 1024 * 1024,
      maxNestingDepth: 64,
      maxMessageItems: 131072,
      pingIntervalMs: 0,
      outbound: { softLimitBytes: 1048576, hardLimitBytes: 4194304, drainTimeoutMs: 5000 },
      batched: true,
      helloTimeoutMs: 10_000,
      maxLongPollTransportsPerIp: 100,
      maxSseStreamsPerIp: 100,
      maxSocketsPerIp: 1024,
      httpHeadersTimeoutMs: 10_000,
      httpRequestTimeoutMs: 30_000,
    });
    expect(config.realms).toEqual([
      { name: 'realm1', uriCheck: 'loose', retention: { maxTopics: 10_000, ttlMs: 0 }, eventHistory: [], limits: DEFAULT_REALM_LIMITS },
      { name: 'com.example.strict', uriCheck: 'strict', retention: { maxTopics: 10_000, ttlMs: 0 }, eventHistory: [], limits: DEFAULT_REALM_LIMITS },
    ]);
    expect(config.log).toEqual({ level: 'warn', pretty: false, refusalIntervalMs: 10_000 });
    expect(config.requestIds).toBe('any');
    expect(config.shutdownTimeoutMs).toBe(500);
  });

  it('fills defaults into a partly given outbound section', () => {
    const config = resolveConfig({ listeners: [{ type: 'websocket', outbound: { drainTimeoutMs: 0 } }] });
    const defaults = resolveConfig().listeners[0]!.outbound;
    expect(config.listeners[0]!.outbound).toEqual({ ...defaults, drainTimeoutMs: 0 });
  });
});

describe('checkConfig', () => {
  it('accepts the empty config and returns its input', () => {
    const file: RouterConfigFile = {};
    expect(checkConfig(file)).toBe(file);
  });

  it('rejects a non-object', () => {
    for (const value of [null, [], 'realm1', 42]) {
      expect(problemsOf(value)).toEqual(['(top level): must be of type object']);
    }
  });

  it('reports every schema error at once, each with its JSON pointer and an explanation', () => {
    const problems = problemsOf({
      bogus: true,
      listeners: [{ type: 'websocket', port: 70000, prot: 8080, host: 3, serializers: ['json', 'xml'] }],
      realms: [{ uriCheck: 'strict' }],
      log: { level: 'loud' },
      requestIds: 5,
      shutdownTimeoutMs: 'soon',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        "(top level): unknown field 'bogus' (allowed here: listeners, realms, log, requestIds, shutdownTimeoutMs, authTimeoutMs, httpIntegrations, metrics, store, cluster)",
        "/listeners/0: unknown field 'prot': did you mean 'port'?",
        '/listeners/0/port: must be <= 65535',
        '/listeners/0/host: must be of type string',
        '/listeners/0/serializers/1: must be one of "json", "msgpack", "cbor"',
        "/realms/0: missing required field 'name'",
        '/log/level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
        '/requestIds: must be one of "sequential", "any"',
        '/shutdownTimeoutMs: must be of type integer',
      ]),
    );
    expect(problems).toHaveLength(9);
  });

  it.each<[string, unknown, string]>([
    ['unknown top-level field', { realm: 'realm1' }, "(top level): unknown field 'realm': did you mean 'realms'?"],
    ['unknown nested field', { log: { colour: true } }, "/log: unknown field 'colour' (allowed here: level, pretty, refusalIntervalMs, modules)"],
    ['wrong type', { listeners: [{ type: 'websocket', port: '8080' }] }, '/listeners/0/port: must be of type integer'],
    ['unknown listener type', { listeners: [{ type: 'mqtt' }] }, '/listeners/0/type: must be one of "websocket", "rawsocket"'],
    [
      'a wrong type in the second listener',
      {
        listeners: [
          { type: 'rawsocket', port: 1 },
          { type: 'websocket', path: '/a', rawsocket: 'yes' },
        ],
      },
      '/listeners/1/rawsocket: must be of type boolean',
    ],
    ['enum', { realms: [{ name: 'r', uriCheck: 'lax' }] }, '/realms/0/uriCheck: must be one of "loose", "strict"'],
    ['port > 65535', { listeners: [{ type: 'websocket', port: 65536 }] }, '/listeners/0/port: must be <= 65535'],
    ['negative port', { listeners: [{ type: 'websocket', port: -1 }] }, '/listeners/0/port: must be >= 0'],
    ['missing realm name', { realms: [{}] }, "/realms/0: missing required field 'name'"],
    ['missing listener type', { listeners: [{ port: 1 }] }, "/listeners/0: missing required field 'type'"],
    ['empty realm list', { realms: [] }, '/realms: must NOT have fewer than 1 items'],
    ['path without slash', { listeners: [{ type: 'websocket', path: 'ws' }] }, `/listeners/0/path: 'ws' must start with '/' (e.g. "/ws")`],
    [
      'realm name with a space',
      { realms: [{ name: 'my realm' }] },
      "/realms/0/name: 'my realm' is not a valid realm name: a WAMP URI such as \"realm1\" or \"com.example.app\", with no spaces, no '#' and no empty part (no leading, trailing or doubled '.')",
    ],
    ['tiny soft limit', { listeners: [{ type: 'websocket', outbound: { softLimitBytes: 10 } }] }, '/listeners/0/outbound/softLimitBytes: must be >= 1024'],
    ['shutdown timeout too long', { shutdownTimeoutMs: 600_000 }, '/shutdownTimeoutMs: must be <= 60000'],
  ])('explains %s', (_what, value, problem) => {
    const error = configError(() => checkConfig(value, 'inline.json'));
    expect(error.problems).toEqual([problem]);
    expect(error.source).toBe('inline.json');
    expect(error.message).toContain('inline.json');
    expect(error.message).toContain(problem);
  });

  it('rejects a realm defined twice, naming the second one', () => {
    expect(problemsOf({ realms: [{ name: 'a' }, { name: 'b' }, { name: 'a' }] })).toEqual(["/realms/2/name: realm 'a' is defined twice"]);
  });

  it('rejects two permissions of one role with the same URI and match policy, naming both (a trailing * is a prefix)', () => {
    const permissions = [
      { uri: 'com.app.', match: 'prefix', allow: { subscribe: true } },
      { uri: 'com.app.x', allow: { call: true } },
      { uri: 'com.app.*', allow: { subscribe: false } },
      { uri: 'com.app.x', match: 'wildcard', allow: { call: true } },
      { uri: 'com.app.x', match: 'exact', allow: { call: false } },
    ];
    expect(
      problemsOf({
        realms: [
          {
            name: 'r',
            roles: [
              { name: 'other', permissions: [permissions[0]] },
              { name: 'user', permissions },
            ],
          },
        ],
      }),
    ).toEqual([
      "/realms/0/roles/1/permissions/2: prefix 'com.app.' is also /realms/0/roles/1/permissions/0; give each URI and match policy one permission",
      "/realms/0/roles/1/permissions/4: exact 'com.app.x' is also /realms/0/roles/1/permissions/1; give each URI and match policy one permission",
    ]);
  });

  it('rejects hardLimitBytes below softLimitBytes, including against the default soft limit', () => {
    expect(problemsOf({ listeners: [{ type: 'websocket', outbound: { softLimitBytes: 8192, hardLimitBytes: 4096 } }] })).toEqual([
      '/listeners/0/outbound/hardLimitBytes: must be at least softLimitBytes (8192)',
    ]);
    const defaultSoft = resolveConfig().listeners[0]!.outbound.softLimitBytes;
    expect(problemsOf({ listeners: [{ type: 'websocket', outbound: { hardLimitBytes: defaultSoft - 1 } }] })).toEqual([
      `/listeners/0/outbound/hardLimitBytes: must be at least softLimitBytes (${defaultSoft})`,
    ]);
    // Equal limits are fine.
    expect(() => checkConfig({ listeners: [{ type: 'websocket', outbound: { softLimitBytes: 4096, hardLimitBytes: 4096 } }] })).not.toThrow();
  });

  it('rejects two listeners on one host:port (defaults included) but allows several on port 0', () => {
    expect(
      problemsOf({
        listeners: [
          { type: 'websocket', path: '/a' },
          { type: 'websocket', host: '0.0.0.0', port: 8080, path: '/b' },
        ],
      }),
    ).toEqual(['/listeners/1/port: 0.0.0.0:8080 clashes with /listeners/0 (0.0.0.0:8080)']);
    expect(() =>
      checkConfig({
        listeners: [
          { type: 'websocket', port: 0 },
          { type: 'websocket', port: 0 },
          { type: 'websocket', port: 8080 },
        ],
      }),
    ).not.toThrow();
  });

  it('a wildcard address clashes with any host on the same port; different hosts on one port do not', () => {
    expect(
      problemsOf({
        listeners: [
          { type: 'websocket', host: '127.0.0.1', port: 9000 },
          { type: 'websocket', host: '0.0.0.0', port: 9000 },
        ],
      }),
    ).toEqual(['/listeners/1/port: 0.0.0.0:9000 clashes with /listeners/0 (127.0.0.1:9000)']);
    expect(() =>
      checkConfig({
        listeners: [
          { type: 'websocket', host: '127.0.0.1', port: 9000 },
          { type: 'websocket', host: '127.0.0.2', port: 9000 },
        ],
      }),
    ).not.toThrow();
  });

  it('reports every semantic error at once', () => {
    expect(
      problemsOf({
        listeners: [
          { type: 'websocket', port: 9000, outbound: { softLimitBytes: 8192, hardLimitBytes: 4096 } },
          { type: 'websocket', port: 9000 },
        ],
        realms: [{ name: 'x' }, { name: 'x' }],
      }),
    ).toEqual([
      '/listeners/0/outbound/hardLimitBytes: must be at least softLimitBytes (8192)',
      '/listeners/1/port: 0.0.0.0:9000 clashes with /listeners/0 (0.0.0.0:9000)',
      "/realms/1/name: realm 'x' is defined twice",
    ]);
  });

  // Schema errors and semantic errors (duplicates, limits) in one file: a user fixing the first
  // report should not get a second one.
  it('reports schema errors and semantic errors together', () => {
    expect(
      problemsOf({
        bogus: true,
        realms: [{ name: 'x' }, { name: 'x' }],
      }),
    ).toEqual([
      "(top level): unknown field 'bogus' (allowed here: listeners, realms, log, requestIds, shutdownTimeoutMs, authTimeoutMs, httpIntegrations, metrics, store, cluster)",
      "/realms/1/name: realm 'x' is defined twice",
    ]);
  });
});

describe('cluster block', () => {
  it('is optional; with it the node name, prefix and timings take their defaults', () => {
    expect(resolveConfig({}).cluster).toBeUndefined();
    const cluster = resolveConfig({ cluster: { nats: { servers: ['nats://127.0.0.1:4222'] } } }).cluster!;
    expect(cluster.prefix).toBe('sb');
    expect(cluster.heartbeatMs).toBe(1000);
    expect(cluster.nodeTimeoutMs).toBe(3000);
    expect(cluster.node).toMatch(/^[A-Za-z0-9_-]+-\d+$/);
    expect(cluster.nats.name).toBe(`switchboard-${cluster.node}`);
  });

  it('reports a missing server list, a bad node name, a bad URL and a timeout shorter than two heartbeats, by pointer', () => {
    expect(problemsOf({ cluster: { nats: {} } })).toEqual([expect.stringMatching(/^\/cluster\/nats: .*servers/)]);
    const problems = problemsOf({ cluster: { node: 'a b', nats: { servers: ['nats://ok:4222', 'http ://x'] }, heartbeatMs: 1000, nodeTimeoutMs: 1500 } });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\/cluster\/node: /),
        expect.stringMatching(/^\/cluster\/nodeTimeoutMs: must be at least twice heartbeatMs/),
        expect.stringMatching(/^\/cluster\/nats\/servers\/1: 'http :\/\/x' is not a NATS URL/),
      ]),
    );
  });
});

describe('loadConfigFile', () => {
  it('names the file when it is missing', () => {
    const path = fixture('does-not-exist.json');
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(error.message).toContain(path);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^cannot read file: .*ENOENT/);
  });

  it('names the file when it is not valid JSON', () => {
    const path = fixture('bad-syntax.json');
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(error.message).toContain(path);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^not valid JSON: /);
  });

  it('names the file and every problem of an invalid config', () => {
    const path = fixture('bad.json');
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(error.message).toContain(path);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        "(top level): unknown field 'listenres': did you mean 'listeners'?",
        '/listeners/0/port: must be <= 65535',
        '/listeners/0/host: must be of type string',
        '/listeners/0/serializers/1: must be one of "json", "msgpack", "cbor"',
        "/realms/0: missing required field 'name'",
        '/log/level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
        '/shutdownTimeoutMs: must be of type integer',
      ]),
    );
    expect(error.problems).toHaveLength(7);
  });

  it('reports the semantic errors of bad-semantics.json', () => {
    expect(configError(() => loadConfigFile(fixture('bad-semantics.json'))).problems).toEqual([
      '/listeners/0/outbound/hardLimitBytes: must be at least softLimitBytes (8192)',
      '/listeners/1/port: 127.0.0.1:9000 clashes with /listeners/0 (127.0.0.1:9000)',
      "/realms/1/name: realm 'realm1' is defined twice",
    ]);
  });
});

describe('fixtures', () => {
  // good*.json must be valid; bad*.json must be rejected. Any other name is a mistake.
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.json'));

  it('has both kinds', () => {
    expect(files.filter((f) => f.startsWith('good')).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.startsWith('bad')).length).toBeGreaterThan(0);
  });

  it.each(files)('%s is what its name says', (name) => {
    if (name.startsWith('good')) {
      expect(() => loadConfigFile(fixture(name))).not.toThrow();
    } else if (name.startsWith('bad')) {
      expect(configError(() => loadConfigFile(fixture(name))).source).toBe(fixture(name));
    } else {
      throw new Error(`fixture ${name}: name it good*.json (valid) or bad*.json (invalid)`);
    }
  });
});
