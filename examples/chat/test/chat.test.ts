/**
 * The chat example end to end: `switchboard start --config examples/chat/router.json` serves the
 * page and the client bundle itself; two headless Chromium pages (separate browser contexts) join
 * a room, see each other (session meta API + retained presence), see each other typing, exchange
 * messages; a reloaded page shows the recent messages (event history); a closed page leaves the
 * roster (wamp.session.on_leave).
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { openPage } from '../../../client/test/browser-helpers.js';
import { startRouterProcess } from '../../../test/support/processes.js';
import { RawPeer, within } from '../../../router/test/helpers.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';

const CONFIG = fileURLToPath(new URL('../router.json', import.meta.url));

// Page functions are strings: the tests are type-checked without the DOM library.

/** Waits until `selector`'s text contains every one of `parts`. */
async function shows(page: Page, selector: string, parts: string[], timeout = 10_000): Promise<void> {
  const text = `(document.querySelector(${JSON.stringify(selector)})?.textContent ?? '')`;
  await page.waitForFunction(parts.map((part) => `${text}.includes(${JSON.stringify(part)})`).join(' && '), undefined, { timeout });
}

async function texts(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (nodes) => nodes.map((n) => n.textContent ?? ''));
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

it('two pages chat through the router that serves them; a reload gets the recent messages', { timeout: 60_000 }, async () => {
  const { url } = await startRouterProcess(['--config', CONFIG, '--host', '127.0.0.1', '--port', '0']);
  const base = url.replace(/^ws/, 'http').replace(/\/ws$/, '');

  // The router serves the bundle as JavaScript, from the /lib static path of router.json.
  const bundle = await fetch(`${base}/lib/switchboard.js`);
  expect([bundle.status, bundle.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);

  const { browser, page: alice, errors } = await openPage();
  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  bob.on('pageerror', (err) => errors.push(`bob: ${err.message}`));
  bob.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`bob: ${msg.text()}`);
  });

  await alice.goto(`${base}/?nick=alice&room=lobby`);
  await shows(alice, '#here', ['alice']);
  await bob.goto(`${base}/`);
  // Bob uses the form.
  await bob.fill('#nick', 'bob');
  await bob.fill('#room', 'lobby');
  await bob.click('#join button');
  await shows(bob, '#here', ['alice', 'bob']);
  await shows(alice, '#here', ['alice', 'bob']);
  expect(await bob.textContent('#room-name')).toBe('lobby');
  expect(bob.url()).toContain('nick=bob');

  // Typing indicator.
  await alice.type('#text', 'hel');
  await shows(bob, '#typing', ['alice is typing']);

  await say(alice, 'hello bob');
  await shows(bob, '#messages', ['hello bob']);
  await bob.waitForFunction("document.querySelector('#typing').textContent === ''", undefined, { timeout: 5000 });
  await say(bob, 'hi alice');
  await say(alice, 'third message');
  await shows(alice, '#messages', ['hello bob', 'hi alice', 'third message']);
  await shows(bob, '#messages', ['third message']);
  expect(await texts(bob, '#messages li .text')).toEqual(['hello bob', 'hi alice', 'third message']);
  expect(await texts(bob, '#messages li .nick')).toEqual(['alice', 'bob', 'alice']);

  // A room of its own: alice's messages there are not in the lobby, and bob sees her move.
  await alice.fill('#next-room', 'elsewhere');
  await alice.press('#next-room', 'Enter');
  await shows(bob, '#elsewhere', ['alice', 'in #elsewhere']);
  await say(alice, 'only in elsewhere');
  await shows(alice, '#messages', ['only in elsewhere']);

  // A reload is a new WAMP session: the lobby's recent messages come from the router's event history.
  await bob.reload();
  await shows(bob, '#messages', ['hello bob', 'hi alice', 'third message']);
  expect(await texts(bob, '#messages li.history .text')).toEqual(['hello bob', 'hi alice', 'third message']);
  await shows(bob, '#elsewhere', ['alice']);

  // Alice leaves: wamp.session.on_leave takes her off bob's roster.
  await alice.close();
  await bob.waitForFunction("!document.querySelector('aside').textContent.includes('alice')", undefined, { timeout: 10_000 });
  expect(await texts(bob, '#here li')).toEqual(['bob']);
  expect(errors, errors.join('\n')).toEqual([]);
});

it('runs as its README says (`npm start -w examples/chat`): the printed address serves the page, the bundle and realm1', { timeout: 30_000 }, async () => {
  const { command, expected } = readmeRun('chat');
  expect(command).toBe('npm start -w examples/chat');
  const run = runCommand(command, { SWITCHBOARD_PORT: '0' });
  const [, page, ws] = await run.waitFor(/^serving (http:\/\/localhost:\d+\/) \(WAMP on (ws:\/\/localhost:\d+\/ws)\)/m, 20_000);
  const port = new URL(page!).port;
  expectLines(
    run.stdout(),
    expected.map((line) => line.replaceAll(':8080/', `:${port}/`)),
  );
  const base = page!.replace('localhost', '127.0.0.1'); // the router listens on IPv4 (0.0.0.0)
  const home = await fetch(base);
  expect([home.status, await home.text()]).toEqual([200, expect.stringContaining('<title>Switchboard chat</title>')]);
  expect((await fetch(`${base}lib/switchboard.js`)).status).toBe(200);
  const peer = await RawPeer.join(ws!.replace('localhost', '127.0.0.1'));
  expect(peer.session).toBeGreaterThan(0);
  peer.close();
  await within(run.stop(), 10_000, 'the router to stop');
});
