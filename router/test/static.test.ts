/**
 * Static files on a listener (router/src/http/static.ts): content types, validators and 304,
 * HEAD, 405, directory redirects and index files, longest-prefix mounts, every traversal trick we
 * know (sent as raw request targets, never normalised by a client), symlinks out of the directory,
 * the config's schema errors and relative directories, and that a static mount at `/` never
 * shadows the WebSocket path or /health.
 */
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { Router, checkConfig, loadConfig, silentLogger } from '@switchboard/router';
import { contentTypeOf } from '../src/http/static.js';
import type { StaticConfig } from '../src/http/static.js';
import { RawPeer, startTestRouter, within } from './helpers.js';
import { configError, tempDir, writeConfig } from './config/support.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with `target` sent exactly as written (no URL normalisation). */
function http(port: number, target: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return within(
    new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: target, method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    }),
    5000,
    `${options.method ?? 'GET'} ${target}`,
  );
}

/**
 * A site: public/ (the `/` mount) with a secret file next to it, a sub-folder with and without an
 * index, a dotfile, a symlink out and one within; lib/ for the `/lib` mount.
 */
function site(): { root: string; pub: string; lib: string } {
  const root = tempDir();
  const pub = join(root, 'public');
  const lib = join(root, 'lib');
  mkdirSync(join(pub, 'docs'), { recursive: true });
  mkdirSync(join(pub, 'empty'));
  mkdirSync(join(pub, 'library'));
  mkdirSync(lib);
  writeFileSync(join(root, 'secret.txt'), 'TOP SECRET');
  writeFileSync(join(pub, 'index.html'), '<!doctype html><title>home</title>');
  writeFileSync(join(pub, 'app.js'), 'export const x = 1;\n');
  writeFileSync(join(pub, 'style.css'), 'body{}');
  writeFileSync(join(pub, 'data.json'), '{"a":1}');
  writeFileSync(join(pub, 'logo.svg'), '<svg/>');
  writeFileSync(join(pub, 'pixel.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(pub, 'mod.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  writeFileSync(join(pub, 'blob.bin'), Buffer.from([1, 2, 3]));
  writeFileSync(join(pub, 'a file.txt'), 'spaced');
  writeFileSync(join(pub, '.env'), 'PASSWORD=x');
  writeFileSync(join(pub, 'docs', 'index.html'), '<title>docs</title>');
  writeFileSync(join(pub, 'library', 'book.txt'), 'from public/library');
  writeFileSync(join(lib, 'switchboard.js'), 'export {};\n');
  symlinkSync(join(root, 'secret.txt'), join(pub, 'out-link.txt'));
  symlinkSync(root, join(pub, 'out-dir'));
  symlinkSync(join(pub, 'app.js'), join(pub, 'in-link.js'));
  return { root, pub, lib };
}

async function staticRouter(mounts: StaticConfig): Promise<{ router: Router; port: number }> {
  const router = await startTestRouter({ listeners: [{ type: 'websocket', static: mounts }] });
  return { router, port: router.addresses[0]!.port };
}

describe('static files', () => {
  it('serves files with their content type, validators and caching headers', async () => {
    const { pub } = site();
    const { port } = await staticRouter({ '/': { directory: pub } });
    const home = await http(port, '/');
    expect(home.status).toBe(200);
    expect(home.body).toBe('<!doctype html><title>home</title>');
    expect(home.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(home.headers['content-length']).toBe(String(home.body.length));
    expect(home.headers['etag']).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(home.headers['last-modified'] ?? '')).not.toBeNaN();
    expect(home.headers['cache-control']).toBe('no-cache');
    expect(home.headers['x-content-type-options']).toBe('nosniff');
    expect((await http(port, '/index.html?v=3')).body).toBe(home.body);

    const types: [string, string][] = [
      ['/app.js', 'text/javascript; charset=utf-8'],
      ['/style.css', 'text/css; charset=utf-8'],
      ['/data.json', 'application/json; charset=utf-8'],
      ['/logo.svg', 'image/svg+xml; charset=utf-8'],
      ['/pixel.png', 'image/png'],
      ['/mod.wasm', 'application/wasm'],
      ['/blob.bin', 'application/octet-stream'],
      ['/a%20file.txt', 'text/plain; charset=utf-8'],
    ];
    for (const [path, type] of types) {
      const reply = await http(port, path);
      expect([path, reply.status, reply.headers['content-type']]).toEqual([path, 200, type]);
    }
    expect(contentTypeOf('X.JS')).toBe('text/javascript; charset=utf-8');
  });

  it('answers 304 to If-None-Match and If-Modified-Since, HEAD without a body, and max-age when configured', async () => {
    const { pub } = site();
    utimesSync(join(pub, 'app.js'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
    const { port } = await staticRouter({ '/': { directory: pub, maxAgeSeconds: 3600 } });
    const first = await http(port, '/app.js');
    expect(first.headers['cache-control']).toBe('public, max-age=3600');
    expect(first.headers['last-modified']).toBe('Tue, 02 Jan 2024 03:04:05 GMT');
    const etag = first.headers['etag']!;

    const byTag = await http(port, '/app.js', { headers: { 'If-None-Match': `"other", ${etag}` } });
    expect([byTag.status, byTag.body, byTag.headers['etag']]).toEqual([304, '', etag]);
    expect((await http(port, '/app.js', { headers: { 'If-None-Match': etag.slice(2) } })).status).toBe(304); // weak comparison
    expect((await http(port, '/app.js', { headers: { 'If-None-Match': '"stale"' } })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since.
    expect((await http(port, '/app.js', { headers: { 'If-None-Match': '"stale"', 'If-Modified-Since': 'Wed, 01 Jan 2025 00:00:00 GMT' } })).status).toBe(200);
    expect((await http(port, '/app.js', { headers: { 'If-Modified-Since': 'Tue, 02 Jan 2024 03:04:05 GMT' } })).status).toBe(304);
    expect((await http(port, '/app.js', { headers: { 'If-Modified-Since': 'Tue, 02 Jan 2024 03:04:04 GMT' } })).status).toBe(200);

    const head = await http(port, '/app.js', { method: 'HEAD' });
    expect([head.status, head.body, head.headers['content-length'], head.headers['content-type']]).toEqual([200, '', '20', 'text/javascript; charset=utf-8']);
  });

  it('refuses methods other than GET and HEAD on a file with 405 and Allow; an unknown path stays a 404', async () => {
    const { pub } = site();
    const { port } = await staticRouter({ '/': { directory: pub } });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const reply = await http(port, '/app.js', { method });
      expect([method, reply.status, reply.headers['allow']]).toEqual([method, 405, 'GET, HEAD']);
    }
    expect((await http(port, '/publish', { method: 'POST' })).status).toBe(404);
  });

  it('redirects a directory to its slash, serves its index, and lists nothing', async () => {
    const { pub } = site();
    const { port } = await staticRouter({ '/': { directory: pub } });
    const redirect = await http(port, '/docs?x=1');
    expect([redirect.status, redirect.headers['location']]).toEqual([301, '/docs/?x=1']);
    expect((await http(port, '/docs/')).body).toBe('<title>docs</title>');
    expect((await http(port, '/empty/')).status).toBe(404); // no index.html, no listing
    expect((await http(port, '/missing.js')).status).toBe(404);
    expect((await http(port, '/app.js/')).status).toBe(404); // a file is not a directory
    expect(JSON.parse((await http(port, '/missing.js')).body)).toEqual({ error: 'no file at /missing.js' });
  });

  it('uses the longest matching prefix, and a custom index file', async () => {
    const { pub, lib } = site();
    writeFileSync(join(lib, 'main.html'), 'lib home');
    const { port } = await staticRouter({ '/': { directory: pub }, '/lib': { directory: lib, index: 'main.html' } });
    expect((await http(port, '/lib/switchboard.js')).body).toBe('export {};\n');
    expect((await http(port, '/lib')).headers['location']).toBe('/lib/');
    expect((await http(port, '/lib/')).body).toBe('lib home');
    expect((await http(port, '/library/book.txt')).body).toBe('from public/library'); // `/lib` is not a prefix of `/library`
    expect((await http(port, '/lib/app.js')).status).toBe(404);
  });

  it('a mount below `/` leaves other paths to the 404 of the router', async () => {
    const { lib } = site();
    const { port } = await staticRouter({ '/lib': { directory: lib } });
    expect((await http(port, '/lib/switchboard.js')).status).toBe(200);
    expect(JSON.parse((await http(port, '/other')).body)).toEqual({ error: 'no resource at /other' });
  });

  it.each([
    ['/../secret.txt', 404],
    ['/docs/../../secret.txt', 404],
    ['/%2e%2e/secret.txt', 404],
    ['/%2E%2E%2Fsecret.txt', 404],
    ['/docs/..%2f..%2fsecret.txt', 404],
    ['/..%5csecret.txt', 404],
    ['/%5c..%5csecret.txt', 404],
    ['/./app.js', 404],
    ['//secret.txt', 404],
    ['/docs//index.html', 404],
    ['/app.js%00.html', 404],
    ['/.env', 404],
    ['/%2eenv', 404],
    ['/out-link.txt', 404],
    ['/out-dir/secret.txt', 404],
    ['/etc/passwd', 404],
    ['/%E0%A4%A', 400],
    ['/%', 400],
  ])('refuses %s (%i) and never leaves the directory', async (target, status) => {
    const { pub } = site();
    const { port } = await staticRouter({ '/': { directory: pub } });
    const reply = await http(port, target);
    expect(reply.status).toBe(status);
    expect(reply.body).not.toContain('SECRET');
    expect(reply.body).not.toContain('PASSWORD');
  });

  it('follows a symlink that stays inside the directory', async () => {
    const { pub } = site();
    const { port } = await staticRouter({ '/': { directory: pub } });
    const reply = await http(port, '/in-link.js');
    expect([reply.status, reply.headers['content-type'], reply.body]).toEqual([200, 'text/javascript; charset=utf-8', 'export const x = 1;\n']);
  });

  it('never shadows the WebSocket path, /health or WebSocket upgrades', async () => {
    const { pub } = site();
    writeFileSync(join(pub, 'health'), 'not me');
    const { router, port } = await staticRouter({ '/': { directory: pub } });
    expect((await http(port, '/ws')).status).toBe(426);
    expect(JSON.parse((await http(port, '/health')).body)).toMatchObject({ status: 'ok' });
    const peer = await RawPeer.join(router.url);
    expect(peer.welcome[0]).toBe(MessageCode.Welcome);
  });
});

describe('static files in the config', () => {
  it('validates mounts with messages naming the field', () => {
    const problems = configError(() =>
      checkConfig({
        listeners: [
          {
            type: 'websocket',
            static: {
              lib: { directory: 'x' },
              '/a/': { directory: 'y' },
              '/b': { index: 'a/b.html' },
              '/c': { directory: 'z', maxAgeSeconds: -1, gzip: true },
            },
          },
        ],
      }),
    ).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        `/listeners/0/static: 'lib' is not a valid static path: "/", or a path that starts with "/" without a trailing "/", "//", "?", "#", "%" or "\\" (e.g. "/lib")`,
        `/listeners/0/static: '/a/' is not a valid static path: "/", or a path that starts with "/" without a trailing "/", "//", "?", "#", "%" or "\\" (e.g. "/lib")`,
        "/listeners/0/static/~1b: missing required field 'directory'",
        `/listeners/0/static/~1b/index: 'a/b.html' must be a file name, without '/' or '\\' (e.g. "index.html")`,
        '/listeners/0/static/~1c/maxAgeSeconds: must be >= 0',
        "/listeners/0/static/~1c: unknown field 'gzip' (allowed here: directory, index, maxAgeSeconds)",
      ]),
    );
    expect(problems).toHaveLength(6);
    expect(() => checkConfig({ listeners: [{ type: 'rawsocket', static: { '/': { directory: '.' } } }] })).toThrow(/unknown field 'static'/);
  });

  it('resolves relative directories against the config file, and serves them', async () => {
    const { root } = site();
    const path = writeConfig(
      { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, static: { '/': { directory: 'public' }, '/lib': { directory: './lib' } } }] },
      'router.json',
      root,
    );
    const file = loadConfig(path).file;
    const listener = file.listeners?.[0];
    expect(listener?.type === 'websocket' && listener.static).toEqual({ '/': { directory: join(root, 'public') }, '/lib': { directory: join(root, 'lib') } });
    const router = new Router({ config: file, logger: silentLogger() });
    await router.start();
    try {
      expect((await http(router.addresses[0]!.port, '/lib/switchboard.js')).status).toBe(200);
    } finally {
      await router.stop();
    }
  });

  it('a missing directory fails the start, naming the field', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file.txt'), '');
    const router = new Router({
      config: {
        listeners: [
          { type: 'websocket', host: '127.0.0.1', port: 0, static: { '/': { directory: join(dir, 'nope') }, '/f': { directory: join(dir, 'file.txt') } } },
        ],
      },
      logger: silentLogger(),
    });
    await expect(router.start()).rejects.toThrow(
      `static files: /listeners/0/static/~1/directory: cannot serve ${join(dir, 'nope')}: ENOENT; /listeners/0/static/~1f/directory: ${join(dir, 'file.txt')} is not a directory`,
    );
  });
});
