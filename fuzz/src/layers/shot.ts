/**
 * A shot: what one generator connection sends, generated from a seed before it is sent, so that
 * it can be replayed as it was against a fresh router to find which one crashed it.
 */
import type { Endpoints } from '../target.js';
import type { Rng } from '../rng.js';

export type LayerName = 'websocket' | 'wsframe' | 'rawsocket' | 'longpoll' | 'bridge' | 'sse';
export const LAYER_NAMES: readonly LayerName[] = ['websocket', 'wsframe', 'rawsocket', 'longpoll', 'bridge', 'sse'];

export function isLayerName(value: string): value is LayerName {
  return (LAYER_NAMES as readonly string[]).includes(value);
}

export interface Shot {
  readonly layer: LayerName;
  /** How many frames (messages, raw frames or HTTP requests) it sends. */
  readonly frames: number;
  /** A short description for the report, and a JSON-able form for the reproducer file. */
  describe(): string;
  dump(): unknown;
  /** Sends it; resolves when done (bounded in time), never rejects. */
  fire(target: Endpoints): Promise<void>;
}

export interface Layer {
  readonly name: LayerName;
  /** A shot of at most `maxFrames` frames. */
  generate(rng: Rng, maxFrames: number): Shot;
}

/** Resolves after `ms`, or earlier when `signal` fires; never rejects. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Printable preview of a frame. */
export function preview(frame: string | Uint8Array, max = 160): string {
  if (typeof frame === 'string') return JSON.stringify(frame.length > max ? `${frame.slice(0, max)}…(${frame.length})` : frame);
  const hex = Buffer.from(frame.subarray(0, max / 2)).toString('hex');
  return `hex:${hex}${frame.length > max / 2 ? `…(${frame.length} bytes)` : ''}`;
}

export function dumpFrame(frame: string | Uint8Array): unknown {
  return typeof frame === 'string'
    ? { text: frame.length > 4096 ? `${frame.slice(0, 4096)}…` : frame, length: frame.length }
    : { base64: Buffer.from(frame.subarray(0, 65536)).toString('base64'), length: frame.length };
}
