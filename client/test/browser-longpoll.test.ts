/**
 * Headless Chromium where WebSocket is blocked (the upgrade path answers 404) while long-poll
 * works: the browser bundle falls back by itself, reports long-poll in the `open` event, and still
 * receives events from a Node session. The page is served by the router itself (static files),
 * so long-poll requests are same-origin.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestRouter } from '../../router/test/helpers.js';
import { bundlePath, openPage } from './browser-helpers.js';
import { nextEvent, open } from './helpers.js';

describe('the browser bundle falling back to long-poll', () => {
  it('WebSocket blocked: falls back to long-poll, receives events, publishes and calls', async () => {
    const router = await startTestRouter({
      listeners: [
        {
          type: 'websocket',
          longpoll: {},
          static: {
            '/bundle': { directory: dirname(bundlePath()) },
            '/page': { directory: fileURLToPath(new URL('./fixtures/', import.meta.url)) },
          },
        },
      ],
    });
    const address = router.addresses[0]!;
    const origin = `http://127.0.0.1:${address.port}`;
    const node = await open(router.url, 'msgpack');
    await node.register('com.lpbrowser.add', (args) => (args as number[])[0]! + (args as number[])[1]!);
    const fromBrowser = await node.subscribe('com.lpbrowser.out');

    const { page, errors } = await openPage();
    const failedRequests: string[] = [];
    page.on('response', (res) => {
      if (res.status() >= 400) failedRequests.push(`${res.status()} ${new URL(res.url()).pathname}`);
    });
    await page.goto(`${origin}/page/blank.html`);
    const opened = await page.evaluate(`(async () => {
      const sb = await import('/bundle/switchboard.js');
      const connection = new sb.Connection({
        realm: 'realm1',
        reconnect: false,
        openTimeoutMs: 5000,
        transports: [
          { type: 'websocket', url: ${JSON.stringify(`ws://127.0.0.1:${address.port}/blocked`)} },
          { type: 'longpoll', url: ${JSON.stringify(address.longpollUrl)} },
        ],
      });
      const openEvent = new Promise((resolve) => connection.on('open', (e) => resolve(e.transport)));
      window.session = await connection.open();
      window.connection = connection;
      window.events = [];
      await window.session.subscribe('com.lpbrowser.in', (args, kwargs) => window.events.push({ args, kwargs }));
      return await openEvent;
    })()`);
    expect(opened).toEqual({ type: 'longpoll', url: address.longpollUrl, protocol: 'wamp.2.json' });

    // Node → browser, several events while the browser's receive requests come and go.
    for (let n = 1; n <= 5; n++) await node.publish('com.lpbrowser.in', [n], { from: 'node' }, { acknowledge: true });
    await page.waitForFunction('window.events.length === 5', undefined, { timeout: 5000 });
    expect(await page.evaluate('window.events.map((e) => e.args[0])')).toEqual([1, 2, 3, 4, 5]);
    expect(await page.evaluate('window.events[0].kwargs')).toEqual({ from: 'node' });

    // browser → Node, and a call.
    await page.evaluate(`window.session.publish('com.lpbrowser.out', ['from browser'], {}, { acknowledge: true })`);
    expect((await nextEvent(fromBrowser)).args).toEqual(['from browser']);
    expect(await page.evaluate(`window.session.call('com.lpbrowser.add', [2, 3])`)).toBe(5);

    await page.evaluate('window.connection.close()');
    // No long-poll request failed (the held receive is aborted before close, so never answered 410);
    // the only console errors are Chromium's report of the blocked WebSocket and of /favicon.ico
    // (a 404 the router's static mounts do not serve, and which no page request event shows).
    expect(failedRequests).toEqual([]);
    expect(errors.filter((e) => !/WebSocket connection to .*\/blocked|status of 404/.test(e))).toEqual([]);
  });
});
