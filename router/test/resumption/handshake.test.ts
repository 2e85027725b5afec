/**
 * Session resumption's handshake rules at the frame level [ap_session_resumption]: WELCOME keys,
 * the dedicated and the opportunistic resume and every reason to refuse one, GOODBYE resumable both
 * ways, the router's pause, the takeover of a session still attached, the answers kept while
 * detached and resent, expiry, the limits, and clients that do not ask seeing no change.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter, until, within } from '../helpers.js';
import { cut, dedicated, details, expectRefused, expectResumed, hello, joinResumable, metric, opportunistic } from './support.js';

/** Answers the session keeps for a resume now. */
function kept(r: Awaited<ReturnType<typeof router>>, session: number): number | undefined {
  return (r.realm('realm1')!.sessions.get(session as never) as { ring?: { length: number } } | undefined)?.ring?.length;
}

async function router(limits: Record<string, number> = {}, extra: RouterConfigFile = {}) {
  return startTestRouter({ realms: [{ name: 'realm1', limits }, { name: 'realm2' }], ...extra });
}

describe('WELCOME', () => {
  it('is unchanged for a client that does not ask, and its close ends the session at once', async () => {
    const r = await router();
    const peer = await RawPeer.join(r.url);
    const d = details(peer.welcome);
    expect(Object.keys(d).filter((k) => k.startsWith('resum'))).toEqual([]);
    peer.ws.terminate();
    await until(() => r.realm('realm1')!.sessions.get(peer.session as never) === undefined, 3000, 'the session to end');
    expect(metric(r, 'sessionsDetached')).toBe(0);
  });

  it('grants resumption with a token of 16 random octets, base64', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    const b = await joinResumable(r.url);
    expect(Buffer.from(a.token, 'base64')).toHaveLength(16);
    expect(a.token).not.toBe(b.token);
  });

  it('says resumable: false when the realm has resumption off', async () => {
    const r = await router({ resumeWindowMs: 0 });
    const peer = await RawPeer.connect(r.url);
    const welcome = await hello(peer, { resumable: true });
    expect(details(welcome)).toMatchObject({ resumable: false, resumed: false });
    expect(details(welcome)['resume-token']).toBeUndefined();
  });

  it('refuses malformed resume keys as protocol violations', async () => {
    const r = await router();
    for (const bad of [
      { resumable: 'yes' },
      { 'resume-session': 5 },
      { 'resume-token': 'x' },
      { 'resume-session': 0, 'resume-token': 'x' },
      { 'resume-session': 5, 'resume-token': 'x'.repeat(65) },
      { 'resume-session': 5, 'resume-token': 'x', 'resume-answers': -1 },
    ]) {
      const peer = await RawPeer.connect(r.url);
      const answer = await hello(peer, bad);
      expect(answer[0], JSON.stringify(bad)).toBe(MessageCode.Abort);
      expect(answer[2]).toBe('wamp.error.protocol_violation');
    }
    // A null realm with another key never parses.
    const peer = await RawPeer.connect(r.url);
    peer.send([MessageCode.Hello, null, { 'resume-session': 5, 'resume-token': 'x', roles: {} }]);
    expect((await peer.next())[2]).toBe('wamp.error.protocol_violation');
  });
});

