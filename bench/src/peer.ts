/**
 * A hand-rolled WAMP v2 client session over `ws` (or RawSocket, for `rs://` URLs: rawsocket.ts),
 * just enough for load generation: HELLO →
 * WELCOME, SUBSCRIBE, PUBLISH, REGISTER, CALL, YIELD. No client library, so the generator's own
 * cost stays small and visible. Hot-path handlers are plain fields, set once by the owner.
 */
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { RawSocketLink } from './rawsocket.js';
import { MessageCode, cborCodec, jsonCodec, msgpackCodec, parseMessage, toWire } from '@switchboard/schemas';
import type { Codec, Event, Invocation, MatchPolicy, RegistrationId, RequestId, Result, SubscriptionId, WampMessage } from '@switchboard/schemas';

export interface PeerOptions {
  url: string;
  realm: string;
  codec?: Codec;
  /** The serializer by name, when `codec` is not given (default json). */
  serializer?: 'json' | 'msgpack' | 'cbor';
  /** Bound on the WebSocket handshake plus HELLO → WELCOME. */
  timeoutMs?: number;
  /** Offer permessage-deflate (ws's defaults: it also compresses what it sends from 1 KiB). */
  deflate?: boolean;
}

const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

const CODEC_BY_NAME = { json: jsonCodec, msgpack: msgpackCodec, cbor: cborCodec } as const;

function codecOf(options: PeerOptions): Codec {
  return options.codec ?? CODEC_BY_NAME[options.serializer ?? 'json'];
}

function noop(): void {}

interface Pending {
  resolve(id: number): void;
  reject(error: Error): void;
}

/** What a peer sends through: a `ws` WebSocket, or a RawSocket connection (rs:// URLs). */
interface Link {
  send(frame: string | Uint8Array): void;
  close(): void;
  terminate(): void;
}

export class RawPeer {
  onEvent: (msg: Event) => void = noop;
  onPublished: (request: RequestId) => void = noop;
  onResult: (msg: Result) => void = noop;
  onInvocation: (msg: Invocation) => void = noop;
  /** An ERROR for a PUBLISH or CALL; the request is over. */
  onRequestError: (request: RequestId, error: string) => void = noop;
  /** A frame that is not a well-formed WAMP message (it is then ignored). */
  onDecodeError: (reason: string) => void = noop;
  /** The connection ended, whoever ended it; `byUs` is false when the router or network did. */
  onClose: (byUs: boolean) => void = noop;

  /** The TCP socket under the WebSocket (held so a slow consumer can stop reading it). */
  readonly socket: Socket;
  readonly #link: Link;
  readonly #codec: Codec;
  readonly #pending = new Map<number, Pending>();
  // [bp_identifiers] session-scope request IDs count up from 1
  #lastRequest = 0;
  #closing = false;
  #closed = false;

  private constructor(link: Link, socket: Socket, codec: Codec) {
    this.#link = link;
    this.socket = socket;
    this.#codec = codec;
  }

