/**
 * Publisher paths: a POST becomes an acknowledged PUBLISH that real WAMP subscribers receive;
 * PUBLISH options, authorization as the path's role, strict status codes, batches and
 * Idempotency-Key.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer } from '../helpers.js';
import { bridgeRouter, httpBase, nextEvent, post, subscriber } from './support.js';

/** The authid the router gave an anonymous raw peer (WELCOME.Details.authid). */
function authidOf(peer: RawPeer): string {
  return ((peer as RawPeer & { welcome: unknown[] }).welcome[2] as { authid: string }).authid;
}

const OPEN = { '/publish': { type: 'publisher' as const, realm: 'realm1', role: 'anonymous' } };

/** realm1 where anonymous may subscribe to everything, and `publisher` may publish only under com.example.open. */
const ROLES: RouterConfigFile = {
  realms: [
    {
      name: 'realm1',
      roles: [
        { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true, call: true, register: true } }] },
        { name: 'publisher', permissions: [{ uri: 'com.example.open.', match: 'prefix', allow: { publish: true } }] },
      ],
    },
  ],
};

describe('HTTP bridge publisher', () => {
  it('publishes args and kwargs to WAMP subscribers and answers the publication ID', async () => {
    const r = await bridgeRouter(OPEN);
    const sub = await subscriber(r, 'com.example.news');
    const res = await post(`${httpBase(r)}/publish`, { topic: 'com.example.news', args: ['hello', 2], kwargs: { from: 'curl' } });
    expect(res.status).toBe(200);
    const { id } = res.json as { id: number };
    const event = await nextEvent(sub);
    expect(event.publication).toBe(id);
    expect(event.args).toEqual(['hello', 2]);
    expect(event.kwargs).toEqual({ from: 'curl' });
  });

  it('honours exclude/eligible by session, authid and authrole', async () => {
    const r = await bridgeRouter(OPEN);
    const a = await subscriber(r, 'com.example.filter');
    const b = await subscriber(r, 'com.example.filter');
    const url = `${httpBase(r)}/publish`;
    await post(url, { topic: 'com.example.filter', args: ['to b'], options: { exclude: [a.session] } });
    expect((await nextEvent(b)).args).toEqual(['to b']);
    await post(url, { topic: 'com.example.filter', args: ['to a'], options: { eligible: [a.session] } });
    expect((await nextEvent(a)).args).toEqual(['to a']);
    // Both are anonymous: excluding their role reaches nobody, requiring it reaches both.
    await post(url, { topic: 'com.example.filter', args: ['nobody'], options: { exclude_authrole: ['anonymous'] } });
    await post(url, {
      topic: 'com.example.filter',
      args: ['both'],
      options: { eligible_authrole: ['anonymous'], eligible_authid: [authidOf(a), authidOf(b)] },
    });
    expect((await nextEvent(a)).args).toEqual(['both']);
    expect((await nextEvent(b)).args).toEqual(['both']);
    await post(url, { topic: 'com.example.filter', args: ['not a'], options: { exclude_authid: [authidOf(a)] } });
    expect((await nextEvent(b)).args).toEqual(['not a']);
    expect(await a.silentFor(100)).toBe(true);
  });

  it('a malformed exclude list is a WAMP error: 200 {"error": "wamp.error.invalid_argument"}', async () => {
    const r = await bridgeRouter(OPEN);
    const res = await post(`${httpBase(r)}/publish`, { topic: 'com.example.x', options: { exclude: 'everyone' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ error: 'wamp.error.invalid_argument' });
  });

  it('retain: a later subscriber asking for retained events gets it; disclose_me shows the path identity', async () => {
    const r = await bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', authid: 'django' } });
    const res = await post(`${httpBase(r)}/publish`, { topic: 'com.example.state', args: [{ on: true }], options: { retain: true, disclose_me: true } });
    const late = await RawPeer.join(r.url);
    late.send([MessageCode.Subscribe, late.nextRequest(), { get_retained: true }, 'com.example.state']);
    expect((await late.next())[0]).toBe(MessageCode.Subscribed);
    const retained = await nextEvent(late);
    expect(retained.publication).toBe((res.json as { id: number }).id);
    expect(retained.args).toEqual([{ on: true }]);
    expect(retained.details).toMatchObject({ retained: true, publisher_authid: 'django', publisher_authrole: 'anonymous' });
  });

  it('exclude_me: false is accepted (the bridge session itself never subscribes)', async () => {
    const r = await bridgeRouter(OPEN);
    const sub = await subscriber(r, 'com.example.me');
    await post(`${httpBase(r)}/publish`, { topic: 'com.example.me', args: [1], options: { exclude_me: false, acknowledge: false } });
    expect((await nextEvent(sub)).args).toEqual([1]);
  });

  it('an invalid topic is 200 {"error": "wamp.error.invalid_uri"} (Crossbar), 400 on a strict path', async () => {
    const r = await bridgeRouter({ ...OPEN, '/strict': { type: 'publisher', realm: 'realm1', role: 'anonymous', strict: true } });
    const lax = await post(`${httpBase(r)}/publish`, { topic: 'bad..topic' });
    expect(lax.status).toBe(200);
    expect(lax.json).toEqual({ error: 'wamp.error.invalid_uri', args: [expect.any(String) as string], kwargs: {} });
    const strict = await post(`${httpBase(r)}/strict`, { topic: 'wamp.reserved' });
    expect(strict.status).toBe(400);
    expect(strict.json).toMatchObject({ error: 'wamp.error.invalid_uri' });
  });

  it('acts as the path role: authorized like a WAMP session with it (200 error or strict 403)', async () => {
    const r = await bridgeRouter(
      {
        '/publish': { type: 'publisher', realm: 'realm1', role: 'publisher' },
        '/strict': { type: 'publisher', realm: 'realm1', role: 'publisher', strict: true },
      },
      ROLES,
    );
    const sub = await subscriber(r, 'com.example.open.news');
    expect((await post(`${httpBase(r)}/publish`, { topic: 'com.example.open.news', args: [1] })).status).toBe(200);
    expect((await nextEvent(sub)).args).toEqual([1]);
    const denied = await post(`${httpBase(r)}/publish`, { topic: 'com.example.closed' });
    expect(denied.status).toBe(200);
    expect(denied.json).toMatchObject({ error: 'wamp.error.not_authorized' });
    const strict = await post(`${httpBase(r)}/strict`, { topic: 'com.example.closed' });
    expect(strict.status).toBe(403);
    expect(strict.json).toMatchObject({ error: 'wamp.error.not_authorized' });
  });

  it('a path role the realm does not have stops the router at start', async () => {
    await expect(bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'ghost' } }, ROLES)).rejects.toThrow(/no role 'ghost'|ghost/);
  });

  it('batch: a JSON array publishes in order and answers one result each', async () => {
    const r = await bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'publisher' } }, ROLES);
    const sub = await subscriber(r, 'com.example.open.', { match: 'prefix' });
    const res = await post(`${httpBase(r)}/publish`, [
      { topic: 'com.example.open.a', args: [1] },
      { topic: 'com.example.closed', args: [2] },
      { topic: 'com.example.open.b', args: [3], kwargs: { k: true } },
    ]);
    expect(res.status).toBe(200);
    const results = res.json as ({ id: number } | { error: string })[];
    expect(results).toHaveLength(3);
    expect(results[1]).toMatchObject({ error: 'wamp.error.not_authorized' });
    const first = await nextEvent(sub);
    const second = await nextEvent(sub);
    expect([first.args, second.args]).toEqual([[1], [3]]);
    expect(first.publication).toBe((results[0] as { id: number }).id);
    expect(second.publication).toBe((results[2] as { id: number }).id);
    expect(second.details['topic']).toBe('com.example.open.b');
  });

  it('batch: one malformed item refuses the whole batch before anything is published', async () => {
    const r = await bridgeRouter({ ...OPEN, '/small': { type: 'publisher', realm: 'realm1', role: 'anonymous', maxBatch: 2 } });
    const sub = await subscriber(r, 'com.example.batch');
    const res = await post(`${httpBase(r)}/publish`, [{ topic: 'com.example.batch' }, { args: [] }]);
    expect(res.status).toBe(400);
    expect((res.json as { error: string }).error).toMatch(/publication 1.*missing key 'topic'/);
    const big = await post(`${httpBase(r)}/small`, [{ topic: 'com.example.batch' }, { topic: 'com.example.batch' }, { topic: 'com.example.batch' }]);
    expect(big.status).toBe(400);
    expect(await sub.silentFor(100)).toBe(true);
  });

  it('Idempotency-Key: a repeat answers the first result and publishes once; another body is 422', async () => {
    const r = await bridgeRouter(OPEN);
    const sub = await subscriber(r, 'com.example.once');
    const url = `${httpBase(r)}/publish`;
    const body = { topic: 'com.example.once', args: ['x'] };
    const first = await post(url, body, { 'Idempotency-Key': 'order-17' });
    const again = await post(url, body, { 'Idempotency-Key': 'order-17' });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(first.json);
    expect((await nextEvent(sub)).publication).toBe((first.json as { id: number }).id);
    expect(await sub.silentFor(100)).toBe(true);
    const other = await post(url, { topic: 'com.example.once', args: ['y'] }, { 'Idempotency-Key': 'order-17' });
    expect(other.status).toBe(422);
    // Another key publishes again.
    expect((await post(url, body, { 'Idempotency-Key': 'order-18' })).status).toBe(200);
    expect((await nextEvent(sub)).args).toEqual(['x']);
  });

  it('Idempotency-Key: a key longer than 255 characters is refused (400) and publishes nothing', async () => {
    const r = await bridgeRouter(OPEN);
    const sub = await subscriber(r, 'com.example.keys');
    const url = `${httpBase(r)}/publish`;
    const body = { topic: 'com.example.keys', args: ['x'] };
    const long = await post(url, body, { 'Idempotency-Key': 'k'.repeat(256) });
    expect(long.status).toBe(400);
    expect(await sub.silentFor(100)).toBe(true);
    expect((await post(url, body, { 'Idempotency-Key': 'k'.repeat(255) })).status).toBe(200);
    expect((await nextEvent(sub)).args).toEqual(['x']);
  });

  it('concurrent requests share the one bridge session and all arrive', async () => {
    const r = await bridgeRouter(OPEN);
    const sub = await subscriber(r, 'com.example.many');
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => post(`${httpBase(r)}/publish`, { topic: 'com.example.many', args: [i] })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const seen = new Set<unknown>();
    for (let i = 0; i < 50; i++) seen.add((await nextEvent(sub)).args?.[0]);
    expect(seen.size).toBe(50);
  });
});
