/**
 * WAMP-over-RawSocket on any node:net stream (TCP, Unix domain socket, TLS): the opening
 * handshake with serializer and max-length negotiation, frames, PING/PONG, corked writes and the
 * outbound budget. Knows nothing of realms or sessions: it hands decoded frames to a PeerHandler and
 * offers a Peer for replies. [ap_transport_rawsocket]
 */
import type { Socket } from 'node:net';
import type { Codec, DecodeOptions, Encoded, SerializerName } from '@switchboard/schemas';
import { CODECS, Spliced, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, PASSTHROUGH } from '@switchboard/schemas';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';
import { OutboundBudget, SLOW_CONSUMER_REASON } from './outbound.js';
import type { OutboundCounters, OutboundLimits } from './outbound.js';
import { channelBindingsOf } from './channel-binding.js';
import { clientCertificateOf } from './client-certificate.js';
import type { AcceptPeer, Peer, PeerHandler, SharedFrame, TransportDetails } from './peer.js';
import {
  FrameParser,
  FrameType,
  HANDSHAKE_ERROR_TEXT,
  HandshakeError,
  frame,
  frameOfString,
  handshakeErrorReply,
  handshakeReply,
  lengthExponentFor,
  parseHandshake,
  splicedFrameHead,
} from './rawsocket-framing.js';
import type { FrameSink, FrameTypeCode, HandshakeErrorCode } from './rawsocket-framing.js';
import { EndOfTurn } from './turn.js';
import type { InboundAccount, InboundBudget } from './inbound-budget.js';

export interface RawSocketTransportOptions {
  /** Serializers accepted in the handshake. */
  serializers: readonly SerializerName[];
  /**
   * Largest incoming message. The handshake announces the largest power of two not above it
   * (2^9 … 2^24); a longer frame fails the connection.
   */
  maxMessageBytes: number;
  /** Deepest nesting of lists and dicts in an incoming message (default 64); deeper aborts the session. */
  maxNestingDepth?: number;
  /** Most values (keys included) in an incoming message (default 131072); more aborts the session. */
  maxMessageItems?: number;
  /** A client announcing a smaller maximum is refused (error 2, maximum message length unacceptable). */
  minPeerMaxMessageBytes?: number;
  /** Open connections past which a handshake is refused (error 4). 0: no limit. */
  maxConnections?: number;
  /** Interval of keep-alive PINGs; a peer that sent nothing since the previous one is dropped. 0 disables. */
  pingIntervalMs?: number;
  outbound: OutboundLimits;
  /** The Unix socket path, for naming peers (they have no address). */
  socketPath?: string;
  /**
   * The listener's admission gate (connections per address): a slot held until the connection
   * closes, or undefined to refuse the handshake (error 4, maximum connection count reached).
   */
  admit?: (socket: Socket) => (() => void) | undefined;
  /**
   * The listener's budget for incoming messages in progress (maxInboundBytes), shared with the
   * other transports on its port: a connection whose partial frame would pass it is closed.
   */
  inbound?: InboundBudget;
  /** Hears of a connection closed by a limit (maxInboundBytes), by config key (switchboard_limits_exceeded_total). */
  onLimit?: (limit: string) => void;
}

/** A connection that has not completed its handshake within this is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** After a close, the peer gets this long to close its side before the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;
const EMPTY = Buffer.alloc(0);
/** ASCII, since some clients echo a PING payload as a UTF-8 string. */
const PING_PAYLOAD = Buffer.from('switchboard');

class RawSocketPeer implements Peer, FrameSink {
  handler: PeerHandler | undefined;
  /** Something arrived since the last keep-alive PING. */
  alive = true;
  /** Corked by the transport's write batching until the end of this event-loop turn. */
  corked = false;
  /** No more writes: closing, cut off, or closed. */
  done = false;
  closeTimer: NodeJS.Timeout | undefined;
  readonly parser: FrameParser;
  readonly #budget: OutboundBudget;
  /** This connection's share of the listener's inbound budget: the frame it is receiving. */
  readonly #inbound: InboundAccount | undefined;

  constructor(
    readonly socket: Socket,
    readonly codec: Codec,
    readonly transport: TransportDetails,
    /** The client's announced maximum: nothing longer may be sent to it. */
    readonly maxSendBytes: number,
    maxReceiveBytes: number,
    private readonly owner: RawSocketTransport,
  ) {
    this.#budget = new OutboundBudget(owner.options.outbound, owner.counters);
    this.parser = new FrameParser(maxReceiveBytes, this);
    this.#inbound = owner.options.inbound?.account();
  }

