/**
 * HttpBridgeClient against a real router's HTTP bridge: publish, batch, call, signed requests,
 * bearer tokens, errors (WampError for WAMP errors, HttpBridgeError for refusals) and retries.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { HttpBridgeClient, HttpBridgeError, WampError, signQuery } from '@switchboard/client';
import type { Router } from '@switchboard/router';
import { startTestRouter } from '../../router/test/helpers.js';
import { open, within } from './helpers.js';

async function bridge(publisher: Record<string, unknown> = {}, caller: Record<string, unknown> = {}): Promise<{ router: Router; base: string }> {
  const router = await startTestRouter({
    listeners: [
      {
        type: 'websocket',
        http: {
          paths: {
            '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', ...publisher },
            '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', ...caller },
          },
        },
      },
    ],
  });
  return { router, base: `http://127.0.0.1:${router.addresses[0]!.port}` };
}

describe('HttpBridgeClient', () => {
  it('publishes to WAMP subscribers and calls WAMP procedures', async () => {
    const { router, base } = await bridge();
    const session = await open(router.url);
    const received: unknown[] = [];
    const got = new Promise<void>(
      (resolve) =>
        void session.subscribe('com.example.news', (args) => {
          received.push(args);
          resolve();
        }),
    );
    await session.register('com.example.add', (args) => (args as number[])[0]! + (args as number[])[1]!);
    const client = new HttpBridgeClient({ publishUrl: `${base}/publish`, callUrl: `${base}/call` });
    const id = await client.publish('com.example.news', ['hi'], { from: 'node' });
    expect(typeof id).toBe('number');
    await within(got, 3000, 'the event');
    expect(received).toEqual([['hi']]);
    expect(await client.call('com.example.add', [2, 3])).toEqual({ args: [5], kwargs: {} });
  });

  it('a WAMP error is a WampError, on Crossbar (200) and strict paths alike', async () => {
    const { base } = await bridge({}, { strict: true });
    const client = new HttpBridgeClient({ publishUrl: `${base}/publish`, callUrl: `${base}/call`, retries: 0 });
    await expect(client.publish('bad..uri')).rejects.toMatchObject({ uri: 'wamp.error.invalid_uri' });
    const err = await client.call('com.example.none').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WampError);
    expect((err as WampError).uri).toBe('wamp.error.no_such_procedure');
  });

  it('signs requests; a wrong secret is an HttpBridgeError with status 401', async () => {
    const { router, base } = await bridge({ options: { key: 'k1', secret: 's1' }, requireIncreasingSeq: true });
    const session = await open(router.url);
    let count = 0;
    await session.subscribe('com.example.signed', () => void count++);
    const client = new HttpBridgeClient({ publishUrl: `${base}/publish`, key: 'k1', secret: 's1' });
    // seq increases from request to request, as the path requires.
    for (let i = 0; i < 3; i++) await client.publish('com.example.signed', [i]);
    const wrong = new HttpBridgeClient({ publishUrl: `${base}/publish`, key: 'k1', secret: 'nope', retries: 0 });
    const err = await wrong.publish('com.example.signed').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpBridgeError);
    expect((err as HttpBridgeError).status).toBe(401);
  });

  it('signQuery matches the signature computed independently', () => {
    const query = new URLSearchParams(signQuery('key', 'secret', '{"topic":"a"}', 7, new Date('2026-01-14T16:59:51.123Z')));
    expect(query.get('timestamp')).toBe('2026-01-14T16:59:51.123Z');
    expect(query.get('seq')).toBe('7');
    const expected = createHmac('sha256', 'secret')
      .update('key')
      .update('2026-01-14T16:59:51.123Z')
      .update('7')
      .update(query.get('nonce')!)
      .update('{"topic":"a"}')
      .digest('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_');
    expect(query.get('signature')).toBe(expected);
  });

  it('uses a bearer token', async () => {
    const { base } = await bridge({ tokens: [{ token: 'the-token-0123456789', role: 'anonymous', authid: 'svc' }] });
    expect(await new HttpBridgeClient({ publishUrl: `${base}/publish`, token: 'the-token-0123456789' }).publish('com.example.t')).toBeGreaterThan(0);
    await expect(new HttpBridgeClient({ publishUrl: `${base}/publish`, retries: 0 }).publish('com.example.t')).rejects.toMatchObject({ status: 401 });
  });

  it('batch publish answers one ID or WampError per publication', async () => {
    const { base } = await bridge();
    const results = await new HttpBridgeClient({ publishUrl: `${base}/publish` }).publishBatch([
      { topic: 'com.example.a', args: [1] },
      { topic: 'wamp.reserved' },
    ]);
    expect(typeof results[0]).toBe('number');
    expect(results[1]).toBeInstanceOf(WampError);
  });

  it('retries a publish after a 503 with the same Idempotency-Key', async () => {
    const seen: { key: string | undefined; body: string }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ key: req.headers['idempotency-key'] as string | undefined, body: Buffer.concat(chunks).toString() });
        if (seen.length < 3) {
          res.writeHead(503, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ error: 'wamp.error.runtime_error', args: [], kwargs: {} }));
        } else {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ id: 42 }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = new HttpBridgeClient({ publishUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/publish`, retries: 3, retryDelayMs: 5 });
    expect(await client.publish('com.example.r')).toBe(42);
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.key)).size).toBe(1);
    expect(seen[0]!.key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an unreachable bridge is an HttpBridgeError with status 0 after the retries', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await new HttpBridgeClient({ publishUrl: `http://127.0.0.1:${port}/publish`, retries: 1, retryDelayMs: 5 })
      .publish('com.example.x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpBridgeError);
    expect((err as HttpBridgeError).status).toBe(0);
  });
});
