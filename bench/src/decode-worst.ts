/**
 * Decode time of the worst frames we can build, per codec, at the maximum message size: a
 * benchmark script, not a test (it asserts nothing). Each frame is a PUBLISH (or what claims to
 * be one) of `size` bytes built to hit a slow path: deep nesting, huge CBOR bignums, many tiny
 * items, long strings with escapes, dicts with many keys, binaries (base64 in JSON), and a refused
 * item at the very end, so the data-model scan reads the whole frame first; and the costliest
 * values, as many as the value limit lets in (smaller than the size). Prints, for each, what
 * the codec did (decoded, or refused with which DecodeError) and the median wall and CPU time of a
 * few runs (after one warm-up run).
 *
 *   npx tsc -b && node bench/dist/decode-worst.js [--sizes 1,16] [--runs 5]
 *
 * Sizes are in MiB (default 1 and 16: the former default maxMessageBytes and the current one, issue #16).
 */
import { parseArgs } from 'node:util';
import type { Codec } from '@switchboard/schemas';
import { DEFAULT_MAX_ITEMS, DecodeError, cborCodec, jsonCodec, msgpackCodec } from '@switchboard/schemas';

const MiB = 1024 * 1024;

interface Case {
  codec: Codec;
  name: string;
  build(size: number): string | Uint8Array;
}

// ---- JSON ----------------------------------------------------------------------------------

const JSON_HEAD = '[16,1,{},"com.t",';
const JSON_TAIL = ']';

/** A PUBLISH whose Arguments is `body`, padded with `filler` items up to `size` characters. */
function jsonList(size: number, item: string, open = '[', close = ']'): string {
  const room = size - JSON_HEAD.length - JSON_TAIL.length - open.length - close.length;
  const count = Math.max(1, Math.floor((room + 1) / (item.length + 1)));
  return JSON_HEAD + open + new Array<string>(count).fill(item).join(',') + close + JSON_TAIL;
}

/** One string item filling the frame. */
function jsonString(size: number, unit: string, prefix = ''): string {
  const room = size - JSON_HEAD.length - JSON_TAIL.length - 4 - prefix.length;
  return `${JSON_HEAD}["${prefix}${unit.repeat(Math.floor(room / unit.length))}"]${JSON_TAIL}`;
}

const nest = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

const JSON_CASES: Case[] = [
  { codec: jsonCodec, name: 'nesting: "[" × size', build: (size) => '['.repeat(size) },
  { codec: jsonCodec, name: 'nesting at the limit (62 levels), repeated', build: (size) => jsonList(size, nest(62)) },
  { codec: jsonCodec, name: 'many tiny items: [0,0,0,…]', build: (size) => jsonList(size, '0') },
  { codec: jsonCodec, name: 'many empty lists: [[],[],…]', build: (size) => jsonList(size, '[]') },
  { codec: jsonCodec, name: 'many empty dicts: [{},{},…]', build: (size) => jsonList(size, '{}') },
  { codec: jsonCodec, name: 'many numbers: 1.7976931348623157e308', build: (size) => jsonList(size, '1.7976931348623157e308') },
  { codec: jsonCodec, name: 'one string of \\n escapes', build: (size) => jsonString(size, '\\n') },
  { codec: jsonCodec, name: 'one string of \\u00e9 escapes', build: (size) => jsonString(size, '\\u00e9') },
  { codec: jsonCodec, name: 'one string of \\" (depth scan: quotes)', build: (size) => jsonString(size, '\\"') },
  { codec: jsonCodec, name: 'one string of "[" (depth scan: brackets)', build: (size) => jsonString(size, '[') },
  {
    codec: jsonCodec,
    name: 'a dict with many keys',
    build: (size) => {
      const parts: string[] = [];
      let length = JSON_HEAD.length + 4;
      for (let i = 0; length < size - 16; i++) {
        const entry = `"k${i.toString(36)}":0`;
        parts.push(entry);
        length += entry.length + 1;
      }
      return `${JSON_HEAD}[],{${parts.join(',')}}${JSON_TAIL}`;
    },
  },
  { codec: jsonCodec, name: 'one binary: "\\u0000" + base64', build: (size) => jsonString(size, 'AAAA', '\\u0000') },
  { codec: jsonCodec, name: 'many binaries: "\\u0000AA=="', build: (size) => jsonList(size, '"\\u0000AA=="') },
  { codec: jsonCodec, name: 'refused: base64 with a bad last character', build: (size) => jsonString(size, 'AAAA', '\\u0000').replace(/A"\]\]$/, '!"]]') },
];

