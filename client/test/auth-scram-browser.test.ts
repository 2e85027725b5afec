/**
 * The SCRAM helper's browser bundle (dist/bundle/auth-scram.js, built by `npm run build`) in
 * headless Chromium: WebCrypto's PBKDF2 and HMAC and hash-wasm's argon2id there, both dialects,
 * against the router.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scramCredentials } from '@switchboard/router';
import { startTestRouter } from '../../router/test/helpers.js';
import { bundlePath, openPage, serveFiles } from './browser-helpers.js';

describe('scramAuth in headless Chromium', () => {
  it('argon2id (crossbar) and pbkdf2 (wamp-scram) join from the bundle; a wrong password is refused', async () => {
    const alice = { role: 'frontend', ...(await scramCredentials('wonderland', { kdf: 'argon2id-13', iterations: 2, memory: 256 })) };
    const bob = { role: 'frontend', ...(await scramCredentials('bob-pässword', { kdf: 'pbkdf2', iterations: 1000, dialect: 'wamp-scram' })) };
    const router = await startTestRouter({
      realms: [{ name: 'realm1', roles: [{ name: 'frontend' }] }],
      listeners: [
        { type: 'websocket', path: '/scram', auth: { scram: { type: 'static', principals: { alice } } } },
        { type: 'websocket', path: '/spec', auth: { 'wamp-scram': { type: 'static', principals: { bob } } } },
      ],
    });
    const [crossbar, spec] = [0, 1].map((i) => router.addresses[i]!.url);
    const base = await serveFiles({
      '/index.html': fileURLToPath(new URL('./fixtures/blank.html', import.meta.url)),
      '/switchboard.js': bundlePath(),
      '/auth-scram.js': bundlePath('auth-scram.js'),
    });
    const { page, errors } = await openPage();
    await page.goto(`${base}/index.html`);
    const outcome = await page.evaluate(`(async () => {
      const sb = await import('/switchboard.js');
      const { scramAuth } = await import('/auth-scram.js');
      const join = async (url, auth) => {
        try {
          const session = await sb.connect({ url, realm: 'realm1', serializers: ['json'], reconnect: false, openTimeoutMs: 5000, auth });
          const { authid, authmethod } = session.details;
          await session.leave();
          return { authid, authmethod };
        } catch (err) {
          return { error: err.name, reason: err.reason };
        }
      };
      return {
        argon: await join(${JSON.stringify(crossbar)}, scramAuth({ authid: 'alice', password: 'wonderland' })),
        pbkdf2: await join(${JSON.stringify(spec)}, scramAuth({ authid: 'bob', password: 'bob-pässword', dialect: 'wamp-scram' })),
        wrong: await join(${JSON.stringify(spec)}, scramAuth({ authid: 'bob', password: 'nope', dialect: 'wamp-scram' })),
      };
    })()`);
    expect(outcome).toEqual({
      argon: { authid: 'alice', authmethod: 'scram' },
      pbkdf2: { authid: 'bob', authmethod: 'wamp-scram' },
      wrong: { error: 'SessionAbortedError', reason: 'wamp.error.authentication_failed' },
    });
    expect(errors).toEqual([]);
  });
});
