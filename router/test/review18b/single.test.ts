/**
 * Second adversarial review of #18 (/work/prompts18/findings2.md): each test names a finding,
 * fails today and passes once the finding is fixed. One router, raw frames, and the router's
 * registry where the cluster's wire enters it (`Resumption.deliver`, what an `f` message calls).
 */
import { describe, expect, it, vi } from 'vitest';
import type { RequestId, SessionId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import type { ResumeSource, SessionSnapshot } from '../../src/core/resume.js';
import { MessageCode } from '@switchboard/schemas';
import { startTestRouter } from '../helpers.js';
import { cut, dedicated, expectRefused, expectResumed, joinResumable, opportunistic } from '../resumption/support.js';

describe('review2 #18: forwarded answers (the cluster’s `f`)', () => {
  it('F2: a forwarded answer for a session that never moved here is not injected into it', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const a = await joinResumable(r.url);
    // An `f` of a peer node (buggy, hostile, or late: sent to the node a session once moved to)
    // names a session that joined here and never moved: a RESULT for a request it never made.
    const accepted = r.resumption.deliver(a.session as SessionId, { code: MessageCode.Result, request: 4242 as RequestId, details: {}, args: ['forged'] });
    expect(accepted).toBe(false);
    a.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.sentinel', []]);
    // The next message the session sees is its own PUBLISHED, not the forged RESULT.
    expect((await a.next())[0]).toBe(MessageCode.Published);
  });

  it('F3: the early-answer buffer of a session never adopted is bounded in bytes, not only in count', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const big = 'x'.repeat(1024 * 1024);
    let accepted = 0;
    // 1 000 answers of 1 MiB for one session ID this node never adopts (EARLY_SESSIONS × EARLY_ANSWERS
    // of them would be 10^6 messages of any size): held 30 s.
    for (let i = 1; i <= 1000; i++) {
      if (r.resumption.deliver(987_654_321 as SessionId, { code: MessageCode.Result, request: i as RequestId, details: {}, args: [big] })) accepted++;
    }
    // A bound like the realm's maxResumeBytes (1 MiB) per session would take one or two of them.
    expect(accepted * big.length).toBeLessThanOrEqual(64 * 1024 * 1024);
  });
});

describe('review2 #18: the previous token (F16)', () => {
  it('F4: a used token is void once the resumed session has carried traffic, even if the client never sent a message', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'com.news']);
    expect((await a.next())[0]).toBe(MessageCode.Subscribed);
    await cut(r, a);
    // The client resumes with T0 and reads the WELCOME (T1); it is a pure subscriber: it never sends.
    const { peer: b, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 1 });
    expectResumed(answer, a.session);
    // Events flow to it for a while (the router has every proof the client is there and reading).
    const pub = await joinResumable(r.url);
    for (let i = 0; i < 3; i++) pub.send([MessageCode.Publish, 1 + i, {}, 'com.news', [i]]);
    for (let i = 0; i < 3; i++) expect((await b.next())[0]).toBe(MessageCode.Event);
    // Whoever else holds T0 (the token a resume already used: logged by a proxy, read from
    // storage the client since overwrote) takes the live session over, without limit of time.
    // The lead's rule: the used token is valid until the first client message or 30 s after the
    // resumed WELCOME, whichever first. 31 s later (the router's clock), T0 is void.
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => now + 31_000);
    try {
      const { answer: stolen } = await dedicated(r.url, a.session, a.token);
      expectRefused(stolen);
    } finally {
      clock.mockRestore();
    }
  });

  it('F4: a resume that used the previous token does not make it the previous token again (no chain)', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const a = await joinResumable(r.url);
    await cut(r, a);
    const { peer: b, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 0 });
    expectResumed(answer, a.session);
    // Within its grace, before the client sent anything: T0 (the previous token) resumes once more.
    b.ws.terminate();
    await b.waitClosed();
    const { answer: again } = await dedicated(r.url, a.session, a.token);
    expectResumed(again, a.session);
    // That resume used T0 as the previous token: T0 is void now, not valid for another 30 s.
    const { answer: third } = await dedicated(r.url, a.session, a.token);
    expectRefused(third);
  });
});