// ---- MessagePack and CBOR: raw bytes ----------------------------------------------------------

/** `head` (the encoded PUBLISH without Arguments, its list header one short) + Arguments header + items. */
function binaryFrame(codec: Codec, size: number, listHeader: (count: number) => number[], item: Uint8Array, last?: Uint8Array): Uint8Array {
  const head = codec.encode([16, 1, {}, 'com.t']) as Uint8Array;
  const withArgs = Uint8Array.from(head);
  withArgs[0] = head[0]! + 1; // 4 → 5 elements (fixarray / small CBOR array)
  const tail = last ?? new Uint8Array(0);
  const room = size - withArgs.length - 9 - tail.length;
  const count = Math.max(1, Math.floor(room / item.length)) + (last === undefined ? 0 : 1);
  const header = Uint8Array.from(listHeader(count));
  const out = new Uint8Array(withArgs.length + header.length + (count - (last === undefined ? 0 : 1)) * item.length + tail.length);
  out.set(withArgs);
  let at = withArgs.length;
  out.set(header, at);
  at += header.length;
  for (let i = 0; i < count - (last === undefined ? 0 : 1); i++, at += item.length) out.set(item, at);
  out.set(tail, at);
  return out;
}

const be32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const msgpackArray = (n: number): number[] => [0xdd, ...be32(n)];
const msgpackMap = (n: number): number[] => [0xdf, ...be32(n)];
const cborArray = (n: number): number[] => [0x9a, ...be32(n)];
const cborMap = (n: number): number[] => [0xba, ...be32(n)];

/** One item with a 4-byte length filling the frame (str32/bin32, CBOR text/bytes), its data `unit` repeated. */
function binaryOne(codec: Codec, size: number, header: (length: number) => number[], unit: number[]): Uint8Array {
  const head = codec.encode([16, 1, {}, 'com.t']) as Uint8Array;
  const length = size - head.length - 6 - ((size - head.length - 6) % unit.length) - unit.length;
  const out = new Uint8Array(head.length + 1 + 5 + length);
  out.set(head);
  out[0] = head[0]! + 1;
  out[head.length] = codec === cborCodec ? 0x81 : 0x91; // Arguments: a list of one
  out.set(header(length), head.length + 1);
  for (let at = head.length + 6; at < out.length; at += unit.length) out.set(unit, at);
  return out;
}

/** A dict of `count` distinct keys of 4 characters (0x00 values). */
function binaryKeys(codec: Codec, size: number): Uint8Array {
  const cbor = codec === cborCodec;
  const head = codec.encode([16, 1, {}, 'com.t']) as Uint8Array;
  const count = Math.floor((size - head.length - 12) / 6);
  const out = new Uint8Array(head.length + 1 + 5 + count * 6);
  out.set(head);
  out[0] = head[0]! + 2; // Arguments and ArgumentsKw
  let at = head.length;
  out[at++] = cbor ? 0x80 : 0x90; // empty Arguments
  out.set(cbor ? cborMap(count) : msgpackMap(count), at);
  at += 5;
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (let i = 0; i < count; i++) {
    out[at++] = cbor ? 0x64 : 0xa4;
    let n = i;
    for (let j = 0; j < 4; j++, n = Math.floor(n / alphabet.length)) out[at++] = alphabet.charCodeAt(n % alphabet.length);
    out[at++] = 0;
  }
  return out.subarray(0, at);
}

