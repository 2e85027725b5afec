/**
 * The connection's handshake and the WAMP session's life, without sockets: a fake Peer, a fake
 * RouterCore with one real realm, authenticators written inline, fake timers for the hello timeout.
 * [bp_sessions: session establishment and closing]
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { PublicationId, RequestId } from '@switchboard/schemas';
import type { AuthResult, Authenticator } from '../../src/auth/types.js';
import { Connection, ConnectionState, HANDSHAKE_TIMEOUT } from '../../src/connection.js';
import { FakePeer, fakeCore } from './fakes.js';

const ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };

/** Accepts everyone as `authid` (or as the HELLO's authid). */
const anonymous: Authenticator = {
  method: 'anonymous',
  authenticate: (hello) => ({ kind: 'accept', principal: { authid: hello.authid ?? 'anon', authrole: 'anonymous', authprovider: 'static' } }),
};

function connect(authenticators: Authenticator[] = [anonymous], limits: { helloTimeoutMs?: number } = {}) {
  const core = fakeCore();
  const peer = new FakePeer();
  const connection = new Connection(peer, core, new Map(authenticators.map((a) => [a.method, a])), limits);
  return { core, peer, connection };
}

const hello = (authid?: string, authmethods = ['anonymous']): unknown[] => [
  MessageCode.Hello,
  'realm1',
  { roles: ROLES, authmethods, ...(authid !== undefined && { authid }) },
];

afterEach(() => {
  vi.useRealTimers();
});

