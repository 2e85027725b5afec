/**
 * The authorization gate (auth/gate.ts), alone: fake sessions, authorizers that answer as a test
 * says (now, later, by throwing or rejecting), a logger that keeps its lines. No router, no
 * sockets, no timers: a pending decision is a promise the test settles.
 */
import { Pause, settledOf } from '../../src/core/pause.js';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { MessageCode, RequestId, SessionId } from '@switchboard/schemas';
import { ErrorUri, MessageCode as Code } from '@switchboard/schemas';
import { Gate, notAuthorized } from '../../src/auth/gate.js';
import type { Ask, GateSession, Judgement } from '../../src/auth/gate.js';
import { RoleAuthorizer } from '../../src/auth/permissions.js';
import type { RoleConfig } from '../../src/auth/permissions.js';
import type { Authorizer, Decision } from '../../src/auth/types.js';

interface FakeSession extends GateSession {
  id: SessionId;
  authid: string | undefined;
  authrole: string | undefined;
  membership: object | undefined;
  identity: { authprovider: string } | undefined;
  /** Whether it is in the realm (the gate's `belongs`). */
  inRealm: boolean;
  errors: { type: MessageCode; request: RequestId; error: string; message: string | undefined }[];
  sendError(type: MessageCode, request: RequestId, error: string, message?: string): void;
}

let nextId = 1;

function session(authrole = 'user', authprovider = 'static', authid = 'alice'): FakeSession {
  return {
    id: nextId++ as SessionId,
    authid,
    authrole,
    membership: {},
    identity: { authprovider },
    inRealm: true,
    errors: [],
    sendError(type, request, error, message) {
      this.errors.push({ type, request, error, message });
    },
  };
}

/** The session leaves; `rejoin`: its connection opens another WAMP session in the same realm. */
function leave(s: FakeSession, rejoin = false): void {
  s.inRealm = rejoin;
  s.membership = rejoin ? {} : s.membership;
}

interface Line {
  level: number;
  msg: string;
  uri?: string;
  action?: string;
  err?: string;
}

function gateWith(authorize: Authorizer['authorize'], extra: Partial<Authorizer> = {}): { gate: Gate<FakeSession>; lines: Line[]; asked: Ask[] } {
  const lines: Line[] = [];
  const asked: Ask[] = [];
  const authorizer: Authorizer = {
    hasRole: (role) => role === 'user',
    authorize: (subject, uri, action, match, options) => {
      asked.push({ uri, action, match, options });
      return authorize(subject, uri, action, match, options);
    },
    ...extra,
  };
  const log = pino({ level: 'info' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  return { gate: new Gate<FakeSession>({ authorizer, log, realm: 'realm1', belongs: (s) => s.inRealm }), lines, asked };
}

/** A decision the test gives later. */
function later(): { promise: Promise<Decision>; allow(d?: Partial<Decision>): void; fail(err: Error): void } {
  let resolve!: (d: Decision) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<Decision>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, allow: (d = {}) => resolve({ allow: true, ...d }), fail: reject };
}

const SUBSCRIBE: Ask = { uri: 'com.example.topic', action: 'subscribe' };
const request = { type: Code.Subscribe, id: 7 as RequestId };

function pending(j: Judgement): Extract<Judgement, { ok: 'pending' }> {
  if (j.ok !== 'pending') throw new Error(`expected a pending verdict, got ${JSON.stringify(j)}`);
  return j;
}

describe('gate: decisions now', () => {
  it('allows: the verdict says so (with the disclosure asked for), pass runs `then` at once and answers nothing', () => {
    const { gate, asked } = gateWith((_s, _u, action) => (action === 'publish' ? { allow: true, disclose: true } : { allow: true }));
    const alice = session();
    expect(gate.judge(alice, SUBSCRIBE)).toEqual({ ok: true, disclose: false });
    expect(gate.judge(alice, { uri: 'com.example.topic', action: 'publish' })).toEqual({ ok: true, disclose: true });
    const then = vi.fn();
    expect(gate.pass(alice, request, SUBSCRIBE, then)).toBeUndefined();
    expect(then).toHaveBeenCalledWith({ ok: true, disclose: false });
    expect(alice.errors).toEqual([]);
    // The ask reaches the authorizer with its defaults: an exact URI, no options.
    expect(asked[0]).toEqual({ uri: 'com.example.topic', action: 'subscribe', match: 'exact', options: {} });
  });

  it('passes on what `then` returns (a register that waits for the cluster holds the session as well)', async () => {
    const { gate } = gateWith(() => ({ allow: true }));
    const waiting = new Pause(Promise.resolve());
    expect(gate.pass(session(), request, SUBSCRIBE, () => waiting)).toBe(waiting);
  });

  it('denies: wamp.error.not_authorized naming the action and URI, `then` never runs, nothing is logged', () => {
    const { gate, lines } = gateWith(() => ({ allow: false }));
    const alice = session();
    expect(gate.judge(alice, { uri: 'com.app.', action: 'register', match: 'prefix' })).toEqual({
      ok: false,
      error: ErrorUri.NotAuthorized,
      message: "session is not authorized to register 'com.app.'",
    });
    const then = vi.fn();
    gate.pass(alice, request, SUBSCRIBE, then);
    expect(then).not.toHaveBeenCalled();
    expect(alice.errors).toEqual([
      { type: Code.Subscribe, request: 7, error: ErrorUri.NotAuthorized, message: "session is not authorized to subscribe 'com.example.topic'" },
    ]);
    expect(notAuthorized('call', 'com.x').message).toBe("session is not authorized to call 'com.x'");
    expect(lines).toEqual([]);
  });

  it('an authorizer that throws: wamp.error.authorization_failed, logged once with what was asked', () => {
    const { gate, lines } = gateWith(() => {
      throw new Error('database down');
    });
    const alice = session();
    const then = vi.fn();
    expect(gate.pass(alice, request, SUBSCRIBE, then)).toBeUndefined();
    expect(then).not.toHaveBeenCalled();
    expect(alice.errors).toEqual([{ type: Code.Subscribe, request: 7, error: ErrorUri.AuthorizationFailed, message: 'authorization failed' }]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'authorizer failed', uri: 'com.example.topic', action: 'subscribe', err: 'database down', level: 40 });
  });

  it('an authorizer that answers what is no decision (an embedder’s bug) fails closed', async () => {
    const { gate, lines } = gateWith(() => undefined as unknown as Decision);
    expect(gate.judge(session(), SUBSCRIBE)).toMatchObject({ ok: false, error: ErrorUri.AuthorizationFailed });
    const { gate: later } = gateWith(() => Promise.resolve({ allowed: true } as unknown as Decision));
    expect(await later.verdict(session(), SUBSCRIBE)).toMatchObject({ ok: false, error: ErrorUri.AuthorizationFailed });
    expect(lines).toHaveLength(1);
  });
});

