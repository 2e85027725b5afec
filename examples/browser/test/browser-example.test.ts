/**
 * The browser example as its README says: `npm start -w examples/browser` (the router serving the
 * page and the bundle, plus the Node callee), the printed address opened in headless Chromium, the
 * terminal and the page compared with the README's blocks.
 */
import { expect, it } from 'vitest';
import { openPage } from '../../../client/test/browser-helpers.js';
import { within } from '../../../router/test/helpers.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';

it('runs as its README says: the page served by the router joins, gets its event and calls the Node callee', { timeout: 45_000 }, async () => {
  const { command, expected, blocks } = readmeRun('browser');
  expect(command).toBe('npm start -w examples/browser');
  const run = runCommand(command, { SWITCHBOARD_PORT: '0' });
  const [, page] = await run.waitFor(/open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/, 20_000);
  const port = new URL(page!).port;
  expectLines(
    run.stdout(),
    expected.map((line) => line.replace(':8080/', `:${port}/`)),
  );

  const { page: tab, errors } = await openPage();
  await tab.goto(page!);
  await tab.waitForFunction("/\\n(left|error: .*)\\n$/.test(document.querySelector('#log').textContent)", undefined, { timeout: 15_000 });
  expectLines((await tab.textContent('#log')) ?? '', blocks[1] ?? []);
  expect(await tab.textContent('#url')).toBe(`ws://127.0.0.1:${port}/ws`);
  expect(errors, errors.join('\n')).toEqual([]);

  // Ctrl-C's SIGTERM sibling: the callee leaves the realm, the router stops.
  await within(run.stop(), 10_000, 'the example to stop');
  expect(run.stdout()).toMatch(/\ncallee left\n$/);
});
