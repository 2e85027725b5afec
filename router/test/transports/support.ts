import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { expect, onTestFinished } from 'vitest';
import autobahn from 'autobahn';
import type { Codec, SerializerName } from '@switchboard/schemas';
import { CODECS, MessageCode } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import type { Closed } from '../helpers.js';
import { FrameQueue, RawPeer, within } from '../helpers.js';

export const HELLO_DETAILS = { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } };
export const PV = 'wamp.error.protocol_violation';

// ---- RawSocket, by hand ------------------------------------------------------------------------

export type RawSocketTarget = { host: string; port: number; tls?: { ca: Buffer } } | { path: string };

export interface RawFrame {
  type: number;
  payload: Buffer;
}

/** The serializer IDs of the handshake. [ap_transport_rawsocket] */
export const SERIALIZER_IDS: Readonly<Record<SerializerName, number>> = { json: 1, msgpack: 2, cbor: 3 };

/** A frame: type, 24-bit length (big-endian), payload. */
export function rawFrame(type: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + payload.length);
  out[0] = type;
  out.writeUIntBE(payload.length, 1, 3);
  out.set(payload, 4);
  return out;
}

/**
 * A RawSocket client at the byte level: the test decides every octet it sends, and reads the
 * handshake reply and frames as they come.
 */
