/**
 * WebSocket transport on `ws`: subprotocol negotiation (plain and batched), frame type rules, max
 * message size, keep-alive pings, corked writes, and opt-in permessage-deflate. Knows nothing of realms or sessions: it hands
 * decoded frames to a PeerHandler and offers a Peer for replies.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { WebSocketServer, WebSocket } from 'ws';
import type { PerMessageDeflateOptions, RawData } from 'ws';
import type { Codec, DecodeOptions, Encoded, SerializerName } from '@switchboard/schemas';
import { CODECS, Spliced, joined, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, PASSTHROUGH } from '@switchboard/schemas';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';
import { BATCHED_SUFFIX, batchElement, batchElementOfString, decodeBatch, sharedBatchElement } from './batch.js';
import { channelBindingsOf } from './channel-binding.js';
import { clientCertificateOf } from './client-certificate.js';
import type { CookieJar, TrackedCookie } from './cookie-tracking.js';
import type { InboundBudget } from './inbound-budget.js';
import { OutboundBudget, SLOW_CONSUMER_REASON } from './outbound.js';
import type { OutboundCounters, OutboundLimits } from './outbound.js';
import type { AcceptPeer, Peer, PeerHandler, SharedFrame, TransportDetails } from './peer.js';
import { EndOfTurn } from './turn.js';

export type { AcceptPeer } from './peer.js';

export interface WebSocketTransportOptions {
  /** URL path, e.g. `/ws`. */
  path: string;
  /** Serializers offered, in the router's order of preference. */
  serializers: readonly SerializerName[];
  /** Largest incoming message; a larger one closes the connection with 1009. */
  maxMessageBytes: number;
  /** Deepest nesting of lists and dicts in an incoming message (default 64); deeper aborts the session. */
  maxNestingDepth?: number;
  /** Most values (keys included) in an incoming message (default 131072); more aborts the session. */
  maxMessageItems?: number;
  /** Interval of keep-alive pings; a peer that has not answered the previous ping is dropped. 0 disables. */
  pingIntervalMs: number;
  /** A peer silent this long after a ping is dropped without waiting for the next one (below pingIntervalMs). */
  pingTimeoutMs?: number;
  outbound: OutboundLimits;
  /** Cookie tracking: a tracking cookie is read from and set on each upgrade (transports/cookie-tracking.ts). */
  cookies?: CookieJar;
  /**
   * Also offer `wamp.2.<serializer>.batched` for each serializer (several WAMP messages per
   * WebSocket message). Default true: a client gets batching only when it asks for it.
   */
  batched?: boolean;
  /**
   * permessage-deflate (RFC 7692) for clients that offer it; undefined: never negotiated.
   * maxMessageBytes bounds a message after inflating (ws stops inflating past it: 1009).
   */
  compression?: CompressionOptions;
  /** Hears of a connection closed by a limit (maxMessageBytes, maxInboundBytes), by config key (switchboard_limits_exceeded_total). */
  onLimit?: (limit: string) => void;
  /**
   * The listener's budget for incoming messages in progress (maxInboundBytes), shared with its
   * other transports: a connection whose bytes would pass it is closed with 1013 (try again later).
   */
  inbound?: InboundBudget;
}

export interface CompressionOptions {
  /** Messages shorter than this (bytes) are sent uncompressed. */
  threshold: number;
  /** zlib level, 0 … 9. */
  level: number;
  /** zlib memLevel, 1 … 9. */
  memLevel: number;
  /** Largest window the router compresses with, 9 … 15. */
  windowBits: number;
  /** Messages longer than this (bytes) are sent uncompressed: compressing is synchronous, on the event loop. */
  maxBytes: number;
}

