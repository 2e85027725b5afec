/**
 * An in-process transport: a client peer inside the router's process (router-side components,
 * embedding, tests). Frames still go through the codec, so it behaves like any other transport;
 * delivery is asynchronous (a microtask) so neither side re-enters the other.
 */
import type { Codec } from '@switchboard/schemas';
import { DecodeError, ROUTER_FRAME_LIMITS, jsonCodec } from '@switchboard/schemas';
import type { Peer, PeerHandler, TransportDetails } from './peer.js';

export interface LocalClient {
  /** Sends one message (an array) to the router. */
  send(message: unknown[]): void;
  /** Closes the connection; the router sees the transport close. */
  close(): void;
}

export interface LocalConnection {
  /** The router side of the pair. */
  readonly peer: Peer;
  /** The client side. */
  readonly client: LocalClient;
  /** Connects the router's handler; called once by whoever attaches the peer. */
  bind(handler: PeerHandler): void;
}

/**
 * Creates a connected pair. `onMessage` receives each decoded message the router sends;
 * `onClose` fires once when either side closes.
 */
export function createLocalConnection(options: {
  codec?: Codec;
  onMessage: (message: unknown) => void;
  onClose?: (code: number, reason: string) => void;
}): LocalConnection {
  const codec = options.codec ?? jsonCodec;
  let handler: PeerHandler | undefined;
  let open = true;
  const finish = (code: number, reason: string): void => {
    if (!open) return;
    open = false;
    queueMicrotask(() => {
      handler?.onClose();
      options.onClose?.(code, reason);
    });
  };
  const transport: TransportDetails = { type: 'local', protocol: codec.subprotocol, peer: 'local' };
  const peer: Peer = {
    codec,
    transport,
    bufferedBytes: 0,
    send(frame) {
      if (!open) return false;
      // What the router sends was bounded when it arrived: decoded with the limits for router
      // frames, never refused here, inside a microtask, where a throw would end the process.
      queueMicrotask(() => options.onMessage(codec.decode(frame, ROUTER_FRAME_LIMITS)));
      return true;
    },
    sendDroppable(frame) {
      return this.send(frame.data);
    },
    close(code, reason) {
      finish(code, reason);
    },
  };
  const client: LocalClient = {
    send(message) {
      if (!open) throw new Error('local connection is closed');
      const frame = codec.encode(message);
      queueMicrotask(() => {
        // What the in-process client sends passes the same gate as a remote peer's frames; a
        // refusal costs its session, as anywhere.
        let decoded: unknown;
        try {
          decoded = codec.decode(frame);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          return handler?.onBadFrame(`undecodable ${codec.name} message: ${err.message}`);
        }
        handler?.onFrame(decoded);
      });
    },
    close() {
      finish(1000, 'closed by client');
    },
  };
  return {
    peer,
    client,
    bind(h) {
      handler = h;
    },
  };
}