describe('resume', () => {
  it('dedicated: the same session, its subscription kept, a new token; the old token is void', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'com.topic']);
    const subscribed = await a.next();
    await cut(r, a);
    expect(metric(r, 'sessionsDetached')).toBe(1);
    const { peer, answer } = await dedicated(r.url, a.session, a.token);
    const d = expectResumed(answer, a.session);
    expect(d['resume-token']).not.toBe(a.token);
    expect(d['resume-last-request']).toBe(1);
    expect(metric(r, 'sessionsDetached')).toBe(0);
    expect(metric(r, 'resumed')).toBe(1);
    const pub = await RawPeer.join(r.url);
    pub.send([MessageCode.Publish, 1, {}, 'com.topic', ['hi']]);
    expect(await peer.next()).toMatchObject([MessageCode.Event, subscribed[2], expect.any(Number), {}, ['hi']]);
    // A token works once: void once the client sent a message on the resumed attachment (which
    // proves it read the new token; see previous-token.test.ts for a cut before that).
    peer.send([MessageCode.Subscribe, 2, {}, 'com.other']);
    expect((await peer.next())[0]).toBe(MessageCode.Subscribed);
    peer.ws.terminate();
    await until(() => r.realm('realm1')!.sessions.get(a.session as never)?.attached === false, 3000, 'detach');
    expectRefused((await dedicated(r.url, a.session, a.token)).answer);
    expectResumed((await dedicated(r.url, a.session, d['resume-token'] as string)).answer, a.session);
  });

  it('opportunistic: resumed, or refused and a new session', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    await cut(r, a);
    const bad = await opportunistic(r.url, a.session, Buffer.alloc(16).toString('base64'));
    expect(bad.answer[0]).toBe(MessageCode.Welcome);
    expect(bad.answer[1]).not.toBe(a.session);
    expect(details(bad.answer)).toMatchObject({ resumable: true, resumed: false });
    expect(metric(r, 'resumeRefused')).toBe(1);
    const good = await opportunistic(r.url, a.session, a.token);
    expectResumed(good.answer, a.session);
  });

  it('refuses a bad token, the token of another session, an unknown session', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    const b = await joinResumable(r.url);
    await cut(r, a);
    expectRefused((await dedicated(r.url, a.session, 'AAAA')).answer);
    expectRefused((await dedicated(r.url, a.session, b.token)).answer);
    expectRefused((await dedicated(r.url, a.session + 1, a.token)).answer);
    expect(metric(r, 'resumeRefused')).toBe(3);
    // None of that consumed the right token.
    expectResumed((await dedicated(r.url, a.session, a.token)).answer, a.session);
  });

  it('refuses another realm or another authid (opportunistic: a new session)', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    await cut(r, a);
    const realm2 = await opportunistic(r.url, a.session, a.token, {}, 'realm2');
    expect(details(realm2.answer)).toMatchObject({ realm: 'realm2', resumed: false });
    const authid = await opportunistic(r.url, a.session, a.token, { authid: 'mallory' });
    expect(authid.answer[1]).not.toBe(a.session);
    expect(details(authid.answer)).toMatchObject({ resumed: false });
    expectResumed((await opportunistic(r.url, a.session, a.token, { authid: details(a.welcome)['authid'] })).answer, a.session);
  });

  it('refuses on a listener that does not accept the session authmethod', async () => {
    const r = await startTestRouter({
      listeners: [{ type: 'websocket' }, { type: 'websocket', auth: { ticket: { type: 'static', principals: { joe: { ticket: 's', role: 'user' } } } } }],
    });
    const a = await joinResumable(r.addresses[0]!.url);
    await cut(r, a);
    expectRefused((await dedicated(r.addresses[1]!.url, a.session, a.token)).answer);
    expectResumed((await dedicated(r.addresses[0]!.url, a.session, a.token)).answer, a.session);
  });

  it('counts a refused resume as a failed authentication of its address', async () => {
    const r = await startTestRouter({
      listeners: [
        {
          type: 'websocket',
          auth: {
            anonymous: {},
            ticket: { type: 'static', principals: { joe: { ticket: 's', role: 'user' } } },
            limits: { failuresPerMinute: 2, blockMs: 60_000 },
          },
        },
      ],
    });
    const a = await joinResumable(r.url);
    await cut(r, a);
    expectRefused((await dedicated(r.url, a.session, 'AAAA')).answer);
    expectRefused((await dedicated(r.url, a.session, 'BBBB')).answer);
    // The address is blocked now: even the right ticket is refused.
    const joe = await RawPeer.connect(r.url);
    const answer = await hello(joe, { authmethods: ['ticket'], authid: 'joe' });
    expect(answer[0]).toBe(MessageCode.Abort);
    expect(answer[2]).toBe('wamp.error.authentication_failed');
  });

  it('checks a cookie login again on the new transport', async () => {
    const r = await startTestRouter({
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'static', principals: { joe: { ticket: 's', role: 'user' } } }, cookie: {} } } as never],
    });
    // The upgrade response sets the tracking cookie; a ticket login on it teaches it who logged in.
    const probe = new WebSocket(r.url, ['wamp.2.json']);
    const setCookie = await within(
      new Promise<string>((resolve) => probe.once('upgrade', (res) => resolve(String(res.headers['set-cookie']?.[0] ?? '')))),
      3000,
      'the upgrade',
    );
    probe.terminate();
    const cookie = setCookie.split(';')[0]!;
    const login = await RawPeer.connect(r.url, 'json', undefined, { headers: { Cookie: cookie } });
    login.send([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['ticket'], authid: 'joe' }]);
    expect((await login.next())[0]).toBe(MessageCode.Challenge);
    login.send([MessageCode.Authenticate, 's', {}]);
    expect((await login.next())[0]).toBe(MessageCode.Welcome);
    const a = await joinResumable(r.url, { authmethods: ['cookie'] }, { headers: { Cookie: cookie } });
    expect(details(a.welcome)).toMatchObject({ authmethod: 'cookie', authid: 'joe' });
    await cut(r, a);
    // Without the cookie the transport is not the session's.
    expectRefused((await dedicated(r.url, a.session, a.token)).answer);
    expectResumed((await dedicated(r.url, a.session, a.token, { headers: { Cookie: cookie } })).answer, a.session);
  });

  it('takes over a session still attached: its old connection closes without GOODBYE', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    const { peer, answer } = await dedicated(r.url, a.session, a.token);
    expectResumed(answer, a.session);
    expect(await a.waitClosed()).toEqual({ code: 1000, reason: 'session resumed on another connection' });
    expect(a.inbox.size).toBe(0);
    expect(r.realm('realm1')!.sessions.get(a.session as never)?.attached).toBe(true);
    peer.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.t', []]);
    expect((await peer.next())[0]).toBe(MessageCode.Published);
  });
});