/**
 * ws's permessage-deflate settings for a listener's `compression`. The router always answers with
 * server_no_context_takeover (RFC 7692 §7.1.1.1, a server may add it to any accepted offer): each
 * message it sends is compressed on its own, so an EVENT for many subscribers is compressed once
 * per window (two at most) and the same bytes go to each of them (deflatedFrame), and no
 * connection holds a compression context between messages (batched peers' batches go
 * uncompressed). And with client_no_context_takeover (§7.1.1.2): ws inflates on the thread pool at
 * some 200 µs of router CPU per message however small, and clients that keep no context apply a
 * threshold of their own (ws's: 1 KiB) where with context takeover they compress every message
 * (bench: 8 → 250 µs per 110-byte PUBLISH received without it, 8 with it). A hostile client may
 * still compress every message: that costs it its own CPU too, and maxMessageBytes (after
 * inflating) and, where set, maxMessagesPerSecond bound it as they bound any other message.
 */
function perMessageDeflate(compression: CompressionOptions | undefined): false | PerMessageDeflateOptions {
  if (compression === undefined) return false;
  return {
    threshold: compression.threshold,
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    zlibDeflateOptions: { level: compression.level, memLevel: compression.memLevel },
    // Only below 15: ws declines an offer whose server_max_window_bits is below a number set here,
    // where left unset it accepts the client's (smaller) window. [RFC 7692 §7.1.2.1]
    ...(compression.windowBits < 15 && { serverMaxWindowBits: compression.windowBits }),
  };
}

/** The shared-frame cache key under which a frame's verdict on compression.maxBytes is kept (OVER or UNDER). */
const OVER_MAX_BYTES = 'websocket-deflate-over-max-bytes';
const OVER = new Uint8Array(1);
const UNDER = new Uint8Array(0);

/**
 * The smallest window zlib compresses raw deflate with (it turns 8 into 9, whose frames a client
 * that asked for 8 may not inflate): used for every client that asked for less than the listener's.
 */
const MIN_WINDOW_BITS = 9;

/** A batch is sent once it reaches this size, without waiting for the end of the turn. */
const BATCH_FLUSH_BYTES = 64 * 1024;

/** What a subprotocol stands for. */
interface Offer {
  codec: Codec;
  batched: boolean;
}

/** What the plain and the batched WebSocket peers share: the socket, the budget, the send options. */
/** How long a closing handshake the router started may take before the connection is ended. */
const CLOSE_GRACE_MS = 2000;

abstract class WebSocketPeerBase {
  handler: PeerHandler | undefined;
  alive = true;
  /** permessage-deflate was negotiated on this connection. */
  readonly deflate: boolean;
  /**
   * The window the router compresses with on this connection: the listener's, or the smallest
   * (MIN_WINDOW_BITS) if the client asked for less (server_max_window_bits), whatever it asked.
   * 0: messages go uncompressed (a window of 8, which zlib cannot produce for raw deflate).
   */
  readonly windowBits: number;
  protected readonly budget: OutboundBudget;
  /** One options object for every send: JSON goes in text frames even when handed as bytes. */
  protected readonly sendOptions: { binary: boolean; compress: boolean };
  /** Messages shorter than this go uncompressed (Infinity without permessage-deflate). */
  readonly #threshold: number;

  constructor(
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly codec: Codec,
    readonly transport: TransportDetails,
    protected readonly owner: WebSocketTransport,
    /** The Sec-WebSocket-Extensions header the router answered the upgrade with. */
    extensions: string,
  ) {
    this.budget = new OutboundBudget(owner.options.outbound, owner.counters);
    this.sendOptions = { binary: codec.binary, compress: false };
    this.deflate = ws.extensions.includes('permessage-deflate');
    // Read only where deflate was negotiated: no regex per handshake on a listener without compression.
    const asked = this.deflate ? /server_max_window_bits=(\d+)/.exec(extensions)?.[1] : undefined;
    const accepts = asked === undefined ? 15 : Number(asked);
    const configured = owner.options.compression?.windowBits ?? 15;
    // Two windows at most, so a shared EVENT is compressed at most twice per serializer: a frame
    // compressed with a smaller window inflates with any larger one (RFC 7692 §7.1.2.1).
    this.windowBits = !this.deflate || accepts < MIN_WINDOW_BITS ? 0 : accepts >= configured ? configured : MIN_WINDOW_BITS;
    this.#threshold = this.deflate ? (owner.options.compression?.threshold ?? 0) : Infinity;
  }

