/**
 * Every protocol-error case of the spec ([bp_sessions: Protocol Errors]) and the transport rules,
 * sent as hand-built frames. Each must ABORT only the offending session with
 * wamp.error.protocol_violation; a witness session established before keeps working, and a new
 * session can still join.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MessageCode } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from './helpers.js';

const PV = 'wamp.error.protocol_violation';
const HELLO = [MessageCode.Hello, 'realm1', { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } }];

/** Two sessions that can exchange an event, to prove the router still routes for others. */
async function witness(router: Router) {
  const sub = await RawPeer.join(router.url, 'json');
  const pub = await RawPeer.join(router.url, 'msgpack');
  sub.send([MessageCode.Subscribe, sub.nextRequest(), {}, 'com.witness']);
  const subscribed = await sub.next();
  expect(subscribed[0]).toBe(MessageCode.Subscribed);
  return {
    async stillWorks(): Promise<void> {
      const request = pub.nextRequest();
      pub.send([MessageCode.Publish, request, { acknowledge: true }, 'com.witness', ['alive']]);
      expect(await pub.next()).toEqual([MessageCode.Published, request, expect.any(Number)]);
      const event = await sub.next();
      expect(event[0]).toBe(MessageCode.Event);
      expect(event[4]).toEqual(['alive']);
      const fresh = await RawPeer.join(router.url, 'cbor');
      expect(fresh.session).toBeGreaterThan(0);
      fresh.close();
    },
  };
}

async function expectViolation(peer: RawPeer, mentions: RegExp): Promise<void> {
  const abort = await peer.next();
  expect(abort[0]).toBe(MessageCode.Abort);
  expect(abort[2]).toBe(PV);
  expect((abort[1] as { message: string }).message).toMatch(mentions);
  const closed = await peer.waitClosed();
  expect(closed.code).toBe(1002);
}

describe('protocol violations before the session is established', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a dict instead of a list', { hello: 1 }, /must be a list, got a dict/],
    ['a string', 'HELLO', /must be a list, got string/],
    ['a number', 42, /must be a list, got number/],
    ['an empty list', [], /empty list/],
    ['a non-integer message type', ['1', 'realm1', {}], /element 0 \(MessageType\): expected an integer/],
    ['an unknown message type', [99, 'realm1', {}], /known WAMP message type, got number 99/],
    ['HELLO with a non-string realm', [MessageCode.Hello, 7, {}], /HELLO element 1 \(Realm\): expected a URI string, got number 7/],
    ['HELLO with details as a list', [MessageCode.Hello, 'realm1', []], /HELLO element 2 \(Details\): expected a dict, got a list/],
    ['HELLO with too many elements', [MessageCode.Hello, 'realm1', {}, 1], /HELLO: expected 3 elements, got 4/],
    ['HELLO without roles', [MessageCode.Hello, 'realm1', {}], /roles/],
    ['PUBLISH before HELLO', [MessageCode.Publish, 1, {}, 'com.topic'], /received PUBLISH before the session was established/],
    ['GOODBYE before HELLO', [MessageCode.Goodbye, {}, 'wamp.close.close_realm'], /received GOODBYE before/],
    ['ERROR before HELLO', [MessageCode.Error, MessageCode.Invocation, 1, {}, 'com.error'], /received ERROR before/],
    ['SUBSCRIBED before HELLO', [MessageCode.Subscribed, 1, 2], /received SUBSCRIBED before/],
    ['UNSUBSCRIBED before HELLO', [MessageCode.Unsubscribed, 1], /received UNSUBSCRIBED before/],
    ['PUBLISHED before HELLO', [MessageCode.Published, 1, 2], /received PUBLISHED before/],
    ['RESULT before HELLO', [MessageCode.Result, 1, {}], /received RESULT before/],
    ['REGISTERED before HELLO', [MessageCode.Registered, 1, 2], /received REGISTERED before/],
    ['UNREGISTERED before HELLO', [MessageCode.Unregistered, 1], /received UNREGISTERED before/],
    ['INVOCATION before HELLO', [MessageCode.Invocation, 1, 2, {}], /received INVOCATION before/],
    ['AUTHENTICATE without CHALLENGE', [MessageCode.Authenticate, 'sig', {}], /received AUTHENTICATE before/],
  ];

  it.each(cases)('%s → ABORT, others unaffected', async (_name, frame, mentions) => {
    const router = await startTestRouter();
    const others = await witness(router);
    const peer = await RawPeer.connect(router.url, 'json');
    peer.sendRaw(JSON.stringify(frame), false);
    await expectViolation(peer, mentions);
    await others.stillWorks();
  });
});