describe('review2 #18: a snapshot from another node is input', () => {
  it('F7: an adopted snapshot cannot give a session more subscriptions than maxSubscriptionsPerSession', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1', limits: { maxSubscriptionsPerSession: 2 } }] });
    // The route IDs the snapshot must carry (the same on every node): a helper subscribes first.
    const helper = await joinResumable(r.url);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      helper.send([MessageCode.Subscribe, i + 1, {}, `com.t${i}`]);
      const answer = await helper.next();
      if (answer[0] === MessageCode.Subscribed) ids.push(answer[2] as number);
    }
    expect(ids.length).toBe(2);
    for (let i = 2; i < 5; i++) {
      const other = await joinResumable(r.url);
      other.send([MessageCode.Subscribe, 1, {}, `com.t${i}`]);
      const answer = await other.next();
      ids.push(answer[2] as number);
    }
    const listener = r.resumption.get(helper.session as SessionId)?.ring?.listener;
    const token = Buffer.alloc(16, 7).toString('base64');
    const id = 4_000_001 as SessionId;
    // A peer node (buggy, another version, or hostile) hands over a session with 5 subscriptions.
    const snapshot: SessionSnapshot = {
      id,
      realm: 'realm1',
      identity: { authid: 'x', authrole: 'anonymous', authmethod: 'anonymous', authprovider: 'static' },
      roles: { subscriber: {} },
      lastRequest: 0,
      answerSeq: 0,
      answers: [],
      subscriptions: ids.map((sub, i) => ({ id: sub as SubscriptionId, topic: `com.t${i}`, match: 'exact' as const, options: {}, missed: 0 })),
      registrations: [],
      expiresAt: Date.now() + 60_000,
      ...(listener !== undefined && { listener }),
    };
    const source: ResumeSource = { issued: () => undefined, ended: () => undefined, take: async () => snapshot };
    r.resumption.resumeSource = source;
    const { answer } = await opportunistic(r.url, id, token);
    const session = r.realm('realm1')!.sessions.get(id);
    // Either the move is refused, or the session holds no more than the realm allows.
    if (answer[1] === id && session !== undefined) {
      expect(r.realm('realm1')!.broker.subscriptionsOf(session).size).toBeLessThanOrEqual(2);
    }
  });

  it('F8: an adopted snapshot cannot park more undelivered answer bytes than maxDetachedBytes / maxResumeAnswers allow', async () => {
    const r = await startTestRouter({ realms: [{ name: 'realm1', limits: { maxDetachedBytes: 100_000, maxResumeAnswers: 10 } }] });
    const id = 4_000_002 as SessionId;
    const big = 'y'.repeat(10_000);
    // 50 undelivered RESULTs of 10 kB: 5× maxResumeAnswers, 5× the realm's maxDetachedBytes.
    const answers = Array.from({ length: 50 }, (_, i) => ({
      seq: i + 1,
      message: { code: MessageCode.Result, request: (i + 1) as RequestId, details: {}, args: [big] } as WampMessage,
      delivered: false,
    }));
    const snapshot: SessionSnapshot = {
      id,
      realm: 'realm1',
      identity: { authid: 'x', authrole: 'anonymous', authmethod: 'anonymous', authprovider: 'static' },
      roles: { caller: {} },
      lastRequest: 50,
      answerSeq: 50,
      answers,
      subscriptions: [],
      registrations: [],
      expiresAt: Date.now() + 60_000,
      // A listener key no listener here has: the resume is refused after the adoption, and the session stays parked.
      listener: 'elsewhere',
    };
    r.resumption.resumeSource = { issued: () => undefined, ended: () => undefined, take: async () => snapshot };
    const { answer } = await opportunistic(r.url, id, Buffer.alloc(16, 9).toString('base64'));
    expect(answer[1]).not.toBe(id);
    const realm = r.realm('realm1')!;
    // The realm's bound on what detached sessions keep holds for adopted ones too.
    expect(r.resumption.detachedOf(realm).bytes).toBeLessThanOrEqual(100_000);
  });
});