  /** This message is compressed before it is sent (deflate negotiated, a usable window, at least the threshold). */
  protected compresses(length: number): boolean {
    return this.windowBits > 0 && length >= this.#threshold;
  }

  /**
   * A message that would be compressed is over compression.maxBytes: sent as it is, since
   * compressing it would hold the event loop (level 1: ~5 ms per MiB; level 9: 90–270).
   */
  protected overMaxBytes(bytes: number): boolean {
    return bytes > this.owner.options.compression!.maxBytes;
  }

  /**
   * Starts the closing handshake, and ends the connection if the peer has not answered it within
   * CLOSE_GRACE_MS: ws waits 30 s for the peer's close frame, and a peer that never sends one (one
   * closed for its handshake timeout, say) would hold its socket and its address's slot that long.
   */
  protected closeSocket(code: number, reason: string): void {
    this.ws.close(code, reason);
    const timer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    this.ws.once('close', () => clearTimeout(timer));
  }
}

class WebSocketPeer extends WebSocketPeerBase implements Peer {
  /** Corked by the transport's write batching until the end of this event-loop turn. */
  corked = false;

  get outboundRoom(): number {
    return this.budget.room(this.bufferedBytes);
  }

  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  send(frame: Encoded): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const verdict = this.budget.judge(this.ws.bufferedAmount, frame.length, false);
    if (verdict === 'cutoff') {
      this.owner.cutOff(this);
      return false;
    }
    if (!this.corked) this.owner.cork(this);
    // A string's length in UTF-16 units: at most its UTF-8 bytes, close enough for a threshold.
    if (this.compresses(frame.length)) {
      // A string's UTF-16 length is at most its UTF-8 bytes: over the cap already, no conversion.
      const data = this.overMaxBytes(frame.length)
        ? undefined
        : typeof frame === 'string'
          ? Buffer.from(frame)
          : frame instanceof Spliced
            ? frame.join()
            : frame;
      if (data !== undefined && !this.overMaxBytes(data.length)) {
        this.socket.write(deflatedFrame(data, !this.codec.binary, this.owner.options.compression!, this.windowBits));
        return true;
      }
      this.owner.options.onLimit?.('compression.maxBytes');
    }
    // Framed here and written in one piece, as sendDroppable does: ws.send would write the header
    // and the payload as two socket writes (and convert a string first), for every reply. A
    // spliced message is the header with its head, then its payload as it is: the socket is
    // corked, so the two leave in one vectored write.
    if (frame instanceof Spliced) {
      this.socket.write(wsFrameHead(frame, !this.codec.binary));
      this.socket.write(frame.tail);
    } else this.socket.write(wsFrame(frame, !this.codec.binary));
    return true;
  }

  /**
   * The same pre-framed bytes for every receiver: one socket write, no per-receiver framing.
   * Written on the socket ws writes on; ws writes synchronously (it is never asked to compress on
   * these connections: the router compresses itself, below), so order is kept. With
   * permessage-deflate, a message from the threshold on is compressed once per window (the
   * listener's, and MIN_WINDOW_BITS for clients that asked for less: two at most) and the same
   * compressed frame goes to every such receiver.
   */
  sendDroppable(frame: SharedFrame): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    let bytes: Uint8Array | undefined;
    if (this.compresses(frame.length) && !this.#sharedOverMaxBytes(frame)) {
      const key = `websocket-deflate-${this.windowBits}`;
      bytes = frame.framed.get(key);
      if (bytes === undefined) frame.framed.set(key, (bytes = deflatedFrame(frame.data, frame.text, this.owner.options.compression!, this.windowBits)));
    } else {
      // One whole frame, built once for every receiver (a spliced EVENT's pieces copied in once):
      // EVENTs leave in bursts, and a write of two pieces per EVENT measured costlier in the
      // kernel than the one copy (fan-out N=1, 4 KiB: writev 2.5 → 4.2 µs per EVENT).
      bytes = frame.framed.get('websocket');
      if (bytes === undefined) {
        const spliced = frame.spliced;
        frame.framed.set('websocket', (bytes = spliced !== undefined ? wsFrameOfSpliced(spliced, frame.text) : wsFrame(frame.source, frame.text)));
      }
    }
    const verdict = this.budget.judge(this.ws.bufferedAmount, bytes.length, true);
    if (verdict === 'send') {
      if (!this.corked) this.owner.cork(this);
      this.socket.write(bytes);
      return true;
    }
    if (verdict === 'cutoff') this.owner.cutOff(this);
    return false;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.closeSocket(code, reason);
  }

  /** A shared frame over compression.maxBytes, counted once for all its receivers (a marker in its cache). */
  #sharedOverMaxBytes(frame: SharedFrame): boolean {
    const marker = frame.framed.get(OVER_MAX_BYTES);
    if (marker !== undefined) return marker.length === 1;
    const over = this.overMaxBytes(frame.length) || this.overMaxBytes(frame.data.length);
    frame.framed.set(OVER_MAX_BYTES, over ? OVER : UNDER);
    if (over) this.owner.options.onLimit?.('compression.maxBytes');
    return over;
  }
}

