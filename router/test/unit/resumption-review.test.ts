/**
 * Session resumption's bounds without sockets (review #18, F2, F6, F13, F14): the AnswerRing makes
 * room while detached from delivered answers only, and the realm's count of detached bytes is exact.
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import type { RequestId, WampMessage } from '@switchboard/schemas';
import { Connection } from '../../src/connection.js';
import { DEFAULT_REALM_LIMITS } from '../../src/limits.js';
import { AnswerRing, Resumption, answerBytes } from '../../src/resumption.js';
import { silentLogger } from '../../src/log.js';
import { fakeCore, FakePeer, ManualClock } from './fakes.js';

const ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };
const result = (request: number, arg = 'x'): WampMessage => ({ code: MessageCode.Result, request: request as RequestId, details: {}, args: [arg] });

function setup(limits: Record<string, number> = {}) {
  const base = fakeCore();
  Object.assign(base.realm1.quotas.limits, limits);
  const clock = new ManualClock();
  const core = { ...base, resumption: new Resumption({ stats: base.stats, log: silentLogger(), clock }) };
  const anonymous = {
    method: 'anonymous',
    authenticate: () => ({ kind: 'accept' as const, principal: { authid: 'anon', authrole: 'anonymous', authprovider: 'static' } }),
  };
  const join = () => {
    const peer = new FakePeer();
    const connection = new Connection(peer, core, new Map([['anonymous', anonymous]]));
    connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    return { peer, connection, session: connection.session! };
  };
  return { core, clock, join };
}

describe('AnswerRing while detached (F6)', () => {
  it('a full ring of delivered answers makes room for a new one: firstKept moves past them', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 3 });
    for (let i = 1; i <= 3; i++) ring.keep(result(i), true, false);
    const kept = ring.keep(result(4), false, true);
    expect(typeof kept).toBe('object');
    expect(ring.seq).toBe(4);
    expect(ring.length).toBe(3);
    expect(ring.firstKept).toBe(2);
    // A resume that lacks answer 1 is refused (nothing lost silently); one that has it gets 4 (and 2, 3).
    expect(ring.resumable(0)).toBe(false);
    expect(ring.resumable(3)).toBe(true);
    expect(ring.resumable(undefined)).toBe(true);
    expect(ring.toResend(undefined).map((k) => k.seq)).toEqual([4]);
  });

  it('only undelivered answers count against the bound: the session ends when they alone pass it', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 3 });
    ring.keep(result(1), true, false);
    ring.keep(result(2), false, false);
    ring.keep(result(3), true, false);
    // Room from delivered answers, wherever they are; the undelivered 2 stays.
    expect(typeof ring.keep(result(4), false, true)).toBe('object');
    expect(ring.firstKept).toBe(2);
    expect(typeof ring.keep(result(5), false, true)).toBe('object');
    expect(ring.firstKept).toBe(4);
    expect(ring.toResend(undefined).map((k) => k.seq)).toEqual([2, 4, 5]);
    // Three undelivered: a fourth passes the bound.
    expect(ring.keep(result(6), false, true)).toBe('maxResumeAnswers');
    expect(ring.seq).toBe(5);
  });

  it('bytes: delivered answers go first; undelivered bytes alone past maxResumeBytes end it', () => {
    const big = 'x'.repeat(400);
    const unit = answerBytes(result(1, big));
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeBytes: Math.floor(2.5 * unit) });
    ring.keep(result(1, big), true, false);
    ring.keep(result(2, big), true, false);
    expect(typeof ring.keep(result(3, big), false, true)).toBe('object');
    expect(ring.undeliveredBytes).toBe(unit);
    expect(typeof ring.keep(result(4, big), false, true)).toBe('object');
    expect(ring.firstKept).toBe(3);
    expect(ring.keep(result(5, big), false, true)).toBe('maxResumeBytes');
  });
});

describe('AnswerRing: loss and sizes (F13, F14)', () => {
  it('a resume that acknowledges past the last lost answer clears the loss; one short of it does not', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 1 });
    ring.keep(result(1), false, false);
    ring.keep(result(2), false, false);
    ring.keep(result(3), false, false);
    expect(ring.lost).toBe(true);
    ring.toResend(2);
    expect(ring.lost).toBe(false);
    ring.keep(result(4), false, false);
    expect(ring.lost).toBe(true);
    expect(ring.resumable(2)).toBe(false);
  });

  it("an ERROR's size counts its URI", () => {
    const error = (uri: string): WampMessage => ({ code: MessageCode.Error, requestType: MessageCode.Call, request: 1 as RequestId, details: {}, error: uri });
    expect(answerBytes(error('x'.repeat(1000))) - answerBytes(error(ErrorUri.InvalidArgument))).toBe(1000 - ErrorUri.InvalidArgument.length);
  });
});

describe("the realm's count of detached bytes (F2)", () => {
  it('is exact through overflows, resumes and expiries, and 0 once every detached session ended', () => {
    const { core, clock, join } = setup({ maxDetachedBytes: 2000, resumeWindowMs: 1000 });
    const count = () => core.resumption.detachedOf(core.realm1);
    // a: overflows at once.
    const a = join();
    a.connection.onClose();
    expect(a.session.send(result(1, 'x'.repeat(3000)))).toBe('gone');
    expect(a.session.live).toBe(false);
    expect(count()).toEqual({ sessions: 0, bytes: 0, addresses: 0 });
    // b: keeps one, overflows at the second.
    const b = join();
    b.connection.onClose();
    expect(b.session.send(result(1, 'y'.repeat(1500)))).toBe('sent');
    expect(count().bytes).toBe(answerBytes(result(1, 'y'.repeat(1500))));
    expect(b.session.send(result(2, 'z'.repeat(1500)))).toBe('gone');
    expect(b.session.live).toBe(false);
    expect(count()).toEqual({ sessions: 0, bytes: 0, addresses: 0 });
    // c: an answer sent to a closed transport, then detached: counted at the detach, released at the expiry.
    const c = join();
    c.peer.accepts = false;
    expect(c.session.send(result(1, 'w'.repeat(500)))).toBe('gone');
    c.connection.onClose();
    expect(count()).toMatchObject({ sessions: 1, bytes: answerBytes(result(1, 'w'.repeat(500))) });
    // d: delivered answers cost the realm nothing while detached.
    const d = join();
    expect(d.session.send(result(1, 'v'.repeat(1500)))).toBe('sent');
    d.connection.onClose();
    expect(d.session.live).toBe(true);
    expect(count().sessions).toBe(2);
    clock.advance(1000);
    expect(c.session.live).toBe(false);
    expect(d.session.live).toBe(false);
    expect(count()).toEqual({ sessions: 0, bytes: 0, addresses: 0 });
  });
});

describe('a token is usable once, even with an asynchronous recheck (F11)', () => {
  it('a second resume with the same token while the first is being checked is refused; the first resumes', async () => {
    const base = fakeCore();
    const core = { ...base, resumption: new Resumption({ stats: base.stats, log: silentLogger(), clock: new ManualClock() }) };
    // A transport-level method whose check answers later (a webhook-backed tls authenticator, say).
    const pending: Array<() => void> = [];
    const cookie = {
      method: 'cookie',
      authenticate: () =>
        new Promise<{ kind: 'accept'; principal: { authid: string; authrole: string; authprovider: string } }>((resolve) => {
          pending.push(() => resolve({ kind: 'accept', principal: { authid: 'joe', authrole: 'anonymous', authprovider: 'static' } }));
        }),
    };
    const open = () => {
      const peer = new FakePeer();
      return { peer, connection: new Connection(peer, core, new Map([['cookie', cookie]])) };
    };
    const first = open();
    first.connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true, authmethods: ['cookie'] }]);
    pending.shift()!();
    await until(() => first.connection.session !== undefined);
    const session = first.connection.session!;
    const token = (first.peer.received[0]![2] as { 'resume-token': string })['resume-token'];
    first.connection.onClose();

    const a = open();
    const b = open();
    a.connection.onFrame([MessageCode.Hello, null, { 'resume-session': session.id, 'resume-token': token }]);
    b.connection.onFrame([MessageCode.Hello, null, { 'resume-session': session.id, 'resume-token': token }]);
    // b is refused at once: a's recheck is pending.
    expect(b.peer.received[0]).toEqual([MessageCode.Abort, { message: 'no resumable session matches' }, ErrorUri.NoSuchSession]);
    expect(pending.length).toBe(1);
    pending.shift()!();
    await until(() => a.peer.received.length > 0);
    expect(a.peer.received[0]![0]).toBe(MessageCode.Welcome);
    expect(a.peer.received[0]![1]).toBe(session.id);
    // The token was used: once the client sent a message on a's attachment (it read the new
    // token), a third resume with it is refused too. (Before that it still works: F16 of the
    // client review, router/test/resumption/previous-token.test.ts.)
    a.connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.proof']);
    const c = open();
    c.connection.onFrame([MessageCode.Hello, null, { 'resume-session': session.id, 'resume-token': token }]);
    expect(c.peer.received[0]![0]).toBe(MessageCode.Abort);
  });
});

/** Waits (microtasks and timers) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}
