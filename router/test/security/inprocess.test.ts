/**
 * Issue #14, in-process sessions: a string that starts with U+0000 (which WAMP's JSON convention
 * reads as "\0" + base64 binary) must not end the router, whichever way it reaches the HTTP
 * bridge's in-process sessions: an HTTP body, a MessagePack/CBOR publisher followed by an SSE
 * stream, a CBOR callee answering a bridge call, an HTTP integration callee. Each case checks the
 * answer, then that the router still serves a witness request.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import { HttpServer } from '../../src/http/server.js';
import { RawPeer, startTestRouter, until, within } from '../helpers.js';
import { bridgeRouter, httpBase, nextEvent, post, subscriber } from '../bridge/support.js';
import { startRouterProcess } from '../../../test/support/processes.js';

const PUBLISH = { type: 'publisher' as const, realm: 'realm1', role: 'anonymous' };
const CALL = { type: 'caller' as const, realm: 'realm1', role: 'anonymous' };
const SSE = { type: 'sse' as const, realm: 'realm1', role: 'anonymous', keepAliveMs: 60_000 };

/** The router still works: a bridge publication reaches a WebSocket subscriber. */
async function witness(r: Router): Promise<void> {
  const sub = await subscriber(r, 'com.example.witness');
  const res = await post(`${httpBase(r)}/publish`, { topic: 'com.example.witness', args: ['alive'] });
  expect(res.status).toBe(200);
  expect((await nextEvent(sub)).args).toEqual(['alive']);
}