describe('GOODBYE', () => {
  it('resumable: true detaches; the session resumes on the same connection', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Goodbye, { resumable: true }, 'wamp.close.close_realm']);
    expect(await a.next()).toEqual([MessageCode.Goodbye, { resumable: true }, 'wamp.close.goodbye_and_out']);
    expect(r.realm('realm1')!.sessions.get(a.session as never)?.attached).toBe(false);
    expectResumed(await hello(a, { 'resume-session': a.session, 'resume-token': a.token }, null), a.session);
  });

  it('resumable: true resumes on a new connection too', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Goodbye, { resumable: true }, 'wamp.close.close_realm']);
    await a.next();
    a.close();
    expectResumed((await dedicated(r.url, a.session, a.token)).answer, a.session);
  });

  it('without the flag ends a resumable session and says resumable: false', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect(await a.next()).toEqual([MessageCode.Goodbye, { resumable: false }, 'wamp.close.goodbye_and_out']);
    expect(r.realm('realm1')!.sessions.has(a.session as never)).toBe(false);
    expectRefused((await dedicated(r.url, a.session, a.token)).answer);
  });

  it('resumable: true on a session that is not resumable says false and ends it', async () => {
    const r = await router();
    const a = await RawPeer.join(r.url);
    a.send([MessageCode.Goodbye, { resumable: true }, 'wamp.close.close_realm']);
    expect(await a.next()).toEqual([MessageCode.Goodbye, { resumable: false }, 'wamp.close.goodbye_and_out']);
    expect(r.realm('realm1')!.sessions.has(a.session as never)).toBe(false);
  });

  it('a client that does not ask gets the GOODBYE of before', async () => {
    const r = await router();
    const a = await RawPeer.join(r.url);
    a.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect(await a.next()).toEqual([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
  });

  it('wamp.session.kill with resumable: true pauses a resumable session; without it, kills it', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    const admin = await RawPeer.join(r.url);
    admin.send([MessageCode.Call, 1, {}, 'wamp.session.kill', [a.session], { resumable: true, message: 'pause' }]);
    expect((await admin.next())[0]).toBe(MessageCode.Result);
    expect(await a.next()).toEqual([MessageCode.Goodbye, { message: 'pause', resumable: true }, 'wamp.close.normal']);
    expect(r.realm('realm1')!.sessions.get(a.session as never)?.attached).toBe(false);
    a.send([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
    await a.waitClosed();
    const { peer, answer } = await dedicated(r.url, a.session, a.token);
    const d = expectResumed(answer, a.session);
    admin.send([MessageCode.Call, 2, {}, 'wamp.session.kill', [a.session], {}]);
    expect(await peer.next()).toEqual([MessageCode.Goodbye, { message: '', resumable: false }, 'wamp.close.normal']);
    expectRefused((await dedicated(r.url, a.session, d['resume-token'] as string)).answer);
  });
});

describe('answers kept', () => {
  it('a RESULT of a call that completed while the caller was detached comes right after the resumed WELCOME', async () => {
    const r = await router();
    const callee = await RawPeer.join(r.url);
    callee.send([MessageCode.Register, 1, {}, 'com.proc']);
    await callee.next();
    const caller = await joinResumable(r.url);
    caller.send([MessageCode.Call, 1, {}, 'com.proc', [1]]);
    const invocation = await callee.next();
    await cut(r, caller);
    callee.send([MessageCode.Yield, invocation[1], {}, ['done']]);
    await until(() => kept(r, caller.session) === 1, 3000, 'the RESULT to be kept');
    const { peer, answer } = await dedicated(r.url, caller.session, caller.token);
    expectResumed(answer, caller.session);
    expect(await peer.next()).toEqual([MessageCode.Result, 1, {}, ['done']]);
    expect(metric(r, 'resumeAnswersResent')).toBe(1);
  });

  it('resume-answers: the answers after it are resent', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'com.a']);
    a.send([MessageCode.Subscribe, 2, {}, 'com.b']);
    const s1 = await a.next();
    const s2 = await a.next();
    await cut(r, a);
    const { peer, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 0 });
    // The WELCOME says how many kept answers follow it.
    expect(expectResumed(answer, a.session)['resume-resent']).toBe(2);
    expect(await peer.next()).toEqual(s1);
    expect(await peer.next()).toEqual(s2);
  });

  it('refuses a resume when answers it lacks were let go (maxResumeAnswers)', async () => {
    const r = await router({ maxResumeAnswers: 1 });
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'com.a']);
    a.send([MessageCode.Subscribe, 2, {}, 'com.b']);
    await a.next();
    await a.next();
    await cut(r, a);
    const refused = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 0 });
    expect(details(refused.answer)).toMatchObject({ resumed: false });
    // More answers than were sent: refused too.
    const more = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 3 });
    expect(details(more.answer)).toMatchObject({ resumed: false });
    const { peer, answer } = await opportunistic(r.url, a.session, a.token, { 'resume-answers': 1 });
    expectResumed(answer, a.session);
    expect((await peer.next())[0]).toBe(MessageCode.Subscribed);
  });

  it('resume-last-request and resume-missed', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Subscribe, 1, {}, 'com.a']);
    const sub = (await a.next())[2] as number;
    a.send([MessageCode.Publish, 2, {}, 'com.x', []]);
    a.send([MessageCode.Publish, 3, { acknowledge: true }, 'com.x', []]);
    await a.next();
    await cut(r, a);
    const pub = await RawPeer.join(r.url);
    pub.send([MessageCode.Publish, 1, {}, 'com.a', [1]]);
    pub.send([MessageCode.Publish, 2, { acknowledge: true }, 'com.a', [2]]);
    await pub.next();
    const d = expectResumed((await dedicated(r.url, a.session, a.token)).answer, a.session);
    expect(d['resume-last-request']).toBe(3);
    expect(d['resume-missed']).toEqual({ [String(sub)]: 2 });
    // Without resume-answers: the answers never handed to an open transport follow (none here).
    expect(d['resume-resent']).toBe(0);
  });
});

