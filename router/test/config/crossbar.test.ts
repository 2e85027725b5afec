/**
 * Crossbar import: realistic Crossbar.io node configs (./fixtures/crossbar, shaped like the
 * crossbar-examples configs: web transports with static and websocket paths, ticket / wampcra /
 * cryptosign / tls auth, components, container and guest workers, TLS endpoints, old-style
 * permissions, dynamic authorizers, event history) convert to a valid Switchboard config, and every
 * part not carried over is a warning naming its JSON pointer in the Crossbar file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkConfig, loadConfig, resolveConfig } from '@switchboard/router';
import { convertCrossbar, isCrossbarConfig } from '../../src/config/crossbar.js';
import { configError, setEnv, tempDir, writeConfig } from './support.js';

const fixtures = fileURLToPath(new URL('../fixtures/crossbar/', import.meta.url));
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

/** Every warning whose pointer is `pointer` (the text before ': '). */
const warningsAt = (warnings: string[], pointer: string): string[] => warnings.filter((w) => w.startsWith(`${pointer}: `));

describe('isCrossbarConfig', () => {
  it('recognises Crossbar files by version 2, workers or controller; not ours', () => {
    expect(isCrossbarConfig({ version: 2 })).toBe(true);
    expect(isCrossbarConfig({ workers: [] })).toBe(true);
    expect(isCrossbarConfig({ controller: {} })).toBe(true);
    expect(isCrossbarConfig({ listeners: [{ type: 'websocket' }] })).toBe(false);
    expect(isCrossbarConfig({})).toBe(false);
    expect(isCrossbarConfig([])).toBe(false);
  });
});

describe('a Web transport with ticket, wampcra and anonymous auth, static paths and components', () => {
  const crossbar = fixture('web-ticket-wampcra.json');
  const imported = convertCrossbar(crossbar);
  const ws = '/workers/0/transports/0/paths/ws';

  it('becomes one WebSocket listener at /ws on the endpoint port, with the auth block unchanged but for type "static" where ours has none', () => {
    expect(imported.problems).toEqual([]);
    const auth = (
      (((crossbar['workers'] as unknown[])[0] as Record<string, unknown>)['transports'] as unknown[])[0] as { paths: { ws: { auth: Record<string, unknown> } } }
    ).paths.ws.auth;
    expect(imported.config['listeners']).toEqual([
      {
        type: 'websocket',
        port: 8080,
        path: '/ws',
        serializers: ['json', 'msgpack', 'cbor'],
        maxMessageBytes: 262144,
        pingIntervalMs: 10000,
        pingTimeoutMs: 5000,
        auth: { anonymous: { type: 'static', role: 'frontend' }, ticket: auth['ticket'], wampcra: auth['wampcra'] },
        // The static path "/" (relative to the Crossbar node directory, as in Crossbar).
        static: { '/': { directory: '../web' } },
      },
    ]);
  });

  it('keeps realms, roles and permissions as they are (same shapes)', () => {
    const realm = ((crossbar['workers'] as unknown[])[0] as { realms: unknown[] }).realms[0];
    expect(imported.config['realms']).toEqual([realm]);
  });

  it('lists every part it did not import, each with its JSON pointer', () => {
    expect(imported.warnings).toEqual([
      "/workers/0/options/pythonpath: worker option 'pythonpath' is not supported: ignored",
      '/workers/0/components/0: router components are not supported: run backend.BackendSession as a separate WAMP client',
      "/workers/0/transports/0/options/access_log: Web transport option 'access_log' is not supported: ignored",
      `${ws}/serializers/3: serializer "ubjson" is not supported`,
      `${ws}/options/auto_ping_size: not supported: pings carry no payload`,
      `${ws}/options/open_handshake_timeout: WebSocket option 'open_handshake_timeout' = 2500 is not supported: ignored`,
      "/workers/0/transports/0/paths/info: Crossbar's node info page has no equivalent: not served (GET /health and /ready on this port tell whether the router is up)",
      '/workers/1: "container" workers are not supported: run their components as separate WAMP clients',
    ]);
  });

  it('the result is a valid Switchboard config once the secrets are in the environment', () => {
    setEnv({ TICKET_JOE: 'secret!!!', BACKEND_SECRET: 'backend-secret' });
    const path = writeConfig(crossbar);
    const loaded = loadConfig(path);
    expect(loaded.format).toBe('crossbar');
    expect(loaded.warnings).toEqual(imported.warnings);
    expect(loaded.file.listeners?.[0]?.auth?.ticket).toMatchObject({ principals: { joe: { ticket: 'secret!!!' } } });
    expect(resolveConfig(loaded.file).listeners[0]).toMatchObject({ host: '0.0.0.0', port: 8080, path: '/ws', pingTimeoutMs: 5000 });
  });

  it('an unset secret is an error pointing into the Crossbar file, reported with the warnings', () => {
    setEnv({ TICKET_JOE: undefined, BACKEND_SECRET: 'backend-secret' });
    const error = configError(() => loadConfig(writeConfig(crossbar)));
    expect(error.problems).toEqual([`${ws}/auth/ticket/principals/joe/ticket: environment variable TICKET_JOE is not set`]);
    expect(error.warnings).toEqual(imported.warnings);
  });
});

