#!/usr/bin/env node
/**
 * The JSON payload scan of payload passthrough (schemas/src/codecs/json-validate.ts) against
 * JSON.parse on the same bytes: MB/s for payloads of 32 B, 4 KiB and 64 KiB of typical shapes
 * (a list of records with text, numbers and booleans). Also the whole router-side decode of a
 * PUBLISH: with passthrough (head parsed, payload scanned) and without (today's full decode).
 * Run after `npx tsc -b`: node scripts/bench-json-scan.mjs [--ms 400]
 */
import { PASSTHROUGH, jsonCodec, parseMessage } from '@switchboard/schemas';
import { scanJsonTail } from '../schemas/dist/codecs/json-validate.js';

const ms = Number(process.argv[process.argv.indexOf('--ms') + 1]) || 400;

function payloadOf(bytes) {
  const records = [];
  let text = '';
  for (let i = 0; text.length < bytes; i++) {
    records.push({ id: i, name: `sensor-${i} "north" wing`, value: i * 1.25, ok: i % 2 === 0, tags: ['a', 'b\u00e9'] });
    text = JSON.stringify(records);
  }
  if (bytes < 64) return [{ id: 1, v: 2.5, ok: true, s: 'x' }];
  return records;
}

function rate(fn, size) {
  let n = 0;
  for (let i = 0; i < 200; i++) fn(); // warm-up
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
  }
  const s = (performance.now() - t0) / 1000;
  return { mbs: (n * size) / s / 1e6, us: (s / n) * 1e6 };
}

console.log('payload  bytes   scan MB/s  JSON.parse MB/s  ratio | PUBLISH decode µs: passthrough  full  ratio');
for (const target of [32, 4096, 65536]) {
  const payload = payloadOf(target);
  const tail = JSON.stringify(payload);
  const text = `[16,1,{},"com.example.topic",${tail}]`;
  const start = text.indexOf(',' + tail);
  const scan = rate(() => scanJsonTail(text, start), tail.length);
  const parse = rate(() => JSON.parse(tail), tail.length);
  const pass = rate(() => parseMessage(jsonCodec.decode(text, { passthrough: { ...PASSTHROUGH, minBytes: 0 } })), text.length);
  const full = rate(() => parseMessage(jsonCodec.decode(text)), text.length);
  console.log(
    `${String(target).padStart(6)} ${String(tail.length).padStart(7)} ${scan.mbs.toFixed(0).padStart(10)} ${parse.mbs.toFixed(0).padStart(16)} ${(scan.mbs / parse.mbs).toFixed(2).padStart(6)} | ${pass.us.toFixed(2).padStart(28)} ${full.us.toFixed(2).padStart(5)} ${(pass.us / full.us).toFixed(2).padStart(6)}`,
  );
}
