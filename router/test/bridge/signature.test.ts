/**
 * Signed requests (Crossbar's key/timestamp/seq/nonce/signature), replay protection, increasing
 * sequence numbers and bearer tokens. Signatures are computed in the test with node:crypto, and
 * once by Python's hmac and base64 exactly as crossbarhttp does.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { computeSignature } from '../../src/http/bridge/signature.js';
import type { RouterConfigFile } from '@switchboard/router';
import { within } from '../helpers.js';
import { requireSystem } from '../../../test/support/system.js';
import { bridgeRouter, httpBase, nextEvent, post, signature, signedQuery, subscriber } from './support.js';

const KEY = 'foobar';
const SECRET = 'secret123';
const SIGNED = { type: 'publisher' as const, realm: 'realm1', role: 'anonymous', options: { key: KEY, secret: SECRET } };

/** Runs Python (crossbarhttp's algorithm: hmac.new(secret, None, sha256), update each part, base64.urlsafe_b64encode). */
function pythonSignature(secret: string, key: string, timestamp: string, seq: string, nonce: string, body: string): Promise<string> {
  const script = [
    'import base64, hashlib, hmac, sys',
    'secret, key, timestamp, seq, nonce, body = sys.argv[1:7]',
    "hm = hmac.new(secret.encode('utf8'), None, hashlib.sha256)",
    "for part in (key, timestamp, seq, nonce, body): hm.update(part.encode('utf8'))",
    "sys.stdout.write(base64.urlsafe_b64encode(hm.digest()).decode('ascii'))",
  ].join('\n');
  return within(
    new Promise<string>((resolve, reject) => {
      execFile(requireSystem('python3'), ['-c', script, secret, key, timestamp, seq, nonce, body], (err, stdout) =>
        err !== null ? reject(err) : resolve(stdout),
      );
    }),
    10_000,
    'python3',
  );
}

