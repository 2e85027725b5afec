/**
 * The authorization matrix: roles × actions × URIs through a real router, with sessions that
 * authenticated by ticket (several authids per role). Each row of the tables below names a URI and
 * the actions a role may take on it (c call, r register, p publish, s subscribe); every other
 * action on that URI must be denied. Each (role, authid, URI, action) is its own case, and proves
 * its outcome end to end: a denial is ERROR wamp.error.not_authorized (and nothing is delivered);
 * an allowed call reaches a registered callee and returns its result, an allowed registration is
 * invoked, an allowed publish is acknowledged and its event arrives, an allowed subscription gets
 * an event. `{me}` in a row is the subject's authid, `{other}` another authid of the same role,
 * `{role}` its authrole.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter } from '../helpers.js';

const {
  Authenticate,
  Call,
  Challenge,
  Error: ERROR,
  Event,
  Hello,
  Invocation,
  Publish,
  Published,
  Register,
  Registered,
  Result,
  Subscribe,
  Subscribed,
  Welcome,
  Yield,
} = MessageCode;

type Action = 'call' | 'register' | 'publish' | 'subscribe';
const ACTIONS: readonly Action[] = ['call', 'register', 'publish', 'subscribe'];
const LETTER: Record<Action, string> = { call: 'c', register: 'r', publish: 'p', subscribe: 's' };
const NOT_AUTHORIZED = 'wamp.error.not_authorized';

/** The ticket principals: authid → role. Every ticket is `t-<authid>`. */
const PRINCIPALS: Record<string, string> = {
  alice: 'user',
  bob: 'user',
  svc1: 'service',
  svc2: 'service',
  guest1: 'guest',
  guest2: 'guest',
  root: 'admin',
  ops: 'admin',
  harness: 'harness',
  // Not in the matrix: authids that must not steer a placeholder (see the last describe).
  '{authrole}': 'user',
  'carol.x': 'user',
};

/** The counterpart of every case (callee, caller, subscriber or publisher): allowed everything. */
const COUNTERPART = 'harness';

const CONFIG: RouterConfigFile = {
  realms: [
    {
      name: 'realm1',
      roles: [
        {
          name: 'user',
          permissions: [
            { uri: 'com.app.', match: 'prefix', allow: { call: true, subscribe: true } },
            { uri: 'com.app.admin.', match: 'prefix', allow: {} }, // a longer prefix denies
            { uri: 'com.app.admin.status', allow: { subscribe: true } }, // exact beats the longer prefix
            { uri: 'com.app.board*', allow: { publish: true, subscribe: true } }, // trailing * is prefix
            { uri: 'com.app.board.locked', match: 'exact', allow: {} }, // an exact deny beats a prefix allow
            { uri: 'com.sensor.', match: 'prefix', allow: { subscribe: true } },
            { uri: 'com.sensor..reading', match: 'wildcard', allow: { publish: true, subscribe: true } }, // loses to any prefix
            { uri: 'com.fleet..state', match: 'wildcard', allow: { publish: true, subscribe: true } },
            { uri: 'com.fleet.truck1.', match: 'wildcard', allow: { subscribe: true } }, // concrete component further left wins
            { uri: 'com.inbox.', match: 'prefix', allow: {} },
            { uri: 'com.inbox.{authid}.', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } },
            { uri: 'com.inbox.{authid}.audit', allow: { subscribe: true } }, // a filled exact beats a filled prefix
            { uri: 'com.inbox.alice.frozen', allow: { subscribe: true } }, // a static exact beats a filled prefix
            { uri: 'com.profile.', match: 'prefix', allow: { call: true } },
            { uri: 'com.profile.{authid}', allow: { call: true, register: true } },
            { uri: 'com.room..{authid}', match: 'wildcard', allow: { publish: true, subscribe: true } },
            { uri: 'com.team.{authrole}*', allow: { publish: true, subscribe: true } },
          ],
        },
        {
          name: 'service',
          permissions: [
            { uri: 'com.app.', match: 'prefix', allow: { call: true, register: true, publish: true } },
            { uri: 'com.svc..rpc', match: 'wildcard', allow: { call: true, register: true } },
            { uri: 'com.svc.{authid}.', match: 'prefix', allow: { register: true } }, // a filled prefix beats a wildcard
            { uri: 'com.team.{authrole}.', match: 'prefix', allow: { publish: true, subscribe: true } },
          ],
        },
        {
          name: 'guest',
          permissions: [{ uri: 'com.app.board.', match: 'prefix', allow: { subscribe: true } }],
        },
        {
          name: 'admin',
          permissions: [
            { uri: 'com.', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } },
            { uri: 'wamp.', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } },
          ],
        },
        { name: 'harness', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] },
      ],
    },
  ],
  listeners: [
    {
      type: 'websocket',
      auth: {
        ticket: {
          type: 'static',
          principals: Object.fromEntries(Object.entries(PRINCIPALS).map(([authid, role]) => [authid, { ticket: `t-${authid}`, role }])),
        },
      },
    },
  ],
};