describe('gate: decisions later', () => {
  it('pending, then allowed: `then` runs when the decision arrives, and the returned promise settles after it', async () => {
    const decision = later();
    const { gate } = gateWith(() => decision.promise);
    const alice = session();
    const order: string[] = [];
    const held = settledOf(gate.pass(alice, request, SUBSCRIBE, (allowed) => void order.push(`then ${allowed.disclose}`)));
    expect(held).toBeInstanceOf(Promise); // a Pause was returned: its promise
    expect(order).toEqual([]);
    decision.allow({ disclose: true });
    await held;
    order.push('settled');
    expect(order).toEqual(['then true', 'settled']);
    expect(alice.errors).toEqual([]);
  });

  it('pending, then denied: ERROR at arrival', async () => {
    const { gate } = gateWith(() => Promise.resolve({ allow: false }));
    const alice = session();
    const then = vi.fn();
    await settledOf(gate.pass(alice, request, SUBSCRIBE, then));
    expect(then).not.toHaveBeenCalled();
    expect(alice.errors).toMatchObject([{ error: ErrorUri.NotAuthorized }]);
  });

  it('an authorizer that rejects: wamp.error.authorization_failed, logged once; the held promise resolves', async () => {
    const decision = later();
    const { gate, lines } = gateWith(() => decision.promise);
    const alice = session();
    const then = vi.fn();
    const held = settledOf(gate.pass(alice, request, SUBSCRIBE, then));
    decision.fail(new Error('timeout'));
    await expect(held).resolves.toBeUndefined();
    expect(then).not.toHaveBeenCalled();
    expect(alice.errors).toMatchObject([{ error: ErrorUri.AuthorizationFailed, message: 'authorization failed' }]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'authorizer failed', err: 'timeout' });
  });

  it('a decision that arrives after the session left is dropped: no `then`, no ERROR (the failure is still logged)', async () => {
    const allowed = later();
    const failing = later();
    let n = 0;
    const { gate, lines } = gateWith(() => (n++ === 0 ? allowed.promise : failing.promise));
    const alice = session();
    const then = vi.fn();
    const first = settledOf(gate.pass(alice, request, SUBSCRIBE, then));
    const second = settledOf(gate.pass(alice, { type: Code.Call, id: 8 as RequestId }, { uri: 'com.example.proc', action: 'call' }, then));
    leave(alice);
    allowed.allow();
    failing.fail(new Error('gone'));
    await Promise.all([first, second]);
    expect(then).not.toHaveBeenCalled();
    expect(alice.errors).toEqual([]);
    expect(lines).toHaveLength(1);
  });

  it('… and after another session took its place on the connection (a new membership, same object)', async () => {
    const decision = later();
    const { gate } = gateWith(() => decision.promise);
    const alice = session();
    const verdict = gate.verdict(alice, SUBSCRIBE);
    const then = vi.fn();
    const held = settledOf(gate.pass(alice, request, SUBSCRIBE, then));
    leave(alice, true);
    decision.allow();
    expect(await verdict).toBeUndefined();
    await held;
    expect(then).not.toHaveBeenCalled();
  });

  it('a decision asked for a session that had already left (its testaments) is kept', async () => {
    const { gate } = gateWith(() => Promise.resolve({ allow: true }));
    const alice = session();
    leave(alice);
    const judgement = pending(gate.judge(alice, { uri: 'com.example.will', action: 'publish' }));
    const then = vi.fn();
    await judgement.settle(then);
    expect(then).toHaveBeenCalledWith({ ok: true, disclose: false });
  });

  it('a thenable that is no native Promise (an embedder’s authorizer) is a pending decision too', async () => {
    // biome-ignore lint/suspicious/noThenProperty: the point of the test is an object that is a thenable and no Promise
    const thenable = { then: (resolve: (d: Decision) => void) => resolve({ allow: true, disclose: true }) } as unknown as Promise<Decision>;
    const { gate } = gateWith(() => thenable);
    const judgement = pending(gate.judge(session(), SUBSCRIBE));
    const then = vi.fn();
    await judgement.settle(then);
    expect(then).toHaveBeenCalledWith({ ok: true, disclose: true });
  });

  it('verdict(): the same answers as a promise, for code that waits anyway (router procedures)', async () => {
    const { gate } = gateWith((_s, uri) => (uri === 'com.now' ? { allow: true } : Promise.resolve({ allow: false })));
    const alice = session();
    expect(await gate.verdict(alice, { uri: 'com.now', action: 'call' })).toEqual({ ok: true, disclose: false });
    expect(await gate.verdict(alice, { uri: 'com.later', action: 'call' })).toMatchObject({ ok: false, error: ErrorUri.NotAuthorized });
  });
  it('verdict(): a verdict decided now is dropped when the session leaves before it is handed over (review finding 2)', async () => {
    const { gate } = gateWith(() => ({ allow: true }));
    const alice = session();
    const verdict = gate.verdict(alice, SUBSCRIBE);
    leave(alice); // a GOODBYE read in the same chunk as the CALL, handled before the await resumes
    expect(await verdict).toBeUndefined();
    const bob = session();
    const again = gate.verdict(bob, SUBSCRIBE);
    leave(bob, true);
    expect(await again).toBeUndefined();
  });
});