  static open(options: PeerOptions): Promise<RawPeer> {
    if (options.url.startsWith('rs://')) return RawPeer.#openRawSocket(options);
    const codec = codecOf(options);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const target = new URL(options.url);
    // We make the socket ourselves so that pausing it needs no private `ws` field.
    const socket = netConnect({ host: target.hostname, port: Number(target.port) });
    const ws = new WebSocket(options.url, [codec.subprotocol], {
      perMessageDeflate: options.deflate === true,
      handshakeTimeout: timeoutMs,
      createConnection: () => socket,
    });
    const peer = new RawPeer(ws, socket, codec);
    return new Promise<RawPeer>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`no WELCOME from ${options.url} within ${timeoutMs} ms`)), timeoutMs);
      ws.on('error', (error) => fail(error));
      ws.on('close', () => {
        fail(new Error(`connection to ${options.url} closed before WELCOME`));
        peer.#onClose();
      });
      ws.once('open', () => {
        if (ws.protocol !== codec.subprotocol) {
          fail(new Error(`router chose subprotocol '${ws.protocol}', wanted ${codec.subprotocol}`));
          return;
        }
        ws.once('message', (data, isBinary) => {
          const msg = peer.#decode(data, isBinary);
          if (msg?.code !== MessageCode.Welcome) {
            fail(new Error(`expected WELCOME, got ${msg === undefined ? 'an undecodable frame' : JSON.stringify(toWire(msg))}`));
            return;
          }
          settled = true;
          clearTimeout(timer);
          ws.on('message', peer.#onMessage);
          resolve(peer);
        });
        peer.#send({ code: MessageCode.Hello, realm: options.realm, details: { roles: ROLES } });
      });
    });
  }

  /** The same session over WAMP-over-RawSocket: `rs://host:port`. */
  static #openRawSocket(options: PeerOptions): Promise<RawPeer> {
    const codec = codecOf(options);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const target = new URL(options.url);
    const socket = netConnect({ host: target.hostname, port: Number(target.port) });
    const link = new RawSocketLink(socket, codec);
    const peer = new RawPeer(link, socket, codec);
    return new Promise<RawPeer>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`no WELCOME from ${options.url} within ${timeoutMs} ms`)), timeoutMs);
      link.onError = fail;
      link.onClose = () => {
        fail(new Error(`connection to ${options.url} closed before WELCOME`));
        peer.#onClose();
      };
      link.onOpen = () => {
        link.onMessage = (payload) => {
          const msg = peer.#decode(payload, codec.binary);
          if (msg?.code !== MessageCode.Welcome) {
            fail(new Error(`expected WELCOME, got ${msg === undefined ? 'an undecodable frame' : JSON.stringify(toWire(msg))}`));
            return;
          }
          settled = true;
          clearTimeout(timer);
          link.onMessage = (data) => peer.#onMessage(data, codec.binary);
          resolve(peer);
        };
        peer.#send({ code: MessageCode.Hello, realm: options.realm, details: { roles: ROLES } });
      };
    });
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** SUBSCRIBE; a pattern (`prefix`, `wildcard`) is sent as Options.match. */
  subscribe(topic: string, match: MatchPolicy = 'exact'): Promise<SubscriptionId> {
    const request = this.#request();
    this.#send({ code: MessageCode.Subscribe, request, options: match === 'exact' ? {} : { match }, topic });
    return this.#await(request) as Promise<SubscriptionId>;
  }

  register(procedure: string): Promise<RegistrationId> {
    const request = this.#request();
    this.#send({ code: MessageCode.Register, request, options: {}, procedure });
    return this.#await(request) as Promise<RegistrationId>;
  }

  publish(topic: string, args: unknown[], acknowledge: boolean): RequestId {
    const request = this.#request();
    this.#send({ code: MessageCode.Publish, request, options: acknowledge ? { acknowledge: true } : {}, topic, args });
    return request;
  }

  call(procedure: string, args: unknown[]): RequestId {
    const request = this.#request();
    this.#send({ code: MessageCode.Call, request, options: {}, procedure, args });
    return request;
  }

  yield(request: RequestId, args: unknown[] | undefined): void {
    this.#send({ code: MessageCode.Yield, request, options: {}, args });
  }

  /** Closes the connection at once (no GOODBYE: a bench teardown needs no graceful leave). */
  close(): void {
    this.#closing = true;
    this.#link.terminate();
  }

  #request(): RequestId {
    return ++this.#lastRequest as RequestId;
  }

  #send(msg: WampMessage): void {
    if (this.#closed) return;
    this.#link.send(this.#codec.encode(toWire(msg)));
  }

  #await(request: number): Promise<number> {
    return new Promise<number>((resolve, reject) => this.#pending.set(request, { resolve, reject }));
  }

  #settle(request: number, id: number | Error): void {
    const pending = this.#pending.get(request);
    if (pending === undefined) return;
    this.#pending.delete(request);
    if (id instanceof Error) pending.reject(id);
    else pending.resolve(id);
  }

  #decode(data: WebSocket.RawData, isBinary: boolean): WampMessage | undefined {
    try {
      // binaryType is the default 'nodebuffer', so a frame is one Buffer; the rest is for type safety
      const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const decoded = this.#codec.decode(isBinary ? frame : frame.toString('utf8'));
      // fox-wamp ends EVENT and RESULT with a null ArgumentsKw; read that as "no kwargs".
      if (Array.isArray(decoded) && decoded.length > 4 && decoded[decoded.length - 1] === null) decoded.pop();
      return parseMessage(decoded);
    } catch (error) {
      this.onDecodeError(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  readonly #onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    const msg = this.#decode(data, isBinary);
    if (msg === undefined) return;
    switch (msg.code) {
      case MessageCode.Event:
        this.onEvent(msg);
        return;
      case MessageCode.Published:
        this.onPublished(msg.request);
        return;
      case MessageCode.Result:
        this.onResult(msg);
        return;
      case MessageCode.Invocation:
        this.onInvocation(msg);
        return;
      case MessageCode.Subscribed:
        this.#settle(msg.request, msg.subscription);
        return;
      case MessageCode.Registered:
        this.#settle(msg.request, msg.registration);
        return;
      case MessageCode.Error:
        if (this.#pending.has(msg.request)) this.#settle(msg.request, new Error(msg.error));
        else this.onRequestError(msg.request, msg.error);
        return;
      case MessageCode.Abort:
      case MessageCode.Goodbye:
        this.#link.close();
        return;
      default:
        return; // nothing else is expected by a bench peer
    }
  };

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(new Error('connection closed'));
    this.#pending.clear();
    this.onClose(this.#closing);
  }
}