describe('HTTP bridge signed requests', () => {
  it('the signature vector agrees three ways: Python (crossbarhttp), node:crypto in the test, and the router', async () => {
    const body = '{"topic": "com.myapp.topic1", "args": ["Hello, world"]}';
    const parts = { key: KEY, timestamp: '2026-01-14T16:59:51.123Z', seq: '1', nonce: '10', body };
    const python = await pythonSignature(SECRET, parts.key, parts.timestamp, parts.seq, parts.nonce, body);
    expect(python).toMatch(/^[A-Za-z0-9_-]{43}=$/);
    expect(signature(SECRET, parts.key, parts.timestamp, parts.seq, parts.nonce, body)).toBe(python);
    expect(computeSignature(SECRET, parts)).toBe(python);
  });

  it('a correctly signed request publishes; the Python signature is accepted too', async () => {
    const r = await bridgeRouter({ '/publish': SIGNED });
    const sub = await subscriber(r, 'com.example.signed');
    const body = JSON.stringify({ topic: 'com.example.signed', args: ['signed'] });
    const { query } = signedQuery(SECRET, KEY, body, { seq: 1 });
    expect((await post(`${httpBase(r)}/publish?${query}`, body)).status).toBe(200);
    expect((await nextEvent(sub)).args).toEqual(['signed']);
    const timestamp = new Date().toISOString();
    const sig = await pythonSignature(SECRET, KEY, timestamp, '2', '12345', body);
    const params = new URLSearchParams({ key: KEY, timestamp, seq: '2', nonce: '12345', signature: sig });
    expect((await post(`${httpBase(r)}/publish?${params.toString()}`, body)).status).toBe(200);
  });

  it('values are URL-decoded before signing (a key with reserved characters)', async () => {
    const key = 'team a/b+c&d';
    const r = await bridgeRouter({ '/publish': { ...SIGNED, options: { key, secret: SECRET } } });
    const body = JSON.stringify({ topic: 'com.example.signed' });
    const { query } = signedQuery(SECRET, key, body);
    expect(query).toContain('team+a%2Fb%2Bc%26d');
    expect((await post(`${httpBase(r)}/publish?${query}`, body)).status).toBe(200);
  });

  it('400 when a signed path gets a request without each mandatory field', async () => {
    const r = await bridgeRouter({ '/publish': SIGNED });
    const body = JSON.stringify({ topic: 'com.example.signed' });
    const { params } = signedQuery(SECRET, KEY, body);
    expect((await post(`${httpBase(r)}/publish`, body)).status).toBe(400);
    for (const missing of ['key', 'timestamp', 'seq', 'nonce', 'signature']) {
      const partial = new URLSearchParams(Object.entries(params).filter(([k]) => k !== missing));
      const res = await post(`${httpBase(r)}/publish?${partial.toString()}`, body);
      expect(res.status, missing).toBe(400);
      expect((res.json as { error: string }).error).toContain(`'${missing}'`);
    }
  });

  it('400 for a malformed timestamp, seq or nonce', async () => {
    const r = await bridgeRouter({ '/publish': SIGNED });
    const body = JSON.stringify({ topic: 'com.example.signed' });
    for (const [field, value] of [
      ['timestamp', '2026-01-14 16:59:51'],
      ['timestamp', '2026-02-30T00:00:00.000Z'],
      ['seq', 'one'],
      ['nonce', '0x10'],
    ] as const) {
      const { params } = signedQuery(SECRET, KEY, body);
      const query = new URLSearchParams({ ...params, [field]: value });
      expect((await post(`${httpBase(r)}/publish?${query.toString()}`, body)).status, `${field}=${value}`).toBe(400);
    }
  });

  it('400 for a timestamp too old or too far ahead (timestamp_delta_limit)', async () => {
    const r = await bridgeRouter({ '/publish': { ...SIGNED, options: { key: KEY, secret: SECRET, timestamp_delta_limit: 10 } } });
    const body = JSON.stringify({ topic: 'com.example.signed' });
    for (const offset of [-60_000, 60_000]) {
      const { query } = signedQuery(SECRET, KEY, body, { timestamp: new Date(Date.now() + offset).toISOString() });
      const res = await post(`${httpBase(r)}/publish?${query}`, body);
      expect(res.status, String(offset)).toBe(400);
      expect((res.json as { error: string }).error).toMatch(/timestamp/);
    }
    // crossbarhttp writes microseconds (Python's isoformat), or no fraction at all.
    const micro = new Date().toISOString().replace('Z', '456Z');
    expect((await post(`${httpBase(r)}/publish?${signedQuery(SECRET, KEY, body, { timestamp: micro }).query}`, body)).status).toBe(200);
    const whole = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    expect((await post(`${httpBase(r)}/publish?${signedQuery(SECRET, KEY, body, { timestamp: whole }).query}`, body)).status).toBe(200);
  });

  it('401 for an unknown key or a wrong signature (body, secret or any field changed)', async () => {
    const r = await bridgeRouter({ '/publish': SIGNED });
    const body = JSON.stringify({ topic: 'com.example.signed', args: [1] });
    const unknown = await post(`${httpBase(r)}/publish?${signedQuery(SECRET, 'other', body).query}`, body);
    expect(unknown.status).toBe(401);
    expect(unknown.json).toMatchObject({ args: [], kwargs: {} });
    const wrongSecret = await post(`${httpBase(r)}/publish?${signedQuery('not-the-secret', KEY, body).query}`, body);
    expect(wrongSecret.status).toBe(401);
    const tampered = await post(`${httpBase(r)}/publish?${signedQuery(SECRET, KEY, body).query}`, body.replace('[1]', '[2]'));
    expect(tampered.status).toBe(401);
    const { params } = signedQuery(SECRET, KEY, body, { seq: 5 });
    const changedSeq = new URLSearchParams({ ...params, seq: '6' });
    expect((await post(`${httpBase(r)}/publish?${changedSeq.toString()}`, body)).status).toBe(401);
    // Without the padding Python writes, the signature is not Crossbar's.
    const unpadded = new URLSearchParams({ ...params, signature: (params['signature'] ?? '').replace(/=$/, '') });
    expect((await post(`${httpBase(r)}/publish?${unpadded.toString()}`, body)).status).toBe(401);
  });

  it('a replayed request (same nonce within the window) is refused with 401, and not published twice', async () => {
    const r = await bridgeRouter({ '/publish': SIGNED });
    const sub = await subscriber(r, 'com.example.replay');
    const body = JSON.stringify({ topic: 'com.example.replay', args: ['once'] });
    const { query } = signedQuery(SECRET, KEY, body, { nonce: 777 });
    expect((await post(`${httpBase(r)}/publish?${query}`, body)).status).toBe(200);
    const replay = await post(`${httpBase(r)}/publish?${query}`, body);
    expect(replay.status).toBe(401);
    expect((replay.json as { error: string }).error).toMatch(/nonce/);
    expect((await nextEvent(sub)).args).toEqual(['once']);
    expect(await sub.silentFor(100)).toBe(true);
    // A fresh nonce is fine.
    expect((await post(`${httpBase(r)}/publish?${signedQuery(SECRET, KEY, body, { nonce: 778 }).query}`, body)).status).toBe(200);
  });

  it('requireIncreasingSeq: a seq not above the last accepted one is refused with 401', async () => {
    const r = await bridgeRouter({ '/publish': { ...SIGNED, requireIncreasingSeq: true } });
    const body = JSON.stringify({ topic: 'com.example.seq' });
    const send = async (seq: number): Promise<number> => (await post(`${httpBase(r)}/publish?${signedQuery(SECRET, KEY, body, { seq }).query}`, body)).status;
    expect(await send(5)).toBe(200);
    expect(await send(5)).toBe(401);
    expect(await send(4)).toBe(401);
    expect(await send(6)).toBe(200);
    expect(await send(100)).toBe(200);
  });

  it('without requireIncreasingSeq any seq is fine (Crossbar clients in several processes)', async () => {
    const r = await bridgeRouter({ '/publish': SIGNED });
    const body = JSON.stringify({ topic: 'com.example.seq' });
    for (const seq of [3, 1, 1]) expect((await post(`${httpBase(r)}/publish?${signedQuery(SECRET, KEY, body, { seq }).query}`, body)).status).toBe(200);
  });

  it('the caller path checks signatures the same way', async () => {
    const r = await bridgeRouter({ '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', options: { key: KEY, secret: SECRET } } });
    const body = JSON.stringify({ procedure: 'wamp.session.count' });
    expect((await post(`${httpBase(r)}/call`, body)).status).toBe(400);
    const ok = await post(`${httpBase(r)}/call?${signedQuery(SECRET, KEY, body).query}`, body);
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ args: [expect.any(Number) as number], kwargs: {} });
  });
});

