/**
 * [ap_session_resumption] F16 of #18's client review: a cut that lands after the router sent the
 * resumed WELCOME (with a new token) but before the client read it. The client only has the token
 * it resumed with; the router keeps that one valid until the client's first message on the new
 * attachment (which proves it read the WELCOME). Raw frames.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { startTestRouter, until } from '../helpers.js';
import { cut, dedicated, expectRefused, expectResumed, joinResumable, metric, opportunistic } from './support.js';

async function router() {
  return startTestRouter({ realms: [{ name: 'realm1' }] });
}

describe('the token a resume used', () => {
  it('still resumes while the client has sent nothing on the resumed attachment (each time a new token)', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'com.prev']);
    const subscription = (await a.next())[2];
    await cut(r, a);
    // Resumed; the connection drops before the client sends anything (it may not have read the WELCOME).
    const first = await dedicated(r.url, a.session, a.token);
    const t2 = expectResumed(first.answer, a.session)['resume-token'] as string;
    first.peer.ws.terminate();
    await until(() => r.realm('realm1')!.sessions.get(a.session as never)?.attached === false, 3000, 'detach');
    // The token it had still works, and issues a new one.
    const second = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 1 });
    const t3 = expectResumed(second.answer, a.session)['resume-token'] as string;
    expect(new Set([a.token, t2, t3]).size).toBe(3);
    expect(metric(r, 'resumed')).toBe(2);
    // Same session, same subscription.
    second.peer.send([MessageCode.Unsubscribe, 2, subscription]);
    expect(await second.peer.next()).toEqual([MessageCode.Unsubscribed, 2]);
  });

  it('while the session is still attached to the unproven connection: taken over, the old transport closed', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    await cut(r, a);
    const first = await dedicated(r.url, a.session, a.token);
    expectResumed(first.answer, a.session);
    const closed = new Promise<number>((resolve) => first.peer.ws.once('close', (code) => resolve(code)));
    const second = await dedicated(r.url, a.session, a.token);
    expectResumed(second.answer, a.session);
    expect(await closed).toBe(1000);
  });

  it('is void once the client sent a message on the resumed attachment; the new token works', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    await cut(r, a);
    const first = await dedicated(r.url, a.session, a.token);
    const t2 = expectResumed(first.answer, a.session)['resume-token'] as string;
    first.peer.send([MessageCode.Subscribe, 1, {}, 'com.proof']);
    expect((await first.peer.next())[0]).toBe(MessageCode.Subscribed);
    first.peer.ws.terminate();
    await until(() => r.realm('realm1')!.sessions.get(a.session as never)?.attached === false, 3000, 'detach');
    expectRefused((await dedicated(r.url, a.session, a.token)).answer);
    expectResumed((await dedicated(r.url, a.session, t2)).answer, a.session);
  });

  it('a token older than the one the resume used never works again', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    await cut(r, a);
    // T1 → T2, proven; T2 → T3, not proven: T2 still works, T1 does not.
    const first = await dedicated(r.url, a.session, a.token);
    const t2 = expectResumed(first.answer, a.session)['resume-token'] as string;
    first.peer.send([MessageCode.Subscribe, 1, {}, 'com.proof']);
    await first.peer.next();
    first.peer.ws.terminate();
    await until(() => r.realm('realm1')!.sessions.get(a.session as never)?.attached === false, 3000, 'detach');
    const second = await dedicated(r.url, a.session, t2);
    expectResumed(second.answer, a.session);
    second.peer.ws.terminate();
    await until(() => r.realm('realm1')!.sessions.get(a.session as never)?.attached === false, 3000, 'detach');
    expectRefused((await dedicated(r.url, a.session, a.token)).answer);
    expectResumed((await dedicated(r.url, a.session, t2)).answer, a.session);
  });
});
