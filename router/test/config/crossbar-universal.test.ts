/**
 * Crossbar's `universal` transport (RawSocket, WebSocket paths and Web paths on one port, as the
 * node template of `crossbar init` writes it) and the Web services of a `web` transport: imported
 * as one listener with RawSocket on its port, its WebSocket path, static paths and long-poll;
 * services without an equivalent (nodeinfo, wsgi, reverseproxy, mqtt…) are warnings naming the
 * path. End to end: the template's file starts, takes rs:// and ws:// on its one port and serves
 * the static page.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connect } from '@switchboard/client';
import { checkConfig, loadConfig } from '@switchboard/router';
import { convertCrossbar } from '../../src/config/crossbar.js';
import { startTestRouter, within } from '../helpers.js';
import { configError, tempDir, writeConfig } from './support.js';

const fixtures = fileURLToPath(new URL('../fixtures/crossbar/', import.meta.url));
const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(fixtures, name), 'utf8')) as Record<string, unknown>;

/** A Crossbar file with one router worker, realm1, and these transports. */
const node = (...transports: unknown[]): Record<string, unknown> => ({
  version: 2,
  workers: [{ type: 'router', realms: [{ name: 'realm1', roles: [] }], transports }],
});
const listenersOf = (imported: { config: Record<string, unknown> }): Record<string, unknown>[] => imported.config['listeners'] as Record<string, unknown>[];

describe('the node template of crossbar init (a universal transport)', () => {
  const crossbar = fixture('crossbar-init.json');
  const imported = convertCrossbar(crossbar);
  const t = '/workers/0/transports/0';

  it('becomes one listener: WebSocket on /ws, RawSocket on the same port, the static path /', () => {
    expect(imported.problems).toEqual([]);
    expect(listenersOf(imported)).toEqual([
      {
        type: 'websocket',
        port: 8080,
        path: '/ws',
        rawsocket: true,
        serializers: ['cbor', 'msgpack', 'json'],
        maxMessageBytes: 1048576,
        pingIntervalMs: 10000,
        pingTimeoutMs: 5000,
        allowedOrigins: ['*'],
        allowNullOrigin: true,
        static: { '/': { directory: '../web' } },
      },
    ]);
    expect(() => checkConfig(imported.config)).not.toThrow();
  });

  it('names every part left out with its pointer: the node info page, directory listings, options we do not have', () => {
    expect(imported.warnings).toEqual([
      `${t}/endpoint/backlog: endpoint option 'backlog' is not supported: ignored`,
      `${t}/websocket/ws/serializers/2: serializer "ubjson" is not supported`,
      `${t}/websocket/ws/options/max_frame_size: WebSocket option 'max_frame_size' = 1048576 is not supported: ignored`,
      `${t}/websocket/ws/options/auto_fragment_size: WebSocket option 'auto_fragment_size' = 65536 is not supported: ignored`,
      `${t}/websocket/ws/options/fail_by_drop: WebSocket option 'fail_by_drop' = true is not supported: ignored`,
      `${t}/websocket/ws/options/open_handshake_timeout: WebSocket option 'open_handshake_timeout' = 2500 is not supported: ignored`,
      `${t}/websocket/ws/options/close_handshake_timeout: WebSocket option 'close_handshake_timeout' = 1000 is not supported: ignored`,
      `${t}/websocket/ws/options/auto_ping_size: not supported: pings carry no payload`,
      `${t}/websocket/ws/options/compression: WebSocket option 'compression' = {"deflate":{"request_no_context_takeover":false,"request_max_window_bits":13,"no_context_takeover":false,"max_window_bits":13,"memory_level":5}} is not supported: ignored`,
      `${t}/web/paths/~1/options/enable_directory_listing: directory listings are not served: a directory answers with its index.html, or 404`,
      `${t}/web/paths/info: Crossbar's node info page has no equivalent: not served (GET /health and /ready on this port tell whether the router is up)`,
      `${t}/rawsocket/serializers/2: serializer "ubjson" is not supported`,
    ]);
  });

  it('end to end: starts from .crossbar/config.json, takes rs:// and ws:// on its one port, serves ../web', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, '.crossbar'));
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'web', 'index.html'), '<h1>Hello from Crossbar</h1>\n');
    const { file, format } = loadConfig(writeConfig(crossbar, 'config.json', join(dir, '.crossbar')));
    expect(format).toBe('crossbar');
    const router = await startTestRouter(file);
    const address = router.addresses[0]!;
    expect(router.addresses).toHaveLength(1);
    expect(address.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(address.rawsocketUrl).toBe(`rs://127.0.0.1:${address.port}`);

    const overRawSocket = await connect({ url: address.rawsocketUrl!, realm: 'realm1', serializers: ['cbor'], reconnect: false, openTimeoutMs: 5000 });
    const overWebSocket = await connect({ url: address.url, realm: 'realm1', serializers: ['json'], reconnect: false, openTimeoutMs: 5000 });
    await overRawSocket.register('com.example.add2', (args) => (args as number[])[0]! + (args as number[])[1]!);
    expect(await within(overWebSocket.call('com.example.add2', [2, 3]), 5000, 'the call over WebSocket')).toBe(5);
    await overWebSocket.leave();
    await overRawSocket.leave();

    const page = await fetch(`http://127.0.0.1:${address.port}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe('<h1>Hello from Crossbar</h1>\n');
    // The node info page is not served (a warning said so).
    expect((await fetch(`http://127.0.0.1:${address.port}/info`)).status).toBe(404);
  });
});

