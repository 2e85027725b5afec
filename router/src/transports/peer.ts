/**
 * The seam between a transport and the routing core. A transport turns bytes into decoded frames
 * and calls a PeerHandler; the core answers through Peer. Neither side knows the other's details.
 */
import type { Codec } from '@switchboard/schemas';

export interface TransportDetails {
  /** `websocket` (later: `rawsocket`, `longpoll`). */
  readonly type: string;
  /** Negotiated protocol, e.g. `wamp.2.json`. */
  readonly protocol: string;
  /** Remote address, e.g. `tcp4:127.0.0.1:52311`. */
  readonly peer: string;
  /** HTTP headers of the opening handshake, where the transport has them. */
  readonly httpHeaders?: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * One encoded message sent unchanged to many peers (an EVENT for every subscriber of a
 * subscription). Transports may keep their own framing of it in `framed`, computed once for all
 * receivers (a WebSocket frame from a server is the same bytes for every connection).
 */
export class SharedFrame {
  readonly framed = new Map<string, Uint8Array>();

  constructor(
    readonly data: Uint8Array,
    /** A text message (JSON) rather than binary. */
    readonly text: boolean,
  ) {}
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
}

/** What the core gives a transport for one connection. */
export interface PeerHandler {
  /** A decoded frame (not yet checked as a WAMP message). */
  onFrame(frame: unknown): void;
  /** A frame the transport could not decode or that broke a transport rule. */
  onBadFrame(reason: string): void;
  /** The transport is closed; called once. */
  onClose(): void;
}
