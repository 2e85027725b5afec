/**
 * Issue #16 (a regression found while merging item 1): with maxMessageBytes at 16 MiB, one batch
 * (batched WebSocket, batched long-poll) held 127 messages each at maxMessageItems, and each was
 * decoded with a budget of its own: 4.3 s with the event loop blocked for every other session
 * (0.37 s at the old 1 MiB). A batch of 16 MiB of one-octet messages was worse: 8 million
 * messages, 8 s and a gigabyte. The messages of one batch now share one budget of maxMessageItems
 * values, every message counting at least one: a batch costs at most what one maximal message
 * costs, and past the budget it is a bad frame as one oversized message is (ABORT
 * wamp.error.protocol_violation, switchboard_bad_frames_total, the connection closed).
 *
 * The unit tests count how many messages of a hostile batch were decoded (not wall-clock time,
 * which a shared machine makes unreliable); the end-to-end ones send the batches to a router.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import type { Codec, DecodeOptions } from '@switchboard/schemas';
import { CODECS, DEFAULT_MAX_ITEMS, MessageCode, cborCodec, jsonCodec, msgpackCodec } from '@switchboard/schemas';
import type { Router } from '@switchboard/router';
import { decodeBatch } from '../../src/transports/batch.js';
import type { PeerHandler } from '../../src/transports/peer.js';
import { FrameQueue, startTestRouter, within } from '../helpers.js';
import { HELLO_DETAILS, PV, longPollOpen, post, witness } from '../transports/support.js';

const MiB = 1024 * 1024;
const ALL: readonly Codec[] = [jsonCodec, msgpackCodec, cborCodec];

/** One batch element: JSON followed by 0x1E, binary after its 32-bit big-endian length. [ap_transport_batched_websocket] */
function element(codec: Codec, message: unknown[] | Uint8Array): Buffer {
  const encoded = message instanceof Uint8Array ? message : codec.encode(message);
  const bytes = typeof encoded === 'string' ? Buffer.from(encoded) : Buffer.from(encoded);
  if (!codec.binary) return Buffer.concat([bytes, Buffer.of(0x1e)]);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bytes.length);
  return Buffer.concat([prefix, bytes]);
}

/** A PUBLISH of empty dicts holding exactly `values` values (as the codec counts them). */
function publishOf(codec: Codec, values: number): unknown[] {
  // The list, 16, 1, {}, the topic, Arguments: 6 values; JSON counts [ , , { , , [ and one
  // separator per dict after the first.
  const dicts = codec === jsonCodec ? (values - 6) / 2 : values - 6;
  if (!Number.isInteger(dicts)) throw new Error(`no PUBLISH of exactly ${values} values in ${codec.name}`);
  return [MessageCode.Publish, 1, {}, 'com.batch', new Array<Record<string, never>>(dicts).fill({})];
}

/** As many copies of a PUBLISH at DEFAULT_MAX_ITEMS as fit in 16 MiB (127 in MessagePack and CBOR). */
function worstBatch(codec: Codec): { batch: Buffer; messages: number } {
  const one = element(codec, publishOf(codec, DEFAULT_MAX_ITEMS));
  const messages = Math.floor((16 * MiB) / one.length);
  return { batch: Buffer.concat(new Array<Buffer>(messages).fill(one)), messages };
}

/** A handler that counts what decodeBatch hands it. */
function counting(): PeerHandler & { frames: unknown[]; bad: string[] } {
  const frames: unknown[] = [];
  const bad: string[] = [];
  return { frames, bad, onFrame: (frame) => void frames.push(frame), onBadFrame: (reason) => void bad.push(reason), onClose: () => undefined };
}