describe('protocol violations in an established session', () => {
  const cases: [string, (peer: RawPeer) => unknown, RegExp][] = [
    ['a second HELLO', () => HELLO, /HELLO message after session was established/],
    ['WELCOME from a client', () => [MessageCode.Welcome, 1, {}], /received WELCOME, which only a router may send/],
    ['CHALLENGE from a client', () => [MessageCode.Challenge, 'ticket', {}], /received CHALLENGE, which only a router may send/],
    ['EVENT from a client', () => [MessageCode.Event, 1, 2, {}], /received EVENT, which only a router may send/],
    ['RESULT from a client', () => [MessageCode.Result, 1, {}], /received RESULT/],
    ['INVOCATION from a client', () => [MessageCode.Invocation, 1, 1, {}], /received INVOCATION/],
    ['INTERRUPT from a client', () => [MessageCode.Interrupt, 1, {}], /received INTERRUPT/],
    ['AUTHENTICATE after WELCOME', () => [MessageCode.Authenticate, 'x', {}], /AUTHENTICATE message after session was established/],
    ['ERROR with invalid REQUEST.Type', () => [MessageCode.Error, MessageCode.Call, 1, {}, 'com.err'], /ERROR with invalid REQUEST.Type CALL/],
    ['ERROR with an unknown REQUEST.Type', () => [MessageCode.Error, 7, 1, {}, 'com.err'], /REQUEST.Type\): expected a WAMP message type/],
    ['YIELD for an invocation never sent', () => [MessageCode.Yield, 1, {}], /YIELD for INVOCATION.Request 1, which was never sent/],
    ['ERROR for an invocation never sent', () => [MessageCode.Error, MessageCode.Invocation, 5, {}, 'com.err'], /ERROR for INVOCATION.Request 5/],
    ['a request ID that skips ahead', () => [MessageCode.Subscribe, 2, {}, 'com.topic'], /request ID 2 is not sequential \(expected 1\)/],
    [
      'a repeated request ID',
      (p) => {
        p.send([MessageCode.Publish, p.nextRequest(), {}, 'com.t']);
        return [MessageCode.Publish, 1, {}, 'com.t'];
      },
      /request ID 1 is not sequential \(expected 2\)/,
    ],
    ['request ID 0', () => [MessageCode.Call, 0, {}, 'com.proc'], /CALL element 1 \(Request\): expected an ID \(integer in \[1, 2\^53\]\), got number 0/],
    ['request ID above 2^53', () => [MessageCode.Call, 2 ** 53 + 2, {}, 'com.proc'], /expected an ID/],
    ['a fractional request ID', () => [MessageCode.Register, 1.5, {}, 'com.proc'], /REGISTER element 1 \(Request\): expected an ID/],
    ['PUBLISH with options as a list', () => [MessageCode.Publish, 1, [], 'com.t'], /PUBLISH element 2 \(Options\): expected a dict, got a list/],
    ['PUBLISH with a numeric topic', () => [MessageCode.Publish, 1, {}, 5], /PUBLISH element 3 \(Topic\): expected a URI string/],
    ['PUBLISH with kwargs as a list', () => [MessageCode.Publish, 1, {}, 'com.t', [], []], /element 5 \(ArgumentsKw\): expected a dict/],
    ['CALL with arguments as a dict', () => [MessageCode.Call, 1, {}, 'com.p', {}], /CALL element 4 \(Arguments\): expected a list/],
    ['SUBSCRIBE missing the topic', () => [MessageCode.Subscribe, 1, {}], /SUBSCRIBE: expected 4 elements, got 3/],
    ['UNSUBSCRIBE with a string ID', () => [MessageCode.Unsubscribe, 1, 'abc'], /UNSUBSCRIBE element 2 \(SUBSCRIBED.Subscription\): expected an ID/],
    ['an unknown message type', () => [1024, 1], /known WAMP message type, got number 1024/],
  ];

  it.each(cases)('%s → ABORT, others unaffected', async (_name, build, mentions) => {
    const router = await startTestRouter();
    const others = await witness(router);
    const peer = await RawPeer.join(router.url, 'json');
    peer.send(build(peer) as unknown[]);
    await expectViolation(peer, mentions);
    await others.stillWorks();
  });

  it('disposes the offender’s subscriptions and registrations', async () => {
    const router = await startTestRouter();
    const bad = await RawPeer.join(router.url, 'json');
    bad.send([MessageCode.Register, bad.nextRequest(), {}, 'com.proc']);
    expect((await bad.next())[0]).toBe(MessageCode.Registered);
    bad.send([MessageCode.Subscribe, bad.nextRequest(), {}, 'com.topic']);
    expect((await bad.next())[0]).toBe(MessageCode.Subscribed);
    bad.send(HELLO);
    await expectViolation(bad, /HELLO/);
    const realm = router.realm('realm1')!;
    expect(realm.dealer.registrationCount).toBe(0);
    expect(realm.broker.subscriptionCount).toBe(0);
    // The procedure is free again.
    const other = await RawPeer.join(router.url, 'json');
    other.send([MessageCode.Register, other.nextRequest(), {}, 'com.proc']);
    expect((await other.next())[0]).toBe(MessageCode.Registered);
  });
});

