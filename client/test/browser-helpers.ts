/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) and a static file
 * server on an ephemeral port, for the browser bundle's tests. Everything is closed when the test
 * finishes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { onTestFinished } from 'vitest';
import { requireSystem } from '../../test/support/system.js';

/** The browser bundle built by `npm run build` (client/scripts/bundle.mjs). */
export function bundlePath(name = 'switchboard.js'): string {
  const path = fileURLToPath(new URL(`../dist/bundle/${name}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run build (tsc -b, then client/scripts/bundle.mjs)`);
  return path;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

/** Serves `files` (URL path → file on disk) on 127.0.0.1; resolves to the base URL. */
export async function serveFiles(files: Record<string, string>): Promise<string> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = files[path];
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    const ext = path.slice(path.lastIndexOf('.'));
    res.writeHead(200, { 'content-type': TYPES[ext] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A headless Chromium page; page errors and console errors are collected. */
export async function openPage(): Promise<{ browser: Browser; page: Page; errors: string[] }> {
  const browser = await chromium.launch({ executablePath: requireSystem('chromium'), headless: true });
  onTestFinished(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  return { browser, page, errors };
}
