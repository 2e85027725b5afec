/**
 * Answers of the bridge: Crossbar's common headers (no caching), its JSON error body
 * `{"error": message, "args": [], "kwargs": {}}`, and JSON results.
 */
import type { ServerResponse } from 'node:http';
import { ErrorUri, WampError } from '@switchboard/schemas';

/** An HTTP answer decided before the path's work starts (a refused request). */
export class HttpRefusal extends Error {
  override name = 'HttpRefusal';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Crossbar's headers on every answer of a bridge path, less its CORS headers (Crossbar echoes
 * every Origin with credentials; see cors.ts). [Crossbar: _set_common_headers]
 */
export function commonHeaders(res: ServerResponse, contentType = 'application/json; charset=UTF-8'): void {
  res.setHeader('Cache-Control', 'no-store,no-cache,must-revalidate,max-age=0');
  res.setHeader('Content-Type', contentType);
}

/** OPTIONS: 200, empty, with the methods allowed (and for CORS, when cors.ts allowed the origin). */
export function answerOptions(res: ServerResponse, methods: string): void {
  res.setHeader('Allow', methods);
  if (res.hasHeader('Access-Control-Allow-Origin')) res.setHeader('Access-Control-Allow-Methods', methods);
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
}

/**
 * A value the bridge's JSON cannot carry: a string that starts with U+0000, which JSON readers of
 * WAMP's convention take for binary. A WAMP error (wamp.error.invalid_argument), so that a caller
 * path answers it like any error of its call. [bp_binary_conversion_of_json]
 */
export class NotRepresentable extends WampError {
  constructor() {
    super(ErrorUri.InvalidArgument, ['the answer holds a string that starts with U+0000, which has no form in the HTTP bridge\'s JSON']);
  }
}

/**
 * Whether JSON.stringify needs the replacer: binary, a BigInt (MessagePack and CBOR peers send
 * 64-bit integers) or a string that starts with U+0000. Very deep values go to the replacer.
 */
function needsReplacer(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return value.charCodeAt(0) === 0;
  if (typeof value === 'bigint' || value instanceof Uint8Array) return true;
  if (typeof value !== 'object' || value === null) return false;
  if (depth > 32) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (needsReplacer(value[i], depth + 1)) return true;
    return false;
  }
  for (const key in value) if (needsReplacer((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

// JSON.stringify calls Buffer#toJSON before a replacer sees the value: the original is read from
// its holder (`this`). A BigInt becomes a JSON number, as for JSON peers (exact up to 2^53).
function replace(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const original = this[key];
  if (original instanceof Uint8Array) return '\0' + Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
  if (typeof value === 'string' && value.charCodeAt(0) === 0) throw new NotRepresentable();
  return typeof value === 'bigint' ? Number(value) : value;
}

/**
 * The bridge's JSON text of a value: binary as "\0" + base64, as WAMP's JSON convention writes it
 * (and as the bridge reads it in bodies, see guard.ts). Throws NotRepresentable for a string that
 * starts with U+0000. [bp_binary_conversion_of_json]
 */
export function bridgeJson(value: unknown): string {
  return needsReplacer(value, 0) ? JSON.stringify(value, replace) : JSON.stringify(value);
}

/**
 * A JSON body (see bridgeJson). A body the bridge's JSON cannot carry is answered as the error it
 * is instead, with 502: what the router handed over cannot be passed on.
 */
export function sendBody(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  let text: string;
  try {
    text = bridgeJson(body);
  } catch (err) {
    if (!(err instanceof NotRepresentable)) throw err;
    text = bridgeJson({ error: err.uri, args: err.args, kwargs: err.kwargs });
    status = 502;
  }
  sendText(res, status, text, headers);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Crossbar's shape for a refused request. */
export function sendRefusal(res: ServerResponse, refusal: HttpRefusal): void {
  sendBody(res, refusal.status, { error: refusal.message, args: [], kwargs: {} }, refusal.headers);
}