/** Per role: [URI, the actions allowed on it ('-' for none)]. */
const MATRIX: Record<string, [uri: string, allowed: string][]> = {
  user: [
    ['com.app.news', 'cs'], // prefix
    ['com.app.admin.users', '-'], // the longer prefix denies
    ['com.app.admin.status', 's'], // exact beats the longer prefix
    ['com.app.board.general', 'ps'], // trailing-* prefix
    ['com.app.boardroom', 'ps'], // a prefix is a string prefix, not a component one
    ['com.app.board.locked', '-'], // exact deny beats the prefix allow
    ['com.sensor.s1.reading', 's'], // a prefix beats a matching wildcard
    ['com.fleet.truck2.state', 'ps'], // wildcard
    ['com.fleet.truck1.state', 's'], // the wildcard with a concrete component further left
    ['com.fleet.truck2.speed', '-'], // no wildcard matches
    ['com.inbox.{me}.mail', 'crps'], // {authid} placeholder: own
    ['com.inbox.{other}.mail', '-'], // another user's topic
    ['com.inbox.{me}', '-'], // not under the filled prefix
    ['com.inbox.{me}.audit', 's'], // filled exact beats filled prefix
    ['com.inbox.alice.frozen', 's'], // static exact beats filled prefix (alice) and the static prefix (bob)
    ['com.profile.{me}', 'cr'], // filled exact
    ['com.profile.{other}', 'c'], // only the prefix
    ['com.room.lobby.{me}', 'ps'], // filled wildcard
    ['com.room.lobby.{other}', '-'],
    ['com.team.{role}.chat', 'ps'], // {authrole} placeholder
    ['com.team.service.chat', '-'], // another role's
    ['com.nothing', '-'], // no rule matches
  ],
  service: [
    ['com.app.news', 'crp'],
    ['com.app.admin.users', 'crp'], // the user role's deny is not this role's
    ['com.svc.billing.rpc', 'cr'], // wildcard
    ['com.svc.billing.status', '-'],
    ['com.svc.{me}.rpc', 'r'], // the filled prefix beats the wildcard
    ['com.svc.{other}.rpc', 'cr'], // another service's: only the wildcard
    ['com.team.{role}.chat', 'ps'],
    ['com.team.user.chat', '-'],
    ['com.inbox.alice.mail', '-'],
  ],
  guest: [
    ['com.app.board.general', 's'],
    ['com.app.board.locked', 's'], // the user role's exact deny is not this role's
    ['com.app.news', '-'],
    ['com.inbox.{me}.mail', '-'],
  ],
  admin: [
    ['com.app.admin.users', 'crps'],
    ['com.inbox.alice.mail', 'crps'],
    ['org.example.elsewhere', '-'],
  ],
};

interface Case {
  role: string;
  authid: string;
  action: Action;
  uri: string;
  allowed: boolean;
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const [role, rows] of Object.entries(MATRIX)) {
    const authids = Object.keys(PRINCIPALS).filter((a) => PRINCIPALS[a] === role && /^[a-z0-9]+$/.test(a));
    for (const authid of authids) {
      const other = authids.find((a) => a !== authid)!;
      for (const [pattern, allowed] of rows) {
        if (allowed !== '-' && !/^[crps]+$/.test(allowed)) throw new Error(`bad row ${pattern}: ${allowed}`);
        const uri = pattern.replaceAll('{me}', authid).replaceAll('{other}', other).replaceAll('{role}', role);
        for (const action of ACTIONS) out.push({ role, authid, action, uri, allowed: allowed.includes(LETTER[action]) });
      }
    }
  }
  return out;
}

type Peer = Awaited<ReturnType<typeof RawPeer.connect>>;

