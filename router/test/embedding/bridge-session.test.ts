/**
 * The HTTP bridge's sessions are router.session()s now: a request pending when its session ends
 * (wamp.session.kill) is answered 503 (BridgeSessionClosed), and the next request opens a new
 * session. Bridge sessions keep their identity (authprovider `bridge`), so quotas and the meta API
 * see them as before.
 */
import { expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer } from '../helpers.js';
import { bridgeRouter, httpBase, post } from '../bridge/support.js';

it('a bridge call pending when its session is killed answers 503; the next one opens a new session', async () => {
  const r = await bridgeRouter({ '/call': { type: 'caller', realm: 'realm1', role: 'anonymous' } });
  const callee = await RawPeer.join(r.url, 'json');
  callee.send([MessageCode.Register, 1, {}, 'com.example.slow']);
  expect((await callee.next())[0]).toBe(MessageCode.Registered);
  const pending = post(`${httpBase(r)}/call`, { procedure: 'com.example.slow' });
  const invocation = await callee.next();
  expect(invocation[0]).toBe(MessageCode.Invocation);
  const bridged = [...r.realm('realm1')!.sessions.values()].filter((s) => s.identity?.authprovider === 'bridge');
  expect(bridged).toHaveLength(1);
  const admin = await r.session('realm1');
  await admin.call('wamp.session.kill', [bridged[0]!.id]);
  const answer = await pending;
  expect(answer.status).toBe(503);
  expect(answer.json).toMatchObject({ error: 'wamp.error.runtime_error', args: ['the router is shutting down or the bridge session was closed'] });
  // A new session for the next request; the callee answers it.
  const next = post(`${httpBase(r)}/call`, { procedure: 'com.example.slow' });
  let invocation2 = await callee.next();
  // The killed session's call is interrupted first (INTERRUPT) where the callee announced canceling; skip what is not the new INVOCATION.
  while (invocation2[0] !== MessageCode.Invocation) invocation2 = await callee.next();
  callee.send([MessageCode.Yield, invocation2[1], {}, ['done']]);
  expect((await next).json).toMatchObject({ args: ['done'] });
  const now = [...r.realm('realm1')!.sessions.values()].filter((s) => s.identity?.authprovider === 'bridge');
  expect(now.map((s) => s.id)).not.toContain(bridged[0]!.id);
});
