/**
 * The client over RawSocket (TCP and Unix socket; json, msgpack, cbor) and HTTP long-poll, each
 * doing pub/sub and RPC with a WebSocket peer on the same realm; and the `transports` list tried
 * in order, with the transport in use reported in the `open` event.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { parseRawSocketUrl, transportTypeOf } from '@switchboard/client';
import type { ConnectOptions, ConnectionEvents, Session } from '@switchboard/client';
import { startTestRouter } from '../../router/test/helpers.js';
import { Proxy, deferred, nextEvent, open, openConnection, uri, within } from './helpers.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-client-rs-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Pub/sub both ways and RPC both ways between `session` and a WebSocket session. */
async function exercise(session: Session, ws: Session): Promise<void> {
  const toSession = uri('in');
  const toWs = uri('out');
  const inbox = await session.subscribe(toSession);
  const outbox = await ws.subscribe(toWs);
  await ws.publish(toSession, ['to client', 2 ** 40], { n: 1 }, { acknowledge: true });
  const event = await nextEvent(inbox);
  expect(event.args).toEqual(['to client', 2 ** 40]);
  expect(event.kwargs).toEqual({ n: 1 });
  await session.publish(toWs, ['from client'], {}, { acknowledge: true });
  expect((await nextEvent(outbox)).args).toEqual(['from client']);
  const add = uri('add');
  await ws.register(add, (args) => (args as number[])[0]! + (args as number[])[1]!);
  expect(await session.call(add, [2, 3])).toBe(5);
  const upper = uri('upper');
  await session.register(upper, (args) => String((args as string[])[0]).toUpperCase());
  expect(await ws.call(upper, ['shout'])).toBe('SHOUT');
  // Binary payloads survive the binary codecs (JSON carries them as base64 per the spec).
  const echo = uri('echo');
  await ws.register(echo, (args) => args[0]);
  expect(await session.call(echo, [new Uint8Array([0, 1, 255])])).toEqual(new Uint8Array([0, 1, 255]));
}

const SERIALIZERS: SerializerName[] = ['json', 'msgpack', 'cbor'];

describe('RawSocket', () => {
  it('parses rs://, tcp://, unix: and absolute paths; infers transports from URL schemes', () => {
    expect(parseRawSocketUrl('rs://127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseRawSocketUrl('tcp://[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseRawSocketUrl('rs://unix:/tmp/sb.sock')).toEqual({ path: '/tmp/sb.sock' });
    expect(parseRawSocketUrl('unix:/tmp/sb.sock')).toEqual({ path: '/tmp/sb.sock' });
    expect(parseRawSocketUrl('/tmp/sb.sock')).toEqual({ path: '/tmp/sb.sock' });
    expect(() => parseRawSocketUrl('rs://nohost')).toThrow(TypeError);
    expect(transportTypeOf('ws://h/ws')).toBe('websocket');
    expect(transportTypeOf('https://h/lp')).toBe('longpoll');
    expect(transportTypeOf('tcp://h:1')).toBe('rawsocket');
    expect(() => transportTypeOf('ftp://h')).toThrow(TypeError);
  });

  for (const serializer of SERIALIZERS) {
    it(`TCP with ${serializer}: pub/sub and RPC with a WebSocket peer`, async () => {
      const router = await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket' }] });
      const rsUrl = router.addresses[1]!.url;
      expect(rsUrl).toMatch(/^rs:\/\/127\.0\.0\.1:\d+$/);
      const opened = deferred<ConnectionEvents['open']>();
      const connection = await openConnection({ url: rsUrl, realm: 'realm1', serializers: [serializer], reconnect: false });
      connection.on('open', opened.resolve);
      expect(connection.transport).toEqual({ type: 'rawsocket', url: rsUrl, protocol: `wamp.2.${serializer}` });
      expect(connection.session.serializer).toBe(serializer);
      const ws = await open(router.url, serializer === 'json' ? 'cbor' : 'json');
      await exercise(connection.session, ws);
    });
  }

  it('tcp:// as well, and a Unix socket path with each serializer', async () => {
    const path = join(tempDir(), 'switchboard.sock');
    const router = await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', path }, { type: 'rawsocket' }] });
    const ws = await open(router.url, 'msgpack');
    for (const serializer of SERIALIZERS) {
      const session = await open(`unix:${path}`, serializer);
      await exercise(session, ws);
    }
    const tcp = await open(router.addresses[2]!.url.replace(/^rs:/, 'tcp:'), 'cbor');
    await exercise(tcp, ws);
  });

  it('on the shared port of a websocket listener (first octet 0x7F)', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true }] });
    const session = await open(router.addresses[0]!.rawsocketUrl!, 'msgpack');
    await exercise(session, await open(router.url));
  });

  it('answers a refused handshake (serializer unsupported) with UnreachableError naming the reason', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket' }, { type: 'rawsocket', serializers: ['json'] }] });
    const attempt = within(
      open(router.addresses[1]!.url, 'cbor').then(
        () => 'opened',
        (err: unknown) => err,
      ),
      5000,
      'the refused open',
    );
    const err = await attempt;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('UnreachableError');
    expect((err as Error).message).toMatch(/serializer unsupported/);
  });

  it('answers PING with PONG echoing the payload', async () => {
    // A minimal RawSocket "router" by hand: accepts the handshake, pings, and checks the pong.
    const pong = deferred<Buffer>();
    const server = createServer((sock) => {
      let buffered = Buffer.alloc(0);
      let handshook = false;
      sock.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (!handshook && buffered.length >= 4) {
          handshook = true;
          sock.write(Buffer.from([0x7f, 0xf1, 0, 0]));
          buffered = buffered.subarray(4);
          const payload = Buffer.from('ping-payload');
          sock.write(Buffer.concat([Buffer.from([1, 0, 0, payload.length]), payload]));
        }
        // The HELLO frame comes first, then the PONG.
        while (buffered.length >= 4) {
          const length = buffered.readUIntBE(1, 3);
          if (buffered.length < 4 + length) return;
          if (buffered[0] === 2) {
            pong.resolve(Buffer.from(buffered.subarray(4, 4 + length)));
            sock.destroy();
          }
          buffered = buffered.subarray(4 + length);
        }
      });
      sock.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const { connect } = await import('@switchboard/client');
    const joining = connect({ url: `rs://127.0.0.1:${port}`, realm: 'realm1', serializers: ['json'], reconnect: false, openTimeoutMs: 3000 }).catch(
      () => undefined,
    );
    expect((await within(pong.promise, 3000, 'the PONG')).toString()).toBe('ping-payload');
    await within(joining, 5000, 'the join to fail');
  });
});

