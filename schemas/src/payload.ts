/**
 * Payload passthrough [issue #20]: a message's Arguments and ArgumentsKw kept as the bytes its
 * sender's codec wrote, validated but not decoded, and decoded only when something reads them.
 *
 * A router codec asked for it (DecodeOptions.passthrough) decodes a PUBLISH, CALL, YIELD or
 * ERROR's head — code, IDs, options or details, URI — fully, and checks its payload with a scan
 * (every limit and data-model rule a full decode enforces) without building it: the frame becomes
 * a SplitFrame, and parseMessage (wire.ts) a message whose `args` and `kwargs` are accessors over
 * a shared lazy payload. Whoever reads them gets the values, decoded once per payload; a message
 * for a peer of the same serializer is the new head spliced with the same bytes (splice.ts).
 *
 * Safety of copies: the raw payload sits under a non-enumerable symbol, so `{ ...msg }` copies
 * the values (the accessors are enumerable and read) but never the bytes — a copy with changed
 * args cannot carry a stale payload. Assigning `args` or `kwargs` turns both into plain values and
 * drops the bytes. Code that builds a message from another (CALL → INVOCATION, YIELD → RESULT,
 * PUBLISH → EVENT) passes the payload on explicitly with carryPayload or a Payload source.
 */
import type { EncodedTail, SerializerName } from './codecs/codec.js';
import type { Kwargs, WireArgs } from './messages.js';

/**
 * Arguments (and ArgumentsKw) as one codec encoded them: exactly an EncodedTail of that codec
 * (JSON: the elements' text joined by a comma; MessagePack, CBOR: the items' bytes), so that
 * `codec.encodeWithTail(head, raw.tail)` is the message with this payload.
 */
export interface RawPayload {
  readonly codec: SerializerName;
  /** count 1 (Arguments, a list) or 2 (Arguments and ArgumentsKw, a dict). */
  readonly tail: EncodedTail;
  /** The payload's encoded size in bytes (what keeping it costs), read without decoding it. */
  readonly bytes: number;
  /** Decodes the payload: `[args]` or `[args, kwargs]`; a new array each call. */
  decode(): unknown[];
}

/**
 * What a codec's decode gives with `passthrough` for a message with a payload: the elements
 * before the payload, decoded, and the payload, scanned. parseMessage reads it as the whole frame.
 */
export class SplitFrame {
  constructor(
    readonly head: unknown[],
    readonly payload: RawPayload,
  ) {}
}

/** Args and kwargs, however held: a message, a testament, a retained event, or `{ args, kwargs }`. */
export interface Payload {
  readonly args?: WireArgs | undefined;
  readonly kwargs?: Kwargs | undefined;
}

const PAYLOAD: unique symbol = Symbol('switchboard.rawPayload');

/** The decoded values of one raw payload, shared by every message that carries it. */
class LazyPayload {
  #values: unknown[] | undefined;

  constructor(readonly raw: RawPayload) {}

  get args(): WireArgs {
    return (this.#values ??= this.raw.decode())[0] as WireArgs;
  }

  get kwargs(): Kwargs {
    return (this.#values ??= this.raw.decode())[1] as Kwargs;
  }
}

interface Carrier {
  [PAYLOAD]?: LazyPayload | undefined;
  args?: WireArgs | undefined;
  kwargs?: Kwargs | undefined;
}

function data(value: unknown): PropertyDescriptor {
  return { value, writable: true, enumerable: true, configurable: true };
}

/** The message holds plain values from now on: both read, the bytes dropped. */
function detach(target: Carrier): void {
  const lazy = target[PAYLOAD];
  if (lazy === undefined) return;
  target[PAYLOAD] = undefined;
  Object.defineProperty(target, 'args', data(lazy.args));
  if (lazy.raw.tail.count > 1) Object.defineProperty(target, 'kwargs', data(lazy.kwargs));
}

const ARGS: PropertyDescriptor = {
  get(this: Carrier): WireArgs | undefined {
    return this[PAYLOAD]?.args;
  },
  set(this: Carrier, value: WireArgs | undefined): void {
    detach(this);
    Object.defineProperty(this, 'args', data(value));
  },
  enumerable: true,
  configurable: true,
};

const KWARGS: PropertyDescriptor = {
  get(this: Carrier): Kwargs | undefined {
    return this[PAYLOAD]?.kwargs;
  },
  set(this: Carrier, value: Kwargs | undefined): void {
    detach(this);
    Object.defineProperty(this, 'kwargs', data(value));
  },
  enumerable: true,
  configurable: true,
};

function attach(target: Carrier, lazy: LazyPayload): void {
  Object.defineProperty(target, PAYLOAD, { value: lazy, writable: true, enumerable: false, configurable: true });
  // Both, even for a payload of Arguments only (kwargs then reads undefined): assigning either
  // must drop the bytes, or a kwargs set later would reach peers of other serializers only.
  Object.defineProperty(target, 'args', ARGS);
  Object.defineProperty(target, 'kwargs', KWARGS);
}

/** Gives `message` the payload `raw`: `args` (and `kwargs`) read lazily from it. Returns `message`. */
export function withRawPayload<M extends object>(message: M, raw: RawPayload): M {
  attach(message as Carrier, new LazyPayload(raw));
  return message;
}

/** The raw payload `message` (or a payload from payloadOf) still carries unchanged, if any. */
export function rawPayloadOf(message: object): RawPayload | undefined {
  return message instanceof LazyPayload ? message.raw : (message as Carrier)[PAYLOAD]?.raw;
}

/**
 * The payload of `source` on its own, for keeping apart from the message: the raw payload's
 * shared values (the same object every message carrying them reads, decoded at most once) where
 * it has one, else its values. Cheaper than carryPayload onto an empty object, which would give
 * a new object the same accessors.
 */
export function payloadOf(source: Payload): Payload {
  if (source instanceof LazyPayload) return source; // already apart (as carryPayload takes it)
  return (source as Carrier)[PAYLOAD] ?? { args: source.args, kwargs: source.kwargs };
}

/**
 * Gives `target` the payload of `source`: its raw bytes (decoded at most once for both) if it
 * has them, else its values. `target` must have no args or kwargs of its own. Returns `target`.
 */
export function carryPayload<M extends object>(target: M, source: Payload): M {
  const lazy = source instanceof LazyPayload ? source : (source as Carrier)[PAYLOAD];
  if (lazy !== undefined) {
    attach(target as Carrier, lazy);
    return target;
  }
  const t = target as Carrier;
  if (source.args !== undefined) t.args = source.args;
  if (source.kwargs !== undefined) t.kwargs = source.kwargs;
  return target;
}
