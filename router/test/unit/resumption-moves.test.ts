/**
 * A session moving back and forth between cluster nodes while its calls run (issue #19's flake of
 * test/resume-chaos-cluster.test.ts): the registries of two nodes (resumption.ts), real
 * Connections on fake peers, and a fake ResumeSource that runs the holding node's hand-over inside
 * the take and delivers forwarded answers at once, so that each interleaving is staged in order,
 * without NATS, sockets or sleeps.
 *
 * The hole it pins: while a node takes a session back (A → B → A), the tombstone it kept from the
 * session's earlier stay still answered for the session. A forwarded answer that reached it in the
 * window between the old holder's hand-over and the adoption was then dropped (a call made on
 * this node, which the tombstone does not list) or bounced back to the old holder, whose own
 * tombstone had already let the call go (a call made there): invoked once, never answered.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RequestId, SessionId, WampMessage } from '@switchboard/schemas';
import { Connection, ConnectionState } from '../../src/connection.js';
import type { ResumeRequest, SessionSnapshot } from '../../src/core/resume.js';
import { Resumption } from '../../src/resumption.js';
import { silentLogger } from '../../src/log.js';
import { capturingLogger, fakeCore, FakePeer, ManualClock } from './fakes.js';

const ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };
const PROCEDURE = 'com.moves.echo';

interface Client {
  peer: FakePeer;
  connection: Connection;
}

/** What a take does between the hand-over and the adoption (an answer arriving), and whether it gets the snapshot. */
interface TakeScript {
  during?: () => void;
  /** False: the take comes to nothing after `during` (the holding node refused, or was silent). */
  succeeds?: boolean;
}

interface FakeNode {
  readonly name: string;
  readonly core: ReturnType<typeof fakeCore>;
  readonly resumption: Resumption;
  readonly clock: ManualClock;
  open(): Client;
  /** What the next take on this node does. */
  next: TakeScript;
}

/** Three nodes whose takes hand over from each other (the cluster's part, in-process and in order). */
function cluster(log = silentLogger()): { a: FakeNode; b: FakeNode; c: FakeNode } {
  const nodes = new Map<string, FakeNode>();
  const holder = new Map<SessionId, string>();
  const make = (name: string, firstId: number): FakeNode => {
    const base = fakeCore();
    const clock = new ManualClock();
    let nextId = firstId;
    const resumption = new Resumption({ stats: base.stats, log, clock });
    const core = { ...base, resumption, newSessionId: () => ++nextId as SessionId };
    const anonymous = {
      method: 'anonymous',
      authenticate: () => ({ kind: 'accept' as const, principal: { authid: 'anon', authrole: 'anonymous', authprovider: 'static' } }),
    };
    const taking = new Set<SessionId>();
    const node: FakeNode = {
      name,
      core,
      resumption,
      clock,
      next: {},
      open: () => {
        const peer = new FakePeer();
        return { peer, connection: new Connection(peer, core, new Map([['anonymous', anonymous]])) };
      },
    };
    resumption.resumeSource = {
      issued: (session) => void holder.set(session, name),
      ended: () => undefined,
      taking: (session) => taking.has(session),
      take: async (request: ResumeRequest): Promise<SessionSnapshot | undefined> => {
        const from = holder.get(request.session);
        const old = from === undefined ? undefined : nodes.get(from);
        if (old === undefined || old === node) return undefined;
        const script = node.next;
        node.next = {};
        taking.add(request.session);
        try {
          await Promise.resolve();
          const snapshot =
            script.succeeds === false
              ? undefined
              : old.resumption.handOver(request.session, (msg) => void resumption.deliver(request.session, msg, old.name), request.answers);
          script.during?.();
          await Promise.resolve();
          if (snapshot === undefined) return undefined;
          holder.set(request.session, name);
          return { ...snapshot, from: old.name };
        } finally {
          taking.delete(request.session);
        }
      },
    };
    nodes.set(name, node);
    return node;
  };
  return { a: make('a', 100), b: make('b', 200), c: make('c', 300) };
}

const frames = (client: Client): unknown[][] => client.peer.received;