const MSGPACK_CASES: Case[] = [
  { codec: msgpackCodec, name: 'nesting: fixarray(1) × size', build: (size) => new Uint8Array(size).fill(0x91) },
  { codec: msgpackCodec, name: 'many tiny items: fixint 0', build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0x00)) },
  { codec: msgpackCodec, name: 'many empty lists', build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0x90)) },
  { codec: msgpackCodec, name: 'many empty dicts', build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0x80)) },
  { codec: msgpackCodec, name: 'many 1-char strings', build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0xa1, 0x61)) },
  { codec: msgpackCodec, name: 'many 1-byte binaries', build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0xc4, 0x01, 0xab)) },
  {
    codec: msgpackCodec,
    name: 'many float64',
    build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 1)),
  },
  {
    codec: msgpackCodec,
    name: 'many uint64 (2^64 - 1)',
    build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
  },
  { codec: msgpackCodec, name: 'one str32 of "é"', build: (size) => binaryOne(msgpackCodec, size, (n) => [0xdb, ...be32(n)], [0xc3, 0xa9]) },
  { codec: msgpackCodec, name: 'one bin32', build: (size) => binaryOne(msgpackCodec, size, (n) => [0xc6, ...be32(n)], [0xab]) },
  { codec: msgpackCodec, name: 'a dict with many keys', build: (size) => binaryKeys(msgpackCodec, size) },
  {
    codec: msgpackCodec,
    name: 'refused: a timestamp ext after size of items',
    build: (size) => binaryFrame(msgpackCodec, size, msgpackArray, Uint8Array.of(0x00), Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1)),
  },
];

const CBOR_CASES: Case[] = [
  {
    codec: cborCodec,
    name: 'refused: one bignum (tag 2) of size bytes',
    build: (size) => {
      const out = new Uint8Array(size).fill(0xff);
      out.set([0x81, 0xc2, 0x5a, ...be32(size - 7)]);
      return out;
    },
  },
  {
    codec: cborCodec,
    name: 'many 8-byte bignums (tag 2)',
    build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0xc2, 0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
  },
  { codec: cborCodec, name: 'nesting: array(1) × size', build: (size) => new Uint8Array(size).fill(0x81) },
  { codec: cborCodec, name: 'many tiny items: 0', build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0x00)) },
  {
    codec: cborCodec,
    name: 'indefinite list of 0',
    build: (size) => {
      const frame = binaryFrame(cborCodec, size, () => [0x9f], Uint8Array.of(0x00), Uint8Array.of(0xff));
      return frame;
    },
  },
  { codec: cborCodec, name: 'many empty lists', build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0x80)) },
  { codec: cborCodec, name: 'many empty dicts', build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0xa0)) },
  { codec: cborCodec, name: 'many half floats', build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0xf9, 0x3c, 0x00)) },
  {
    codec: cborCodec,
    name: 'many uint64 (2^64 - 1)',
    build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)),
  },
  { codec: cborCodec, name: 'one text string of "é"', build: (size) => binaryOne(cborCodec, size, (n) => [0x7a, ...be32(n)], [0xc3, 0xa9]) },
  { codec: cborCodec, name: 'one byte string', build: (size) => binaryOne(cborCodec, size, (n) => [0x5a, ...be32(n)], [0xab]) },
  { codec: cborCodec, name: 'a dict with many keys', build: (size) => binaryKeys(cborCodec, size) },
  {
    codec: cborCodec,
    name: 'refused: tag 1 (Date) after size of items',
    build: (size) => binaryFrame(cborCodec, size, cborArray, Uint8Array.of(0x00), Uint8Array.of(0xc1, 0x01)),
  },
];

// ---- at the value limit: the costliest values, as many as DEFAULT_MAX_ITEMS lets in ---------

/** Values of the PUBLISH around Arguments' elements: the list, 16, 1, {}, "com.t", Arguments. */
const AROUND = 6;

/** A binary frame of exactly `count` items, each `item`. */
function binaryCount(codec: Codec, count: number, listHeader: (count: number) => number[], item: Uint8Array): Uint8Array {
  const head = codec.encode([16, 1, {}, 'com.t']) as Uint8Array;
  const header = listHeader(count);
  const out = new Uint8Array(head.length + header.length + count * item.length);
  out.set(head);
  out[0] = head[0]! + 1;
  out.set(header, head.length);
  for (let i = 0, at = head.length + header.length; i < count; i++, at += item.length) out.set(item, at);
  return out;
}

