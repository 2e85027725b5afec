/**
 * `HttpBridgeClient`: publish and call through a router's HTTP bridge from a backend (Node), with
 * Crossbar's signed requests or a bearer token, and retries. Publishes carry an Idempotency-Key
 * when they may be retried, so a retry never publishes twice on a Switchboard router.
 *
 *   signature = base64url with padding of HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body)
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Args, Kwargs } from '@switchboard/schemas/core';
import { WampError, isDict } from '@switchboard/schemas/core';
import { HttpBridgeError } from './errors.js';

export interface HttpBridgeClientOptions {
  /** The publisher path's URL, e.g. `http://localhost:8080/publish`. */
  publishUrl?: string;
  /** The caller path's URL, e.g. `http://localhost:8080/call`. */
  callUrl?: string;
  /** Signed requests: the path's options.key and options.secret. */
  key?: string;
  secret?: string;
  /** A bearer token of the path (instead of signing). */
  token?: string;
  /** Further attempts after a failed one (network error, 408, 429, 502, 503, 504); default 2. */
  retries?: number;
  /** First backoff; doubles each attempt (default 200 ms). */
  retryDelayMs?: number;
  /** Per attempt (default 10000 ms). */
  timeoutMs?: number;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
}

/** PUBLISH.Options the bridge honours. */
export interface BridgePublishOptions {
  exclude?: number[];
  eligible?: number[];
  exclude_authid?: string[];
  eligible_authid?: string[];
  exclude_authrole?: string[];
  eligible_authrole?: string[];
  exclude_me?: boolean;
  retain?: boolean;
  disclose_me?: boolean;
}

export interface BridgePublication {
  topic: string;
  args?: Args;
  kwargs?: Kwargs;
  options?: BridgePublishOptions;
}

export interface BridgeCallResult {
  args: Args;
  kwargs: Kwargs;
}

const RETRYABLE = new Set([408, 429, 502, 503, 504]);

/** A random integer below 2^53, as Crossbar's clients draw nonces. */
function nonce(): string {
  return (BigInt(`0x${randomBytes(7).toString('hex')}`) & ((1n << 53n) - 1n)).toString();
}

/** The query string of a signed request (exported for tests and for other HTTP clients). */
export function signQuery(key: string, secret: string, body: string, seq: number, now: Date = new Date()): string {
  const timestamp = now.toISOString();
  const n = nonce();
  const signature = createHmac('sha256', secret).update(key).update(timestamp).update(String(seq)).update(n).update(body).digest('base64url') + '=';
  return new URLSearchParams({ key, timestamp, seq: String(seq), nonce: n, signature }).toString();
}

function wampErrorOf(body: unknown): WampError | undefined {
  if (!isDict(body) || typeof body['error'] !== 'string') return undefined;
  const args = Array.isArray(body['args']) ? body['args'] : [];
  const kwargs = isDict(body['kwargs']) ? body['kwargs'] : {};
  return new WampError(body['error'], args, kwargs);
}

export class HttpBridgeClient {
  readonly #options: HttpBridgeClientOptions;
  readonly #fetch: typeof fetch;
  #seq = 0;

  constructor(options: HttpBridgeClientOptions) {
    if ((options.key === undefined) !== (options.secret === undefined)) throw new TypeError('key and secret go together');
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /** Publishes (acknowledged by the router); resolves to the publication ID, rejects with WampError or HttpBridgeError. */
  async publish(topic: string, args?: Args, kwargs?: Kwargs, options?: BridgePublishOptions): Promise<number> {
    const body = await this.#post(
      this.#url('publishUrl'),
      { topic, ...(args !== undefined && { args }), ...(kwargs !== undefined && { kwargs }), ...(options !== undefined && { options }) },
      'publish',
    );
    const error = wampErrorOf(body);
    if (error !== undefined) throw error;
    if (!isDict(body) || typeof body['id'] !== 'number') throw new HttpBridgeError(200, `unexpected answer ${JSON.stringify(body)}`);
    return body['id'];
  }

