/**
 * What the client puts on the wire and how it reacts to what a router sends, against a scripted
 * router stand-in: the join (HELLO details, CHALLENGE/AUTHENTICATE, ABORT), sequential request
 * IDs, ERROR routing, protocol violations, and behaviour toward a dealer without call_canceling.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { Connection, ProtocolViolationError, SessionAbortedError, WampError, connect } from '@switchboard/client';
import type { CloseEvent, InvocationDetails } from '@switchboard/client';
import { FakeRouter } from './fake-router.js';
import type { FakePeer } from './fake-router.js';
import { deferred, within } from './helpers.js';

async function joined(
  options: { roles?: Record<string, unknown> } = {},
): Promise<{ router: FakeRouter; peer: FakePeer; connection: Connection; hello: unknown[] }> {
  const router = await FakeRouter.start();
  const connection = new Connection({ url: router.url, realm: 'realm1', serializers: ['json'], reconnect: false, goodbyeTimeoutMs: 200 });
  onTestFinished(() => connection.close());
  const opening = connection.open();
  const peer = await router.peer();
  const hello = await peer.welcome(options.roles);
  await within(opening, 3000, 'join');
  return { router, peer, connection, hello };
}

describe('joining', () => {
  it('HELLO announces the roles and the Advanced Profile features the client implements', async () => {
    const { hello, connection } = await joined();
    const details = hello[2] as { roles: Record<string, { features: Record<string, boolean> }>; agent: string };
    expect(hello[1]).toBe('realm1');
    expect(Object.keys(details.roles).sort()).toEqual(['callee', 'caller', 'publisher', 'subscriber']);
    expect(details.roles['caller']!.features).toMatchObject({ call_canceling: true, progressive_call_results: true, call_timeout: true });
    expect(details.roles['callee']!.features).toMatchObject({ call_canceling: true, progressive_call_results: true, shared_registration: true });
    expect(details.agent).toMatch(/^switchboard-client\//);
    await connection.close();
  });

  it('the auth hook: authmethods, authid, authextra in HELLO; CHALLENGE → onChallenge → AUTHENTICATE', async () => {
    const router = await FakeRouter.start();
    const challenges: unknown[] = [];
    const opening = connect({
      url: router.url,
      realm: 'realm1',
      reconnect: false,
      goodbyeTimeoutMs: 100,
      auth: {
        authmethods: ['ticket'],
        authid: 'alice',
        authextra: { pubkey: 'abc' },
        onChallenge: async (method, extra) => {
          challenges.push([method, extra]);
          return { signature: 'secret-ticket', extra: { nonce: 1 } };
        },
      },
    });
    const peer = await router.peer();
    const hello = await peer.expect(MessageCode.Hello);
    expect(hello[2]).toMatchObject({ authmethods: ['ticket'], authid: 'alice', authextra: { pubkey: 'abc' } });
    peer.send([MessageCode.Challenge, 'ticket', { hint: 'x' }]);
    expect(await peer.expect(MessageCode.Authenticate)).toEqual([MessageCode.Authenticate, 'secret-ticket', { nonce: 1 }]);
    peer.send([MessageCode.Welcome, 7, { roles: { broker: {}, dealer: {} }, authid: 'alice', authmethod: 'ticket' }]);
    const session = await within(opening, 3000, 'join');
    expect(challenges).toEqual([['ticket', { hint: 'x' }]]);
    expect(session.details?.['authid']).toBe('alice');
    await session.connection.close();
  });

  it('onChallenge throwing sends ABORT authentication_failed and rejects connect', async () => {
    const router = await FakeRouter.start();
    const opening = connect({
      url: router.url,
      realm: 'realm1',
      reconnect: false,
      auth: {
        authmethods: ['wampcra'],
        onChallenge: () => {
          throw new Error('no key');
        },
      },
    });
    const failed = opening.catch((e: unknown) => e);
    const peer = await router.peer();
    await peer.expect(MessageCode.Hello);
    peer.send([MessageCode.Challenge, 'wampcra', {}]);
    const abort = await peer.expect(MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.authentication_failed');
    const error = await within(failed, 3000, 'connect to fail');
    expect(error).toBeInstanceOf(SessionAbortedError);
    expect((error as SessionAbortedError).reason).toBe('wamp.error.authentication_failed');
  });

  it('ABORT no_such_realm rejects connect with SessionAbortedError naming the reason', async () => {
    const router = await FakeRouter.start();
    const failed = connect({ url: router.url, realm: 'nope', reconnect: false }).catch((e: unknown) => e);
    const peer = await router.peer();
    await peer.expect(MessageCode.Hello);
    peer.send([MessageCode.Abort, { message: 'no realm nope' }, 'wamp.error.no_such_realm']);
    const error = await within(failed, 3000, 'connect to fail');
    expect(error).toBeInstanceOf(SessionAbortedError);
    expect(error).toMatchObject({ reason: 'wamp.error.no_such_realm', code: 'SB_ERR_ABORTED' });
    expect(String((error as Error).message)).toContain('no realm nope');
  });

  it('an unreachable URL rejects with UnreachableError', async () => {
    const router = await FakeRouter.start();
    const url = router.url;
    await router.close();
    await expect(connect({ url, realm: 'realm1', reconnect: false })).rejects.toMatchObject({ name: 'UnreachableError', code: 'SB_ERR_UNREACHABLE' });
  });
});

describe('requests', () => {
  it('request IDs count 1, 2, 3… across all request types', async () => {
    const { peer, connection } = await joined();
    const session = connection.session;
    void session.subscribe('com.t', () => {}).catch(() => {});
    const subscribe = await peer.expect(MessageCode.Subscribe);
    void session.publish('com.t', ['x']);
    const publish = await peer.expect(MessageCode.Publish);
    void session.call('com.p', [1]).catch(() => {});
    const call = await peer.expect(MessageCode.Call);
    void session.register('com.r', () => 1).catch(() => {});
    const register = await peer.expect(MessageCode.Register);
    expect([subscribe[1], publish[1], call[1], register[1]]).toEqual([1, 2, 3, 4]);
    expect(publish).toEqual([MessageCode.Publish, 2, {}, 'com.t', ['x']]);
    expect(call).toEqual([MessageCode.Call, 3, {}, 'com.p', [1]]);
  });

  it('ERROR is routed by request type: an ERROR naming the wrong type is a protocol violation', async () => {
    const { peer, connection } = await joined();
    const closed = deferred<CloseEvent>();
    connection.on('close', closed.resolve);
    const call = connection.session.call('com.p').catch((e: unknown) => e);
    const frame = await peer.expect(MessageCode.Call);
    peer.send([MessageCode.Error, MessageCode.Subscribe, frame[1], {}, 'wamp.error.not_authorized']);
    const abort = await peer.expect(MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.protocol_violation');
    expect(abort[1]).toMatchObject({ message: expect.stringContaining('SUBSCRIBE') });
    const event = await within(closed.promise, 3000, 'close');
    expect(event).toMatchObject({ reason: 'protocol_violation', willReconnect: false });
    expect(await call).toBeInstanceOf(ProtocolViolationError);
  });

  it('an undecodable frame from the router: ABORT protocol_violation, close reason protocol_violation', async () => {
    const { peer, connection } = await joined();
    const closed = deferred<CloseEvent>();
    connection.on('close', closed.resolve);
    peer.sendText('[36, "not an id", 1, {}]');
    const abort = await peer.expect(MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.protocol_violation');
    expect(await within(closed.promise, 3000, 'close')).toMatchObject({ reason: 'protocol_violation' });
  });
});

describe('call canceling and timeouts with a dealer that announces neither', () => {
  it('abort rejects at once with wamp.error.canceled, sends no CANCEL, and drops the late result', async () => {
    const { peer, connection } = await joined();
    const controller = new AbortController();
    const call = connection.session.call('com.slow', [], {}, { signal: controller.signal }).catch((e: unknown) => e);
    const frame = await peer.expect(MessageCode.Call);
    controller.abort();
    const error = await within(call, 1000, 'the call to reject');
    expect(error).toBeInstanceOf(WampError);
    expect((error as WampError).uri).toBe('wamp.error.canceled');
    peer.send([MessageCode.Result, frame[1], {}, ['late']]);
    // The next request is the next frame: no CANCEL went out in between.
    const next = connection.session.call('com.next').catch(() => {});
    expect((await peer.next())[0]).toBe(MessageCode.Call);
    void next;
  });

  it('timeout is enforced by the client: wamp.error.timeout, and the option is not sent', async () => {
    const { peer, connection } = await joined();
    const call = connection.session.call('com.slow', [], {}, { timeout: 50 }).catch((e: unknown) => e);
    const frame = await peer.expect(MessageCode.Call);
    expect(frame[2]).toEqual({});
    expect(await within(call, 2000, 'the timeout')).toMatchObject({ uri: 'wamp.error.timeout' });
  });

  it('with call_canceling and call_timeout announced, CANCEL goes out with the chosen mode and timeout goes to the dealer', async () => {
    const { peer, connection } = await joined({ roles: { broker: { features: {} }, dealer: { features: { call_canceling: true, call_timeout: true } } } });
    const controller = new AbortController();
    const call = connection.session.call('com.slow', [], {}, { signal: controller.signal, cancelMode: 'kill', timeout: 5000 }).catch((e: unknown) => e);
    const frame = await peer.expect(MessageCode.Call);
    expect(frame[2]).toEqual({ timeout: 5000 });
    controller.abort();
    expect(await peer.expect(MessageCode.Cancel)).toEqual([MessageCode.Cancel, frame[1], { mode: 'kill' }]);
    expect(await call).toMatchObject({ uri: 'wamp.error.canceled' });
  });
});

describe('callee', () => {
  it('INTERRUPT aborts details.signal and the client answers ERROR wamp.error.canceled', async () => {
    const { peer, connection } = await joined();
    const seen = deferred<InvocationDetails>();
    void connection.session.register('com.work', (_args, _kwargs, details) => {
      seen.resolve(details);
      return new Promise(() => {}); // never answers by itself
    });
    const register = await peer.expect(MessageCode.Register);
    peer.send([MessageCode.Registered, register[1], 99]);
    peer.send([MessageCode.Invocation, 1, 99, {}, [1]]);
    const details = await within(seen.promise, 2000, 'the invocation');
    expect(details.signal.aborted).toBe(false);
    peer.send([MessageCode.Interrupt, 1, { mode: 'killnowait' }]);
    const error = await peer.expect(MessageCode.Error);
    expect(error.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Invocation, 1, {}, 'wamp.error.canceled']);
    expect(details.signal.aborted).toBe(true);
    expect(details.signal.reason).toBeInstanceOf(WampError);
  });

  it('INTERRUPT after the handler answered changes nothing', async () => {
    const { peer, connection } = await joined();
    void connection.session.register('com.quick', () => 'done');
    const register = await peer.expect(MessageCode.Register);
    peer.send([MessageCode.Registered, register[1], 5]);
    peer.send([MessageCode.Invocation, 1, 5, {}]);
    expect(await peer.expect(MessageCode.Yield)).toEqual([MessageCode.Yield, 1, {}, ['done']]);
    peer.send([MessageCode.Interrupt, 1, {}]);
    peer.send([MessageCode.Invocation, 2, 5, {}]);
    expect((await peer.next())[0]).toBe(MessageCode.Yield); // not an ERROR for request 1
  });

  it('progress() sends YIELD progress only when the caller asked for it', async () => {
    const { peer, connection } = await joined();
    void connection.session.register('com.stream', (_a, _k, details) => {
      details.progress([1]);
      details.progress([2], { k: true });
      return 'end';
    });
    const register = await peer.expect(MessageCode.Register);
    peer.send([MessageCode.Registered, register[1], 8]);
    peer.send([MessageCode.Invocation, 1, 8, { receive_progress: true }]);
    expect(await peer.next()).toEqual([MessageCode.Yield, 1, { progress: true }, [1]]);
    expect(await peer.next()).toEqual([MessageCode.Yield, 1, { progress: true }, [2], { k: true }]);
    expect(await peer.next()).toEqual([MessageCode.Yield, 1, {}, ['end']]);
    peer.send([MessageCode.Invocation, 2, 8, {}]);
    expect(await peer.next()).toEqual([MessageCode.Yield, 2, {}, ['end']]);
  });

  it('an INVOCATION for an unknown registration is answered with ERROR no_such_registration', async () => {
    const { peer } = await joined();
    peer.send([MessageCode.Invocation, 1, 12345, {}]);
    const error = await peer.expect(MessageCode.Error);
    expect(error[4]).toBe('wamp.error.no_such_registration');
  });
});