describe('HTTP bridge bearer tokens', () => {
  const ROLES: RouterConfigFile = {
    realms: [
      {
        name: 'realm1',
        roles: [
          { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { subscribe: true } }] },
          { name: 'backend', permissions: [{ uri: 'com.example.', match: 'prefix', allow: { publish: true }, disclose: { publisher: true } }] },
          { name: 'reader', permissions: [] },
        ],
      },
    ],
  };
  const TOKENS = [
    { token: 'backend-token-0123456789', role: 'backend', authid: 'billing' },
    { token: 'reader-token-0123456789', role: 'reader' },
  ];

  it('a token acts as its authid and role, checked by the realm authorizer', async () => {
    const r = await bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'reader', tokens: TOKENS, strict: true } }, ROLES);
    const sub = await subscriber(r, 'com.example.invoices');
    const url = `${httpBase(r)}/publish`;
    const ok = await post(url, { topic: 'com.example.invoices', args: [1] }, { Authorization: 'Bearer backend-token-0123456789' });
    expect(ok.status).toBe(200);
    const event = await nextEvent(sub);
    expect(event.details).toMatchObject({ publisher_authid: 'billing', publisher_authrole: 'backend' });
    const reader = await post(url, { topic: 'com.example.invoices' }, { Authorization: 'bearer reader-token-0123456789' });
    expect(reader.status).toBe(403);
  });

  it('401 without a token or with an unknown one (WWW-Authenticate: Bearer)', async () => {
    const r = await bridgeRouter({ '/publish': { type: 'publisher', realm: 'realm1', role: 'reader', tokens: TOKENS } }, ROLES);
    const url = `${httpBase(r)}/publish`;
    const none = await post(url, { topic: 'com.example.invoices' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const basic = await post(url, { topic: 'com.example.invoices' }, { Authorization: 'Basic YTpi' });
    expect(basic.status).toBe(401);
    const unknown = await post(url, { topic: 'com.example.invoices' }, { Authorization: 'Bearer not-a-known-token-000' });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.get('www-authenticate')).toMatch(/invalid_token/);
  });

  it('with a secret too, either a valid signature or a valid token admits', async () => {
    const r = await bridgeRouter(
      { '/publish': { type: 'publisher', realm: 'realm1', role: 'backend', tokens: TOKENS, options: { key: KEY, secret: SECRET } } },
      ROLES,
    );
    const url = `${httpBase(r)}/publish`;
    const body = JSON.stringify({ topic: 'com.example.either' });
    expect((await post(`${url}?${signedQuery(SECRET, KEY, body).query}`, body)).status).toBe(200);
    expect((await post(url, body, { Authorization: 'Bearer backend-token-0123456789' })).status).toBe(200);
    expect((await post(url, body)).status).toBe(400);
  });
});
