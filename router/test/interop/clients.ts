/**
 * Interop test support: autobahn-js and wampy sessions against a test router, an inbox to await
 * what they receive, and the payloads every serializer must carry untouched. Every wait is bounded
 * and every connection is closed when the test finishes.
 */
import { onTestFinished } from 'vitest';
import WebSocket from 'ws';
import autobahn from 'autobahn';
import { Wampy } from 'wampy';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { CborSerializer } from 'wampy/CborSerializer.js';
import type { SerializerName } from '@switchboard/schemas';
import { CODECS } from '@switchboard/schemas';
import { within } from '../helpers.js';

export const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack', 'cbor'];

// autobahn-js prints a console warning on every close ("connection closed …"); the tests assert
// on close reasons themselves, so the noise only buries real failures.
autobahn.log.warn = () => {};

// ---- an inbox: things that arrive in callbacks, awaited with a deadline ------------------------

export class Inbox<T> {
  readonly #items: T[] = [];
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  #taken = 0;

  constructor(readonly what: string) {}

  /** Bound once, so it can be handed to a client as a callback. */
  readonly push = (item: T): void => {
    this.#items.push(item);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (this.#items.length - this.#taken >= waiter.count) {
        this.#waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };

  /** Everything received so far, taken or not. */
  get all(): readonly T[] {
    return this.#items;
  }

  /** The next item not yet taken, waiting at most `ms`. */
  async next(ms = 3000): Promise<T> {
    const [item] = await this.take(1, ms);
    return item!;
  }

  /** The next `count` items not yet taken, waiting at most `ms` for all of them. */
  async take(count: number, ms = 3000): Promise<T[]> {
    if (this.#items.length - this.#taken < count) {
      let waiter: { count: number; resolve: () => void } | undefined;
      const arrived = new Promise<void>((resolve) => this.#waiters.push((waiter = { count, resolve })));
      try {
        await within(arrived, ms, `${count} × ${this.what} (had ${this.#items.length - this.#taken})`);
      } finally {
        const i = this.#waiters.indexOf(waiter!);
        if (i !== -1) this.#waiters.splice(i, 1);
      }
    }
    const out = this.#items.slice(this.#taken, this.#taken + count);
    this.#taken += count;
    return out;
  }
}

/** A signal that can be awaited with a deadline. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// ---- payloads ---------------------------------------------------------------------------------

const MAX_EXACT = 2 ** 53;

/**
 * Positional arguments every serializer and both JS clients carry exactly: integers to ±2^53
 * (all three JS client codecs read and write them as exact numbers; 2^53 is the spec's ID ceiling),
 * unicode beyond the BMP, nesting, empty containers. No -0 and no integral floats: JS cannot tell
 * 2.0 from 2, and msgpack/CBOR encoders legitimately shrink them.
 */
export const ARGS: readonly unknown[] = [
  0,
  1,
  -1,
  255,
  65_536,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32 + 1,
  2 ** 40,
  MAX_EXACT - 1,
  MAX_EXACT,
  -MAX_EXACT,
  0.25,
  -1234.5678,
  '',
  'plain ascii',
  'Grüße, Ελληνικά, 日本語, עברית, emoji 🚀🧪 and a surrogate pair 𝄞',
  true,
  false,
  null,
  [],
  [1, [2, [3, [4, 'deep']]]],
  { nested: { dict: { with: ['a', 1, { x: null }] } } },
];

export const KWARGS: Readonly<Record<string, unknown>> = {
  greeting: 'héllo wörld 🌍',
  ключ: 'значение',
  big: MAX_EXACT,
  negBig: -MAX_EXACT,
  almostBig: MAX_EXACT - 1,
  float: 0.5,
  flag: false,
  nothing: null,
  emptyDict: {},
  emptyList: [],
  nested: { a: { b: { c: [1, 2, 3], d: 'ü', e: { f: { g: 'bottom' } } } } },
};

/** The bytes used for binary payloads: every byte value, so no codec can get away with text. */
export const BYTES: Uint8Array = Uint8Array.from({ length: 256 }, (_, i) => (i * 7 + 3) & 0xff);

/** The JSON form of binary on the wire. [bp_binary_conversion_of_json]: "\0" + base64. */
export const BYTES_AS_JSON_STRING = '\u0000' + Buffer.from(BYTES).toString('base64');

/** A plain Uint8Array copy, so Buffer and Uint8Array from different decoders compare equal. */
export function plainBytes(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Error(`expected binary, got ${describe(value)}`);
  return Uint8Array.from(value);
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return `${typeof value} ${JSON.stringify(value)}`;
  return `${value.constructor.name} ${JSON.stringify(value).slice(0, 80)}`;
}

/** A fresh topic or procedure URI per use, so no test can see another's traffic. */
let uriCounter = 0;
export function uri(prefix: string): string {
  return `com.interop.${prefix}.n${++uriCounter}`;
}

// ---- autobahn-js ------------------------------------------------------------------------------

const AUTOBAHN_SERIALIZERS: Readonly<Record<SerializerName, () => autobahn.Serializer>> = {
  json: () => new autobahn.serializer.JSONSerializer(),
  msgpack: () => new autobahn.serializer.MsgpackSerializer(),
  cbor: () => new autobahn.serializer.CBORSerializer(),
};

export interface AutobahnClosed {
  /** autobahn's transport-level reason: 'closed', 'lost', 'unreachable'. */
  reason: string;
  /** The WAMP reason of GOODBYE or ABORT, if there was one. */
  wampReason: string | null;
  /** GOODBYE/ABORT `Details.message`, if there was one. */
  message: string | null;
}

export interface AutobahnPeer {
  readonly serializer: SerializerName;
  readonly connection: autobahn.Connection;
  readonly session: autobahn.Session;
  /** WELCOME.Details (authid, authrole, roles…). */
  readonly welcome: autobahn.Kwargs;
  readonly closed: Promise<AutobahnClosed>;
  /** Exceptions raised in this test's endpoints and handlers (autobahn's on_user_error). */
  readonly userErrors: unknown[];
  /** What autobahn reported through on_internal_error (protocol violations it detected). */
  readonly internalErrors: readonly string[];
  /** GOODBYE, then wait for the connection to close. */
  leave(ms?: number): Promise<AutobahnClosed>;
}

export interface AutobahnOptions {
  realm?: string;
  /**
   * 'es6' (default) or 'when': autobahn reports progressive call results only through when.js
   * promises (`then(onResult, onError, onProgress)`); its ES6 deferreds have no `notify`.
   */
  promises?: 'es6' | 'when';
  /**
   * Internal errors autobahn is expected to report (e.g. a protocol violation it detects in a
   * frame the spec requires): matching ones do not fail the test.
   */
  expectInternalError?: RegExp;
}

/**
 * Opens an autobahn-js session (realm1 by default) with one serializer. Fails the test if autobahn
 * reports an internal error (e.g. a protocol violation it detected in what the router sent).
 */
export async function connectAutobahn(url: string, serializer: SerializerName, options: AutobahnOptions = {}): Promise<AutobahnPeer> {
  const internalErrors: string[] = [];
  const userErrors: unknown[] = [];
  const connection = new autobahn.Connection({
    url,
    realm: options.realm ?? 'realm1',
    serializers: [AUTOBAHN_SERIALIZERS[serializer]()],
    max_retries: 0,
    retry_if_unreachable: false,
    use_es6_promises: options.promises !== 'when',
    // autobahn's session.js shadows the global Error, so its protocol-violation report arrives as
    // `undefined`; the connection is failed with close code 3002 all the same.
    on_internal_error: (error, message) =>
      internalErrors.push(`${message ?? ''} ${error === undefined ? 'an error autobahn lost (a protocol violation it detected?)' : String(error)}`.trim()),
    on_user_error: (error) => userErrors.push(error),
  });
  const opened = deferred<{ session: autobahn.Session; welcome: autobahn.Kwargs }>();
  const closed = deferred<AutobahnClosed>();
  connection.onopen = (session, welcome) => opened.resolve({ session, welcome });
  connection.onclose = (reason, details) => {
    closed.resolve({ reason, wampReason: details.reason, message: details.message });
    return true; // never reconnect
  };
  connection.open();
  onTestFinished(async () => {
    if (connection.isOpen) connection.close();
    else if (connection.isConnected) connection.transport.close?.();
    await within(closed.promise, 3000, `autobahn (${serializer}) connection to close`);
    const unexpected = internalErrors.filter((e) => options.expectInternalError === undefined || !options.expectInternalError.test(e));
    if (unexpected.length > 0) throw new Error(`autobahn (${serializer}) reported: ${unexpected.join('; ')}`);
  });
  const { session, welcome } = await within(
    Promise.race([opened.promise, closed.promise.then((c) => Promise.reject(new Error(`closed before joining: ${JSON.stringify(c)}`)))]),
    5000,
    `autobahn (${serializer}) to join`,
  );
  return {
    serializer,
    connection,
    session,
    welcome,
    closed: closed.promise,
    userErrors,
    internalErrors,
    leave(ms = 3000) {
      connection.close();
      return within(closed.promise, ms, `autobahn (${serializer}) to leave`);
    },
  };
}

/** Closes the WebSocket under an autobahn session, without GOODBYE. */
export function dropAutobahnTransport(connection: autobahn.Connection): void {
  const close = connection.transport.close;
  if (close === undefined) throw new Error('autobahn connection has no transport to close');
  close();
}

/**
 * The router writes integral numbers outside 32 bits as 64-bit integers (as it must, for Python
 * and C++ peers), and two client decoders hand those to JS as BigInt: node-cbor (autobahn-js's
 * CBOR) for values beyond 2^53-1, and msgpackr as wampy configures it (int64AsType 'bigint', its
 * default) for every 64-bit integer, session IDs included. This turns BigInts that a double holds
 * exactly back into numbers, so payloads compare by value.
 */
export function exactNumbers<T>(value: T): T {
  if (typeof value === 'bigint') {
    const n = Number(value);
    return (BigInt(n) === value ? n : value) as T;
  }
  if (Array.isArray(value)) return value.map(exactNumbers) as T;
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactNumbers(v)])) as T;
  }
  return value;
}

