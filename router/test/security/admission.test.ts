/**
 * Issue #14, item 9 (and the per-address limits of item 10): one admission gate for every transport
 * of a listener. maxConnectionsPerIp counts WebSocket connections, RawSocket connections on the
 * same port, long-poll transports and SSE streams together; allowedOrigins applies to long-poll
 * and SSE (browser-reachable) as to the WebSocket upgrade; RawSocket has no Origin. Long-poll
 * transports and SSE streams also have their own per-address limits. Refusals are HTTP 403/429
 * (RawSocket: handshake error 4), counted in switchboard_limits_exceeded_total{limit}.
 */
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { Router } from '@switchboard/router';
import type { RouterConfigFile, WebSocketListenerFile } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { RawSocketClient } from '../transports/support.js';

// Cross-origin SSE needs the path's own CORS opt-in (bridge-cors.test.ts): it lists both origins here, so that the listener's allowedOrigins is what refuses one.
const SSE = {
  type: 'sse' as const,
  realm: 'realm1',
  role: 'anonymous',
  keepAliveMs: 60_000,
  cors: { origins: ['https://app.example.com', 'https://evil.example.net'] },
};

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

interface Reply {
  status: number;
  res: IncomingMessage;
  /** The body, for answers that end (not for an open SSE stream). */
  body(): Promise<string>;
}

/** One HTTP request on its own connection; resolves at the response headers. */
function http(url: string, method: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return within(
    new Promise<Reply>((resolve, reject) => {
      const req = httpRequest(url, { method, agent: false, headers }, (res) => {
        const chunks: Buffer[] = [];
        const ended = new Promise<string>((done) => {
          res.on('data', (c: Buffer) => chunks.push(c));
          res.once('end', () => done(Buffer.concat(chunks).toString()));
        });
        resolve({ status: res.statusCode ?? 0, res, body: () => ended });
      });
      req.once('error', reject);
      onTestFinished(() => {
        req.destroy();
      });
      req.end(body);
    }),
    5000,
    `${method} ${url}`,
  );
}

async function routerWith(
  listener: Partial<WebSocketListenerFile>,
): Promise<{ router: Router; base: string; lp: string; sse: string; rs: { host: string; port: number } }> {
  const router = await startTestRouter({
    metrics: { port: 0 },
    listeners: [{ type: 'websocket', rawsocket: true, longpoll: {}, http: { paths: { '/events': SSE } }, ...listener }],
  });
  const a = router.addresses[0]!;
  const base = `http://127.0.0.1:${a.port}`;
  return { router, base, lp: `${base}/lp`, sse: `${base}/events?topic=com.example`, rs: { host: a.host, port: a.port } };
}

function openLongPoll(lp: string, headers: Record<string, string> = {}): Promise<Reply> {
  return http(`${lp}/open`, 'POST', { 'Content-Type': 'application/json', ...headers }, JSON.stringify({ protocols: ['wamp.2.json'] }));
}

async function closeLongPoll(lp: string, reply: Reply): Promise<void> {
  const { transport } = JSON.parse(await reply.body()) as { transport: string };
  expect((await http(`${lp}/${transport}/close`, 'POST')).status).toBe(204);
}

/** The RawSocket handshake's answer: the error code (0: accepted). */
async function rawSocketHandshake(target: { host: string; port: number }): Promise<{ error: number; client: RawSocketClient }> {
  const client = await RawSocketClient.open(target);
  const reply = await client.handshake('json');
  return { error: (reply[1]! & 0x0f) === 0 ? reply[1]! >> 4 : 0, client };
}

describe('maxConnectionsPerIp across transports', () => {
  it('counts WebSocket, RawSocket, long-poll and SSE together, refuses each kind past it, and frees the slot on close', async () => {
    const { router, lp, sse, rs } = await routerWith({ maxConnectionsPerIp: 3 });
    const ws = await RawPeer.connect(router.url);
    const raw = await rawSocketHandshake(rs);
    expect(raw.error).toBe(0);
    const longpoll = await openLongPoll(lp);
    expect(longpoll.status).toBe(200);
    // Three held: every transport is refused now.
    const refusedLp = await openLongPoll(lp);
    expect(refusedLp.status).toBe(429);
    expect(await refusedLp.body()).toMatch(/Too many connections/);
    expect((await http(sse, 'GET', { Accept: 'text/event-stream' })).status).toBe(429);
    expect((await rawSocketHandshake(rs)).error).toBe(4);
    await expect(RawPeer.connect(router.url)).rejects.toThrow(/429/);
    // Closing the long-poll transport frees its slot: an SSE stream takes it.
    await closeLongPoll(lp, longpoll);
    const stream = await http(sse, 'GET', { Accept: 'text/event-stream' });
    expect(stream.status).toBe(200);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxConnectionsPerIp"}')).toBe(4);
    // The SSE stream ends: its slot is free again.
    stream.res.destroy();
    await within(
      (async () => {
        for (;;) {
          const again = await openLongPoll(lp);
          if (again.status === 200) return;
          await again.body();
        }
      })(),
      3000,
      'the SSE slot to be released',
    );
    ws.close();
    raw.client.socket.destroy();
  });
});

