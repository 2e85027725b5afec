/**
 * Who may open a WebSocket: allowed origins (403 with a JSON reason otherwise; no Origin header
 * always passes), `Origin: null`, the per-IP connection limit (429, logged with a count), and
 * pingTimeoutMs, which drops a silent peer before the next ping.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import { Router, checkConfig, resolveConfig } from '@switchboard/router';
import { ConnectionsPerIp, OriginPolicy } from '../../src/http/admission.js';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter, until, within } from '../helpers.js';
import { openStalledPeer } from '../stalled-peer.js';
import { configError } from './support.js';

interface Refused {
  status: number;
  body: unknown;
}

/** Tries a WebSocket upgrade that the router should refuse; resolves with the HTTP status and JSON body. */
function refusedUpgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<Refused> {
  const ws = new WebSocket(url, ['wamp.2.json'], options);
  onTestFinished(() => ws.terminate());
  return within(
    new Promise<Refused>((resolve, reject) => {
      ws.once('open', () => reject(new Error('the upgrade was accepted')));
      ws.once('error', () => undefined); // ws reports the refusal as an error too, after unexpected-response
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      });
    }),
    5000,
    'the upgrade to be refused',
  );
}

/** A router on 127.0.0.1:0 whose JSON log lines are collected. */
async function routerWithLog(config: RouterConfigFile): Promise<{ router: Router; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const listeners = (config.listeners ?? [{ type: 'websocket' as const }]).map((l) => ({ ...l, host: '127.0.0.1', port: 0 }));
  const router = new Router({ config: { shutdownTimeoutMs: 500, ...config, listeners }, logger });
  await router.start();
  onTestFinished(() => router.stop());
  return { router, lines };
}

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['https://app.example.com', '*.example.org', 'http://localhost:*'], false);

  it.each([
    ['https://app.example.com', true],
    ['HTTPS://APP.EXAMPLE.COM', true],
    ['https://other.example.com', false],
    ['http://app.example.com', false],
    ['https://a.example.org', true],
    ['http://b.c.example.org', true],
    ['https://example.org', false],
    ['https://evilexample.org', false],
    ['https://a.example.org.evil.com', false],
    ['https://a.example.org:8443', false],
    ['http://localhost:3000', true],
    ['http://localhost', false],
  ])('%s → %s', (origin, allowed) => {
    expect(policy.check(origin) === undefined).toBe(allowed);
  });

  it('no Origin header (a non-browser client) is always allowed; "null" only when allowNull', () => {
    expect(policy.check(undefined)).toBeUndefined();
    expect(policy.check('null')).toBe("Origin 'null' is not allowed on this endpoint");
    expect(new OriginPolicy([], true).check('null')).toBeUndefined();
    expect(new OriginPolicy([], true).check('https://x.com')).toBe("Origin 'https://x.com' is not allowed on this endpoint");
  });

  it('regex characters in a pattern are literal', () => {
    const p = new OriginPolicy(['https://a+b.example.com', 'https://(x).com'], false);
    expect(p.check('https://a+b.example.com')).toBeUndefined();
    expect(p.check('https://aab.example.com')).toBeDefined();
    expect(p.check('https://(x).com')).toBeUndefined();
  });
});