/** Subscribes and returns the inbox that the events go to. */
export async function autobahnInbox(peer: AutobahnPeer, topic: string): Promise<{ inbox: Inbox<AutobahnEvent>; subscription: autobahn.Subscription }> {
  const inbox = new Inbox<AutobahnEvent>(`event on ${topic} (autobahn ${peer.serializer})`);
  const subscription = await within(
    peer.session.subscribe(topic, (args, kwargs, details) => inbox.push({ args, kwargs, details })),
    3000,
    `SUBSCRIBED ${topic}`,
  );
  return { inbox, subscription };
}

export interface AutobahnEvent {
  args: unknown[];
  kwargs: Record<string, unknown>;
  details: autobahn.EventDetails;
}

/** Publishes with acknowledge and waits for PUBLISHED. */
export async function autobahnPublish(
  peer: AutobahnPeer,
  topic: string,
  args: unknown[],
  kwargs?: Record<string, unknown>,
  options: Record<string, unknown> = {},
): Promise<autobahn.Publication> {
  const acked = peer.session.publish(topic, args, kwargs, { ...options, acknowledge: true });
  if (acked === undefined) throw new Error('autobahn returned no promise for an acknowledged publish');
  return within(acked, 3000, `PUBLISHED for ${topic}`);
}

/**
 * CALL with receive_progress on a session opened with `promises: 'when'`: the progressive results
 * go to the inbox (as autobahn shapes them: a single value, or a `Result`), the final one resolves
 * `result`.
 */