describe('a WebSocket transport with a TLS endpoint, cryptosign and tls auth, origins and old-style permissions', () => {
  const crossbar = fixture('websocket-cryptosign-tls.json');
  const imported = convertCrossbar(crossbar);
  const t = '/workers/0/transports/0';

  it('maps endpoint, tls, url path, origins and the methods we support; the Unix socket RawSocket transport too', () => {
    expect(imported.problems).toEqual([]);
    const listeners = imported.config['listeners'] as Record<string, unknown>[];
    expect(listeners).toHaveLength(2);
    const { cryptosign, tls } = (((crossbar['workers'] as unknown[])[0] as { transports: unknown[] }).transports[0] as { auth: Record<string, unknown> }).auth;
    expect(listeners[0]).toEqual({
      type: 'websocket',
      host: '127.0.0.1',
      port: 8443,
      path: '/ws',
      tls: { cert: 'server.crt', key: 'server.key', ca: ['ca.cert.pem'], clientCertificates: 'request' },
      allowedOrigins: ['https://*.example.com', 'http://localhost:8080'],
      allowNullOrigin: false,
      auth: { cryptosign, tls },
    });
    expect(listeners[1]).toEqual({ type: 'rawsocket', path: 'crossbar.sock', serializers: ['cbor'], auth: { anonymous: { type: 'static', role: 'device' } } });
  });

  it('turns {uri: "*", publish: true, …} permissions into allow blocks', () => {
    expect(imported.config['realms']).toEqual([
      {
        name: 'devices',
        roles: [
          {
            name: 'device',
            permissions: [
              { uri: '*', allow: { publish: true, subscribe: true, call: true, register: true } },
              { uri: 'com.example.private', allow: { subscribe: false } },
            ],
          },
        ],
      },
    ]);
    expect(() => checkConfig(imported.config)).not.toThrow();
  });

  it('warns about TLS options, the any-path upgrade and compression', () => {
    expect(imported.warnings).toEqual([
      `${t}/endpoint/backlog: endpoint option 'backlog' is not supported: ignored`,
      `${t}/endpoint/tls/dhparam: TLS option 'dhparam' is not supported: Node.js defaults apply`,
      `${t}/endpoint/tls/ciphers: TLS option 'ciphers' is not supported: Node.js defaults apply`,
      `${t}: Crossbar accepts this WebSocket transport on any URL path; Switchboard only on /ws`,
      `${t}/options/compression: WebSocket option 'compression' = {"deflate":{"request_no_context_takeover":false}} is not supported: ignored`,
    ]);
  });

  it("loadConfig resolves TLS files and Unix socket paths against the Crossbar file's directory (its CBDIR)", () => {
    const dir = tempDir();
    const { file } = loadConfig(writeConfig(crossbar, 'config.json', dir));
    expect(file.listeners?.[0]?.tls).toEqual({
      cert: join(dir, 'server.crt'),
      key: join(dir, 'server.key'),
      ca: [join(dir, 'ca.cert.pem')],
      clientCertificates: 'request',
    });
    expect(file.listeners?.[1]).toMatchObject({ type: 'rawsocket', path: join(dir, 'crossbar.sock') });
  });

  it('a TCP RawSocket transport keeps its port and announces the power of two under max_message_size', () => {
    const imported = convertCrossbar({
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'r' }],
          transports: [
            {
              type: 'rawsocket',
              endpoint: { type: 'tcp', port: 8081, interface: '127.0.0.1' },
              max_message_size: 1000000,
              serializers: ['msgpack', 'ubjson'],
              debug: true,
            },
          ],
        },
      ],
    });
    expect(imported.config['listeners']).toEqual([{ type: 'rawsocket', host: '127.0.0.1', port: 8081, serializers: ['msgpack'], maxMessageBytes: 524288 }]);
    expect(imported.warnings).toEqual([
      '/workers/0/transports/0/debug: not supported: use --log-level debug',
      '/workers/0/transports/0/serializers/1: serializer "ubjson" is not supported',
      '/workers/0/transports/0/max_message_size: RawSocket announces a power of two from 512 to 16 MiB: 524288 is used',
    ]);
    expect(() => checkConfig(imported.config)).not.toThrow();
  });
});

