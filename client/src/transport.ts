/**
 * One link carrying WAMP messages, and why it closed. Over a WebSocket (or RawSocket, long-poll):
 * subprotocol negotiation over the offered codecs, frames to typed messages (`parseMessage`) and
 * back (`toWire`). In process (`Transport.inProcess`, the router's `router.session(realm)`): the
 * message objects themselves, nothing encoded or parsed.
 */
import { DecodeError, ROUTER_FRAME_LIMITS, parseMessage, toWire } from '@switchboard/schemas/core';
import type { Codec, WampMessage } from '@switchboard/schemas/core';
import { SerializerError, UnreachableError } from './errors.js';
import { describeRefusal } from './refusal.js';
import type { Refusal } from './refusal.js';
import type { Socket, SocketFactory } from './socket.js';

export interface TransportClosed {
  /** WebSocket close code (1006 when the link was lost without a close frame). */
  code: number;
  reason: string;
}

export interface TransportHandlers {
  message(msg: WampMessage): void;
  /** A frame that is not a WAMP message (undecodable, or malformed): the peer violated the protocol. */
  badFrame(reason: string): void;
  close(closed: TransportClosed): void;
}

const ignore: TransportHandlers = { message: () => {}, badFrame: () => {}, close: () => {} };

export interface OpenTransportOptions {
  url: string;
  codecs: readonly Codec[];
  socketFactory: SocketFactory;
  /** Give up opening after this many milliseconds. */
  timeoutMs: number;
  /** What is being opened, for error messages (default `WebSocket`). */
  label?: string;
}

/** Index of Arguments|list in each router-to-client message that carries a payload. */
const PAYLOAD_AT: Readonly<Record<number, number>> = { 8: 5, 36: 4, 50: 3, 68: 4 };

/**
 * Some routers (fox-wamp 0.7) write an absent Arguments or ArgumentsKw as `null`. The spec has
 * them omitted; reading `null` as omitted (`[]` for Arguments before a dict) costs nothing and
 * keeps those routers usable. Everything else is still checked strictly by parseMessage.
 */
function tolerateNullPayload(frame: unknown): unknown {
  if (!Array.isArray(frame) || typeof frame[0] !== 'number') return frame;
  const at = PAYLOAD_AT[frame[0]];
  if (at === undefined || frame.length <= at) return frame;
  while (frame.length > at && frame[frame.length - 1] === null) frame.pop();
  if (frame.length === at + 2 && frame[at] === null) frame[at] = [];
  return frame;
}

/** What a transport says about its serializer (`Session.serializer`, `TransportInUse.protocol`). */
export interface TransportCodec {
  readonly name: string;
  readonly subprotocol: string;
}

/** Where a transport's messages go: a socket (encoded first) or an in-process link (as they are). */
export interface Outlet {
  /** Throws SerializerError when the message cannot be carried; nothing is sent then. */
  send(msg: WampMessage): void;
  close(code: number, reason: string): void;
}

/** An outlet that encodes each message with `codec` and writes it to `socket`. */
function encodingOutlet(codec: Codec, socket: Socket, isClosed: () => boolean): Outlet {
  return {
    send(msg) {
      let frame: string | Uint8Array;
      try {
        frame = codec.encode(toWire(msg));
      } catch (err) {
        throw new SerializerError(`cannot serialize this message with ${codec.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (!isClosed()) socket.send(frame);
    },
    close: (code, reason) => socket.close(code, reason),
  };
}

export class Transport {
  handlers: TransportHandlers = ignore;
  #closed = false;
  readonly #wire: Codec | undefined;

  /**
   * @internal `Transport.open` for sockets; the in-process transport (in-process.ts) passes an
   * outlet that hands messages over as objects, and no `wire` codec.
   */
  constructor(
    readonly codec: TransportCodec,
    private readonly outlet: Outlet,
    /** The codec frames are decoded with; undefined when messages arrive as objects. */
    wire?: Codec,
  ) {
    this.#wire = wire;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Opens a WebSocket offering every codec's subprotocol, in order of preference. */
  static open(options: OpenTransportOptions): Promise<Transport> {
    const { url, codecs } = options;
    return new Promise<Transport>((resolve, reject) => {
      let transport: Transport | undefined;
      let lastError: string | undefined;
      /** The router's refusal: it wins over the errors that tearing the attempt down raises. */
      let refusal: Refusal | undefined;
      let settled = false;
      const fail = (detail: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(
          refusal !== undefined
            ? new UnreachableError(url, describeRefusal(options.label ?? 'WebSocket', refusal), { refusal })
            : new UnreachableError(url, detail),
        );
      };
      const timer = setTimeout(() => {
        fail(`no ${options.label ?? 'WebSocket'} open within ${options.timeoutMs} ms`);
        socket?.close(1000, 'open timeout');
      }, options.timeoutMs);
      let socket: Socket | undefined;
      try {
        socket = options.socketFactory(
          url,
          codecs.map((c) => c.subprotocol),
          {
            open: (protocol) => {
              const codec = codecs.find((c) => c.subprotocol === protocol);
              if (codec === undefined) {
                fail(`the server chose subprotocol '${protocol}', not one of ${codecs.map((c) => c.subprotocol).join(', ')}`);
                socket?.close(1002, 'unsupported subprotocol');
                return;
              }
              transport = new Transport(
                codec,
                encodingOutlet(codec, socket!, () => transport?.isClosed === true),
                codec,
              );
              settled = true;
              clearTimeout(timer);
              resolve(transport);
            },
            message: (data) => {
              if (transport !== undefined) transport.#onData(data);
            },
            error: (message) => {
              lastError = message;
            },
            refused: (answer) => {
              refusal ??= answer;
            },
            close: (code, reason) => {
              if (transport === undefined) {
                fail(lastError ?? `closed before opening (code ${code}${reason ? `, ${reason}` : ''})`);
                return;
              }
              transport.ended(code, reason || lastError || '');
            },
          },
        );
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err));
      }
    });
  }

  /** Encodes and sends; throws SerializerError when the payload cannot be represented. */
  send(msg: WampMessage): void {
    this.outlet.send(msg);
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    this.outlet.close(code, reason);
  }

  /** A message that arrived as an object (in process): no frame to decode or parse. */
  deliver(msg: WampMessage): void {
    if (!this.#closed) this.handlers.message(msg);
  }

  /** The link closed; called by whoever owns it (the socket's close handler, an in-process link). */
  ended(code: number, reason: string): void {
    this.#onClose(code, reason);
  }

  #onData(data: string | Uint8Array): void {
    const codec = this.#wire;
    if (this.#closed || codec === undefined) return;
    let msg: WampMessage;
    try {
      if (typeof data === 'string' && codec.binary) throw new DecodeError(`a text frame on ${codec.subprotocol}, which uses binary frames`);
      // Router frames carry what other peers sent, bounded by the router: a frame at its limit plus
      // the details it adds must not cut this session off.
      msg = parseMessage(tolerateNullPayload(codec.decode(data, ROUTER_FRAME_LIMITS)));
    } catch (err) {
      this.handlers.badFrame(err instanceof Error ? err.message : String(err));
      return;
    }
    this.handlers.message(msg);
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.handlers.close({ code, reason });
  }
}
