/**
 * The worst batches a router's limits let in, sent to a real router in this process: a benchmark
 * script, not a test (it asserts nothing). A batched WebSocket (`wamp.2.<codec>.batched`) or
 * batched long-poll session joins realm1, then sends one batch:
 *
 * - at the value limit: maxMessageBytes (16 MiB by default) of PUBLISHes each at maxMessageItems
 *   (131 072 empty dicts, the costliest value per byte), 127 of them in MessagePack and CBOR.
 *   Decoded with a budget each (before issue #16's fix), this held the loop for about 4 s;
 * - one-octet messages: 16 MiB of `1` (JSON) or fixint (MessagePack, CBOR) messages, 3 to 8
 *   million: 5 to 9 s and a gigabyte before;
 * - acknowledged PUBLISHes: as many of the smallest routed messages as the shared budget lets in
 *   (about 19 000): the most routing one batch can ask for. No subscriber; each gets a PUBLISHED.
 *
 * The messages of a batch now share one budget of maxMessageItems values, every message counting
 * at least one (router/src/transports/batch.ts). Prints, per case, whether the router refused the
 * batch or took it, the longest event-loop stall seen meanwhile (perf_hooks.monitorEventLoopDelay:
 * what every other session of the router waits out; it includes the client's sending, in the same
 * process) and the process's CPU time.
 *
 *   npx tsc -b && node bench/dist/batch-worst.js
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'node:http';
import WebSocket from 'ws';
import type { Codec } from '@switchboard/schemas';
import { CODECS, DEFAULT_MAX_ITEMS, MessageCode } from '@switchboard/schemas';
import { Router, silentLogger } from '@switchboard/router';

const MiB = 1024 * 1024;
const MAX_BYTES = 16 * MiB;
const HELLO = [MessageCode.Hello, 'realm1', { roles: { publisher: {}, subscriber: {} } }];

/** A PUBLISH whose Arguments are empty dicts, as many as make the message exactly DEFAULT_MAX_ITEMS values. */
function publishAtLimit(codec: Codec, request: number): Uint8Array {
  // The message list, 16, the request, {}, the topic, Arguments: 6 values; JSON counts [ , , { , , [ and a separator per extra dict.
  const dicts = codec.binary ? DEFAULT_MAX_ITEMS - 6 : (DEFAULT_MAX_ITEMS - 6) / 2 + 0.5;
  const message = [MessageCode.Publish, request, {}, 'com.batch', Array.from({ length: Math.floor(dicts) }, () => ({}))];
  const encoded = codec.encode(message);
  return typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
}

/** One batch element: JSON followed by 0x1E, binary after its 32-bit length. */
function element(codec: Codec, message: Uint8Array): Buffer {
  if (!codec.binary) return Buffer.concat([message, Buffer.of(0x1e)]);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(message.length);
  return Buffer.concat([prefix, message]);
}

/** As many messages at the value limit as fit in maxMessageBytes. */
function atLimit(codec: Codec): { batch: Buffer; messages: number } {
  const one = element(codec, publishAtLimit(codec, 1));
  const messages = Math.floor(MAX_BYTES / one.length);
  return { batch: Buffer.concat(Array.from({ length: messages }, (_, i) => element(codec, publishAtLimit(codec, i + 1)))), messages };
}

/** maxMessageBytes of the smallest messages there are: `1` in JSON, a fixint in MessagePack and CBOR. */
function tiny(codec: Codec): { batch: Buffer; messages: number } {
  const one = codec.binary ? Buffer.of(0, 0, 0, 1, 0x01) : Buffer.from('1\x1e');
  const messages = Math.floor(MAX_BYTES / one.length);
  return { batch: Buffer.alloc(messages * one.length, one), messages };
}

/**
 * As many acknowledged PUBLISHes as the shared budget lets in (7 values each: 18 724 of them):
 * the most routing work one batch can ask for with small messages. No subscriber: each costs
 * its routing and a PUBLISHED.
 */
function routed(codec: Codec): { batch: Buffer; messages: number } {
  const messages = Math.floor(DEFAULT_MAX_ITEMS / (codec.binary ? 7 : 6));
  return {
    batch: Buffer.concat(
      Array.from({ length: messages }, (_, i) => element(codec, toBytes(codec.encode([MessageCode.Publish, i + 1, { acknowledge: true }, 'com.batch'])))),
    ),
    messages,
  };
}

