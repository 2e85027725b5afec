/**
 * Cookie tracking and the `cookie` authmethod: the upgrade response sets a tracking cookie; a
 * login by another method (ticket here) on it is remembered, so a later connection sending the
 * cookie and asking for `cookie` is welcomed as the same principal; GOODBYE wamp.close.logout
 * forgets it; an unknown cookie is replaced, never adopted.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { CODECS, MessageCode } from '@switchboard/schemas';
import { connect, ticketAuth } from '@switchboard/client';
import { Router, silentLogger } from '@switchboard/router';
import type { RouterConfigFile } from '@switchboard/router';
import { FrameQueue, startTestRouter, within } from '../helpers.js';
import { selfSigned } from './support.js';

/** A raw JSON WAMP connection that sends `cookie` and keeps the Set-Cookie of the upgrade response. */
class CookiePeer {
  readonly #inbox = new FrameQueue<unknown[]>('a WAMP message');
  setCookie: string | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.#inbox.push(JSON.parse(data.toString('utf8')) as unknown[]));
  }

  static async open(url: string, cookie?: string): Promise<CookiePeer> {
    const ws = new WebSocket(url, [CODECS.json.subprotocol], cookie === undefined ? {} : { headers: { Cookie: cookie } });
    onTestFinished(() => ws.terminate());
    const peer = new CookiePeer(ws);
    ws.once('upgrade', (res) => {
      const header = res.headers['set-cookie'];
      peer.setCookie = Array.isArray(header) ? header[0] : header;
    });
    await within(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      3000,
      'WebSocket open',
    );
    return peer;
  }

  send(message: unknown[]): void {
    this.ws.send(JSON.stringify(message));
  }

  hello(details: Record<string, unknown>, realm = 'realm1'): void {
    this.send([MessageCode.Hello, realm, { roles: { caller: {}, subscriber: {} }, ...details }]);
  }

  next(ms = 3000): Promise<unknown[]> {
    return this.#inbox.next(ms);
  }

  /** HELLO with a ticket: the WELCOME or ABORT that ends it. */
  async ticket(authid: string, ticket: string): Promise<unknown[]> {
    this.hello({ authmethods: ['ticket'], authid });
    const challenge = await this.next();
    if (challenge[0] !== MessageCode.Challenge) return challenge;
    this.send([MessageCode.Authenticate, ticket, {}]);
    return this.next();
  }
}

/** `name=value` of a Set-Cookie header (what a browser sends back). */
function pair(setCookie: string | undefined): string {
  if (setCookie === undefined) throw new Error('no Set-Cookie');
  return setCookie.split(';')[0]!;
}

const AUTH = {
  ticket: { type: 'static' as const, principals: { joe: { ticket: 'secret!', role: 'frontend' } } },
  cookie: {},
};

async function cookieRouter(extra: Partial<RouterConfigFile['listeners'] extends (infer L)[] | undefined ? L : never> = {}): Promise<string> {
  const router = await startTestRouter({ realms: [{ name: 'realm1' }, { name: 'realm2' }], listeners: [{ type: 'websocket', auth: AUTH, ...extra } as never] });
  return router.addresses[0]!.url;
}

