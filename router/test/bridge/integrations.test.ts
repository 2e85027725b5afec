/**
 * Outgoing HTTP: an HTTP subscriber forwards a topic's events as POSTs (in order, retried,
 * bounded), and an HTTP callee performs requests under its baseUrl. Receivers are node:http
 * servers on ephemeral ports.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { HttpCalleeFile, HttpSubscriberFile } from '../../src/http/bridge/config.js';
import { startTestRouter, until } from '../helpers.js';
import { httpBase, post } from './support.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** An HTTP server answering each request with `respond(n)` (n counts from 0). */
async function receiver(
  respond: (n: number, req: Received) => { status: number; body?: string; headers?: Record<string, string> },
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const answer = respond(received.length, r);
      received.push(r);
      res.writeHead(answer.status, { 'Content-Type': 'text/plain', ...answer.headers });
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

const PUBLISH = { '/publish': { type: 'publisher' as const, realm: 'realm1', role: 'anonymous' } };

async function routerWith(subscribers: HttpSubscriberFile[], callees: HttpCalleeFile[] = []): Promise<Awaited<ReturnType<typeof startTestRouter>>> {
  return startTestRouter({ listeners: [{ type: 'websocket', http: { paths: PUBLISH } }], httpIntegrations: { subscribers, callees } });
}

describe('HTTP integrations', () => {
  it('an HTTP subscriber POSTs each event as {"args", "kwargs"}, in order', async () => {
    const target = await receiver(() => ({ status: 200 }));
    const r = await routerWith([{ realm: 'realm1', role: 'anonymous', topic: 'com.example.orders.', match: 'prefix', url: `${target.url}/hook` }]);
    for (let i = 0; i < 5; i++) await post(`${httpBase(r)}/publish`, { topic: `com.example.orders.n${i}`, args: [i], kwargs: { i } });
    await until(() => target.received.length === 5, 3000, 'five deliveries');
    expect(target.received.map((x) => JSON.parse(x.body) as unknown)).toEqual([0, 1, 2, 3, 4].map((i) => ({ args: [i], kwargs: { i } })));
    expect(target.received[0]).toMatchObject({ method: 'POST', url: '/hook' });
    expect(target.received[2]!.headers['content-type']).toBe('application/json');
    expect(target.received[2]!.headers['x-switchboard-topic']).toBe('com.example.orders.n2');
  });

  it('retries a failed delivery (5xx, 429) with backoff, then delivers', async () => {
    const target = await receiver((n) => ({ status: n < 2 ? (n === 0 ? 503 : 429) : 200 }));
    const r = await routerWith([{ realm: 'realm1', role: 'anonymous', topic: 'com.example.retry', url: target.url, retryDelayMs: 10 }]);
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.retry', args: ['x'] });
    await until(() => target.received.length === 3, 3000, 'three attempts');
    expect(new Set(target.received.map((x) => x.body)).size).toBe(1);
  });

  it('gives up after the retries and goes on with the next event; a 4xx is not retried', async () => {
    const target = await receiver((_n, req) => ({ status: req.body.includes('"bad"') ? 400 : req.body.includes('"down"') ? 500 : 200 }));
    const r = await routerWith([{ realm: 'realm1', role: 'anonymous', topic: 'com.example.x', url: target.url, retries: 2, retryDelayMs: 5 }]);
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.x', args: ['bad'] });
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.x', args: ['down'] });
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.x', args: ['ok'] });
    await until(() => target.received.some((x) => x.body.includes('"ok"')), 3000, 'the last event');
    expect(target.received.map((x) => (JSON.parse(x.body) as { args: string[] }).args[0])).toEqual(['bad', 'down', 'down', 'down', 'ok']);
  });

  it('expectedCode: another status counts as a failure', async () => {
    const target = await receiver(() => ({ status: 200 }));
    const r = await routerWith([{ realm: 'realm1', role: 'anonymous', topic: 'com.example.y', url: target.url, expectedCode: 204, retries: 0 }]);
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.y' });
    await until(() => target.received.length === 1, 3000, 'one attempt');
  });

  it('the queue is bounded: events beyond maxQueue are dropped, the rest delivered', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const received: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        void gate.then(() => res.end());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      release();
      server.closeAllConnections();
      server.close();
    });
    const r = await routerWith([
      { realm: 'realm1', role: 'anonymous', topic: 'com.example.flood', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, maxQueue: 3 },
    ]);
    // One in flight (held by the receiver) plus three queued; the other six do not fit.
    for (let i = 0; i < 10; i++) await post(`${httpBase(r)}/publish`, { topic: 'com.example.flood', args: [i] });
    await until(() => received.length === 1, 3000, 'the first delivery');
    release();
    await until(() => received.length === 4, 3000, 'the queued deliveries');
    expect(received.map((b) => (JSON.parse(b) as { args: number[] }).args[0])).toEqual([0, 1, 2, 3]);
  });

  it('an HTTP callee performs the request under baseUrl (Crossbar RESTCallee contract)', async () => {
    const target = await receiver((_n, req) => ({ status: 201, body: `${req.method} ${req.url} ${req.body}`, headers: { 'X-Answer': 'yes' } }));
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } } } }],
      httpIntegrations: { callees: [{ realm: 'realm1', role: 'anonymous', procedure: 'com.example.http', baseUrl: `${target.url}/api/` }] },
    });
    const res = await post(`${httpBase(r)}/call`, {
      procedure: 'com.example.http',
      kwargs: { method: 'POST', url: 'items', body: 'hello', headers: { 'X-In': 'a' }, params: { q: '1' } },
    });
    expect(res.status).toBe(200);
    const [answer] = (res.json as { args: [{ code: number; content: string; headers: Record<string, string[]> }] }).args;
    expect(answer.code).toBe(201);
    expect(answer.content).toBe('POST /api/items?q=1 hello');
    expect(answer.headers['x-answer']).toEqual(['yes']);
    expect(target.received[0]!.headers['x-in']).toBe('a');
    const outside = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url: 'http://169.254.169.254/latest' } });
    expect(outside.json).toMatchObject({ error: 'wamp.error.invalid_argument' });
    const above = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url: '../admin' } });
    expect(above.json).toMatchObject({ error: 'wamp.error.invalid_argument' });
  });

  it('maxQueueBytes: events that would take the queue past its bytes are dropped and counted', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const received: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        void gate.then(() => res.end());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      release();
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await routerWith([{ realm: 'realm1', role: 'anonymous', topic: 'com.example.big', url, maxQueue: 1000, maxQueueBytes: 250_000 }]);
    const big = 'f'.repeat(100_000);
    // One in flight (held by the receiver), two queued (about 200 000 bytes); a third would pass 250 000.
    for (let i = 0; i < 8; i++) await post(`${httpBase(r)}/publish`, { topic: 'com.example.big', args: [i, big] });
    await until(() => received.length === 1, 3000, 'the first delivery');
    expect(r.stats.limitsExceeded.get('maxQueueBytes')).toBe(5);
    release();
    await until(() => received.length === 3, 3000, 'the queued deliveries');
    expect(received.map((b) => (JSON.parse(b) as { args: number[] }).args[0])).toEqual([0, 1, 2]);
    // The queue has room again.
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.big', args: [9, big] });
    await until(() => received.length === 4, 3000, 'a later delivery');
  });

  it('an HTTP callee does not follow redirects: a 3xx is the answer, its target is never asked', async () => {
    const secret = await receiver(() => ({ status: 200, body: 'switchboard_secret_metric 1' }));
    const target = await receiver(() => ({ status: 307, body: '', headers: { Location: `${secret.url}/metrics` } }));
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } } } }],
      httpIntegrations: { callees: [{ realm: 'realm1', role: 'anonymous', procedure: 'com.example.http', baseUrl: `${target.url}/v1/` }] },
    });
    const res = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url: 'tometrics' } });
    expect(res.text).not.toContain('switchboard_secret_metric');
    const [answer] = (res.json as { args: [{ code: number; content: string; headers: Record<string, string[]> }] }).args;
    expect(answer.code).toBe(307);
    expect(answer.content).toBe('');
    expect(target.received).toHaveLength(1);
    expect(secret.received).toHaveLength(0);
  });

  it('an HTTP callee keeps every URL under baseUrl: dot segments, encoded slashes, other hosts, credentials', async () => {
    const target = await receiver((_n, req) => ({ status: 200, body: req.url }));
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } } } }],
      httpIntegrations: { callees: [{ realm: 'realm1', role: 'anonymous', procedure: 'com.example.http', baseUrl: `${target.url}/api/` }] },
    });
    const host = new URL(target.url).host;
    for (const url of [
      '../admin',
      '%2e%2e/admin',
      '%2e%2e%2fadmin',
      '..%2fadmin',
      'a/..%2F..%2Fadmin',
      'x%5c..%5cadmin',
      '/admin',
      '//127.0.0.1:1/api/x',
      `//${host}/admin`,
      `http://evil@${host}/api/x`,
      '\\\\evil/api/x',
      'javascript:alert(1)',
    ]) {
      const res = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url } });
      expect(res.json, url).toMatchObject({ error: 'wamp.error.invalid_argument' });
    }
    expect(target.received).toEqual([]);
    const ok = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url: 'a/b?c=%2F', params: { d: '../e' } } });
    expect((ok.json as { args: [{ content: string }] }).args[0].content).toBe('/api/a/b?c=%2F&d=..%2Fe');
  });

  it('an HTTP callee reads at most maxResponseBytes of an answer, then aborts it and answers limit_exceeded', async () => {
    let closed = false;
    let written = 0;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.on('close', () => (closed = true));
      const go = (): void => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', go);
        }
        res.end();
      };
      req.resume();
      go();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      server.closeAllConnections();
      server.close();
    });
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } } } }],
      httpIntegrations: {
        callees: [
          {
            realm: 'realm1',
            role: 'anonymous',
            procedure: 'com.example.http',
            baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
            maxResponseBytes: 256 * 1024,
          },
        ],
      },
    });
    const res = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url: 'huge' } });
    expect(res.json).toMatchObject({ error: 'switchboard.error.limit_exceeded', kwargs: { limit: 'maxResponseBytes', value: 256 * 1024 } });
    expect(r.stats.limitsExceeded.get('maxResponseBytes')).toBe(1);
    await until(() => closed, 3000, 'the upstream request aborted');
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('an HTTP callee whose upstream drips its body is cut off at timeoutMs with wamp.error.timeout', async () => {
    let closed = false;
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('x');
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
      req.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => {
      server.closeAllConnections();
      server.close();
    });
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } } } }],
      httpIntegrations: {
        callees: [
          {
            realm: 'realm1',
            role: 'anonymous',
            procedure: 'com.example.http',
            baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
            timeoutMs: 300,
          },
        ],
      },
    });
    const res = await post(`${httpBase(r)}/call`, { procedure: 'com.example.http', kwargs: { method: 'GET', url: 'drip' } });
    expect(res.json).toMatchObject({ error: 'wamp.error.timeout' });
    await until(() => closed, 3000, 'the upstream request aborted');
  });

  it('an integration whose role may not subscribe stops the router at start', async () => {
    await expect(
      startTestRouter({
        realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [] }] }],
        httpIntegrations: { subscribers: [{ realm: 'realm1', role: 'anonymous', topic: 'com.example.z', url: 'http://127.0.0.1:9/' }] },
      }),
    ).rejects.toThrow(/httpIntegrations\/subscribers\/0.*not_authorized/);
  });
});