export class RawSocketClient {
  readonly closed: Promise<void>;
  codec: Codec = CODECS.json;
  /** The router's handshake reply, once it came. */
  reply: Buffer | undefined;
  #handshook = false;
  #buffer = Buffer.alloc(0);
  readonly #messages = new FrameQueue<unknown>('a WAMP message over RawSocket');
  readonly #control = new FrameQueue<RawFrame>('a PING or PONG');
  #wake: (() => void) | undefined;
  #request = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.closed.then(
      () => {
        this.#messages.end('connection closed');
        this.#control.end('connection closed');
        this.#wake?.();
      },
      () => {},
    );
  }

  static async open(target: RawSocketTarget): Promise<RawSocketClient> {
    const socket =
      'path' in target
        ? netConnect(target.path)
        : target.tls !== undefined
          ? tlsConnect({ host: target.host, port: target.port, ca: target.tls.ca, servername: 'localhost' })
          : netConnect(target.port, target.host);
    onTestFinished(() => {
      socket.destroy();
    });
    const event = 'path' in target || target.tls === undefined ? 'connect' : 'secureConnect';
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once(event, () => resolve());
        socket.once('error', reject);
      }),
      5000,
      'the RawSocket connection',
    );
    return new RawSocketClient(socket);
  }

  /** Connects, completes the handshake and HELLO → WELCOME. */
  static async join(target: RawSocketTarget, serializer: SerializerName = 'json', realm = 'realm1'): Promise<RawSocketClient & { session: number }> {
    const client = await RawSocketClient.open(target);
    const reply = await client.handshake(serializer);
    expect(reply[1]! & 0x0f, `handshake refused with error ${reply[1]! >> 4}`).toBe(SERIALIZER_IDS[serializer]);
    client.send([MessageCode.Hello, realm, HELLO_DETAILS]);
    const welcome = await client.next();
    if (welcome[0] !== MessageCode.Welcome) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
    return Object.assign(client, { session: welcome[1] as number });
  }

  /** Sends the 4 handshake octets and waits for the router's 4. */
  async handshake(serializer: SerializerName, lengthExponent = 24, reserved = 0): Promise<Buffer> {
    this.codec = CODECS[serializer];
    this.sendRaw(Buffer.from([0x7f, ((lengthExponent - 9) << 4) | SERIALIZER_IDS[serializer], reserved >> 8, reserved & 0xff]));
    return this.awaitReply();
  }

  async awaitReply(ms = 3000): Promise<Buffer> {
    await this.#until(() => this.reply !== undefined || this.socket.destroyed, ms, 'the handshake reply');
    if (this.reply === undefined) throw new Error('connection closed without a handshake reply');
    return this.reply;
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(message: unknown[]): void {
    const encoded = this.codec.encode(message);
    this.sendRaw(rawFrame(0, typeof encoded === 'string' ? Buffer.from(encoded) : encoded));
  }

  nextRequest(): number {
    return ++this.#request;
  }

  /** The next WAMP message. */
  async next(ms = 3000): Promise<unknown[]> {
    const value = await this.#messages.next(ms);
    if (!Array.isArray(value)) throw new Error(`non-list frame ${JSON.stringify(value)}`);
    return value;
  }

  /** The next PING or PONG frame. */
  async nextControl(ms = 3000): Promise<RawFrame> {
    return this.#control.next(ms);
  }

  /** True if no WAMP message arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    return this.#messages.silentFor(ms);
  }

  waitClosed(ms = 3000): Promise<void> {
    return within(this.closed, ms, 'the RawSocket connection to close');
  }

  #until(condition: () => boolean, ms: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return within(
      new Promise<void>((resolve) => {
        this.#wake = () => {
          if (!condition()) return;
          this.#wake = undefined;
          resolve();
        };
      }),
      ms,
      what,
    );
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#handshook) {
      if (this.#buffer.length < 4) return;
      this.reply = this.#buffer.subarray(0, 4);
      this.#buffer = this.#buffer.subarray(4);
      this.#handshook = true;
    }
    while (this.#buffer.length >= 4) {
      const length = (this.#buffer[0]! & 0x08) !== 0 ? 2 ** 24 : this.#buffer.readUIntBE(1, 3);
      if (this.#buffer.length < 4 + length) break;
      const type = this.#buffer[0]! & 0x07;
      const payload = Buffer.from(this.#buffer.subarray(4, 4 + length));
      this.#buffer = this.#buffer.subarray(4 + length);
      if (type === 0) this.#messages.push(this.codec.decode(this.codec.binary ? payload : payload.toString('utf8')));
      else this.#control.push({ type, payload });
    }
    this.#wake?.();
  }
}

// ---- long-poll over HTTP ----------------------------------------------------------------------

export interface HttpReply {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** One HTTP request on its own connection (no keep-alive pool to outlive the test), bounded by `ms`. */
export function post(url: string, body?: Uint8Array | string, ms = 5000, method = 'POST'): Promise<HttpReply> {
  return within(
    new Promise<HttpReply>((resolve, reject) => {
      const req = httpRequest(url, { method, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.once('error', reject);
      });
      req.once('error', reject);
      onTestFinished(() => {
        req.destroy();
      });
      req.end(body);
    }),
    ms,
    `${method} ${url}`,
  );
}

/** POST <base>/open; the transport ID and chosen protocol. */
export async function longPollOpen(base: string, protocols: string[]): Promise<{ transport: string; protocol: string }> {
  const reply = await post(`${base}/open`, JSON.stringify({ protocols }));
  expect(reply.status, reply.body.toString()).toBe(200);
  return JSON.parse(reply.body.toString()) as { transport: string; protocol: string };
}

// ---- TLS --------------------------------------------------------------------------------------

export { selfSignedCertificate } from '../../../test/support/tls.js';

// ---- a witness --------------------------------------------------------------------------------

/** Two WebSocket sessions exchanging an event: proof that the router still routes for others. */
export async function witness(router: Router): Promise<{ stillWorks(): Promise<void> }> {
  const sub = await RawPeer.join(router.url, 'json');
  const pub = await RawPeer.join(router.url, 'msgpack');
  sub.send([MessageCode.Subscribe, sub.nextRequest(), {}, 'com.witness']);
  expect((await sub.next())[0]).toBe(MessageCode.Subscribed);
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

/** ABORT wamp.error.protocol_violation whose message matches, then the connection closes. */
export async function expectRawSocketViolation(client: RawSocketClient, mentions: RegExp): Promise<void> {
  const abort = await client.next();
  expect(abort[0]).toBe(MessageCode.Abort);
  expect(abort[2]).toBe(PV);
  expect((abort[1] as { message: string }).message).toMatch(mentions);
  await client.waitClosed();
}

export async function expectWebSocketClosed(peer: RawPeer): Promise<Closed> {
  return peer.waitClosed();
}

// ---- autobahn-js over rawsocket and long-poll --------------------------------------------------

/**
 * Just enough XMLHttpRequest, on node:http, for autobahn-js's long-poll transport (util.http_post:
 * open, setRequestHeader, send, timeout/ontimeout, readyState 4 → onreadystatechange, status,
 * statusText, responseText). Node has no XMLHttpRequest of its own.
 */
export class NodeXMLHttpRequest {
  static readonly open = new Set<NodeXMLHttpRequest>();
  readyState = 0;
  status = 0;
  statusText = '';
  responseText = '';
  timeout = 0;
  withCredentials = false;
  onreadystatechange: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  #method = 'GET';
  #url = '';
  readonly #headers: Record<string, string> = {};
  #destroy: (() => void) | undefined;

  open(method: string, url: string): void {
    this.#method = method;
    this.#url = url;
    this.readyState = 1;
  }

  setRequestHeader(name: string, value: string): void {
    this.#headers[name] = value;
  }

  send(body?: string): void {
    NodeXMLHttpRequest.open.add(this);
    let done = false;
    const finish = (status: number, statusText: string, text: string): void => {
      if (done) return;
      done = true;
      NodeXMLHttpRequest.open.delete(this);
      clearTimeout(timer);
      this.status = status;
      this.statusText = statusText;
      this.responseText = text;
      this.readyState = 4;
      this.onreadystatechange?.();
    };
    const req = httpRequest(this.#url, { method: this.#method, headers: this.#headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => finish(res.statusCode ?? 0, res.statusMessage ?? '', Buffer.concat(chunks).toString('utf8')));
      res.once('error', () => finish(0, 'network error', ''));
    });
    req.once('error', () => finish(0, 'network error', ''));
    const timer =
      this.timeout > 0
        ? setTimeout(() => {
            if (done) return;
            done = true;
            NodeXMLHttpRequest.open.delete(this);
            req.destroy();
            this.ontimeout?.();
          }, this.timeout)
        : undefined;
    this.#destroy = () => {
      done = true;
      clearTimeout(timer);
      req.destroy();
    };
    req.end(body);
  }

  /** Drops the request without telling the caller (test teardown). */
  drop(): void {
    this.#destroy?.();
    NodeXMLHttpRequest.open.delete(this);
  }
}

