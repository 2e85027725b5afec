/**
 * The auth helpers' browser bundle (dist/bundle/auth.js, next to switchboard.js; built by `npm run
 * build`) in headless Chromium: WebCrypto's HMAC, PBKDF2 and Ed25519 there, against the router.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { RouterConfigFile } from '@switchboard/router';
import { startTestRouter } from '../../router/test/helpers.js';
import { autobahnCra, ed25519FromSeed } from '../../router/test/auth/support.js';
import { bundlePath, openPage, serveFiles } from './browser-helpers.js';

const KEY = ed25519FromSeed('4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510');

const config: RouterConfigFile = {
  realms: [{ name: 'realm1', roles: [{ name: 'frontend' }, { name: 'user' }] }],
  listeners: [
    { type: 'websocket', path: '/ticket', auth: { ticket: { type: 'static', principals: { joe: { ticket: 'secret!!!', role: 'frontend' } } } } },
    {
      type: 'websocket',
      path: '/wampcra',
      auth: {
        wampcra: {
          type: 'static',
          users: { peter: { secret: autobahnCra.derive_key('secret2', 'salt123', 100, 16), role: 'frontend', salt: 'salt123', iterations: 100, keylen: 16 } },
        },
      },
    },
    {
      type: 'websocket',
      path: '/cryptosign',
      auth: { cryptosign: { type: 'static', principals: { 'client01@example.com': { role: 'user', authorized_keys: [KEY.publicKeyHex] } } } },
    },
  ],
};

describe('auth helpers in headless Chromium', () => {
  it('ticket, salted wampcra and cryptosign join from the browser bundle; a wrong secret is refused with authentication_failed', async () => {
    const router = await startTestRouter(config);
    const [ticket, wampcra, cryptosign] = [0, 1, 2].map((i) => router.addresses[i]!.url);
    // http://127.0.0.1 is a secure context, so crypto.subtle exists.
    const base = await serveFiles({
      '/index.html': fileURLToPath(new URL('./fixtures/blank.html', import.meta.url)),
      '/switchboard.js': bundlePath(),
      '/auth.js': bundlePath('auth.js'),
    });
    const { page, errors } = await openPage();
    await page.goto(`${base}/index.html`);
    const outcome = await page.evaluate(`(async () => {
      const sb = await import('/switchboard.js');
      const helpers = await import('/auth.js');
      const join = async (url, auth) => {
        try {
          const session = await sb.connect({ url, realm: 'realm1', serializers: ['json'], reconnect: false, openTimeoutMs: 5000, auth });
          const { authid, authrole, authmethod } = session.details;
          await session.leave();
          return { authid, authrole, authmethod };
        } catch (err) {
          return { error: err.name, reason: err.reason };
        }
      };
      return {
        ticket: await join(${JSON.stringify(ticket)}, helpers.ticketAuth({ authid: 'joe', ticket: 'secret!!!' })),
        wampcra: await join(${JSON.stringify(wampcra)}, helpers.wampcraAuth({ authid: 'peter', secret: 'secret2' })),
        wrongCra: await join(${JSON.stringify(wampcra)}, helpers.wampcraAuth({ authid: 'peter', secret: 'secret1' })),
        cryptosign: await join(${JSON.stringify(cryptosign)}, await helpers.cryptosignAuth({ seed: ${JSON.stringify(KEY.seedHex)} })),
        wrongKey: await join(${JSON.stringify(cryptosign)}, await helpers.cryptosignAuth({ seed: '11'.repeat(32) })),
      };
    })()`);
    expect(outcome).toEqual({
      ticket: { authid: 'joe', authrole: 'frontend', authmethod: 'ticket' },
      wampcra: { authid: 'peter', authrole: 'frontend', authmethod: 'wampcra' },
      wrongCra: { error: 'SessionAbortedError', reason: 'wamp.error.authentication_failed' },
      cryptosign: { authid: 'client01@example.com', authrole: 'user', authmethod: 'cryptosign' },
      wrongKey: { error: 'SessionAbortedError', reason: 'wamp.error.authentication_failed' },
    });
    expect(errors).toEqual([]);
  });
});
