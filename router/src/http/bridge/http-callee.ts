/**
 * An HTTP callee: a procedure that performs an HTTP request, with Crossbar's RESTCallee contract:
 * called with `method`, `url` (relative to baseUrl), `body?`, `headers?` ({name: value or
 * [values]}), `params?` (query parameters), as keywords or in that positional order; answers one
 * result `{"code", "content", "headers": {name: [values]}}`. Unlike Crossbar, a URL that leaves
 * baseUrl (another host, or above its path) is refused with wamp.error.invalid_argument, so a
 * caller cannot make the router request arbitrary addresses.
 */
import { ErrorUri, WampError, isDict } from '@switchboard/schemas';
import type { Args, Kwargs } from '@switchboard/schemas';
import type { HttpCalleeFile } from './config.js';
import type { BridgeSession, InvocationDetails } from './local-session.js';
import type { SessionPool } from './sessions.js';

function invalid(message: string): WampError {
  return new WampError(ErrorUri.InvalidArgument, [message]);
}

export class HttpCallee {
  #session: BridgeSession | undefined;
  readonly #base: URL;

  constructor(private readonly config: HttpCalleeFile) {
    this.#base = new URL(config.baseUrl);
  }

  async start(pool: SessionPool): Promise<void> {
    const c = this.config;
    this.#session = await pool.open({ realm: c.realm, authid: c.authid ?? 'http-integration', authrole: c.role });
    await this.#session.register(c.procedure, {}, (args, kwargs, invocation) => this.#request(args, kwargs, invocation));
  }

  close(): void {
    this.#session?.close();
  }

  /** The request's URL, which must stay under baseUrl. */
  #target(url: string, params: unknown): URL {
    const target = new URL(url, this.#base);
    const basePath = this.#base.pathname.endsWith('/') ? this.#base.pathname : this.#base.pathname.replace(/[^/]*$/, '');
    if (target.origin !== this.#base.origin || !target.pathname.startsWith(basePath)) throw invalid(`url must stay under ${this.#base.href}`);
    if (params !== undefined) {
      if (!isDict(params)) throw invalid('params must be a dict');
      for (const [name, value] of Object.entries(params)) target.searchParams.append(name, String(value));
    }
    return target;
  }

  async #request(args: Args, kwargs: Kwargs, invocation: InvocationDetails): Promise<{ args: Args }> {
    const [method0, url0, body0, headers0, params0] = args;
    const method = kwargs['method'] ?? method0;
    const url = kwargs['url'] ?? url0;
    const body = kwargs['body'] ?? body0 ?? '';
    const headers = kwargs['headers'] ?? headers0 ?? {};
    if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) throw invalid('method must be an HTTP method');
    if (typeof url !== 'string') throw invalid('url must be a string');
    if (typeof body !== 'string') throw invalid('body must be a string');
    if (!isDict(headers)) throw invalid('headers must be a dict');
    const target = this.#target(url, kwargs['params'] ?? params0);
    const h = new Headers();
    for (const [name, value] of Object.entries(headers)) for (const v of Array.isArray(value) ? value : [value]) h.append(name, String(v));
    const verb = method.toUpperCase();
    let res: Response;
    try {
      res = await fetch(target, {
        method: verb,
        headers: h,
        ...(verb !== 'GET' && verb !== 'HEAD' && { body }),
        signal: AbortSignal.any([invocation.signal, AbortSignal.timeout(this.config.timeoutMs ?? 10_000)]),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new WampError(timedOut ? ErrorUri.Timeout : ErrorUri.RuntimeError, [`${verb} ${target.href}: ${(err as Error).message}`]);
    }
    const content = await res.text();
    const out: Record<string, string[]> = {};
    res.headers.forEach((value, name) => (out[name] ??= []).push(value));
    return { args: [{ code: res.status, content, headers: out }] };
  }
}