describe('allowed origins on a listener', () => {
  it('refuses a disallowed Origin with 403 and a JSON reason; admits allowed ones and clients without Origin', async () => {
    const { router, lines } = await routerWithLog({ listeners: [{ type: 'websocket', allowedOrigins: ['https://app.example.com', '*.example.com'] }] });

    expect(await refusedUpgrade(router.url, { origin: 'https://evil.example.net' })).toEqual({
      status: 403,
      body: { error: "Origin 'https://evil.example.net' is not allowed on this endpoint" },
    });
    expect(lines.find((l) => l['refusal'] === 'allowedOrigins')).toMatchObject({ origin: 'https://evil.example.net', total: 1, level: 30 });

    const allowed = await RawPeer.join(router.url, 'json', 'realm1', { origin: 'https://app.example.com' });
    expect(allowed.welcome[0]).toBe(MessageCode.Welcome);
    const wildcard = await RawPeer.join(router.url, 'json', 'realm1', { origin: 'https://chat.example.com' });
    expect(wildcard.welcome[0]).toBe(MessageCode.Welcome);
    const nodeClient = await RawPeer.join(router.url); // ws sends no Origin unless asked
    expect(nodeClient.welcome[0]).toBe(MessageCode.Welcome);
    expect(router.sessionCount).toBe(3);
  });

  it('"Origin: null" is refused unless allowNullOrigin', async () => {
    const strict = await startTestRouter({ listeners: [{ type: 'websocket', allowedOrigins: ['https://app.example.com'] }] });
    expect(await refusedUpgrade(strict.url, { origin: 'null' })).toEqual({ status: 403, body: { error: "Origin 'null' is not allowed on this endpoint" } });

    const lenient = await startTestRouter({ listeners: [{ type: 'websocket', allowedOrigins: ['https://app.example.com'], allowNullOrigin: true }] });
    expect((await RawPeer.join(lenient.url, 'json', 'realm1', { origin: 'null' })).welcome[0]).toBe(MessageCode.Welcome);
  });

  it('without allowedOrigins every origin may connect', async () => {
    const router = await startTestRouter();
    for (const origin of ['https://anything.example', 'null']) {
      expect((await RawPeer.join(router.url, 'json', 'realm1', { origin })).welcome[0]).toBe(MessageCode.Welcome);
    }
  });
});

describe('maxConnectionsPerIp', () => {
  it('ConnectionsPerIp counts slots per address', () => {
    const limit = new ConnectionsPerIp(2);
    expect(limit.acquire('10.0.0.1')).toBe(true);
    expect(limit.acquire('10.0.0.1')).toBe(true);
    expect(limit.acquire('10.0.0.1')).toBe(false);
    expect(limit.acquire('10.0.0.2')).toBe(true);
    limit.release('10.0.0.1');
    expect(limit.count('10.0.0.1')).toBe(1);
    expect(limit.acquire('10.0.0.1')).toBe(true);
  });

  it('refuses the connection past the limit with 429 before the upgrade, logs it (once per log.refusalIntervalMs) with a count, and frees the slot on close', async () => {
    const { router, lines } = await routerWithLog({ listeners: [{ type: 'websocket', maxConnectionsPerIp: 2 }] });
    const a = await RawPeer.join(router.url);
    await RawPeer.join(router.url);

    expect(await refusedUpgrade(router.url)).toEqual({ status: 429, body: { error: 'Too many connections from 127.0.0.1 (at most 2 per address)' } });
    expect(await refusedUpgrade(router.url)).toMatchObject({ status: 429 });
    // The second refusal within the interval is counted, not logged (rate-limited: a flood must not flood the log).
    const logged = lines.filter((l) => l['refusal'] === 'maxConnectionsPerIp');
    expect(logged.map((l) => l['total'])).toEqual([1]);
    expect(logged[0]).toMatchObject({
      peer: '127.0.0.1',
      limit: 2,
      level: 30,
      msg: 'WebSocket upgrade refused (429): Too many connections from 127.0.0.1 (at most 2 per address) (maxConnectionsPerIp)',
    });
    expect(router.sessionCount).toBe(2);

    // A refused upgrade holds no slot; a closed connection gives its slot back.
    a.close();
    await a.waitClosed();
    expect((await retryJoin(router.url, 3000)).welcome[0]).toBe(MessageCode.Welcome);
    await until(() => router.sessionCount === 2, 1000, 'two sessions again');
  });

  it('a subprotocol refusal after admission gives the slot back too', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxConnectionsPerIp: 1 }] });
    const bad = new WebSocket(router.url, ['wamp.2.xml']);
    onTestFinished(() => bad.terminate());
    await within(new Promise<void>((resolve) => bad.once('error', () => resolve())), 3000, 'the bad subprotocol to be refused');
    const peer = await retryJoin(router.url, 3000);
    expect(peer.welcome[0]).toBe(MessageCode.Welcome);
  });
});

