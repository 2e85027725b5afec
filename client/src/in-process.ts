/**
 * A Session in the router's own process (`router.session(realm)` in `@switchboard/router`): the
 * same typed API as over a WebSocket, with no socket and no serializer. Messages cross as objects
 * in both directions; delivery is asynchronous (the router side queues a microtask), so neither
 * side re-enters the other. Node entry only: the browser bundle does not carry it.
 *
 * What the application hands over is checked against WAMP's data model before it leaves (the one
 * thing an encoder would have checked): a value no serializer could carry (a function, a class
 * instance, a cycle, nesting past 64 levels) is refused to that request alone with
 * SerializerError, as a WebSocket transport refuses what its codec cannot encode.
 */
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_ITEMS } from '@switchboard/schemas/core';
import type { WampMessage } from '@switchboard/schemas/core';
import { Connection } from './connection.js';
import type { Runtime } from './connection.js';
import { SerializerError } from './errors.js';
import type { AuthOptions } from './join.js';
import type { Session } from './session.js';
import { Transport } from './transport.js';
import type { ApiContract, Untyped } from './typed.js';

/** The router's end of an in-process link: it takes the client's messages as objects. */
export interface InProcessLink {
  send(msg: WampMessage): void;
  close(code: number, reason: string): void;
}

/** The client's end, for the router side to call. */
export interface InProcessEnd {
  /** A message from the router; read-only (an EVENT's payload is shared with other subscribers). */
  message(msg: WampMessage): void;
  /** The link closed (either side closed it); called once. */
  close(code: number, reason: string): void;
}

/** Opens the router's end for a new client end (called once per join). */
export type OpenInProcessLink = (end: InProcessEnd) => InProcessLink;

export interface InProcessOptions {
  realm: string;
  /** HELLO's authmethods (and authid…): the router side decides which it accepts. */
  auth?: AuthOptions;
  agent?: string;
  /** Milliseconds to join (default 10000). */
  openTimeoutMs?: number;
}

const noSockets = (): never => {
  throw new TypeError('an in-process connection has no sockets');
};

/** Joins `options.realm` over an in-process link; resolves to the Session. It never reconnects. */
export function connectInProcess<Api extends ApiContract = Untyped>(open: OpenInProcessLink, options: InProcessOptions): Promise<Session<Api>> {
  const runtime: Runtime = {
    socketFactory: noSockets,
    codecs: {},
    missingCodecHint: 'in process, nothing is serialized',
    inProcess: () => inProcessTransport(open),
  };
  const connection = new Connection<Api>(
    { realm: options.realm, reconnect: false, openTimeoutMs: options.openTimeoutMs, agent: options.agent, auth: options.auth },
    runtime,
  );
  return connection.open();
}

/** The "serializer" of an in-process transport: none. */
const NONE = { name: 'none', subprotocol: 'wamp.2.local' };

function inProcessTransport(open: OpenInProcessLink): Transport {
  let closed = false;
  let transport: Transport | undefined;
  const link = open({
    message: (msg) => transport?.deliver(msg),
    close: (code, reason) => {
      closed = true;
      transport?.ended(code, reason);
    },
  });
  transport = new Transport(NONE, {
    send: (msg) => {
      const own = checkMessage(msg);
      if (!closed) link.send(own);
    },
    close: (code, reason) => link.close(code, reason),
  });
  return transport;
}

/**
 * A copy of `msg`, built as it is checked (one walk): throws SerializerError when `msg` holds a
 * value outside WAMP's data model. What enters the router is the router's: an application that
 * changes its array after publish() (or call(), or a testament) changes nothing the router keeps.
 */
export function checkMessage<M extends WampMessage>(msg: M): M {
  let items = 0;
  const walk = (value: unknown, depth: number): unknown => {
    if (value === null || value === undefined) return value;
    switch (typeof value) {
      case 'string':
      case 'number':
      case 'boolean':
      case 'bigint':
        return value;
      case 'object':
        break;
      default:
        throw new SerializerError(`cannot send a ${typeof value} in a WAMP message`);
    }
    if (value instanceof Uint8Array) return new Uint8Array(value);
    if (depth >= DEFAULT_MAX_DEPTH) throw new SerializerError(`cannot send a value nested deeper than ${DEFAULT_MAX_DEPTH} levels (or a cycle)`);
    if (Array.isArray(value)) {
      items += value.length;
      if (items > DEFAULT_MAX_ITEMS) throw new SerializerError(`cannot send more than ${DEFAULT_MAX_ITEMS} items in one message`);
      const list: unknown[] = new Array<unknown>(value.length);
      for (let i = 0; i < value.length; i++) list[i] = walk(value[i], depth + 1);
      return list;
    }
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      throw new SerializerError(
        `cannot send a ${(value as object).constructor?.name ?? 'class'} instance in a WAMP message (only plain objects, lists, strings, numbers, booleans, null and bytes)`,
      );
    const entries = Object.entries(value as Record<string, unknown>);
    items += entries.length;
    if (items > DEFAULT_MAX_ITEMS) throw new SerializerError(`cannot send more than ${DEFAULT_MAX_ITEMS} items in one message`);
    const dict: Record<string, unknown> = {};
    for (const [key, item] of entries) {
      // A key named __proto__ (JSON.parse makes one) stays a key: assigned, it would set the prototype.
      if (key === '__proto__') Object.defineProperty(dict, key, { value: walk(item, depth + 1), enumerable: true, writable: true, configurable: true });
      else dict[key] = walk(item, depth + 1);
    }
    return dict;
  };
  const fields = msg as unknown as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key in fields) copy[key] = walk(fields[key], 0);
  return copy as unknown as M;
}