describe('Web services of web and universal transports', () => {
  const endpoint = { type: 'tcp', port: 8080 };

  it('static paths: directory, cache_timeout → maxAgeSeconds; package/resource and mime_types are warned', () => {
    const imported = convertCrossbar(
      node({
        type: 'web',
        endpoint,
        paths: {
          '/': { type: 'static', directory: '..', options: { cache_timeout: 3600, enable_directory_listing: false } },
          shared: { type: 'static', directory: '../../shared/', options: { mime_types: { '.foo': 'text/plain' } } },
          pkg: { type: 'static', package: 'mypkg', resource: 'web' },
          ws: { type: 'websocket' },
        },
      }),
    );
    expect(listenersOf(imported)).toEqual([
      { type: 'websocket', port: 8080, path: '/ws', static: { '/': { directory: '..', maxAgeSeconds: 3600 }, '/shared': { directory: '../../shared/' } } },
    ]);
    expect(imported.warnings).toEqual([
      "/workers/0/transports/0/paths/shared/options/mime_types: static option 'mime_types' is not supported: content types come from the file extension",
      '/workers/0/transports/0/paths/pkg: a static path served from a Python package (package/resource) is not supported: give its directory instead',
    ]);
  });

  it('long-poll: its path and options (seconds → ms); one per port', () => {
    const imported = convertCrossbar(
      node({
        type: 'universal',
        endpoint,
        websocket: { ws: { type: 'websocket' } },
        web: {
          paths: {
            lp: { type: 'longpoll', options: { request_timeout: 5, session_timeout: 60, queue_limit_bytes: 131072, queue_limit_messages: 100, debug: true } },
            lp2: { type: 'longpoll' },
          },
        },
      }),
    );
    expect(listenersOf(imported)[0]).toEqual({
      type: 'websocket',
      port: 8080,
      path: '/ws',
      longpoll: { path: '/lp', requestTimeoutMs: 5000, sessionTimeoutMs: 60000, queueMaxBytes: 131072, queueMaxMessages: 100 },
    });
    expect(imported.warnings).toEqual([
      "/workers/0/transports/0/web/paths/lp/options/debug: long-poll option 'debug' is not supported: use --log-level debug",
      '/workers/0/transports/0/web/paths/lp2: a second long-poll path on one port is not supported: only /lp is served',
    ]);
    expect(() => checkConfig(imported.config)).not.toThrow();
  });

  it('services without an equivalent are named with a hint: wsgi, reverseproxy, redirect, wap; mqtt in a universal transport', () => {
    const imported = convertCrossbar(
      node({
        type: 'universal',
        endpoint,
        mqtt: { options: { realm: 'realm1' } },
        websocket: { ws: { type: 'websocket' } },
        web: {
          paths: {
            app: { type: 'wsgi', module: 'app', object: 'app' },
            api: { type: 'reverseproxy', host: 'localhost', port: 5000 },
            old: { type: 'redirect', url: '/new' },
            page: { type: 'wap', templates: 'templates', routes: {} },
          },
        },
      }),
    );
    const at = '/workers/0/transports/0';
    expect(imported.warnings).toEqual([
      `${at}/mqtt: MQTT is not supported: MQTT clients cannot connect to this port`,
      `${at}/web/paths/app: Web service of type "wsgi" is not supported: ignored (run the Python app behind a reverse proxy, beside Switchboard)`,
      `${at}/web/paths/api: Web service of type "reverseproxy" is not supported: ignored (put a reverse proxy such as nginx in front, routing this path elsewhere)`,
      `${at}/web/paths/old: Web service of type "redirect" is not supported: ignored (put a reverse proxy such as nginx in front, routing this path elsewhere)`,
      `${at}/web/paths/page: Web service of type "wap" is not supported: ignored (render the pages in your web app; call procedures through the HTTP bridge)`,
    ]);
    expect(listenersOf(imported)).toEqual([{ type: 'websocket', port: 8080, path: '/ws' }]);
  });

  it('a universal transport without WebSocket paths still serves RawSocket (as a rawsocket listener when nothing else is on the port)', () => {
    const imported = convertCrossbar(
      node({ type: 'universal', endpoint: { type: 'tcp', port: 8081 }, rawsocket: { serializers: ['msgpack'], max_message_size: 65536 } }),
    );
    expect(imported.problems).toEqual([]);
    expect(listenersOf(imported)).toEqual([{ type: 'rawsocket', port: 8081, serializers: ['msgpack'], maxMessageBytes: 65536 }]);
  });

  it('RawSocket with a different auth block than the WebSocket path is refused, naming both: one port authenticates alike', () => {
    const path = writeConfig(
      node({
        type: 'universal',
        endpoint,
        rawsocket: { auth: { ticket: { type: 'static', principals: { device: { ticket: 'secret', role: 'anonymous' } } } } },
        websocket: { ws: { type: 'websocket' } },
      }),
    );
    const error = configError(() => loadConfig(path));
    expect(error.problems).toEqual([
      '/workers/0/transports/0/rawsocket/auth: differs from the auth of /workers/0/transports/0/websocket/ws: Switchboard authenticates every transport on one port alike; make the two blocks the same, or give RawSocket a port of its own (a "rawsocket" transport)',
    ]);
  });

  it("RawSocket without auth beside an authenticated WebSocket path takes the path's auth, with a warning", () => {
    const auth = { ticket: { type: 'static', principals: { joe: { ticket: 'secret', role: 'anonymous' } } } };
    const imported = convertCrossbar(node({ type: 'universal', endpoint, rawsocket: {}, websocket: { ws: { type: 'websocket', auth } } }));
    expect(imported.problems).toEqual([]);
    expect(listenersOf(imported)[0]).toMatchObject({ rawsocket: true, auth });
    expect(imported.warnings).toEqual([
      '/workers/0/transports/0/rawsocket: no auth block (anonymous in Crossbar): RawSocket clients on this port authenticate as /workers/0/transports/0/websocket/ws/auth says',
    ]);
  });

  it('proxy workers are named with what to do instead', () => {
    const imported = convertCrossbar({
      ...node({ type: 'websocket', endpoint }),
      workers: [...(node({ type: 'websocket', endpoint })['workers'] as unknown[]), { type: 'proxy', transports: [] }],
    });
    expect(imported.warnings).toContain(
      '/workers/1: "proxy" workers are not supported: one Switchboard process takes every connection (or run several as a cluster over NATS behind a load balancer)',
    );
  });

  it('several WebSocket paths with the same settings are all served by the one listener; one that differs is named', () => {
    const imported = convertCrossbar(
      node({
        type: 'universal',
        endpoint,
        websocket: {
          ws: { type: 'websocket', serializers: ['json'] },
          wamp: { type: 'websocket', serializers: ['json'] },
          other: { type: 'websocket', serializers: ['cbor'] },
        },
      }),
    );
    expect(listenersOf(imported)).toEqual([{ type: 'websocket', port: 8080, path: ['/ws', '/wamp'], serializers: ['json'] }]);
    expect(imported.warnings).toEqual([
      '/workers/0/transports/0/websocket/other: its settings differ from those of /workers/0/transports/0/websocket/ws (one listener has one set): not served; give it a port of its own',
    ]);
    expect(() => checkConfig(imported.config)).not.toThrow();
  });
});

