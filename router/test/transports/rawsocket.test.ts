/**
 * WAMP-over-RawSocket [ap_transport_rawsocket]: the handshake and its error replies, framing,
 * PING/PONG, limits in both directions, every way of breaking the framing, and RawSocket sessions
 * routing with WebSocket sessions on one realm; over TCP, a Unix socket, TLS, and a port shared
 * with HTTP. Each broken connection must cost only itself: a witness pair of WebSocket sessions
 * keeps routing.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { ConfigError, Router as RouterClass, silentLogger } from '@switchboard/router';
import { RawPeer, startTestRouter, until, within } from '../helpers.js';
import type { RawSocketTarget } from './support.js';
import { RawSocketClient, SERIALIZER_IDS, connectAutobahnOver, expectRawSocketViolation, post, rawFrame, selfSignedCertificate, witness } from './support.js';

const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack', 'cbor'];

/** A router with a WebSocket listener (first, for router.url) and a RawSocket listener on TCP. */
async function routerWithRawSocket(
  rawsocket: Record<string, unknown> = {},
  config: RouterConfigFile = {},
): Promise<{ router: Router; target: RawSocketTarget }> {
  const router = await startTestRouter({ ...config, listeners: [{ type: 'websocket' }, { type: 'rawsocket', ...rawsocket }] });
  const address = router.addresses[1]!;
  expect(address.type).toBe('rawsocket');
  expect(address.url).toBe(`rs://127.0.0.1:${address.port}`);
  return { router, target: { host: '127.0.0.1', port: address.port } };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-rs-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Pub/sub and RPC both ways between a RawSocket session and a WebSocket session of another serializer. */
async function routesWithWebSocket(router: Router, rs: RawSocketClient, ws: RawPeer): Promise<void> {
  // RawSocket subscribes, WebSocket publishes.
  rs.send([MessageCode.Subscribe, rs.nextRequest(), {}, 'com.rs.topic']);
  expect((await rs.next())[0]).toBe(MessageCode.Subscribed);
  const publish = ws.nextRequest();
  ws.send([MessageCode.Publish, publish, { acknowledge: true }, 'com.rs.topic', ['from ws', 2 ** 53], { ü: 'ß' }]);
  expect((await ws.next())[0]).toBe(MessageCode.Published);
  const event = await rs.next();
  expect(event[0]).toBe(MessageCode.Event);
  expect(event.slice(4)).toEqual([['from ws', 2 ** 53], { ü: 'ß' }]);
  // WebSocket subscribes, RawSocket publishes.
  ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.ws.topic']);
  expect((await ws.next())[0]).toBe(MessageCode.Subscribed);
  rs.send([MessageCode.Publish, rs.nextRequest(), {}, 'com.ws.topic', ['from rs']]);
  expect((await ws.next()).slice(4)).toEqual([['from rs']]);
  // WebSocket calls a RawSocket callee.
  rs.send([MessageCode.Register, rs.nextRequest(), {}, 'com.rs.add']);
  expect((await rs.next())[0]).toBe(MessageCode.Registered);
  const call = ws.nextRequest();
  ws.send([MessageCode.Call, call, {}, 'com.rs.add', [2, 3]]);
  const invocation = await rs.next();
  expect(invocation[0]).toBe(MessageCode.Invocation);
  expect(invocation[4]).toEqual([2, 3]);
  rs.send([MessageCode.Yield, invocation[1], {}, [5]]);
  expect(await ws.next()).toEqual([MessageCode.Result, call, {}, [5]]);
  // RawSocket calls a WebSocket callee.
  ws.send([MessageCode.Register, ws.nextRequest(), {}, 'com.ws.echo']);
  expect((await ws.next())[0]).toBe(MessageCode.Registered);
  const call2 = rs.nextRequest();
  rs.send([MessageCode.Call, call2, {}, 'com.ws.echo', ['hi']]);
  const inv2 = await ws.next();
  ws.send([MessageCode.Yield, inv2[1], {}, inv2[4]]);
  expect(await rs.next()).toEqual([MessageCode.Result, call2, {}, ['hi']]);
  expect(router.sessionCount).toBe(2);
}

describe.each(SERIALIZERS)('RawSocket over TCP with %s', (serializer) => {
  it('joins, and routes events and calls both ways with a WebSocket session', async () => {
    const { router, target } = await routerWithRawSocket();
    const rs = await RawSocketClient.join(target, serializer);
    expect(rs.session).toBeGreaterThan(0);
    const ws = await RawPeer.join(router.url, serializer === 'json' ? 'cbor' : 'json');
    await routesWithWebSocket(router, rs, ws);
  });

  it('announces the listener maximum and echoes the serializer in the handshake reply', async () => {
    const { target } = await routerWithRawSocket({ maxMessageBytes: 65536 });
    const client = await RawSocketClient.open(target);
    const reply = await client.handshake(serializer, 12);
    // 0x7F, LLLL = 16 - 9, SSSS = the client's serializer, two zero octets.
    expect([...reply]).toEqual([0x7f, (7 << 4) | SERIALIZER_IDS[serializer], 0, 0]);
  });
});

describe('the handshake', () => {
  it('works when its octets arrive one at a time, and with HELLO in the same write', async () => {
    const { target } = await routerWithRawSocket();
    const slow = await RawSocketClient.open(target);
    for (const octet of [0x7f, 0xf1, 0, 0]) {
      slow.sendRaw(Buffer.from([octet]));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect([...(await slow.awaitReply())]).toEqual([0x7f, 0xf1, 0, 0]); // 2^24 default (16 MiB, the largest), JSON
    const eager = await RawSocketClient.open(target);
    const hello = rawFrame(0, Buffer.from(JSON.stringify([MessageCode.Hello, 'realm1', { roles: { subscriber: {} } }])));
    eager.sendRaw(Buffer.concat([Buffer.from([0x7f, 0xf1, 0, 0]), hello]));
    expect((await eager.next())[0]).toBe(MessageCode.Welcome);
  });

  it.each<[string, number[], number]>([
    ['serializer 0 (illegal)', [0x7f, 0xf0, 0, 0], 1],
    ['serializer 4 (UBJSON, not supported)', [0x7f, 0xf4, 0, 0], 1],
    ['serializer 15 (reserved)', [0x7f, 0xff, 0, 0], 1],
    ['reserved third octet', [0x7f, 0xf1, 0x01, 0], 3],
    ['reserved fourth octet', [0x7f, 0xf1, 0, 0x80], 3],
  ])('%s → error reply %i, then the connection closes; others unaffected', async (_name, octets, code) => {
    const { router, target } = await routerWithRawSocket();
    const others = await witness(router);
    const client = await RawSocketClient.open(target);
    client.sendRaw(Buffer.from(octets));
    expect([...(await client.awaitReply())]).toEqual([0x7f, code << 4, 0, 0]);
    await client.waitClosed();
    await others.stillWorks();
  });

  it('refuses a serializer the listener does not offer with error 1', async () => {
    const { target } = await routerWithRawSocket({ serializers: ['cbor'] });
    const client = await RawSocketClient.open(target);
    expect([...(await client.handshake('json'))]).toEqual([0x7f, 0x10, 0, 0]);
    await client.waitClosed();
    const cbor = await RawSocketClient.open(target);
    expect((await cbor.handshake('cbor'))[1]! & 0x0f).toBe(3);
  });

  it('refuses a client maximum below minPeerMaxMessageBytes with error 2', async () => {
    const { router, target } = await routerWithRawSocket({ minPeerMaxMessageBytes: 4096 });
    const others = await witness(router);
    const small = await RawSocketClient.open(target);
    expect([...(await small.handshake('json', 11))]).toEqual([0x7f, 0x20, 0, 0]);
    await small.waitClosed();
    const enough = await RawSocketClient.open(target);
    expect((await enough.handshake('json', 12))[1]! & 0x0f).toBe(1);
    await others.stillWorks();
  });

  it('refuses a connection past maxConnections with error 4, and accepts again once one leaves', async () => {
    const { router, target } = await routerWithRawSocket({ maxConnections: 2 });
    const first = await RawSocketClient.join(target);
    await RawSocketClient.join(target, 'msgpack');
    const third = await RawSocketClient.open(target);
    expect([...(await third.handshake('json'))]).toEqual([0x7f, 0x40, 0, 0]);
    await third.waitClosed();
    first.socket.end();
    await until(() => router.sessionCount === 1, 2000, 'the first session to end');
    const fourth = await RawSocketClient.join(target);
    expect(fourth.session).toBeGreaterThan(0);
  });

  it('drops a connection whose first octet is not 0x7F without a reply', async () => {
    const { router, target } = await routerWithRawSocket();
    const others = await witness(router);
    const client = await RawSocketClient.open(target);
    client.sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await client.waitClosed();
    expect(client.reply).toBeUndefined();
    await others.stillWorks();
  });
});

describe('frames', () => {
  it('answers each PING at once with a PONG echoing its payload', async () => {
    const { target } = await routerWithRawSocket();
    const client = await RawSocketClient.join(target);
    const payloads = [Buffer.from('ping-1'), Buffer.alloc(0), Buffer.from([0, 1, 2, 0xfe, 0xff])];
    client.sendRaw(Buffer.concat(payloads.map((p) => rawFrame(1, p))));
    for (const payload of payloads) expect(await client.nextControl()).toEqual({ type: 2, payload });
    // The session is untouched by PING and PONG frames.
    client.sendRaw(rawFrame(2, Buffer.from('unsolicited pong')));
    client.send([MessageCode.Subscribe, client.nextRequest(), {}, 'com.t']);
    expect((await client.next())[0]).toBe(MessageCode.Subscribed);
  });

  it('reassembles frames split anywhere, and reads several frames from one chunk', async () => {
    const { router, target } = await routerWithRawSocket();
    const client = await RawSocketClient.join(target, 'msgpack');
    const ws = await RawPeer.join(router.url);
    ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.split']);
    await ws.next();
    const frames = Buffer.concat(
      [1, 2, 3].map((i) => {
        const encoded = client.codec.encode([MessageCode.Publish, client.nextRequest(), {}, 'com.split', [i, 'x'.repeat(3000)]]);
        return rawFrame(0, encoded as Uint8Array);
      }),
    );
    // Octet by octet through the first header, then uneven chunks.
    for (let i = 0; i < 5; i++) client.sendRaw(frames.subarray(i, i + 1));
    for (let at = 5; at < frames.length; at += 777) client.sendRaw(frames.subarray(at, Math.min(frames.length, at + 777)));
    for (const i of [1, 2, 3]) expect(((await ws.next())[4] as unknown[])[0]).toBe(i);
  });

  it('accepts a message of exactly the announced maximum', async () => {
    const { router, target } = await routerWithRawSocket({ maxMessageBytes: 4096 });
    const client = await RawSocketClient.join(target);
    const ws = await RawPeer.join(router.url);
    ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.max']);
    await ws.next();
    const head = JSON.stringify([MessageCode.Publish, client.nextRequest(), {}, 'com.max', ['']]);
    const message = head.replace('[""]', `["${'y'.repeat(4096 - head.length)}"]`);
    expect(Buffer.byteLength(message)).toBe(4096);
    client.sendRaw(rawFrame(0, Buffer.from(message)));
    expect(((await ws.next())[4] as string[])[0]).toHaveLength(4096 - head.length);
  });

  const broken: [string, (client: RawSocketClient) => void, RegExp][] = [
    ['reserved bits in a frame header', (c) => c.sendRaw(Buffer.from([0x10, 0, 0, 2, 0x5b, 0x5d])), /reserved bits set in a frame header/],
    ['a reserved frame type', (c) => c.sendRaw(Buffer.from([0x05, 0, 0, 0])), /reserved frame type 5/],
    ['the X bit with a non-zero length', (c) => c.sendRaw(Buffer.from([0x08, 0, 0, 1])), /beyond 2\^24/],
    ['a frame over the announced maximum', (c) => c.sendRaw(Buffer.from([0x00, 0x00, 0x10, 0x01])), /frame of 4097 octets exceeds the maximum of 4096/],
    ['a PING over the announced maximum', (c) => c.sendRaw(Buffer.from([0x01, 0x01, 0x00, 0x00])), /exceeds the maximum/],
    ['an undecodable payload', (c) => c.sendRaw(rawFrame(0, Buffer.from('[1, "realm1"'))), /undecodable json message/],
    ['an empty payload', (c) => c.sendRaw(rawFrame(0, Buffer.alloc(0))), /undecodable json message/],
    ['a message that is not a list', (c) => c.sendRaw(rawFrame(0, Buffer.from('{"hello": 1}'))), /must be a list/],
  ];

  it.each(broken)('%s → ABORT protocol_violation and the connection closes; others unaffected', async (_name, breakIt, mentions) => {
    const { router, target } = await routerWithRawSocket({ maxMessageBytes: 4096 });
    const others = await witness(router);
    const client = await RawSocketClient.join(target);
    breakIt(client);
    await expectRawSocketViolation(client, mentions);
    await until(() => router.sessionCount === 2, 2000, 'the broken session to end');
    await others.stillWorks();
  });

  it('a frame cut short by the client closing ends only that session', async () => {
    const { router, target } = await routerWithRawSocket();
    const others = await witness(router);
    const client = await RawSocketClient.join(target);
    client.sendRaw(Buffer.concat([Buffer.from([0, 0, 0, 100]), Buffer.from('[16, 1, {}')]));
    client.socket.end();
    await client.waitClosed();
    await until(() => router.sessionCount === 2, 2000, 'the truncated session to end');
    await others.stillWorks();
  });

  it('a connection that never completes its handshake is not a session and does not block others', async () => {
    const { router, target } = await routerWithRawSocket();
    const others = await witness(router);
    const client = await RawSocketClient.open(target);
    client.sendRaw(Buffer.from([0x7f, 0xf1])); // two of four octets
    await others.stillWorks();
    await until(() => router.sessionCount === 2, 1000, 'the witness pair alone'); // the fresh one has left
    client.socket.destroy();
  });
});

describe('messages longer than the client accepts', () => {
  it('an EVENT is dropped for that client and counted; the session goes on', async () => {
    const { router, target } = await routerWithRawSocket();
    const client = await RawSocketClient.open(target);
    await client.handshake('json', 12); // the client accepts 4096 octets
    client.send([MessageCode.Hello, 'realm1', { roles: { subscriber: {} } }]);
    expect((await client.next())[0]).toBe(MessageCode.Welcome);
    client.send([MessageCode.Subscribe, client.nextRequest(), {}, 'com.big']);
    expect((await client.next())[0]).toBe(MessageCode.Subscribed);
    const ws = await RawPeer.join(router.url);
    ws.send([MessageCode.Publish, ws.nextRequest(), { acknowledge: true }, 'com.big', ['z'.repeat(5000)]]);
    await ws.next();
    ws.send([MessageCode.Publish, ws.nextRequest(), { acknowledge: true }, 'com.big', ['small']]);
    await ws.next();
    // Never truncated: the big one is not there at all, the small one arrives whole.
    expect((await client.next())[4]).toEqual(['small']);
    expect(router.counters.messagesTooLarge).toBe(1);
    expect(router.counters.eventsDropped).toBe(1);
  });

  it('a reply the client waits for fails the connection rather than leaving the call hanging', async () => {
    const { router, target } = await routerWithRawSocket();
    const client = await RawSocketClient.open(target);
    await client.handshake('msgpack', 12);
    client.send([MessageCode.Hello, 'realm1', { roles: { caller: {} } }]);
    expect((await client.next())[0]).toBe(MessageCode.Welcome);
    const callee = await RawPeer.join(router.url);
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.big.result']);
    await callee.next();
    client.send([MessageCode.Call, client.nextRequest(), {}, 'com.big.result', []]);
    const invocation = await callee.next();
    callee.send([MessageCode.Yield, invocation[1], {}, ['r'.repeat(5000)]]);
    await client.waitClosed();
    expect(router.counters.messagesTooLarge).toBe(1);
    await until(() => router.sessionCount === 1, 2000, 'the caller session to end');
  });
});

describe('backpressure', () => {
  it('cuts off a RawSocket subscriber that stops reading; a WebSocket witness keeps routing', async () => {
    const { router, target } = await routerWithRawSocket({ outbound: { softLimitBytes: 64 * 1024, hardLimitBytes: 128 * 1024, drainTimeoutMs: 200 } });
    const others = await witness(router);
    const slow = await RawSocketClient.join(target);
    slow.send([MessageCode.Subscribe, slow.nextRequest(), {}, 'com.flood']);
    expect((await slow.next())[0]).toBe(MessageCode.Subscribed);
    slow.socket.pause();
    const pub = await RawPeer.join(router.url);
    const payload = 'p'.repeat(16 * 1024);
    const deadline = Date.now() + 5000;
    while (router.counters.peersCutOff === 0 && Date.now() < deadline) {
      for (let i = 0; i < 50; i++) pub.send([MessageCode.Publish, pub.nextRequest(), {}, 'com.flood', [payload]]);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(router.counters.peersCutOff).toBe(1);
    expect(router.counters.eventsDropped).toBeGreaterThan(0);
    // A paused socket sees its end only once it reads again.
    slow.socket.resume();
    await slow.waitClosed();
    await others.stillWorks();
  });
});

describe('keep-alive', () => {
  it('sends PINGs; a client that answers stays, one that sends nothing is dropped', async () => {
    const { router, target } = await routerWithRawSocket({ pingIntervalMs: 100 });
    const answering = await RawSocketClient.join(target);
    const silent = await RawSocketClient.join(target);
    silent.socket.pause();
    for (let i = 0; i < 4; i++) {
      const ping = await answering.nextControl();
      expect(ping.type).toBe(1);
      answering.sendRaw(rawFrame(2, ping.payload));
    }
    await until(() => router.sessionCount === 1, 1000, 'the silent session to end');
    silent.socket.resume();
    await silent.waitClosed();
    answering.send([MessageCode.Subscribe, answering.nextRequest(), {}, 'com.alive']);
    expect((await answering.next())[0]).toBe(MessageCode.Subscribed);
  });
});

describe('Unix domain socket', () => {
  it('listens on a path, routes with WebSocket sessions, and removes the socket file when stopped', async () => {
    const path = join(tempDir(), 'switchboard.sock');
    const router = await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', path }] });
    expect(router.addresses[1]).toMatchObject({ type: 'rawsocket', url: `rs://unix:${path}`, path });
    const rs = await RawSocketClient.join({ path }, 'cbor');
    const ws = await RawPeer.join(router.url, 'msgpack');
    await routesWithWebSocket(router, rs, ws);
    expect(existsSync(path)).toBe(true);
    await router.stop();
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a stale socket file nobody listens on', async () => {
    const path = join(tempDir(), 'stale.sock');
    writeFileSync(path, '');
    await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', path }] });
    const rs = await RawSocketClient.join({ path });
    expect(rs.session).toBeGreaterThan(0);
  });

  it('refuses a path another router is serving', async () => {
    const path = join(tempDir(), 'busy.sock');
    await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', path }] });
    const second = new RouterClass({ config: { listeners: [{ type: 'rawsocket', path }] }, logger: silentLogger() });
    await expect(second.start()).rejects.toThrow(/EADDRINUSE/);
    // The first one still serves it.
    expect((await RawSocketClient.join({ path })).session).toBeGreaterThan(0);
  });
});

describe('TLS', () => {
  it('RawSocket over TLS on its own listener, routing with a WebSocket session', async () => {
    const { cert, key, ca } = await selfSignedCertificate();
    const router = await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', tls: { cert, key } }] });
    const address = router.addresses[1]!;
    expect(address).toMatchObject({ secure: true, url: `rss://127.0.0.1:${address.port}` });
    const rs = await RawSocketClient.join({ host: '127.0.0.1', port: address.port, tls: { ca } }, 'msgpack');
    const ws = await RawPeer.join(router.url, 'json');
    await routesWithWebSocket(router, rs, ws);
  });

  it('a TLS certificate file that cannot be read stops the start with a config error naming the field', async () => {
    const router = new RouterClass({
      config: { listeners: [{ type: 'rawsocket', port: 0, host: '127.0.0.1', tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } }] },
      logger: silentLogger(),
    });
    const error = await router.start().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^\/listeners\/0\/tls\/cert: cannot read \/nonexistent\/cert.pem: .*ENOENT/),
      expect.stringMatching(/^\/listeners\/0\/tls\/key: cannot read \/nonexistent\/key.pem: .*ENOENT/),
    ]);
  });
});