/** HELLO with ticket → CHALLENGE → AUTHENTICATE → WELCOME as `authid`. */
async function joinTicket(url: string, authid: string): Promise<Peer> {
  const peer = await RawPeer.connect(url);
  peer.send([Hello, 'realm1', { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} }, authmethods: ['ticket'], authid }]);
  expect(await peer.next()).toEqual([Challenge, 'ticket', {}]);
  peer.send([Authenticate, `t-${authid}`, {}]);
  const welcome = await peer.next();
  expect(welcome[0], JSON.stringify(welcome)).toBe(Welcome);
  expect(welcome[2]).toMatchObject({ authid, authrole: PRINCIPALS[authid], authmethod: 'ticket' });
  return peer;
}

/** Sends a request; resolves to its request ID and the answer. */
async function request(peer: Peer, frame: (request: number) => unknown[]): Promise<[number, unknown[]]> {
  const id = peer.nextRequest();
  peer.send(frame(id));
  return [id, await peer.next()];
}

async function expectDenied(peer: Peer, type: number, frame: (request: number) => unknown[]): Promise<void> {
  const [id, answer] = await request(peer, frame);
  expect(answer).toEqual([ERROR, type, id, {}, NOT_AUTHORIZED, [expect.any(String)]]);
}

async function expectReply(peer: Peer, code: number, frame: (request: number) => unknown[]): Promise<unknown[]> {
  const [id, answer] = await request(peer, frame);
  expect(answer[0], JSON.stringify(answer)).toBe(code);
  expect(answer[1]).toBe(id);
  return answer;
}

/** `callee` answers the next INVOCATION of `registration` with its arguments plus a marker. */
async function answerInvocation(callee: Peer, registration: unknown): Promise<void> {
  const invocation = await callee.next();
  expect(invocation.slice(0, 3), JSON.stringify(invocation)).toEqual([Invocation, expect.any(Number), registration]);
  callee.send([Yield, invocation[1], {}, ['answered', ...((invocation[4] as unknown[] | undefined) ?? [])]]);
}

async function check({ authid, action, uri, allowed }: Case): Promise<void> {
  const router = await startTestRouter(CONFIG);
  const subject = await joinTicket(router.url, authid);
  const other = await joinTicket(router.url, COUNTERPART);
  switch (action) {
    case 'call': {
      const registered = (await expectReply(other, Registered, (r) => [Register, r, {}, uri]))[2];
      if (!allowed) {
        await expectDenied(subject, Call, (r) => [Call, r, {}, uri, [authid]]);
        expect(await other.silentFor(50), 'the callee got no INVOCATION').toBe(true);
        return;
      }
      const id = subject.nextRequest();
      subject.send([Call, id, {}, uri, [authid]]);
      await answerInvocation(other, registered);
      expect(await subject.next()).toEqual([Result, id, {}, ['answered', authid]]);
      return;
    }
    case 'register': {
      if (!allowed) return expectDenied(subject, Register, (r) => [Register, r, {}, uri]);
      const registered = (await expectReply(subject, Registered, (r) => [Register, r, {}, uri]))[2];
      const id = other.nextRequest();
      other.send([Call, id, {}, uri, [COUNTERPART]]);
      await answerInvocation(subject, registered);
      expect(await other.next()).toEqual([Result, id, {}, ['answered', COUNTERPART]]);
      return;
    }
    case 'publish': {
      const subscription = (await expectReply(other, Subscribed, (r) => [Subscribe, r, {}, uri]))[2];
      if (!allowed) {
        await expectDenied(subject, Publish, (r) => [Publish, r, { acknowledge: true }, uri, [authid]]);
        expect(await other.silentFor(50), 'the subscriber got no EVENT').toBe(true);
        return;
      }
      const published = await expectReply(subject, Published, (r) => [Publish, r, { acknowledge: true }, uri, [authid]]);
      expect(await other.next()).toEqual([Event, subscription, published[2], {}, [authid]]);
      return;
    }
    case 'subscribe': {
      if (!allowed) return expectDenied(subject, Subscribe, (r) => [Subscribe, r, {}, uri]);
      const subscription = (await expectReply(subject, Subscribed, (r) => [Subscribe, r, {}, uri]))[2];
      const published = await expectReply(other, Published, (r) => [Publish, r, { acknowledge: true }, uri, [COUNTERPART]]);
      expect(await subject.next()).toEqual([Event, subscription, published[2], {}, [COUNTERPART]]);
      return;
    }
  }
}

