/**
 * HTTP long-poll transport [ap_transport_http_longpoll]: `POST <base>/open` negotiates a protocol
 * and returns a transport ID; `<base>/<id>/receive` is held open until messages wait (one message,
 * or all waiting ones in batched mode); `<base>/<id>/send` carries the client's messages;
 * `<base>/<id>/close` ends the transport. Knows nothing of realms or sessions: it hands decoded
 * frames to a PeerHandler and offers a Peer for replies.
 *
 * The queue of messages waiting for a receive request is this transport's outgoing buffer, under
 * the same OutboundBudget policy as a WebSocket session.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Codec, DecodeOptions, Encoded, SerializerName } from '@switchboard/schemas';
import { CODECS, joined, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS, PASSTHROUGH } from '@switchboard/schemas';
import type { Admission, Release } from '../http/admission.js';
import { pathOf, sendJson } from '../http/server.js';
import { logRefusal } from '../log.js';
import type { Logger } from '../log.js';
import type { InboundBudget } from './inbound-budget.js';
import { BATCHED_SUFFIX, batchElement, batchElementOfString, decodeBatch, sharedBatchElement } from './batch.js';
import { OutboundBudget, SLOW_CONSUMER_REASON } from './outbound.js';
import type { OutboundCounters, OutboundLimits } from './outbound.js';
import type { AcceptPeer, Peer, PeerHandler, SharedFrame, TransportDetails } from './peer.js';
import { EndOfTurn } from './turn.js';

export interface LongPollOptions {
  /** Base path, e.g. `/lp`: `/lp/open`, `/lp/<id>/receive` … */
  path: string;
  /** Serializers offered, in the router's order of preference. */
  serializers: readonly SerializerName[];
  /** Also offer `wamp.2.<serializer>.batched`. */
  batched: boolean;
  /** Largest `send` body; a larger one fails the session. */
  maxMessageBytes: number;
  /** Deepest nesting of lists and dicts in an incoming message (default 64); deeper aborts the session. */
  maxNestingDepth?: number;
  /** Most values (keys included) in an incoming message (default 131072); more aborts the session. */
  maxMessageItems?: number;
  /** A receive request with nothing to deliver is answered empty (204) after this long. */
  requestTimeoutMs: number;
  /** A transport with no receive request outstanding for this long is closed. */
  sessionTimeoutMs: number;
  /** Queued bytes past which the session is cut off (the hard limit of its outgoing buffer). */
  queueMaxBytes: number;
  /** Queued messages at which EVENTs are dropped; replies still queue, up to queueMaxBytes. */
  queueMaxMessages: number;
  /** The listener's limits: the soft limit and drain timeout apply to the queue as to a socket. */
  outbound: OutboundLimits;
  /**
   * The listener's admission gate: every request's Origin is checked, and each transport holds a
   * slot of its address (connections per address, long-poll transports per address) until it ends.
   */
  admission?: Admission;
  /**
   * The listener's budget for incoming messages in progress (maxInboundBytes), shared with its
   * other transports: a `send` body is charged as it streams in and given back once read; one that
   * would pass the budget is refused with 503 (the session goes on).
   */
  inbound?: InboundBudget;
  /** Hears of a request refused by a limit (maxInboundBytes), by config key (switchboard_limits_exceeded_total). */
  onLimit?: (limit: string) => void;
}

/** Largest `open` body: `{"protocols": [...]}`. */
const OPEN_MAX_BYTES = 4096;

const CONTENT_TYPES: Readonly<Record<SerializerName, string>> = {
  json: 'application/json; charset=utf-8',
  msgpack: 'application/x-msgpack',
  cbor: 'application/cbor',
};

interface Offer {
  codec: Codec;
  batched: boolean;
}

const enum State {
  Open = 0,
  /** The core closed it: what is queued is still delivered, then it ends. */
  Closing = 1,
  Closed = 2,
}

class LongPollPeer implements Peer {
  handler: PeerHandler | undefined;
  state = State.Open;
  /** A flush of the queue into the held receive request is due at the end of this turn. */
  scheduled = false;
  /** Messages waiting for a receive request; batch elements in batched mode. */
  readonly queue: Uint8Array[] = [];
  queuedBytes = 0;
  /** The receive request being held open, if any. */
  held: ServerResponse | undefined;
  heldTimer: NodeJS.Timeout | undefined;
  sessionTimer: NodeJS.Timeout | undefined;
  /** The admission slot this transport holds, given back when it ends. */
  release: Release | undefined;
  readonly #budget: OutboundBudget;
  readonly #contentType: string;