/** Joins, retrying while the router still counts a just-closed connection (bounded). */
async function retryJoin(url: string, ms: number): Promise<RawPeer & { welcome: unknown[] }> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await RawPeer.join(url);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('pingTimeoutMs', () => {
  it('drops a peer that does not answer a ping within pingTimeoutMs, long before the next ping', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', pingIntervalMs: 1000, pingTimeoutMs: 50 }] });
    const alive = await RawPeer.join(router.url); // ws answers pings by itself
    const dead = await openStalledPeer(router.url); // never answers
    const opened = Date.now();
    const closed = new Promise<void>((resolve) => dead.socket.once('close', () => resolve()));
    // Without pingTimeoutMs it would go at the second ping, ~2000 ms after opening.
    await within(closed, 1800, 'the silent peer to be dropped');
    expect(Date.now() - opened).toBeLessThan(1800);
    alive.send([MessageCode.Subscribe, alive.nextRequest(), {}, 'com.still.here']);
    expect((await alive.next())[0]).toBe(MessageCode.Subscribed);
  });
});

describe('the listener fields in the config', () => {
  it('are optional and resolved only when set', () => {
    const plain = resolveConfig().listeners[0];
    for (const field of ['allowedOrigins', 'allowNullOrigin', 'maxConnectionsPerIp', 'pingTimeoutMs']) expect(plain).not.toHaveProperty(field);
    expect(
      resolveConfig({ listeners: [{ type: 'websocket', allowedOrigins: ['https://a.example'], maxConnectionsPerIp: 5, pingTimeoutMs: 100 }] }).listeners[0],
    ).toMatchObject({
      allowedOrigins: ['https://a.example'],
      allowNullOrigin: false,
      maxConnectionsPerIp: 5,
      pingTimeoutMs: 100,
    });
    // A timeout equal to the interval is the default behaviour: not kept.
    expect(resolveConfig({ listeners: [{ type: 'websocket', pingIntervalMs: 100, pingTimeoutMs: 100 }] }).listeners[0]).not.toHaveProperty('pingTimeoutMs');
  });

  it.each<[string, unknown, string]>([
    [
      'allowNullOrigin without allowedOrigins',
      { type: 'websocket', allowNullOrigin: true },
      "/listeners/0: 'allowNullOrigin' needs 'allowedOrigins' beside it",
    ],
    ['an empty origin', { type: 'websocket', allowedOrigins: [''] }, '/listeners/0/allowedOrigins/0: must NOT have fewer than 1 characters'],
    ['a zero per-IP limit', { type: 'websocket', maxConnectionsPerIp: 0 }, '/listeners/0/maxConnectionsPerIp: must be >= 1'],
    [
      'a ping timeout longer than the interval',
      { type: 'websocket', pingIntervalMs: 1000, pingTimeoutMs: 5000 },
      '/listeners/0/pingTimeoutMs: must be at most pingIntervalMs (1000)',
    ],
    [
      'a ping timeout longer than the default interval',
      { type: 'websocket', pingTimeoutMs: 60_000 },
      '/listeners/0/pingTimeoutMs: must be at most pingIntervalMs (30000)',
    ],
    [
      'requestCert that is not a boolean',
      { type: 'websocket', tls: { cert: 'c', key: 'k', requestCert: 'yes' } },
      '/listeners/0/tls/requestCert: must be of type boolean',
    ],
  ])('rejects %s', (_what, listener, problem) => {
    expect(configError(() => checkConfig({ listeners: [listener] })).problems).toEqual([problem]);
  });

  it('accepts tls.ca as one file or a list', () => {
    expect(() => checkConfig({ listeners: [{ type: 'websocket', tls: { cert: 'c', key: 'k', ca: 'ca.pem', requestCert: true } }] })).not.toThrow();
    expect(() => checkConfig({ listeners: [{ type: 'websocket', tls: { cert: 'c', key: 'k', ca: ['a.pem', 'b.pem'] } }] })).not.toThrow();
  });
});