export function autobahnCallWithProgress(
  peer: AutobahnPeer,
  procedure: string,
  args?: unknown[],
  kwargs?: autobahn.Kwargs,
  options: autobahn.Kwargs = {},
): { progress: Inbox<unknown>; result: Promise<unknown> } {
  const progress = new Inbox<unknown>(`progressive result of ${procedure} (autobahn ${peer.serializer})`);
  const call: autobahn.WhenThenable = peer.session.call(procedure, args, kwargs, { ...options, receive_progress: true });
  const result = new Promise<unknown>((resolve, reject) => {
    call.then(resolve, reject, progress.push);
  });
  return { progress, result };
}

/** Whatever an autobahn call rejects with, as an application error (or a test failure). */
export async function autobahnCallError(call: Promise<unknown>, ms = 3000): Promise<autobahn.Error> {
  const outcome = await within(
    call.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    ms,
    'the call to end',
  );
  if ('value' in outcome) throw new Error(`expected the call to fail, it returned ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof autobahn.Error)) throw new Error(`expected an autobahn.Error, got ${String(outcome.error)}`);
  return outcome.error;
}

// ---- wampy ------------------------------------------------------------------------------------

type WampyOptions = ConstructorParameters<typeof Wampy>[1];
type WampySerializer = NonNullable<WampyOptions['serializer']>;
type WampyWebSocketClass = NonNullable<WampyOptions['ws']>;

const WAMPY_SERIALIZERS: Readonly<Record<SerializerName, () => WampySerializer>> = {
  json: () => new JsonSerializer(),
  msgpack: () => new MsgpackSerializer(),
  cbor: () => new CborSerializer(),
};

export interface WampyPeer {
  readonly serializer: SerializerName;
  readonly wampy: Wampy;
  /** The WebSocket wampy opened (from `ws`), for cutting the connection without GOODBYE. */
  readonly socket: WebSocket;
  /** Resolves when wampy reports the connection closed. */
  readonly closed: Promise<void>;
  /** Every frame wampy wrote, decoded, in order. */
  readonly sent: unknown[][];
  readonly errors: unknown[];
}

/** Opens a wampy session on realm1 with one serializer, on `ws` as its WebSocket class. */
export async function connectWampy(url: string, serializer: SerializerName): Promise<WampyPeer> {
  let socket: WebSocket | undefined;
  const sent: unknown[][] = [];
  const codec = CODECS[serializer];
  // wampy calls `new ws(url, protocols, null, headers, requestOptions)`; this subclass keeps the
  // instance, so a test can cut the TCP connection under wampy, and records what wampy sends.
  class CapturedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      socket = this;
      const send = this.send.bind(this);
      this.send = ((data: string | Uint8Array) => {
        sent.push(codec.decode(typeof data === 'string' ? data : new Uint8Array(data)) as unknown[]);
        send(data);
      }) as WebSocket['send'];
    }
  }
  const errors: unknown[] = [];
  const closed = deferred();
  const wampy = new Wampy(url, {
    realm: 'realm1',
    autoReconnect: false,
    serializer: WAMPY_SERIALIZERS[serializer](),
    // `ws` is what wampy's README prescribes for Node; its type names the DOM WebSocket.
    ws: CapturedWebSocket as unknown as WampyWebSocketClass,
    onClose: () => closed.resolve(),
    onError: (error) => {
      errors.push(error);
    },
  });
  onTestFinished(async () => {
    if (wampy.getSessionId() !== null) await within(wampy.disconnect(), 3000, `wampy (${serializer}) GOODBYE`).catch(() => socket?.terminate());
    else socket?.terminate();
    await within(closed.promise, 3000, `wampy (${serializer}) connection to close`);
  });
  await within(wampy.connect(), 5000, `wampy (${serializer}) to join`);
  if (socket === undefined) throw new Error('wampy did not open its WebSocket through the given class');
  return { serializer, wampy, socket, closed: closed.promise, sent, errors };
}

export interface WampyEvent {
  argsList: unknown[] | undefined;
  argsDict: Record<string, unknown> | undefined;
  details: Record<string, unknown>;
}

/** Subscribes and returns the inbox that the events go to. */
export async function wampyInbox(peer: WampyPeer, topic: string): Promise<{ inbox: Inbox<WampyEvent>; subscriptionId: number }> {
  const inbox = new Inbox<WampyEvent>(`event on ${topic} (wampy ${peer.serializer})`);
  const result = await within(
    peer.wampy.subscribe(topic, (event) => inbox.push({ argsList: event.argsList, argsDict: event.argsDict, details: event.details })),
    3000,
    `SUBSCRIBED ${topic}`,
  );
  return { inbox, subscriptionId: result.subscriptionId };
}

/** An application error a wampy RPC handler throws: wampy reads `error`, `argsList`, `argsDict`. */
export class WampyApplicationError extends Error {
  override name = 'WampyApplicationError';
  constructor(
    readonly error: string,
    readonly argsList: unknown[],
    readonly argsDict: Record<string, unknown>,
  ) {
    super(error);
  }
}

/** The URI, args and kwargs of the error a wampy call rejects with. */
export async function wampyCallError(
  call: Promise<unknown>,
  ms = 3000,
): Promise<{ errorUri: string; argsList: unknown[] | undefined; argsDict: Record<string, unknown> | undefined }> {
  const outcome = await within(
    call.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    ms,
    'the call to end',
  );
  if ('value' in outcome) throw new Error(`expected the call to fail, it returned ${JSON.stringify(outcome.value)}`);
  const error = outcome.error;
  if (!(error instanceof Error) || !('errorUri' in error) || typeof error.errorUri !== 'string')
    throw new Error(`expected a wampy WampError, got ${String(error)}`);
  const { argsList, argsDict } = error as Error & { argsList?: unknown[]; argsDict?: Record<string, unknown> };
  return { errorUri: error.errorUri, argsList, argsDict };
}