  get outboundRoom(): number {
    return this.#budget.room(this.socket.writableLength);
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  send(data: Encoded): boolean {
    if (this.done || !this.socket.writable) return false;
    if (data instanceof Spliced) {
      if (data.length > this.maxSendBytes) {
        this.owner.tooLarge(this, data.length, false);
        return false;
      }
      // The frame header with the message's head, then its payload as it is: one vectored write.
      return this.#write(splicedFrameHead(data), false, data.tail);
    }
    const bytes = typeof data === 'string' ? frameOfString(data) : frame(FrameType.Message, data);
    if (bytes.length - 4 > this.maxSendBytes) {
      this.owner.tooLarge(this, bytes.length - 4, false);
      return false;
    }
    return this.#write(bytes, false);
  }

  /**
   * The same framed bytes for every receiver: the frame header does not depend on the connection.
   * JSON is framed straight from its text (one allocation, one copy).
   */
  sendDroppable(shared: SharedFrame): boolean {
    if (this.done || !this.socket.writable) return false;
    let bytes = shared.framed.get('rawsocket');
    if (bytes === undefined) {
      // One whole frame for every receiver (a spliced EVENT's pieces copied in once), as the
      // WebSocket peer does: EVENTs leave in bursts, where one copy costs less than two pieces.
      const spliced = shared.spliced;
      if (spliced !== undefined) {
        bytes = splicedFrameHead(spliced, spliced.tail.length);
        bytes.set(spliced.tail, 4 + spliced.head.length);
      } else {
        const source = shared.source;
        bytes = typeof source === 'string' ? frameOfString(source) : frame(FrameType.Message, source);
      }
      shared.framed.set('rawsocket', bytes);
    }
    if (bytes.length - 4 > this.maxSendBytes) {
      this.owner.tooLarge(this, bytes.length - 4, true);
      return false;
    }
    return this.#write(bytes, true);
  }

  /** RawSocket has no closing handshake: what was queued is flushed, then the stream ends. */
  close(_code: number, _reason: string): void {
    if (this.done) return;
    this.finish();
    this.socket.end();
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }

  /** No more reads or writes on this connection. */
  finish(): void {
    this.done = true;
    this.parser.stop();
    this.#inbound?.release();
  }

  /** `tail`: the rest of a spliced message, written after `bytes` (the socket is corked: one vectored write). */
  #write(bytes: Uint8Array, droppable: boolean, tail?: Uint8Array): boolean {
    const verdict = this.#budget.judge(this.socket.writableLength, bytes.length + (tail?.length ?? 0), droppable);
    if (verdict === 'send') {
      if (!this.corked) this.owner.cork(this);
      this.socket.write(bytes);
      if (tail !== undefined) this.socket.write(tail);
      return true;
    }
    if (verdict === 'cutoff') this.owner.cutOff(this);
    return false;
  }

  // ---- incoming ---------------------------------------------------------------------------

  /** Bound once: the socket's 'data' listener. */
  readonly onData = (chunk: Buffer): void => {
    this.alive = true;
    if (this.done) return;
    const inbound = this.#inbound;
    if (inbound === undefined) {
      this.parser.push(chunk);
      return;
    }
    // The chunk is charged before it is parsed (its bytes may go into a partial frame), then the
    // charge comes down to what the parser still holds of the frame in progress.
    if (!inbound.add(chunk.length)) {
      this.owner.inboundExhausted(this, inbound.held, chunk.length);
      return;
    }
    this.parser.push(chunk);
    inbound.lower(this.parser.pendingBytes);
  };

  onFrame(type: FrameTypeCode, payload: Buffer): void {
    const handler = this.handler!;
    if (type === FrameType.Message) {
      let decoded: unknown;
      try {
        this.owner.counters.bytesIn += payload.length;
        decoded = this.codec.decode(payload, this.owner.decodeOptions);
      } catch (err) {
        handler.onBadFrame(`undecodable ${this.codec.name} message: ${(err as Error).message}`);
        this.close(1002, 'undecodable message');
        return;
      }
      handler.onFrame(decoded);
    } else if (type === FrameType.Ping) {
      // [ap_transport_rawsocket] Reply to each PING with exactly one PONG, at once, echoing its payload.
      this.#write(frame(FrameType.Pong, payload), false);
    }
    // A PONG only proves the peer is alive, which any incoming data already did.
  }

  onFramingError(reason: string): void {
    // [ap_transport_rawsocket] A frame that breaks the rules, or exceeds our maximum, fails the connection.
    this.handler!.onBadFrame(`RawSocket: ${reason}`);
    this.close(1002, reason);
  }
}

