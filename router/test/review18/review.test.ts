/**
 * Adversarial review of single-node session resumption (#18): each test names a finding of
 * /work/prompts18/findings.md, fails today and passes once the finding is fixed.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, until } from '../helpers.js';
import { cut, expectResumed, joinResumable, opportunistic } from '../resumption/support.js';

describe('review #18', () => {
  it('F1: the resumed WELCOME is the first message on the new transport (no on_attach EVENT before it)', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'wamp.session.on_attach']);
    expect((await a.next())[0]).toBe(MessageCode.Subscribed);
    await cut(r, a);
    const { peer, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 1 });
    // Today the session's own on_attach EVENT arrives first: the router attaches the carrier and
    // publishes on_attach before it sends the WELCOME.
    expectResumed(answer, a.session);
    const event = await peer.next();
    expect(event[0]).toBe(MessageCode.Event);
  });

  it('F2: an answer that overflows maxDetachedBytes does not leave the realm count below zero (the limit holds afterwards)', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1', limits: { maxDetachedBytes: 2000 } }] });
    const callee = await RawPeer.join(r.url);
    callee.send([MessageCode.Register, 1, {}, 'com.p']);
    await callee.next();
    const sessions = r.realm('realm1')!.sessions;

    // A: detached, its RESULT of 3000 bytes passes maxDetachedBytes: A ends (overflow), as designed.
    const a = await joinResumable(r.url);
    a.send([MessageCode.Call, 1, {}, 'com.p', []]);
    const ia = await callee.next();
    await cut(r, a);
    callee.send([MessageCode.Yield, ia[1], {}, ['x'.repeat(3000)]]);
    await until(() => !sessions.has(a.session as never), 3000, 'a to end (overflow)');

    // B: detached, keeps two RESULTs of 1500 bytes: 3000 > maxDetachedBytes, so the second must end
    // it. Today the realm's count went 3000 below zero at A's end (ring bytes subtracted that were
    // never added), so B keeps both and the realm holds more than its limit.
    const b = await joinResumable(r.url);
    b.send([MessageCode.Call, 1, {}, 'com.p', []]);
    b.send([MessageCode.Call, 2, {}, 'com.p', []]);
    const ib1 = await callee.next();
    const ib2 = await callee.next();
    await cut(r, b);
    callee.send([MessageCode.Yield, ib1[1], {}, ['y'.repeat(1500)]]);
    callee.send([MessageCode.Yield, ib2[1], {}, ['z'.repeat(1500)]]);
    await until(() => !sessions.has(b.session as never), 3000, 'b to end past maxDetachedBytes');
  });
});
