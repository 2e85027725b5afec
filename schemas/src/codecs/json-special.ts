/**
 * Where the next byte a JSON string cannot hold as itself is — a quote, a backslash or a control
 * character — in UTF-8 bytes: the long runs of the JSON payload scan (json-validate.ts), 16 bytes
 * a step in WebAssembly SIMD (json-special.wat) instead of a character a step. At 64 KiB of
 * payload the regular expression this replaces was a third of the router's CPU per call.
 *
 * WebAssembly cannot read a Buffer in place: the bytes go through the module's one page of memory
 * in windows of up to 64 KiB, each byte of a scan copied at most once (a native copy). A scan is
 * one frame's, from `beginSpecial`; the calls after it move forward through the same bytes.
 * Where WebAssembly or its SIMD is missing, a JavaScript loop gives the same answers.
 */
import { fromBase64 } from './base64.js';

/**
 * json-special.wat, compiled: written by `node scripts/wasm.mjs`, checked against the source by
 * schemas/test/unit/json-special.test.ts.
 */
export const SPECIAL_WASM =
  'AGFzbQEAAAABBwFgAn9/AX8DAgEABQQBAQEBBxQCBm1lbW9yeQIAB3NwZWNpYWwAAAq5AQG2AQMBfwF7An8gACECAkADQCACQRBqIAFLDQEgAv0AAAAhAyAD/QwgICAgICAgICAgICAgICAg/SYgA/0MIiIiIiIiIiIiIiIiIiIiIv0j/VAgA/0MXFxcXFxcXFxcXFxcXFxcXP0j/VD9ZCEEIAQEQCACIARoag8LIAJBEGohAgwACwsCQANAIAIgAU8NASACLQAAIQUgBUEgSSAFQSJGIAVB3ABGcnINASACQQFqIQIMAAsLIAIL';

const WINDOW = 65536;

interface SpecialModule {
  readonly special: (from: number, to: number) => number;
  readonly memory: Uint8Array;
}

/** The instance: undefined until first used, null where it cannot load. */
let wasm: SpecialModule | null | undefined;

/** What this module uses of the WebAssembly API (not in the libraries this package compiles with). */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: { special: (from: number, to: number) => number; memory: { buffer: ArrayBuffer } } };
}

function load(): SpecialModule | null {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    const { exports } = new api.Instance(new api.Module(fromBase64(SPECIAL_WASM)));
    return { special: exports.special, memory: new Uint8Array(exports.memory.buffer) };
  } catch {
    return null; // no SIMD: the JavaScript loop
  }
}

/** The bytes of the scan under way and the window of them in the module's memory. */
let source: Uint8Array | undefined;
let windowStart = 0;
let windowEnd = 0;

/** Starts a scan: forgets the window of the one before. */
export function beginSpecial(): void {
  source = undefined;
  windowStart = 0;
  windowEnd = 0;
}

function isSpecial(b: number): boolean {
  return b < 0x20 || b === 0x22 || b === 0x5c;
}

/** The JavaScript loop: the same answer as the module's. */
export function specialByLoop(bytes: Uint8Array, from: number): number {
  const end = bytes.length;
  let i = from;
  while (i < end && !isSpecial(bytes[i]!)) i++;
  return i;
}

/**
 * The offset of the first quote, backslash or byte below 0x20 at or after `from` in `bytes`;
 * `bytes.length` if there is none. Calls between two `beginSpecial` must give the same bytes and
 * offsets that do not go back.
 */
export function nextSpecial(bytes: Uint8Array, from: number): number {
  const module = wasm === undefined ? (wasm = load()) : wasm;
  if (module === null) return specialByLoop(bytes, from);
  if (bytes !== source) {
    source = bytes;
    windowStart = 0;
    windowEnd = 0;
  }
  const end = bytes.length;
  let i = from;
  for (;;) {
    if (i >= end) return end;
    if (i < windowStart || i >= windowEnd) {
      windowStart = i;
      windowEnd = Math.min(end, i + WINDOW);
      module.memory.set(bytes.subarray(windowStart, windowEnd), 0);
    }
    const at = module.special(i - windowStart, windowEnd - windowStart) + windowStart;
    if (at < windowEnd) return at;
    i = windowEnd;
  }
}

/** Whether the module is in use (false: the JavaScript loop). For tests and the benchmark notes. */
export function specialIsWasm(): boolean {
  if (wasm === undefined) wasm = load();
  return wasm !== null;
}
