/**
 * The web dashboard (router/dashboard/) end to end: `switchboard start --config
 * router/dashboard/router.json` serves the page and the client bundle; headless Chromium logs in
 * with a ticket as `admin` and sees the two other live sessions, a test peer's subscription and
 * registration, and nonzero message counters (switchboard.router.stats); its kill button ends a
 * session (the peer gets GOODBYE wamp.close.killed and the row goes). A non-admin login is refused
 * the meta API (wamp.error.not_authorized, shown on the page).
 */
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import type { Page } from 'playwright-core';
import { Connection } from '@switchboard/client';
import type { CloseEvent, Session } from '@switchboard/client';
import { MessageCode } from '@switchboard/schemas';
import { openPage } from '../../client/test/browser-helpers.js';
import { RawPeer, startTestRouter } from './helpers.js';
import { startRouterProcess } from '../../test/support/processes.js';

const CONFIG = fileURLToPath(new URL('../dashboard/router.json', import.meta.url));
const ADMIN_TICKET = 'admin-secret-ticket';
const VIEWER_TICKET = 'viewer-secret-ticket';

// Page functions are strings: the tests are type-checked without the DOM library.

/** Waits until `selector`'s text contains every one of `parts`. */
async function shows(page: Page, selector: string, parts: string[], timeout = 10_000): Promise<void> {
  const text = `(document.querySelector(${JSON.stringify(selector)})?.textContent ?? '')`;
  await page.waitForFunction(parts.map((part) => `${text}.includes(${JSON.stringify(part)})`).join(' && '), undefined, { timeout });
}

async function login(page: Page, base: string, authid: string, ticket: string): Promise<void> {
  await page.goto(`${base}/dashboard/`);
  await page.fill('#authid', authid);
  await page.fill('#ticket', ticket);
  await page.click('#login button');
}

/** An anonymous peer (role `app` in the sample config) that never reconnects. */
async function peer(url: string): Promise<{ session: Session; id: number; closed: Promise<CloseEvent> }> {
  const connection = new Connection({ url, realm: 'realm1', reconnect: false });
  const closed = new Promise<CloseEvent>((resolve) => connection.on('close', resolve));
  const session = await connection.open();
  onTestFinished(() => connection.close().catch(() => undefined));
  const id = session.id;
  if (id === undefined) throw new Error('no session id');
  return { session, id, closed };
}