describe('detached sessions', () => {
  it('expire after resumeWindowMs as a leave: on_leave only then, registrations gone', async () => {
    const r = await router({ resumeWindowMs: 400 });
    const watcher = await RawPeer.join(r.url);
    watcher.send([MessageCode.Subscribe, 1, {}, 'wamp.session.on_leave']);
    await watcher.next();
    const a = await joinResumable(r.url);
    a.send([MessageCode.Register, 1, {}, 'com.gone']);
    await a.next();
    const detachedAt = Date.now();
    await cut(r, a);
    const leave = await watcher.next(3000);
    expect(Date.now() - detachedAt).toBeGreaterThanOrEqual(350);
    expect(leave[0]).toBe(MessageCode.Event);
    expect((leave[4] as unknown[])[0]).toBe(a.session);
    expect(r.realm('realm1')!.sessions.has(a.session as never)).toBe(false);
    expect(r.stats.detachedEnds.get('expired')).toBe(1);
    watcher.send([MessageCode.Call, 2, {}, 'com.gone', []]);
    expect((await watcher.next())[4]).toBe('wamp.error.no_such_procedure');
    expectRefused((await dedicated(r.url, a.session, a.token)).answer);
  });

  it('maxDetachedSessions: past it a session ends instead of detaching', async () => {
    const r = await router({ maxDetachedSessions: 1 });
    const a = await joinResumable(r.url);
    const b = await joinResumable(r.url);
    await cut(r, a);
    b.ws.terminate();
    await until(() => !r.realm('realm1')!.sessions.has(b.session as never), 3000, 'b to end');
    expect(r.stats.limitsExceeded.get('maxDetachedSessions')).toBe(1);
    expect(r.stats.detachedEnds.get('limit')).toBe(1);
    expect(metric(r, 'sessionsDetached')).toBe(1);
  });

  it('maxResumeBytes: an answer past it while detached ends the session', async () => {
    const r = await router({ maxResumeBytes: 2048 });
    const callee = await RawPeer.join(r.url);
    callee.send([MessageCode.Register, 1, {}, 'com.big']);
    await callee.next();
    const caller = await joinResumable(r.url);
    caller.send([MessageCode.Call, 1, {}, 'com.big', []]);
    const invocation = await callee.next();
    await cut(r, caller);
    callee.send([MessageCode.Yield, invocation[1], {}, ['x'.repeat(4096)]]);
    await until(() => !r.realm('realm1')!.sessions.has(caller.session as never), 3000, 'the caller to end');
    expect(r.stats.limitsExceeded.get('maxResumeBytes')).toBe(1);
    expect(r.stats.detachedEnds.get('overflow')).toBe(1);
  });

  it('router shutdown ends them', async () => {
    const r = await router();
    const a = await joinResumable(r.url);
    await cut(r, a);
    await r.stop();
    expect(r.realm('realm1')!.sessions.size).toBe(0);
    expect(metric(r, 'sessionsDetached')).toBe(0);
  });

  it('are counted in /metrics', async () => {
    const r = await router({ maxDetachedSessions: 1 }, { metrics: { port: 0 } });
    const a = await joinResumable(r.url);
    const b = await joinResumable(r.url);
    await cut(r, a);
    b.ws.terminate();
    await until(() => !r.realm('realm1')!.sessions.has(b.session as never), 3000, 'b to end');
    expectRefused((await dedicated(r.url, a.session, 'AAAA')).answer);
    const { peer } = await dedicated(r.url, a.session, a.token);
    peer.close();
    const text = await (await fetch(r.metricsUrl!)).text();
    const value = (line: string): number =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${line} `))
          ?.split(' ')
          .pop(),
      );
    expect(value('switchboard_session_resumes_total{outcome="resumed"}')).toBe(1);
    expect(value('switchboard_session_resumes_total{outcome="refused"}')).toBe(1);
    expect(value('switchboard_session_detached_ends_total{reason="limit"}')).toBe(1);
    expect(value('switchboard_limits_exceeded_total{limit="maxDetachedSessions"}')).toBe(1);
    expect(value('switchboard_resume_answers_resent_total')).toBe(0);
    expect(text).toMatch(/^switchboard_sessions_detached \d+$/m);
  });
});