  /** Publishes a batch in one request (Switchboard only); one publication ID or WampError per publication. */
  async publishBatch(publications: readonly BridgePublication[]): Promise<(number | WampError)[]> {
    const body = await this.#post(this.#url('publishUrl'), publications, 'publish');
    if (!Array.isArray(body)) throw wampErrorOf(body) ?? new HttpBridgeError(200, `unexpected answer ${JSON.stringify(body)}`);
    return body.map((r: unknown) =>
      isDict(r) && typeof r['id'] === 'number' ? r['id'] : (wampErrorOf(r) ?? new WampError('wamp.error.runtime_error', [JSON.stringify(r)])),
    );
  }

  /** Calls; resolves to the RESULT's args and kwargs, rejects with WampError or HttpBridgeError. */
  async call(procedure: string, args?: Args, kwargs?: Kwargs, options: { timeout?: number } = {}): Promise<BridgeCallResult> {
    const body = await this.#post(
      this.#url('callUrl'),
      {
        procedure,
        ...(args !== undefined && { args }),
        ...(kwargs !== undefined && { kwargs }),
        ...(options.timeout !== undefined && { timeout: options.timeout }),
      },
      'call',
    );
    const error = wampErrorOf(body);
    if (error !== undefined) throw error;
    if (!isDict(body)) throw new HttpBridgeError(200, `unexpected answer ${JSON.stringify(body)}`);
    return { args: Array.isArray(body['args']) ? body['args'] : [], kwargs: isDict(body['kwargs']) ? body['kwargs'] : {} };
  }

  #url(which: 'publishUrl' | 'callUrl'): string {
    const url = this.#options[which];
    if (url === undefined) throw new TypeError(`${which} is not set`);
    return url;
  }

  /**
   * One logical request, retried: each attempt is signed afresh (new seq, nonce, timestamp). A
   * publish keeps one Idempotency-Key over its attempts; a call is retried only when the router
   * said no callee could take it (503) or asked to slow down (429), or it was never reached.
   */
  async #post(url: string, payload: unknown, kind: 'publish' | 'call'): Promise<unknown> {
    const o = this.#options;
    const text = JSON.stringify(payload);
    const retries = o.retries ?? 2;
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (o.token !== undefined) headers['Authorization'] = `Bearer ${o.token}`;
    if (kind === 'publish' && retries > 0) headers['Idempotency-Key'] = randomUUID();
    for (let attempt = 0; ; attempt++) {
      const target =
        o.key !== undefined && o.secret !== undefined ? `${url}${url.includes('?') ? '&' : '?'}${signQuery(o.key, o.secret, text, ++this.#seq)}` : url;
      let res: Response;
      try {
        res = await this.#fetch(target, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
      } catch (err) {
        const refused = (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
        if (attempt < retries && (kind === 'publish' || refused)) {
          await this.#backoff(attempt);
          continue;
        }
        throw new HttpBridgeError(0, `${url}: ${(err as Error).message}`, { cause: err });
      }
      const answer = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(answer);
      } catch {
        body = undefined;
      }
      if (res.ok) return body;
      const again = res.status === 503 || res.status === 429 || (kind === 'publish' && RETRYABLE.has(res.status));
      if (again && attempt < retries) {
        await this.#backoff(attempt);
        continue;
      }
      // A strict path relays WAMP errors with their status; anything else is the bridge refusing.
      const wamp = wampErrorOf(body);
      if (wamp?.uri.includes('.') && !wamp.uri.includes(' ')) throw wamp;
      throw new HttpBridgeError(res.status, isDict(body) && typeof body['error'] === 'string' ? body['error'] : answer.slice(0, 200));
    }
  }

  #backoff(attempt: number): Promise<void> {
    const ms = (this.#options.retryDelayMs ?? 200) * 2 ** attempt;
    return new Promise((resolve) => setTimeout(resolve, ms * (0.5 + Math.random() / 2)));
  }
}