describe('allowedOrigins on every browser-reachable transport', () => {
  it('refuses a long-poll open and an SSE stream from an origin not allowed (403); allowed and absent origins pass; RawSocket has none', async () => {
    const { router, lp, sse, rs } = await routerWith({ allowedOrigins: ['https://app.example.com'] });
    const evil = { Origin: 'https://evil.example.net' };
    const lpRefused = await openLongPoll(lp, evil);
    expect(lpRefused.status).toBe(403);
    expect(await lpRefused.body()).toMatch(/not allowed/);
    expect((await http(sse, 'GET', { Accept: 'text/event-stream', ...evil })).status).toBe(403);
    expect((await openLongPoll(lp, { Origin: 'https://app.example.com' })).status).toBe(200);
    expect((await openLongPoll(lp)).status).toBe(200);
    expect((await http(sse, 'GET', { Accept: 'text/event-stream', Origin: 'https://app.example.com' })).status).toBe(200);
    expect((await rawSocketHandshake(rs)).error).toBe(0);
    await expect(RawPeer.connect(router.url, 'json', undefined, { origin: 'https://evil.example.net' })).rejects.toThrow(/403/);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="allowedOrigins"}')).toBe(3);
  });
});

describe('per-address limits of long-poll and SSE', () => {
  it('maxLongPollTransportsPerIp: a further open gets 429 until a transport closes', async () => {
    const { router, lp } = await routerWith({ maxLongPollTransportsPerIp: 2 });
    const first = await openLongPoll(lp);
    expect(first.status).toBe(200);
    expect((await openLongPoll(lp)).status).toBe(200);
    const refused = await openLongPoll(lp);
    expect(refused.status).toBe(429);
    expect(await refused.body()).toMatch(/long-poll/);
    // WebSocket sessions from the same address are not affected.
    await RawPeer.join(router.url);
    await closeLongPoll(lp, first);
    expect((await openLongPoll(lp)).status).toBe(200);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxLongPollTransportsPerIp"}')).toBe(1);
  });

  it('maxSseStreamsPerIp: a further stream gets 429 until one ends', async () => {
    const { router, sse } = await routerWith({ maxSseStreamsPerIp: 2 });
    const first = await http(sse, 'GET', { Accept: 'text/event-stream' });
    expect(first.status).toBe(200);
    expect((await http(sse, 'GET', { Accept: 'text/event-stream' })).status).toBe(200);
    const refused = await http(sse, 'GET', { Accept: 'text/event-stream' });
    expect(refused.status).toBe(429);
    expect(await refused.body()).toMatch(/SSE/);
    first.res.destroy();
    await within(
      (async () => {
        for (;;) {
          const again = await http(sse, 'GET', { Accept: 'text/event-stream' });
          if (again.status === 200) return;
          await again.body();
        }
      })(),
      3000,
      'the SSE slot to be released',
    );
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxSseStreamsPerIp"}')).toBeGreaterThanOrEqual(1);
  });

  it('default to 100 per address', async () => {
    const { router } = await routerWith({});
    expect(router.config.listeners[0]).toMatchObject({ maxLongPollTransportsPerIp: 100, maxSseStreamsPerIp: 100 });
  });
});

describe('a RawSocket listener of its own', () => {
  it('maxConnectionsPerIp refuses a further handshake with error 4 and frees the slot on close', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', maxConnectionsPerIp: 1 }] });
    const a = router.addresses[1]!;
    const target = { host: a.host, port: a.port };
    const first = await rawSocketHandshake(target);
    expect(first.error).toBe(0);
    const second = await rawSocketHandshake(target);
    expect(second.error).toBe(4);
    first.client.socket.destroy();
    await first.client.waitClosed();
    await within(
      (async () => {
        for (;;) {
          const again = await rawSocketHandshake(target);
          if (again.error === 0) return;
          again.client.socket.destroy();
        }
      })(),
      3000,
      'the RawSocket slot to be released',
    );
  });
});

describe('anonymous access at start', () => {
  async function startLines(config: RouterConfigFile): Promise<Record<string, unknown>[]> {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const listeners = (config.listeners ?? [{ type: 'websocket' as const }]).map((l) => ({ ...l, host: '127.0.0.1', port: 0 }));
    const router = new Router({ config: { shutdownTimeoutMs: 500, ...config, listeners }, logger });
    await router.start();
    onTestFinished(() => router.stop());
    return lines;
  }

  it('warns when a listener admits anonymous sessions (the embedded default does), not when none does', async () => {
    const open = (await startLines({})).filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('anonymous access is open'));
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ level: 40, realms: ['realm1'] });
    const closed = await startLines({
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'static', principals: { joe: { ticket: 'x', role: 'user' } } } } }],
      realms: [{ name: 'realm1', roles: [{ name: 'user', permissions: [] }] }],
    });
    expect(closed.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('anonymous'))).toEqual([]);
  });

  it('names every URL anonymous clients can reach: RawSocket and long-poll sharing the port too (#16)', async () => {
    const [open] = (await startLines({ listeners: [{ type: 'websocket', rawsocket: true, longpoll: {} }] })).filter(
      (l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('anonymous access is open'),
    );
    const urls = open?.['listeners'] as string[];
    expect(urls).toHaveLength(3);
    expect(urls[0]).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(urls[1]).toMatch(/^rs:\/\/127\.0\.0\.1:\d+$/);
    expect(urls[2]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/lp$/);
  });
});
