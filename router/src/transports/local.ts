/**
 * An in-process transport: a client peer inside the router's process (router-side components,
 * embedding, tests). Frames still go through the codec, so it behaves like any other transport;
 * delivery is asynchronous (a microtask) so neither side re-enters the other.
 */
import type { Codec } from '@switchboard/schemas';
import { jsonCodec } from '@switchboard/schemas';
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
      queueMicrotask(() => options.onMessage(codec.decode(frame)));
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
      queueMicrotask(() => handler?.onFrame(codec.decode(frame)));
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
