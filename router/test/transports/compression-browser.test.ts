/**
 * permessage-deflate with a real browser (Debian's /usr/bin/chromium, driven by playwright-core):
 * Chromium offers the extension by itself and accepts the router's answer
 * (server_no_context_takeover, client_no_context_takeover); a large EVENT reaches the page intact
 * and compressed, and what the page publishes (which Chromium compresses) reaches a Node peer
 * intact. Fails, naming what to install, without Chromium.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { openPage, serveFiles } from '../../../client/test/browser-helpers.js';
import { RawPeer, startTestRouter } from '../helpers.js';

describe('permessage-deflate with Chromium', () => {
  it('negotiated by the browser by itself; large EVENTs arrive intact, what it publishes too', { timeout: 60_000 }, async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', compression: {} }] });
    const node = await RawPeer.join(router.url, 'json', 'realm1', { perMessageDeflate: false });
    node.send([MessageCode.Subscribe, node.nextRequest(), {}, 'com.browser.out']);
    expect((await node.next())[0]).toBe(MessageCode.Subscribed);
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-deflate-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>deflate</title>');
    const base = await serveFiles({ '/index.html': join(dir, 'index.html') });
    const { page, errors } = await openPage();
    await page.goto(`${base}/index.html`);
    // The page joins, subscribes and reports; then waits for one EVENT and publishes what it got.
    const joined = page.evaluate(
      (url) =>
        new Promise<string>((resolve, reject) => {
          const ws = new WebSocket(url, ['wamp.2.json']);
          (globalThis as unknown as { sb: WebSocket }).sb = ws;
          ws.onerror = () => reject(new Error('WebSocket error'));
          ws.onopen = () => ws.send(JSON.stringify([1, 'realm1', { roles: { subscriber: {}, publisher: {} } }]));
          ws.onmessage = (m) => {
            const msg = JSON.parse(String(m.data)) as unknown[];
            if (msg[0] === 2) ws.send(JSON.stringify([32, 1, {}, 'com.browser.in']));
            else if (msg[0] === 33) resolve(ws.extensions);
            else if (msg[0] === 36) ws.send(JSON.stringify([16, 2, {}, 'com.browser.out', [(msg[4] as unknown[])[0], 'from the browser']]));
          };
        }),
      router.url,
    );
    const extensions = await joined;
    expect(extensions).toContain('permessage-deflate');
    expect(extensions).toContain('server_no_context_takeover');
    expect(extensions).toContain('client_no_context_takeover');

    const big = Array.from({ length: 3000 }, (_, i) => `item ${i % 97}`).join(',');
    node.send([MessageCode.Publish, node.nextRequest(), {}, 'com.browser.in', [big]]);
    // The page echoes it back through the router: compressed both ways, intact.
    const echoed = await node.next(10_000);
    expect(echoed[0]).toBe(MessageCode.Event);
    expect(echoed[4]).toEqual([big, 'from the browser']);
    expect(errors).toEqual([]);
  });
});
