/**
 * WebSocket transport on `ws`: subprotocol negotiation, frame type rules, max message size,
 * keep-alive pings, and corked writes. Knows nothing of realms or sessions: it hands decoded
 * frames to a PeerHandler and offers a Peer for replies.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import type { RawData } from 'ws';
import type { Codec, SerializerName } from '@switchboard/schemas';
import { CODECS } from '@switchboard/schemas';
import type { Logger } from '../log.js';
import { OutboundBudget, SLOW_CONSUMER_REASON } from './outbound.js';
import type { OutboundCounters, OutboundLimits } from './outbound.js';
import type { Peer, PeerHandler, SharedFrame, TransportDetails } from './peer.js';

export interface WebSocketTransportOptions {
  /** URL path, e.g. `/ws`. */
  path: string;
  /** Serializers offered, in the router's order of preference. */
  serializers: readonly SerializerName[];
  /** Largest incoming message; a larger one closes the connection with 1009. */
  maxMessageBytes: number;
  /** Interval of keep-alive pings; a peer that has not answered the previous ping is dropped. 0 disables. */
  pingIntervalMs: number;
  outbound: OutboundLimits;
}

/** Creates the core's handler for a new connection. */
export type AcceptPeer = (peer: Peer) => PeerHandler;

class WebSocketPeer implements Peer {
  handler: PeerHandler | undefined;
  alive = true;
  /** Corked by the transport's write batching until the end of this event-loop turn. */
  corked = false;
  readonly #budget: OutboundBudget;
  /** One options object for every send: JSON goes in text frames even when handed as bytes. */
  readonly #sendOptions: { binary: boolean };

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly codec: Codec,
    readonly transport: TransportDetails,
    private readonly owner: WebSocketTransport,
  ) {
    this.#budget = new OutboundBudget(owner.options.outbound, owner.counters);
    this.#sendOptions = { binary: codec.binary };
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  send(frame: string | Uint8Array): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const verdict = this.#budget.judge(this.ws.bufferedAmount, frame.length, false);
    if (verdict === 'cutoff') {
      this.owner.cutOff(this);
      return false;
    }
    if (!this.corked) this.owner.cork(this);
    this.ws.send(frame, this.#sendOptions);
    return true;
  }

  /**
   * The same pre-framed bytes for every receiver: one socket write, no per-receiver framing.
   * Written on the socket ws writes on; with per-message deflate off, ws writes synchronously,
   * so order is kept.
   */
  sendDroppable(frame: SharedFrame): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    let bytes = frame.framed.get('websocket');
    if (bytes === undefined) frame.framed.set('websocket', (bytes = wsFrame(frame.data, frame.text)));
    const verdict = this.#budget.judge(this.ws.bufferedAmount, bytes.length, true);
    if (verdict === 'send') {
      if (!this.corked) this.owner.cork(this);
      this.socket.write(bytes);
      return true;
    }
    if (verdict === 'cutoff') this.owner.cutOff(this);
    return false;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
  }


}