/** A session that joins on `node` (resumable when asked): its ID and resume token. */
function join(node: FakeNode, resumable: boolean): Client & { id: SessionId; token: string } {
  const client = node.open();
  client.connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES, ...(resumable && { resumable: true }) }]);
  const welcome = frames(client)[0]!;
  expect(welcome[0]).toBe(MessageCode.Welcome);
  return { ...client, id: welcome[1] as SessionId, token: (welcome[2] as { 'resume-token'?: string })['resume-token'] ?? '' };
}

/** The caller: cut from its node, it resumes on `node` with the answers it counted; the new attachment. */
class Caller {
  answers = 0;
  readonly seen: unknown[][] = [];
  client: Client;
  #token: string;
  #request = 0;

  constructor(
    readonly id: SessionId,
    client: Client,
    token: string,
  ) {
    this.client = client;
    this.#token = token;
  }

  call(arg: string): number {
    const request = ++this.#request;
    this.client.connection.onFrame([MessageCode.Call, request, {}, PROCEDURE, [arg]]);
    return request;
  }

  /** Reads what arrived since the last read (counting answers as the client does). */
  read(): void {
    const received = frames(this.client);
    for (const m of received.splice(0)) {
      if (m[0] === MessageCode.Welcome) {
        this.#token = (m[2] as { 'resume-token': string })['resume-token'];
        continue;
      }
      if (m[0] === MessageCode.Result || m[0] === MessageCode.Error) this.answers++;
      this.seen.push(m);
    }
  }