describe('authorization matrix (ticket sessions, static permissions)', () => {
  it.each(cases())('$role $authid: $action $uri → allowed: $allowed', check);
});

describe('reserved wamp. URIs', () => {
  it.each([
    ['root', 'ops'], // admin: the wamp. prefix rule allows everything, yet
    ['alice', 'bob'], // user: no rule matches
  ])('%s cannot register under wamp., not even with a prefix pattern', async (authid) => {
    const router = await startTestRouter(CONFIG);
    const peer = await joinTicket(router.url, authid);
    for (const [uri, options] of [
      ['wamp.custom.proc', {}],
      ['wamp.session.count', {}],
      ['wamp.', { match: 'prefix' }],
    ] as const) {
      const [id, answer] = await request(peer, (r) => [Register, r, options, uri]);
      expect(answer).toEqual([ERROR, Register, id, {}, 'wamp.error.invalid_uri', [expect.stringContaining('reserved')]]);
    }
  });

  it('an admin allowed to publish under wamp. still cannot (invalid_uri); a user is not authorized', async () => {
    const router = await startTestRouter(CONFIG);
    const root = await joinTicket(router.url, 'root');
    const alice = await joinTicket(router.url, 'alice');
    const ops = await joinTicket(router.url, 'ops');
    await expectReply(ops, Subscribed, (r) => [Subscribe, r, {}, 'wamp.custom.topic']);
    const [id, answer] = await request(root, (r) => [Publish, r, { acknowledge: true }, 'wamp.custom.topic', []]);
    expect(answer).toEqual([ERROR, Publish, id, {}, 'wamp.error.invalid_uri', [expect.stringContaining('reserved')]]);
    await expectDenied(alice, Publish, (r) => [Publish, r, { acknowledge: true }, 'wamp.custom.topic', []]);
    expect(await ops.silentFor(50), 'no EVENT under wamp. from a client').toBe(true);
  });

  it('the meta API: admin may call and subscribe, a user may neither', async () => {
    const router = await startTestRouter(CONFIG);
    const root = await joinTicket(router.url, 'root');
    const alice = await joinTicket(router.url, 'alice');
    await expectDenied(alice, Call, (r) => [Call, r, {}, 'wamp.session.count']);
    await expectDenied(alice, Subscribe, (r) => [Subscribe, r, {}, 'wamp.session.on_join']);
    expect((await expectReply(root, Result, (r) => [Call, r, {}, 'wamp.session.count']))[3]).toEqual([2]);
    const subscription = (await expectReply(root, Subscribed, (r) => [Subscribe, r, {}, 'wamp.session.on_join']))[2];
    await joinTicket(router.url, 'guest1');
    const event = await root.next();
    expect(event.slice(0, 2)).toEqual([Event, subscription]);
    expect((event[4] as unknown[])[0]).toMatchObject({ authid: 'guest1', authrole: 'guest' });
  });
});

describe('an authid never changes the shape of a placeholder rule', () => {
  it("an authid that reads '{authrole}' fills {authid} as itself, not with the role", async () => {
    const router = await startTestRouter(CONFIG);
    const mallory = await joinTicket(router.url, '{authrole}');
    // com.inbox.{authid}. must become com.inbox.{authrole}. for this session, never com.inbox.user.
    await expectDenied(mallory, Subscribe, (r) => [Subscribe, r, {}, 'com.inbox.user.mail']);
    await expectDenied(mallory, Register, (r) => [Register, r, {}, 'com.inbox.user.rpc']);
    await expectReply(mallory, Subscribed, (r) => [Subscribe, r, {}, 'com.inbox.{authrole}.mail']);
  });

  it('an authid with a dot fills no placeholder (carol.x gets neither com.inbox.carol.x. nor com.inbox.carol.)', async () => {
    const router = await startTestRouter(CONFIG);
    const carol = await joinTicket(router.url, 'carol.x');
    await expectDenied(carol, Subscribe, (r) => [Subscribe, r, {}, 'com.inbox.carol.x.mail']);
    await expectDenied(carol, Subscribe, (r) => [Subscribe, r, {}, 'com.inbox.carol.mail']);
    await expectDenied(carol, Register, (r) => [Register, r, {}, 'com.profile.carol.x']);
    await expectReply(carol, Subscribed, (r) => [Subscribe, r, {}, 'com.team.user.chat']); // {authrole} still fills
  });
});
