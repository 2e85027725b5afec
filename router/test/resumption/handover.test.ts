/**
 * A session moving between two routers [ap_session_resumption]: what the cluster does over NATS
 * (cluster/resume.ts), done here in one process — the taker's ResumeSource calls the holder's
 * `handOver` and carries its forwarded answers to the taker's `deliver` — with raw-frame clients.
 * A call made before the move resolves on the new router (progressive results in order), the
 * routes work there, and the move is no leave and no join: on_detach there (it was attached),
 * on_attach resumed here, never on_leave or on_join.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import { RawPeer, startTestRouter, until } from '../helpers.js';
import { cut, dedicated, details, expectResumed, joinResumable, opportunistic } from './support.js';

/** Two routers; the taker takes sessions from the holder as a cluster node would. */
async function pair(): Promise<{ holder: Router; taker: Router }> {
  const holder = await startTestRouter({ realms: [{ name: 'realm1' }] });
  const taker = await startTestRouter({ realms: [{ name: 'realm1' }] });
  taker.resumption.resumeSource = {
    issued: () => undefined,
    ended: () => undefined,
    take: async (request) => holder.resumption.handOver(request.session, (msg) => void taker.resumption.deliver(request.session, msg)),
  };
  return { holder, taker };
}

/** The args of an EVENT of subscription `sub` (fails on anything else). */
function eventOf(m: unknown[], sub: unknown): unknown {
  expect(m[0]).toBe(MessageCode.Event);
  expect(m[1]).toBe(sub);
  return m[4];
}

const isEvent = (topicSub: number) => (m: unknown[]) => m[0] === MessageCode.Event && m[1] === topicSub;