  async resumeOn(node: FakeNode): Promise<void> {
    this.read();
    this.client.connection.onClose();
    const next = node.open();
    next.connection.onFrame([
      MessageCode.Hello,
      'realm1',
      { roles: ROLES, resumable: true, 'resume-session': this.id, 'resume-token': this.#token, 'resume-answers': this.answers },
    ]);
    await until(() => next.connection.state === ConnectionState.Established);
    // The resume's pause settles: input that follows the WELCOME is handled at once.
    await new Promise(setImmediate);
    const welcome = frames(next)[0]!;
    expect(welcome).toMatchObject([MessageCode.Welcome, this.id, { resumed: true }]);
    this.client = next;
    this.read();
  }

  results(): unknown[][] {
    this.read();
    return this.seen.filter((m) => m[0] === MessageCode.Result || m[0] === MessageCode.Error);
  }
}

/** A callee on `node` that registers PROCEDURE; its invocations answered when the test says. */
function callee(node: FakeNode): { yieldTo: (invocation: unknown[], arg: string) => void; invocations: () => unknown[][] } {
  const c = join(node, false);
  c.connection.onFrame([MessageCode.Register, 1, {}, PROCEDURE]);
  expect(frames(c).at(-1)![0]).toBe(MessageCode.Registered);
  return {
    invocations: () => frames(c).filter((m) => m[0] === MessageCode.Invocation),
    yieldTo: (invocation, arg) => c.connection.onFrame([MessageCode.Yield, invocation[1], {}, [arg]]),
  };
}

function caller(node: FakeNode): Caller {
  const c = join(node, true);
  return new Caller(c.id, c, c.token);
}

const result = (request: number, arg: string): unknown[] => [MessageCode.Result, request, {}, [arg]];

describe('a session moving A → B → A while its calls run (forwarded answers)', () => {
  it('a call made on A, answered on A while A takes the session back from B: the answer reaches it (it went to B and back)', async () => {
    const { a, b } = cluster();
    const echo = callee(a);
    const p = caller(b);
    await p.resumeOn(a);
    // The call runs on A; the caller moves to B, and back to A while it still runs.
    const request = p.call('on A');
    expect(echo.invocations()).toHaveLength(1);
    await p.resumeOn(b);
    // A forwards the answer to B (the node the caller moved to from A); B handed the session back
    // to A a moment before and re-forwards it to A, where the take is still in flight.
    a.next = { during: () => echo.yieldTo(echo.invocations()[0]!, 'done') };
    await p.resumeOn(a);
    expect(p.results()).toEqual([result(request, 'done')]);
  });

  it('a call made on B, answered on B while A takes the session back from B: the answer reaches it (no bounce between the tombstones)', async () => {
    const { a, b } = cluster();
    const echo = callee(b);
    const p = caller(b);
    const request = p.call('on B');
    expect(echo.invocations()).toHaveLength(1);
    await p.resumeOn(a);
    await p.resumeOn(b);
    // B forwards the answer to A (where the caller went from B first); A's tombstone of that stay
    // would send it back to B, whose own tombstone let the call go already.
    a.next = { during: () => echo.yieldTo(echo.invocations()[0]!, 'done') };
    await p.resumeOn(a);
    expect(p.results()).toEqual([result(request, 'done')]);
  });

  it('three nodes (B → A → C → A): a call made on B, answered while A takes the session back from C, reaches it (the tombstone on A waited for it from B)', async () => {
    const { a, b, c } = cluster();
    const echo = callee(b);
    const p = caller(b);
    const request = p.call('on B');
    await p.resumeOn(a);
    await p.resumeOn(c);
    // B forwards the answer to A (where the caller went from B); the session comes to A from C.
    a.next = { during: () => echo.yieldTo(echo.invocations()[0]!, 'done') };
    await p.resumeOn(a);
    expect(p.results()).toEqual([result(request, 'done')]);
    // The call is over: a second answer for it (a hostile or confused node) goes nowhere.
    expect(a.resumption.deliver(p.id, { code: MessageCode.Result, request: request as RequestId, details: {}, args: ['again'] }, 'b')).toBe(false);
  });

  it('an answer that waited for a take that came to nothing goes on to where the session is (the tombstone forwards it)', async () => {
    const { a, b } = cluster();
    const echo = callee(b);
    const p = caller(b);
    const request = p.call('on B');
    await p.resumeOn(a);
    await p.resumeOn(b);
    // A take on A fails (B refused, or never answered): the session stays on B, attached.
    a.next = { succeeds: false, during: () => echo.yieldTo(echo.invocations()[0]!, 'done') };
    const attempt = a.open();
    attempt.connection.onFrame([
      MessageCode.Hello,
      'realm1',
      { roles: ROLES, resumable: true, 'resume-session': p.id, 'resume-token': 'AAAAAAAAAAAAAAAAAAAAAA==' },
    ]);
    await until(() => attempt.connection.state === ConnectionState.Established);
    // Refused there: an opportunistic resume becomes a new session on A.
    expect(frames(attempt)[0]).toMatchObject([MessageCode.Welcome, expect.any(Number), { resumed: false }]);
    expect(p.results()).toEqual([result(request, 'done')]);
  });

  it('eight moves in a row, each call answered during the take after the next move, on the node it was made on: each answered once', async () => {
    const { a, b } = cluster();
    const echo = new Map([
      [a, callee(a)],
      [b, callee(b)],
    ]);
    const p = caller(b);
    let on = b;
    const expected: unknown[][] = [];
    let previous: { node: FakeNode; invocation: unknown[]; request: number } | undefined;
    for (let round = 0; round < 8; round++) {
      const request = p.call(`round ${round}`);
      const invocation = echo.get(on)!.invocations().at(-1)!;
      const to = on === a ? b : a;
      const answer = previous;
      if (answer !== undefined) {
        to.next = { during: () => echo.get(answer.node)!.yieldTo(answer.invocation, `answer ${answer.request}`) };
        expected.push(result(answer.request, `answer ${answer.request}`));
      }
      previous = { node: on, invocation, request };
      await p.resumeOn(to);
      on = to;
    }
    echo.get(previous!.node)!.yieldTo(previous!.invocation, `answer ${previous!.request}`);
    expected.push(result(previous!.request, `answer ${previous!.request}`));
    const got = p.results();
    expect(got.map((m) => m[1])).toEqual(expected.map((m) => m[1]));
    expect(new Set(got.map((m) => JSON.stringify(m)))).toEqual(new Set(expected.map((m) => JSON.stringify(m))));
  });
});

describe('a forwarded answer dropped is said (warn), never silent', () => {
  it('an answer for a session this node neither holds, takes nor moved on is dropped with a warning', () => {
    const { log, lines } = capturingLogger();
    const { a } = cluster(log);
    const msg: WampMessage = { code: MessageCode.Result, request: 7 as RequestId, details: {}, args: [] };
    expect(a.resumption.deliver(999 as SessionId, msg, 'b')).toBe(false);
    expect(lines.map((l) => l['msg'])).toContain('resumption: a forwarded answer dropped');
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await Promise.resolve();
  expect(condition()).toBe(true);
}
