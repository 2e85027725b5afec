/**
 * The seam between a transport and the routing core. A transport turns bytes into decoded frames
 * and calls a PeerHandler; the core answers through Peer. Neither side knows the other's details.
 */
import type { Codec, WampMessage } from '@switchboard/schemas';
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

  constructor(
    /** The encoded message: a string for text (JSON), bytes otherwise. */
    readonly source: string | Uint8Array,
    /** A text message (JSON) rather than binary. */
    readonly text: boolean,
  ) {
    if (typeof source !== 'string') this.#data = source;
  }

  /** The message as bytes (UTF-8 for text), converted once on first use. */
  get data(): Uint8Array {
    return (this.#data ??= Buffer.from(this.source as string));
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
  /** Queues a frame that must arrive (replies, INVOCATION, RESULT, ERROR…). False if the peer is gone or was cut off. */
  send(frame: string | Uint8Array): boolean;
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
