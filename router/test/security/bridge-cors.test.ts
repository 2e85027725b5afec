/**
 * Issue #14, bridge CORS: a bridge path sends no CORS headers unless its `cors.origins` lists the
 * page's origin, and a browser request from another origin (an `Origin` header that is neither
 * the path's own origin nor listed) is refused with 403 before anything is published or called,
 * counted in switchboard_http_bridge_refused_total{reason="origin"}. Requests without `Origin`
 * (curl, servers) and same-origin pages work as before.
 */
import { describe, expect, it } from 'vitest';
import { checkConfig } from '@switchboard/router';
import type { BridgePathFile, Router } from '@switchboard/router';
import { bridgeRouter, httpBase, nextEvent, post, request, subscriber } from '../bridge/support.js';

const APP = 'https://app.example.com';
const EVIL = 'https://evil.example.net';
const PUBLISH = { topic: 'com.example.cors', args: [1] };

async function router(cors?: BridgePathFile['cors']): Promise<Router> {
  const base = { realm: 'realm1', role: 'anonymous', ...(cors !== undefined && { cors }) };
  return bridgeRouter(
    {
      '/publish': { type: 'publisher', ...base },
      '/call': { type: 'caller', ...base },
      '/events': { type: 'sse', ...base },
    },
    { metrics: { port: 0 } },
  );
}

function preflight(r: Router, origin: string, path = '/publish'): ReturnType<typeof request> {
  return request(`${httpBase(r)}${path}`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
}

function noCorsHeaders(headers: Headers): void {
  for (const name of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-headers', 'access-control-allow-methods']) {
    expect(headers.get(name), name).toBeNull();
  }
}

async function refusedByOrigin(r: Router): Promise<number> {
  const text = await (await fetch(r.metricsUrl!)).text();
  const m = /^switchboard_http_bridge_refused_total\{reason="origin"\} (\d+)$/m.exec(text);
  return m === null ? 0 : Number(m[1]);
}

describe('HTTP bridge CORS', () => {
  it('by default: no CORS headers, and a request from another origin is refused (403) without publishing', async () => {
    const r = await router();
    const sub = await subscriber(r, 'com.example.cors');
    const pre = await preflight(r, EVIL);
    expect(pre.status).toBe(403);
    noCorsHeaders(pre.headers);
    const res = await post(`${httpBase(r)}/publish`, PUBLISH, { Origin: EVIL });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: expect.stringContaining(EVIL) as string, args: [], kwargs: {} });
    noCorsHeaders(res.headers);
    // A simple request (no content type) is refused as well: the browser would send it without a preflight.
    const simple = await request(`${httpBase(r)}/publish`, { method: 'POST', headers: { Origin: EVIL }, body: new Blob([JSON.stringify(PUBLISH)]) });
    expect(simple.status).toBe(403);
    expect((await request(`${httpBase(r)}/events?topic=com.example.cors`, { headers: { Origin: EVIL } })).status).toBe(403);
    expect((await request(`${httpBase(r)}/publish`, { method: 'POST', headers: { Origin: 'null' }, body: JSON.stringify(PUBLISH) })).status).toBe(403);
    expect(await sub.silentFor(200)).toBe(true);
    expect(await refusedByOrigin(r)).toBe(5);
  });

  it('by default: no Origin (curl, servers) and the same origin work, without CORS headers', async () => {
    const r = await router();
    const sub = await subscriber(r, 'com.example.cors');
    const plain = await post(`${httpBase(r)}/publish`, PUBLISH);
    expect(plain.status).toBe(200);
    noCorsHeaders(plain.headers);
    await nextEvent(sub);
    const same = await post(`${httpBase(r)}/publish`, PUBLISH, { Origin: httpBase(r) });
    expect(same.status).toBe(200);
    noCorsHeaders(same.headers);
    await nextEvent(sub);
    const options = await request(`${httpBase(r)}/publish`, { method: 'OPTIONS' });
    expect(options.status).toBe(200);
    expect(options.headers.get('allow')).toBe('POST,PUT,OPTIONS');
    noCorsHeaders(options.headers);
  });

  it('cors.origins: a listed origin gets the preflight and its answers; credentials only when asked for', async () => {
    const r = await router({ origins: [APP] });
    const pre = await preflight(r, APP);
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe(APP);
    expect(pre.headers.get('access-control-allow-methods')).toBe('POST,PUT,OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('vary')).toMatch(/Origin/);
    const res = await post(`${httpBase(r)}/publish`, PUBLISH, { Origin: APP });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    // Exact origins only: another scheme, port or subdomain is another origin.
    for (const other of [EVIL, 'http://app.example.com', 'https://app.example.com:8443', 'https://x.app.example.com']) {
      expect((await preflight(r, other)).status, other).toBe(403);
      expect((await post(`${httpBase(r)}/publish`, PUBLISH, { Origin: other })).status, other).toBe(403);
    }
    const withCredentials = await router({ origins: [APP], credentials: true });
    const answer = await post(`${httpBase(withCredentials)}/call`, { procedure: 'com.example.none' }, { Origin: APP });
    expect(answer.headers.get('access-control-allow-origin')).toBe(APP);
    expect(answer.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('cors.origins ["*"] allows every origin, answered with * and never with credentials', async () => {
    const r = await router({ origins: ['*'] });
    const pre = await preflight(r, EVIL);
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    const res = await post(`${httpBase(r)}/publish`, PUBLISH, { Origin: EVIL });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const config = (cors: unknown): unknown => ({
      listeners: [{ type: 'websocket', http: { paths: { '/p': { type: 'publisher', realm: 'realm1', role: 'anonymous', cors } } } }],
    });
    expect(() => checkConfig(config({ origins: ['*'], credentials: true }))).toThrow(/cors.*credentials/);
    expect(() => checkConfig(config({ origins: ['https://app.example.com/path'] }))).toThrow(/cors\/origins\/0/);
    expect(() => checkConfig(config({ origins: [] }))).toThrow(/cors/);
    expect(() => checkConfig(config({ origins: [APP, 'http://localhost:8080'], credentials: true }))).not.toThrow();
  });
});