describe('decodeBatch: the messages of a batch share one value budget', () => {
  it.each(ALL.map((c) => [c.name, c] as const))(
    '%s: a batch of 16 MiB of messages each at the value limit is refused at the second message',
    (_name, codec) => {
      const { batch, messages } = worstBatch(codec);
      expect(batch.length).toBeLessThanOrEqual(16 * MiB);
      expect(messages).toBeGreaterThan(codec === jsonCodec ? 80 : 120);
      const handler = counting();
      expect(decodeBatch(codec, batch, handler, { maxItems: DEFAULT_MAX_ITEMS })).toBe(false);
      // Before, every message was decoded: 127 frames (85 in JSON) and no refusal.
      expect(handler.frames).toHaveLength(1);
      expect(handler.bad).toEqual([
        expect.stringMatching(
          new RegExp(`^undecodable ${codec.name} message in a batch \\(message 2 of ${messages}\\): .*more than 131072 values in one batch`),
        ),
      ]);
    },
  );

  it.each(ALL.map((c) => [c.name, c] as const))('%s: messages that fit the budget together all arrive; one value more is refused', (_name, codec) => {
    const options: DecodeOptions = { maxItems: 1000 };
    // 400 + 400 + 200 = 1000 values: the whole budget.
    const fits = Buffer.concat([element(codec, publishOf(codec, 400)), element(codec, publishOf(codec, 400)), element(codec, publishOf(codec, 200))]);
    const ok = counting();
    expect(decodeBatch(codec, fits, ok, options)).toBe(true);
    expect(ok.bad).toEqual([]);
    expect(ok.frames.map((m) => ((m as unknown[])[4] as unknown[]).length)).toEqual(publishOfLengths(codec, [400, 400, 200]));
    const over = Buffer.concat([fits, element(codec, [MessageCode.Publish, 1, {}, 'x'])]);
    const refused = counting();
    expect(decodeBatch(codec, over, refused, options)).toBe(false);
    expect(refused.frames).toHaveLength(3);
    expect(refused.bad).toEqual([expect.stringMatching(/message in a batch \(message 4 of 4\): .*more than 1000 values in one batch/)]);
  });

  it('every message counts at least one value (a JSON scalar counts none), so a batch holds at most maxItems messages', () => {
    const fits = counting();
    expect(decodeBatch(jsonCodec, Buffer.from('1\x1e'.repeat(1000)), fits, { maxItems: 1000 })).toBe(true);
    expect(fits.frames).toHaveLength(1000);
    // [1,2] counts 2, the 999 scalars one each: 1001.
    const over = counting();
    expect(decodeBatch(jsonCodec, Buffer.from('[1,2]\x1e' + '1\x1e'.repeat(999)), over, { maxItems: 1000 })).toBe(false);
    expect(over.frames).toHaveLength(999);
    expect(over.bad).toEqual([expect.stringMatching(/message in a batch \(message 1000 of 1000\): more than 1000 values in one batch/)]);
    // 1001 messages: refused from the framing alone, none decoded.
    const many = counting();
    expect(decodeBatch(jsonCodec, Buffer.from('1\x1e'.repeat(1001)), many, { maxItems: 1000 })).toBe(false);
    expect(many.frames).toHaveLength(0);
    expect(many.bad).toEqual([expect.stringMatching(/^bad json batch: more than 1000 messages in one batch/)]);
  });

  it.each<[string, Codec, () => Buffer]>([
    ['JSON: 16 MiB of "1" + 0x1E (8 million messages)', jsonCodec, () => Buffer.alloc(16 * MiB, '1\x1e')],
    [
      'MessagePack: 16 MiB of 5-octet elements (3.3 million fixint messages)',
      msgpackCodec,
      () => Buffer.alloc(Math.floor((16 * MiB) / 5) * 5, Buffer.of(0, 0, 0, 1, 0x01)),
    ],
  ])('%s: refused before any message is decoded', (_name, codec, build) => {
    const handler = counting();
    expect(decodeBatch(codec, build(), handler, { maxItems: DEFAULT_MAX_ITEMS })).toBe(false);
    // Before: every one of them went to the handler (8 s and a gigabyte for the JSON batch).
    expect(handler.frames).toHaveLength(0);
    expect(handler.bad).toEqual([expect.stringMatching(/^bad \w+ batch: more than 131072 messages in one batch/)]);
  });
});

/** The lengths of Arguments of publishOf(codec, values) for each of `values`. */
function publishOfLengths(codec: Codec, values: number[]): number[] {
  return values.map((v) => (publishOf(codec, v)[4] as unknown[]).length);
}

// ---- end to end ---------------------------------------------------------------------------------

/** A WebSocket client on a batched subprotocol; every WAMP message it receives, in order. */
class BatchedClient {
  readonly #messages = new FrameQueue<unknown[]>('a WAMP message');
  readonly closed: Promise<number>;

  private constructor(
    readonly ws: WebSocket,
    readonly codec: Codec,
  ) {
    ws.on('message', (data: Buffer) => {
      for (const message of splitReceived(data, codec)) this.#messages.push(message);
    });
    this.closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
  }

  static async join(url: string, codec: Codec): Promise<BatchedClient> {
    const ws = new WebSocket(url, [`${codec.subprotocol}.batched`]);
    onTestFinished(() => ws.terminate());
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      5000,
      'batched WebSocket open',
    );
    const client = new BatchedClient(ws, codec);
    client.send(element(codec, [MessageCode.Hello, 'realm1', HELLO_DETAILS]));
    expect((await client.next())[0]).toBe(MessageCode.Welcome);
    return client;
  }

  send(batch: Buffer): void {
    this.ws.send(batch, { binary: this.codec.binary });
  }

  async next(ms = 5000): Promise<unknown[]> {
    return this.#messages.next(ms);
  }
}

/** Splits a received batch by the spec, independently of the router's code. */
function splitReceived(data: Buffer, codec: Codec): unknown[][] {
  if (!codec.binary)
    return data
      .toString('utf8')
      .split('\x1e')
      .slice(0, -1)
      .map((m) => JSON.parse(m) as unknown[]);
  const out: unknown[][] = [];
  for (let at = 0; at < data.length; at += 4 + data.readUInt32BE(at))
    out.push(codec.decode(data.subarray(at + 4, at + 4 + data.readUInt32BE(at))) as unknown[]);
  return out;
}

async function badFrames(router: Router, codec: Codec): Promise<string | undefined> {
  const text = await router.metrics.metrics();
  return text.split('\n').find((line) => line.startsWith(`switchboard_bad_frames_total{serializer="${codec.name}"}`));
}