describe('cookie tracking', () => {
  it('sets a random HttpOnly, SameSite=Lax cookie named cbtid on the upgrade, and keeps a known one', async () => {
    const url = await cookieRouter();
    const first = await CookiePeer.open(url);
    expect(first.setCookie).toMatch(/^cbtid=[A-Za-z0-9_-]{32}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
    const second = await CookiePeer.open(url);
    expect(pair(second.setCookie)).not.toBe(pair(first.setCookie));
    // A cookie the router handed out is kept: no new Set-Cookie.
    const again = await CookiePeer.open(url, `other=1; ${pair(first.setCookie)}`);
    expect(again.setCookie).toBeUndefined();
    // An unknown one is replaced, never adopted.
    const forged = await CookiePeer.open(url, 'cbtid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(forged.setCookie).toMatch(/^cbtid=/);
    expect(pair(forged.setCookie)).not.toBe('cbtid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
  });

  it('uses the configured name and max age', async () => {
    const url = await cookieRouter({ cookie: { name: 'sbtid', max_age: 600 } });
    const peer = await CookiePeer.open(url);
    expect(peer.setCookie).toMatch(/^sbtid=[A-Za-z0-9_-]{32}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/);
  });
});

describe('cookie authmethod', () => {
  it('our client (Node) logs in with a ticket and back with the cookie alone, sent with the websocket option, until it logs out', async () => {
    const url = await cookieRouter();
    // A browser gets the cookie from the upgrade response; here a first connection fetches it.
    const cookie = pair((await CookiePeer.open(url)).setCookie);
    const websocket = { headers: { Cookie: cookie } };
    const login = await connect({ url, realm: 'realm1', reconnect: false, websocket, auth: ticketAuth({ authid: 'joe', ticket: 'secret!' }) });
    expect(login.details).toMatchObject({ authid: 'joe', authmethod: 'ticket' });
    await login.leave();
    const back = await connect({ url, realm: 'realm1', reconnect: false, websocket, auth: { authmethods: ['cookie'] } });
    expect(back.details).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'cookie' });
    await back.leave('wamp.close.logout');
    await expect(connect({ url, realm: 'realm1', reconnect: false, websocket, auth: { authmethods: ['cookie'] } })).rejects.toMatchObject({
      reason: 'wamp.error.authentication_failed',
    });
  });

  it('welcomes a cookie that logged in with a ticket as the same principal, until wamp.close.logout', async () => {
    const url = await cookieRouter();
    const login = await CookiePeer.open(url);
    const cookie = pair(login.setCookie);
    const welcome = await login.ticket('joe', 'secret!');
    expect(welcome[2]).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'ticket' });

    const back = await CookiePeer.open(url, cookie);
    back.hello({ authmethods: ['cookie'] });
    const again = await back.next();
    expect(again[0]).toBe(MessageCode.Welcome);
    expect(again[2]).toMatchObject({ realm: 'realm1', authid: 'joe', authrole: 'frontend', authmethod: 'cookie', authprovider: 'cookie' });

    // A plain GOODBYE keeps the login.
    back.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect((await back.next())[0]).toBe(MessageCode.Goodbye);
    back.hello({ authmethods: ['cookie'] });
    expect((await back.next())[2]).toMatchObject({ authid: 'joe', authmethod: 'cookie' });

    // Logging out forgets it.
    back.send([MessageCode.Goodbye, {}, 'wamp.close.logout']);
    expect(await back.next()).toEqual([MessageCode.Goodbye, {}, 'wamp.close.goodbye_and_out']);
    const after = await CookiePeer.open(url, cookie);
    after.hello({ authmethods: ['cookie'] });
    const abort = await after.next();
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe('wamp.error.authentication_failed');
    // …and the client's next method is tried.
    const fallback = await CookiePeer.open(url, cookie);
    fallback.hello({ authmethods: ['cookie', 'ticket'], authid: 'joe' });
    expect(await fallback.next()).toEqual([MessageCode.Challenge, 'ticket', {}]);
  });

  it('refuses an unknown cookie, a cookie nobody logged in with, no cookie, and a login for another realm', async () => {
    const url = await cookieRouter();
    const attempts: (string | undefined)[] = ['cbtid=not-one-of-ours', undefined];
    const fresh = await CookiePeer.open(url);
    attempts.push(pair(fresh.setCookie));
    for (const cookie of attempts) {
      const peer = await CookiePeer.open(url, cookie);
      peer.hello({ authmethods: ['cookie'] });
      const abort = await peer.next();
      expect(abort[0]).toBe(MessageCode.Abort);
      expect(abort[2]).toBe('wamp.error.authentication_failed');
    }
    const login = await CookiePeer.open(url);
    expect((await login.ticket('joe', 'secret!'))[0]).toBe(MessageCode.Welcome);
    const elsewhere = await CookiePeer.open(url, pair(login.setCookie));
    elsewhere.hello({ authmethods: ['cookie'] }, 'realm2');
    expect((await elsewhere.next())[2]).toBe('wamp.error.authentication_failed');
  });

  it('refuses a cookie login under another authid than the one remembered', async () => {
    const url = await cookieRouter();
    const login = await CookiePeer.open(url);
    await login.ticket('joe', 'secret!');
    const peer = await CookiePeer.open(url, pair(login.setCookie));
    peer.hello({ authmethods: ['cookie'], authid: 'mallory' });
    expect((await peer.next())[2]).toBe('wamp.error.authentication_failed');
  });

  it('keeps logins across a restart in a file store, holding only hashes of the cookies', async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'switchboard-cookies-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const filename = joinPath(dir, 'cookies.json');
    const config: RouterConfigFile = {
      shutdownTimeoutMs: 500,
      listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0, auth: AUTH, cookie: { store: { type: 'file', filename } } }],
    };
    const first = new Router({ config, logger: silentLogger() });
    await first.start();
    const login = await CookiePeer.open(first.addresses[0]!.url);
    const cookie = pair(login.setCookie);
    await login.ticket('joe', 'secret!');
    await first.stop();
    const stored = readFileSync(filename, 'utf8');
    expect(stored).not.toContain(cookie.split('=')[1]);
    expect(stored).toContain('"authid":"joe"');

    const second = new Router({ config, logger: silentLogger() });
    await second.start();
    onTestFinished(() => second.stop());
    const back = await CookiePeer.open(second.addresses[0]!.url, cookie);
    back.hello({ authmethods: ['cookie'] });
    expect((await back.next())[2]).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'cookie' });
  });
});

describe('cookie tracking over TLS', () => {
  it('marks the cookie Secure', async () => {
    const server = await selfSigned();
    const router = await startTestRouter({ listeners: [{ type: 'websocket', tls: { cert: server.cert, key: server.key }, auth: AUTH }] });
    const ws = new WebSocket(router.addresses[0]!.url, [CODECS.json.subprotocol], { ca: server.ca });
    onTestFinished(() => ws.terminate());
    const setCookie = await within(
      new Promise<string | undefined>((resolve, reject) => {
        ws.once('upgrade', (res) => resolve(res.headers['set-cookie']?.[0]));
        ws.once('error', reject);
      }),
      3000,
      'the upgrade response',
    );
    expect(setCookie).toMatch(/^cbtid=[A-Za-z0-9_-]{32}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
  });
});
