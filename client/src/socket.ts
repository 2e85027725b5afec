/**
 * The seam between the client and a runtime's WebSocket: `node.ts` plugs in `ws` (with keep-alive
 * pings), `browser.ts` the native WebSocket. Nothing else in the client knows which one it runs on.
 */
import type { Refusal } from './refusal.js';

export interface SocketHandlers {
  /** The WebSocket is open; `protocol` is the subprotocol the server chose. */
  open(protocol: string): void;
  /** One message: text frames as string, binary frames as bytes. */
  message(data: string | Uint8Array): void;
  /** The WebSocket closed (after open or instead of it). */
  close(code: number, reason: string): void;
  /** A transport error; a close follows. */
  error(message: string): void;
  /**
   * The router answered and refused to open (an HTTP status, a RawSocket handshake error); a close
   * follows. Reported instead of, and before, the errors that tearing the attempt down may raise.
   */
  refused(refusal: Refusal): void;
}

export interface Socket {
  send(data: string | Uint8Array): void;
  close(code: number, reason: string): void;
}

export type SocketFactory = (url: string, protocols: string[], handlers: SocketHandlers) => Socket;

/** The part of the WHATWG WebSocket the browser adapter uses (no DOM typings needed). */
interface WhatwgWebSocket {
  readonly protocol: string;
  binaryType: string;
  send(data: string | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

type WhatwgWebSocketConstructor = new (url: string, protocols: string[]) => WhatwgWebSocket;

/** Why a browser WebSocket did not open, as far as a script can know. */
export const BROWSER_REFUSAL =
  'the WebSocket did not open and the browser does not say why: the router refused it (wrong path, Origin, too many connections, no common serializer: see its log, or the Network tab) or is not reachable';

/** A SocketFactory over the platform's WebSocket (browsers, Deno, Node >= 22). */
export function whatwgSocketFactory(ctor?: unknown): SocketFactory {
  return (url, protocols, handlers) => {
    const Ctor = (ctor ?? (globalThis as { WebSocket?: unknown }).WebSocket) as WhatwgWebSocketConstructor | undefined;
    if (typeof Ctor !== 'function') throw new Error('no WebSocket implementation in this runtime');
    const ws = new Ctor(url, protocols);
    ws.binaryType = 'arraybuffer';
    let opened = false;
    ws.onopen = () => {
      opened = true;
      handlers.open(ws.protocol);
    };
    ws.onmessage = (event) => {
      const data = event.data;
      if (typeof data === 'string') handlers.message(data);
      else if (data instanceof ArrayBuffer) handlers.message(new Uint8Array(data));
      else handlers.error('received a message that is neither text nor an ArrayBuffer');
    };
    // Browsers give no reason for a failed WebSocket, and hide the HTTP status of a refused upgrade
    // from scripts (the close event that follows says 1006): say what it may be and where to look.
    ws.onerror = () => handlers.error(opened ? 'WebSocket error' : BROWSER_REFUSAL);
    ws.onclose = (event) => handlers.close(event.code, event.reason);
    return {
      send: (data) => ws.send(data),
      // Browsers accept only 1000 and 3000-4999 from scripts (InvalidAccessError otherwise), and
      // at most 123 bytes of reason.
      close: (code, reason) => ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, reason.slice(0, 60)),
    };
  };
}
