/**
 * A minimal WAMP peer for the witnesses and sinks, over WebSocket or RawSocket, any serializer:
 * frames in and out, the session's lifetime as a promise. Nothing here is hostile.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { SerializerName } from '@switchboard/schemas';
import { CODECS } from '@switchboard/schemas';
import { handshake, rawFrame } from './layers/rawsocket.js';
import { bytesOf } from './values.js';

export type Transport = 'websocket' | 'rawsocket';

export class Peer {
  onMessage: (message: unknown[]) => void = () => {};
  readonly closed: Promise<string>;
  #close: (why: string) => void = () => {};
  #send: (frame: string | Uint8Array) => void = () => {};
  #end: () => void = () => {};
  #isClosed = false;
  session = 0;

  private constructor(readonly serializer: SerializerName) {
    this.closed = new Promise((resolve) => {
      this.#close = (why) => {
        if (this.#isClosed) return;
        this.#isClosed = true;
        resolve(why);
      };
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  #deliver(frame: string | Uint8Array): void {
    let value: unknown;
    try {
      value = CODECS[this.serializer].decode(frame);
    } catch (err) {
      this.#close(`undecodable frame from the router: ${(err as Error).message}`);
      this.#end();
      return;
    }
    if (Array.isArray(value)) this.onMessage(value);
  }

  send(message: unknown[]): void {
    if (this.#isClosed) return;
    let frame: string | Uint8Array;
    try {
      frame = CODECS[this.serializer].encode(message);
    } catch (err) {
      // A sink echoing a value its codec cannot write (nesting past the encoder's recursion).
      this.#close(`cannot encode a reply: ${(err as Error).message}`);
      this.#end();
      return;
    }
    this.#send(frame);
  }

  close(): void {
    this.#end();
  }

  /** Connects, joins realm1 and resolves once WELCOME arrived. */
  static async join(port: number, transport: Transport, serializer: SerializerName, roles: Record<string, object>, timeoutMs = 5000): Promise<Peer> {
    const peer = new Peer(serializer);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${transport}/${serializer} peer: no WELCOME within ${timeoutMs} ms`)), timeoutMs);
      peer.onMessage = (m) => {
        clearTimeout(timer);
        if (m[0] === 2) {
          peer.session = Number(m[1]);
          resolve();
        } else reject(new Error(`expected WELCOME, got ${JSON.stringify(m).slice(0, 200)}`));
      };
      void peer.closed.then((why) => {
        clearTimeout(timer);
        reject(new Error(`${transport}/${serializer} peer closed before WELCOME: ${why}`));
      });
      const hello = [1, 'realm1', { roles }];
      if (transport === 'websocket') {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [CODECS[serializer].subprotocol]);
        peer.#send = (f) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(f, { binary: typeof f !== 'string' });
        };
        peer.#end = () => ws.terminate();
        ws.on('message', (data: Buffer, isBinary: boolean) => peer.#deliver(isBinary ? new Uint8Array(data) : data.toString('utf8')));
        ws.on('close', (code: number, reason: Buffer) => peer.#close(`closed ${code} ${reason.toString()}`));
        ws.on('error', (err) => peer.#close(`error ${err.message}`));
        ws.on('open', () => peer.send(hello));
      } else {
        const socket: Socket = connect(port, '127.0.0.1');
        let buffer = Buffer.alloc(0);
        let shook = false;
        peer.#send = (f) => socket.write(rawFrame(0, bytesOf(f)));
        peer.#end = () => socket.destroy();
        socket.on('data', (d: Buffer) => {
          buffer = Buffer.concat([buffer, d]);
          if (!shook) {
            if (buffer.length < 4) return;
            if (buffer[0] !== 0x7f || (buffer[1]! & 0x0f) === 0) {
              peer.#close('rawsocket handshake refused');
              socket.destroy();
              return;
            }
            shook = true;
            buffer = buffer.subarray(4);
            peer.send(hello);
          }
          while (buffer.length >= 4) {
            const type = buffer[0]! & 7;
            const len = buffer.readUIntBE(1, 3);
            if (buffer.length < 4 + len) break;
            const body = buffer.subarray(4, 4 + len);
            buffer = buffer.subarray(4 + len);
            if (type === 0) peer.#deliver(serializer === 'json' ? body.toString('utf8') : new Uint8Array(body));
            else if (type === 1) socket.write(rawFrame(2, body));
          }
        });
        socket.on('close', () => peer.#close('socket closed'));
        socket.on('error', (err) => peer.#close(`error ${err.message}`));
        socket.on('connect', () => socket.write(handshake(serializer)));
      }
    });
    return peer;
  }
}
