/**
 * Caller paths: a POST becomes a CALL to a real WAMP callee; results as {args, kwargs}, WAMP
 * errors as Crossbar's 200 {"error": uri, …}, or real status codes on a strict path.
 */
import { describe, expect, it } from 'vitest';
import type { SessionId } from '@switchboard/schemas';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { until } from '../helpers.js';
import type { RawPeer } from '../helpers.js';
import { bridgeRouter, callee, httpBase, post } from './support.js';

/** Calls in flight at a callee. */
function pendingAt(r: Router, peer: RawPeer & { session: number }): number {
  const realm = r.realm('realm1')!;
  const session = realm.sessions.get(peer.session as SessionId);
  return session === undefined ? 0 : realm.dealer.pendingInvocations(session);
}

const PATHS = {
  '/call': { type: 'caller' as const, realm: 'realm1', role: 'anonymous' },
  '/strict': { type: 'caller' as const, realm: 'realm1', role: 'anonymous', strict: true },
};

describe('HTTP bridge caller', () => {
  it('calls a WAMP procedure and answers its args and kwargs', async () => {
    const r = await bridgeRouter(PATHS);
    await callee(r, 'com.example.add', (args, kwargs) => ({
      args: [(args[0] as number) + (args[1] as number) + ((kwargs['offset'] as number | undefined) ?? 0)],
      kwargs: { op: 'add' },
    }));
    const res = await post(`${httpBase(r)}/call`, { procedure: 'com.example.add', args: [2, 3], kwargs: { offset: 10 } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ args: [15], kwargs: { op: 'add' } });
  });

  it('an empty RESULT is {"args": [], "kwargs": {}}', async () => {
    const r = await bridgeRouter(PATHS);
    await callee(r, 'com.example.nothing', () => ({}));
    expect((await post(`${httpBase(r)}/call`, { procedure: 'com.example.nothing' })).json).toEqual({ args: [], kwargs: {} });
  });

  it('binary results travel as WAMP JSON does ("\\u0000" + base64)', async () => {
    const r = await bridgeRouter(PATHS);
    // Binary: the callee's JSON codec writes it as "\u0000" + base64 (a text starting with NUL it refuses).
    await callee(r, 'com.example.bytes', () => ({ args: [new Uint8Array([1, 2, 3])] }));
    const res = await post(`${httpBase(r)}/call`, { procedure: 'com.example.bytes' });
    expect(res.json).toEqual({ args: ['\0AQID'], kwargs: {} });
  });

  it('a callee error is 200 {"error": uri, "args", "kwargs"}; strict: 502', async () => {
    const r = await bridgeRouter(PATHS);
    await callee(r, 'com.example.fail', () => ({ error: 'com.example.error.out_of_stock', args: ['sold out'], kwargs: { sku: 7 } }));
    const lax = await post(`${httpBase(r)}/call`, { procedure: 'com.example.fail' });
    expect(lax.status).toBe(200);
    expect(lax.json).toEqual({ error: 'com.example.error.out_of_stock', args: ['sold out'], kwargs: { sku: 7 } });
    const strict = await post(`${httpBase(r)}/strict`, { procedure: 'com.example.fail' });
    expect(strict.status).toBe(502);
    expect(strict.json).toEqual(lax.json);
  });

  it('no callee: 200 {"error": "wamp.error.no_such_procedure"}; strict: 404', async () => {
    const r = await bridgeRouter(PATHS);
    const lax = await post(`${httpBase(r)}/call`, { procedure: 'com.example.none' });
    expect(lax.status).toBe(200);
    expect(lax.json).toMatchObject({ error: 'wamp.error.no_such_procedure', kwargs: {} });
    expect((await post(`${httpBase(r)}/strict`, { procedure: 'com.example.none' })).status).toBe(404);
  });

  it('timeout in the body: wamp.error.timeout after that many ms; strict: 504', async () => {
    const r = await bridgeRouter(PATHS);
    await callee(r, 'com.example.slow', () => 'never');
    const started = Date.now();
    const lax = await post(`${httpBase(r)}/call`, { procedure: 'com.example.slow', timeout: 100 });
    expect(lax.json).toMatchObject({ error: 'wamp.error.timeout' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await post(`${httpBase(r)}/strict`, { procedure: 'com.example.slow', timeout: 100 })).status).toBe(504);
  });

  it('callTimeoutMs applies when the body has no timeout', async () => {
    const r = await bridgeRouter({ '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', callTimeoutMs: 100, strict: true } });
    await callee(r, 'com.example.slow', () => 'never');
    expect((await post(`${httpBase(r)}/call`, { procedure: 'com.example.slow' })).status).toBe(504);
  });

  it('the callee leaving mid-call: wamp.error.canceled; strict: 503', async () => {
    const r = await bridgeRouter(PATHS);
    const peer = await callee(r, 'com.example.leaving', () => 'never');
    const pending = post(`${httpBase(r)}/strict`, { procedure: 'com.example.leaving' });
    await until(() => pendingAt(r, peer) > 0, 2000, 'the call to be pending');
    peer.close();
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ error: 'wamp.error.canceled' });
  });

  it('not authorized: 200 {"error": "wamp.error.not_authorized"}; strict: 403', async () => {
    const config: RouterConfigFile = {
      realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [{ uri: 'com.example.public', allow: { call: true, register: true } }] }] }],
    };
    const r = await bridgeRouter(PATHS, config);
    const lax = await post(`${httpBase(r)}/call`, { procedure: 'com.example.private' });
    expect(lax.json).toMatchObject({ error: 'wamp.error.not_authorized' });
    expect((await post(`${httpBase(r)}/strict`, { procedure: 'com.example.private' })).status).toBe(403);
  });

  it('a client that goes away cancels its call at the callee', async () => {
    const r = await bridgeRouter(PATHS);
    const peer = await callee(r, 'com.example.hang', () => 'never');
    const ac = new AbortController();
    const pending = fetch(`${httpBase(r)}/call`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ procedure: 'com.example.hang' }),
      signal: ac.signal,
    }).catch((err: unknown) => err);
    await until(() => pendingAt(r, peer) > 0, 2000, 'the call to be pending');
    ac.abort();
    await pending;
    // CANCEL went out: the dealer no longer waits for this callee.
    await until(() => pendingAt(r, peer) === 0, 2000, 'the call to be canceled');
  });
});