/** Installs NodeXMLHttpRequest as the global XMLHttpRequest for this test. */
export function installXMLHttpRequest(): void {
  const global = globalThis as { XMLHttpRequest?: unknown };
  const previous = global.XMLHttpRequest;
  global.XMLHttpRequest = NodeXMLHttpRequest;
  onTestFinished(() => {
    for (const xhr of [...NodeXMLHttpRequest.open]) xhr.drop();
    global.XMLHttpRequest = previous;
  });
}

export interface AutobahnSession {
  readonly connection: autobahn.Connection;
  readonly session: autobahn.Session;
  readonly closed: Promise<string>;
}

/** An autobahn-js session on realm1 over one transport (JSON: autobahn's rawsocket and long-poll speak only JSON). */
export async function connectAutobahnOver(transport: autobahn.TransportOptions): Promise<AutobahnSession> {
  const internalErrors: string[] = [];
  const connection = new autobahn.Connection({
    realm: 'realm1',
    transports: [transport],
    max_retries: 0,
    retry_if_unreachable: false,
    use_es6_promises: true,
    on_internal_error: (error, message) => internalErrors.push(`${message ?? ''} ${String(error)}`),
  });
  let opened!: (session: autobahn.Session) => void;
  let closed!: (reason: string) => void;
  const openedPromise = new Promise<autobahn.Session>((resolve) => (opened = resolve));
  const closedPromise = new Promise<string>((resolve) => (closed = resolve));
  connection.onopen = (session) => opened(session);
  connection.onclose = (reason) => {
    closed(reason);
    return true;
  };
  connection.open();
  onTestFinished(async () => {
    if (connection.isOpen) connection.close();
    await within(closedPromise, 5000, `autobahn (${transport.type}) to close`).catch(() => {});
    if (internalErrors.length > 0) throw new Error(`autobahn (${transport.type}) reported: ${internalErrors.join('; ')}`);
  });
  const session = await within(
    Promise.race([openedPromise, closedPromise.then((reason) => Promise.reject(new Error(`closed before joining: ${reason}`)))]),
    5000,
    `autobahn (${transport.type}) to join`,
  );
  return { connection, session, closed: closedPromise };
}
