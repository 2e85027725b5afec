/**
 * `ws` as the client's socket, with keep-alive: a ping every `intervalMs`; no pong within
 * `timeoutMs` means the link is dead (a half-open TCP connection never reports itself), so the
 * socket is terminated and the connection reconnects.
 */
import WebSocket from 'ws';
import type { NodeWebSocketOptions } from './connection.js';
import { REFUSAL_BODY_LIMIT, httpRefusal } from './refusal.js';
import type { SocketFactory } from './socket.js';

export interface KeepaliveOptions {
  /** Milliseconds between pings (default 15000). */
  intervalMs?: number;
  /** Milliseconds to wait for the pong (default 5000). */
  timeoutMs?: number;
}

/** The close reason reported when keep-alive gives up (the close code is 1006, as for any lost link). */
export const KEEPALIVE_TIMEOUT_REASON = 'keepalive: no pong';

export function nodeSocketFactory(keepalive: KeepaliveOptions | false = {}, handshake: NodeWebSocketOptions = {}): SocketFactory {
  const options: WebSocket.ClientOptions = { perMessageDeflate: false };
  if (handshake.headers !== undefined) options.headers = { ...handshake.headers };
  if (handshake.ca !== undefined) options.ca = (Array.isArray(handshake.ca) ? handshake.ca : [handshake.ca]).map(pem);
  if (handshake.cert !== undefined) options.cert = pem(handshake.cert);
  if (handshake.key !== undefined) options.key = pem(handshake.key);
  return (url, protocols, handlers) => {
    const ws = new WebSocket(url, protocols, options);
    let pingTimer: ReturnType<typeof setInterval> | undefined;
    let pongTimer: ReturnType<typeof setTimeout> | undefined;
    let lostReason: string | undefined;

    const stopTimers = (): void => {
      clearInterval(pingTimer);
      clearTimeout(pongTimer);
      pingTimer = pongTimer = undefined;
    };

    ws.on('open', () => {
      handlers.open(ws.protocol);
      if (keepalive === false) return;
      const intervalMs = keepalive.intervalMs ?? 15_000;
      const timeoutMs = keepalive.timeoutMs ?? 5_000;
      pingTimer = setInterval(() => {
        if (pongTimer !== undefined) return;
        pongTimer = setTimeout(() => {
          lostReason = `${KEEPALIVE_TIMEOUT_REASON} within ${timeoutMs} ms`;
          stopTimers();
          ws.terminate();
        }, timeoutMs);
        pongTimer.unref?.();
        ws.ping();
      }, intervalMs);
      pingTimer.unref?.();
    });
    ws.on('pong', () => {
      clearTimeout(pongTimer);
      pongTimer = undefined;
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
      handlers.message(isBinary ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.toString('utf8'));
    });
    // A refused upgrade (404 path, 403 Origin, 429, 400 subprotocol): the router says why in the
    // body. Read it (bounded), report it, then end the attempt; ws's own error for that comes after.
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let length = 0;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        handlers.refused(httpRefusal(status, Buffer.concat(chunks).subarray(0, REFUSAL_BODY_LIMIT).toString('utf8')));
        res.destroy();
        ws.terminate();
      };
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        chunks.push(chunk);
        length += chunk.length;
        if (length >= REFUSAL_BODY_LIMIT) finish();
      });
      res.once('end', finish);
      res.once('error', finish);
      res.once('close', finish);
    });
    ws.on('error', (err: Error) => handlers.error(err.message));
    ws.on('close', (code: number, reason: Buffer) => {
      stopTimers();
      handlers.close(code, lostReason ?? reason.toString('utf8'));
    });
    return {
      send: (data) => ws.send(data),
      close: (code, reason) => {
        if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
        else ws.close(code, reason);
      },
    };
  };
}

function pem(value: string | Uint8Array): string | Buffer {
  return typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
