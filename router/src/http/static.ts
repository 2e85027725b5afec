/**
 * Static files on a listener's HTTP server: URL path prefixes ("mounts") mapped to directories,
 * from the listener's `static` config. GET and HEAD only (405 for other methods on a file that
 * exists, 404 for one that does not); no directory listings;
 * a directory answers with its index file, and a redirect to `path/` first so that relative URLs
 * in the page work. Validators are a weak ETag (size and mtime) and Last-Modified, answered with
 * 304; Cache-Control is `no-cache` (revalidate every time) unless the mount sets maxAgeSeconds.
 *
 * Safety: every URL segment is percent-decoded on its own and refused if it is `.`/`..`, empty
 * (`//`), starts with a dot (`.git`, `.env`), or holds `/`, `\` or NUL; the file's real path (after
 * symlinks) must still lie inside the mount's real directory. Refusals are plain 404s, so a probe
 * learns nothing about the file system.
 */
import { realpathSync, statSync } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve as resolvePath, sep } from 'node:path';
import { pathOf, sendJson } from './server.js';

/** One entry of a listener's `static` map. */
export interface StaticMountConfig {
  /** The directory served (absolute, or relative to the config file; to the working directory in code). */
  directory: string;
  /** The file a directory answers with (default `index.html`). */
  index?: string;
  /** Cache-Control max-age in seconds; 0 (default) sends `no-cache`, so browsers revalidate with the ETag. */
  maxAgeSeconds?: number;
}

/** URL path prefix (`/`, `/lib`) → mount. */
export type StaticConfig = Record<string, StaticMountConfig>;

/** Content types by file extension; text types carry `charset=utf-8`. Anything else is application/octet-stream. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.pdf': 'application/pdf',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

interface Mount {
  /** `/` or `/lib` (no trailing slash). */
  readonly prefix: string;
  /** Real path of the directory, without a trailing separator. */
  readonly root: string;
  readonly index: string;
  readonly cacheControl: string;
}

const ALLOW = 'GET, HEAD';