/** The `data:` lines of an SSE stream, one JSON value per event. */
async function sseEvents(url: string): Promise<{ next(ms?: number): Promise<unknown> }> {
  const ac = new AbortController();
  onTestFinished(() => ac.abort());
  const res = await within(fetch(url, { signal: ac.signal }), 5000, `GET ${url}`);
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const read = async (): Promise<unknown> => {
    for (;;) {
      const m = /^data: (.*)$/m.exec(buffer);
      if (m !== null) {
        buffer = buffer.slice(m.index + m[0].length);
        return JSON.parse(m[1]!) as unknown;
      }
      const { value, done } = await reader.read();
      if (done === true) throw new Error('the stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
  };
  // The stream is open once the subscription is made (its first comment).
  await within(
    (async () => {
      while (!buffer.includes(': subscribed')) {
        const { value, done } = await reader.read();
        if (done === true) throw new Error('the stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    })(),
    5000,
    'the SSE subscription',
  );
  return { next: (ms = 3000) => within(read(), ms, 'an SSE event') };
}

describe('in-process sessions: strings that start with U+0000', () => {
  it('POST /publish with an invalid "\\u0000" string is a 400 with the bridge error; valid base64 still publishes binary', async () => {
    const r = await bridgeRouter({ '/publish': PUBLISH });
    const bad = await post(`${httpBase(r)}/publish`, { topic: 'com.x', args: ['\u0000!!'] });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: expect.stringMatching(/U\+0000|base64/) as unknown, args: [], kwargs: {} });
    const nested = await post(`${httpBase(r)}/publish`, { topic: 'com.x', kwargs: { deep: [{ s: '\u0000@' }] } });
    expect(nested.status).toBe(400);
    // [bp_binary_conversion_of_json]: "\0" + base64 in a bridge body is binary, as before.
    const sub = await RawPeer.join(r.url, 'msgpack');
    sub.send([MessageCode.Subscribe, 1, {}, 'com.x.bytes']);
    expect((await sub.next())[0]).toBe(MessageCode.Subscribed);
    expect((await post(`${httpBase(r)}/publish`, { topic: 'com.x.bytes', args: ['\u0000AQID', 'plain'] })).status).toBe(200);
    const event = await sub.next();
    expect(event[4]).toEqual([new Uint8Array([1, 2, 3]), 'plain']);
    await witness(r);
  });

  for (const serializer of ['msgpack', 'cbor'] as const satisfies readonly SerializerName[]) {
    it(`a ${serializer} publisher's "\\u0000" string does not break an SSE stream; binary arrives as "\\u0000" + base64`, async () => {
      const r = await bridgeRouter({ '/events': SSE, '/publish': PUBLISH });
      const stream = await sseEvents(`${httpBase(r)}/events?topic=com.x`);
      const publisher = await RawPeer.join(r.url, serializer);
      publisher.send([MessageCode.Publish, 1, {}, 'com.x', ['\u0000!!']]);
      publisher.send([MessageCode.Publish, 2, {}, 'com.x', [new Uint8Array([1, 2, 3]), 'after']]);
      // The string has no JSON form (it would read as binary): that event is left out, the stream goes on.
      expect(await stream.next()).toMatchObject({ topic: 'com.x', args: ['\u0000AQID', 'after'] });
      await witness(r);
    });
  }

  it('the router process survives a MessagePack "\\u0000" string published to a topic an SSE stream follows', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-inprocess-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ listeners: [{ type: 'websocket', http: { paths: { '/events': SSE, '/publish': PUBLISH } } }] }));
    const { router, url } = await startRouterProcess(['--config', config, '--host', '127.0.0.1', '--port', '0']);
    const base = url.replace(/^ws/, 'http').replace(/\/ws$/, '');
    const stream = await sseEvents(`${base}/events?topic=com.x`);
    const publisher = await RawPeer.join(url, 'msgpack');
    publisher.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.x', ['\u0000!!']]);
    expect((await publisher.next())[0]).toBe(MessageCode.Published);
    publisher.send([MessageCode.Publish, 2, { acknowledge: true }, 'com.x', ['after']]);
    expect((await publisher.next())[0]).toBe(MessageCode.Published);
    expect(await stream.next()).toMatchObject({ args: ['after'] });
    const res = await post(`${base}/publish`, { topic: 'com.x', args: ['\u0000!!'] });
    expect(res.status).toBe(400);
    expect(router.child.exitCode).toBeNull();
  });

  it('a CBOR callee answering a bridge call with a "\\u0000" string: the call gets an error, the router lives', async () => {
    const r = await bridgeRouter({ '/call': CALL, '/strict': { ...CALL, strict: true }, '/publish': PUBLISH });
    const peer = await RawPeer.join(r.url, 'cbor');
    peer.send([MessageCode.Register, 1, {}, 'com.x.proc']);
    const registered = await peer.next();
    expect(registered[0]).toBe(MessageCode.Registered);
    for (const [path, status] of [
      ['/call', 200],
      ['/strict', 502],
    ] as const) {
      const answered = post(`${httpBase(r)}${path}`, { procedure: 'com.x.proc' });
      const invocation = await peer.next();
      expect(invocation[0]).toBe(MessageCode.Invocation);
      peer.send([MessageCode.Yield, invocation[1], {}, ['\u0000!!']]);
      const res = await answered;
      expect(res.status, path).toBe(status);
      expect(res.json).toMatchObject({ error: 'wamp.error.invalid_argument', kwargs: {} });
    }
    await witness(r);
  });

  it('an HTTP integration callee: "\\u0000" strings in its arguments and in the HTTP answer', async () => {
    const received: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST') received.push(Buffer.concat(chunks).toString('utf8'));
        res.end('\u0000!!');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', http: { paths: { '/publish': PUBLISH, '/call': CALL } } }],
      httpIntegrations: {
        callees: [{ realm: 'realm1', role: 'anonymous', procedure: 'com.x.http', baseUrl: base }],
        subscribers: [{ realm: 'realm1', role: 'anonymous', topic: 'com.x.hook', url: base }],
      },
    });
    const caller = await RawPeer.join(r.url, 'msgpack');
    caller.send([MessageCode.Call, 1, {}, 'com.x.http', ['\u0000!!', 'x']]);
    const refused = await caller.next();
    expect(refused.slice(0, 3)).toEqual([MessageCode.Error, MessageCode.Call, 1]);
    expect(refused[4]).toBe('wamp.error.invalid_argument');
    caller.send([MessageCode.Call, 2, {}, 'com.x.http', ['GET', 'x']]);
    const result = await caller.next();
    expect(result[0]).toBe(MessageCode.Result);
    expect((result[3] as [{ code: number; content: string }])[0]).toMatchObject({ code: 200, content: '\u0000!!' });
    // The same answer through the bridge's JSON: an error, since the string has no JSON form.
    const viaBridge = await post(`${httpBase(r)}/call`, { procedure: 'com.x.http', args: ['GET', 'x'] });
    expect(viaBridge.json).toMatchObject({ error: 'wamp.error.invalid_argument' });
    // An HTTP subscriber given such an event drops it (logged) and goes on with the next.
    caller.send([MessageCode.Publish, 3, {}, 'com.x.hook', ['\u0000!!']]);
    caller.send([MessageCode.Publish, 4, {}, 'com.x.hook', ['next']]);
    await until(() => received.length > 0, 3000, 'a delivery');
    expect(received.map((b) => JSON.parse(b) as unknown)).toEqual([{ args: ['next'], kwargs: {} }]);
    await witness(r);
  });

  it('a bridge body nested past what a session may carry (10 000 nested lists) is a 400 before it is parsed; the shared session goes on', async () => {
    const r = await bridgeRouter({ '/publish': PUBLISH });
    const deep = `{"topic":"com.x","args":[${'['.repeat(10_000)}${']'.repeat(10_000)}]}`;
    const res = await post(`${httpBase(r)}/publish`, deep);
    expect(res.status).toBe(400);
    // The body is scanned against the listener's maxNestingDepth before JSON.parse (#16), so the
    // in-process connection never sees it.
    expect(res.json).toEqual({ error: 'request body: JSON: nested deeper than 64 levels at byte 87', args: [], kwargs: {} });
    await witness(r);
  });
});

describe('faults cost one connection or request', () => {
  it('an HTTP handler that throws answers 500 (reported) and the server goes on', async () => {
    const errors: unknown[] = [];
    const server = new HttpServer({ onError: (err) => errors.push(err) });
    server.route('/bug', () => {
      throw new Error('handler bug');
    });
    server.route('/ok', (_req, res) => res.end('ok'));
    const { port } = await server.listen(0, '127.0.0.1');
    onTestFinished(() => server.close());
    const bug = await within(fetch(`http://127.0.0.1:${port}/bug`), 3000, 'GET /bug');
    expect(bug.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect(await (await within(fetch(`http://127.0.0.1:${port}/ok`), 3000, 'GET /ok')).text()).toBe('ok');
  });
});