describe('dynamic authorizer, event history, realm options, a universal transport, unsupported workers', () => {
  const crossbar = fixture('dynamic-authorizer.json');

  it('carries the authorizer role, uri_check and the memory event store over', () => {
    setEnv({ SB_CB_PORT: '9100' });
    const { file, warnings } = loadConfig(writeConfig(crossbar));
    expect(file.realms).toEqual([
      {
        name: 'com.example.app',
        uriCheck: 'strict',
        eventHistory: [
          { topic: 'com.example.oncounter', match: 'exact', limit: 20 },
          { topic: 'com.example.chat.', match: 'prefix' },
        ],
        roles: [
          { name: 'authorizer', permissions: [{ uri: 'com.example.authorize', match: 'exact', allow: { register: true } }] },
          { name: 'app', authorizer: 'com.example.authorize' },
        ],
      },
      // A Crossbar realm without roles admits no one; an empty role list does the same here.
      { name: 'empty', roles: [] },
    ]);
    // "$SB_CB_PORT" came from the environment as a string; Crossbar reads ports that way too.
    // The first WebSocket path has no usable auth method: it is left out, and the next one is served.
    // The caller path service becomes the listener's HTTP bridge (http/bridge/crossbar.ts).
    // The universal transport on 9000 (WebSocket path "ws" only) is a listener of its own.
    expect(file.listeners).toEqual([
      { type: 'websocket', port: 9100, path: '/ws2', http: { paths: { '/call': { type: 'caller', realm: 'com.example.app', role: 'app' } } } },
      { type: 'websocket', port: 9000, path: '/ws' },
    ]);
    const w = '/workers/0/transports/0/paths';
    expect(warnings).toEqual([
      '/controller: the node controller section is not used: Switchboard runs as one process',
      "/workers/0/realms/0/options/bridge_meta_api: realm option 'bridge_meta_api' is not supported: ignored",
      `${w}/ws/auth/anonymous: dynamic anonymous authentication is not supported yet: clients using it cannot join through this listener`,
      `${w}/ws/auth: none of these authentication methods is supported yet: this transport is not imported`,
      `${w}/call: Crossbar answers browser pages of any origin (CORS, with credentials); this caller path refuses pages of other origins: list the ones to allow in its cors.origins`,
      '/workers/1: "guest" workers are not supported: run their components as separate WAMP clients',
    ]);
  });

  it('a transport whose auth methods are all unsupported is left out, never opened to anonymous sessions', () => {
    const imported = convertCrossbar({
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'r' }],
          transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 1 }, auth: { 'anonymous-proxy': { type: 'static' }, 'cryptosign-proxy': {} } }],
        },
      ],
    });
    expect(imported.config['listeners']).toBeUndefined();
    expect(imported.problems).toEqual(['/workers: no transport could be imported from the router workers (see the warnings)']);
    expect(imported.warnings.slice(-3)).toEqual([
      '/workers/0/transports/0/auth/anonymous-proxy: anonymous-proxy authentication is not supported yet: clients using it cannot join through this listener',
      '/workers/0/transports/0/auth/cryptosign-proxy: cryptosign-proxy authentication is not supported yet: clients using it cannot join through this listener',
      '/workers/0/transports/0/auth: none of these authentication methods is supported yet: this transport is not imported',
    ]);
  });
});