/** Why a mount's directory cannot be served, or undefined if it can. */
function directoryProblem(directory: string): string | undefined {
  try {
    return statSync(directory).isDirectory() ? undefined : `${directory} is not a directory`;
  } catch (err) {
    return `cannot serve ${directory}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

/** A JSON pointer token: `/lib` → `~1lib`. */
const pointerToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

export class StaticFiles {
  /** Longest prefix first, so `/lib` wins over `/`. */
  readonly #mounts: Mount[];

  /**
   * Checks every mount's directory now (a missing one is an error naming its config field, e.g.
   * `/listeners/0/static/~1lib/directory`) and resolves it to its real path.
   */
  constructor(config: StaticConfig, pointer = '/static') {
    const problems: string[] = [];
    const mounts: Mount[] = [];
    for (const [prefix, mount] of Object.entries(config)) {
      const directory = resolvePath(mount.directory);
      const problem = directoryProblem(directory);
      if (problem !== undefined) {
        problems.push(`${pointer}/${pointerToken(prefix)}/directory: ${problem}`);
        continue;
      }
      const maxAge = mount.maxAgeSeconds ?? 0;
      mounts.push({
        prefix: prefix === '/' ? '/' : prefix.replace(/\/+$/, ''),
        root: realpathSync(directory),
        index: mount.index ?? 'index.html',
        cacheControl: maxAge > 0 ? `public, max-age=${maxAge}` : 'no-cache',
      });
    }
    if (problems.length > 0) throw new Error(`static files: ${problems.join('; ')}`);
    this.#mounts = mounts.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Answers a request: the file, 304, 301 to a directory's `/`, 404, 405 or 400. Never throws. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#serve(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'cannot read the file' });
      else res.destroy();
    });
  };

  #mount(path: string): Mount | undefined {
    return this.#mounts.find((m) => m.prefix === '/' || path === m.prefix || path.startsWith(`${m.prefix}/`));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const mount = this.#mount(path);
    if (mount === undefined) return sendJson(res, 404, { error: `no resource at ${path}` });
    const rest = mount.prefix === '/' ? path.slice(1) : path.slice(mount.prefix.length + 1);
    const segments = decodeSegments(rest);
    if (segments === 'malformed') return sendJson(res, 400, { error: 'malformed percent-encoding in the path' });
    if (segments === undefined) return notFound(res, path);
    // `/lib` (a mount without its slash) is redirected like any directory; `/lib/` and `/` get the index.
    const bare = mount.prefix !== '/' && path === mount.prefix;
    const index = !bare && (rest === '' || rest.endsWith('/')) ? mount.index : undefined;
    const file = await this.#open(mount, segments, index);
    if (file === undefined) return notFound(res, path);
    const { handle } = file;
    let streaming = false;
    try {
      // 405 only for what exists: a POST to an unknown path is still a 404.
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendJson(res, 405, { error: `${req.method ?? '?'} is not allowed on static files (${ALLOW})` }, { Allow: ALLOW });
      }
      const stat = await handle.stat();
      if (stat.isDirectory()) {
        if (index !== undefined) return notFound(res, path);
        // `/docs` → `/docs/`, keeping the query, so that the index page's relative links resolve.
        const url = req.url ?? path;
        const q = url.indexOf('?');
        return redirect(res, `${path}/${q === -1 ? '' : url.slice(q)}`);
      }
      if (!stat.isFile()) return notFound(res, path);
      const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
      const headers: Record<string, string | number> = {
        // By the name asked for, not a symlink's target.
        'Content-Type': contentTypeOf(file.name),
        ETag: etag,
        'Last-Modified': stat.mtime.toUTCString(),
        'Cache-Control': mount.cacheControl,
        'X-Content-Type-Options': 'nosniff',
      };
      if (notModified(req, etag, stat.mtimeMs)) {
        delete headers['Content-Type'];
        res.writeHead(304, headers).end();
        return;
      }
      headers['Content-Length'] = stat.size;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // The stream owns the file handle from here and closes it.
      const stream = handle.createReadStream({ autoClose: true });
      streaming = true;
      stream.on('error', () => res.destroy());
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    } finally {
      if (!streaming) await handle.close();
    }
  }

  /**
   * Opens the file `segments` name under the mount (or `index` inside that directory). undefined
   * when it does not exist or its real path leaves the mount's directory.
   */
  async #open(mount: Mount, segments: string[], index: string | undefined): Promise<{ handle: FileHandle; name: string } | undefined> {
    const candidate = join(mount.root, ...segments, ...(index === undefined ? [] : [index]));
    if (candidate !== mount.root && !candidate.startsWith(mount.root + sep)) return undefined;
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      return undefined;
    }
    // A symlink may point anywhere; only what really lies inside the directory is served.
    if (real !== mount.root && !real.startsWith(mount.root + sep)) return undefined;
    try {
      return { handle: await open(real, 'r'), name: candidate };
    } catch {
      return undefined;
    }
  }
}

/**
 * The path below a mount as file-name segments (a trailing empty one dropped): undefined when a
 * segment must not be served, 'malformed' when percent-decoding fails.
 */
export function decodeSegments(rest: string): string[] | undefined | 'malformed' {
  if (rest === '') return [];
  const raw = rest.split('/');
  if (raw[raw.length - 1] === '') raw.pop();
  const out: string[] = [];
  for (const part of raw) {
    let name: string;
    try {
      name = decodeURIComponent(part);
    } catch {
      return 'malformed';
    }
    // Empty (`//`), `.`, `..` and dotfiles, separators smuggled in encoded, NUL.
    if (name === '' || name.startsWith('.') || /[/\\\0]/.test(name)) return undefined;
    out.push(name);
  }
  return out;
}

/** If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2); ETags compare weakly. */
function notModified(req: IncomingMessage, etag: string, mtimeMs: number): boolean {
  const match = req.headers['if-none-match'];
  if (match !== undefined) {
    const weak = (tag: string): string => tag.trim().replace(/^W\//, '');
    return match.trim() === '*' || match.split(',').some((tag) => weak(tag) === weak(etag));
  }
  const since = req.headers['if-modified-since'];
  if (since === undefined) return false;
  const t = Date.parse(since);
  // HTTP dates have whole seconds.
  return !Number.isNaN(t) && Math.floor(mtimeMs / 1000) * 1000 <= t;
}

function notFound(res: ServerResponse, path: string): void {
  sendJson(res, 404, { error: `no file at ${path}` });
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(301, { Location: location, 'Content-Length': 0 }).end();
}
