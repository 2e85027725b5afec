/**
 * The browser ESM bundle (dist/bundle/switchboard.js, built by `npm run build`) in headless
 * Chromium, against the router, with Node sessions on the other side.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { InvocationDetails } from '@switchboard/client';
import { startTestRouter } from '../../router/test/helpers.js';
import { bundlePath, openPage, serveFiles } from './browser-helpers.js';
import { deferred, nextEvent, open, within } from './helpers.js';

async function browserSession(routerUrl: string, serializer: 'json' | 'msgpack' = 'json'): Promise<{ page: import('playwright-core').Page; errors: string[] }> {
  const base = await serveFiles({
    '/index.html': fileURLToPath(new URL('./fixtures/blank.html', import.meta.url)),
    '/switchboard.js': bundlePath(),
    '/msgpack.js': bundlePath('msgpack.js'),
  });
  const { page, errors } = await openPage();
  await page.goto(`${base}/index.html`);
  const serializers = serializer === 'json' ? "['json']" : '[(await import("/msgpack.js")).msgpackCodec]';
  const info = await page.evaluate(`(async () => {
    const sb = await import('/switchboard.js');
    window.sb = sb;
    window.session = await sb.connect({ url: ${JSON.stringify(routerUrl)}, realm: 'realm1', serializers: ${serializers} });
    return { id: window.session.id, serializer: window.session.serializer, hasWebSocket: typeof WebSocket };
  })()`);
  expect(info).toMatchObject({ serializer, hasWebSocket: 'function' });
  return { page, errors };
}

describe('the browser bundle in headless Chromium', () => {
  it('is JSON-only and within the size budget (< 20 kB gzip)', () => {
    const sizes = JSON.parse(readFileSync(bundlePath('size.json'), 'utf8')) as Record<string, { minified: number; gzip: number }>;
    // 15 kB until #16, whose refusals in the router's words (status names, bounded body reading,
    // linear HTML stripping) and first-connection retry brought the bundle to 15.0 kB: the budget
    // moved by one kB on purpose, and still fails a bundle that grows by accident. 16 kB until #18,
    // whose session resumption (resume on reconnect, requests sent again, the catch-up of every
    // subscription with its buffer and dedupe, gap notices) brought it to 17.6 kB: two kB more, on purpose.
    // 18 kB until the fixes of #18's client review (the catch-up's end mark and held replay, the
    // deferred catch-ups, the byte-bounded publish ring, CANCELs after a resume, close() ending a
    // detached session) brought it to 18.6 kB: one kB more, on purpose. 19 kB until #20's payload
    // passthrough, whose shared wire code (parseMessage reading a split frame, the lazy payload,
    // Spliced) brought it to 19.5 kB; the JSON split itself stays out (json-split.ts): one kB more.
    expect(sizes['switchboard.js']!.gzip).toBeLessThan(20 * 1024);
    const code = readFileSync(bundlePath(), 'utf8');
    expect(code).not.toMatch(/msgpackr|cbor-x|require\("ws"\)/);
  });

  it('publish/subscribe both ways, calls to a Node callee, a procedure the browser registers', async () => {
    const router = await startTestRouter();
    const node = await open(router.url, 'cbor');
    await node.register('com.browser.add', (args) => (args as number[])[0]! + (args as number[])[1]!);
    const fromBrowser = await node.subscribe('com.browser.out');
    const { page, errors } = await browserSession(router.url);

    // Node → browser
    await page.evaluate(`(async () => {
      window.events = [];
      await window.session.subscribe('com.browser.in', (args, kwargs) => window.events.push({ args, kwargs }));
    })()`);
    await node.publish('com.browser.in', ['to browser'], { n: 1 }, { acknowledge: true });
    await page.waitForFunction('window.events.length === 1', undefined, { timeout: 5000 });
    expect(await page.evaluate('window.events')).toEqual([{ args: ['to browser'], kwargs: { n: 1 } }]);

    // browser → Node
    await page.evaluate(`window.session.publish('com.browser.out', ['from browser'], {}, { acknowledge: true })`);
    expect((await nextEvent(fromBrowser)).args).toEqual(['from browser']);

    // browser calls Node
    expect(await page.evaluate(`window.session.call('com.browser.add', [2, 3])`)).toBe(5);
    expect(await page.evaluate(`window.session.call('com.browser.none').catch((e) => [e.name, e.uri])`)).toEqual(['WampError', 'wamp.error.no_such_procedure']);

    // Node calls the browser
    await page.evaluate(`window.session.register('com.browser.upper', ([text]) => text.toUpperCase())`);
    expect(await node.call('com.browser.upper', ['shout'])).toBe('SHOUT');
    await page.evaluate('window.session.leave()');
    expect(errors).toEqual([]);
  });

  it('progressive results as an async iterator, and AbortController canceling a call to a Node callee', async () => {
    const router = await startTestRouter();
    const node = await open(router.url);
    const interrupted = deferred<boolean>();
    await node.register('com.browser.stream', async (_a, _k, details) => {
      for (const n of [1, 2, 3]) details.progress([n]);
      return 'end';
    });
    const started = deferred<InvocationDetails>();
    await node.register('com.browser.hang', (_a, _k, details) => {
      details.signal.addEventListener('abort', () => interrupted.resolve(details.signal.aborted));
      started.resolve(details);
      return new Promise(() => {});
    });
    const { page } = await browserSession(router.url);
    expect(
      await page.evaluate(`(async () => {
        const stream = window.session.callStream('com.browser.stream');
        const seen = [];
        for await (const item of stream) seen.push(item.args[0]);
        return { seen, result: (await stream.result).value };
      })()`),
    ).toEqual({ seen: [1, 2, 3], result: 'end' });
    const outcome = page.evaluate(`(async () => {
      window.controller = new AbortController();
      return window.session.call('com.browser.hang', [], {}, { signal: window.controller.signal }).catch((e) => e.uri);
    })()`);
    await within(started.promise, 5000, 'the invocation');
    await page.evaluate('window.controller.abort()');
    expect(await outcome).toBe('wamp.error.canceled');
    expect(await within(interrupted.promise, 3000, 'INTERRUPT')).toBe(true);
  });

  it('msgpack in the browser, from the separate msgpack bundle', async () => {
    const router = await startTestRouter();
    const node = await open(router.url, 'json');
    await node.register('com.browser.echo', (args) => args);
    const { page } = await browserSession(router.url, 'msgpack');
    expect(await page.evaluate(`window.session.call('com.browser.echo', [1, 'two', { three: [3] }, 2 ** 40])`)).toEqual([1, 'two', { three: [3] }, 2 ** 40]);
  });
});