/**
 * A peer on a batched subprotocol [ap_transport_batched_websocket]: every message it is sent in an
 * event-loop turn goes out in one WebSocket message (or several of at most BATCH_FLUSH_BYTES), each
 * message framed with its separator or length prefix. Never compressed (flush); the client's
 * messages are still inflated if it compresses them.
 */
class BatchedWebSocketPeer extends WebSocketPeerBase implements Peer {
  /** A flush is queued for the end of this turn. */
  scheduled = false;
  readonly #parts: Uint8Array[] = [];
  #partsBytes = 0;

  get outboundRoom(): number {
    return this.budget.room(this.bufferedBytes);
  }

  /** Written to the socket but not sent, plus the batch being gathered. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount + this.#partsBytes;
  }

  send(encoded: Encoded): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const frame = joined(encoded);
    return this.#add(typeof frame === 'string' ? batchElementOfString(frame) : batchElement(frame, !this.codec.binary), false);
  }

  /** A message's framing within a batch is the same for every receiver (and long-poll's): computed once. */
  sendDroppable(frame: SharedFrame): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    let element = frame.framed.get('batched');
    if (element === undefined) frame.framed.set('batched', (element = sharedBatchElement(frame)));
    return this.#add(element, true);
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.flush();
    this.closeSocket(code, reason);
  }

  /** Sends what was gathered as one WebSocket message. */
  flush(): void {
    if (this.#parts.length === 0) return;
    const data = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#partsBytes);
    this.#parts.length = 0;
    this.#partsBytes = 0;
    // Uncompressed even with permessage-deflate: a batch is this receiver's alone, so compressing it
    // would cost one compression per receiver of every EVENT in it (and ws a deflate context per
    // connection); the EVENTs' shared frames are compressed once for all plain receivers instead.
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, this.sendOptions);
  }

  #add(element: Uint8Array, droppable: boolean): boolean {
    const verdict = this.budget.judge(this.bufferedBytes, element.length, droppable);
    if (verdict === 'send') {
      this.#parts.push(element);
      this.#partsBytes += element.length;
      if (this.#partsBytes >= BATCH_FLUSH_BYTES) this.flush();
      else if (!this.scheduled) this.owner.scheduleFlush(this);
      return true;
    }
    if (verdict === 'cutoff') this.owner.cutOff(this);
    return false;
  }
}

type AnyWebSocketPeer = WebSocketPeer | BatchedWebSocketPeer;

