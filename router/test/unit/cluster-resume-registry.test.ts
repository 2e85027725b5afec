/**
 * The registry's side of resumption across the cluster (resumption.ts with a fake ResumeSource,
 * an injected clock, real Connections on fake peers): an expiry asks the source first, so that a
 * record claimed by another node is handed over instead of expired; a handed-over session's calls
 * as caller run on and their answers are forwarded.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { SessionId, WampMessage } from '@switchboard/schemas';
import { Connection } from '../../src/connection.js';
import type { ResumeSource } from '../../src/core/resume.js';
import { Resumption } from '../../src/resumption.js';
import { silentLogger } from '../../src/log.js';
import { fakeCore, FakePeer, ManualClock } from './fakes.js';

const ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };

function setup(expire?: (session: SessionId) => Promise<boolean>) {
  const base = fakeCore();
  Object.assign(base.realm1.quotas.limits, { resumeWindowMs: 5000 });
  const clock = new ManualClock();
  const core = { ...base, resumption: new Resumption({ stats: base.stats, log: silentLogger(), clock }) };
  const asked: SessionId[] = [];
  const source: ResumeSource = {
    issued: () => undefined,
    ended: () => undefined,
    take: async () => undefined,
    ...(expire !== undefined && {
      expire: (session: SessionId) => {
        asked.push(session);
        return expire(session);
      },
    }),
  };
  core.resumption.resumeSource = source;
  const anonymous = {
    method: 'anonymous',
    authenticate: () => ({ kind: 'accept' as const, principal: { authid: 'anon', authrole: 'anonymous', authprovider: 'static' } }),
  };
  const open = () => {
    const peer = new FakePeer();
    const connection = new Connection(peer, core, new Map([['anonymous', anonymous]]));
    connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, resumable: true }]);
    return { peer, connection, session: connection.session! };
  };
  return { core, clock, open, asked };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('expiry in a cluster', () => {
  it('the source says the record was claimed: the session is kept for the hand-over, and ended if the claimer never asks', async () => {
    const { core, clock, open, asked } = setup(async () => false);
    const { connection, session } = open();
    connection.onClose();
    clock.advance(5000);
    await settle();
    expect(asked).toEqual([session.id]);
    expect(session.live).toBe(true);
    expect(core.stats.detachedEnds.get('expired')).toBeUndefined();
    // The source gives up on the claimer.
    core.resumption.expire(session.id);
    expect(session.live).toBe(false);
    expect(core.stats.detachedEnds.get('expired')).toBe(1);
  });

  it('the source deleted the record: the session expires as a leave', async () => {
    const { core, clock, open } = setup(async () => true);
    const { connection, session } = open();
    connection.onClose();
    clock.advance(5000);
    await settle();
    expect(session.live).toBe(false);
    expect(core.realm1.sessions.has(session.id)).toBe(false);
    expect(core.stats.detachedEnds.get('expired')).toBe(1);
  });

  it('a resume here while the source decides: the session stays, resumed', async () => {
    let decide: (mayEnd: boolean) => void = () => undefined;
    const { core, clock, open } = setup(() => new Promise((resolve) => (decide = resolve)));
    const first = open();
    const token = (first.peer.received[0]![2] as { 'resume-token': string })['resume-token'];
    first.connection.onClose();
    clock.advance(5000);
    const second = new Connection(
      new FakePeer(),
      core,
      new Map([
        [
          'anonymous',
          {
            method: 'anonymous',
            authenticate: () => ({ kind: 'accept' as const, principal: { authid: 'anon', authrole: 'anonymous', authprovider: 'static' } }),
          },
        ],
      ]),
    );
    second.onFrame([MessageCode.Hello, null, { 'resume-session': first.session.id, 'resume-token': token }]);
    expect(first.session.attached).toBe(true);
    decide(true);
    await settle();
    expect(first.session.live).toBe(true);
  });

  it('without expire on the source, the session expires at once', () => {
    const { clock, open } = setup();
    const { connection, session } = open();
    connection.onClose();
    clock.advance(5000);
    expect(session.live).toBe(false);
  });
});

describe('handOver', () => {
  it("the session's calls as caller run on: the callee's answer is forwarded, the callee is not interrupted", () => {
    const { core, open } = setup();
    const callee = open();
    callee.connection.onFrame([MessageCode.Register, 1, {}, 'com.slow']);
    const caller = open();
    caller.connection.onFrame([MessageCode.Call, 1, {}, 'com.slow', ['x']]);
    const invocation = callee.peer.received.find((m) => m[0] === MessageCode.Invocation)!;
    caller.connection.onClose();
    const forwarded: WampMessage[] = [];
    expect(core.resumption.handOver(caller.session.id, (msg) => void forwarded.push(msg))).toBeDefined();
    expect(callee.peer.received.some((m) => m[0] === MessageCode.Interrupt)).toBe(false);
    callee.connection.onFrame([MessageCode.Yield, invocation[1], {}, ['done']]);
    expect(forwarded).toEqual([{ code: MessageCode.Result, request: 1, details: {}, args: ['done'] }]);
  });

  it('keeps disclose_caller and forward_timeout of its registrations in the snapshot', () => {
    const { core, open } = setup();
    const callee = open();
    callee.connection.onFrame([MessageCode.Register, 1, { disclose_caller: true, invoke: 'roundrobin' }, 'com.p']);
    callee.connection.onClose();
    const snapshot = core.resumption.handOver(callee.session.id, () => undefined);
    expect(snapshot?.registrations).toEqual([
      { id: 1, procedure: 'com.p', match: 'exact', invoke: 'roundrobin', options: { invoke: 'roundrobin', disclose_caller: true } },
    ]);
  });
});