describe('one port for everything', () => {
  it('RawSocket, WebSocket and HTTP on one port: the first octet decides', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true }] });
    const address = router.addresses[0]!;
    expect(address.rawsocketUrl).toBe(`rs://127.0.0.1:${address.port}`);
    const rs = await RawSocketClient.join({ host: '127.0.0.1', port: address.port }, 'json');
    const ws = await RawPeer.join(router.url, 'cbor');
    await routesWithWebSocket(router, rs, ws);
    const health = await post(`http://127.0.0.1:${address.port}/health`, undefined, 3000, 'GET');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body.toString())).toEqual({ status: 'ok', sessions: 2 });
    // Garbage that is neither: HTTP's 400, and nothing else is disturbed.
    const garbage = await RawSocketClient.open({ host: '127.0.0.1', port: address.port });
    garbage.sendRaw(Buffer.from('\x01\x02\x03 nonsense\r\n\r\n'));
    await garbage.waitClosed();
    ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.after']);
    expect((await ws.next())[0]).toBe(MessageCode.Subscribed);
  });

  it('RawSocket framing errors on the shared port cost only that connection', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true, maxMessageBytes: 4096 }] });
    const others = await witness(router);
    const client = await RawSocketClient.join({ host: '127.0.0.1', port: router.addresses[0]!.port });
    client.sendRaw(Buffer.from([0x00, 0x00, 0x10, 0x01]));
    await expectRawSocketViolation(client, /4097 octets exceeds the maximum of 4096/);
    const refused = await RawSocketClient.open({ host: '127.0.0.1', port: router.addresses[0]!.port });
    refused.sendRaw(Buffer.from([0x7f, 0xf1, 0, 1]));
    expect([...(await refused.awaitReply())]).toEqual([0x7f, 0x30, 0, 0]);
    await others.stillWorks();
  });

  it('with TLS: wss, https and RawSocket over TLS on one port', async () => {
    const { cert, key, ca } = await selfSignedCertificate();
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true, tls: { cert, key } }] });
    const address = router.addresses[0]!;
    expect(address).toMatchObject({ secure: true, url: `wss://127.0.0.1:${address.port}/ws`, rawsocketUrl: `rss://127.0.0.1:${address.port}` });
    const rs = await RawSocketClient.join({ host: '127.0.0.1', port: address.port, tls: { ca } }, 'cbor');
    const { default: WebSocket } = await import('ws');
    const socket = new WebSocket(address.url, ['wamp.2.json'], { ca });
    onTestFinished(() => socket.terminate());
    const welcome = await within(
      new Promise<unknown>((resolve, reject) => {
        socket.once('open', () => socket.send(JSON.stringify([MessageCode.Hello, 'realm1', { roles: { publisher: {} } }])));
        socket.once('message', (data: Buffer) => resolve(JSON.parse(data.toString())));
        socket.once('error', reject);
      }),
      5000,
      'WELCOME over wss',
    );
    expect((welcome as unknown[])[0]).toBe(MessageCode.Welcome);
    rs.send([MessageCode.Subscribe, rs.nextRequest(), {}, 'com.tls']);
    await rs.next();
    socket.send(JSON.stringify([MessageCode.Publish, 1, {}, 'com.tls', ['secret']]));
    expect((await rs.next())[4]).toEqual(['secret']);
    const { request } = await import('node:https');
    const health = await within(
      new Promise<number>((resolve, reject) => {
        const req = request(`https://127.0.0.1:${address.port}/health`, { ca, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end();
      }),
      5000,
      'GET /health over https',
    );
    expect(health).toBe(200);
  });
});

