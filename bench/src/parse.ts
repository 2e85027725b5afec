/**
 * Micro-benchmark: the hand-written parseMessage against ajv validating messages.schema.json,
 * on typical PUBLISH, EVENT, CALL and YIELD frames (already decoded, as a codec hands them over).
 *
 *   node bench/dist/parse.js [--duration-ms 400] [--rounds 5]
 *
 * parseMessage checks the shape and also builds the typed message; ajv only says yes or no, so
 * the comparison favours ajv. Each cell is the median of `rounds` timed runs after a warm-up.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { DecodeError, parseMessage, schemaUrl } from '@switchboard/schemas';
import type { WampMessage } from '@switchboard/schemas';

type Check = (frame: unknown) => number;

const { values: flags } = parseArgs({
  options: { 'duration-ms': { type: 'string', default: '400' }, rounds: { type: 'string', default: '5' } },
});
const durationMs = Number(flags['duration-ms']);
const rounds = Number(flags.rounds);
if (!(durationMs > 0) || !(rounds >= 1)) throw new Error('--duration-ms and --rounds must be positive numbers');

const FRAMES: readonly (readonly [name: string, frame: unknown[]])[] = [
  ['PUBLISH', [16, 239714735, { acknowledge: true }, 'com.myapp.mytopic1', ['Hello, world!'], { color: 'orange', sizes: [23, 42, 7] }]],
  ['EVENT', [36, 5512315355, 4429313566, { publisher: 3335656 }, ['Hello, world!'], { color: 'orange', sizes: [23, 42, 7] }]],
  ['CALL', [48, 7814135, {}, 'com.myapp.add2', [23, 7]]],
  ['YIELD', [70, 6131533, {}, [30]]],
  // The price of a rejection: parseMessage builds its message and throws.
  ['PUBLISH, ID 0 (rejected)', [16, 0, {}, 'com.myapp.mytopic1', ['Hello, world!']]],
];

function isValidator(value: unknown): value is (data: unknown) => boolean {
  return typeof value === 'function';
}

const schema: unknown = JSON.parse(readFileSync(schemaUrl('messages'), 'utf8'));
if (typeof schema !== 'object' || schema === null) throw new Error('messages.schema.json is not a JSON object');

// In-process compilation (what a router would do at start-up).
const compiled = new Ajv().compile(schema);

// Standalone: the same validator emitted as an ES module with no ajv at run time, then imported.
const sourceAjv = new Ajv({ code: { source: true, esm: true } });
const source = standalone.default(sourceAjv, sourceAjv.compile(schema));
const standaloneModule: { default?: unknown } = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
const standaloneValidate = standaloneModule.default;
if (!isValidator(standaloneValidate)) throw new Error('ajv standalone code has no default export');

// Each check returns a number so the loop has a result to keep (no dead-code elimination), and
// the parsed message is stored outside the loop so V8 cannot skip allocating it.
let kept: WampMessage | undefined;
const CHECKS: readonly (readonly [name: string, check: Check])[] = [
  [
    'parseMessage',
    (frame) => {
      try {
        kept = parseMessage(frame);
        return kept.code;
      } catch (err) {
        if (err instanceof DecodeError) return -1;
        throw err;
      }
    },
  ],
  ['ajv compiled', (frame) => (compiled(frame) ? 1 : -1)],
  ['ajv standalone', (frame) => (standaloneValidate(frame) ? 1 : -1)],
];

// The verdicts must agree before the speed means anything.
for (const [name, frame] of FRAMES) {
  const verdicts = CHECKS.map(([, check]) => check(frame) > 0);
  if (verdicts.some((v) => v !== verdicts[0])) throw new Error(`${name}: validators disagree (${verdicts.join(', ')})`);
}

type Loop = (check: Check, frame: unknown, iterations: number) => number;

/**
 * A fresh loop function per cell, so its call site sees one check only (as a real caller's does)
 * rather than every check through one megamorphic site that V8 will not inline.
 */
function makeLoop(cell: string): Loop {
  const body = `'use strict'; // ${cell.replace(/[^\w ,]/g, '')}
    let sink = 0;
    for (let i = 0; i < iterations; i++) sink += check(frame);
    return sink;`;
  return new Function('check', 'frame', 'iterations', body) as Loop;
}

interface Cell {
  readonly loop: Loop;
  readonly check: Check;
  readonly frame: unknown;
  iterations: number;
  readonly samples: number[];
}

let sink = 0;

function timeMs(cell: Cell, iterations: number): number {
  const start = process.hrtime.bigint();
  sink += cell.loop(cell.check, cell.frame, iterations);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const cells: Cell[][] = FRAMES.map(([frameName, frame]) =>
  CHECKS.map(([checkName, check]) => ({ loop: makeLoop(`${frameName} ${checkName}`), check, frame, iterations: 0, samples: [] })),
);

// Warm up and size each cell's run to about `durationMs`.
for (const cell of cells.flat()) {
  let iterations = 1_000;
  while (timeMs(cell, iterations) < durationMs / 10) iterations *= 2;
  cell.iterations = Math.max(1, Math.round((iterations * durationMs) / Math.max(timeMs(cell, iterations), 1e-3)));
}
// Rounds interleave the cells, so a noisy neighbour slows all of them alike.
for (let r = 0; r < rounds; r++) {
  for (const cell of cells.flat()) cell.samples.push(cell.iterations / (timeMs(cell, cell.iterations) / 1e3));
}
if (sink === Number.MIN_SAFE_INTEGER) console.log(sink, kept); // never true; keeps results live

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const rows: string[][] = FRAMES.map(([frameName], f) => {
  const results = (cells[f] ?? []).map((cell) => median(cell.samples));
  const [parse = Number.NaN, ajvCompiled = Number.NaN] = results;
  return [frameName, ...results.map(formatOps), `${(parse / ajvCompiled).toFixed(1)}×`];
});

function formatOps(ops: number): string {
  return ops >= 1e6 ? `${(ops / 1e6).toFixed(2)} M` : `${(ops / 1e3).toFixed(0)} k`;
}

const header = ['frame', ...CHECKS.map(([name]) => `${name} ops/s`), 'parse / ajv'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
const line = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
console.log(`node ${process.version}, ${rounds} rounds of ${durationMs} ms per cell, median shown`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
