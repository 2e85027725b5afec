/**
 * The request checks of a bridge path, each with Crossbar's status code and error body
 * `{"error": message, "args": [], "kwargs": {}}`: OPTIONS and CORS, 405, content type, charset,
 * Content-Length, 413, UTF-8, JSON, dict body, missing key, require_ip, require_tls.
 */
import { describe, expect, it } from 'vitest';
import type { Router } from '@switchboard/router';
import { bridgeRouter, httpBase, post, rawHttp, request, statuses } from './support.js';

const PUBLISH = { topic: 'com.example.checks', args: [1] };

function crossbarError(json: unknown): void {
  expect(json).toEqual({ error: expect.any(String) as string, args: [], kwargs: {} });
}

async function router(options: Record<string, unknown> = {}): Promise<Router> {
  return bridgeRouter({
    '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', options },
    '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', options },
  });
}

describe('HTTP bridge request checks', () => {
  it('OPTIONS answers 200 with the allowed methods; CORS headers only for an origin cors.origins lists (see security/bridge-cors.test.ts)', async () => {
    const r = await bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', cors: { origins: ['https://app.example.com'] } } });
    const res = await request(`${httpBase(r)}/publish`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Headers': 'content-type,x-custom' },
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers.get('allow')).toBe('POST,PUT,OPTIONS');
    expect(res.headers.get('access-control-allow-methods')).toBe('POST,PUT,OPTIONS');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type,x-custom');
  });

  it('every answer carries Crossbar common headers (no CORS headers by default)', async () => {
    const r = await router();
    const res = await post(`${httpBase(r)}/publish`, PUBLISH);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store,no-cache,must-revalidate,max-age=0');
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(res.json).toEqual({ id: expect.any(Number) as number });
  });

  it('PUT works like POST', async () => {
    const r = await router();
    expect((await post(`${httpBase(r)}/publish`, PUBLISH, {}, 'PUT')).status).toBe(200);
  });

  it('405 for other methods, naming the allowed ones', async () => {
    const r = await router();
    for (const method of ['GET', 'DELETE', 'PATCH']) {
      const res = await request(`${httpBase(r)}/publish`, { method });
      expect(res.status, method).toBe(405);
      crossbarError(res.json);
      expect(res.headers.get('allow')).toBe('POST,PUT,OPTIONS');
    }
  });

  it('400 for a content type other than application/json (case and a charset are fine)', async () => {
    const r = await router();
    const url = `${httpBase(r)}/publish`;
    const bad = await post(url, PUBLISH, { 'Content-Type': 'text/plain' });
    expect(bad.status).toBe(400);
    crossbarError(bad.json);
    expect((await post(url, PUBLISH, { 'Content-Type': 'charset=utf-8;application/json' })).status).toBe(400);
    expect((await post(url, PUBLISH, { 'Content-Type': 'APPLICATION/JSON' })).status).toBe(200);
    expect((await post(url, PUBLISH, { 'Content-Type': 'application/json; charset=utf-8' })).status).toBe(200);
    expect((await post(url, PUBLISH, { 'Content-Type': 'application/json;charset=UTF8' })).status).toBe(200);
  });

  it('a missing content type is accepted (the JSON parse decides)', async () => {
    const r = await router();
    const raw = await rawHttp(
      r.addresses[0]!.port,
      `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: ${JSON.stringify(PUBLISH).length}\r\nConnection: close\r\n\r\n${JSON.stringify(PUBLISH)}`,
    );
    expect(statuses(raw)).toEqual([200]);
  });

  it('400 for a charset other than UTF-8, or a malformed or repeated parameter', async () => {
    const r = await router();
    const url = `${httpBase(r)}/publish`;
    for (const type of [
      'application/json; charset=ascii',
      'application/json;charset=blarg',
      'application/json;charset=blarg;charset=boo',
      'application/json; charset=a=b',
    ]) {
      const res = await post(url, PUBLISH, { 'Content-Type': type });
      expect(res.status, type).toBe(400);
      crossbarError(res.json);
    }
  });

  it('400 for a body that is not UTF-8', async () => {
    const r = await router();
    const body = Buffer.concat([Buffer.from('{"topic": "com.example.checks", "args": ["abc'), Buffer.from([0xe9]), Buffer.from('"]}')]);
    const res = await post(`${httpBase(r)}/publish`, new Uint8Array(body));
    expect(res.status).toBe(400);
    expect((res.json as { error: string }).error).toMatch(/UTF-8/);
  });

  it('UTF-8 beyond ASCII is fine', async () => {
    const r = await router();
    expect((await post(`${httpBase(r)}/publish`, { topic: 'com.example.checks', args: ['☃ é'] })).status).toBe(200);
  });

  it('400 for invalid JSON', async () => {
    const r = await router();
    const res = await post(`${httpBase(r)}/publish`, 'sometext');
    expect(res.status).toBe(400);
    crossbarError(res.json);
    expect((res.json as { error: string }).error).toMatch(/invalid JSON/);
  });

  it('400 for JSON that is not a dict (the caller takes no batch)', async () => {
    const r = await router();
    for (const body of ['"text"', '42', 'null', '[{},{}]']) {
      const res = await post(`${httpBase(r)}/call`, body);
      expect(res.status, body).toBe(400);
      expect((res.json as { error: string }).error).toMatch(/must be a dict/);
    }
  });

  it('400 for a missing topic or procedure, or fields of the wrong type', async () => {
    const r = await router();
    const base = httpBase(r);
    const noTopic = await post(`${base}/publish`, { args: [1] });
    expect(noTopic.status).toBe(400);
    expect((noTopic.json as { error: string }).error).toMatch(/missing key 'topic'/);
    const noProcedure = await post(`${base}/call`, { args: [1] });
    expect(noProcedure.status).toBe(400);
    expect((noProcedure.json as { error: string }).error).toMatch(/missing key 'procedure'/);
    for (const body of [{ topic: 1 }, { topic: 'a.b', args: {} }, { topic: 'a.b', kwargs: [] }, { topic: 'a.b', options: 'x' }]) {
      expect((await post(`${base}/publish`, body)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await post(`${base}/call`, { procedure: 'a.b', timeout: -1 })).status).toBe(400);
  });

  it('null or empty args/kwargs/options mean none (as Crossbar reads false values)', async () => {
    const r = await router();
    expect((await post(`${httpBase(r)}/publish`, { topic: 'com.example.checks', args: null, kwargs: null, options: null })).status).toBe(200);
  });

  it('400 for several Content-Length headers', async () => {
    const r = await router();
    const body = JSON.stringify(PUBLISH);
    const raw = await rawHttp(
      r.addresses[0]!.port,
      `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(statuses(raw)[0]).toBe(400);
    // The same JSON error body as every other refusal, although Node's parser refused it.
    expect(raw).toContain('Content-Type: application/json');
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: expect.stringContaining('malformed HTTP request'), args: [], kwargs: {} });
  });

  it('400 when the body does not match Content-Length', async () => {
    const r = await router();
    const body = JSON.stringify(PUBLISH);
    // The declared length ends inside the JSON: what is left over is no HTTP request either.
    const raw = await rawHttp(r.addresses[0]!.port, `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n${body}`);
    expect(statuses(raw).length).toBeGreaterThan(0);
    expect(statuses(raw).every((s) => s === 400)).toBe(true);
  });

  it('413 over post_body_limit, from Content-Length or from a chunked body', async () => {
    const r = await router({ post_body_limit: 64 });
    const url = `${httpBase(r)}/publish`;
    expect((await post(url, PUBLISH)).status).toBe(200);
    const big = { topic: 'com.example.checks', args: ['x'.repeat(100)] };
    const res = await post(url, big);
    expect(res.status).toBe(413);
    crossbarError(res.json);
    const chunk = JSON.stringify(big);
    const raw = await rawHttp(
      r.addresses[0]!.port,
      `POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(statuses(raw)[0]).toBe(413);
  });

  it('413 over the listener maxMessageBytes when post_body_limit is 0', async () => {
    const r = await bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous' } }, {}, { maxMessageBytes: 1024 });
    const res = await post(`${httpBase(r)}/publish`, { topic: 'com.example.checks', args: ['x'.repeat(2000)] });
    expect(res.status).toBe(413);
  });

  it('the body limit is 16 MiB by default, and a JSON body within it is still held to maxNestingDepth and maxMessageItems (400, quickly)', async () => {
    const r = await router();
    const url = `${httpBase(r)}/publish`;
    // 15 MiB of empty dicts: about 5 million objects, which JSON.parse took seconds to build.
    const many = `{"topic":"com.example.checks","args":[${'{},'.repeat(5 * 1024 * 1024)}{}]}`;
    const started = performance.now();
    const tooMany = await post(url, many);
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.json)).toMatch(/more than 131072 values/);
    expect(performance.now() - started).toBeLessThan(5000);
    const deep = `{"topic":"com.example.checks","args":${'['.repeat(100)}${']'.repeat(100)}}`;
    const tooDeep = await post(url, deep);
    expect(tooDeep.status).toBe(400);
    expect(JSON.stringify(tooDeep.json)).toMatch(/nested deeper than 64/);
    // Within the limits, a body past the former 1 MiB default is published.
    expect((await post(url, { topic: 'com.example.checks', args: ['x'.repeat(2 * 1024 * 1024)] })).status).toBe(200);
  });

  it('require_ip: 400 for a client outside the networks, 200 inside', async () => {
    const outside = await router({ require_ip: ['192.168.0.0/16', '10.0.0.0/8'] });
    const refused = await post(`${httpBase(outside)}/publish`, PUBLISH);
    expect(refused.status).toBe(400);
    expect((refused.json as { error: string }).error).toMatch(/IP address/);
    const inside = await router({ require_ip: ['127.0.0.0/8'] });
    expect((await post(`${httpBase(inside)}/publish`, PUBLISH)).status).toBe(200);
    const exact = await router({ require_ip: ['127.0.0.1', '::1'] });
    expect((await post(`${httpBase(exact)}/publish`, PUBLISH)).status).toBe(200);
  });

  it('require_tls: 400 over plain HTTP', async () => {
    const r = await router({ require_tls: true });
    const res = await post(`${httpBase(r)}/publish`, PUBLISH);
    expect(res.status).toBe(400);
    expect((res.json as { error: string }).error).toMatch(/TLS/);
  });

  it('a path the bridge does not serve is 404 as before', async () => {
    const r = await router();
    expect((await post(`${httpBase(r)}/nope`, PUBLISH)).status).toBe(404);
  });
});
