/**
 * Adversarial review of single-node session resumption (#18): each test names a finding of
 * /work/prompts18/findings.md, fails today and passes once the finding is fixed.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, until } from '../helpers.js';
import { cut, dedicated, details, expectRefused, expectResumed, joinResumable, opportunistic } from '../resumption/support.js';

describe('review #18', () => {
  it('F1: the resumed WELCOME is the first message on the new transport (no on_attach EVENT before it)', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'wamp.session.on_attach']);
    expect((await a.next())[0]).toBe(MessageCode.Subscribed);
    await cut(r, a);
    const { peer, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 1 });
    // The WELCOME first; the session's own on_attach EVENT only after it.
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
    // it: A's end left the realm's count at 0, not below.
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

describe('review #18: refused resumes and the failure limit', () => {
  it('F3: opportunistic resumes of sessions that no longer exist (a router restart) do not lock the address out of authentication', async () => {
    const r = await startTestRouter({
      realms: [{ name: 'realm1' }],
      listeners: [
        {
          type: 'websocket',
          auth: {
            anonymous: {},
            ticket: { type: 'static', principals: { joe: { ticket: 'secret', role: 'anonymous' } } },
            limits: { failuresPerMinute: 3, blockMs: 60_000 },
          },
        },
      ],
    });
    // Three of our clients behind one address reconnect after a restart: each tries the opportunistic
    // resume of a session the new router never held (routine, no guess), and joins anew.
    for (const session of [11, 12, 13]) {
      const { answer } = await opportunistic(r.url, session, Buffer.alloc(16, session).toString('base64'));
      expect(answer[0]).toBe(MessageCode.Welcome);
      expect(details(answer)['resumed']).toBe(false);
    }
    // A ticket login with the right ticket from that address must still work; today it is blocked
    // for blockMs because each of those refusals counted as a failed authentication.
    const peer = await RawPeer.connect(r.url);
    peer.send([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['ticket'], authid: 'joe' }]);
    const challenge = await peer.next();
    expect(challenge[0], JSON.stringify(challenge)).toBe(MessageCode.Challenge);
    peer.send([MessageCode.Authenticate, 'secret', {}]);
    expect((await peer.next())[0]).toBe(MessageCode.Welcome);
  });

  it('F3: guessing still counts: wrong tokens for a held session (opportunistic) and refused dedicated resumes lock the address out', async () => {
    const listeners = [
      {
        type: 'websocket' as const,
        auth: {
          anonymous: {},
          ticket: { type: 'static' as const, principals: { joe: { ticket: 'secret', role: 'anonymous' } } },
          limits: { failuresPerMinute: 3, blockMs: 60_000 },
        },
      },
    ];
    const ticketLogin = async (url: string): Promise<unknown[]> => {
      const peer = await RawPeer.connect(url);
      peer.send([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['ticket'], authid: 'joe' }]);
      return peer.next();
    };
    // Opportunistic, wrong token of a session held here: each counts.
    const r = await startTestRouter({ realms: [{ name: 'realm1' }], listeners });
    const a = await joinResumable(r.url);
    for (let i = 1; i <= 3; i++) {
      const { answer } = await opportunistic(r.url, a.session, Buffer.alloc(16, i).toString('base64'));
      expect(details(answer)['resumed']).toBe(false);
    }
    expect((await ticketLogin(r.url))[0]).toBe(MessageCode.Abort);
    // Dedicated, for a session that does not exist: each counts.
    const r2 = await startTestRouter({ realms: [{ name: 'realm1' }], listeners });
    for (const session of [21, 22, 23]) expectRefused((await dedicated(r2.url, session, Buffer.alloc(16, session).toString('base64'))).answer);
    expect((await ticketLogin(r2.url))[0]).toBe(MessageCode.Abort);
  });

  it('F4: an opportunistic HELLO that says resumable: false is not made resumable by its resume keys', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const a = await joinResumable(r.url);
    await cut(r, a);
    const { answer } = await opportunistic(r.url, a.session, a.token, { resumable: false });
    // A plain join (the resume keys are ignored): a new session, WELCOME as for resumable: false.
    expect(answer[0]).toBe(MessageCode.Welcome);
    expect(answer[1]).not.toBe(a.session);
    expect(details(answer)['resumable']).toBeUndefined();
    expect(details(answer)['resume-token']).toBeUndefined();
    // The detached session was not resumed: its token still works.
    const again = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 0 });
    expectResumed(again.answer, a.session);
  });
});

describe('review #18: a resume and the listener it arrives on', () => {
  it("F5: a resume does not escape the listener's realm pin (anonymous realm of another listener)", async () => {
    // Listener 0 pins anonymous sessions to realm 'public'; listener 1 (say, a private interface)
    // pins them to 'internal'. A session of 'internal' must not resume through listener 0, whose
    // anonymous authenticator would never have let it in there.
    const r = await startTestRouter({
      realms: [{ name: 'public' }, { name: 'internal' }],
      listeners: [
        { type: 'websocket', auth: { anonymous: { realm: 'public' } } },
        { type: 'websocket', auth: { anonymous: { realm: 'internal' } } },
      ],
    });
    const internalUrl = r.addresses[1]!.url;
    const a = await joinResumable(internalUrl, {}, undefined, 'internal');
    expect(details(a.welcome)['realm']).toBe('internal');
    await cut(r, a, 'internal');
    const { answer } = await dedicated(r.url, a.session, a.token);
    // Refused: the token is bound to the listener the session joined on.
    expectRefused(answer);
    // Through its own listener it still resumes (a refusal after the token matched leaves it valid).
    expectResumed((await dedicated(internalUrl, a.session, a.token)).answer, a.session);
  });
});

describe('review #18: answers kept while detached', () => {
  it('F6: a session whose ring is full of answers it already received keeps the RESULT of a call in flight at the cut', async () => {
    // maxResumeAnswers 3 stands for the default 1 000: any session that received that many answers
    // (no acknowledgement while attached) has a full ring for the rest of its life.
    const r = await startTestRouter({ realms: [{ name: 'realm1', limits: { maxResumeAnswers: 3 } }] });
    const callee = await RawPeer.join(r.url);
    callee.send([MessageCode.Register, 1, {}, 'com.p']);
    await callee.next();
    const a = await joinResumable(r.url);
    for (const [i, topic] of ['com.a', 'com.b', 'com.c'].entries()) {
      a.send([MessageCode.Subscribe, i + 1, {}, topic]);
      expect((await a.next())[0]).toBe(MessageCode.Subscribed);
    }
    a.send([MessageCode.Call, 4, {}, 'com.p', []]);
    const invocation = await callee.next();
    await cut(r, a);
    callee.send([MessageCode.Yield, invocation[1], {}, ['done']]);
    // The RESULT is the 4th answer kept: the oldest delivered one makes room (a resume that says it
    // lacks it is refused); the session does not end.
    const held = () => r.realm('realm1')!.sessions.get(a.session as never) as { ring?: { seq: number } } | undefined;
    await until(() => held()?.ring?.seq === 4 || held() === undefined, 3000, 'the RESULT to be kept (or the session to end)');
    const { peer, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 3 });
    expectResumed(answer, a.session);
    expect(await peer.next()).toEqual([MessageCode.Result, 4, {}, ['done']]);
  });
});

describe('review #18: detached sessions per address', () => {
  it('F8: at maxDetachedSessionsPerAddress a session from that address ends instead of detaching (loopback is one address)', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1', limits: { maxDetachedSessionsPerAddress: 2 } }] });
    const sessions = r.realm('realm1')!.sessions;
    const a = await joinResumable(r.url);
    const b = await joinResumable(r.url);
    const c = await joinResumable(r.url);
    await cut(r, a);
    await cut(r, b);
    c.ws.terminate();
    await until(() => !sessions.has(c.session as never), 3000, 'c to end');
    expect(r.stats.limitsExceeded.get('maxDetachedSessionsPerAddress')).toBe(1);
    expect(r.stats.detachedEnds.get('limit')).toBe(1);
    expect(sessions.has(a.session as never) && sessions.has(b.session as never)).toBe(true);
    // A resume frees the address's place: the next one detaches again.
    const { peer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 0 });
    const d = await joinResumable(r.url);
    await cut(r, d);
    expect(sessions.get(d.session as never)?.live).toBe(true);
    peer.ws.terminate();
    await until(() => r.stats.detachedEnds.get('limit') === 2, 3000, 'a to end at the cap');
  });
});