const CASES = { 'at the value limit': atLimit, 'one-octet messages': tiny, 'acknowledged PUBLISHes': routed };

interface Outcome {
  answer: string;
  ms: number;
}

async function overWebSocket(url: string, codec: Codec, batch: Buffer): Promise<Outcome> {
  const ws = new WebSocket(url, [`${codec.subprotocol}.batched`], { maxPayload: MAX_BYTES });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (): Promise<Buffer> => new Promise((resolve) => ws.once('message', (data: Buffer) => resolve(data)));
  const welcome = next();
  ws.send(element(codec, toBytes(codec.encode(HELLO))), { binary: codec.binary });
  await welcome;
  // The ABORT tells whether the router refused the batch, or took it and then refused the
  // sentinel after it (an empty message), which it reads only once it is done with the batch.
  let last: Buffer = Buffer.alloc(0);
  ws.on('message', (data: Buffer) => (last = data));
  const closed = new Promise<string>((resolve) =>
    ws.once('close', (code: number) => resolve(`${last.includes('in one batch') ? 'refused' : 'taken'}, ${code}`)),
  );
  const t0 = performance.now();
  ws.send(batch, { binary: codec.binary });
  ws.send(codec.binary ? Buffer.alloc(4) : Buffer.of(0x1e), { binary: codec.binary });
  const answer = await Promise.race([closed, new Promise<string>((resolve) => setTimeout(() => resolve('no answer after 30 s'), 30_000))]);
  const ms = performance.now() - t0;
  ws.terminate();
  return { answer, ms };
}

function post(url: string, body: Uint8Array | string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

async function overLongPoll(base: string, codec: Codec, batch: Buffer): Promise<Outcome> {
  const opened = await post(`${base}/open`, JSON.stringify({ protocols: [`${codec.subprotocol}.batched`] }));
  const { transport } = JSON.parse(opened.body.toString()) as { transport: string };
  const url = `${base}/${transport}`;
  await post(`${url}/send`, element(codec, toBytes(codec.encode(HELLO))));
  await post(`${url}/receive`, '');
  const t0 = performance.now();
  const reply = await post(`${url}/send`, batch);
  return { answer: reply.status === 204 ? 'taken, 204' : `refused, ${reply.status}`, ms: performance.now() - t0 };
}

function toBytes(encoded: string | Uint8Array): Uint8Array {
  return typeof encoded === 'string' ? Buffer.from(encoded) : encoded;
}

async function main(): Promise<void> {
  const router = new Router({ config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, longpoll: {} }] }, logger: silentLogger() });
  await router.start();
  const address = router.addresses[0]!;
  const rows: string[][] = [['batch', 'transport', 'codec', 'MiB', 'messages', 'answer', 'answer ms', 'longest stall ms', 'CPU ms']];
  try {
    for (const [name, build] of Object.entries(CASES))
      for (const transport of ['websocket', 'longpoll'] as const) {
        for (const codec of [CODECS.msgpack, CODECS.cbor, CODECS.json]) {
          const { batch, messages } = build(codec);
          const stalls = monitorEventLoopDelay({ resolution: 5 });
          stalls.enable();
          const cpu0 = process.cpuUsage();
          const outcome = transport === 'websocket' ? await overWebSocket(router.url, codec, batch) : await overLongPoll(address.longpollUrl!, codec, batch);
          const cpu = process.cpuUsage(cpu0);
          stalls.disable();
          rows.push([
            name,
            transport,
            codec.name,
            (batch.length / MiB).toFixed(2),
            String(messages),
            outcome.answer,
            outcome.ms.toFixed(0),
            (stalls.max / 1e6).toFixed(0),
            ((cpu.user + cpu.system) / 1000).toFixed(0),
          ]);
          process.stderr.write('.');
        }
      }
  } finally {
    await router.stop();
  }
  process.stderr.write('\n');
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    console.log(
      r
        .map((cell, i) => (i === 3 || i === 4 || i >= 6 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    );
}

await main();
