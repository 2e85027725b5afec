/**
 * A WAMP-over-RawSocket connection for the load generator, hand-rolled on node:net like the
 * WebSocket side is on `ws` (no router code): the 4-octet handshake, then 4-octet frame headers
 * (type, 24-bit length). [ap_transport_rawsocket] Handlers are plain fields, set once by the owner.
 */
import type { Socket } from 'node:net';
import type { Codec } from '@switchboard/schemas';

function noop(): void {}

const MAGIC = 0x7f;
/** We accept messages up to 2^24 octets (LENGTH 15). */
const MAX_LENGTH_NIBBLE = 0xf0;
const EMPTY = Buffer.alloc(0);

export class RawSocketLink {
  /** The router accepted the handshake. */
  onOpen: () => void = noop;
  /** One regular WAMP message's payload (a view valid during the call). */
  onMessage: (payload: Buffer) => void = noop;
  onError: (error: Error) => void = noop;
  onClose: () => void = noop;
  #open = false;
  #pending: Buffer = EMPTY;

  constructor(
    readonly socket: Socket,
    codec: Codec,
  ) {
    socket.setNoDelay(true);
    socket.once('connect', () => socket.write(Buffer.from([MAGIC, MAX_LENGTH_NIBBLE | codec.rawSocketId, 0, 0])));
    socket.on('data', this.#onData);
    socket.on('error', (error) => this.onError(error));
    socket.once('close', () => this.onClose());
  }

  /** One message in one write: header and payload in a single buffer. */
  send(message: string | Uint8Array): void {
    let frame: Buffer;
    if (typeof message === 'string') {
      const length = Buffer.byteLength(message);
      frame = Buffer.allocUnsafe(4 + length);
      frame.write(message, 4, 'utf8');
      frame.writeUInt32BE(length, 0);
    } else {
      frame = Buffer.allocUnsafe(4 + message.length);
      frame.writeUInt32BE(message.length, 0);
      frame.set(message, 4);
    }
    this.socket.write(frame);
  }

  /** RawSocket has no closing handshake: end the stream. */
  close(): void {
    this.socket.end();
  }

  terminate(): void {
    this.socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    if (!this.#open) {
      if (data.length < 4) {
        this.#pending = data;
        return;
      }
      if (data[0] !== MAGIC || (data[1]! & 0x0f) === 0) {
        this.onError(new Error(`RawSocket handshake refused (reply ${data.subarray(0, 4).toString('hex')})`));
        this.socket.destroy();
        return;
      }
      this.#open = true;
      data = data.subarray(4);
      this.onOpen();
    }
    let at = 0;
    while (data.length - at >= 4) {
      const type = data[at]! & 0x07;
      const length = (data[at]! & 0x08) !== 0 ? 2 ** 24 : (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!;
      if (data.length - at - 4 < length) break;
      const payload = data.subarray(at + 4, at + 4 + length);
      at += 4 + length;
      if (type === 0) this.onMessage(payload);
      else if (type === 1) {
        // PING → PONG with the same payload.
        const pong = Buffer.allocUnsafe(4 + length);
        pong.writeUInt32BE(length, 0);
        pong[0] = 2;
        pong.set(payload, 4);
        this.socket.write(pong);
      }
    }
    // Keep only the unfinished tail (copied, so the chunk it came from can go).
    this.#pending = at === data.length ? EMPTY : Buffer.from(data.subarray(at));
  };
}
