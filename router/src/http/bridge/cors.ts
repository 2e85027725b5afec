/**
 * Who may use a bridge path from a browser page (CORS). A path sends no CORS headers unless its
 * `cors.origins` lists the page's origin (or is `["*"]`), so by default no other web page can
 * read its answers. And since a browser sends some cross-origin requests without asking first
 * (a "simple" POST whose body has no content type), a request whose `Origin` is neither the
 * path's own origin nor listed is refused outright (403), before anything is published or
 * called. A request without `Origin` is not a browser's cross-origin request (curl, a server)
 * and passes. [#14]
 *
 * The path's own origin is judged by host: `Origin`'s host[:port] equal to the request's `Host`
 * (a TLS-terminating proxy in front changes the scheme, not the host), or its host name alone when
 * `Host` has no port (a proxy that passes nginx's `$host`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BridgeCors } from './config.js';

/** The `Origin` header of a request, when it has exactly one. */
function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return typeof origin === 'string' ? origin : undefined;
}

function sameOrigin(origin: string, req: IncomingMessage): boolean {
  const host = req.headers.host?.toLowerCase();
  if (host === undefined) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // A Host without a port (a proxy that passes nginx's $host) is matched by name alone.
  return url.host === host || (!/:\d+$/.test(host) && url.hostname === host);
}

export class CorsPolicy {
  constructor(private readonly cors: BridgeCors | undefined) {}

  /**
   * Sets the CORS headers for an allowed cross-origin request; returns why a request is refused
   * (another origin, not listed), or undefined.
   */
  admit(req: IncomingMessage, res: ServerResponse): string | undefined {
    const origin = originOf(req);
    if (origin === undefined) return req.headers.origin === undefined ? undefined : 'several Origin headers';
    const cors = this.cors;
    if (cors?.origins === 'any') {
      res.setHeader('Access-Control-Allow-Origin', '*');
      this.#preflight(req, res);
      return undefined;
    }
    if (cors !== undefined && typeof cors.origins !== 'string' && cors.origins.has(origin.toLowerCase())) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
      if (cors.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
      this.#preflight(req, res);
      return undefined;
    }
    if (origin !== 'null' && sameOrigin(origin, req)) return undefined;
    return `Origin '${origin}' may not use this path (cors.origins does not list it)`;
  }

  /** A preflight's requested headers are allowed (the origin is trusted); OPTIONS adds the methods. */
  #preflight(req: IncomingMessage, res: ServerResponse): void {
    const requested = req.headers['access-control-request-headers'];
    if (requested !== undefined) res.setHeader('Access-Control-Allow-Headers', requested);
  }
}
