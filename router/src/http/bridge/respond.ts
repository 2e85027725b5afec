/**
 * Answers of the bridge: Crossbar's common headers (no caching), its JSON error body
 * `{"error": message, "args": [], "kwargs": {}}`, and JSON results.
 */
import type { ServerResponse } from 'node:http';
import { EncodeError, ErrorUri, WampError, jsonText } from '@switchboard/schemas';

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
    super(ErrorUri.InvalidArgument, ["the answer holds a string that starts with U+0000, which has no form in the HTTP bridge's JSON"]);
  }
}

/**
 * The bridge's JSON text of a value: binary as "\0" + base64, as WAMP's JSON convention writes it
 * (and as the bridge reads it in bodies, see guard.ts). Throws NotRepresentable for a string that
 * starts with U+0000. [bp_binary_conversion_of_json]
 */
export function bridgeJson(value: unknown): string {
  try {
    return jsonText(value);
  } catch (err) {
    if (err instanceof EncodeError) throw new NotRepresentable();
    throw err;
  }
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
