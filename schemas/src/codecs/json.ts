import type { Codec } from './codec.js';
import { fromBase64, toBase64 } from './base64.js';

/**
 * JSON, with binary as a string of "\0" followed by base64. [bp_binary_conversion_of_json]
 * JSON text encodes the NUL character as the escape \u0000, so a frame without that escape
 * cannot hold binary and is parsed without a reviver (the common, fast case).
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function reviveBinary(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.charCodeAt(0) === 0) return fromBase64(value.slice(1));
  return value;
}

function hasBinary(value: unknown, depth: number): boolean {
  if (value instanceof Uint8Array) return true;
  if (typeof value !== 'object' || value === null || depth > 64) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasBinary(value[i], depth + 1)) return true;
    return false;
  }
  for (const key in value) if (hasBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

// JSON.stringify calls Buffer#toJSON before a replacer sees the value, so the replacer reads the
// original from its holder (`this`).
function replaceBinary(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  return original instanceof Uint8Array ? '\0' + toBase64(original) : value;
}

export const jsonCodec: Codec = {
  name: 'json',
  subprotocol: 'wamp.2.json',
  rawSocketId: 1,
  binary: false,
  encode(message: unknown[]): string {
    return hasBinary(message, 0) ? JSON.stringify(message, replaceBinary) : JSON.stringify(message);
  },
  decode(frame: string | Uint8Array): unknown {
    const text = typeof frame === 'string' ? frame : utf8.decode(frame);
    return text.includes('\\u0000') ? JSON.parse(text, reviveBinary) : JSON.parse(text);
  },
};
