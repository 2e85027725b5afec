/**
 * Session resumption across the cluster (#18), end to end: two routers in this process, nodes of
 * one cluster over a real nats-server (test/support/cluster.ts), and raw-frame clients. A session
 * detached on node A resumes on node B with its ID, subscriptions, registrations and the calls it
 * made on A; a resume of a session still attached on A closes A's transport; an expiry racing a
 * resume has one winner; a wrong token is refused on B.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RealmFile, Router } from '@switchboard/router';
import { clusterNodeConfig, startNats } from '../../../test/support/cluster.js';
import type { NatsServer } from '../../../test/support/cluster.js';
import { RawPeer, startTestRouter, until } from '../helpers.js';
import { drop, held, request } from '../resumption/support.js';
import { kvReader, waitFor } from './cluster-state.js';

const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

/** A cluster node in this process (heartbeats every 300 ms, dead after 1.5 s of silence). */
function node(nats: NatsServer, name: string, realms: RealmFile[] = [{ name: 'realm1' }]): Promise<Router> {
  return startTestRouter(clusterNodeConfig({ natsUrl: nats.url, node: name, realms }));
}

/** Two nodes on a fresh nats-server. */
async function twoNodes(realms?: RealmFile[]): Promise<{ a: Router; b: Router; natsUrl: string }> {
  const nats = await startNats();
  const a = await node(nats, 'node-a', realms);
  const b = await node(nats, 'node-b', realms);
  return { a, b, natsUrl: nats.url };
}

interface Joined {
  peer: RawPeer;
  session: number;
  details: Record<string, unknown>;
}

/** HELLO (with more details) → WELCOME. */
async function hello(url: string, details: Record<string, unknown> = {}, realm: string | null = 'realm1'): Promise<Joined> {
  const peer = await RawPeer.connect(url);
  peer.send([MessageCode.Hello, realm, realm === null ? details : { roles: ROLES, ...details }]);
  const welcome = await peer.next(10_000);
  if (welcome[0] !== MessageCode.Welcome) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
  return { peer, session: welcome[1] as number, details: welcome[2] as Record<string, unknown> };
}

/** A resumable session's WELCOME details, checked. */
async function resumable(url: string): Promise<Joined & { token: string }> {
  const joined = await hello(url, { resumable: true });
  expect(joined.details).toMatchObject({ resumable: true, resumed: false });
  return { ...joined, token: joined.details['resume-token'] as string };
}

/** Publishes (acknowledged) until `subscriber` gets the EVENT: interest crosses the cluster in its own time. */
async function eventReaches(publisher: RawPeer, subscriber: RawPeer, topic: string): Promise<unknown[]> {
  const end = Date.now() + 10_000;
  for (let i = 0; ; i++) {
    const published = await request(publisher, [MessageCode.Publish, publisher.nextRequest(), { acknowledge: true }, topic, [i]]);
    expect(published[0]).toBe(MessageCode.Published);
    try {
      return await subscriber.next((m) => m[0] === MessageCode.Event, 100);
    } catch (err) {
      if (Date.now() > end) throw err;
    }
  }
}

