/**
 * WAMP-Ticket with real clients: static principals (autobahn-js and wampy, every serializer), a
 * dynamic authenticator registered by an autobahn-js component (in realm `auth`, role `trusted`,
 * as in Crossbar's tutorial), an HTTP webhook, and the bounded wait for AUTHENTICATE.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import autobahn from 'autobahn';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { startTestRouter, until, within } from '../helpers.js';
import { Raw, SERIALIZERS, aborted, authenticatorComponent, joinAutobahn, joinWampy, rawTicket, startLoggedRouter, urlOf, welcomed } from './support.js';

const FAILED = { reason: 'wamp.error.authentication_failed', message: 'authentication failed' };

const REALMS: RouterConfigFile['realms'] = [
  {
    name: 'realm1',
    roles: [{ name: 'frontend', permissions: [{ uri: 'com.example.', match: 'prefix', allow: { call: true, subscribe: true } }] }, { name: 'backend' }],
  },
  {
    name: 'auth',
    roles: [{ name: 'trusted', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, subscribe: true, publish: true } }] }],
  },
];

const STATIC: RouterConfigFile = {
  realms: REALMS,
  listeners: [
    {
      type: 'websocket',
      auth: {
        ticket: {
          type: 'static',
          principals: {
            joe: { ticket: 'secret!!!', role: 'frontend' },
            'ünï ⚙': { ticket: 'tïckét 🎫', role: 'backend' },
            ghost: { ticket: 'boo', role: 'no-such-role' },
          },
        },
      },
    },
  ],
};

const ticket =
  (value: string) =>
  (method: string): string => {
    if (method !== 'ticket') throw new Error(`unexpected ${method}`);
    return value;
  };

describe('ticket, static principals', () => {
  it.each(SERIALIZERS)('autobahn-js (%s) joins with its ticket; a wrong ticket and an unknown authid get the same ABORT', async (serializer) => {
    const router = await startTestRouter(STATIC);
    const ok = welcomed(await joinAutobahn(router.url, serializer, { authmethods: ['ticket'], authid: 'joe', onchallenge: ticket('secret!!!') }));
    expect(ok).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static', realm: 'realm1' });
    const unicode = welcomed(await joinAutobahn(router.url, serializer, { authmethods: ['ticket'], authid: 'ünï ⚙', onchallenge: ticket('tïckét 🎫') }));
    expect(unicode).toMatchObject({ authid: 'ünï ⚙', authrole: 'backend' });
    const wrong = aborted(await joinAutobahn(router.url, serializer, { authmethods: ['ticket'], authid: 'joe', onchallenge: ticket('secret!!') }));
    const unknown = aborted(await joinAutobahn(router.url, serializer, { authmethods: ['ticket'], authid: 'nobody', onchallenge: ticket('secret!!!') }));
    expect(wrong).toEqual(FAILED);
    expect(unknown).toEqual(wrong);
  });

  it.each(SERIALIZERS)('wampy (%s) joins with its ticket; a wrong ticket and an unknown authid get the same ABORT', async (serializer) => {
    const router = await startTestRouter(STATIC);
    const ok = welcomed(await joinWampy(router.url, serializer, { authmethods: ['ticket'], authid: 'joe', onChallenge: ticket('secret!!!') }));
    expect(ok).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'static' });
    const wrong = aborted(await joinWampy(router.url, serializer, { authmethods: ['ticket'], authid: 'joe', onChallenge: ticket('') }));
    const unknown = aborted(await joinWampy(router.url, serializer, { authmethods: ['ticket'], authid: 'nobody', onChallenge: ticket('secret!!!') }));
    expect(wrong).toEqual(FAILED);
    expect(unknown).toEqual(wrong);
  });

  it('challenges an unknown authid exactly like a known one, and refuses a role the realm lacks with no_such_role', async () => {
    const router = await startTestRouter(STATIC);
    for (const authid of ['joe', 'nobody']) {
      const raw = await Raw.open(router.url);
      raw.hello('realm1', { authmethods: ['ticket'], authid });
      expect(await raw.next()).toEqual([MessageCode.Challenge, 'ticket', {}]);
    }
    // The right ticket for a principal whose role realm1 does not have.
    expect(await rawTicket(router.url, 'ghost', 'boo')).toEqual([
      MessageCode.Abort,
      { message: "no role 'no-such-role' in realm 'realm1'" },
      'wamp.error.no_such_role',
    ]);
    // No authid: nothing to check the ticket against.
    const raw = await Raw.open(router.url);
    raw.hello('realm1', { authmethods: ['ticket'] });
    expect((await raw.next())[0]).toBe(MessageCode.Challenge);
    raw.send([MessageCode.Authenticate, 'secret!!!', {}]);
    expect(await raw.next()).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    // A listener with ticket only does not take anonymous sessions.
    const anon = await Raw.open(router.url);
    anon.hello('realm1', {});
    expect((await anon.next())[2]).toBe('wamp.error.no_auth_method');
  });

  it('moves the session to the principal’s realm, as Crossbar does', async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1' }, { name: 'devices' }],
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'static', principals: { dev: { ticket: 't', role: 'device', realm: 'devices' } } } } }],
    });
    const welcome = await rawTicket(router.url, 'dev', 't');
    expect(welcome[0]).toBe(MessageCode.Welcome);
    expect(welcome[2]).toMatchObject({ realm: 'devices', authid: 'dev', authrole: 'device' });
  });

  it('aborts a client that never answers the CHALLENGE after authTimeoutMs', async () => {
    const router = await startTestRouter({ ...STATIC, authTimeoutMs: 200 });
    const raw = await Raw.open(router.url);
    const started = Date.now();
    raw.hello('realm1', { authmethods: ['ticket'], authid: 'joe' });
    expect((await raw.next())[0]).toBe(MessageCode.Challenge);
    expect(await raw.next(3000)).toEqual([MessageCode.Abort, { message: 'no AUTHENTICATE in time' }, FAILED.reason]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await within(raw.closed, 3000, 'the connection to close');
    // The same with autobahn-js, whose onchallenge never settles.
    const stuck = aborted(
      await joinAutobahn(router.url, 'json', { authmethods: ['ticket'], authid: 'joe', onchallenge: () => new Promise<string>(() => undefined) }),
    );
    expect(stuck.reason).toBe(FAILED.reason);
    expect(router.sessionCount).toBe(0);
  });
});

describe('ticket, dynamic authenticator (a WAMP procedure)', () => {
  const config: RouterConfigFile = {
    realms: REALMS,
    listeners: [
      { type: 'websocket', auth: { ticket: { type: 'dynamic', authenticator: 'com.example.authenticate', 'authenticator-realm': 'auth' } } },
      // Where the authenticator component connects: a trusted backend listener, as Crossbar's
      // tutorial runs it on a separate transport.
      { type: 'websocket', path: '/backend', auth: { anonymous: { type: 'static', role: 'trusted', realm: 'auth' } } },
    ],
  };

  /** Crossbar's tutorial authenticator: a role for a good ticket, an ERROR for anything else. */
  function tutorialAuthenticator(call: { authid: unknown; details: Record<string, unknown> }): unknown {
    const tickets: Record<string, { ticket: string; answer: unknown }> = {
      joe: { ticket: 'secret123', answer: 'frontend' },
      ann: { ticket: 'annpass', answer: { role: 'backend', authid: 'ann@example.com', extra: { plan: 'gold', n: 2 ** 40 } } },
      bad: { ticket: 'bad', answer: { role: 'nonexistent' } },
      odd: { ticket: 'odd', answer: 42 },
    };
    const entry = typeof call.authid === 'string' ? tickets[call.authid] : undefined;
    if (entry !== undefined && entry.ticket === call.details['ticket']) return entry.answer;
    throw new autobahn.Error('com.example.invalid_ticket', [`could not authenticate session - invalid ticket for principal ${String(call.authid)}`]);
  }

  it.each(SERIALIZERS)('admits what the authenticator answers, and refuses its ERROR with authentication_failed (%s)', async (serializer) => {
    const { router } = await startLoggedRouter(config);
    const calls = await authenticatorComponent(urlOf(router, 1), 'auth', 'com.example.authenticate', tutorialAuthenticator);
    const joe = welcomed(await joinAutobahn(router.url, serializer, { authmethods: ['ticket'], authid: 'joe', onchallenge: ticket('secret123') }));
    expect(joe).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'ticket', authprovider: 'dynamic', realm: 'realm1' });
    const ann = welcomed(await joinWampy(router.url, serializer, { authmethods: ['ticket'], authid: 'ann', onChallenge: ticket('annpass') }));
    expect(ann).toMatchObject({ authid: 'ann@example.com', authrole: 'backend', authprovider: 'dynamic', authextra: { plan: 'gold' } });
    const wrong = aborted(await joinAutobahn(router.url, serializer, { authmethods: ['ticket'], authid: 'joe', onchallenge: ticket('nope') }));
    const unknown = aborted(await joinWampy(router.url, serializer, { authmethods: ['ticket'], authid: 'zed', onChallenge: ticket('secret123') }));
    expect(wrong).toEqual(FAILED);
    expect(unknown).toEqual(FAILED);
    // Crossbar's call: (realm, authid, details) with the ticket and the transport.
    const first = calls[0]!;
    expect(first.realm).toBe('realm1');
    expect(first.authid).toBe('joe');
    expect(first.details).toMatchObject({ ticket: 'secret123', authmethod: 'ticket', authid: 'joe', authextra: {}, session: expect.any(Number) });
    expect(first.details['transport']).toMatchObject({
      type: 'websocket',
      protocol: `wamp.2.${serializer}`,
      peer: expect.stringMatching(/^tcp4:127\.0\.0\.1:\d+$/),
    });
    expect((first.details['transport'] as Record<string, unknown>)['http_headers_received']).toMatchObject({
      host: expect.any(String),
      'sec-websocket-protocol': `wamp.2.${serializer}`,
    });
  });

  it('refuses an unknown role with no_such_role, a malformed answer and a missing authenticator with authentication_failed', async () => {
    const router = await startTestRouter(config);
    // No component yet: the call fails with no_such_procedure.
    expect(await rawTicket(router.url, 'joe', 'secret123')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    await authenticatorComponent(urlOf(router, 1), 'auth', 'com.example.authenticate', tutorialAuthenticator);
    expect((await rawTicket(router.url, 'joe', 'secret123'))[0]).toBe(MessageCode.Welcome);
    expect(await rawTicket(router.url, 'bad', 'bad')).toEqual([
      MessageCode.Abort,
      { message: "no role 'nonexistent' in realm 'realm1'" },
      'wamp.error.no_such_role',
    ]);
    expect(await rawTicket(router.url, 'odd', 'odd')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
  });

  it('bounds a silent authenticator by authTimeoutMs', async () => {
    const router = await startTestRouter({ ...config, authTimeoutMs: 300 });
    await authenticatorComponent(urlOf(router, 1), 'auth', 'com.example.authenticate', () => new Promise(() => undefined));
    const started = Date.now();
    expect(await rawTicket(router.url, 'joe', 'secret123')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('ticket, webhook', () => {
  /** A node:http webhook; `answer` decides each request. Closed when the test finishes. */
  async function webhook(
    answer: (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void,
  ): Promise<{ url: string; requests: Record<string, unknown>[] }> {
    const requests: Record<string, unknown>[] = [];
    const server = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        requests.push({ ...body, headers: req.headers });
        answer(body, req, res);
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
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`, requests };
  }

  const reply = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  };

  it('admits what a 200 answers and refuses anything else with authentication_failed', async () => {
    const hook = await webhook((body, req, res) => {
      const details = body['details'] as Record<string, unknown>;
      if (req.headers['authorization'] !== 'Bearer router-key') return reply(res, 401, '{}');
      if (body['authid'] === 'joe' && details['ticket'] === 'secret123')
        return reply(res, 200, JSON.stringify({ role: 'frontend', extra: { via: 'webhook' } }));
      if (body['authid'] === 'plain' && details['ticket'] === 'p') return reply(res, 200, JSON.stringify('backend'));
      if (body['authid'] === 'garbage') return reply(res, 200, 'not json');
      if (body['authid'] === 'slow') return; // never answers
      reply(res, 403, JSON.stringify({ error: 'invalid ticket' }));
    });
    const router = await startTestRouter({
      realms: REALMS,
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'webhook', url: hook.url, timeoutMs: 300, headers: { authorization: 'Bearer router-key' } } } }],
    });
    const joe = welcomed(await joinAutobahn(router.url, 'cbor', { authmethods: ['ticket'], authid: 'joe', onchallenge: ticket('secret123') }));
    expect(joe).toMatchObject({ authid: 'joe', authrole: 'frontend', authprovider: 'webhook', authextra: { via: 'webhook' } });
    expect(welcomed(await joinWampy(router.url, 'json', { authmethods: ['ticket'], authid: 'plain', onChallenge: ticket('p') }))).toMatchObject({
      authrole: 'backend',
    });
    expect(hook.requests[0]).toMatchObject({
      realm: 'realm1',
      authid: 'joe',
      authmethod: 'ticket',
      details: { ticket: 'secret123', authmethod: 'ticket', transport: { type: 'websocket' } },
    });
    for (const [authid, value] of [
      ['joe', 'wrong'],
      ['nobody', 'secret123'],
      ['garbage', 'x'],
      ['slow', 'x'],
    ] as const) {
      expect(aborted(await joinAutobahn(router.url, 'json', { authmethods: ['ticket'], authid, onchallenge: ticket(value) })), authid).toEqual(FAILED);
    }
  });

  it('does not follow a redirect: the webhook that redirects refuses, its target is never asked', async () => {
    const elsewhere = await webhook((_b, _r, res) => reply(res, 200, '"frontend"'));
    const hook = await webhook((_b, _r, res) => {
      res.writeHead(307, { location: elsewhere.url });
      res.end();
    });
    const router = await startTestRouter({
      realms: REALMS,
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'webhook', url: hook.url, timeoutMs: 2000 } } }],
    });
    expect(await rawTicket(router.url, 'joe', 'x')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    expect(hook.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('reads at most maxAnswerBytes of an answer, as a stream: past it the lookup is cut off, refused and counted', async () => {
    let written = 0;
    let closed = false;
    const hook = await webhook((_b, _r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.on('close', () => (closed = true));
      const chunk = Buffer.alloc(16 * 1024, 0x20); // JSON whitespace, then it would be a valid role
      const go = (): void => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', go);
        }
        res.end('"frontend"');
      };
      go();
    });
    const router = await startTestRouter({
      realms: REALMS,
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'webhook', url: hook.url, timeoutMs: 5000, maxAnswerBytes: 4096 } } }],
    });
    expect(await rawTicket(router.url, 'joe', 'x')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    expect(router.stats.limitsExceeded.get('maxAnswerBytes')).toBe(1);
    await until(() => closed, 3000, 'the webhook request aborted');
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });

  it('a webhook answer that drips in is cut off at timeoutMs', async () => {
    const hook = await webhook((_b, _r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(' ');
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const router = await startTestRouter({
      realms: REALMS,
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'webhook', url: hook.url, timeoutMs: 300 } } }],
    });
    const started = Date.now();
    expect(await rawTicket(router.url, 'joe', 'x')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
    // The answer never ends: without the cut-off this would wait for the test's timeout. 300 ms
    // plus the join under CI's full suite on 2 cores once took 3.06 s.
    expect(Date.now() - started).toBeLessThan(6000);
  });

  it('refuses when the webhook is unreachable', async () => {
    const hook = await webhook((_b, _r, res) => reply(res, 200, '"frontend"'));
    const dead = hook.url.replace(/:\d+\//, ':1/');
    const router = await startTestRouter({
      realms: REALMS,
      listeners: [{ type: 'websocket', auth: { ticket: { type: 'webhook', url: dead, timeoutMs: 1000 } } }],
    });
    expect(await rawTicket(router.url, 'joe', 'x')).toEqual([MessageCode.Abort, { message: FAILED.message }, FAILED.reason]);
  });
});