async function routerWithLongPoll(): Promise<{ wsUrl: string; lpUrl: string; port: number }> {
  const router = await startTestRouter({ listeners: [{ type: 'websocket', longpoll: {} }] });
  const address = router.addresses[0]!;
  return { wsUrl: router.url, lpUrl: address.longpollUrl!, port: address.port! };
}

describe('HTTP long-poll', () => {
  for (const serializer of SERIALIZERS) {
    it(`with ${serializer}: pub/sub and RPC with a WebSocket peer, and a clean close`, async () => {
      const { wsUrl, lpUrl } = await routerWithLongPoll();
      const connection = await openConnection({ url: lpUrl, realm: 'realm1', serializers: [serializer], reconnect: false });
      expect(connection.transport).toEqual({ type: 'longpoll', url: lpUrl, protocol: `wamp.2.${serializer}` });
      const ws = await open(wsUrl, 'json');
      await exercise(connection.session, ws);
      // Many events in a burst arrive in order (each held receive answers one).
      const topic = uri('burst');
      const sub = await connection.session.subscribe(topic);
      for (let n = 0; n < 20; n++) await ws.publish(topic, [n]);
      await ws.publish(topic, [20], {}, { acknowledge: true });
      const seen: unknown[] = [];
      for (let n = 0; n <= 20; n++) seen.push((await nextEvent(sub)).args[0]);
      expect(seen).toEqual([...Array(21).keys()]);
      const closed = deferred<ConnectionEvents['close']>();
      connection.on('close', closed.resolve);
      await within(connection.close(), 5000, 'close');
      expect((await within(closed.promise, 3000, 'the close event')).reason).toBe('left');
    });
  }
});

