/**
 * Batched WebSocket subprotocols [ap_transport_batched_websocket]: `wamp.2.json.batched` (each
 * message followed by 0x1E) and `wamp.2.msgpack.batched` / `wamp.2.cbor.batched` (each message
 * after its 32-bit big-endian length). What the router sends in one event-loop turn leaves as one
 * batch; every malformed batch ABORTs only its own session.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import type { Codec } from '@switchboard/schemas';
import { CODECS, MessageCode } from '@switchboard/schemas';
import { FrameQueue, RawPeer, startTestRouter, within } from '../helpers.js';
import { HELLO_DETAILS, PV, witness } from './support.js';

/** A WebSocket client on a batched subprotocol, keeping each WebSocket message as a list of WAMP messages. */
class BatchedPeer {
  readonly batches = new FrameQueue<unknown[][]>('a batch');
  readonly closed: Promise<number>;

  private constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
  ) {
    ws.on('message', (data: Buffer) => {
      this.batches.push(split(data, codec));
    });
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
  }

  static async open(url: string, serializer: 'json' | 'msgpack' | 'cbor'): Promise<BatchedPeer> {
    const ws = new WebSocket(url, [`${CODECS[serializer].subprotocol}.batched`]);
    onTestFinished(() => ws.terminate());
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      3000,
      'batched WebSocket open',
    );
    expect(ws.protocol).toBe(`${CODECS[serializer].subprotocol}.batched`);
    return new BatchedPeer(ws, CODECS[serializer]);
  }

  /** Sends messages as one batch. */
  send(...messages: unknown[][]): void {
    this.ws.send(join(messages, this.codec), { binary: this.codec.binary });
  }

  /** The next WebSocket message (a batch). */
  async nextBatch(ms = 3000): Promise<unknown[][]> {
    return this.batches.next(ms);
  }
}

function join(messages: unknown[][], codec: Codec): Buffer {
  return Buffer.concat(
    messages.map((m) => {
      const encoded = codec.encode(m);
      if (typeof encoded === 'string') return Buffer.from(`${encoded}\x1e`);
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(encoded.length);
      return Buffer.concat([prefix, encoded]);
    }),
  );
}

/** Splits a batch the way the spec describes, independently of the router's code. */
function split(data: Buffer, codec: Codec): unknown[][] {
  const out: unknown[][] = [];
  if (!codec.binary) {
    const text = data.toString('utf8');
    expect(text.endsWith('\x1e')).toBe(true);
    for (const part of text.split('\x1e').slice(0, -1)) out.push(JSON.parse(part) as unknown[]);
    return out;
  }
  let at = 0;
  while (at < data.length) {
    const length = data.readUInt32BE(at);
    out.push(codec.decode(data.subarray(at + 4, at + 4 + length)) as unknown[]);
    at += 4 + length;
  }
  expect(at).toBe(data.length);
  return out;
}

describe.each(['json', 'msgpack', 'cbor'] as const)('wamp.2.%s.batched', (serializer) => {
  it('takes several messages in one WebSocket message, and answers what one turn produced in one batch', async () => {
    const router = await startTestRouter();
    const peer = await BatchedPeer.open(router.url, serializer);
    peer.send([MessageCode.Hello, 'realm1', HELLO_DETAILS], [MessageCode.Subscribe, 1, {}, 'com.b1'], [MessageCode.Subscribe, 2, {}, 'com.b2']);
    const batch = await peer.nextBatch();
    expect(batch.map((m) => m[0])).toEqual([MessageCode.Welcome, MessageCode.Subscribed, MessageCode.Subscribed]);
    // Ten PUBLISHes in one batch from another batched session: ten EVENTs, in order, in one batch.
    const publisher = await BatchedPeer.open(router.url, serializer === 'json' ? 'cbor' : 'json');
    publisher.send([MessageCode.Hello, 'realm1', HELLO_DETAILS]);
    await publisher.nextBatch();
    publisher.send(...Array.from({ length: 10 }, (_, i) => [MessageCode.Publish, i + 1, {}, i % 2 === 0 ? 'com.b1' : 'com.b2', [i]]));
    const events = await peer.nextBatch();
    expect(events.map((m) => m[0])).toEqual(Array(10).fill(MessageCode.Event));
    expect(events.map((m) => m[4])).toEqual(Array.from({ length: 10 }, (_, i) => [i]));
  });

  it('routes with a plain WebSocket session', async () => {
    const router = await startTestRouter();
    const peer = await BatchedPeer.open(router.url, serializer);
    peer.send([MessageCode.Hello, 'realm1', HELLO_DETAILS], [MessageCode.Register, 1, {}, 'com.batched.echo']);
    expect((await peer.nextBatch()).map((m) => m[0])).toEqual([MessageCode.Welcome, MessageCode.Registered]);
    const plain = await RawPeer.join(router.url, 'msgpack');
    const call = plain.nextRequest();
    plain.send([MessageCode.Call, call, {}, 'com.batched.echo', ['ü', 2 ** 53]]);
    const [invocation] = await peer.nextBatch();
    peer.send([MessageCode.Yield, invocation![1], {}, invocation![4]]);
    expect(await plain.next()).toEqual([MessageCode.Result, call, {}, ['ü', 2 ** 53]]);
  });
});