describe('handshake', () => {
  it('HELLO → WELCOME makes a session with the identity the authenticator gave', () => {
    const { core, peer, connection } = connect();
    connection.onFrame(hello('alice'));
    expect(peer.codes()).toEqual([MessageCode.Welcome]);
    const session = connection.session!;
    expect(session.identity).toEqual({ authid: 'alice', authrole: 'anonymous', authmethod: 'anonymous', authprovider: 'static' });
    expect(peer.received[0]![1]).toBe(session.id);
    expect(peer.received[0]![2]).toMatchObject({ realm: 'realm1', authid: 'alice', authrole: 'anonymous' });
    expect(core.realm1.sessions.get(session.id)).toBe(session);
    expect(connection.state).toBe(ConnectionState.Established);
    expect(core.stats.messagesIn[MessageCode.Hello]).toBe(1);
    expect(core.stats.messagesOut[MessageCode.Welcome]).toBe(1);
  });

  it('runs CHALLENGE rounds until the authenticator accepts', () => {
    const rounds: string[] = [];
    const twice: Authenticator = {
      method: 'ticket',
      authenticate: (): AuthResult => ({
        kind: 'challenge',
        extra: { round: 1 },
        respond: (signature) => {
          rounds.push(signature);
          return {
            kind: 'challenge',
            extra: { round: 2 },
            respond: (second) => (rounds.push(second), { kind: 'accept', principal: { authid: 'joe', authrole: 'user', authprovider: 'static' } }),
          };
        },
      }),
    };
    const { peer, connection } = connect([twice]);
    connection.onFrame(hello('joe', ['ticket']));
    expect(peer.received).toEqual([[MessageCode.Challenge, 'ticket', { round: 1 }]]);
    expect(connection.state).toBe(ConnectionState.Authenticating);
    connection.onFrame([MessageCode.Authenticate, 'first', {}]);
    expect(peer.received[1]).toEqual([MessageCode.Challenge, 'ticket', { round: 2 }]);
    connection.onFrame([MessageCode.Authenticate, 'second', {}]);
    expect(peer.codes()).toEqual([MessageCode.Challenge, MessageCode.Challenge, MessageCode.Welcome]);
    expect(rounds).toEqual(['first', 'second']);
    expect(connection.session!.identity.authmethod).toBe('ticket');
  });

  it('holds later messages while an authenticator answers asynchronously (a Pause), then runs them in order', async () => {
    let accept!: (r: AuthResult) => void;
    const slow: Authenticator = { method: 'anonymous', authenticate: () => new Promise<AuthResult>((resolve) => (accept = resolve)) };
    const { peer, connection } = connect([slow]);
    connection.onFrame(hello());
    connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.example.topic']);
    expect(peer.received).toEqual([]);
    accept({ kind: 'accept', principal: { authid: 'a', authrole: 'anonymous', authprovider: 'static' } });
    await vi.waitFor(() => expect(peer.codes()).toEqual([MessageCode.Welcome, MessageCode.Subscribed]));
  });

  it('ABORTs a connection that sends no HELLO within helloTimeoutMs', () => {
    vi.useFakeTimers();
    const { core, peer, connection } = connect([anonymous], { helloTimeoutMs: 100 });
    vi.advanceTimersByTime(99);
    expect(peer.received).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(peer.received).toEqual([[MessageCode.Abort, { message: 'no session established within 100 ms' }, HANDSHAKE_TIMEOUT]]);
    expect(peer.closed?.code).toBe(1008);
    expect(connection.state).toBe(ConnectionState.Closed);
    expect(core.stats.handshakeTimeouts).toBe(1);
  });

  it('ABORTs a CHALLENGE left unanswered for authTimeoutMs, counting a failed authentication', () => {
    vi.useFakeTimers();
    let abandoned = 0;
    const ticket: Authenticator = {
      method: 'ticket',
      authenticate: () => ({
        kind: 'challenge',
        extra: {},
        respond: () => ({ kind: 'deny', reason: 'wamp.error.not_authorized', message: 'no' }),
        abandoned: () => void abandoned++,
      }),
    };
    const core = fakeCore({ authTimeoutMs: 50 });
    const peer = new FakePeer();
    new Connection(peer, core, new Map([['ticket', ticket]])).onFrame(hello('joe', ['ticket']));
    expect(peer.codes()).toEqual([MessageCode.Challenge]);
    vi.advanceTimersByTime(49);
    expect(peer.closed).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(peer.received[1]).toEqual([MessageCode.Abort, { message: 'no AUTHENTICATE in time' }, 'wamp.error.authentication_failed']);
    expect(core.stats.authFailures.get('ticket wamp.error.authentication_failed')).toBe(1);
    expect(abandoned).toBe(1);
    expect(core.released).toEqual([101]);
  });

  it('leaves an established session alone when helloTimeoutMs passes, and arms it again after GOODBYE', () => {
    vi.useFakeTimers();
    const { peer, connection } = connect([anonymous], { helloTimeoutMs: 100 });
    connection.onFrame(hello());
    vi.advanceTimersByTime(500);
    expect(peer.closed).toBeUndefined();
    connection.onFrame([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    vi.advanceTimersByTime(100);
    expect(peer.codes()).toEqual([MessageCode.Welcome, MessageCode.Goodbye, MessageCode.Abort]);
    expect(peer.closed?.code).toBe(1008);
  });

  it('GOODBYE ends the session; a new HELLO on the same connection makes a new session object with a new identity', () => {
    const { core, peer, connection } = connect();
    connection.onFrame(hello('alice'));
    const alice = connection.session!;
    connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.example.topic']);
    connection.onFrame([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect(peer.received.at(-1)).toEqual([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
    expect(alice.live).toBe(false);
    expect(connection.session).toBeUndefined();
    expect(connection.state).toBe(ConnectionState.Opening);
    expect(core.realm1.sessions.size).toBe(0);
    expect(core.released).toEqual([alice.id]);
    // The subscription died with alice.
    expect(core.realm1.broker.hasSubscribers('com.example.topic')).toBe(false);

    connection.onFrame(hello('bob'));
    const bob = connection.session!;
    expect(bob).not.toBe(alice);
    expect(bob.membership).not.toBe(alice.membership);
    expect(bob.identity.authid).toBe('bob');
    expect(alice.identity.authid).toBe('alice');
    expect(bob.id).not.toBe(alice.id);
    // A fresh session counts request IDs from 1 again.
    connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.example.topic']);
    expect(peer.codes().at(-1)).toBe(MessageCode.Subscribed);
    // Whatever still holds alice cannot reach bob's client.
    const before = peer.received.length;
    expect(alice.send({ code: MessageCode.Published, request: 9 as RequestId, publication: 1 as PublicationId })).toBe('gone');
    expect(peer.received.length).toBe(before);
  });

  it('ABORT from the client ends the session and closes the transport', () => {
    const { core, peer, connection } = connect();
    connection.onFrame(hello());
    const session = connection.session!;
    connection.onFrame([MessageCode.Abort, {}, 'wamp.close.system_shutdown']);
    expect(session.live).toBe(false);
    expect(core.realm1.sessions.size).toBe(0);
    expect(peer.closed).toEqual({ code: 1000, reason: 'aborted by client' });
    expect(connection.state).toBe(ConnectionState.Closed);
  });

  it('answers a HELLO for an unknown realm with ABORT no_such_realm', () => {
    const { peer, connection } = connect();
    connection.onFrame([MessageCode.Hello, 'nowhere', { roles: ROLES }]);
    expect(peer.received).toEqual([[MessageCode.Abort, { message: "no realm named 'nowhere' on this router" }, 'wamp.error.no_such_realm']]);
    expect(peer.closed?.reason).toBe('wamp.error.no_such_realm');
  });

  it('ABORTs a denied authentication and releases the session ID it drew', () => {
    const deny: Authenticator = { method: 'anonymous', authenticate: () => ({ kind: 'deny', reason: 'wamp.error.not_authorized', message: 'no' }) };
    const { core, peer, connection } = connect([deny]);
    connection.onFrame(hello());
    expect(peer.received).toEqual([[MessageCode.Abort, { message: 'no' }, 'wamp.error.not_authorized']]);
    expect(core.released).toHaveLength(1);
    expect(connection.session).toBeUndefined();
  });

  it('is a protocol violation to send anything but HELLO first, or a non-sequential request ID', () => {
    const first = connect();
    first.connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.example.topic']);
    expect(first.peer.received[0]![2]).toBe('wamp.error.protocol_violation');
    expect(first.core.stats.protocolViolations).toBe(1);

    const second = connect();
    second.connection.onFrame(hello());
    second.connection.onFrame([MessageCode.Subscribe, 2, {}, 'com.example.topic']);
    expect(second.peer.received[1]).toEqual([MessageCode.Abort, { message: 'request ID 2 is not sequential (expected 1)' }, 'wamp.error.protocol_violation']);
    expect(second.peer.closed?.code).toBe(1002);
  });
});