const AT_LIMIT: Case[] = [
  {
    codec: jsonCodec,
    name: 'at the limit: empty dicts',
    build: () => JSON_HEAD + '[' + new Array<string>(Math.floor((DEFAULT_MAX_ITEMS - AROUND) / 2)).fill('{}').join(',') + ']' + JSON_TAIL,
  },
  {
    codec: jsonCodec,
    name: 'at the limit: binaries "\\u0000AA=="',
    build: () => JSON_HEAD + '[' + new Array<string>(Math.floor((DEFAULT_MAX_ITEMS - AROUND) / 4)).fill('"\\u0000AA=="').join(',') + ']' + JSON_TAIL,
  },
  {
    codec: msgpackCodec,
    name: 'at the limit: empty dicts',
    build: () => binaryCount(msgpackCodec, DEFAULT_MAX_ITEMS - AROUND, msgpackArray, Uint8Array.of(0x80)),
  },
  {
    codec: msgpackCodec,
    name: 'at the limit: 1-byte binaries',
    build: () => binaryCount(msgpackCodec, Math.floor((DEFAULT_MAX_ITEMS - AROUND) / 4), msgpackArray, Uint8Array.of(0xc4, 0x01, 0xab)),
  },
  {
    codec: cborCodec,
    name: 'at the limit: 1-byte binaries',
    build: () => binaryCount(cborCodec, Math.floor((DEFAULT_MAX_ITEMS - AROUND) / 4), cborArray, Uint8Array.of(0x41, 0xab)),
  },
  { codec: cborCodec, name: 'at the limit: empty dicts', build: () => binaryCount(cborCodec, DEFAULT_MAX_ITEMS - AROUND, cborArray, Uint8Array.of(0xa0)) },
  {
    codec: cborCodec,
    name: 'at the limit: 8-byte bignums',
    build: () =>
      binaryCount(
        cborCodec,
        Math.floor((DEFAULT_MAX_ITEMS - AROUND) / 8),
        cborArray,
        Uint8Array.of(0xc2, 0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ),
  },
];

// ---- run ---------------------------------------------------------------------------------------

/**
 * Wall time and CPU time (user + system) of one decode. The CPU figure is the one to compare on a
 * shared machine: wall time also counts the time other processes had the core.
 */
function measure(c: Case, frame: string | Uint8Array): { ms: number; cpuMs: number; outcome: string } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let outcome: string;
  try {
    c.codec.decode(frame);
    outcome = 'decoded';
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    outcome = `refused: ${err.message.slice(0, 60)}`;
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, outcome };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function main(): void {
  const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1,16' }, runs: { type: 'string', default: '5' } } });
  const sizes = values.sizes.split(',').map((s) => Math.round(Number(s) * MiB));
  const runs = Math.max(1, Number(values.runs));
  const rows: string[][] = [['codec', 'frame', 'MiB', 'wall ms', 'CPU ms', 'max CPU', 'outcome']];
  for (const size of sizes) {
    for (const c of [...JSON_CASES, ...MSGPACK_CASES, ...CBOR_CASES, ...AT_LIMIT]) {
      const frame = c.build(size);
      const length = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
      if (length > size) throw new Error(`${c.codec.name} ${c.name}: built ${length} bytes, over ${size}`);
      const wall: number[] = [];
      const cpu: number[] = [];
      let outcome = '';
      measure(c, frame); // warm-up
      for (let i = 0; i < runs; i++) {
        const r = measure(c, frame);
        wall.push(r.ms);
        cpu.push(r.cpuMs);
        outcome = r.outcome;
      }
      rows.push([c.codec.name, c.name, (length / MiB).toFixed(2), median(wall).toFixed(1), median(cpu).toFixed(1), Math.max(...cpu).toFixed(1), outcome]);
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    console.log(
      r
        .map((cell, i) => (i >= 2 && i <= 5 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    );
}

main();
