/**
 * Session resumption without sockets [ap_session_resumption]: the AnswerRing's bounds and what a
 * resume resends, and the registry's detach, expiry and resume with an injected clock, through a
 * real Connection on fake peers.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RequestId, WampMessage } from '@switchboard/schemas';
import { Connection, ConnectionState } from '../../src/connection.js';
import { DEFAULT_REALM_LIMITS } from '../../src/limits.js';
import { AnswerRing, Resumption, isAnswer, tokenMatches } from '../../src/resumption.js';
import { silentLogger } from '../../src/log.js';
import { fakeCore, FakeLocalPeer, FakePeer, ManualClock } from './fakes.js';

const ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };

const result = (request: number, arg = 'x'): WampMessage => ({ code: MessageCode.Result, request: request as RequestId, details: {}, args: [arg] });

describe('AnswerRing', () => {
  it('numbers answers; attached, the oldest go past maxResumeAnswers and a resume needing them is refused', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 2 });
    for (let i = 1; i <= 3; i++) ring.keep(result(i), true, false);
    expect(ring.seq).toBe(3);
    expect(ring.length).toBe(2);
    expect(ring.firstKept).toBe(2);
    expect(ring.resumable(0)).toBe(false);
    expect(ring.resumable(1)).toBe(true);
    expect(ring.resumable(4)).toBe(false);
    expect(ring.resumable(undefined)).toBe(true);
    expect(ring.toResend(1).map((k) => k.seq)).toEqual([2, 3]);
    expect(ring.toResend(2).map((k) => k.seq)).toEqual([3]);
    expect(ring.length).toBe(1);
  });

  it('detached: an answer past a bound is refused, never kept', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 1, maxResumeBytes: 1024 });
    expect(typeof ring.keep(result(1), false, true)).toBe('object');
    expect(ring.keep(result(2), false, true)).toBe('maxResumeAnswers');
    const bytes = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeBytes: 1024 });
    expect(bytes.keep(result(1, 'x'.repeat(2000)), false, true)).toBe('maxResumeBytes');
    expect(bytes.seq).toBe(0);
  });

  it('without resume-answers resends what never reached an open transport; losing one refuses', () => {
    const ring = new AnswerRing({ ...DEFAULT_REALM_LIMITS, maxResumeAnswers: 2 });
    ring.keep(result(1), true, false);
    ring.keep(result(2), false, false);
    expect(ring.toResend(undefined).map((k) => k.seq)).toEqual([2]);
    ring.keep(result(3), true, false);
    ring.keep(result(4), true, false);
    expect(ring.lost).toBe(true);
    expect(ring.resumable(undefined)).toBe(false);
  });

  it('classifies answers as the design says', () => {
    for (const code of [
      MessageCode.Result,
      MessageCode.Error,
      MessageCode.Published,
      MessageCode.Subscribed,
      MessageCode.Unsubscribed,
      MessageCode.Registered,
      MessageCode.Unregistered,
    ]) {
      expect(isAnswer(code)).toBe(true);
    }
    for (const code of [
      MessageCode.Event,
      MessageCode.Invocation,
      MessageCode.Interrupt,
      MessageCode.Welcome,
      MessageCode.Challenge,
      MessageCode.Goodbye,
      MessageCode.Abort,
    ]) {
      expect(isAnswer(code)).toBe(false);
    }
  });

  it('compares tokens as base64 of exactly 16 octets', () => {
    const octets = Buffer.alloc(16, 7);
    expect(tokenMatches(octets.toString('base64'), octets)).toBe(true);
    expect(tokenMatches(Buffer.alloc(16, 8).toString('base64'), octets)).toBe(false);
    expect(tokenMatches(Buffer.alloc(15, 7).toString('base64'), octets)).toBe(false);
    expect(tokenMatches('not base64!', octets)).toBe(false);
  });
});

function setup(limits: Record<string, number> = {}) {
  const base = fakeCore();
  Object.assign(base.realm1.quotas.limits, limits);
  const clock = new ManualClock();
  const core = { ...base, resumption: new Resumption({ stats: base.stats, log: silentLogger(), clock }) };
  const anonymous = {
    method: 'anonymous',
    authenticate: () => ({ kind: 'accept' as const, principal: { authid: 'anon', authrole: 'anonymous', authprovider: 'static' } }),
  };
  const open = (peer = new FakePeer()) => ({ peer, connection: new Connection(peer, core, new Map([['anonymous', anonymous]])) });
  return { core, clock, open };
}

describe('Resumption', () => {
  it('a closed transport detaches; the session expires after resumeWindowMs exactly as a leave', () => {
    const { core, clock, open } = setup({ resumeWindowMs: 5000 });
    const { peer, connection } = open();
    connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    const session = connection.session!;
    expect(peer.received[0]![2]).toMatchObject({ resumable: true, resumed: false });
    connection.onClose();
    expect(session.attached).toBe(false);
    expect(session.live).toBe(true);
    expect(core.stats.sessionsDetached).toBe(1);
    clock.advance(4999);
    expect(core.realm1.sessions.get(session.id)).toBe(session);
    clock.advance(1);
    expect(session.live).toBe(false);
    expect(core.realm1.sessions.has(session.id)).toBe(false);
    expect(core.stats.sessionsDetached).toBe(0);
    expect(core.stats.detachedEnds.get('expired')).toBe(1);
    expect(core.resumption.size).toBe(0);
  });

  it('an answer sent to a transport already closed is resent at the resume', () => {
    const { core, open } = setup();
    const first = open();
    first.connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    const session = first.connection.session!;
    const token = first.peer.received[0]![2] as { 'resume-token': string };
    first.peer.accepts = false;
    expect(session.send(result(1, 'lost'))).toBe('gone');
    first.connection.onClose();
    const second = open();
    second.connection.onFrame([MessageCode.Hello, null, { 'resume-session': session.id, 'resume-token': token['resume-token'] }]);
    expect(second.connection.state).toBe(ConnectionState.Established);
    expect(second.peer.received.map((m) => m[0])).toEqual([MessageCode.Welcome, MessageCode.Result]);
    expect(second.peer.received[1]).toEqual([MessageCode.Result, 1, {}, ['lost']]);
    expect(core.stats.resumeAnswersResent).toBe(1);
  });

  it('an in-process peer is never resumable', () => {
    const { core, open } = setup();
    const { peer, connection } = open(new FakeLocalPeer());
    connection.onMessage({ code: MessageCode.Hello, realm: 'realm1', details: { roles: ROLES, resumable: true } });
    expect((peer as FakeLocalPeer).messages[0]).toMatchObject({ code: MessageCode.Welcome, details: { resumable: false, resumed: false } });
    connection.onClose();
    expect(core.realm1.sessions.size).toBe(0);
  });

  it('maxDetachedBytes: an answer kept past it ends the detached session (overflow)', () => {
    const { core, open } = setup({ maxDetachedBytes: 1024 });
    const { connection } = open();
    connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    const session = connection.session!;
    connection.onClose();
    expect(session.send(result(1, 'x'.repeat(100)))).toBe('sent');
    expect(session.send(result(2, 'x'.repeat(2000)))).toBe('gone');
    expect(session.live).toBe(false);
    expect(core.stats.limitsExceeded.get('maxDetachedBytes')).toBe(1);
    expect(core.stats.detachedEnds.get('overflow')).toBe(1);
  });
});

describe('handOver and adopt (the cluster moves a session)', () => {
  it('the holding node gives the session up with its snapshot; the new node adopts it and the resume attaches it', async () => {
    const holder = setup();
    const taker = setup();
    const first = holder.open();
    first.connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    const session = first.connection.session!;
    const token = (first.peer.received[0]![2] as { 'resume-token': string })['resume-token'];
    first.connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.topic']);
    first.connection.onClose();
    const forwarded: WampMessage[] = [];
    const snapshots: unknown[] = [];
    taker.core.resumption.resumeSource = {
      issued: () => undefined,
      ended: () => undefined,
      taking: () => true,
      take: async (request) => {
        const snapshot = holder.core.resumption.handOver(request.session, (msg) => void forwarded.push(msg));
        snapshots.push(snapshot?.subscriptions);
        // A forwarded answer that arrives before the adopt, while the take is in flight, waits for
        // it (resumption.ts deliver); only for a call the snapshot lists as left running there
        // (here, as if call 7 was), from the node it came from.
        expect(taker.core.resumption.deliver(request.session, result(7, 'early'), 'a')).toBe(true);
        expect(taker.core.resumption.deliver(request.session, result(8, 'not a call of it'), 'a')).toBe(true);
        return snapshot === undefined ? undefined : { ...snapshot, calls: [7], from: 'a' };
      },
    };
    const second = taker.open();
    second.connection.onFrame([MessageCode.Hello, null, { 'resume-session': session.id, 'resume-token': token }]);
    await until(() => second.connection.state === ConnectionState.Established);
    expect(second.peer.received[0]).toMatchObject([MessageCode.Welcome, session.id, { resumed: true, 'resume-last-request': 1 }]);
    // The early answer, numbered after the SUBSCRIBED the snapshot carried (delivered there: not resent).
    expect(second.peer.received.slice(1)).toEqual([[MessageCode.Result, 7, {}, ['early']]]);
    expect(holder.core.realm1.sessions.has(session.id)).toBe(false);
    expect(holder.core.stats.sessionsDetached).toBe(0);
    const moved = taker.core.realm1.sessions.get(session.id)!;
    expect(moved.attached).toBe(true);
    expect(moved.identity).toEqual(session.identity);
    expect(snapshots).toEqual([[{ id: 1, topic: 'com.topic', match: 'exact', options: {}, missed: 0 }]]);
    // adopt subscribed it again, with the same ID.
    expect([...taker.core.realm1.broker.subscriptionsOf(moved)].map((s) => [s.id, s.topic])).toEqual([[1, 'com.topic']]);
    expect(holder.core.realm1.broker.subscriptionsOf(session).size).toBe(0);
    expect(taker.core.stats.sessionsDetached).toBe(0);
    expect(holder.core.resumption.handOver(session.id, () => undefined)).toBeUndefined();
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await Promise.resolve();
  expect(condition()).toBe(true);
}