/** Calls until the procedure is known where `caller` is (a registration travels through the bucket). */
async function callWhenKnown(caller: RawPeer, procedure: string, callee: RawPeer): Promise<unknown[]> {
  const end = Date.now() + 10_000;
  for (;;) {
    const id = caller.nextRequest();
    caller.send([MessageCode.Call, id, {}, procedure, ['ping']]);
    const first = await Promise.race([
      callee.next((m) => m[0] === MessageCode.Invocation, 10_000),
      caller.next((m) => m[0] === MessageCode.Error && m[2] === id, 10_000),
    ]);
    if (first[0] === MessageCode.Invocation) {
      callee.send([MessageCode.Yield, first[1], {}, ['pong']]);
      return caller.next((m) => m[0] === MessageCode.Result && m[1] === id, 10_000);
    }
    if (first[4] !== 'wamp.error.no_such_procedure' || Date.now() > end) throw new Error(`call failed: ${JSON.stringify(first)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('cluster: session resumption across nodes', () => {
  it('a session detached on A resumes on B: same ID, subscription, registration, and a call it made on A answered after the move', async () => {
    const { a, b } = await twoNodes();
    const topic = `com.resume.t${randomBytes(4).toString('hex')}`;
    const procedure = `com.resume.p${randomBytes(4).toString('hex')}`;
    const slow = `com.resume.slow${randomBytes(4).toString('hex')}`;

    const p = await resumable(a.url);
    const subscribed = await request(p.peer, [MessageCode.Subscribe, 1, {}, topic]);
    expect(subscribed[0]).toBe(MessageCode.Subscribed);
    expect((await request(p.peer, [MessageCode.Register, 2, {}, procedure]))[0]).toBe(MessageCode.Registered);
    // A callee on A that answers only after the move.
    const callee = await hello(a.url);
    expect((await request(callee.peer, [MessageCode.Register, 1, {}, slow]))[0]).toBe(MessageCode.Registered);
    p.peer.send([MessageCode.Call, 3, {}, slow, ['later']]);
    const invocation = await callee.peer.next((m) => m[0] === MessageCode.Invocation, 10_000);

    await drop(p.peer);
    await until(() => held(a, p.session)?.attached === false, 5000, 'the session to detach on A');
    // Two events published on A while it is detached: missed, and said so on B.
    const publisher = await hello(a.url);
    for (let i = 0; i < 2; i++) {
      const request = publisher.peer.nextRequest();
      publisher.peer.send([MessageCode.Publish, request, { acknowledge: true }, topic, ['missed']]);
      expect((await publisher.peer.next((m) => m[0] === MessageCode.Published && m[1] === request, 10_000))[0]).toBe(MessageCode.Published);
    }

    const resumed = await hello(b.url, { resumable: true, 'resume-session': p.session, 'resume-token': p.token, 'resume-answers': 2 });
    expect(resumed.session).toBe(p.session);
    expect(resumed.details).toMatchObject({ resumed: true, resumable: true, 'resume-last-request': 3, 'resume-missed': { [String(subscribed[2])]: 2 } });
    expect(resumed.details['resume-token']).not.toBe(p.token);
    expect(held(a, p.session)).toBeUndefined();
    expect(held(b, p.session)?.attached).toBe(true);

    // The call made on A resolves on B.
    callee.peer.send([MessageCode.Yield, invocation[1], {}, ['done']]);
    const result = await resumed.peer.next((m) => m[0] === MessageCode.Result, 10_000);
    expect(result).toEqual([MessageCode.Result, 3, {}, ['done']]);

    // Its subscription still receives what is published on A.
    const event = await eventReaches(publisher.peer, resumed.peer, topic);
    expect(event[4]).toEqual([expect.any(Number)]);

    // Its registration is still callable from A.
    const caller = await hello(a.url);
    expect(await callWhenKnown(caller.peer, procedure, resumed.peer)).toEqual([MessageCode.Result, expect.any(Number), {}, ['pong']]);

    // The cluster's session registry has it again, on B (A deleted its record at the move):
    // wamp.session.get on A finds it, and keeps finding it.
    const get = async (): Promise<unknown[]> => request(caller.peer, [MessageCode.Call, caller.peer.nextRequest(), {}, 'wamp.session.get', [p.session]]);
    const end = Date.now() + 10_000;
    let got = await get();
    while (got[0] !== MessageCode.Result && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      got = await get();
    }
    expect(got[0]).toBe(MessageCode.Result);
    expect((got[3] as unknown[])[0]).toMatchObject({ session: p.session });
    await new Promise((r) => setTimeout(r, 300));
    expect((await get())[0]).toBe(MessageCode.Result);
  });

  it('a resume on B of a session still attached on A closes A’s transport', async () => {
    const { a, b, natsUrl } = await twoNodes();
    const p = await resumable(a.url);
    // Node A records the resumable session in the bucket after its WELCOME: a resume on B before the
    // record is there is refused (CI once got there first under load).
    const state = await kvReader(natsUrl);
    await waitFor(async () => (await state()).buckets.resumable.has(String(p.session)), "the session's record in the resumable bucket");
    const resumed = await hello(b.url, { resumable: true, 'resume-session': p.session, 'resume-token': p.token });
    expect(resumed.session).toBe(p.session);
    expect(resumed.details['resumed']).toBe(true);
    const closed = await p.peer.waitClosed(5000);
    expect(closed.code).toBe(1000);
    expect(held(a, p.session)).toBeUndefined();
    // One transport at a time: the session answers on B.
    expect((await request(resumed.peer, [MessageCode.Subscribe, 1, {}, 'com.resume.after']))[0]).toBe(MessageCode.Subscribed);
  });

  it('a wrong token is refused on B: ABORT no_such_session (dedicated), a new session (opportunistic); the session stays on A', async () => {
    const { a, b } = await twoNodes();
    const p = await resumable(a.url);
    await drop(p.peer);
    await until(() => held(a, p.session)?.attached === false, 5000, 'the session to detach on A');
    const wrong = randomBytes(16).toString('base64');

    const dedicated = await RawPeer.connect(b.url);
    dedicated.send([MessageCode.Hello, null, { 'resume-session': p.session, 'resume-token': wrong }]);
    const abort = await dedicated.next(10_000);
    expect(abort).toEqual([MessageCode.Abort, { message: 'no resumable session matches' }, 'wamp.error.no_such_session']);

    const opportunistic = await hello(b.url, { resumable: true, 'resume-session': p.session, 'resume-token': wrong });
    expect(opportunistic.session).not.toBe(p.session);
    expect(opportunistic.details).toMatchObject({ resumed: false, resumable: true });

    expect(held(a, p.session)?.attached).toBe(false);
    // The right token still works.
    const resumed = await hello(b.url, { resumable: true, 'resume-session': p.session, 'resume-token': p.token });
    expect(resumed.session).toBe(p.session);
  });

  it('a resuming connection that closes while B takes the session over: B adopts it anyway (detached), and it resumes again with the same token', async () => {
    const { a, b } = await twoNodes();
    const p = await resumable(a.url);
    const topic = `com.resume.gone${randomBytes(4).toString('hex')}`;
    expect((await request(p.peer, [MessageCode.Subscribe, 1, {}, topic]))[0]).toBe(MessageCode.Subscribed);
    await drop(p.peer);
    await until(() => held(a, p.session)?.attached === false, 5000, 'the session to detach on A');

    // The HELLO goes out, then the connection closes at once: the take (bucket read, claim, hand-over
    // request to A) is still in flight when B sees the close.
    const gone = await RawPeer.connect(b.url);
    gone.send([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true, 'resume-session': p.session, 'resume-token': p.token }]);
    gone.close();
    await gone.waitClosed();
    await until(() => held(b, p.session) !== undefined, 10_000, 'the session to be adopted on B');
    expect(held(b, p.session)?.attached).toBe(false);
    expect(held(a, p.session)).toBeUndefined();

    // Not lost: the client resumes it with the token it holds, on B, subscription and all.
    const resumed = await hello(b.url, { resumable: true, 'resume-session': p.session, 'resume-token': p.token });
    expect(resumed.session).toBe(p.session);
    expect(resumed.details).toMatchObject({ resumed: true, 'resume-last-request': 1 });
    const publisher = await hello(a.url);
    expect((await eventReaches(publisher.peer, resumed.peer, topic))[0]).toBe(MessageCode.Event);
  });

  it('an expiry racing a resume has one winner', async () => {
    const window = 400;
    const { a, b } = await twoNodes([{ name: 'realm1', limits: { resumeWindowMs: window } }]);
    const outcomes = { resumed: 0, refused: 0 };
    // Resumes sent around the expiry: before, at, and after it.
    for (const delay of [window - 150, window - 50, window - 10, window, window + 10, window + 50, window + 200]) {
      const p = await resumable(a.url);
      await drop(p.peer);
      await until(() => held(a, p.session)?.attached === false, 5000, 'the session to detach on A');
      await new Promise((r) => setTimeout(r, delay));
      const attempt = await hello(b.url, { resumable: true, 'resume-session': p.session, 'resume-token': p.token });
      if (attempt.session === p.session) {
        outcomes.resumed++;
        expect(attempt.details['resumed']).toBe(true);
        // Handed over: A holds it no more, and never expires it.
        expect(held(a, p.session)).toBeUndefined();
        await new Promise((r) => setTimeout(r, window));
        expect(held(b, p.session)?.attached).toBe(true);
      } else {
        outcomes.refused++;
        expect(attempt.details['resumed']).toBe(false);
        await until(() => held(a, p.session) === undefined, 5000, 'the session to expire on A');
        expect(held(b, p.session)).toBeUndefined();
      }
      attempt.peer.close();
    }
    // Both sides of the race were reached.
    expect(outcomes.resumed).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
