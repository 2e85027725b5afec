/**
 * Serialize once: an EVENT is encoded once per subscription per serializer, whatever the number
 * of subscribers. Each client is a bare Peer attached with `router.accept`, whose codec the test
 * picks (one that counts its encode calls, or refuses some payloads); delivery is a microtask each
 * way, like any in-process connection.
 */
import { describe, expect, it } from 'vitest';
import type { Codec } from '@switchboard/schemas';
import { cborCodec, joined, jsonCodec, MessageCode, msgpackCodec, ROUTER_FRAME_LIMITS } from '@switchboard/schemas';
import type { Peer, PeerHandler } from '../src/transports/peer.js';
import { startTestRouter, within } from './helpers.js';

function counting(codec: Codec): Codec & { events: number } {
  const counter = {
    ...codec,
    events: 0,
    encode(message: unknown[]) {
      if (message[0] === MessageCode.Event) counter.events++;
      return codec.encode(message);
    },
  };
  return counter;
}

/** The client side of a connection: sends a message (an array) to the router, through the codec. */
interface Conn {
  send(message: unknown[]): void;
}

interface Client {
  conn: Conn;
  inbox: unknown[][];
  waitFor(count: number): Promise<void>;
}

function connect(router: Awaited<ReturnType<typeof startTestRouter>>, codec: Codec): Client {
  const inbox: unknown[][] = [];
  let wake: (() => void) | undefined;
  let open = true;
  let handler: PeerHandler | undefined;
  const peer: Peer = {
    codec,
    transport: { type: 'local', protocol: codec.subprotocol, peer: 'local' },
    bufferedBytes: 0,
    send(frame) {
      if (!open) return false;
      queueMicrotask(() => {
        inbox.push(codec.decode(joined(frame), ROUTER_FRAME_LIMITS) as unknown[]);
        wake?.();
      });
      return true;
    },
    sendDroppable(frame) {
      return this.send(frame.data);
    },
    close() {
      if (!open) return;
      open = false;
      queueMicrotask(() => handler?.onClose());
    },
  };
  handler = router.accept(peer);
  const conn: Conn = {
    send(message) {
      const frame = codec.decode(codec.encode(message));
      queueMicrotask(() => handler?.onFrame(frame));
    },
  };
  return {
    conn,
    inbox,
    waitFor: (count) =>
      within(
        new Promise<void>((resolve) => {
          const check = (): void => (inbox.length >= count ? resolve() : void (wake = check));
          check();
        }),
        3000,
        `${count} messages`,
      ),
  };
}

async function join(client: Client): Promise<void> {
  client.conn.send([MessageCode.Hello, 'realm1', { roles: { subscriber: {}, publisher: {} } }]);
  await client.waitFor(1);
  client.conn.send([MessageCode.Subscribe, 1, {}, 'com.fanout']);
  await client.waitFor(2);
}

describe('serialize once per subscription per serializer', () => {
  it('100 subscribers on three serializers: three EVENT encodings per publication, identical payloads', async () => {
    const router = await startTestRouter();
    const codecs = [counting(jsonCodec), counting(msgpackCodec), counting(cborCodec)];
    const subscribers: Client[] = [];
    for (let i = 0; i < 100; i++) subscribers.push(connect(router, codecs[i % 3]!));
    await Promise.all(subscribers.map(join));
    const publisher = connect(router, jsonCodec);
    publisher.conn.send([MessageCode.Hello, 'realm1', { roles: { publisher: {} } }]);
    await publisher.waitFor(1);
    const binary = new Uint8Array([0, 1, 254, 255]);
    publisher.conn.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.fanout', ['hi', binary], { n: 2 ** 40 }]);
    await publisher.waitFor(2);
    await Promise.all(subscribers.map((s) => s.waitFor(3)));
    expect(codecs.map((c) => c.events)).toEqual([1, 1, 1]);
    const publication = publisher.inbox[1]![2];
    for (const s of subscribers) {
      const event = s.inbox[2]!;
      expect(event.slice(0, 4)).toEqual([MessageCode.Event, s.inbox[1]![2], publication, {}]);
      expect(event[4]).toEqual(['hi', expect.anything()]);
      expect(new Uint8Array((event[4] as [string, Uint8Array])[1])).toEqual(binary);
      expect(event[5]).toEqual({ n: 2 ** 40 });
    }
  });
});