describe('a session moved to another router', () => {
  it('gets the answers of a call made before the move on the new router, progressive results in order', async () => {
    const { holder, taker } = await pair();
    const callee = await RawPeer.join(holder.url);
    callee.send([MessageCode.Register, 1, {}, 'com.slow']);
    const registered = await callee.next();
    expect(registered[0]).toBe(MessageCode.Registered);

    const mover = await joinResumable(holder.url);
    mover.send([MessageCode.Call, 1, { receive_progress: true }, 'com.slow', ['x']]);
    const invocation = await callee.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    const invocationId = invocation[1] as number;

    await cut(holder, mover);
    const { peer, answer } = await opportunistic(taker.url, mover.session, mover.token, { 'resume-answers': 0 });
    expect(expectResumed(answer, mover.session)['resume-last-request']).toBe(1);
    expect(holder.realm('realm1')!.sessions.has(mover.session as never)).toBe(false);
    expect(taker.realm('realm1')!.sessions.get(mover.session as never)?.attached).toBe(true);

    // A CANCEL on the new router for the call still running on the old one: unknown here, ignored
    // (no ERROR answers a CANCEL); the call goes on there and its answers still arrive.
    peer.send([MessageCode.Cancel, 1, {}]);
    // The callee on the old router answers after the move: progress, progress, final.
    callee.send([MessageCode.Yield, invocationId, { progress: true }, ['p1']]);
    callee.send([MessageCode.Yield, invocationId, { progress: true }, ['p2']]);
    callee.send([MessageCode.Yield, invocationId, {}, ['done']]);
    expect(await peer.next()).toEqual([MessageCode.Result, 1, { progress: true }, ['p1']]);
    expect(await peer.next()).toEqual([MessageCode.Result, 1, { progress: true }, ['p2']]);
    expect(await peer.next()).toEqual([MessageCode.Result, 1, {}, ['done']]);

    // Numbered here as the session's own answers: a resume on the new router that says it got them resends none.
    const session = taker.realm('realm1')!.sessions.get(mover.session as never) as unknown as { ring: { seq: number } };
    expect(session.ring.seq).toBe(3);
  });

  it('answers kept for a moved session that is detached there go out at its resume', async () => {
    const { holder, taker } = await pair();
    const callee = await RawPeer.join(holder.url);
    callee.send([MessageCode.Register, 1, {}, 'com.proc']);
    await callee.next();
    const mover = await joinResumable(holder.url);
    mover.send([MessageCode.Call, 1, {}, 'com.proc', []]);
    const invocation = await callee.next();
    await cut(holder, mover);
    // Answered while detached, before the move: the snapshot carries it.
    callee.send([MessageCode.Yield, invocation[1], {}, ['before']]);
    await until(
      () => (holder.realm('realm1')!.sessions.get(mover.session as never) as unknown as { ring: { seq: number } }).ring.seq === 1,
      3000,
      'the answer kept',
    );
    const { peer, answer } = await dedicated(taker.url, mover.session, mover.token);
    expectResumed(answer, mover.session);
    expect(await peer.next()).toEqual([MessageCode.Result, 1, {}, ['before']]);
  });

  it('keeps its subscriptions and registrations there, and the move is no leave and no join', async () => {
    const { holder, taker } = await pair();
    // The watchers take subscription IDs 1 and 2 on each router: the mover's is 3 on both
    // (a cluster derives route IDs from the URI, so there they match whatever the order).
    const watchA = await RawPeer.join(holder.url);
    watchA.send([MessageCode.Subscribe, 1, {}, 'wamp.session.on_leave']);
    watchA.send([MessageCode.Subscribe, 2, {}, 'wamp.session.on_detach']);
    const leaveSub = (await watchA.next())[2];
    const detachSub = (await watchA.next())[2];
    const watchB = await RawPeer.join(taker.url);
    watchB.send([MessageCode.Subscribe, 1, {}, 'wamp.session.on_join']);
    watchB.send([MessageCode.Subscribe, 2, {}, 'wamp.session.on_attach']);
    const joinSub = (await watchB.next())[2] as number;
    const attachSub = (await watchB.next())[2] as number;

    const mover = await joinResumable(holder.url);
    mover.send([MessageCode.Subscribe, 1, {}, 'com.topic']);
    mover.send([MessageCode.Register, 2, {}, 'com.mover']);
    const subscribed = await mover.next();
    const registered = await mover.next();
    expect(subscribed[0]).toBe(MessageCode.Subscribed);
    expect(registered[0]).toBe(MessageCode.Registered);

    // Resumed on the taker while still attached to the holder: the holder closes its transport.
    const { peer, answer } = await dedicated(taker.url, mover.session, mover.token);
    expectResumed(answer, mover.session);
    expect((await mover.waitClosed()).code).toBe(1000);
    expect(holder.realm('realm1')!.dealer.lookup('com.mover', 'exact')).toBeUndefined();

    // on_attach resumed on the taker, and no on_join for the mover.
    const attached = await watchB.next(isEvent(attachSub));
    expect(attached[4]).toEqual([expect.objectContaining({ session: mover.session, resumed: true })]);

    // Its subscription and registration work there, with the IDs the client knows.
    const other = await RawPeer.join(taker.url);
    other.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.topic', ['hello']]);
    const event = await peer.next();
    expect(event[0]).toBe(MessageCode.Event);
    expect(event[1]).toBe(subscribed[2]);
    expect(event[4]).toEqual(['hello']);
    other.send([MessageCode.Call, 2, {}, 'com.mover', [1]]);
    const invocation = await peer.next((m) => m[0] === MessageCode.Invocation);
    expect(invocation[2]).toBe(registered[2]);
    peer.send([MessageCode.Yield, invocation[1], {}, ['served']]);
    expect(await other.next((m) => m[0] === MessageCode.Result)).toEqual([MessageCode.Result, 2, {}, ['served']]);

    // A sentinel's leave on the holder and join on the taker come after whatever the move sent.
    const sentinelA = await RawPeer.join(holder.url);
    sentinelA.close();
    const seenA: unknown[][] = [];
    for (;;) {
      const m = await watchA.next((f) => f[0] === MessageCode.Event);
      seenA.push(m);
      if (m[1] === leaveSub && (m[4] as unknown[])[0] === sentinelA.session) break;
    }
    const leaves = seenA.filter((m) => m[1] === leaveSub).map((m) => (m[4] as unknown[])[0]);
    expect(leaves).toEqual([sentinelA.session]);
    const detaches = seenA.filter((m) => m[1] === detachSub).map((m) => (m[4] as Record<string, unknown>[])[0]!['session']);
    expect(detaches).toContain(mover.session);

    const sentinelB = await RawPeer.join(taker.url);
    const joins: unknown[] = [];
    for (;;) {
      const m = await watchB.next(isEvent(joinSub));
      const id = (m[4] as Record<string, unknown>[])[0]!['session'];
      joins.push(id);
      if (id === sentinelB.session) break;
    }
    expect(joins).not.toContain(mover.session);
    expect(details(answer)['resumed']).toBe(true);
  });

  it('the old router forgets it: a second hand-over finds nothing, and its ID is free there', async () => {
    const { holder, taker } = await pair();
    const mover = await joinResumable(holder.url);
    await cut(holder, mover);
    const { answer } = await dedicated(taker.url, mover.session, mover.token);
    expectResumed(answer, mover.session);
    expect(holder.resumption.handOver(mover.session as never, () => undefined)).toBeUndefined();
    expect(holder.resumption.size).toBe(0);
    expect(holder.resumption.detachedCount).toBe(0);
    expect(taker.resumption.size).toBe(1);
  });
  it('takes its testaments of scope destroyed along: published when it ends on the new router, not at the move', async () => {
    const { holder, taker } = await pair();
    const watchA = await RawPeer.join(holder.url);
    watchA.send([MessageCode.Subscribe, 1, {}, 'com.will']);
    const subA = (await watchA.next())[2];
    const watchB = await RawPeer.join(taker.url);
    watchB.send([MessageCode.Subscribe, 1, {}, 'com.will']);
    const subB = (await watchB.next())[2];

    const mover = await joinResumable(holder.url);
    mover.send([MessageCode.Call, 1, {}, 'wamp.session.add_testament', ['com.will', ['gone'], {}]]);
    expect((await mover.next())[0]).toBe(MessageCode.Result);
    mover.send([MessageCode.Call, 2, {}, 'wamp.session.add_testament', ['com.will', ['cut'], {}], { scope: 'detached' }]);
    expect((await mover.next())[0]).toBe(MessageCode.Result);

    // Moved while attached: the detached one fires on the holder at the detach; the destroyed one moves.
    const { peer, answer } = await dedicated(taker.url, mover.session, mover.token);
    expectResumed(answer, mover.session);
    expect(eventOf(await watchA.next(), subA)).toEqual(['cut']);
    // A publication after the move on the holder comes next there: the move published nothing else.
    const other = await RawPeer.join(holder.url);
    other.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.will', ['sentinel']]);
    expect(eventOf(await watchA.next(), subA)).toEqual(['sentinel']);

    // It ends on the taker: its testament is published there.
    peer.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect(eventOf(await watchB.next(), subB)).toEqual(['gone']);
  });
});