describe('transport-level violations', () => {
  it('a binary frame on wamp.2.json → ABORT', async () => {
    const router = await startTestRouter();
    const others = await witness(router);
    const peer = await RawPeer.connect(router.url, 'json');
    peer.sendRaw(new Uint8Array([0x93, 0x01, 0xa1, 0x61]), true);
    await expectViolation(peer, /binary WebSocket message on wamp.2.json/);
    await others.stillWorks();
  });

  it('a text frame on wamp.2.msgpack → ABORT', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.connect(router.url, 'msgpack');
    peer.sendRaw(JSON.stringify(HELLO), false);
    await expectViolation(peer, /text WebSocket message on wamp.2.msgpack/);
  });

  it.each([
    ['json', '[1, "realm1", {', false, /undecodable json message/],
    ['json', '', false, /undecodable json message/],
    ['msgpack', new Uint8Array([0xc1]), true, /undecodable msgpack message/],
    ['msgpack', new Uint8Array([0x93, 0x01]), true, /undecodable msgpack message/],
    ['cbor', new Uint8Array([0x83, 0x01, 0x66, 0x72]), true, /undecodable cbor message/],
    ['cbor', new Uint8Array([0xff]), true, /undecodable cbor message/],
  ] as const)('undecodable %s frame %# → ABORT', async (serializer, data, binary, mentions) => {
    const router = await startTestRouter();
    const others = await witness(router);
    const peer = await RawPeer.connect(router.url, serializer);
    peer.sendRaw(data, binary);
    await expectViolation(peer, mentions);
    await others.stillWorks();
  });

  it('undecodable frame after WELCOME → ABORT and the session is disposed', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.join(router.url, 'cbor');
    expect(router.sessionCount).toBe(1);
    peer.sendRaw(new Uint8Array([0x9f, 0x01]), true);
    await expectViolation(peer, /undecodable cbor/);
    expect(router.sessionCount).toBe(0);
  });

  it('a message over maxMessageBytes closes the connection with 1009', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxMessageBytes: 4096 }] });
    const others = await witness(router);
    const peer = await RawPeer.join(router.url, 'json');
    peer.send([MessageCode.Publish, peer.nextRequest(), {}, 'com.big', ['x'.repeat(5000)]]);
    const closed = await peer.waitClosed();
    expect(closed.code).toBe(1009);
    await others.stillWorks();
  });

  it.each([
    [['wamp.2.xml'], /requested: wamp.2.xml; supported: wamp.2.json, wamp.2.msgpack, wamp.2.cbor/],
    [[], /requested: none/],
  ])('subprotocol %j is refused with HTTP 400 naming what is supported', async (protocols, mentions) => {
    const router = await startTestRouter();
    const ws = new WebSocket(router.url, protocols);
    const response = await within(
      new Promise<{ status: number; body: string }>((resolve) => {
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        ws.on('error', () => undefined);
      }),
      3000,
      'the refusal',
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatch(mentions);
  });

  it('picks the client’s preferred subprotocol among those offered', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', serializers: ['cbor', 'json'] }] });
    const peer = await RawPeer.connect(router.url, 'json', ['wamp.2.msgpack', 'wamp.2.json', 'wamp.2.cbor']);
    expect(peer.ws.protocol).toBe('wamp.2.json');
  });
});
