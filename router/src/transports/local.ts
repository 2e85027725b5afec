/**
 * An in-process transport: a client peer inside the router's process (router-side components,
 * the HTTP bridge, embedding, tests). Frames still go through a codec, so it behaves like any
 * other transport; delivery is asynchronous (a microtask) so neither side re-enters the other.
 *
 * The codec is MessagePack unless the caller picks another: it carries every value of WAMP's data
 * model as it is (binary as bytes, 64-bit integers, any string), where JSON's convention would read
 * a string that starts with U+0000 as base64 binary and fail on one that is not.
 * [bp_binary_conversion_of_json]
 *
 * Nothing that passes through may end the process: a message the client side cannot encode is
 * refused to its sender (send throws, before anything is queued); a frame that does not decode, or
 * a handler that throws, costs this one connection, reported through `onError`.
 */
import type { Codec, WampMessage } from '@switchboard/schemas';
import { ROUTER_FRAME_LIMITS, msgpackCodec, parseMessage } from '@switchboard/schemas';
import type { Peer, PeerHandler, TransportDetails } from './peer.js';

export interface LocalClient {
  /**
   * Sends one message (an array) to the router. Throws LocalConnectionClosed when the connection
   * is closed, or the codec's error when the message cannot be encoded (nothing is sent then).
   */
  send(message: unknown[]): void;
  /** Closes the connection; the router sees the transport close. */
  close(): void;
}

/** LocalClient.send on a closed connection. */
export class LocalConnectionClosed extends Error {
  override name = 'LocalConnectionClosed';
}

export interface LocalConnection {
  /** The router side of the pair. */
  readonly peer: Peer;
  /** The client side. */
  readonly client: LocalClient;
  /** Connects the router's handler; called once by whoever attaches the peer. */
  bind(handler: PeerHandler): void;
}

/** WebSocket close code for a connection ended by a fault on the router's side. */
const INTERNAL_ERROR = 1011;

/**
 * Creates a connected pair. `onMessage` receives each decoded message the router sends;
 * `onClose` fires once when either side closes; `onError` hears of a fault that closed it.
 */
export function createLocalConnection(options: {
  codec?: Codec;
  onMessage: (message: unknown) => void;
  onClose?: (code: number, reason: string) => void;
  onError?: (err: Error) => void;
}): LocalConnection {
  const codec = options.codec ?? msgpackCodec;
  let handler: PeerHandler | undefined;
  let open = true;
  // After a fault nothing more is delivered; frames queued before a plain close still are (a
  // GOODBYE sent just before close()).
  let faulted = false;
  const finish = (code: number, reason: string): void => {
    if (!open) return;
    open = false;
    queueMicrotask(() => {
      try {
        handler?.onClose();
      } finally {
        options.onClose?.(code, reason);
      }
    });
  };
  /** A fault in this connection's handling ends the connection only. */
  const fault = (where: string, err: unknown): void => {
    faulted = true;
    const error = err instanceof Error ? err : new Error(String(err));
    try {
      options.onError?.(new Error(`local connection: ${where}: ${error.message}`, { cause: error }));
    } finally {
      finish(INTERNAL_ERROR, where);
    }
  };
  const transport: TransportDetails = { type: 'local', protocol: codec.subprotocol, peer: 'local' };
  const peer: Peer = {
    codec,
    transport,
    bufferedBytes: 0,
    send(frame) {
      if (!open) return false;
      queueMicrotask(() => {
        if (faulted) return;
        let message: unknown;
        try {
          // What the router sends was bounded when it arrived: decoded with the limits for router frames.
          message = codec.decode(frame, ROUTER_FRAME_LIMITS);
        } catch (err) {
          return fault('undecodable message from the router', err);
        }
        try {
          options.onMessage(message);
        } catch (err) {
          fault('the client failed on a message', err);
        }
      });
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
      if (!open) throw new LocalConnectionClosed('local connection is closed');
      // Encoded and decoded at once, so a message the codec refuses is the sender's error alone.
      const frame = codec.decode(codec.encode(message));
      queueMicrotask(() => {
        if (faulted || handler === undefined) return;
        try {
          handler.onFrame(frame);
        } catch (err) {
          fault('the router failed on a message', err);
        }
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

/** The router's end of an in-process connection, as the client side holds it. */
export interface InProcessLink {
  /** A message from the client, as an object (already checked against WAMP's data model by it). */
  send(msg: WampMessage): void;
  close(code: number, reason: string): void;
}

export interface InProcessConnection {
  /** The router side: a peer with `sendMessage`, so the router hands it objects. */
  readonly peer: Peer;
  /** The client side's way in. */
  readonly link: InProcessLink;
  /** Connects the router's handler (it must take `onMessage`); called once. */
  bind(handler: PeerHandler): void;
}

/**
 * A connected pair that carries WampMessage objects both ways, for `router.session(realm)`: no
 * codec, no frames, nothing parsed. Asynchronous (a microtask per message) like the encoded pair
 * above, and a fault (a handler that throws) costs this connection only.
 */
export function createInProcessConnection(options: {
  onMessage: (msg: WampMessage) => void;
  onClose: (code: number, reason: string) => void;
  onError?: (err: Error) => void;
}): InProcessConnection {
  let handler: PeerHandler | undefined;
  let open = true;
  let faulted = false;
  const finish = (code: number, reason: string): void => {
    if (!open) return;
    open = false;
    queueMicrotask(() => {
      try {
        handler?.onClose();
      } finally {
        options.onClose(code, reason);
      }
    });
  };
  const fault = (where: string, err: unknown): void => {
    faulted = true;
    const error = err instanceof Error ? err : new Error(String(err));
    try {
      options.onError?.(new Error(`in-process connection: ${where}: ${error.message}`, { cause: error }));
    } finally {
      finish(INTERNAL_ERROR, where);
    }
  };
  const toClient = (msg: WampMessage): boolean => {
    if (!open) return false;
    queueMicrotask(() => {
      if (faulted) return;
      try {
        options.onMessage(msg);
      } catch (err) {
        fault('the client failed on a message', err);
      }
    });
    return true;
  };
  /**
   * A frame someone encoded anyway (with `peer.codec`, a send path that does not know
   * `sendMessage`): decoded and parsed, so it still arrives, as a message.
   */
  const fromFrame = (frame: string | Uint8Array): boolean => {
    if (!open) return false;
    let msg: WampMessage;
    try {
      msg = parseMessage(msgpackCodec.decode(frame, ROUTER_FRAME_LIMITS));
    } catch (err) {
      fault('undecodable message from the router', err);
      return false;
    }
    return toClient(msg);
  };
  const peer: Peer = {
    codec: msgpackCodec,
    transport: { type: 'local', protocol: 'wamp.2.local', peer: 'local' },
    bufferedBytes: 0,
    send: fromFrame,
    sendDroppable: (frame) => fromFrame(frame.source),
    sendMessage: toClient,
    close: (code, reason) => finish(code, reason),
  };
  const link: InProcessLink = {
    send(msg) {
      if (!open) return;
      queueMicrotask(() => {
        if (faulted || handler === undefined) return;
        try {
          // A handler without onMessage (a connection turned away) takes nothing.
          handler.onMessage?.(msg);
        } catch (err) {
          fault('the router failed on a message', err);
        }
      });
    },
    close: (code, reason) => finish(code, reason),
  };
  return {
    peer,
    link,
    bind(h) {
      handler = h;
    },
  };
}