describe('a listener with several WebSocket paths', () => {
  it('accepts WebSocket sessions on each of them, and its URL is the first', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', path: ['/ws', '/wamp'] }] });
    const address = router.addresses[0]!;
    expect(address.url).toBe(`ws://127.0.0.1:${address.port}/ws`);
    const first = await connect({ url: address.url, realm: 'realm1', reconnect: false, openTimeoutMs: 5000 });
    const second = await connect({ url: `ws://127.0.0.1:${address.port}/wamp`, realm: 'realm1', reconnect: false, openTimeoutMs: 5000 });
    await second.register('com.example.twice', (args) => 2 * (args as number[])[0]!);
    expect(await within(first.call('com.example.twice', [21]), 5000, 'the call')).toBe(42);
    await first.leave();
    await second.leave();
  });

  it('a path list must be paths: each names its problem', () => {
    expect(() => checkConfig({ listeners: [{ type: 'websocket', path: ['/ws', 'wamp'] }] })).toThrow(/\/listeners\/0\/path\/1: 'wamp' must start with '\/'/);
    expect(() => checkConfig({ listeners: [{ type: 'websocket', path: [] }] })).toThrow(/\/listeners\/0\/path: must NOT have fewer than 1 items/);
    expect(() => checkConfig({ listeners: [{ type: 'websocket', path: 7 }] })).toThrow(/\/listeners\/0\/path: must be of type string or array/);
  });
});