export class WebSocketTransport {
  readonly #wss: WebSocketServer;
  readonly #peers = new Set<WebSocketPeer>();
  readonly #corked: WebSocketPeer[] = [];
  readonly #offered: Set<string>;
  #pingTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly options: WebSocketTransportOptions,
    private readonly accept: AcceptPeer,
    readonly counters: OutboundCounters,
    private readonly log: Logger,
  ) {
    this.#offered = new Set(options.serializers.map((name) => CODECS[name].subprotocol));
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => this.#choose(protocols) ?? false,
    });
    if (options.pingIntervalMs > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), options.pingIntervalMs);
      this.#pingTimer.unref();
    }
  }

  get connectionCount(): number {
    return this.#peers.size;
  }

  /** Takes over an HTTP upgrade for this transport's path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const header = req.headers['sec-websocket-protocol'];
    const requested = typeof header === 'string' ? header.split(',').map((p) => p.trim()).filter((p) => p.length > 0) : [];
    if (this.#choose(new Set(requested)) === undefined) {
      const offered = [...this.#offered].join(', ');
      const asked = requested.length > 0 ? requested.join(', ') : 'none';
      refuse(socket, 400, `Unsupported WebSocket subprotocol (requested: ${asked}; supported: ${offered})`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, req));
  }

  /**
   * Batches writes: the first frame to a socket in an event-loop turn corks it, and one
   * setImmediate per turn uncorks every socket written to, so a burst leaves in one write.
   */
  cork(peer: WebSocketPeer): void {
    peer.corked = true;
    peer.socket.cork();
    this.#corked.push(peer);
    if (this.#corked.length === 1) setImmediate(this.#uncork);
  }

  /** Disconnects a peer whose outbound queue passed the hard limit. */
  cutOff(peer: WebSocketPeer): void {
    this.counters.peersCutOff++;
    this.log.warn({ peer: peer.transport.peer, buffered: peer.bufferedBytes }, `peer cut off: ${SLOW_CONSUMER_REASON}`);
    // Nothing more can be written to a peer that does not read: drop the TCP connection.
    peer.ws.terminate();
  }

  /** Closes every connection (after what was queued) and stops pinging. */
  close(code = 1001, reason = 'router shutting down'): void {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    for (const peer of this.#peers) peer.close(code, reason);
  }

  /** Drops every connection at once. */
  terminate(): void {
    for (const peer of this.#peers) peer.ws.terminate();
  }

  readonly #uncork = (): void => {
    const peers = this.#corked;
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[i]!;
      peer.corked = false;
      peer.socket.uncork();
    }
    peers.length = 0;
  };

  #choose(protocols: Set<string>): string | undefined {
    // The client's order of preference wins among the serializers we offer.
    for (const protocol of protocols) if (this.#offered.has(protocol)) return protocol;
    return undefined;
  }

  #open(ws: WebSocket, req: IncomingMessage): void {
    const codec = Object.values(CODECS).find((c) => c.subprotocol === ws.protocol);
    if (codec === undefined) {
      ws.close(1002, 'no subprotocol');
      return;
    }
    const socket = req.socket;
    const family = socket.remoteFamily === 'IPv6' ? 'tcp6' : 'tcp4';
    const transport: TransportDetails = {
      type: 'websocket',
      protocol: ws.protocol,
      peer: `${family}:${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
      httpHeaders: req.headers,
    };
    const peer = new WebSocketPeer(ws, socket, codec, transport, this);
    this.#peers.add(peer);
    const handler = this.accept(peer);
    peer.handler = handler;
    const binary = codec.binary;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      peer.alive = true;
      if (isBinary !== binary) {
        handler.onBadFrame(`${isBinary ? 'binary' : 'text'} WebSocket message on ${codec.subprotocol}, which uses ${binary ? 'binary' : 'text'} messages`);
        return;
      }
      const bytes = data as Buffer; // binaryType 'nodebuffer': always one Buffer
      let decoded: unknown;
      try {
        decoded = codec.decode(binary ? bytes : bytes.toString('utf8'));
      } catch (err) {
        handler.onBadFrame(`undecodable ${codec.name} message: ${(err as Error).message}`);
        return;
      }
      handler.onFrame(decoded);
    });
    ws.on('pong', () => {
      peer.alive = true;
    });
    ws.on('error', (err) => {
      this.log.debug({ peer: transport.peer, err: err.message }, 'websocket error');
    });
    ws.once('close', () => {
      this.#peers.delete(peer);
      handler.onClose();
    });
  }

  #ping(): void {
    for (const peer of this.#peers) {
      if (!peer.alive) {
        this.log.info({ peer: peer.transport.peer }, 'peer did not answer ping: closing');
        peer.ws.terminate();
        continue;
      }
      peer.alive = false;
      peer.ws.ping();
    }
  }
}

/** An unmasked, unfragmented server frame (RFC 6455 §5.2): FIN + opcode, length, payload. */
function wsFrame(data: Uint8Array, text: boolean): Uint8Array {
  const length = data.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + length);
  out[0] = 0x80 | (text ? 0x1 : 0x2);
  if (length < 126) out[1] = length;
  else if (length < 65536) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  out.set(data, headerLength);
  return out;
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
