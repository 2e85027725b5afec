/**
 * An in-process transport: a client peer inside the router's process (`router.session(realm)`,
 * which the HTTP bridge, embedding and tests use). Messages cross as WampMessage objects, nothing
 * encoded; delivery is asynchronous (a microtask) so neither side re-enters the other.
 *
 * Nothing that passes through may end the process: a handler that throws costs this one
 * connection, reported through `onError`.
 */
import type { Encoded, WampMessage } from '@switchboard/schemas';
import { ROUTER_FRAME_LIMITS, joined, msgpackCodec, parseMessage } from '@switchboard/schemas';
import type { Peer, PeerHandler } from './peer.js';

/** WebSocket close code for a connection ended by a fault on the router's side. */
const INTERNAL_ERROR = 1011;

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
 * codec, no frames, nothing parsed. Asynchronous (a microtask per message), and a fault (a handler
 * that throws) costs this connection only.
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
  const fromFrame = (encoded: Encoded): boolean => {
    if (!open) return false;
    const frame = joined(encoded);
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