describe('gate: the router’s own sessions and quiet requests', () => {
  it('a router session (authprovider router) is allowed without asking the authorizer, whatever it would say', () => {
    const { gate, asked, lines } = gateWith(() => {
      throw new Error('never asked');
    });
    const router = session('trusted', 'router', 'router');
    const then = vi.fn();
    gate.pass(router, request, { uri: 'wamp.session.kill_all', action: 'call' }, then);
    expect(then).toHaveBeenCalledWith({ ok: true, disclose: false });
    expect(asked).toEqual([]);
    expect(lines).toEqual([]);
    // It joins with a role the realm need not have; a role-less principal of anyone else does not.
    expect(gate.admits({ authrole: 'trusted', authprovider: 'router' })).toBe(true);
    expect(gate.admits({ authrole: 'trusted', authprovider: 'static' })).toBe(false);
    expect(gate.admits({ authrole: 'user', authprovider: 'static' })).toBe(true);
  });

  it('quiet (an unacknowledged PUBLISH): a denial, a failure or a late denial answers nothing', async () => {
    const answers: (() => Decision | Promise<Decision>)[] = [
      () => ({ allow: false }),
      () => {
        throw new Error('broken');
      },
      () => Promise.resolve({ allow: false }),
      () => Promise.reject(new Error('broken later')),
    ];
    let n = 0;
    const { gate, lines } = gateWith(() => answers[n++]!());
    const alice = session();
    const publish = { type: Code.Publish, id: 9 as RequestId, quiet: true };
    const then = vi.fn();
    for (let i = 0; i < answers.length; i++) await settledOf(gate.pass(alice, publish, { uri: 'com.example.topic', action: 'publish' }, then));
    expect(then).not.toHaveBeenCalled();
    expect(alice.errors).toEqual([]);
    expect(lines.map((l) => l.msg)).toEqual(['authorizer failed', 'authorizer failed']);
  });

  it('forget() drops what the authorizer keeps for a session that left', () => {
    const forget = vi.fn();
    const { gate } = gateWith(() => ({ allow: true }), { forget });
    const alice = session();
    gate.forget(alice);
    expect(forget).toHaveBeenCalledWith(alice);
  });
});