it('shows sessions, routes and counters to an admin, kills a session, and refuses a non-admin', { timeout: 60_000 }, async () => {
  const { router, url } = await startRouterProcess(['--config', CONFIG, '--host', '127.0.0.1', '--port', '0'], {
    env: { ...process.env, SWITCHBOARD_ADMIN_TICKET: ADMIN_TICKET, SWITCHBOARD_VIEWER_TICKET: VIEWER_TICKET },
  });
  onTestFinished(async () => {
    await router.stop();
  });
  const base = url.replace(/^ws/, 'http').replace(/\/ws$/, '');

  const alice = await peer(url);
  const bob = await peer(url);
  await alice.session.subscribe('com.example.news', () => undefined);
  const bobSession = bob.session;
  await bobSession.register('com.example.echo', (args) => args);
  for (let i = 0; i < 3; i++) await bobSession.publish('com.example.news', ['hello'], {}, { acknowledge: true });

  const { browser, page: admin, errors } = await openPage();
  await login(admin, base, 'admin', ADMIN_TICKET);
  await shows(admin, '#who', ['admin (admin)']);
  await shows(admin, '#sessions tbody', [String(alice.id), String(bob.id), 'anonymous', 'app']);
  // The two peers and the page itself.
  await admin.waitForFunction("document.querySelectorAll('#sessions tbody tr').length === 3", undefined, { timeout: 10_000 });
  expect(await admin.$$eval('#sessions tbody button.kill', (buttons) => buttons.length)).toBe(2);
  await shows(admin, '#subscriptions tbody', ['com.example.news', 'exact', String(alice.id)]);
  await shows(admin, '#registrations tbody', ['com.example.echo', String(bob.id)]);
  // Nonzero counters: the three PUBLISHes came in, their EVENTs went out.
  await admin.waitForFunction(
    `(() => {
      const rows = [...document.querySelectorAll('#stats tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent));
      const publish = rows.find((r) => r[0] === 'publish');
      const event = rows.find((r) => r[0] === 'event');
      return publish !== undefined && Number(publish[1]) >= 3 && event !== undefined && Number(event[3]) >= 3;
    })()`,
    undefined,
    { timeout: 10_000 },
  );
  await shows(admin, '#stat-sessions', ['3']);
  await shows(admin, '#stat-dropped', ['0']);
  // A new subscription shows up by the meta events, without a reload.
  await bobSession.subscribe('com.example.other.', () => undefined, { match: 'prefix' });
  await shows(admin, '#subscriptions tbody', ['com.example.other.', 'prefix']);

  // Kill alice: she gets GOODBYE wamp.close.killed, her row and her subscription go.
  await admin.click(`#sessions tbody tr[data-session="${alice.id}"] button.kill`);
  const ended = await Promise.race([alice.closed, new Promise<undefined>((resolve) => setTimeout(resolve, 10_000, undefined))]);
  expect(ended).toMatchObject({ reason: 'goodbye', wampReason: 'wamp.close.killed', willReconnect: false });
  await admin.waitForFunction(`document.querySelector('#sessions tbody tr[data-session="${alice.id}"]') === null`, undefined, { timeout: 10_000 });
  await admin.waitForFunction("!document.querySelector('#subscriptions tbody').textContent.includes('com.example.news')", undefined, { timeout: 10_000 });
  await shows(admin, '#sessions tbody', [String(bob.id)]);
  expect(await admin.textContent('#error')).toBe('');

  // A valid ticket with another role: logged in, but the meta API says no.
  const viewerContext = await browser.newContext();
  const viewer = await viewerContext.newPage();
  await login(viewer, base, 'viewer', VIEWER_TICKET);
  await shows(viewer, '#who', ['viewer (app)']);
  await shows(viewer, '#error', ['wamp.error.not_authorized']);
  expect(await viewer.$$eval('#sessions tbody tr', (rows) => rows.length)).toBe(0);
  expect(await viewer.textContent('#stat-sessions')).toBe('–');

  // A wrong ticket does not get in at all.
  const stranger = await viewerContext.newPage();
  await login(stranger, base, 'admin', 'wrong');
  await shows(stranger, '#login-error', ['wamp.error.authentication_failed']);

  expect(errors, errors.join('\n')).toEqual([]);
});

it("switchboard.router.stats answers the counters, and the realm's roles restrict it", async () => {
  const router = await startTestRouter({
    realms: [
      {
        name: 'realm1',
        roles: [{ name: 'anonymous', permissions: [{ uri: 'com.example.', match: 'prefix', allow: { publish: true, subscribe: true } }] }],
      },
      { name: 'open' },
    ],
  });
  onTestFinished(() => router.stop());
  const { Call, Error: ERROR, Publish, Published, Result, Subscribe, Subscribed } = MessageCode;

  const user = await RawPeer.join(router.url);
  user.send([Subscribe, 1, {}, 'com.example.t']);
  expect((await user.next())[0]).toBe(Subscribed);
  user.send([Publish, 2, { acknowledge: true, exclude_me: false }, 'com.example.t', ['x']]);
  const replies = [await user.next(), await user.next()].map((m) => m[0]).sort();
  expect(replies).toEqual([MessageCode.Event, Published].sort());
  user.send([Call, 3, {}, 'switchboard.router.stats']);
  expect(await user.next()).toEqual([ERROR, Call, 3, {}, 'wamp.error.not_authorized', [expect.any(String)]]);

  // A realm without roles lets everyone call it; the counters are the router's, sessions the realm's.
  const other = await RawPeer.join(router.url, 'json', 'open');
  other.send([Call, 1, {}, 'switchboard.router.stats']);
  const result = await other.next();
  expect(result.slice(0, 3)).toEqual([Result, 1, {}]);
  expect(result[3]).toEqual([
    {
      messagesIn: expect.objectContaining({ hello: 2, subscribe: 1, publish: 1, call: 2 }),
      messagesOut: expect.objectContaining({ welcome: 2, subscribed: 1, published: 1, event: 1, error: 1 }),
      eventsDropped: 0,
      slowConsumersCutOff: 0,
      protocolViolations: 0,
      sessions: 1,
    },
  ]);
});