describe('problems', () => {
  it('a schema error in the converted config points into the Crossbar file', () => {
    const path = writeConfig({
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [{ name: 'r', permissions: [{ uri: 'a', match: 'fuzzy' }] }] }],
          transports: [
            { type: 'web', endpoint: { type: 'tcp', port: 70000 }, paths: { ws: { type: 'websocket', options: { auto_ping_interval: -5 } } } },
            { type: 'websocket', endpoint: { type: 'tcp', port: 8081 }, auth: { ticket: { type: 'static', principals: { joe: { role: 'x' } } } } },
          ],
        },
      ],
    });
    const error = configError(() => loadConfig(path));
    expect(error.problems).toEqual([
      '/workers/0/transports/0/endpoint/port: must be <= 65535',
      '/workers/0/transports/0/paths/ws/options/auto_ping_interval: must be >= 0',
      "/workers/0/transports/1/auth/ticket/principals/joe: missing required field 'ticket'",
      '/workers/0/realms/0/roles/0/permissions/0/match: must be one of "exact", "prefix", "wildcard"',
    ]);
    expect(error.source).toBe(path);
  });

  it('a file without a router worker, realm or usable transport is an error, not the embedded default', () => {
    expect(convertCrossbar({ version: 2, workers: [{ type: 'container' }] }).problems).toEqual(['/workers: no worker of type "router": nothing to import']);
    expect(convertCrossbar({ version: 2, workers: [{ type: 'router', transports: [{ type: 'mqtt', endpoint: { type: 'tcp', port: 1 } }] }] }).problems).toEqual(
      ['/workers: no realm could be imported from the router workers', '/workers: no transport could be imported from the router workers (see the warnings)'],
    );
    const error = configError(() => loadConfig(writeConfig({ controller: {}, workers: [] })));
    expect(error.problems).toEqual(['/workers: no worker of type "router": nothing to import']);
    expect(error.warnings).toEqual(['/version: missing: read as a version 2 file']);
  });

  it('max_message_size outside our range is clamped with a warning; 0 keeps the default', () => {
    const convert = (options: Record<string, unknown>): ReturnType<typeof convertCrossbar> =>
      convertCrossbar({
        version: 2,
        workers: [
          {
            type: 'router',
            realms: [{ name: 'r', roles: [] }],
            transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 1 }, url: 'ws://h/ws', options }],
          },
        ],
      });
    const tiny = convert({ max_message_size: 100 });
    expect((tiny.config['listeners'] as Record<string, unknown>[])[0]?.['maxMessageBytes']).toBe(1024);
    expect(warningsAt(tiny.warnings, '/workers/0/transports/0/options/max_message_size')).toEqual([
      '/workers/0/transports/0/options/max_message_size: 100 is outside 1024…67108864: 1024 is used',
    ]);
    const unlimited = convert({ max_message_size: 0, auto_ping_timeout: 0, validate_utf8: true, fail_by_drop: true });
    expect((unlimited.config['listeners'] as Record<string, unknown>[])[0]).not.toHaveProperty('maxMessageBytes');
    expect(unlimited.warnings.filter((w) => w.includes('/options/'))).toEqual([
      '/workers/0/transports/0/options/max_message_size: 0 (no limit) is not supported: the default maxMessageBytes (16 MiB) applies',
      '/workers/0/transports/0/options/auto_ping_timeout: 0 (never time out) is not supported: a peer that has not answered by the next ping is dropped',
      "/workers/0/transports/0/options/fail_by_drop: WebSocket option 'fail_by_drop' = true is not supported: ignored",
    ]);
  });

  it('allow_null_origin false alone refuses only the null origin, as in Crossbar', () => {
    const imported = convertCrossbar({
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'r' }],
          transports: [{ type: 'websocket', endpoint: { type: 'tcp', port: 1 }, options: { allow_null_origin: false } }],
        },
      ],
    });
    expect((imported.config['listeners'] as Record<string, unknown>[])[0]).toMatchObject({ allowedOrigins: ['*'], allowNullOrigin: false });
  });
});