  constructor(
    readonly id: string,
    readonly codec: Codec,
    readonly batched: boolean,
    readonly transport: TransportDetails,
    private readonly owner: LongPollTransport,
  ) {
    const { outbound, queueMaxBytes } = owner.options;
    this.#budget = new OutboundBudget(
      { softLimitBytes: Math.min(outbound.softLimitBytes, queueMaxBytes), hardLimitBytes: queueMaxBytes, drainTimeoutMs: outbound.drainTimeoutMs },
      owner.counters,
    );
    this.#contentType = CONTENT_TYPES[codec.name];
  }

  get outboundRoom(): number {
    return this.#budget.room(this.queuedBytes);
  }

  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  send(encoded: Encoded): boolean {
    if (this.state !== State.Open) return false;
    const frame = joined(encoded);
    if (!this.batched) return this.#enqueue(typeof frame === 'string' ? Buffer.from(frame) : frame, false);
    return this.#enqueue(typeof frame === 'string' ? batchElementOfString(frame) : batchElement(frame, !this.codec.binary), false);
  }

  /** Unbatched, a message is its own framing; batched, its batch element is shared with batched WebSocket peers. */
  sendDroppable(frame: SharedFrame): boolean {
    if (this.state !== State.Open) return false;
    let bytes: Uint8Array | undefined = frame.data;
    if (this.batched) {
      bytes = frame.framed.get('batched');
      if (bytes === undefined) frame.framed.set('batched', (bytes = sharedBatchElement(frame)));
    }
    return this.#enqueue(bytes, true);
  }

  close(_code: number, _reason: string): void {
    if (this.state !== State.Open) return;
    this.state = State.Closing;
    // The client still collects what is queued (an ABORT or GOODBYE); then the transport ends.
    if (this.queue.length === 0) this.owner.finish(this, 'closed');
  }

  /** Answers the held receive request with what is queued (one message, or all of them batched). */
  deliver(): void {
    const res = this.held;
    if (res === undefined || this.queue.length === 0) return;
    this.#release();
    let body: Uint8Array;
    if (this.batched) {
      body = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue, this.queuedBytes);
      this.queue.length = 0;
      this.queuedBytes = 0;
    } else {
      body = this.queue.shift()!;
      this.queuedBytes -= body.length;
    }
    res.writeHead(200, { 'Content-Type': this.#contentType, 'Content-Length': body.length, 'Cache-Control': 'no-store' });
    res.end(body);
    if (this.state === State.Closing && this.queue.length === 0) this.owner.finish(this, 'closed');
    else this.owner.armSessionTimer(this);
  }

  /** Answers the held receive request with no content (request timeout, or a newer receive). */
  releaseEmpty(): void {
    const res = this.held;
    if (res === undefined) return;
    this.#release();
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
    this.owner.armSessionTimer(this);
  }

  #release(): void {
    this.held = undefined;
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
  }

  #enqueue(bytes: Uint8Array, droppable: boolean): boolean {
    const verdict = this.#budget.judge(this.queuedBytes, bytes.length, droppable, this.queue.length >= this.owner.options.queueMaxMessages);
    if (verdict === 'send') {
      this.queue.push(bytes);
      this.queuedBytes += bytes.length;
      if (this.held !== undefined && !this.scheduled) this.owner.scheduleDelivery(this);
      return true;
    }
    if (verdict === 'cutoff') this.owner.cutOff(this);
    return false;
  }
}

