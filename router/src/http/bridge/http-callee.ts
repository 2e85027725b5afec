/**
 * An HTTP callee: a procedure that performs an HTTP request, with Crossbar's RESTCallee contract:
 * called with `method`, `url` (relative to baseUrl), `body?`, `headers?` ({name: value or
 * [values]}), `params?` (query parameters), as keywords or in that positional order; answers one
 * result `{"code", "content", "headers": {name: [values]}}`. Unlike Crossbar, a URL that leaves
 * baseUrl (another host, other credentials, above its path, dot segments or encoded slashes) is
 * refused with wamp.error.invalid_argument, so a caller cannot make the router request arbitrary
 * addresses; redirects are not followed (a 3xx is the answer, with its own status, headers and
 * body), since a redirect could lead anywhere. The answer's body is read as a stream, at most
 * maxResponseBytes (then the request is aborted and the caller gets
 * switchboard.error.limit_exceeded), and the whole exchange, body included, within timeoutMs.
 */
import { ErrorUri, WampError, isDict } from '@switchboard/schemas';
import type { Args, Kwargs } from '@switchboard/schemas';
import { LIMIT_EXCEEDED } from '../../limits.js';
import type { RouterStats } from '../../stats.js';
import { DEFAULT_CALLEE_MAX_RESPONSE_BYTES, DEFAULT_CALLEE_TIMEOUT_MS } from './config.js';
import type { HttpCalleeFile } from './config.js';
import type { BridgeSession, InvocationDetails } from './local-session.js';
import type { SessionPool } from './sessions.js';

function invalid(message: string): WampError {
  return new WampError(ErrorUri.InvalidArgument, [message]);
}

/** Past maxResponseBytes: the request is aborted and the caller gets this. */
class ResponseTooLarge extends Error {
  override name = 'ResponseTooLarge';
}

/** Whether a path segment, decoded, could climb out of or jump around the base path on some server. */
function hostileSegment(segment: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return true;
  }
  return decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded);
}

export class HttpCallee {
  #session: BridgeSession | undefined;
  readonly #base: URL;

  constructor(
    private readonly config: HttpCalleeFile,
    private readonly stats?: RouterStats,
  ) {
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

  /**
   * The request's URL, which must stay under baseUrl: same origin and credentials, a path under
   * the base's, and no segment that a server might decode into `.`, `..` or a slash.
   */
  #target(url: string, params: unknown): URL {
    let target: URL;
    try {
      target = new URL(url, this.#base);
    } catch {
      throw invalid('url is not a URL');
    }
    const base = this.#base;
    const basePath = base.pathname.endsWith('/') ? base.pathname : base.pathname.replace(/[^/]*$/, '');
    const under = (u: URL): boolean =>
      u.origin === base.origin &&
      u.username === base.username &&
      u.password === base.password &&
      u.pathname.startsWith(basePath) &&
      !u.pathname.slice(basePath.length).split('/').some(hostileSegment);
    if (!under(target)) throw invalid(`url must stay under ${base.href}`);
    if (params !== undefined) {
      if (!isDict(params)) throw invalid('params must be a dict');
      for (const [name, value] of Object.entries(params)) target.searchParams.append(name, String(value));
    }
    // Query parameters cannot move the URL; checked again all the same, on what is sent.
    if (!under(target)) throw invalid(`url must stay under ${base.href}`);
    return target;
  }

  /** The body as text, at most `limit` bytes; past it the request is aborted (`abort`). */
  async #readBody(res: Response, limit: number, abort: AbortController): Promise<string> {
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      abort.abort();
      throw new ResponseTooLarge();
    }
    if (res.body === null) return '';
    const reader = res.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        abort.abort();
        await reader.cancel().catch(() => undefined);
        throw new ResponseTooLarge();
      }
      chunks.push(value);
    }
    return new TextDecoder().decode(Buffer.concat(chunks, size));
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
    const maxBytes = this.config.maxResponseBytes ?? DEFAULT_CALLEE_MAX_RESPONSE_BYTES;
    const abort = new AbortController();
    // One deadline for the whole exchange, body included; the caller's cancel aborts it too.
    const signal = AbortSignal.any([invocation.signal, abort.signal, AbortSignal.timeout(this.config.timeoutMs ?? DEFAULT_CALLEE_TIMEOUT_MS)]);
    let res: Response;
    let content: string;
    try {
      // Not followed: a redirect could lead anywhere (the router's own loopback services).
      res = await fetch(target, {
        method: verb,
        headers: h,
        ...(verb !== 'GET' && verb !== 'HEAD' && { body }),
        redirect: 'manual',
        signal,
      });
      content = await this.#readBody(res, maxBytes, abort);
    } catch (err) {
      if (err instanceof ResponseTooLarge) {
        this.stats?.limitExceeded('maxResponseBytes');
        throw new WampError(LIMIT_EXCEEDED, [`${verb} ${target.href}: the answer is larger than maxResponseBytes (${maxBytes})`], {
          limit: 'maxResponseBytes',
          value: maxBytes,
        });
      }
      const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
      throw new WampError(timedOut ? ErrorUri.Timeout : ErrorUri.RuntimeError, [
        `${verb} ${target.href}: ${timedOut ? 'no complete answer in time' : (err as Error).message}`,
      ]);
    }
    const out: Record<string, string[]> = {};
    res.headers.forEach((value, name) => {
      (out[name] ??= []).push(value);
    });
    return { args: [{ code: res.status, content, headers: out }] };
  }
}