describe('gate with the role authorizer: patterns are judged by everything they can match', () => {
  const roles: RoleConfig[] = [
    {
      name: 'user',
      permissions: [
        { uri: 'com.app.', match: 'prefix', allow: { subscribe: true, publish: true, call: true } },
        { uri: 'com.app.secret', allow: { subscribe: false } },
        { uri: 'com.public.news', allow: { subscribe: true } },
        { uri: 'com.user.{authid}.', match: 'prefix', allow: { subscribe: true, register: true } },
        { uri: 'com..status', match: 'wildcard', allow: { subscribe: true }, disclose: { publisher: true } },
      ],
    },
  ];
  const log = pino({ level: 'silent' });
  const gate = new Gate<FakeSession>({ authorizer: new RoleAuthorizer(roles), log, realm: 'realm1', belongs: (s) => s.inRealm });
  const ok = (j: Judgement): boolean | 'pending' => (j.ok === 'pending' ? 'pending' : j.ok);

  it('exact URIs get their most specific permission', () => {
    const alice = session();
    expect(ok(gate.judge(alice, { uri: 'com.app.data', action: 'subscribe' }))).toBe(true);
    expect(ok(gate.judge(alice, { uri: 'com.app.secret', action: 'subscribe' }))).toBe(false);
    expect(ok(gate.judge(alice, { uri: 'com.app.data', action: 'register' }))).toBe(false);
    expect(ok(gate.judge(alice, { uri: 'com.other', action: 'subscribe' }))).toBe(false);
    expect(gate.judge(alice, { uri: 'com.app.status', action: 'publish' })).toEqual({ ok: true, disclose: false });
  });

  it('a prefix pattern that reaches a denied URI is denied; one inside the allowed space is allowed', () => {
    const alice = session();
    expect(ok(gate.judge(alice, { uri: 'com.app.', action: 'subscribe', match: 'prefix' }))).toBe(false);
    expect(ok(gate.judge(alice, { uri: 'com.app.data.', action: 'subscribe', match: 'prefix' }))).toBe(true);
    // An exact permission covers no pattern of the same text.
    expect(ok(gate.judge(alice, { uri: 'com.public.news', action: 'subscribe', match: 'prefix' }))).toBe(false);
  });

  it('a wildcard pattern is allowed only where a permission spans all it can match', () => {
    const alice = session();
    expect(ok(gate.judge(alice, { uri: 'com.app..x', action: 'subscribe', match: 'wildcard' }))).toBe(true);
    expect(ok(gate.judge(alice, { uri: 'com..status', action: 'subscribe', match: 'wildcard' }))).toBe(true);
    expect(ok(gate.judge(alice, { uri: 'com..data', action: 'subscribe', match: 'wildcard' }))).toBe(false);
    expect(ok(gate.judge(alice, { uri: 'com.app.', action: 'subscribe', match: 'wildcard' }))).toBe(false);
  });

  it('placeholders are filled per session: alice’s space is not bob’s', () => {
    const alice = session('user', 'static', 'alice');
    const bob = session('user', 'static', 'bob');
    expect(ok(gate.judge(alice, { uri: 'com.user.alice.', action: 'subscribe', match: 'prefix' }))).toBe(true);
    expect(ok(gate.judge(bob, { uri: 'com.user.alice.', action: 'subscribe', match: 'prefix' }))).toBe(false);
    expect(ok(gate.judge(bob, { uri: 'com.user.bob.inbox', action: 'register' }))).toBe(true);
  });

  it('a session without a known role is denied everything', () => {
    const mallory = session('intruder');
    expect(ok(gate.judge(mallory, { uri: 'com.app.data', action: 'subscribe' }))).toBe(false);
  });
});
