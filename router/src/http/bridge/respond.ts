/**
 * Answers of the bridge: Crossbar's common headers (CORS, no caching), its JSON error body
 * `{"error": message, "args": [], "kwargs": {}}`, and JSON results.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonCodec } from '@switchboard/schemas';

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

/** Crossbar's headers on every answer of a bridge path. [Crossbar: _set_common_headers] */
export function commonHeaders(req: IncomingMessage, res: ServerResponse, contentType = 'application/json; charset=UTF-8'): void {
  const origin = req.headers.origin;
  res.setHeader('Access-Control-Allow-Origin', origin === undefined || origin === 'null' ? '*' : origin);
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  res.setHeader('Cache-Control', 'no-store,no-cache,must-revalidate,max-age=0');
  res.setHeader('Content-Type', contentType);
  const requested = req.headers['access-control-request-headers'];
  if (requested !== undefined) res.setHeader('Access-Control-Allow-Headers', requested);
}

/** OPTIONS: 200, empty, with the methods allowed. */
export function answerOptions(res: ServerResponse, methods: string): void {
  res.setHeader('Allow', methods);
  res.setHeader('Access-Control-Allow-Methods', methods);
  res.writeHead(200, { 'Content-Length': 0 });
  res.end();
}

/** A JSON body; binary values follow WAMP's JSON convention ("\0" + base64). */
export function sendBody(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // jsonCodec writes a list; the outer brackets are cut off again.
  const text = (jsonCodec.encode([body]) as string).slice(1, -1);
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
