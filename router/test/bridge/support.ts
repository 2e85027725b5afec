/**
 * HTTP bridge test support: a router with bridge paths on an ephemeral port, real HTTP requests
 * (fetch, and raw sockets for what fetch will not send), WAMP subscribers and callees as raw
 * peers, and an independent signature computation (node:crypto only, not the router's module).
 * Every wait is bounded.
 */
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { expect } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { BridgePathFile, Router, RouterConfigFile, WebSocketListenerFile } from '@switchboard/router';
import { RawPeer, startTestRouter, within } from '../helpers.js';

export type BridgePaths = Record<string, BridgePathFile>;

/** A router whose websocket listener has these bridge paths. `config` adds realms and the like. */
export async function bridgeRouter(paths: BridgePaths, config: RouterConfigFile = {}, listener: Partial<WebSocketListenerFile> = {}): Promise<Router> {
  return startTestRouter({ ...config, listeners: [{ ...listener, type: 'websocket', http: { paths } }] });
}

export function httpBase(router: Router): string {
  const a = router.addresses[0]!;
  return `http://127.0.0.1:${a.port}`;
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

async function answer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** POST a body (a value is sent as JSON with Content-Type application/json). */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}, method = 'POST'): Promise<HttpAnswer> {
  const text = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const res = await within(fetch(url, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: text }), 5000, `${method} ${url}`);
  return answer(res);
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  return answer(await within(fetch(url, init), 5000, `${init.method ?? 'GET'} ${url}`));
}

/** Sends `text` as it is over TCP and returns everything the server writes until it closes. */
export function rawHttp(port: number, text: string | Buffer): Promise<string> {
  return within(
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.write(text);
      // The server answers and closes (Connection: close on every refusal of this kind).
      setTimeout(() => socket.end(), 500).unref();
    }),
    5000,
    'a raw HTTP answer',
  );
}

/** The status codes of every response in a raw HTTP answer, in order. */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

/**
 * Crossbar's signature, computed here independently: base64url with padding of
 * HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body).
 */
export function signature(secret: string, key: string, timestamp: string, seq: string, nonce: string, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(key).update(timestamp).update(seq).update(nonce).update(body).digest('base64');
  return mac.replace(/\+/g, '-').replace(/\//g, '_');
}

export interface Signed {
  query: string;
  params: Record<string, string>;
}

/** The query string of a signed request for `body`. */
export function signedQuery(secret: string, key: string, body: string | Buffer, fields: { timestamp?: string; seq?: number; nonce?: number } = {}): Signed {
  const params = {
    key,
    timestamp: fields.timestamp ?? new Date().toISOString(),
    seq: String(fields.seq ?? 1),
    nonce: String(fields.nonce ?? Math.floor(Math.random() * 2 ** 53)),
    signature: '',
  };
  params.signature = signature(secret, key, params.timestamp, params.seq, params.nonce, body);
  return { query: new URLSearchParams(params).toString(), params };
}

/** A joined raw peer subscribed to `topic`. */
export async function subscriber(
  router: Router,
  topic: string,
  options: Record<string, unknown> = {},
): Promise<RawPeer & { session: number; subscription: number }> {
  const peer = await RawPeer.join(router.url);
  peer.send([MessageCode.Subscribe, peer.nextRequest(), options, topic]);
  const subscribed = await peer.next();
  expect(subscribed[0], JSON.stringify(subscribed)).toBe(MessageCode.Subscribed);
  return Object.assign(peer, { subscription: subscribed[2] as number });
}

/** The next EVENT a raw peer receives (fails on anything else). */
export async function nextEvent(
  peer: RawPeer,
  ms = 3000,
): Promise<{ publication: number; details: Record<string, unknown>; args: unknown[] | undefined; kwargs: Record<string, unknown> | undefined }> {
  const m = await peer.next(ms);
  expect(m[0], JSON.stringify(m)).toBe(MessageCode.Event);
  return {
    publication: m[2] as number,
    details: m[3] as Record<string, unknown>,
    args: m[4] as unknown[] | undefined,
    kwargs: m[5] as Record<string, unknown> | undefined,
  };
}

export type Handler = (args: unknown[], kwargs: Record<string, unknown>) => { args?: unknown[]; kwargs?: Record<string, unknown>; error?: string } | 'never';

/** A raw peer that registers `procedure` and answers each INVOCATION with `handler`. */
export async function callee(router: Router, procedure: string, handler: Handler): Promise<RawPeer & { session: number }> {
  const peer = await RawPeer.join(router.url);
  peer.send([MessageCode.Register, peer.nextRequest(), {}, procedure]);
  const registered = await peer.next();
  expect(registered[0], JSON.stringify(registered)).toBe(MessageCode.Registered);
  peer.ws.on('message', (data: Buffer) => {
    const m = peer.codec.decode(data.toString('utf8'));
    if (!Array.isArray(m) || m[0] !== MessageCode.Invocation) return;
    const out = handler((m[4] as unknown[] | undefined) ?? [], (m[5] as Record<string, unknown> | undefined) ?? {});
    if (out === 'never') return;
    if (out.error !== undefined) peer.send([MessageCode.Error, MessageCode.Invocation, m[1], {}, out.error, out.args ?? [], out.kwargs ?? {}]);
    else peer.send([MessageCode.Yield, m[1], {}, out.args ?? [], out.kwargs ?? {}]);
  });
  return peer;
}
