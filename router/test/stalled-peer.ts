/**
 * A WebSocket client built by hand on a TCP socket, so a test can stop reading (a slow consumer)
 * without reaching into a WebSocket library's internals.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { within } from './helpers.js';

/** A masked client text frame (RFC 6455 §5.2). */
export function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const mask = randomBytes(4);
  const len = payload.length;
  const header =
    len < 126
      ? Buffer.from([0x81, 0x80 | len])
      : len < 65536
        ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), bigLength(len)]);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
  return Buffer.concat([header, mask, masked]);
}

function bigLength(len: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(len));
  return b;
}

/** Reads unmasked server text frames out of a byte stream. */
class FrameReader {
  #buffer = Buffer.alloc(0);
  readonly messages: string[] = [];

  push(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      let len = b[1]! & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        offset = 10;
      }
      if (b.length < offset + len) return;
      if ((b[0]! & 0x0f) === 1) this.messages.push(b.subarray(offset, offset + len).toString('utf8'));
      this.#buffer = b.subarray(offset + len);
    }
  }
}

export interface StalledPeer {
  socket: Socket;
  /** Sends a JSON WAMP message. */
  send(message: unknown[]): void;
  /** Waits for the n-th (1-based) JSON message received so far. */
  message(n: number): Promise<unknown[]>;
  /** Stops reading: the kernel buffers fill, then the router's queue for this peer grows. */
  stall(): void;
}

export async function openStalledPeer(url: string): Promise<StalledPeer> {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  const reader = new FrameReader();
  let upgraded = false;
  let head = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  await within(
    new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.on('connect', () => {
        socket.write(
          `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n`,
        );
      });
      socket.on('data', (chunk: Buffer) => {
        if (!upgraded) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          if (!head.subarray(0, 12).toString().includes('101')) return reject(new Error(`upgrade refused: ${head.toString()}`));
          upgraded = true;
          reader.push(head.subarray(end + 4));
          resolve();
        } else reader.push(chunk);
        wake?.();
      });
    }),
    3000,
    'the WebSocket upgrade',
  );
  socket.on('error', () => undefined);
  return {
    socket,
    send: (message) => socket.write(clientTextFrame(JSON.stringify(message))),
    message: (n) =>
      within(
        new Promise<unknown[]>((resolve) => {
          const check = (): void => {
            if (reader.messages.length >= n) resolve(JSON.parse(reader.messages[n - 1]!) as unknown[]);
            else wake = check;
          };
          check();
        }),
        3000,
        `message ${n}`,
      ),
    stall: () => {
      socket.pause();
    },
  };
}