describe('a payload one serializer cannot carry', () => {
  function refusing(codec: Codec): Codec {
    return {
      ...codec,
      encode(message: unknown[]) {
        if (message[0] === MessageCode.Event || message[0] === MessageCode.Result || message[0] === MessageCode.Invocation) {
          if (JSON.stringify(message).includes('unencodable')) throw new Error('cannot encode this');
        }
        return codec.encode(message);
      },
    };
  }

  it('EVENT: only the subscribers on that serializer miss it; the publisher gets PUBLISHED', async () => {
    const router = await startTestRouter();
    const picky = connect(router, refusing(jsonCodec));
    const normal = connect(router, msgpackCodec);
    await join(picky);
    await join(normal);
    const publisher = connect(router, cborCodec);
    publisher.conn.send([MessageCode.Hello, 'realm1', { roles: { publisher: {} } }]);
    await publisher.waitFor(1);
    publisher.conn.send([MessageCode.Publish, 1, { acknowledge: true }, 'com.fanout', ['unencodable']]);
    await publisher.waitFor(2);
    expect(publisher.inbox[1]![0]).toBe(MessageCode.Published);
    await normal.waitFor(3);
    expect(normal.inbox[2]![4]).toEqual(['unencodable']);
    publisher.conn.send([MessageCode.Publish, 2, { acknowledge: true }, 'com.fanout', ['fine']]);
    await picky.waitFor(3);
    expect(picky.inbox[2]![4]).toEqual(['fine']);
  });

  it('RESULT: the caller gets ERROR wamp.error.invalid_argument instead of waiting forever', async () => {
    const router = await startTestRouter();
    const callee = connect(router, cborCodec);
    callee.conn.send([MessageCode.Hello, 'realm1', { roles: { callee: {} } }]);
    await callee.waitFor(1);
    callee.conn.send([MessageCode.Register, 1, {}, 'com.proc']);
    await callee.waitFor(2);
    const caller = connect(router, refusing(jsonCodec));
    caller.conn.send([MessageCode.Hello, 'realm1', { roles: { caller: {} } }]);
    await caller.waitFor(1);
    caller.conn.send([MessageCode.Call, 1, {}, 'com.proc']);
    await callee.waitFor(3);
    callee.conn.send([MessageCode.Yield, callee.inbox[2]![1], {}, ['unencodable']]);
    await caller.waitFor(2);
    expect(caller.inbox[1]).toEqual([
      MessageCode.Error,
      MessageCode.Call,
      1,
      {},
      'wamp.error.invalid_argument',
      [expect.stringContaining("caller's serializer")],
    ]);
  });

  it('INVOCATION: the caller gets ERROR wamp.error.invalid_argument and the callee nothing', async () => {
    const router = await startTestRouter();
    const callee = connect(router, refusing(jsonCodec));
    callee.conn.send([MessageCode.Hello, 'realm1', { roles: { callee: {} } }]);
    await callee.waitFor(1);
    callee.conn.send([MessageCode.Register, 1, {}, 'com.proc']);
    await callee.waitFor(2);
    const caller = connect(router, msgpackCodec);
    caller.conn.send([MessageCode.Hello, 'realm1', { roles: { caller: {} } }]);
    await caller.waitFor(1);
    caller.conn.send([MessageCode.Call, 1, {}, 'com.proc', ['unencodable']]);
    await caller.waitFor(2);
    expect(caller.inbox[1]).toEqual([
      MessageCode.Error,
      MessageCode.Call,
      1,
      {},
      'wamp.error.invalid_argument',
      [expect.stringContaining("callee's serializer")],
    ]);
    expect(callee.inbox).toHaveLength(2);
  });
});
