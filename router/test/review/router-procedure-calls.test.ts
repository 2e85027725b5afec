/**
 * Review finding 3, end to end: an asynchronous plugin procedure's calls in flight count toward
 * maxPendingCallsPerSession, and CANCEL and CALL.Options.timeout reach them (calls.ts; the unit
 * tests in unit/calls.test.ts cover each exit on fake time).
 */
import { expect, it, onTestFinished } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { createRouter, silentLogger } from '@switchboard/router';
import type { RealmPlugin } from '@switchboard/router';
import { RawPeer } from '../helpers.js';

it('50 CALLs to a slow plugin procedure with maxPendingCallsPerSession 2: two run, the rest are refused; CANCEL and timeout end them', async () => {
  const started: AbortSignal[] = [];
  const slow: RealmPlugin = {
    name: 'slow',
    install: (_realm, ctx) =>
      void ctx.procedure('com.example.slow', (_caller, _args, _kwargs, signal) => {
        started.push(signal);
        return new Promise(() => undefined); // never answers: only CANCEL, the timeout or leaving end it
      }),
  };
  const router = await createRouter({
    logger: silentLogger(),
    plugins: [slow],
    config: {
      listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }],
      shutdownTimeoutMs: 500,
      realms: [{ name: 'realm1', limits: { maxPendingCallsPerSession: 2 } }],
    },
  }).start();
  onTestFinished(() => router.stop());
  const peer = await RawPeer.join(router.url, 'json');
  for (let i = 1; i <= 50; i++) peer.send([MessageCode.Call, i, i === 2 ? { timeout: 50 } : {}, 'com.example.slow']);
  const answers = new Map<number, unknown[]>();
  while (answers.size < 48) {
    const m = await peer.next();
    answers.set(m[2] as number, m);
  }
  expect(started).toHaveLength(2);
  expect([...answers.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 48 }, (_, i) => i + 3));
  expect(answers.get(3)?.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, 3, {}, 'switchboard.error.limit_exceeded']);
  // Call 2 times out after 50 ms; call 1 is canceled.
  expect((await peer.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, 2, {}, ErrorUri.Timeout]);
  peer.send([MessageCode.Cancel, 1, { mode: 'killnowait' }]);
  expect((await peer.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, 1, {}, ErrorUri.Canceled]);
  expect(started.every((s) => s.aborted)).toBe(true);
  // The quota has room again.
  peer.send([MessageCode.Call, 51, {}, 'com.example.slow']);
  peer.send([MessageCode.Cancel, 51, { mode: 'skip' }]);
  expect((await peer.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, 51, {}, ErrorUri.Canceled]);
  expect(started).toHaveLength(3);
});

it('wamp.registration.list with a dynamic authorizer (no cache) asks it one route at a time, not all at once', async () => {
  let inFlight = 0;
  let most = 0;
  let asked = 0;
  const router = await createRouter({
    logger: silentLogger(),
    config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], shutdownTimeoutMs: 500 },
    authorizer: {
      hasRole: () => true,
      authorize: () => {
        asked++;
        most = Math.max(most, ++inFlight);
        return new Promise((resolve) => setImmediate(() => (inFlight--, resolve({ allow: true }))));
      },
    },
  }).start();
  onTestFinished(() => router.stop());
  const inside = await router.session('realm1');
  for (let i = 0; i < 20; i++) await inside.register(`com.example.p${i}`, () => null);
  const peer = await RawPeer.join(router.url, 'json');
  peer.send([MessageCode.Call, 1, {}, 'wamp.registration.list']);
  const answer = await peer.next();
  expect(answer.slice(0, 3)).toEqual([MessageCode.Result, 1, {}]);
  expect((answer[3] as [{ exact: number[] }])[0].exact).toHaveLength(20);
  expect(asked).toBeGreaterThanOrEqual(21); // the meta call itself, then every route
  expect(most).toBe(1);
});
