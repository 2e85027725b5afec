/**
 * Issue #14, dashboard: `?ws=` chose the WebSocket the page logs in to, so a link could send the
 * admin's ticket to any host. The page now connects to its own router only: the default /ws, a
 * path on its own host, or a ws:/wss: URL of that host; anything else is refused before any
 * connection. Unit tests on the URL-choosing function (router/dashboard/public/endpoint.js), and
 * headless Chromium against the real page with a foreign WebSocket server that must see nothing.
 */
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocketServer } from 'ws';
import { openPage } from '../../../client/test/browser-helpers.js';
import { startRouterProcess } from '../../../test/support/processes.js';
import { wampUrl } from '../../dashboard/public/endpoint.js';

const page = { protocol: 'http:', host: '127.0.0.1:8080' };
const tls = { protocol: 'https:', host: 'router.example.com' };

describe('the dashboard connects to its own router only', () => {
  it('default: /ws on the page host, ws or wss as the page', () => {
    expect(wampUrl(page, null)).toBe('ws://127.0.0.1:8080/ws');
    expect(wampUrl(page, '')).toBe('ws://127.0.0.1:8080/ws');
    expect(wampUrl(tls, null)).toBe('wss://router.example.com/ws');
  });

  it('?ws= may name a path, or a WebSocket URL, of the same host', () => {
    expect(wampUrl(page, '/wamp')).toBe('ws://127.0.0.1:8080/wamp');
    expect(wampUrl(tls, '/ws2?x=1')).toBe('wss://router.example.com/ws2?x=1');
    expect(wampUrl(page, 'ws://127.0.0.1:8080/other')).toBe('ws://127.0.0.1:8080/other');
    expect(wampUrl(tls, 'wss://router.example.com/ws')).toBe('wss://router.example.com/ws');
  });

  it.each([
    'ws://evil.example.net/ws',
    'wss://evil.example.net/ws',
    'ws://127.0.0.1:9999/ws',
    '//evil.example.net/ws',
    '/\\evil.example.net/ws',
    'http://127.0.0.1:8080/ws',
    'javascript:alert(1)',
    'wss://router.example.com.evil.net/ws',
    'ws://router.example.com@evil.example.net/ws',
  ])('refuses ?ws=%s', (requested) => {
    expect(() => wampUrl(requested.startsWith('ws://127') || requested.startsWith('http') ? page : tls, requested)).toThrow(/refused|not a URL/);
    expect(() => wampUrl(page, requested)).toThrow(/refused|not a URL/);
  });

  it('in the page: ?ws= of another host gets no connection and no ticket; a same-host path logs in', { timeout: 60_000 }, async () => {
    const foreign = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    onTestFinished(() => new Promise<void>((resolve) => foreign.close(() => resolve())));
    const reached: string[] = [];
    foreign.on('connection', (ws, req) => {
      reached.push(req.url ?? '');
      ws.on('message', (data: Buffer) => reached.push(data.toString('utf8')));
    });
    await new Promise<void>((resolve) => foreign.once('listening', resolve));
    const foreignUrl = `ws://127.0.0.1:${(foreign.address() as AddressInfo).port}/ws`;
    const config = fileURLToPath(new URL('../../dashboard/router.json', import.meta.url));
    const { router, url } = await startRouterProcess(['--config', config, '--host', '127.0.0.1', '--port', '0'], {
      env: { ...process.env, SWITCHBOARD_ADMIN_TICKET: 'admin-secret', SWITCHBOARD_VIEWER_TICKET: 'viewer-secret' },
    });
    onTestFinished(async () => {
      await router.stop();
    });
    const base = url.replace(/^ws/, 'http').replace(/\/ws$/, '');
    const { page: tab } = await openPage();
    const login = async (query: string): Promise<void> => {
      await tab.goto(`${base}/dashboard/${query}`);
      await tab.fill('#authid', 'admin');
      await tab.fill('#ticket', 'admin-secret');
      await tab.click('#login button');
    };
    await login(`?ws=${encodeURIComponent(foreignUrl)}`);
    await tab.waitForFunction("document.querySelector('#login-error').textContent.includes('refused')", undefined, { timeout: 10_000 });
    // The page's own router still answers a same-host login at once, so the foreign one had every chance.
    await login('?ws=%2Fws');
    await tab.waitForFunction("document.querySelector('#who').textContent.includes('admin (admin)')", undefined, { timeout: 10_000 });
    expect(reached).toEqual([]);
  });
});
