/**
 * What the router logs for a person: every refused connection or join at info with its reason,
 * rate-limited per reason (log.refusalIntervalMs); "session joined" with authid and authrole; at
 * start, every URL a client or a browser needs, the realms and their auth methods. The router runs
 * on an ephemeral port with a logger that captures its JSON lines (issue #16 item 10).
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { connect as connectClient, ticketAuth } from '@switchboard/client';
import type { RouterConfigFile } from '../src/config/config.js';
import { limitRefusalLog, logRefusal } from '../src/log.js';
import { Router } from '../src/router.js';
import { RawPeer, within } from './helpers.js';

type Line = Record<string, unknown>;

/** A router on 127.0.0.1:0 whose log lines (JSON, every level from `level`) are kept in `lines`. */
async function loggedRouter(config: RouterConfigFile = {}, level: 'info' | 'debug' = 'info'): Promise<{ router: Router; lines: Line[] }> {
  const lines: Line[] = [];
  const logger = pino({ level }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  const listeners = (config.listeners ?? [{ type: 'websocket' as const }]).map((l) => ({ host: '127.0.0.1', ...l, port: 0 }));
  const router = new Router({ config: { shutdownTimeoutMs: 500, ...config, listeners }, logger });
  await router.start();
  onTestFinished(() => router.stop());
  return { router, lines };
}

/** Waits until a line matching `predicate` has been logged. */
async function logged(lines: Line[], predicate: (line: Line) => boolean, what: string): Promise<Line> {
  return within(
    (async () => {
      for (;;) {
        const found = lines.find(predicate);
        if (found !== undefined) return found;
        await new Promise((r) => setTimeout(r, 5));
      }
    })(),
    5000,
    `a log line: ${what}`,
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\nlogged:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`, { cause: err });
  });
}

const refusal = (reason: string) => (line: Line) => line['refusal'] === reason;

/** Opens a WebSocket and resolves with the HTTP status it was refused with (or 101 if it opened). */
function upgradeStatus(url: string, protocols: string[], options: WebSocket.ClientOptions = {}): Promise<number> {
  return within(
    new Promise<number>((resolve) => {
      const ws = new WebSocket(url, protocols, options);
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('open', () => {
        resolve(101);
        ws.terminate();
      });
      ws.once('error', () => resolve(0));
    }),
    5000,
    `the upgrade to ${url}`,
  );
}

describe('logRefusal', () => {
  it('writes the first refusal of a reason, counts the next ones within the interval, and says how many with the next line', () => {
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
    let now = 1_000_000;
    limitRefusalLog(log, 10_000, () => now);
    expect(logRefusal(log, 'a', { peer: 'x' }, 'refused a')).toBe(true);
    for (let i = 0; i < 500; i++) expect(logRefusal(log, 'a', {}, 'refused a')).toBe(false);
    expect(logRefusal(log, 'b', {}, 'refused b')).toBe(true); // reasons are limited apart
    now += 10_000;
    expect(logRefusal(log, 'a', {}, 'refused a')).toBe(true);
    expect(lines.map((l) => [l['level'], l['refusal'], l['msg'], l['suppressed']])).toEqual([
      [30, 'a', 'refused a', undefined],
      [30, 'b', 'refused b', undefined],
      [30, 'a', 'refused a (500 more like this in the last 10 s not logged)', 500],
    ]);
    expect(lines[0]!['peer']).toBe('x');
  });

  it('keeps at most 256 reasons per logger: a peer cannot make it remember more', () => {
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
    for (let i = 0; i < 1000; i++) logRefusal(log, `reason-${i}`, {}, 'refused');
    expect(lines).toHaveLength(257); // 256 reasons, then one line for all the others
  });

  it('forgets reasons idle for an interval: once 256 were seen, new reasons get their own lines again (#16)', () => {
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
    let now = 1_000_000;
    limitRefusalLog(log, 10_000, () => now);
    for (let i = 0; i < 256; i++) logRefusal(log, `reason-${i}`, {}, 'refused');
    expect(logRefusal(log, 'full-1', {}, 'refused')).toBe(true);
    expect(logRefusal(log, 'full-2', {}, 'refused')).toBe(false); // full: the others share one line
    now += 10_000;
    expect(logRefusal(log, 'fresh-1', {}, 'refused fresh-1')).toBe(true);
    expect(logRefusal(log, 'fresh-2', {}, 'refused fresh-2')).toBe(true);
    expect(logRefusal(log, 'fresh-2', {}, 'refused fresh-2')).toBe(false); // still one line per reason per interval
    expect(lines.filter((l) => l['refusal'] === 'fresh-1' || l['refusal'] === 'fresh-2').map((l) => l['msg'])).toEqual(['refused fresh-1', 'refused fresh-2']);
  });

  it('a suppressed count is reported when its reason is forgotten, not lost (#16)', () => {
    const lines: Line[] = [];
    const log = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
    let now = 1_000_000;
    limitRefusalLog(log, 10_000, () => now);
    logRefusal(log, 'a', {}, 'refused a');
    for (let i = 0; i < 5; i++) logRefusal(log, 'a', {}, 'refused a');
    now += 12_000;
    logRefusal(log, 'b', {}, 'refused b'); // 'a' has been idle for an interval: forgotten, and its count said
    expect(lines.map((l) => [l['refusal'], l['suppressed'], l['msg']])).toEqual([
      ['a', undefined, 'refused a'],
      ['a', 5, "5 more refusals 'a' in the last 12 s not logged"],
      ['b', undefined, 'refused b'],
    ]);
  });
});

describe('refused connections and joins are logged at info, with the reason', () => {
  it('a WebSocket on a path with no endpoint (404), an unknown subprotocol (400); three more 404s within the interval log nothing more', async () => {
    const { router, lines } = await loggedRouter();
    const wrongPath = router.url.replace(/\/ws$/, '/wamp');
    expect(await upgradeStatus(wrongPath, ['wamp.2.json'])).toBe(404);
    const notFound = await logged(lines, refusal('no_endpoint'), '404');
    expect(notFound['level']).toBe(30);
    expect(notFound['msg']).toBe('WebSocket upgrade refused (404): no WebSocket endpoint at /wamp (this port has /ws)');
    expect(notFound['peer']).toBe('127.0.0.1');
    expect(await upgradeStatus(router.url, ['mqtt'])).toBe(400);
    const protocol = await logged(lines, refusal('subprotocol'), 'unknown subprotocol');
    expect(protocol['msg']).toContain('Unsupported WebSocket subprotocol (requested: mqtt; supported: wamp.2.json');
    for (let i = 0; i < 3; i++) expect(await upgradeStatus(wrongPath, ['wamp.2.json'])).toBe(404);
    expect(lines.filter(refusal('no_endpoint'))).toHaveLength(1);
  });

  it('with log.refusalIntervalMs 0 every refusal is logged', async () => {
    const { router, lines } = await loggedRouter({ log: { refusalIntervalMs: 0 } });
    for (let i = 0; i < 3; i++) expect(await upgradeStatus(router.url.replace(/\/ws$/, '/x'), ['wamp.2.json'])).toBe(404);
    await logged(lines, () => lines.filter(refusal('no_endpoint')).length === 3, 'three 404 lines');
  });

  it('admission: a foreign origin (403) and one connection too many from an address (429)', async () => {
    const { router, lines } = await loggedRouter({ listeners: [{ type: 'websocket', allowedOrigins: ['https://app.example.com'], maxConnectionsPerIp: 1 }] });
    expect(await upgradeStatus(router.url, ['wamp.2.json'], { origin: 'https://evil.example' })).toBe(403);
    const origin = await logged(lines, refusal('allowedOrigins'), 'origin refused');
    expect(origin['level']).toBe(30);
    expect(origin['msg']).toBe("WebSocket upgrade refused (403): Origin 'https://evil.example' is not allowed on this endpoint (allowedOrigins)");
    const first = await RawPeer.connect(router.url);
    expect(await upgradeStatus(router.url, ['wamp.2.json'])).toBe(429);
    const perIp = await logged(lines, refusal('maxConnectionsPerIp'), 'per-address limit');
    expect(perIp['msg']).toContain('WebSocket upgrade refused (429): Too many connections from 127.0.0.1 (at most 1 per address)');
    first.close();
  });

  it('ABORT at join: no such realm, a wrong ticket, no WELCOME in time; a bad frame', async () => {
    const { router, lines } = await loggedRouter({
      listeners: [{ type: 'websocket', helloTimeoutMs: 300, auth: { ticket: { type: 'static', principals: { joe: { ticket: 'right', role: 'user' } } } } }],
      realms: [{ name: 'realm1', roles: [{ name: 'user', permissions: [] }] }],
    });
    const stranger = await RawPeer.connect(router.url);
    stranger.send([MessageCode.Hello, 'nope', { roles: { caller: {} } }]);
    expect((await stranger.next())[2]).toBe('wamp.error.no_such_realm');
    const realm = await logged(lines, refusal('wamp.error.no_such_realm'), 'no_such_realm');
    expect(realm['level']).toBe(30);
    expect(realm['msg']).toBe("join refused: ABORT wamp.error.no_such_realm: no realm named 'nope' on this router");
    expect(realm['realm']).toBe('nope');

    await expect(connectClient({ url: router.url, realm: 'realm1', reconnect: false, auth: ticketAuth({ authid: 'joe', ticket: 'wrong' }) })).rejects.toThrow(
      /authentication_failed/,
    );
    const auth = await logged(lines, refusal('wamp.error.authentication_failed'), 'authentication failed');
    expect(auth['msg']).toMatch(/^join refused: ABORT wamp\.error\.authentication_failed: /);
    expect(auth['authid']).toBe('joe');
    expect(auth['realm']).toBe('realm1');

    const silent = await RawPeer.connect(router.url);
    await silent.waitClosed(5000);
    const timeout = await logged(lines, refusal('switchboard.close.handshake_timeout'), 'handshake timeout');
    expect(timeout['msg']).toBe('join refused: ABORT switchboard.close.handshake_timeout: no session established within 300 ms');

    const garbage = await RawPeer.connect(router.url);
    garbage.sendRaw('this is not JSON', false);
    await garbage.waitClosed();
    const bad = await logged(lines, refusal('wamp.error.protocol_violation'), 'bad frame');
    expect(bad['msg']).toMatch(/^join refused: ABORT wamp\.error\.protocol_violation: /);
    expect(bad['peer']).toBeTypeOf('string');
  });

  it('bad frames: a WebSocket message over maxMessageBytes; RawSocket: a wrong first octet, an unsupported serializer', async () => {
    const { router, lines } = await loggedRouter({
      listeners: [
        { type: 'websocket', maxMessageBytes: 1024 },
        { type: 'rawsocket', serializers: ['json'] },
      ],
    });
    const big = await RawPeer.join(router.url);
    big.send([MessageCode.Publish, 1, {}, 'com.example.big', ['x'.repeat(4096)]]);
    await big.waitClosed();
    const tooLong = await logged(lines, refusal('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'), 'an oversized WebSocket message');
    expect(tooLong['msg']).toMatch(/^bad WebSocket frame: Max payload size exceeded; connection closed$/);
    const port = router.addresses[1]!.port;
    const handshake = async (octets: number[]): Promise<void> => {
      const socket = connectTcp(port, '127.0.0.1');
      onTestFinished(() => void socket.destroy());
      await within(new Promise<void>((resolve) => socket.once('connect', () => resolve())), 3000, 'a RawSocket connection');
      socket.write(Buffer.from(octets));
      await within(new Promise<void>((resolve) => socket.once('close', () => resolve()).resume()), 5000, 'the RawSocket connection to close');
    };
    await handshake([0x47, 0x45, 0x54, 0x20]); // "GET ": HTTP on a RawSocket port
    expect((await logged(lines, refusal('rawsocket_magic'), 'bad magic'))['msg']).toBe(
      'RawSocket connection dropped: first octet 0x47 is not the RawSocket magic 0x7f',
    );
    await handshake([0x7f, 0xf2, 0x00, 0x00]); // msgpack, not offered here
    expect((await logged(lines, refusal('rawsocket_handshake_1'), 'unsupported serializer'))['msg']).toMatch(/^RawSocket handshake refused: /);
  });

  it('"session joined" (debug) names the authid, authrole and authmethod', async () => {
    const { router, lines } = await loggedRouter(
      {
        listeners: [{ type: 'websocket', auth: { ticket: { type: 'static', principals: { joe: { ticket: 'right', role: 'user' } } } } }],
        realms: [{ name: 'realm1', roles: [{ name: 'user', permissions: [] }] }],
      },
      'debug',
    );
    const session = await connectClient({ url: router.url, realm: 'realm1', reconnect: false, auth: ticketAuth({ authid: 'joe', ticket: 'right' }) });
    onTestFinished(() => session.leave().catch(() => undefined));
    const joined = await logged(lines, (l) => l['msg'] === 'session joined', 'session joined');
    expect(joined).toMatchObject({ realm: 'realm1', authid: 'joe', authrole: 'user', authmethod: 'ticket', transport: 'websocket' });
  });
});

describe('what the router says at start', () => {
  const www = realpathSync(mkdtempSync(`${tmpdir()}/switchboard-www-`));
  afterAll(() => rmSync(www, { recursive: true, force: true }));
  const config = (): RouterConfigFile => ({
    listeners: [
      {
        type: 'websocket',
        static: { '/app': { directory: www } },
        rawsocket: true,
        longpoll: {},
        http: { paths: { '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous' } } },
        auth: { anonymous: {}, ticket: { type: 'static', principals: { joe: { ticket: 't', role: 'user' } } } },
      },
    ],
    realms: [{ name: 'realm1' }, { name: 'ops', roles: [{ name: 'user', permissions: [] }] }],
    metrics: { host: '127.0.0.1', port: 0 },
  });

  it('JSON logs: "router started" carries every URL, the realms and their auth methods; anonymous access open is warned about', async () => {
    const { router, lines } = await loggedRouter(config());
    const started = await logged(lines, (l) => l['msg'] === 'router started', 'router started');
    const base = router.url.replace(/^ws:/, 'http:').replace(/\/ws$/, '');
    expect(started['summary']).toEqual({
      listeners: [
        {
          websocket: router.url,
          rawsocket: base.replace(/^http:/, 'rs:'),
          longpoll: `${base}/lp`,
          serializers: ['json', 'msgpack', 'cbor'],
          auth: ['anonymous', 'ticket'],
          static: { [`${base}/app`]: www },
          bridge: [{ url: `${base}/publish`, type: 'publisher', realm: 'realm1' }],
          health: `${base}/health`,
          ready: `${base}/ready`,
        },
      ],
      realms: [
        { name: 'realm1', roles: undefined, auth: ['anonymous', 'ticket'] },
        { name: 'ops', roles: ['user'], auth: ['anonymous', 'ticket'] },
      ].map((r) => (r.roles === undefined ? { name: r.name, auth: r.auth } : r)),
      metrics: router.metricsUrl,
    });
    const warning = await logged(lines, (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('anonymous access is open'), 'the anonymous warning');
    expect(warning['level']).toBe(40);
    expect(warning['realms']).toEqual(['realm1']);
  });

  it('pretty logs: the same as lines for a person', async () => {
    const { router, lines } = await loggedRouter({ ...config(), log: { pretty: true } });
    const started = await logged(lines, (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('router started\n'), 'router started (text)');
    const base = router.url.replace(/^ws:/, 'http:').replace(/\/ws$/, '');
    const text = String(started['msg']);
    for (const expected of [
      '  listener: auth anonymous, ticket; serializers json, msgpack, cbor',
      `    WebSocket  ${router.url}`,
      `    RawSocket  ${base.replace(/^http:/, 'rs:')}`,
      `    long-poll  ${base}/lp`,
      `    HTTP bridge publisher  ${base}/publish (realm realm1)`,
      `    static     ${base}/app → ${www}`,
      `    health     ${base}/health, ${base}/ready`,
      `  metrics    ${router.metricsUrl ?? ''}`,
      '  realm realm1: auth anonymous, ticket; no roles (every session may do everything)',
      '  realm ops: auth anonymous, ticket; roles user',
    ]) {
      expect(text).toContain(expected);
    }
  });
});