describe('a batch past the shared budget costs its session, on every batched transport', () => {
  it.each([CODECS.msgpack, CODECS.json].map((c) => [c.name, c] as const))(
    'batched WebSocket, %s: 16 MiB of messages at the value limit → ABORT protocol_violation, connection closed, counted',
    async (_name, codec) => {
      const router = await startTestRouter();
      const others = await witness(router);
      const client = await BatchedClient.join(router.url, codec);
      client.send(worstBatch(codec).batch);
      // Before, the router decoded all of them (seconds with the loop blocked, for every session)
      // before it failed the session, on the second message's repeated request ID.
      const abort = await client.next(10_000);
      expect(abort[0]).toBe(MessageCode.Abort);
      expect(abort[2]).toBe(PV);
      expect((abort[1] as { message: string }).message).toMatch(/message in a batch \(message 2 of \d+\): .*more than 131072 values in one batch/);
      expect(await within(client.closed, 5000, 'the close')).toBe(1002);
      expect(await badFrames(router, codec)).toBe(`switchboard_bad_frames_total{serializer="${codec.name}"} 1`);
      await others.stillWorks();
    },
  );

  it('batched long-poll, cbor: 16 MiB of messages at the value limit → 400, ABORT protocol_violation, transport gone, counted', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', longpoll: {} }] });
    const base = router.addresses[0]!.longpollUrl!;
    const others = await witness(router);
    const { transport } = await longPollOpen(base, ['wamp.2.cbor.batched']);
    const url = `${base}/${transport}`;
    expect((await post(`${url}/send`, element(cborCodec, [MessageCode.Hello, 'realm1', HELLO_DETAILS]))).status).toBe(204);
    expect(splitReceived((await post(`${url}/receive`)).body, cborCodec)[0]![0]).toBe(MessageCode.Welcome);
    // Before: 204 after seconds of decoding (the session failed on the repeated request ID).
    const reply = await post(`${url}/send`, worstBatch(cborCodec).batch, 15_000);
    expect(reply.status).toBe(400);
    const [abort] = splitReceived((await post(`${url}/receive`)).body, cborCodec);
    expect(abort![0]).toBe(MessageCode.Abort);
    expect(abort![2]).toBe(PV);
    expect((abort![1] as { message: string }).message).toMatch(/more than 131072 values in one batch/);
    expect((await post(`${url}/receive`)).status).toBe(404);
    expect(await badFrames(router, cborCodec)).toBe('switchboard_bad_frames_total{serializer="cbor"} 1');
    await others.stillWorks();
  });

  it('batched WebSocket, json: 16 MiB of one-octet messages → ABORT before any is handled', async () => {
    const router = await startTestRouter();
    const client = await BatchedClient.join(router.url, jsonCodec);
    client.send(Buffer.alloc(16 * MiB, '1\x1e'));
    const abort = await client.next(10_000);
    // Before: the first "1" failed the session as not a WAMP message, after eight million decodes.
    expect((abort[1] as { message: string }).message).toMatch(/more than 131072 messages in one batch/);
    expect(await within(client.closed, 5000, 'the close')).toBe(1002);
  });

  it('a batch within the budget on a listener with a small maxMessageItems is routed whole', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', maxMessageItems: 64 }] });
    const subscriber = await BatchedClient.join(router.url, msgpackCodec);
    subscriber.send(element(msgpackCodec, [MessageCode.Subscribe, 1, {}, 'com.batch']));
    expect((await subscriber.next())[0]).toBe(MessageCode.Subscribed);
    const publisher = await BatchedClient.join(router.url, cborCodec);
    // Six PUBLISHes of 9 values each (the list, 16, the request, {acknowledge: true} counting 3,
    // the topic, Arguments and its one value): 54 of the 64, each of them alone far below.
    publisher.send(
      Buffer.concat(Array.from({ length: 6 }, (_, i) => element(cborCodec, [MessageCode.Publish, i + 1, { acknowledge: true }, 'com.batch', [i]]))),
    );
    for (let i = 0; i < 6; i++) expect(await publisher.next()).toEqual([MessageCode.Published, i + 1, expect.any(Number)]);
    for (let i = 0; i < 6; i++) expect((await subscriber.next())[4]).toEqual([i]);
    // Eight of them (72 values) are over the listener's budget for one batch: seven are routed.
    publisher.send(
      Buffer.concat(Array.from({ length: 8 }, (_, i) => element(cborCodec, [MessageCode.Publish, i + 7, { acknowledge: true }, 'com.batch', [i]]))),
    );
    const answers: unknown[][] = [];
    for (;;) {
      const next = await publisher.next();
      answers.push(next);
      if (next[0] === MessageCode.Abort) break;
    }
    expect(answers.slice(0, -1).map((m) => m[0])).toEqual(Array(7).fill(MessageCode.Published));
    expect((answers.at(-1)![1] as { message: string }).message).toMatch(/message in a batch \(message 8 of 8\): .*more than 64 values in one batch/);
  });
});
