/**
 * The seam between a transport and the routing core. A transport turns bytes into decoded frames
 * and calls a PeerHandler; the core answers through Peer. Neither side knows the other's details.
 */
import type { Codec, Encoded, WampMessage } from '@switchboard/schemas';
import { Spliced } from '@switchboard/schemas';
import type { ClientCertificate } from './client-certificate.js';
import type { TrackedCookie } from './cookie-tracking.js';

export interface TransportDetails {
  /** `websocket`, `rawsocket`, `longpoll` or `local`. */
  readonly type: string;
  /** Negotiated protocol, e.g. `wamp.2.json` (`wamp.2.json.batched` for batched framing). */
  readonly protocol: string;
  /** Remote address, e.g. `tcp4:127.0.0.1:52311`. */
  readonly peer: string;
  /** HTTP headers of the opening handshake, where the transport has them. */
  readonly httpHeaders?: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The TLS channel IDs of the connection (32 bytes each), on TLS transports only: what
   * WAMP-Cryptosign's channel binding signs over (see transports/channel-binding.ts).
   */
  readonly channelBindings?: Readonly<Partial<Record<ChannelBindingType, Uint8Array>>>;
  /** The client's TLS certificate, on TLS transports whose client sent one (see transports/client-certificate.ts). */
  readonly clientCertificate?: ClientCertificate;
  /** The connection's tracking cookie, on WebSocket listeners with cookie tracking (transports/cookie-tracking.ts). */
  readonly cookie?: TrackedCookie;
}

/** TLS channel binding types: RFC 5929 (TLS ≤ 1.2) and RFC 9266 (TLS 1.3). */
export type ChannelBindingType = 'tls-unique' | 'tls-exporter';

/** A transport's framing of a shared message, by transport name. */
export interface FrameCache {
  get(transport: string): Uint8Array | undefined;
  set(transport: string, framed: Uint8Array): void;
}

/**
 * One encoded message sent unchanged to many peers (an EVENT for every subscriber of a
 * subscription). Transports may keep their own framing of it in `framed`, computed once for all
 * receivers (a WebSocket frame from a server is the same bytes for every connection). The first
 * transport's framing lives in fields, so the common case allocates no Map.
 */
export class SharedFrame implements FrameCache {
  readonly framed: FrameCache = this;
  #key: string | undefined;
  #value: Uint8Array | undefined;
  #more: Map<string, Uint8Array> | undefined;

  #data: Uint8Array | undefined;
  #source: string | Uint8Array | undefined;
  /** The message in two pieces (a payload of SPLICE_MIN_BYTES or more): a transport that can writes both. */
  readonly spliced: Spliced | undefined;
  /** The encoding's length: bytes, or UTF-16 units of a text (at most its UTF-8 bytes). */
  readonly length: number;

  constructor(
    /** The encoded message: a string for text (JSON), bytes otherwise, or bytes in two pieces. */
    encoded: Encoded,
    /** A text message (JSON) rather than binary. */
    readonly text: boolean,
  ) {
    this.length = encoded.length;
    if (encoded instanceof Spliced) this.spliced = encoded;
    else {
      this.#source = encoded;
      if (typeof encoded !== 'string') this.#data = encoded;
    }
  }

  /** The encoded message in one piece: a string for text (JSON), bytes otherwise; pieces joined once. */
  get source(): string | Uint8Array {
    return (this.#source ??= this.spliced!.join());
  }

  /** The message as bytes (UTF-8 for text), converted once on first use. */
  get data(): Uint8Array {
    if (this.#data !== undefined) return this.#data;
    const source = this.source;
    return (this.#data = typeof source === 'string' ? Buffer.from(source) : source);
  }

  get(transport: string): Uint8Array | undefined {
    return transport === this.#key ? this.#value : this.#more?.get(transport);
  }

  set(transport: string, framed: Uint8Array): void {
    if (this.#key === undefined || this.#key === transport) {
      this.#key = transport;
      this.#value = framed;
    } else (this.#more ??= new Map()).set(transport, framed);
  }
}

export interface Peer {
  readonly codec: Codec;
  readonly transport: TransportDetails;
  /**
   * Queues a frame that must arrive (replies, INVOCATION, RESULT, ERROR…). False if the peer is
   * gone or was cut off. A Spliced is written as its two pieces where the transport can, else joined.
   */
  send(frame: Encoded): boolean;
  /** Queues a shared frame that may be dropped under backpressure (EVENT). False if dropped. */
  sendDroppable(frame: SharedFrame): boolean;
  /** Closes the transport after what was queued; `code` is a WebSocket close code. */
  close(code: number, reason: string): void;
  /** Bytes queued towards the peer and not yet written to the network. */
  readonly bufferedBytes: number;
  /**
   * Bytes of must-arrive messages the peer can still be sent before its outbound hard limit cuts
   * it off (hard limit minus what is queued). Absent: no such limit (an in-process peer).
   */
  readonly outboundRoom?: number;
  /**
   * Present on an in-process peer (`router.session(realm)`): it takes messages as objects, so
   * nothing is encoded on either side. The outbox hands it every message, EVENTs included,
   * instead of encoding; false if it is gone. The receiver treats the message as read-only (an
   * EVENT's payload is shared with every other subscriber).
   */
  sendMessage?(msg: WampMessage): boolean;
}

/** What the core gives a transport for one connection. */
export interface PeerHandler {
  /** A decoded frame (not yet checked as a WAMP message). */
  onFrame(frame: unknown): void;
  /** An in-process peer's message: already a WampMessage, no frame to decode or parse. */
  onMessage?(msg: WampMessage): void;
  /** A frame the transport could not decode or that broke a transport rule. */
  onBadFrame(reason: string): void;
  /** The transport is closed; called once. */
  onClose(): void;
}

/** Creates the core's handler for a new connection (`Router.accept`). */
export type AcceptPeer = (peer: Peer) => PeerHandler;
