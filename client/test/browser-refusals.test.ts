/**
 * A refused WebSocket in the browser (#16 item 8): a page cannot see the HTTP status of a refused
 * upgrade (the close event says 1006, the error event nothing), so the error says what it may be
 * and where the reason is (the router's log, the Network tab).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startTestRouter } from '../../router/test/helpers.js';
import { bundlePath, openPage, serveFiles } from './browser-helpers.js';

describe('refusals in headless Chromium', () => {
  it('a wrong WebSocket path: the best a browser can say', async () => {
    const router = await startTestRouter();
    const base = await serveFiles({
      '/index.html': fileURLToPath(new URL('./fixtures/blank.html', import.meta.url)),
      '/switchboard.js': bundlePath(),
    });
    const { page } = await openPage();
    await page.goto(`${base}/index.html`);
    const wrongWs = router.url.replace(/\/ws$/, '/wamp');
    const result = (await page.evaluate(`(async () => {
      const sb = await import('/switchboard.js');
      const attempt = (url) => sb.connect({ url, realm: 'realm1', reconnect: false, openTimeoutMs: 4000 }).then(() => 'opened', (e) => ({ name: e.name, message: e.message, refusal: e.refusal ?? null }));
      return { ws: await attempt(${JSON.stringify(wrongWs)}) };
    })()`)) as { ws: { name: string; message: string; refusal: unknown } };
    expect(result.ws.name).toBe('UnreachableError');
    expect(result.ws.message).toContain(
      `cannot connect to ${wrongWs}: the WebSocket did not open and the browser does not say why: the router refused it (wrong path`,
    );
    expect(result.ws.refusal).toBeNull();
  });
});