export class LongPollTransport {
  readonly #peers = new Map<string, LongPollPeer>();
  /** Protocols offered, in the router's order of preference. */
  readonly #offered = new Map<string, Offer>();
  readonly #deliveries = new EndOfTurn<LongPollPeer>((peer) => {
    peer.scheduled = false;
    peer.deliver();
  });
  #closed = false;
  /** What incoming frames may hold (nesting depth, value count). */
  readonly #decode: DecodeOptions;

  constructor(
    readonly options: LongPollOptions,
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
    if (options.batched) {
      for (const name of options.serializers) this.#offered.set(CODECS[name].subprotocol + BATCHED_SUFFIX, { codec: CODECS[name], batched: true });
    }
  }

  get connectionCount(): number {
    return this.#peers.size;
  }

  /** Every request under the base path (the HTTP server's prefix route for `<base>/`). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const rest = pathOf(req).slice(this.options.path.length + 1);
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { error: `long-poll requests use POST, got ${req.method ?? '?'}` }, { Allow: 'POST' });
      return;
    }
    // Browser-reachable: a page from an origin not allowed gets nothing here.
    const refusal = this.options.admission?.checkOrigin(req, 'longpoll');
    if (refusal !== undefined) {
      req.resume();
      sendJson(res, refusal.status, { error: refusal.error });
      return;
    }
    if (rest === 'open') return this.#open(req, res);
    const slash = rest.indexOf('/');
    const id = slash === -1 ? rest : rest.slice(0, slash);
    const action = slash === -1 ? '' : rest.slice(slash + 1);
    const peer = this.#peers.get(id);
    if (peer === undefined) {
      req.resume();
      sendJson(res, 404, { error: `no long-poll transport '${id}' (never opened, closed or expired)` });
      return;
    }
    switch (action) {
      case 'receive':
        req.resume();
        return this.#receive(peer, res);
      case 'send':
        return this.#send(peer, req, res);
      case 'close':
        req.resume();
        this.finish(peer, 'closed by the client');
        res.writeHead(204);
        res.end();
        return;
      default:
        req.resume();
        sendJson(res, 404, { error: `unknown long-poll action '${action}' (receive, send or close)` });
    }
  }

  /** Delivers to `peer`'s held receive request at the end of this event-loop turn, in one response. */
  scheduleDelivery(peer: LongPollPeer): void {
    peer.scheduled = true;
    this.#deliveries.add(peer);
  }

  /** (Re)starts the wait for the client's next receive request. */
  armSessionTimer(peer: LongPollPeer): void {
    clearTimeout(peer.sessionTimer);
    peer.sessionTimer = setTimeout(() => {
      this.log.info({ peer: peer.transport.peer, transport: peer.id }, 'long-poll transport expired: no receive request in time');
      this.finish(peer, 'expired');
    }, this.options.sessionTimeoutMs);
    peer.sessionTimer.unref();
  }

  cutOff(peer: LongPollPeer): void {
    this.counters.peersCutOff++;
    this.log.warn(
      { peer: peer.transport.peer, transport: peer.id, buffered: peer.queuedBytes, messages: peer.queue.length },
      `peer cut off: ${SLOW_CONSUMER_REASON}`,
    );
    peer.queue.length = 0;
    peer.queuedBytes = 0;
    this.finish(peer, SLOW_CONSUMER_REASON);
  }

  /** Ends a transport: the ID is forgotten, a held receive request is answered 410, the core hears the close once. */
  finish(peer: LongPollPeer, why: string): void {
    if (peer.state === State.Closed) return;
    peer.state = State.Closed;
    this.#peers.delete(peer.id);
    clearTimeout(peer.sessionTimer);
    peer.release?.();
    const held = peer.held;
    if (held !== undefined) {
      peer.held = undefined;
      clearTimeout(peer.heldTimer);
      if (!held.headersSent) sendJson(held, 410, { error: `long-poll transport ${why}` });
    }
    peer.handler?.onClose();
  }

  /** Ends every transport; what was still queued is dropped. */
  close(): void {
    this.#closed = true;
    for (const peer of [...this.#peers.values()]) this.finish(peer, 'closed: router shutting down');
  }

  terminate(): void {
    this.close();
  }

  #open(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, OPEN_MAX_BYTES, undefined, (body) => {
      if (body === undefined) return sendJson(res, 413, { error: `open request body over ${OPEN_MAX_BYTES} octets` });
      if (this.#closed) return sendJson(res, 503, { error: 'router shutting down' });
      let requested: unknown;
      try {
        requested = (JSON.parse(body.toString('utf8')) as { protocols?: unknown }).protocols;
      } catch {
        requested = undefined;
      }
      if (!Array.isArray(requested) || requested.length === 0 || !requested.every((p) => typeof p === 'string')) {
        return sendJson(res, 400, { error: 'open request body must be a JSON dict with "protocols": a non-empty list of strings' });
      }
      // The client's order of preference wins among the protocols we offer.
      const protocol = (requested as string[]).find((p) => this.#offered.has(p));
      if (protocol === undefined) {
        return sendJson(res, 400, { error: `no supported protocol (requested: ${requested.join(', ')}; supported: ${[...this.#offered.keys()].join(', ')})` });
      }
      const { codec, batched } = this.#offered.get(protocol)!;
      // Origin was checked with the request; the address's slots are taken now.
      const admitted = this.options.admission === undefined ? undefined : this.options.admission.admitRequest(req, 'longpoll');
      if (admitted !== undefined && typeof admitted !== 'function') return sendJson(res, admitted.status, { error: admitted.error });
      const id = randomBytes(12).toString('base64url');
      const socket = req.socket;
      const family = socket.remoteFamily === 'IPv6' ? 'tcp6' : 'tcp4';
      const transport: TransportDetails = {
        type: 'longpoll',
        protocol,
        peer: `${family}:${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
        httpHeaders: req.headers,
      };
      const peer = new LongPollPeer(id, codec, batched, transport, this);
      peer.release = admitted;
      try {
        peer.handler = this.accept(peer);
      } catch (err) {
        admitted?.();
        return sendJson(res, 503, { error: `cannot open a session: ${(err as Error).message}` });
      }
      this.#peers.set(id, peer);
      this.armSessionTimer(peer);
      sendJson(res, 200, { protocol, transport: id }, { 'Cache-Control': 'no-store' });
    });
  }

  #receive(peer: LongPollPeer, res: ServerResponse): void {
    // A newer receive request replaces an older one still held.
    peer.releaseEmpty();
    clearTimeout(peer.sessionTimer);
    peer.held = res;
    if (peer.queue.length > 0) {
      peer.deliver();
      return;
    }
    peer.heldTimer = setTimeout(() => peer.releaseEmpty(), this.options.requestTimeoutMs);
    peer.heldTimer.unref();
    // The client gave up on the request (or the connection broke) before an answer.
    res.once('close', () => {
      if (peer.held !== res) return;
      peer.held = undefined;
      clearTimeout(peer.heldTimer);
      if (peer.state !== State.Closed) this.armSessionTimer(peer);
    });
  }

  #send(peer: LongPollPeer, req: IncomingMessage, res: ServerResponse): void {
    const max = this.options.maxMessageBytes;
    readBody(req, max, this.options.inbound, (body, busy) => {
      if (peer.state === State.Closed) return sendJson(res, 404, { error: `no long-poll transport '${peer.id}'` });
      if (busy) {
        const limit = this.options.inbound?.limit ?? 0;
        this.options.onLimit?.('maxInboundBytes');
        logRefusal(
          this.log,
          'maxInboundBytes',
          { peer: peer.transport.peer, limit },
          `long-poll send refused (503): the listener's budget for incoming messages in progress (maxInboundBytes ${limit}) is used up`,
        );
        return sendJson(res, 503, { error: 'router busy: too many incoming messages in progress, try again later' }, { Connection: 'close' });
      }
      const handler = peer.handler!;
      if (body === undefined) {
        // [ap_transport_rawsocket] as for every transport: a message over the limit fails the connection.
        handler.onBadFrame(`long-poll send body over the maximum of ${max} octets`);
        return sendJson(res, 413, { error: `message over the maximum of ${max} octets` });
      }
      // After the core closed the transport, what the client sends is no longer read.
      if (peer.state === State.Closing) {
        res.writeHead(204);
        res.end();
        return;
      }
      let ok: boolean;
      if (peer.batched) ok = decodeBatch(peer.codec, body, handler, this.#decode);
      else {
        let decoded: unknown;
        ok = true;
        try {
          this.counters.bytesIn += body.length;
          decoded = peer.codec.decode(body, this.#decode);
        } catch (err) {
          ok = false;
          handler.onBadFrame(`undecodable ${peer.codec.name} message: ${(err as Error).message}`);
        }
        if (ok) handler.onFrame(decoded);
      }
      // [ap_transport_http_longpoll] 204 (no content) on success, 400 on error.
      if (ok) {
        res.writeHead(204);
        res.end();
      } else sendJson(res, 400, { error: 'undecodable message; the session is closed' });
    });
  }
}

/**
 * Reads a request body of at most `max` octets: undefined past it. With `inbound`, the octets are
 * charged to the listener's budget as they arrive and given back when the request ends; a chunk
 * that would pass the budget ends the read at once, `busy` true (the answer, with Connection:
 * close, need not wait for a body that may never end). Past either, the rest is dropped.
 */
function readBody(req: IncomingMessage, max: number, inbound: InboundBudget | undefined, done: (body: Buffer | undefined, busy: boolean) => void): void {
  const chunks: Buffer[] = [];
  const account = inbound?.account();
  let length = 0;
  let over = false;
  let busy = false;
  req.on('data', (chunk: Buffer) => {
    if (over || busy) return;
    length += chunk.length;
    if (length > max) {
      over = true;
      chunks.length = 0;
      account?.release();
      return;
    }
    if (account !== undefined && !account.add(chunk.length)) {
      busy = true;
      chunks.length = 0;
      account.release();
      done(undefined, true);
      return;
    }
    chunks.push(chunk);
  });
  req.once('end', () => {
    account?.release();
    if (busy) return;
    done(over ? undefined : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length), false);
  });
  req.once('close', () => account?.release());
  req.once('error', () => {});
}
