/**
 * WAMP over RawSocket [ap_transport_rawsocket] as a client Socket (Node only): TCP (`rs://host:port`,
 * `tcp://host:port`) or a Unix domain socket (`unix:/path`, `rs://unix:/path`, or an absolute path).
 *
 *   handshake   0111 1111  LLLL SSSS  0000 0000  0000 0000   (magic, max length 2^(9+L), serializer)
 *   error reply 0111 1111  EEEE 0000  0000 0000  0000 0000
 *   frame       RRRR XTTT  LLLL LLLL  LLLL LLLL  LLLL LLLL   (type, 24-bit length; X: exactly 2^24)
 */
import { connect as netConnect } from 'node:net';
import type { Socket as NetSocket } from 'node:net';
import { rawSocketRefusal } from './refusal.js';
import type { Socket, SocketFactory } from './socket.js';

const MAGIC = 0x7f;
const MIN_LENGTH_EXPONENT = 9;
/** We accept the largest messages the spec allows: 2^24 octets (L = 15). */
const OUR_LENGTH_EXPONENT = 24;
const MAX_BYTES = 2 ** 24;
const FRAME_MESSAGE = 0;
const FRAME_PING = 1;
const FRAME_PONG = 2;

/** The spec's subprotocol names per serializer ID, so the Transport sees what a WebSocket would report. */
const SUBPROTOCOLS: Readonly<Record<number, string>> = { 1: 'wamp.2.json', 2: 'wamp.2.msgpack', 3: 'wamp.2.cbor' };
const SERIALIZER_IDS: Readonly<Record<string, number>> = { 'wamp.2.json': 1, 'wamp.2.msgpack': 2, 'wamp.2.cbor': 3 };

export type RawSocketTarget = { host: string; port: number } | { path: string };

/** `rs://host:port`, `tcp://host:port`, `rs://unix:/path`, `unix:/path` or `/path`. */
export function parseRawSocketUrl(url: string): RawSocketTarget {
  if (url.startsWith('/')) return { path: url };
  const unix = /^(?:(?:rs|tcp):\/\/)?unix:(.+)$/.exec(url);
  if (unix !== null) return { path: unix[1]! };
  const tcp = /^(?:rs|tcp):\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
  if (tcp === null) throw new TypeError(`not a RawSocket URL: '${url}' (rs://host:port, tcp://host:port, unix:/path)`);
  return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
}

function header(type: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  if (length === MAX_BYTES) {
    out.writeUInt32BE(0, 0);
    out[0] = 0x08 | type;
  } else {
    out[0] = type;
    out.writeUIntBE(length, 1, 3);
  }
  return out;
}

/**
 * A SocketFactory over RawSocket. `protocols` are WebSocket subprotocol names in order of
 * preference; RawSocket negotiates one serializer, so the first is asked for.
 */
export function rawSocketFactory(): SocketFactory {
  return (url, protocols, handlers) => {
    const target = parseRawSocketUrl(url);
    const wanted = protocols[0] ?? 'wamp.2.json';
    const serializerId = SERIALIZER_IDS[wanted];
    if (serializerId === undefined) throw new TypeError(`RawSocket has no serializer for '${wanted}'`);
    const binary = serializerId !== 1;
    const sock: NetSocket = 'path' in target ? netConnect(target.path) : netConnect(target.port, target.host);
    sock.setNoDelay(true);
    let routerMaxBytes = 0;
    let buffered: Buffer = Buffer.alloc(0);
    let closed = false;
    let error: string | undefined;
    /** close() was called: the code and reason to report when the socket is gone. */
    let closeAs: { code: number; reason: string } | undefined;

    const end = (code: number, reason: string): void => {
      if (closed) return;
      closed = true;
      sock.destroy();
      handlers.close(code, reason);
    };
    const fail = (reason: string): void => {
      handlers.error(reason);
      end(1002, reason);
    };

    /** Parses what arrived: the handshake reply first, then frames. */
    const parse = (): void => {
      if (routerMaxBytes === 0) {
        if (buffered.length < 4) return;
        const reply = buffered.subarray(0, 4);
        buffered = buffered.subarray(4);
        if (reply[0] !== MAGIC) return fail('not a RawSocket router (bad handshake reply)');
        const low = reply[1]! & 0x0f;
        const high = reply[1]! >> 4;
        if (low === 0) {
          const refusal = rawSocketRefusal(high);
          handlers.refused(refusal);
          return fail(`RawSocket handshake refused: ${refusal.message}`);
        }
        if (low !== serializerId) return fail(`the router chose serializer ${low}, not ${serializerId}`);
        routerMaxBytes = 2 ** (high + MIN_LENGTH_EXPONENT);
        handlers.open(SUBPROTOCOLS[serializerId]!);
      }
      while (!closed && buffered.length >= 4) {
        const first = buffered[0]!;
        let length = buffered.readUIntBE(1, 3);
        if ((first & 0xf0) !== 0 || (first & 0x07) > FRAME_PONG) return fail(`bad frame header 0x${first.toString(16)}`);
        if ((first & 0x08) !== 0) {
          if (length !== 0) return fail('frame length beyond 2^24 octets');
          length = MAX_BYTES;
        }
        if (buffered.length < 4 + length) return;
        const payload = buffered.subarray(4, 4 + length);
        buffered = buffered.subarray(4 + length);
        switch (first & 0x07) {
          case FRAME_MESSAGE:
            handlers.message(binary ? new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) : payload.toString('utf8'));
            break;
          case FRAME_PING:
            // [ap_transport_rawsocket] A PONG echoes the PING's payload, at once.
            sock.write(Buffer.concat([header(FRAME_PONG, length), payload]));
            break;
          default:
          // PONG: we send no PINGs, so there is nothing to match it with.
        }
      }
    };

    sock.on('connect', () => sock.write(Buffer.from([MAGIC, ((OUR_LENGTH_EXPONENT - MIN_LENGTH_EXPONENT) << 4) | serializerId, 0, 0])));
    sock.on('data', (chunk: Buffer) => {
      if (closed) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      parse();
    });
    sock.on('error', (err: Error) => {
      error = err.message;
      handlers.error(err.message);
    });
    sock.on('close', () => end(closeAs?.code ?? 1006, closeAs?.reason ?? error ?? ''));

    const socket: Socket = {
      send: (data) => {
        if (closed) return;
        const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        if (payload.length > routerMaxBytes) {
          throw new RangeError(`a message of ${payload.length} octets exceeds the ${routerMaxBytes} octets the router accepts over RawSocket`);
        }
        sock.write(Buffer.concat([header(FRAME_MESSAGE, payload.length), payload]));
      },
      close: (code, reason) => {
        if (closed || closeAs !== undefined) return;
        // RawSocket has no close frame: half-close, and report the close once the router hangs up
        // (or after a second, if it does not).
        closeAs = { code, reason };
        sock.end();
        const timer = setTimeout(() => end(code, reason), 1000);
        timer.unref();
        sock.once('close', () => clearTimeout(timer));
      },
    };
    return socket;
  };
}
