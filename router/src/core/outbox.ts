/**
 * The one owner of "send": every WAMP message the router sends to a connection goes through its
 * Outbox — encode in the peer's serializer, hand to the transport (whose OutboundBudget queues,
 * drops a droppable EVENT, or cuts off a peer past its limits), count in /metrics. The one place
 * that counts and logs a message the receiver's serializer cannot represent. An in-process peer
 * (`Peer.sendMessage`) gets the message object: nothing is encoded.
 */
import type { Codec, Encoded, Event, PublicationId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { MessageCode, encodeMessage, messageName } from '@switchboard/schemas';
import type { Logger } from '../log.js';
import type { RouterStats } from '../stats.js';
import { SharedFrame } from '../transports/peer.js';
import type { Peer } from '../transports/peer.js';
import type { SendOutcome, SharedEvent } from './endpoint.js';
import { deepFreeze } from './freeze.js';
import { payloadBytes } from '../limits.js';

export interface OutboxOptions {
  /**
   * How a message becomes a frame; default: the peer's codec. A cluster stand-in encodes for the
   * callee's node instead (cluster/remote-session.ts).
   */
  encode?: (msg: WampMessage) => string | Uint8Array;
  /**
   * Whether sent messages count in `messagesOut` (default true). A stand-in's messages are not
   * sent to a client here: the node that delivers them counts them.
   */
  counted?: boolean;
}

export class Outbox {
  /** The session ID named in logs; 0 before the connection has a session. */
  session = 0;
  readonly #encode: (msg: WampMessage) => Encoded;
  readonly #counted: boolean;

  constructor(
    readonly peer: Peer,
    private readonly stats: RouterStats,
    private readonly log: Logger,
    options: OutboxOptions = {},
  ) {
    const codec = peer.codec;
    // A payload still in the bytes of this peer's serializer is spliced behind the new head, not
    // decoded and encoded again (payload passthrough, schemas/src/payload.ts).
    this.#encode = options.encode ?? ((msg) => encodeMessage(codec, msg));
    this.#counted = options.counted ?? true;
  }

  /** The peer's serializer name. */
  get serializer(): string {
    return this.peer.codec.name;
  }

  /** A message that must arrive (replies, ERROR, INVOCATION, RESULT, INTERRUPT, ABORT…). */
  send(msg: WampMessage): SendOutcome {
    const peer = this.peer;
    if (peer.sendMessage !== undefined) {
      if (!peer.sendMessage(msg)) return 'gone';
      return this.#sent(msg.code);
    }
    let frame: Encoded;
    try {
      frame = this.#encode(msg);
    } catch (err) {
      // A payload one peer sent must never fail another peer's session: this message is not sent.
      this.stats.unserializableMessage(peer.codec.name, msg.code);
      this.log.warn(
        { session: this.session || undefined, serializer: peer.codec.name, err: (err as Error).message },
        `cannot serialize ${messageName(msg.code)}`,
      );
      return 'unserializable';
    }
    if (!peer.send(frame)) return 'gone';
    return this.#sent(msg.code);
  }

  /** One subscriber's EVENT: shared bytes (or the shared object), droppable under backpressure. */
  sendEvent(event: SharedEvent): SendOutcome {
    return this.#sendShared(event, true);
  }

  /**
   * One subscriber's EVENT that must arrive (a catch-up's held live events, core/hold.ts): the
   * shared encoding, queued as a reply is — never dropped past the soft limit; past the hard limit
   * the peer is cut off as for any message.
   */
  sendEventSurely(event: SharedEvent): SendOutcome {
    return this.#sendShared(event, false);
  }

  #sendShared(event: SharedEvent, droppable: boolean): SendOutcome {
    const peer = this.peer;
    if (peer.sendMessage !== undefined) {
      if (!peer.sendMessage(event.message())) return 'gone';
      return this.#sent(MessageCode.Event);
    }
    const frame = event.frame(peer.codec);
    if (frame === null) {
      this.stats.unserializableMessage(peer.codec.name, MessageCode.Event);
      return 'unserializable';
    }
    if (!(droppable ? peer.sendDroppable(frame) : peer.send(frame.spliced ?? frame.source))) return 'gone';
    return this.#sent(MessageCode.Event);
  }

  /**
   * What `event` costs this peer: its encoding's length in the peer's serializer (the one it is
   * sent in anyway, encoded once for every subscriber); an in-process peer gets the object, so its
   * payload's estimate. Only catch-up holds ask (core/hold.ts), never the fan-out.
   */
  eventBytes(event: SharedEvent): number {
    const peer = this.peer;
    if (peer.sendMessage !== undefined) {
      const message = event.message();
      return payloadBytes(message.args, message.kwargs, message.details);
    }
    return event.frame(peer.codec)?.length ?? 0;
  }

  #sent(code: MessageCode): 'sent' {
    if (this.#counted) this.stats.countOut(code);
    return 'sent';
  }
}

/**
 * The EVENT of one publication for the subscribers of one subscription. Serialized once per
 * serializer (every subscriber gets the same bytes, framed once per transport by SharedFrame); the
 * first serializer seen is kept in fields, since most realms use one. A payload a serializer
 * cannot represent is logged once here and counted per subscriber by the outbox.
 */
export class FanOutEvent implements SharedEvent {
  #codec0: Codec | undefined;
  #frame0: SharedFrame | null = null;
  #others: Map<Codec, SharedFrame | null> | undefined;
  #message: Event | undefined;

  constructor(
    private readonly log: Logger,
    /** Named in the log line. */
    private readonly realm: string,
    readonly subscription: SubscriptionId,
    readonly publication: PublicationId,
    private readonly encode: (codec: Codec) => Encoded,
    private readonly build: () => Event,
  ) {}

  frame(codec: Codec): SharedFrame | null {
    if (codec === this.#codec0) return this.#frame0;
    let frame = this.#others?.get(codec);
    if (frame !== undefined) return frame;
    try {
      frame = new SharedFrame(this.encode(codec), !codec.binary);
    } catch (err) {
      this.log.warn({ realm: this.realm, serializer: codec.name, err: (err as Error).message }, 'cannot serialize EVENT: not delivered to these subscribers');
      frame = null;
    }
    if (this.#codec0 === undefined) {
      this.#codec0 = codec;
      this.#frame0 = frame;
    } else (this.#others ??= new Map()).set(codec, frame);
    return frame;
  }

  /** Deep-frozen, once per publication: every in-process subscriber gets this one object. */
  message(): Event {
    return (this.#message ??= deepFreeze(this.build()));
  }
}
