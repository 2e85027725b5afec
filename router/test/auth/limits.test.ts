/**
 * Brute-force limits: failed authentications counted per client address and per authid over a
 * sliding minute; past the limit, refusal without checking credentials for blockMs, counted in the
 * log; other addresses and authids unaffected. Clients bind 127.0.0.1 … 127.0.0.5 (all loopback)
 * to be different addresses.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { FailureLimiter, clientAddress } from '../../src/auth/limits.js';
import { aborted, joinWampy, rawTicket, startLoggedRouter, welcomed } from './support.js';

const FAILED = { reason: 'wamp.error.authentication_failed', message: 'authentication failed' };
const ABORT_FAILED = [MessageCode.Abort, { message: FAILED.message }, FAILED.reason];

describe('FailureLimiter', () => {
  it('blocks a key at the limit within a minute, refuses it for blockMs, then lets it try again', () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ failuresPerMinute: 3, blockMs: 5000 }, () => now);
    expect(limiter.fail(['address 10.0.0.1', 'authid joe'])).toEqual([]);
    now += 10_000;
    expect(limiter.fail(['address 10.0.0.1'])).toEqual([]);
    expect(limiter.refuse(['address 10.0.0.1'])).toBeUndefined();
    now += 10_000;
    expect(limiter.fail(['address 10.0.0.1', 'authid ann'])).toEqual(['address 10.0.0.1']);
    expect(limiter.refuse(['authid joe', 'address 10.0.0.1'])).toEqual({ key: 'address 10.0.0.1', refused: 1, remainingMs: 5000 });
    now += 1000;
    expect(limiter.refuse(['address 10.0.0.1'])).toEqual({ key: 'address 10.0.0.1', refused: 2, remainingMs: 4000 });
    // Other keys are not affected.
    expect(limiter.refuse(['address 10.0.0.2', 'authid joe'])).toBeUndefined();
    now += 4000;
    expect(limiter.refuse(['address 10.0.0.1'])).toBeUndefined();
    // The count starts again after a block.
    expect(limiter.fail(['address 10.0.0.1'])).toEqual([]);
    expect(limiter.totals).toEqual({ failures: 4, blocks: 1, refusals: 2 });
  });

  it('counts over a sliding minute: old failures fall out of the window', () => {
    let now = 0;
    const limiter = new FailureLimiter({ failuresPerMinute: 3, blockMs: 1000 }, () => now);
    limiter.fail(['k']);
    now = 30_000;
    limiter.fail(['k']);
    now = 60_001; // the first failure is more than a minute old
    expect(limiter.fail(['k'])).toEqual([]);
    now = 60_002;
    expect(limiter.fail(['k'])).toEqual(['k']);
  });

  it('does nothing with failuresPerMinute 0', () => {
    const limiter = new FailureLimiter({ failuresPerMinute: 0, blockMs: 1000 });
    for (let i = 0; i < 100; i++) expect(limiter.fail(['k'])).toEqual([]);
    expect(limiter.refuse(['k'])).toBeUndefined();
    expect(limiter.size).toBe(0);
  });

  it('reads the address from a transport peer name', () => {
    expect(clientAddress('tcp4:127.0.0.2:52311')).toBe('127.0.0.2');
    expect(clientAddress('tcp6:::1:52311')).toBe('::1');
    expect(clientAddress('tcp6:2001:db8::7:443')).toBe('2001:db8::7');
    expect(clientAddress('tcp6:::ffff:127.0.0.2:52311')).toBe('127.0.0.2');
    expect(clientAddress('local')).toBe('local');
  });
});

describe('brute-force limits on a listener', () => {
  it('refuses an address after too many failures, without asking the authenticator, while other addresses still join', async () => {
    // A webhook authenticator, so the test sees whether the credentials are checked at all.
    const asked: string[] = [];
    const server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text) as { authid: string; details: { ticket: string } };
        asked.push(body.authid);
        const ok = body.details.ticket === `${body.authid}-pass`;
        res.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' }).end(ok ? '"user"' : '{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const { router, logs } = await startLoggedRouter({
      realms: [{ name: 'realm1', roles: [{ name: 'user' }] }],
      listeners: [
        {
          type: 'websocket',
          auth: {
            ticket: { type: 'webhook', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` },
            limits: { failuresPerMinute: 3, blockMs: 60_000 },
          },
        },
      ],
    });
    const ticket = (value: string) => (): string => value;

    // Three wrong tickets from 127.0.0.1 (under three authids, so only the address reaches the limit).
    for (const authid of ['a1', 'a2', 'a3']) {
      expect(
        aborted(await joinWampy(router.url, 'json', { authmethods: ['ticket'], authid, onChallenge: ticket('guess'), localAddress: '127.0.0.1' })),
      ).toEqual(FAILED);
    }
    expect(asked).toEqual(['a1', 'a2', 'a3']);
    // Now even the right ticket from 127.0.0.1 is refused, the same way, and the webhook is not asked.
    expect(
      aborted(await joinWampy(router.url, 'cbor', { authmethods: ['ticket'], authid: 'joe', onChallenge: ticket('joe-pass'), localAddress: '127.0.0.1' })),
    ).toEqual(FAILED);
    expect(await rawTicket(router.url, 'joe', 'joe-pass', '127.0.0.1')).toEqual(ABORT_FAILED);
    expect(asked).toEqual(['a1', 'a2', 'a3']);
    // Another address joins.
    expect(
      welcomed(await joinWampy(router.url, 'json', { authmethods: ['ticket'], authid: 'joe', onChallenge: ticket('joe-pass'), localAddress: '127.0.0.2' })),
    ).toMatchObject({ authid: 'joe', authrole: 'user' });

    const blocked = logs.filter((l) => l['msg'] === 'authentication blocked: too many failures');
    expect(blocked).toEqual([expect.objectContaining({ blocked: 'address 127.0.0.1', failuresPerMinute: 3, blockMs: 60_000, level: 40 })]);
    const refused = logs.filter((l) => l['msg'] === 'authentication refused: too many failures');
    expect(refused.map((l) => [l['blocked'], l['refused']])).toEqual([
      ['address 127.0.0.1', 1],
      ['address 127.0.0.1', 2],
    ]);
  });

  it('refuses an authid failed from several addresses, while other authids still join from anywhere', async () => {
    const { router, logs } = await startLoggedRouter({
      realms: [{ name: 'realm1', roles: [{ name: 'user' }] }],
      listeners: [
        {
          type: 'websocket',
          auth: {
            ticket: { type: 'static', principals: { ann: { ticket: 'ann-pass', role: 'user' }, joe: { ticket: 'joe-pass', role: 'user' } } },
            limits: { failuresPerMinute: 3 },
          },
        },
      ],
    });
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) expect(await rawTicket(router.url, 'ann', 'guess', address)).toEqual(ABORT_FAILED);
    // ann is blocked everywhere, right ticket or not; joe is not, even from the same address.
    expect(await rawTicket(router.url, 'ann', 'ann-pass', '127.0.0.5')).toEqual(ABORT_FAILED);
    expect((await rawTicket(router.url, 'joe', 'joe-pass', '127.0.0.4'))[0]).toBe(MessageCode.Welcome);
    expect(logs.filter((l) => l['msg'] === 'authentication blocked: too many failures').map((l) => l['blocked'])).toEqual(['authid ann']);
  });

  it('is off with failuresPerMinute 0', async () => {
    const { router } = await startLoggedRouter({
      listeners: [
        {
          type: 'websocket',
          auth: { ticket: { type: 'static', principals: { joe: { ticket: 'joe-pass', role: 'anonymous' } } }, limits: { failuresPerMinute: 0 } },
        },
      ],
    });
    for (let i = 0; i < 12; i++) expect(await rawTicket(router.url, 'joe', 'guess')).toEqual(ABORT_FAILED);
    expect((await rawTicket(router.url, 'joe', 'joe-pass'))[0]).toBe(MessageCode.Welcome);
  });
});