describe('batched subprotocol negotiation', () => {
  it('is offered by default; batched: false leaves only the plain ones, and says so', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', batched: false }] });
    const ws = new WebSocket(router.url, ['wamp.2.json.batched']);
    ws.on('error', () => {}); // the refused handshake
    onTestFinished(() => ws.terminate());
    const refused = await within(
      new Promise<{ status: number; body: string }>((resolve) => {
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
      }),
      3000,
      'the refusal',
    );
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('supported: wamp.2.json, wamp.2.msgpack, wamp.2.cbor)');
    const plain = await RawPeer.join(router.url);
    expect(plain.session).toBeGreaterThan(0);
  });

  it("the client's order of preference wins among what is offered", async () => {
    const router = await startTestRouter();
    const first = await RawPeer.connect(router.url, 'json', ['wamp.2.msgpack.batched', 'wamp.2.json']);
    expect(first.ws.protocol).toBe('wamp.2.msgpack.batched');
    const second = await RawPeer.connect(router.url, 'json', ['wamp.2.cbor', 'wamp.2.cbor.batched']);
    expect(second.ws.protocol).toBe('wamp.2.cbor');
  });
});

describe('malformed batches ABORT only their own session', () => {
  const cases: [string, 'json' | 'msgpack' | 'cbor', Buffer, RegExp][] = [
    ['an empty JSON batch', 'json', Buffer.alloc(0), /empty batch/],
    [
      'a JSON message without its separator',
      'json',
      Buffer.from(JSON.stringify([MessageCode.Hello, 'realm1', HELLO_DETAILS])),
      /does not end with the record separator/,
    ],
    [
      'an empty JSON message between separators',
      'json',
      Buffer.from(`${JSON.stringify([MessageCode.Hello, 'realm1', HELLO_DETAILS])}\x1e\x1e`),
      /empty message at octet/,
    ],
    ['undecodable JSON in a batch', 'json', Buffer.from('[1, "realm1"\x1e'), /undecodable json message in a batch/],
    ['an empty binary batch', 'msgpack', Buffer.alloc(0), /empty batch/],
    ['a truncated length prefix', 'cbor', Buffer.from([0, 0, 0]), /truncated length prefix/],
    ['a length that overruns the batch', 'msgpack', Buffer.from([0, 0, 0, 200, 0x93, 1, 2]), /overruns a batch/],
    ['a zero-length binary message', 'cbor', Buffer.from([0, 0, 0, 0]), /undecodable cbor message in a batch/],
  ];

  it.each(cases)('%s', async (_name, serializer, bytes, reason) => {
    const router = await startTestRouter();
    const others = await witness(router);
    const peer = await BatchedPeer.open(router.url, serializer);
    peer.ws.send(bytes, { binary: serializer !== 'json' });
    const [abort] = await peer.nextBatch();
    expect(abort![0]).toBe(MessageCode.Abort);
    expect(abort![2]).toBe(PV);
    expect((abort![1] as { message: string }).message).toMatch(reason);
    expect(await within(peer.closed, 3000, 'the close')).toBe(1002);
    await others.stillWorks();
  });

  it('a text message on a binary batched subprotocol', async () => {
    const router = await startTestRouter();
    const peer = await BatchedPeer.open(router.url, 'msgpack');
    peer.ws.send('hello', { binary: false });
    const [abort] = await peer.nextBatch();
    expect((abort![1] as { message: string }).message).toMatch(/text WebSocket message on wamp.2.msgpack.batched/);
  });
});
