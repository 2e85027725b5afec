/**
 * Caller paths under abuse: one HTTP client holding calls open on a procedure that never answers
 * costs that client only. Every request of a caller path acts through one shared bridge session,
 * so the realm's per-session pending-call quota (meant for WAMP clients) does not apply to it;
 * the path bounds concurrent calls per client address instead (maxConcurrentCallsPerIp, HTTP 429,
 * switchboard_limits_exceeded_total{limit="maxConcurrentCallsPerIp"}).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { SessionId } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import { checkConfig, resolveConfig } from '@switchboard/router';
import { until, within } from '../helpers.js';
import type { RawPeer } from '../helpers.js';
import { bridgeRouter, callee, httpBase, post } from './support.js';

/** Calls in flight at a callee. */
function pendingAt(r: Router, peer: RawPeer & { session: number }): number {
  const realm = r.realm('realm1')!;
  const session = realm.sessions.get(peer.session as SessionId);
  return session === undefined ? 0 : realm.dealer.pendingInvocations(session);
}

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** A /call request left open; aborted when the test ends. */
function hold(r: Router, procedure: string): { answer: Promise<Response | undefined>; abort: () => void } {
  const ac = new AbortController();
  onTestFinished(() => ac.abort());
  const answer = fetch(`${httpBase(r)}/call`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ procedure }),
    signal: ac.signal,
  }).catch(() => undefined);
  return { answer, abort: () => ac.abort() };
}

describe('HTTP bridge caller limits', () => {
  it("calls held open by one client do not exhaust the shared bridge session's pending-call quota", async () => {
    const r = await bridgeRouter(
      { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } },
      { realms: [{ name: 'realm1', limits: { maxPendingCallsPerSession: 3 } }] },
    );
    const blackhole = await callee(r, 'com.example.blackhole', () => 'never');
    await callee(r, 'com.example.good', () => ({ args: ['ok'] }));
    for (let i = 0; i < 3; i++) hold(r, 'com.example.blackhole');
    await until(() => pendingAt(r, blackhole) === 3, 3000, 'three calls held at the callee');
    const good = await post(`${httpBase(r)}/call`, { procedure: 'com.example.good' });
    expect(good.json).toEqual({ args: ['ok'], kwargs: {} });
  });

  it('maxConcurrentCallsPerIp: past it HTTP 429 with the JSON error body, counted; a finished call frees a slot', async () => {
    const r = await bridgeRouter({ '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', maxConcurrentCallsPerIp: 2 } }, { metrics: { port: 0 } });
    const blackhole = await callee(r, 'com.example.blackhole', () => 'never');
    await callee(r, 'com.example.good', () => ({ args: ['ok'] }));
    const first = hold(r, 'com.example.blackhole');
    hold(r, 'com.example.blackhole');
    await until(() => pendingAt(r, blackhole) === 2, 3000, 'two calls held at the callee');
    const refused = await post(`${httpBase(r)}/call`, { procedure: 'com.example.good' });
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ error: expect.stringMatching(/maxConcurrentCallsPerIp|at most 2/), args: [], kwargs: {} });
    expect(await metric(r.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxConcurrentCallsPerIp"}')).toBe(1);
    // The client going away cancels its call and gives its slot back.
    first.abort();
    await within(first.answer, 3000, 'the aborted call');
    await until(() => pendingAt(r, blackhole) === 1, 3000, 'the cancelled call gone');
    const good = await post(`${httpBase(r)}/call`, { procedure: 'com.example.good' });
    expect(good.status).toBe(200);
    expect(good.json).toEqual({ args: ['ok'], kwargs: {} });
  });

  it('defaults: 100 concurrent calls per address, a 60 s call timeout that a body may shorten but not lift', async () => {
    const path = resolveConfig({ listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } } } }] })
      .listeners[0]!;
    const caller = path.type === 'websocket' ? path.http!.paths[0]! : undefined;
    expect(caller?.maxConcurrentCallsPerIp).toBe(100);
    expect(caller?.callTimeoutMs).toBe(60_000);
    expect(() =>
      checkConfig({
        listeners: [{ type: 'websocket', http: { paths: { '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', maxConcurrentCallsPerIp: 0 } } } }],
      }),
    ).toThrow(/maxConcurrentCallsPerIp/);
    const r = await bridgeRouter({ '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', callTimeoutMs: 150, strict: true } });
    await callee(r, 'com.example.blackhole', () => 'never');
    // timeout 0 (none) or longer than the path's cannot hold a call past the path's timeout.
    expect((await post(`${httpBase(r)}/call`, { procedure: 'com.example.blackhole', timeout: 0 })).status).toBe(504);
    expect((await post(`${httpBase(r)}/call`, { procedure: 'com.example.blackhole', timeout: 600_000 })).status).toBe(504);
  });
});
