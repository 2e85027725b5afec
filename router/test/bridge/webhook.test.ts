/**
 * Webhook paths: any body is published as {headers, body}; 202 with success_response; GitHub's
 * X-Hub-Signature checked when github_secret is set; 500 with error_response when publishing fails.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bridgeRouter, httpBase, nextEvent, post, request, subscriber } from './support.js';

const HOOK = { type: 'webhook' as const, realm: 'realm1', role: 'anonymous', options: { topic: 'com.example.hooks' } };

describe('HTTP bridge webhook', () => {
  it('publishes any body with its headers and answers 202 OK', async () => {
    const r = await bridgeRouter({ '/hook': HOOK });
    const sub = await subscriber(r, 'com.example.hooks');
    const res = await request(`${httpBase(r)}/hook`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Custom': 'a' },
      body: 'name=ada&x=1',
    });
    expect(res.status).toBe(202);
    expect(res.text).toBe('OK');
    const event = await nextEvent(sub);
    expect(event.args).toHaveLength(1);
    const [payload] = event.args as [{ headers: Record<string, string[]>; body: string }];
    expect(payload.body).toBe('name=ada&x=1');
    expect(payload.headers['Content-Type']).toEqual(['application/x-www-form-urlencoded']);
    expect(payload.headers['X-Custom']).toEqual(['a']);
  });

  it('success_response sets the answer text; non-UTF-8 is still refused', async () => {
    const r = await bridgeRouter({ '/hook': { ...HOOK, options: { topic: 'com.example.hooks', success_response: 'thanks' } } });
    expect((await post(`${httpBase(r)}/hook`, { any: 'json' })).text).toBe('thanks');
    const bad = await request(`${httpBase(r)}/hook`, { method: 'POST', body: new Uint8Array([0x61, 0xff]) });
    expect(bad.status).toBe(400);
  });

  it('github_secret: a valid X-Hub-Signature passes, a missing or wrong one is 400', async () => {
    const secret = 'gh-secret';
    const r = await bridgeRouter({ '/hook': { ...HOOK, options: { topic: 'com.example.hooks', github_secret: secret } } });
    const sub = await subscriber(r, 'com.example.hooks');
    const body = JSON.stringify({ action: 'opened', number: 7 });
    const good = `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
    const ok = await request(`${httpBase(r)}/hook`, {
      method: 'POST',
      headers: { 'X-Hub-Signature': good.toUpperCase().replace('SHA1=', 'sha1='), 'X-GitHub-Event': 'issues' },
      body,
    });
    expect(ok.status).toBe(202);
    const [payload] = (await nextEvent(sub)).args as [{ headers: Record<string, string[]>; body: string }];
    expect(JSON.parse(payload.body)).toEqual({ action: 'opened', number: 7 });
    expect(payload.headers['X-Github-Event']).toEqual(['issues']);
    for (const headers of [{}, { 'X-Hub-Signature': 'sha1=0000' }] as Record<string, string>[]) {
      const res = await request(`${httpBase(r)}/hook`, { method: 'POST', headers, body });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: expect.stringMatching(/GitHub/) as string });
    }
    expect(await sub.silentFor(100)).toBe(true);
  });

  it('a publication the role may not make is 500 with error_response', async () => {
    const r = await bridgeRouter(
      { '/hook': { ...HOOK, options: { topic: 'com.example.hooks', error_response: 'nope' } } },
      { realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [] }] }] },
    );
    const res = await request(`${httpBase(r)}/hook`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(500);
    expect(res.text).toBe('nope');
  });

  it('405 for GET', async () => {
    const r = await bridgeRouter({ '/hook': HOOK });
    expect((await request(`${httpBase(r)}/hook`)).status).toBe(405);
  });
});
