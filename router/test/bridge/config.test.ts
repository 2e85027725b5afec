/**
 * Bridge configuration: what the schema and the semantic checks refuse (each naming its JSON
 * pointer), a Crossbar config with publisher / caller / webhook paths through the Crossbar
 * import, and the OpenAPI document.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ConfigError, checkConfig, resolveConfig } from '@switchboard/router';
import { convertCrossbar } from '../../src/config/crossbar.js';
import type { RouterConfigFile } from '@switchboard/router';
import { schemaUrl } from '@switchboard/schemas';
import { startTestRouter } from '../helpers.js';
import { bridgeRouter, httpBase, nextEvent, post, request, signedQuery, subscriber } from './support.js';

function problems(config: unknown): string[] {
  try {
    checkConfig(config);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const listener = (paths: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({
  listeners: [{ type: 'websocket', ...extra, http: { paths } }],
});

describe('HTTP bridge configuration', () => {
  it('accepts every path type with Crossbar option names', () => {
    const config = listener({
      '/publish': {
        type: 'publisher',
        realm: 'realm1',
        role: 'anonymous',
        options: {
          key: 'k',
          secret: 's',
          post_body_limit: 4096,
          timestamp_delta_limit: 60,
          require_ip: ['10.0.0.0/8', '::1'],
          require_tls: false,
          debug: true,
        },
        strict: true,
        maxBatch: 10,
      },
      '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', callTimeoutMs: 5000 },
      '/hook': {
        type: 'webhook',
        realm: 'realm1',
        role: 'anonymous',
        options: { topic: 'com.example.hook', success_response: 'ok', error_response: 'bad', github_secret: 'x' },
      },
      '/events': { type: 'sse', realm: 'realm1', role: 'anonymous', keepAliveMs: 1000, tokens: [{ token: 'a-long-enough-token', role: 'anonymous' }] },
    });
    expect(problems(config)).toEqual([]);
    const resolved = resolveConfig(checkConfig(config));
    const http = (resolved.listeners[0] as { http?: { paths: { path: string; options: { timestampDeltaLimit: number } }[]; openapi?: string } }).http!;
    expect(http.paths.map((p) => p.path)).toEqual(['/publish', '/call', '/hook', '/events']);
    expect(http.paths[1]!.options.timestampDeltaLimit).toBe(300);
    expect(http.openapi).toBe('/openapi.json');
  });

  it('refuses unknown options, a path without a leading slash, missing realm or topic, short tokens', () => {
    expect(problems(listener({ '/p': { type: 'publisher', realm: 'realm1', role: 'r', options: { sekret: 'x' } } }))).toContainEqual(
      expect.stringMatching(/\/listeners\/0\/http\/paths\/~1p\/options: unknown field 'sekret'/),
    );
    expect(problems(listener({ p: { type: 'publisher', realm: 'realm1', role: 'r' } })).join('\n')).toMatch(/paths/);
    expect(problems(listener({ '/p': { type: 'caller', role: 'r' } }))).toContainEqual(expect.stringMatching(/missing required field 'realm'/));
    expect(problems(listener({ '/h': { type: 'webhook', realm: 'realm1', role: 'r', options: {} } }))).toContainEqual(
      expect.stringMatching(/missing required field 'topic'/),
    );
    expect(problems(listener({ '/p': { type: 'publisher', realm: 'realm1', role: 'r', tokens: [{ token: 'short', role: 'r' }] } })).join('\n')).toMatch(
      /token/,
    );
    expect(problems(listener({ '/p': { type: 'teleport', realm: 'realm1', role: 'r' } })).join('\n')).toMatch(/must be one of/);
  });

  it('semantic problems: unknown realm, clashing path, key without secret, bad network, seq check without a secret', () => {
    const found = problems(
      listener({
        '/ws': { type: 'publisher', realm: 'realm1', role: 'r' },
        '/a': { type: 'publisher', realm: 'nowhere', role: 'r' },
        '/b': { type: 'caller', realm: 'realm1', role: 'r', options: { key: 'k' } },
        '/c': { type: 'caller', realm: 'realm1', role: 'r', options: { require_ip: ['10.0.0.0/33', 'localhost'] } },
        '/d': { type: 'publisher', realm: 'realm1', role: 'r', requireIncreasingSeq: true },
      }),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        '/listeners/0/http/paths/~1ws: /ws is already the WebSocket path',
        "/listeners/0/http/paths/~1a/realm: no realm named 'nowhere' in this config",
        '/listeners/0/http/paths/~1b/options: key and secret go together (signed requests need both)',
        "/listeners/0/http/paths/~1c/options/require_ip/0: '10.0.0.0/33' is not an IP address or CIDR network",
        "/listeners/0/http/paths/~1c/options/require_ip/1: 'localhost' is not an IP address or CIDR network",
        '/listeners/0/http/paths/~1d/requireIncreasingSeq: needs options.key and options.secret',
      ]),
    );
    expect(problems({ httpIntegrations: { subscribers: [{ realm: 'x', role: 'r', topic: 't', url: 'http://a' }] } })).toEqual([
      "/httpIntegrations/subscribers/0/realm: no realm named 'x' in this config",
    ]);
    expect(problems({ httpIntegrations: { callees: [{ realm: 'realm1', role: 'r', procedure: 'p', baseUrl: 'ftp://a' }] } }).join('\n')).toMatch(/baseUrl/);
  });

  it('httpIntegrations byte limits: maxQueueBytes and maxResponseBytes, positive integers within bounds', () => {
    expect(
      problems({
        httpIntegrations: {
          subscribers: [{ realm: 'realm1', role: 'r', topic: 't', url: 'http://a', maxQueueBytes: 1 << 20 }],
          callees: [{ realm: 'realm1', role: 'r', procedure: 'p', baseUrl: 'http://a/', maxResponseBytes: 65536 }],
        },
      }),
    ).toEqual([]);
    expect(problems({ httpIntegrations: { subscribers: [{ realm: 'realm1', role: 'r', topic: 't', url: 'http://a', maxQueueBytes: 0 }] } }).join('\n')).toMatch(
      /maxQueueBytes/,
    );
    expect(
      problems({ httpIntegrations: { callees: [{ realm: 'realm1', role: 'r', procedure: 'p', baseUrl: 'http://a/', maxResponseBytes: 1.5 }] } }).join('\n'),
    ).toMatch(/maxResponseBytes/);
  });
});

describe('a Crossbar config with publisher, caller and webhook paths', () => {
  const crossbar = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/crossbar/http-bridge.json', import.meta.url)), 'utf8')) as Record<
    string,
    unknown
  >;

  it('imports them as the listener http.paths, options as written', () => {
    const imported = convertCrossbar(crossbar);
    expect(imported.problems).toEqual([]);
    const listeners = imported.config['listeners'] as { path: string; http: { paths: Record<string, unknown> } }[];
    expect(listeners).toHaveLength(1);
    expect(listeners[0]!.path).toBe('/ws');
    expect(listeners[0]!.http.paths).toEqual({
      '/publish': {
        type: 'publisher',
        realm: 'realm1',
        role: 'anonymous',
        options: { key: 'foobar', secret: 'secret123', post_body_limit: 8192, timestamp_delta_limit: 10, require_ip: ['127.0.0.0/8'], require_tls: false },
      },
      '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', options: { debug: true, post_body_limit: 8192 } },
      '/webhook': {
        type: 'webhook',
        realm: 'realm1',
        role: 'anonymous',
        options: { topic: 'com.example.webhook', success_response: 'received', github_secret: 'gh-secret' },
      },
    });
    expect(problems(imported.config)).toEqual([]);
  });

  it('the imported router serves them: a signed publish reaches a WAMP subscriber', async () => {
    const config = convertCrossbar(crossbar).config as RouterConfigFile;
    const r = await startTestRouter(config);
    const sub = await subscriber(r, 'com.example.topic1');
    const body = JSON.stringify({ topic: 'com.example.topic1', args: ['from crossbar config'] });
    const res = await post(`${httpBase(r)}/publish?${signedQuery('secret123', 'foobar', body).query}`, body);
    expect(res.status).toBe(200);
    expect((await nextEvent(sub)).args).toEqual(['from crossbar config']);
    expect((await post(`${httpBase(r)}/call`, { procedure: 'wamp.session.count' })).status).toBe(200);
  });

  it('an unsupported option of a bridge path is a warning naming its pointer', () => {
    const copy = structuredClone(crossbar) as { workers: { transports: { paths: Record<string, { options: Record<string, unknown> }> }[] }[] };
    copy.workers[0]!.transports[0]!.paths['publish']!.options['shiny'] = 1;
    const imported = convertCrossbar(copy as unknown as Record<string, unknown>);
    expect(imported.warnings).toContain("/workers/0/transports/0/paths/publish/options/shiny: publisher option 'shiny' is not supported: ignored");
  });

  it("Crossbar's CORS (every origin, with credentials) is not carried over: a warning per path says how to opt in", () => {
    const imported = convertCrossbar(crossbar);
    expect(imported.warnings).toContain(
      '/workers/0/transports/0/paths/publish: Crossbar answers browser pages of any origin (CORS, with credentials); this publisher path refuses pages of other origins: list the ones to allow in its cors.origins',
    );
    const paths = (imported.config['listeners'] as { http: { paths: Record<string, Record<string, unknown>> } }[])[0]!.http.paths;
    for (const path of Object.values(paths)) expect(path['cors']).toBeUndefined();
  });
});

describe('the OpenAPI document', () => {
  it('describes each path, its parameters and status codes, with the body schemas', async () => {
    const r = await bridgeRouter({
      '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', options: { key: 'k', secret: 's' } },
      '/call': { type: 'caller', realm: 'realm1', role: 'anonymous', strict: true },
      '/events': { type: 'sse', realm: 'realm1', role: 'anonymous', tokens: [{ token: 'a-long-enough-token', role: 'anonymous' }] },
    });
    const res = await request(`${httpBase(r)}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = res.json as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(['/publish', '/call', '/events']);
    expect(doc.paths['/publish']!['post']!.parameters!.map((p) => p.name)).toEqual(['key', 'timestamp', 'seq', 'nonce', 'signature', 'Idempotency-Key']);
    expect(Object.keys(doc.paths['/call']!['post']!.responses)).toEqual(expect.arrayContaining(['200', '400', '403', '404', '502', '503', '504']));
    expect(Object.keys(doc.paths['/events']!)).toEqual(['get']);
    expect(doc.components.schemas['publishRequest']).toBeDefined();
    expect(res.text).not.toContain('a-long-enough-token');
    expect(res.text).not.toContain('"s"');
  });

  it('openapi: false serves none; the body schemas accept what the bridge accepts', async () => {
    const r = await startTestRouter({ listeners: [{ type: 'websocket', http: { paths: {}, openapi: false } }] });
    expect((await request(`${httpBase(r)}/openapi.json`)).status).toBe(404);
    const schema = JSON.parse(readFileSync(schemaUrl('http-bridge'), 'utf8')) as Record<string, unknown>;
    const ajv = new Ajv({ strict: true });
    ajv.addSchema(schema, 'bridge');
    const publish = ajv.getSchema('bridge#/definitions/publishRequest')!;
    expect(publish({ topic: 'a.b', args: null, kwargs: { x: 1 }, options: { exclude_me: false } })).toBe(true);
    expect(publish({ args: [] })).toBe(false);
    const call = ajv.getSchema('bridge#/definitions/callRequest')!;
    expect(call({ procedure: 'a.b', timeout: 100 })).toBe(true);
  });
});