describe('autobahn-js (npm autobahn 22.11) over RawSocket', () => {
  it('pub/sub and RPC with a WebSocket session on the same realm', async () => {
    const { router, target } = await routerWithRawSocket();
    if ('path' in target) throw new Error('expected TCP');
    const { session } = await connectAutobahnOver({ type: 'rawsocket', host: target.host, port: target.port });
    const ws = await RawPeer.join(router.url, 'msgpack');
    // autobahn subscribes, the WebSocket session publishes.
    const events: unknown[][] = [];
    await within(
      session.subscribe('com.ab.topic', (args) => events.push(args)),
      3000,
      'SUBSCRIBED',
    );
    ws.send([MessageCode.Publish, ws.nextRequest(), { acknowledge: true }, 'com.ab.topic', ['to autobahn', 42]]);
    await ws.next();
    await until(() => events.length === 1, 3000, 'the event at autobahn');
    expect(events[0]).toEqual(['to autobahn', 42]);
    // autobahn registers, the WebSocket session calls.
    await within(
      session.register('com.ab.mul', (args) => (args[0] as number) * (args[1] as number)),
      3000,
      'REGISTERED',
    );
    const call = ws.nextRequest();
    ws.send([MessageCode.Call, call, {}, 'com.ab.mul', [6, 7]]);
    expect(await ws.next()).toEqual([MessageCode.Result, call, {}, [42]]);
    // The WebSocket session registers, autobahn calls; autobahn publishes to the WebSocket session.
    ws.send([MessageCode.Register, ws.nextRequest(), {}, 'com.ws.greet']);
    await ws.next();
    const result = session.call('com.ws.greet', ['rawsocket']);
    const invocation = await ws.next();
    ws.send([MessageCode.Yield, invocation[1], {}, [`hello ${String((invocation[4] as unknown[])[0])}`]]);
    expect(await within(result, 3000, 'RESULT at autobahn')).toBe('hello rawsocket');
    ws.send([MessageCode.Subscribe, ws.nextRequest(), {}, 'com.ws.topic']);
    await ws.next();
    await within(session.publish('com.ws.topic', ['from autobahn'], {}, { acknowledge: true })!, 3000, 'PUBLISHED');
    expect((await ws.next())[4]).toEqual(['from autobahn']);
  });
});
