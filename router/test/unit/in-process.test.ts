/**
 * The in-process pair behind router.session(realm) (transports/local.ts) and the client's check of
 * what it hands over (client/src/in-process.ts): objects both ways, asynchronous, a fault costs
 * the one connection, and values outside WAMP's data model are refused before anything is sent.
 * No router, no sockets.
 */
import { describe, expect, it } from 'vitest';
import type { WampMessage } from '@switchboard/schemas';
import { MessageCode, msgpackCodec, parseMessage, toWire } from '@switchboard/schemas';
import { checkMessage } from '../../../client/src/in-process.js';
import { createInProcessConnection } from '../../src/transports/local.js';
import type { PeerHandler } from '../../src/transports/peer.js';

function pair(onClientMessage: (msg: WampMessage) => void = () => undefined) {
  const toClient: WampMessage[] = [];
  const toRouter: WampMessage[] = [];
  const closed: string[] = [];
  const errors: string[] = [];
  const connection = createInProcessConnection({
    onMessage: (msg) => {
      toClient.push(msg);
      onClientMessage(msg);
    },
    onClose: (code, reason) => closed.push(`client ${code} ${reason}`),
    onError: (err) => errors.push(err.message),
  });
  const handler: PeerHandler = {
    onFrame: () => {
      throw new Error('an in-process connection never hands over frames');
    },
    onMessage: (msg) => void toRouter.push(msg),
    onBadFrame: () => undefined,
    onClose: () => void closed.push('router'),
  };
  connection.bind(handler);
  return { connection, toClient, toRouter, closed, errors };
}

/** A message from its wire form (IDs are branded numbers). */
const m = (...frame: unknown[]): WampMessage => parseMessage(frame);

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createInProcessConnection', () => {
  it('carries the message objects themselves both ways, each in a later microtask', async () => {
    const { connection, toClient, toRouter } = pair();
    const publish = m(MessageCode.Publish, 1, {}, 'com.x', [{ a: 1 }]);
    connection.link.send(publish);
    const event = m(MessageCode.Event, 5, 6, {}, [new Uint8Array([1])]);
    expect(connection.peer.sendMessage!(event)).toBe(true);
    expect(toRouter).toEqual([]);
    expect(toClient).toEqual([]);
    await settle();
    expect(toRouter[0]).toBe(publish);
    expect(toClient[0]).toBe(event);
  });

  it('a frame someone encoded anyway still arrives, as a parsed message', async () => {
    const { connection, toClient } = pair();
    const welcome = m(MessageCode.Welcome, 7, { roles: {} });
    expect(connection.peer.send(msgpackCodec.encode(toWire(welcome)))).toBe(true);
    await settle();
    expect(toClient).toEqual([welcome]);
  });

  it('close: what was queued arrives first, then both sides hear it once; nothing is taken after', async () => {
    const { connection, toClient, closed } = pair();
    connection.peer.sendMessage!({ code: MessageCode.Goodbye, details: {}, reason: 'wamp.close.system_shutdown' });
    connection.peer.close(1001, 'router shutting down');
    connection.link.close(1000, 'again');
    expect(connection.peer.sendMessage!({ code: MessageCode.Abort, details: {}, reason: 'x' })).toBe(false);
    await settle();
    expect(toClient.map((m) => m.code)).toEqual([MessageCode.Goodbye]);
    expect(closed).toEqual(['router', 'client 1001 router shutting down']);
  });

  it('a client handler that throws closes this connection (reported), nothing more is delivered', async () => {
    const { connection, toClient, closed, errors } = pair(() => {
      throw new Error('client bug');
    });
    connection.peer.sendMessage!(m(MessageCode.Welcome, 1, {}));
    connection.peer.sendMessage!(m(MessageCode.Welcome, 2, {}));
    await settle();
    expect(toClient).toHaveLength(1);
    expect(errors).toEqual([expect.stringContaining('client bug')]);
    expect(closed).toEqual(['router', 'client 1011 the client failed on a message']);
  });
});

describe('checkMessage (what the in-process client may hand over)', () => {
  const publish = (args: unknown[], kwargs: Record<string, unknown> = {}): WampMessage => {
    // Built as an object: parseMessage would refuse some of these values itself.
    const msg = m(MessageCode.Publish, 1, {}, 'com.x');
    return Object.assign(msg, { args, kwargs });
  };

  it("accepts WAMP's data model: null, booleans, numbers, big integers, strings (any first character), bytes, lists, plain dicts", () => {
    expect(() =>
      checkMessage(publish([null, true, 1.5, 2n ** 70n, '\u0000!!', new Uint8Array([1]), [1, [2]], { a: { b: [] } }, Object.create(null) as object])),
    ).not.toThrow();
  });

  it('refuses functions, symbols, class instances, cycles and nesting past 64 levels, naming them', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    let deep: unknown = 'bottom';
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(() => checkMessage(publish([() => 1]))).toThrow(/function/);
    expect(() => checkMessage(publish([Symbol('s')]))).toThrow(/symbol/);
    expect(() => checkMessage(publish([new Date()]))).toThrow(/Date instance/);
    expect(() => checkMessage(publish([], { m: new Map() }))).toThrow(/Map instance/);
    expect(() => checkMessage(publish([cyclic]))).toThrow(/nested deeper than 64/);
    expect(() => checkMessage(publish([deep]))).toThrow(/nested deeper than 64/);
    expect(() => checkMessage(publish([cyclic]))).toThrow(expect.objectContaining({ name: 'SerializerError' }));
  });

  it('returns a copy built as it checks (review finding 5): what the application changes afterwards, the router never sees', () => {
    const bytes = new Uint8Array([1, 2]);
    const payload: unknown[] = [{ x: 'original', list: [1] }, bytes];
    const kwargs = JSON.parse('{"__proto__": {"polluted": true}, "k": "v"}') as Record<string, unknown>;
    const msg = publish(payload, kwargs);
    const own = checkMessage(msg) as unknown as { args: unknown[]; kwargs: Record<string, unknown>; topic: string };
    (payload[0] as { x: string; list: number[] }).x = 'rewritten';
    (payload[0] as { x: string; list: number[] }).list.push(2);
    payload.push('x'.repeat(1000));
    bytes[0] = 9;
    expect(own.args).toEqual([{ x: 'original', list: [1] }, new Uint8Array([1, 2])]);
    expect(own.topic).toBe('com.x');
    // A key named __proto__ stays a key of the copy, never its prototype.
    expect(Object.getPrototypeOf(own.kwargs)).toBe(Object.prototype);
    expect(Object.keys(own.kwargs)).toEqual(['__proto__', 'k']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