describe('RawSocket and long-poll over a link that breaks', () => {
  for (const type of ['rawsocket', 'longpoll'] as const) {
    it(`${type}: reconnects, subscribes again, and still receives events`, async () => {
      const router = await startTestRouter({ listeners: [{ type: 'websocket', longpoll: {}, rawsocket: true }] });
      const address = router.addresses[0]!;
      const proxy = await Proxy.start(address.port!);
      const url = type === 'rawsocket' ? `rs://127.0.0.1:${proxy.port}` : `http://127.0.0.1:${proxy.port}/lp`;
      const connection = await openConnection({
        url,
        realm: 'realm1',
        serializers: ['msgpack'],
        reconnect: { initialDelayMs: 10, maxDelayMs: 50, maxRetries: 20 },
      });
      const topic = uri('again');
      const sub = await connection.session.subscribe(topic);
      const restored = deferred<ConnectionEvents['restored']>();
      const reopened = deferred<ConnectionEvents['open']>();
      connection.on('restored', restored.resolve);
      connection.on('open', reopened.resolve);
      const lost = deferred<ConnectionEvents['close']>();
      connection.on('close', lost.resolve);
      proxy.cut();
      expect(await within(lost.promise, 5000, 'the close event')).toMatchObject({ reason: 'lost', willReconnect: true });
      expect((await within(restored.promise, 5000, 'the restore')).failed).toEqual([]);
      expect((await reopened.promise).transport).toMatchObject({ type, url, protocol: 'wamp.2.msgpack' });
      const ws = await open(router.url);
      await ws.publish(topic, ['after'], {}, { acknowledge: true });
      expect((await nextEvent(sub)).args).toEqual(['after']);
    });
  }

  it('long-poll: receive requests the router answers empty (request timeout) are simply renewed', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', longpoll: { requestTimeoutMs: 100 } }] });
    const session = await open(router.addresses[0]!.longpollUrl!);
    const topic = uri('idle');
    const sub = await session.subscribe(topic);
    const ws = await open(router.url);
    // This test is about time passing: several of the router's 100 ms request timeouts go by (each
    // answering a held receive with 204), with calls in between proving the session is alive.
    const echo = uri('ping');
    await ws.register(echo, () => 'pong');
    for (let n = 0; n < 4; n++) {
      expect(await session.call(echo)).toBe('pong');
      await new Promise<void>((resolve) => setTimeout(resolve, 120));
    }
    await ws.publish(topic, ['late'], {}, { acknowledge: true });
    expect((await nextEvent(sub)).args).toEqual(['late']);
  });
});

describe('the transports list', () => {
  it('falls back in order to the first transport that opens, and reports it in the open event', async () => {
    const { wsUrl, lpUrl, port } = await routerWithLongPoll();
    const opened = deferred<ConnectionEvents['open']>();
    const options: ConnectOptions = {
      realm: 'realm1',
      reconnect: false,
      openTimeoutMs: 3000,
      transports: [
        // No upgrade on this path (HTTP 404), then nothing listening on a closed port.
        { type: 'websocket', url: `ws://127.0.0.1:${port}/no-such-path` },
        { type: 'rawsocket', url: 'rs://127.0.0.1:1' },
        { type: 'longpoll', url: lpUrl },
        { type: 'websocket', url: wsUrl },
      ],
    };
    const { Connection } = await import('@switchboard/client');
    const connection = new Connection(options);
    connection.on('open', opened.resolve);
    onTestFinished(() => within(connection.close(), 5000, 'close'));
    await within(connection.open(), 10_000, 'the connection to open');
    const event = await within(opened.promise, 1000, 'the open event');
    expect(event.transport).toEqual({ type: 'longpoll', url: lpUrl, protocol: 'wamp.2.json' });
    expect(connection.url).toBe(lpUrl);
    await exercise(connection.session, await open(wsUrl));
  });

  it('takes the first transport when it opens', async () => {
    const { wsUrl, lpUrl } = await routerWithLongPoll();
    const connection = await openConnection({
      realm: 'realm1',
      reconnect: false,
      transports: [
        { type: 'websocket', url: wsUrl },
        { type: 'longpoll', url: lpUrl },
      ],
    });
    expect(connection.transport?.type).toBe('websocket');
  });

  it('rejects with the last error when none opens, and refuses an empty list', async () => {
    const { port } = await routerWithLongPoll();
    const { Connection } = await import('@switchboard/client');
    const connection = new Connection({
      realm: 'realm1',
      reconnect: false,
      openTimeoutMs: 2000,
      transports: [
        { type: 'websocket', url: `ws://127.0.0.1:${port}/nope` },
        { type: 'longpoll', url: `http://127.0.0.1:${port}/nope` },
      ],
    });
    const err = await within(
      connection.open().then(
        () => undefined,
        (e: unknown) => e,
      ),
      5000,
      'the failed open',
    );
    expect((err as Error).name).toBe('UnreachableError');
    expect((err as Error).message).toMatch(/the router refused the long-poll transport: HTTP 404 Not Found: no resource at \/nope\/open/);
    expect(() => new Connection({ realm: 'realm1', transports: [] })).toThrow(TypeError);
  });
});