export class WebSocketTransport {
  readonly #wss: WebSocketServer;
  readonly #peers = new Set<AnyWebSocketPeer>();
  /** Set-Cookie values for upgrades in progress. */
  readonly #setCookies = new WeakMap<IncomingMessage, string>();
  /** The Sec-WebSocket-Extensions response header of upgrades in progress (permessage-deflate's parameters). */
  readonly #extensions = new WeakMap<IncomingMessage, string>();
  /** Subprotocols offered, in the router's order of preference. */
  readonly #offered = new Map<string, Offer>();
  readonly #corks = new EndOfTurn<WebSocketPeer>((peer) => {
    peer.corked = false;
    peer.socket.uncork();
  });
  readonly #batches = new EndOfTurn<BatchedWebSocketPeer>((peer) => {
    peer.scheduled = false;
    peer.flush();
  });
  #pingTimer: NodeJS.Timeout | undefined;
  /** What incoming frames may hold (nesting depth, value count). */
  readonly #decode: DecodeOptions;
  /** One per ping round, when pingTimeoutMs is shorter than the interval. */
  #pongDeadline: NodeJS.Timeout | undefined;

  constructor(
    readonly options: WebSocketTransportOptions,
    private readonly accept: AcceptPeer,
    readonly counters: OutboundCounters,
    private readonly log: Logger,
  ) {
    this.#decode = {
      maxDepth: options.maxNestingDepth ?? DEFAULT_MAX_DEPTH,
      maxItems: options.maxMessageItems ?? DEFAULT_MAX_ITEMS,
      // Payloads of frames from 1 KiB are scanned, not decoded, until something reads them (schemas/src/payload.ts).
      passthrough: PASSTHROUGH,
    };
    for (const name of options.serializers) this.#offered.set(CODECS[name].subprotocol, { codec: CODECS[name], batched: false });
    if (options.batched !== false) {
      for (const name of options.serializers) this.#offered.set(CODECS[name].subprotocol + BATCHED_SUFFIX, { codec: CODECS[name], batched: true });
    }
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: perMessageDeflate(options.compression),
      clientTracking: false,
      handleProtocols: (protocols) => this.#choose(protocols) ?? false,
    });
    // The upgrade response carries a new tracking cookie (ws emits `headers` before writing it).
    this.#wss.on('headers', (headers: string[], req: IncomingMessage) => {
      const setCookie = this.#setCookies.get(req);
      if (setCookie !== undefined) headers.push(`Set-Cookie: ${setCookie}`);
      // What was negotiated, with its parameters (ws.extensions names the extension only); only
      // permessage-deflate adds the header, so a listener without compression skips the search.
      if (options.compression === undefined) return;
      const extensions = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
      if (extensions !== undefined) this.#extensions.set(req, extensions);
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
    if (typeof header !== 'string' || !this.#offersOneOf(header)) {
      const requested =
        typeof header === 'string'
          ? header
              .split(',')
              .map((p) => p.trim())
              .filter((p) => p.length > 0)
          : [];
      const offered = [...this.#offered.keys()].join(', ');
      const asked = requested.length > 0 ? requested.join(', ') : 'none';
      const error = `Unsupported WebSocket subprotocol (requested: ${asked}; supported: ${offered})`;
      logRefusal(this.log, 'subprotocol', { peer: req.socket.remoteAddress, path: req.url, requested }, `WebSocket upgrade refused (400): ${error}`);
      refuse(socket, 400, error);
      return;
    }
    const cookies = this.options.cookies;
    let cookie: TrackedCookie | undefined;
    if (cookies !== undefined) {
      const tracked = cookies.track(req);
      cookie = tracked.cookie;
      if (tracked.setCookie !== undefined) this.#setCookies.set(req, tracked.setCookie);
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, req, cookie));
  }

  /**
   * Batches writes: the first frame to a socket in an event-loop turn corks it, and one
   * setImmediate per turn uncorks every socket written to, so a burst leaves in one write.
   */
  cork(peer: WebSocketPeer): void {
    peer.corked = true;
    peer.socket.cork();
    this.#corks.add(peer);
  }

  /** A batched peer's batch leaves at the end of this event-loop turn. */
  scheduleFlush(peer: BatchedWebSocketPeer): void {
    peer.scheduled = true;
    this.#batches.add(peer);
  }

  /** Disconnects a peer whose outbound queue passed the hard limit. */
  cutOff(peer: AnyWebSocketPeer): void {
    this.counters.peersCutOff++;
    this.log.warn({ peer: peer.transport.peer, buffered: peer.bufferedBytes }, `peer cut off: ${SLOW_CONSUMER_REASON}`);
    // Nothing more can be written to a peer that does not read: drop the TCP connection.
    peer.ws.terminate();
  }

  /** Closes every connection (after what was queued) and stops pinging. */
  close(code = 1001, reason = 'router shutting down'): void {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    if (this.#pongDeadline !== undefined) clearTimeout(this.#pongDeadline);
    for (const peer of this.#peers) peer.close(code, reason);
  }

  /** Drops every connection at once. */
  terminate(): void {
    for (const peer of this.#peers) peer.ws.terminate();
  }

  /**
   * Whether a Sec-WebSocket-Protocol header names a subprotocol we offer: checked before ws takes
   * the upgrade, on every handshake, so without building the list (the common header names one).
   */
  #offersOneOf(header: string): boolean {
    if (this.#offered.has(header)) return true;
    for (const part of header.split(',')) if (this.#offered.has(part.trim())) return true;
    return false;
  }

  #choose(protocols: Set<string>): string | undefined {
    // The client's order of preference wins among the serializers we offer.
    for (const protocol of protocols) if (this.#offered.has(protocol)) return protocol;
    return undefined;
  }

  #open(ws: WebSocket, req: IncomingMessage, cookie: TrackedCookie | undefined): void {
    const offer = this.#offered.get(ws.protocol);
    if (offer === undefined) {
      ws.close(1002, 'no subprotocol');
      return;
    }
    const { codec, batched } = offer;
    const socket = req.socket;
    const family = socket.remoteFamily === 'IPv6' ? 'tcp6' : 'tcp4';
    const transport: TransportDetails = {
      type: 'websocket',
      protocol: ws.protocol,
      peer: `${family}:${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
      httpHeaders: req.headers,
      channelBindings: channelBindingsOf(socket),
      clientCertificate: clientCertificateOf(socket),
      cookie,
    };
    answerCloseWithoutCodeAs1000(ws);
    const extensions = this.#extensions.get(req) ?? '';
    const peer = batched
      ? new BatchedWebSocketPeer(ws, socket, codec, transport, this, extensions)
      : new WebSocketPeer(ws, socket, codec, transport, this, extensions);
    this.#peers.add(peer);
    const handler = this.accept(peer);
    peer.handler = handler;
    const binary = codec.binary;
    // The inbound meter's hooks run from these handlers: one listener per event, not two.
    const meter = this.options.inbound === undefined ? undefined : this.#meterInbound(ws, socket, peer, this.options.inbound);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      peer.alive = true;
      meter?.message();
      if (isBinary !== binary) {
        handler.onBadFrame(`${isBinary ? 'binary' : 'text'} WebSocket message on ${ws.protocol}, which uses ${binary ? 'binary' : 'text'} messages`);
        return;
      }
      const bytes = data as Buffer; // binaryType 'nodebuffer': always one Buffer
      if (batched) {
        decodeBatch(codec, bytes, handler, this.#decode);
        return;
      }
      let decoded: unknown;
      try {
        this.counters.bytesIn += bytes.length;
        // JSON as bytes too: a payload passed through then goes out as a view of these bytes,
        // not encoded to UTF-8 again (ws has checked a text message's UTF-8 already).
        decoded = codec.decode(bytes, this.#decode);
      } catch (err) {
        handler.onBadFrame(`undecodable ${codec.name} message: ${(err as Error).message}`);
        return;
      }
      handler.onFrame(decoded);
    });
    ws.on('pong', () => {
      peer.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // Over maxMessageBytes, as sent or once inflated: ws closes with 1009 and says so here.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.options.onLimit?.('maxMessageBytes');
      // ws's own errors (WS_ERR_*) are frames the peer got wrong: too long, bad UTF-8, bad opcode.
      if (err.code?.startsWith('WS_ERR_') === true)
        logRefusal(this.log, err.code, { peer: transport.peer, err: err.message }, `bad WebSocket frame: ${err.message}; connection closed`);
      else this.log.debug({ peer: transport.peer, err: err.message }, 'websocket error');
    });
    ws.once('close', () => {
      meter?.close();
      this.#peers.delete(peer);
      handler.onClose();
    });
  }

  /**
   * Charges the bytes of the message in progress to the listener's inbound budget. ws keeps every
   * fragment of a message until its last, so what a connection holds is what arrived since its
   * last complete message: counted from the socket's chunks, after ws has read them (this
   * listener is added after ws's), and released when ws hands over a message. Of a chunk that
   * ended a message, only what ws still buffers (the start of the next frame) is charged, so an
   * idle connection holds nothing; without ws's receiver to ask, the whole chunk (an overestimate
   * of at most one chunk, 64 KiB). A whole non-final fragment in the same chunk as the end of the
   * previous message goes uncharged: at most one chunk per connection. Control frames between
   * fragments (pongs) count, a few bytes each. With permessage-deflate the charge is the
   * compressed bytes (inflated, a message is still bounded by maxMessageBytes).
   */
  #meterInbound(ws: WebSocket, socket: Socket, peer: AnyWebSocketPeer, budget: InboundBudget): { message(): void; close(): void } {
    const account = budget.account();
    const receiver = receiverOf(ws);
    let refused = false;
    /** ws handed over a message while reading the current chunk. */
    let completed = false;
    const onData = (chunk: Buffer): void => {
      if (refused) return;
      let bytes = chunk.length;
      if (completed) {
        completed = false;
        const buffered = receiver?._bufferedBytes;
        if (typeof buffered === 'number' && buffered <= bytes) bytes = buffered;
      }
      if (account.add(bytes)) return;
      refused = true;
      this.options.onLimit?.('maxInboundBytes');
      logRefusal(
        this.log,
        'maxInboundBytes',
        { peer: peer.transport.peer, held: account.held, chunk: chunk.length, limit: budget.limit },
        `WebSocket closed (1013): the listener's budget for incoming messages in progress (maxInboundBytes ${budget.limit}) is used up`,
      );
      peer.close(1013, 'router busy: too many incoming messages in progress, try again later');
    };
    socket.on('data', onData);
    return {
      // ws handed over a message (called by #open's message handler).
      message: () => {
        account.release();
        completed = true;
      },
      close: () => {
        socket.off('data', onData);
        account.release();
      },
    };
  }

  #ping(): void {
    this.#dropSilent();
    for (const peer of this.#peers) {
      peer.alive = false;
      peer.ws.ping();
    }
    const timeout = this.options.pingTimeoutMs;
    if (timeout !== undefined && timeout < this.options.pingIntervalMs) {
      // One timer for the whole round, not one per peer: whoever has not answered by then goes.
      this.#pongDeadline = setTimeout(this.#dropSilent, timeout);
      this.#pongDeadline.unref();
    }
  }

  /** Drops every peer that has sent nothing (no pong, no message) since the last ping. */
  readonly #dropSilent = (): void => {
    for (const peer of this.#peers) {
      if (peer.alive) continue;
      this.log.info({ peer: peer.transport.peer }, 'peer did not answer ping: closing');
      // Out of the set now, so the next round does not ping a peer that is being terminated.
      this.#peers.delete(peer);
      peer.ws.terminate();
    }
  };
}