export class RawSocketTransport {
  readonly #peers = new Set<RawSocketPeer>();
  readonly #handshaking = new Set<Socket>();
  readonly #codecs = new Map<number, Codec>();
  readonly #lengthExponent: number;
  readonly #corks = new EndOfTurn<RawSocketPeer>((peer) => {
    peer.corked = false;
    peer.socket.uncork();
  });
  #pingTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** What incoming frames may hold (nesting depth, value count). */
  readonly decodeOptions: DecodeOptions;

  constructor(
    readonly options: RawSocketTransportOptions,
    private readonly accept: AcceptPeer,
    readonly counters: OutboundCounters,
    private readonly log: Logger,
  ) {
    this.decodeOptions = {
      maxDepth: options.maxNestingDepth ?? DEFAULT_MAX_DEPTH,
      maxItems: options.maxMessageItems ?? DEFAULT_MAX_ITEMS,
      // Payloads of frames from 1 KiB are scanned, not decoded, until something reads them (schemas/src/payload.ts).
      passthrough: PASSTHROUGH,
    };
    for (const name of options.serializers) this.#codecs.set(CODECS[name].rawSocketId, CODECS[name]);
    this.#lengthExponent = lengthExponentFor(options.maxMessageBytes);
    const interval = options.pingIntervalMs ?? 0;
    if (interval > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), interval);
      this.#pingTimer.unref();
    }
  }

  /** The maximum incoming message length this transport announces. */
  get maxMessageBytes(): number {
    return 2 ** this.#lengthExponent;
  }

  get connectionCount(): number {
    return this.#peers.size;
  }

  /**
   * Takes over a connection. `head` holds octets already read from it (on a shared port, the
   * chunk whose first octet 0x7F told RawSocket from HTTP).
   */
  handle(socket: Socket, head: Buffer = EMPTY): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'rawsocket error'));
    this.#handshaking.add(socket);
    let received: Buffer = EMPTY;
    const timer = setTimeout(() => {
      logRefusal(
        this.log,
        'rawsocket_handshake_timeout',
        { peer: this.#peerName(socket), timeoutMs: HANDSHAKE_TIMEOUT_MS },
        `RawSocket connection dropped: no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`,
      );
      socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);
    timer.unref();
    const onClose = (): void => {
      clearTimeout(timer);
      this.#handshaking.delete(socket);
    };
    const feed = (chunk: Buffer): boolean => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (received.length < 4) return false;
      socket.off('data', feed);
      socket.off('close', onClose);
      onClose();
      this.#handshake(socket, received);
      return true;
    };
    socket.once('close', onClose);
    if (head.length > 0 && feed(head)) return;
    socket.on('data', feed);
    socket.resume();
  }

  /** Batches writes: the first frame to a socket in a turn corks it; the end of the turn uncorks. */
  cork(peer: RawSocketPeer): void {
    peer.corked = true;
    peer.socket.cork();
    this.#corks.add(peer);
  }

  /** Disconnects a peer whose outbound queue passed the hard limit (or stayed over the soft one). */
  cutOff(peer: RawSocketPeer): void {
    this.counters.peersCutOff++;
    this.log.warn({ peer: peer.transport.peer, buffered: peer.bufferedBytes }, `peer cut off: ${SLOW_CONSUMER_REASON}`);
    peer.finish();
    peer.socket.destroy();
  }

  /**
   * A message longer than the client's announced maximum can never be sent to it, and is never
   * truncated. [ap_transport_rawsocket: Serialization] An EVENT is dropped for that client and
   * counted; any other message (a reply the client waits for) fails the connection, so the client
   * learns at once instead of waiting forever.
   */
  tooLarge(peer: RawSocketPeer, bytes: number, droppable: boolean): void {
    this.counters.messagesTooLarge++;
    if (droppable) {
      this.counters.eventsDropped++;
      this.counters.bytesDropped += bytes;
      this.log.debug({ peer: peer.transport.peer, bytes, max: peer.maxSendBytes }, 'EVENT longer than the client accepts: dropped');
      return;
    }
    this.log.warn({ peer: peer.transport.peer, bytes, max: peer.maxSendBytes }, 'message longer than the client accepts: closing the connection');
    peer.close(1009, 'message too big for the peer');
  }

  /** Closes every connection after what was queued, and stops pinging. */
  close(_code = 1001, _reason = 'router shutting down'): void {
    this.#closed = true;
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    for (const socket of this.#handshaking) socket.destroy();
    for (const peer of this.#peers) peer.close(1001, 'router shutting down');
  }

  /** Drops every connection at once. */
  terminate(): void {
    this.#closed = true;
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    for (const socket of this.#handshaking) socket.destroy();
    for (const peer of this.#peers) peer.socket.destroy();
  }

  #handshake(socket: Socket, octets: Buffer): void {
    const request = parseHandshake(octets);
    if (!request.magic) {
      // [ap_transport_rawsocket] Not a RawSocket client: fail the connection.
      logRefusal(
        this.log,
        'rawsocket_magic',
        { peer: this.#peerName(socket), first: octets[0] },
        `RawSocket connection dropped: first octet 0x${(octets[0] ?? 0).toString(16)} is not the RawSocket magic 0x7f`,
      );
      socket.destroy();
      return;
    }
    const codec = this.#codecs.get(request.serializerId);
    let error: HandshakeErrorCode | undefined;
    if (request.reservedBits) error = HandshakeError.ReservedBitsUsed;
    else if (codec === undefined) error = HandshakeError.SerializerUnsupported;
    else if (request.maxMessageBytes < (this.options.minPeerMaxMessageBytes ?? 0)) error = HandshakeError.MaxLengthUnacceptable;
    else if ((this.options.maxConnections ?? 0) > 0 && this.#peers.size >= this.options.maxConnections!) error = HandshakeError.MaxConnectionsReached;
    let release: (() => void) | undefined;
    if (error === undefined && this.options.admit !== undefined) {
      release = this.options.admit(socket);
      if (release === undefined) error = HandshakeError.MaxConnectionsReached;
      else socket.once('close', release);
    }
    if (error !== undefined || codec === undefined) {
      const code = error ?? HandshakeError.SerializerUnsupported;
      logRefusal(
        this.log,
        `rawsocket_handshake_${code}`,
        { peer: this.#peerName(socket), serializerId: request.serializerId, maxMessageBytes: request.maxMessageBytes },
        `RawSocket handshake refused: ${HANDSHAKE_ERROR_TEXT[code]}`,
      );
      socket.end(handshakeErrorReply(code));
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    socket.write(handshakeReply(request.serializerId, this.#lengthExponent));
    const transport: TransportDetails = {
      type: 'rawsocket',
      protocol: codec.subprotocol,
      peer: this.#peerName(socket),
      channelBindings: channelBindingsOf(socket),
      clientCertificate: clientCertificateOf(socket),
    };
    const peer = new RawSocketPeer(socket, codec, transport, request.maxMessageBytes, this.maxMessageBytes, this);
    let handler: PeerHandler;
    try {
      handler = this.accept(peer);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'rawsocket: connection not accepted');
      socket.destroy();
      return;
    }
    peer.handler = handler;
    this.#peers.add(peer);
    socket.on('data', peer.onData);
    socket.once('close', () => {
      this.#peers.delete(peer);
      peer.finish();
      clearTimeout(peer.closeTimer);
      handler.onClose();
    });
    // The client may have sent its first frames along with the handshake.
    if (octets.length > 4) peer.onData(octets.subarray(4));
    socket.resume();
  }

  /** A connection whose bytes would pass the listener's inbound budget: closed, counted, logged. */
  inboundExhausted(peer: RawSocketPeer, held: number, chunk: number): void {
    this.options.onLimit?.('maxInboundBytes');
    logRefusal(
      this.log,
      'maxInboundBytes',
      { peer: peer.transport.peer, held, chunk, limit: this.options.inbound?.limit },
      `RawSocket connection closed: the listener's budget for incoming messages in progress (maxInboundBytes ${this.options.inbound?.limit ?? 0}) is used up`,
    );
    peer.close(1013, 'inbound budget used up');
  }

  #peerName(socket: Socket): string {
    if (socket.remoteAddress === undefined) return `unix:${this.options.socketPath ?? '?'}`;
    const family = socket.remoteFamily === 'IPv6' ? 'tcp6' : 'tcp4';
    return `${family}:${socket.remoteAddress}:${socket.remotePort ?? 0}`;
  }

  #ping(): void {
    for (const peer of this.#peers) {
      if (peer.done) continue;
      if (!peer.alive) {
        this.log.info({ peer: peer.transport.peer }, 'peer did not answer ping: closing');
        peer.finish();
        peer.socket.destroy();
        continue;
      }
      peer.alive = false;
      if (!peer.corked) this.cork(peer);
      peer.socket.write(frame(FrameType.Ping, PING_PAYLOAD));
    }
  }
}
