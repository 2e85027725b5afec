import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { startTestRouter } from '../../../router/test/helpers.js';
import { bundlePath, openPage, serveFiles } from '../../../client/test/browser-helpers.js';
import { open } from '../../../client/test/helpers.js';

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

it('the README browser example runs in headless Chromium: pub/sub and a call to a Node callee', async () => {
  const router = await startTestRouter();
  const callee = await open(router.url);
  await callee.register('com.example.add', (args) => (args as number[])[0]! + (args as number[])[1]!);
  const base = await serveFiles({ '/index.html': here('../index.html'), '/app.js': here('../app.js'), '/switchboard.js': bundlePath() });
  const { page, errors } = await openPage();
  await page.goto(`${base}/index.html?url=${encodeURIComponent(router.url)}`);
  await page.waitForFunction("document.querySelector('#log').textContent.includes('2 + 3 =')", undefined, { timeout: 10_000 });
  const log = await page.textContent('#log');
  expect(log).toContain('event: hello (from browser)');
  expect(log).toContain('2 + 3 = 5');
  expect(log).not.toContain('error');
  expect(errors, errors.join("\n")).toEqual([]);
});