/**
 * A buffer for an unmasked server frame of `length` payload octets, its header written (RFC 6455
 * §5.2: first octet, then a 7-, 16- or 64-bit length); the payload goes at the returned offset.
 * `allocated`: the payload octets the buffer holds, when the rest is written after it.
 */
function serverFrame(firstOctet: number, length: number, allocated = length): [Buffer, number] {
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(headerLength + allocated);
  out[0] = firstOctet;
  if (length < 126) out[1] = length;
  else if (length < 65536) {
    out[1] = 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  return [out, headerLength];
}

/**
 * An unmasked, unfragmented server frame (RFC 6455 §5.2): FIN + opcode, length, payload. Text is
 * written straight into the frame, so a JSON message costs one allocation and one copy.
 */
function wsFrame(source: string | Uint8Array, text: boolean): Uint8Array {
  const length = typeof source === 'string' ? Buffer.byteLength(source) : source.length;
  const [out, headerLength] = serverFrame(0x80 | (text ? 0x1 : 0x2), length);
  if (typeof source === 'string') out.write(source, headerLength, 'utf8');
  else out.set(source, headerLength);
  return out;
}

/** An unmasked, unfragmented server frame of a spliced message, its two pieces copied in. */
function wsFrameOfSpliced(spliced: Spliced, text: boolean): Uint8Array {
  const [out, headerLength] = serverFrame(0x80 | (text ? 0x1 : 0x2), spliced.length);
  out.set(spliced.head, headerLength);
  out.set(spliced.tail, headerLength + spliced.head.length);
  return out;
}

/**
 * The header of an unmasked, unfragmented server frame carrying `spliced`, followed by its head:
 * the frame's payload ends with `spliced.tail`, written after this (no copy of the payload).
 */
function wsFrameHead(spliced: Spliced, text: boolean): Uint8Array {
  const [out, headerLength] = serverFrame(0x80 | (text ? 0x1 : 0x2), spliced.length, spliced.head.length);
  out.set(spliced.head, headerLength);
  return out;
}

/**
 * The parts of ws's private frame receiver (`ws._receiver`, ws 8) the router reads: its 'conclude'
 * event (a close frame came) and the octets it still buffers. Each may be absent in another ws
 * version; every use checks, and falls back to what ws does by itself.
 */
interface FrameReceiver {
  prependListener?: (event: 'conclude', listener: (code: number) => void) => unknown;
  _bufferedBytes?: unknown;
}

/** ws's frame receiver of `ws`, the one place that reaches into ws's private state. */
function receiverOf(ws: WebSocket): FrameReceiver | undefined {
  const receiver = (ws as unknown as { _receiver?: unknown })._receiver;
  return typeof receiver === 'object' && receiver !== null ? (receiver as FrameReceiver) : undefined;
}

/**
 * A close frame without a status code (autobahn-js closes that way after GOODBYE) is answered
 * with 1000, as Crossbar does (autobahn-python's WebSocket answers every peer-initiated close with
 * 1000 unless told to echo). ws would echo the absent code, so the peer saw 1005, and autobahn-js
 * on Node, which counts only 1000 as clean, reported the leave as `lost` and printed a warning on
 * every run. A close frame with a code is still echoed as it came (RFC 6455 §5.5.1).
 *
 * ws has no option for this: the hook runs just before ws's own answer, on its frame receiver.
 * Without that receiver (another ws version) nothing changes but the code the peer sees.
 */
function answerCloseWithoutCodeAs1000(ws: WebSocket): void {
  const receiver = receiverOf(ws);
  if (typeof receiver?.prependListener !== 'function') return;
  receiver.prependListener('conclude', (code) => {
    if (code === 1005 && ws.readyState === WebSocket.OPEN) ws.close(1000);
  });
}

/** The four octets a sync flush ends with, which RFC 7692 §7.2.1 has the sender remove. */
const DEFLATE_TRAILER_LENGTH = 4;

/**
 * A compressed, unmasked, unfragmented server frame (RFC 7692 §7.2.1): the message deflated on
 * its own (the connection has server_no_context_takeover), the sync flush's trailing 00 00 FF FF
 * removed, RSV1 set. Synchronous, on the event loop, as the message is encoded (zlib level 1:
 * 30–50 µs for 2 KiB of JSON, some 5 ms per MiB), no more than encoding it costs; nothing over
 * compression.maxBytes is compressed.
 */
function deflatedFrame(data: Uint8Array, text: boolean, compression: CompressionOptions, windowBits: number): Uint8Array {
  const deflated = deflateRawSync(data, { level: compression.level, memLevel: compression.memLevel, windowBits, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const length = deflated.length - DEFLATE_TRAILER_LENGTH;
  const [out, headerLength] = serverFrame(0x80 | 0x40 | (text ? 0x1 : 0x2), length);
  deflated.copy(out, headerLength, 0, length);
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
