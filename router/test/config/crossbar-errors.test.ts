/**
 * Import errors point into the Crossbar file as written: the pointer before the colon, pointers
 * inside the message ("set … with …"), and field names (`certificate`, not our `cert`); and no
 * validator noise: a failed "one of these forms" is one line in words ("needs 'a' or 'b'"), not
 * every branch's error plus "must match a schema in anyOf".
 */
import { describe, expect, it } from 'vitest';
import { checkConfig, loadConfig } from '@switchboard/router';
import { configError, writeConfig } from './support.js';

/** A Crossbar file with one router worker, realm1 (role anonymous), and these transports. */
const node = (...transports: unknown[]): Record<string, unknown> => ({
  version: 2,
  workers: [
    {
      type: 'router',
      realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { call: true } }] }] }],
      transports,
    },
  ],
});

/** The problems loadConfig reports for `crossbar`. */
const problemsOf = (crossbar: unknown): string[] => configError(() => loadConfig(writeConfig(crossbar))).problems;

describe('Crossbar import errors', () => {
  it('tls authentication without client certificates names the Crossbar endpoint and its ca_certificates, not /listeners/0/tls', () => {
    const problems = problemsOf(
      node({
        type: 'websocket',
        endpoint: { type: 'tcp', port: 8080 },
        auth: {
          tls: {
            type: 'static',
            principals: { device: { 'certificate-sha1': 'B6:E5:E6:F2:2A:86:DB:3C:DC:9F:51:42:58:39:9B:14:92:5D:A1:6F', role: 'anonymous' } },
          },
        },
      }),
    );
    expect(problems).toEqual([
      '/workers/0/transports/0/auth/tls: needs a TLS listener that asks for client certificates (set /workers/0/transports/0/endpoint/tls with ca_certificates)',
    ]);
  });

  it('two permissions of a role with the same URI and match policy (uri* is a prefix) are named in the Crossbar file', () => {
    const crossbar = node({ type: 'websocket', endpoint: { type: 'tcp', port: 8080 } });
    const worker = (crossbar['workers'] as Record<string, unknown>[])[0]!;
    worker['realms'] = [
      {
        name: 'realm1',
        roles: [
          {
            name: 'anonymous',
            permissions: [
              { uri: 'com.a.', match: 'prefix', allow: { call: true } },
              { uri: 'com.a.*', allow: { call: false } },
            ],
          },
        ],
      },
    ];
    expect(problemsOf(crossbar)).toEqual([
      "/workers/0/realms/0/roles/0/permissions/1: prefix 'com.a.' is also /workers/0/realms/0/roles/0/permissions/0; give each URI and match policy one permission",
    ]);
  });

  it('a missing or wrong TLS field is named as in Crossbar (certificate, ca_certificates)', () => {
    const problems = problemsOf(
      node(
        { type: 'websocket', endpoint: { type: 'tcp', port: 8080, tls: { key: 'server.key' } } },
        { type: 'rawsocket', endpoint: { type: 'tcp', port: 8081, tls: { key: 'server.key', certificate: 'server.crt', ca_certificates: 5 } } },
      ),
    );
    expect(problems).toEqual([
      "/workers/0/transports/0/endpoint/tls: missing required field 'certificate'",
      '/workers/0/transports/1/endpoint/tls/ca_certificates: must be of type string or array',
    ]);
  });

  it('a tls principal without a fingerprint is one line in words, with no anyOf noise', () => {
    const problems = problemsOf(
      node({
        type: 'websocket',
        endpoint: { type: 'tcp', port: 8443, tls: { key: 'k.pem', certificate: 'c.pem', ca_certificates: ['ca.pem'] } },
        auth: { tls: { type: 'static', principals: { device: { role: 'anonymous' } } } },
      }),
    );
    expect(problems).toEqual(["/workers/0/transports/0/auth/tls/principals/device: needs 'certificate-sha1' or 'certificate-sha256'"]);
  });

  it('no problem of a broken file speaks of the converted config or of the validator', () => {
    const error = configError(() =>
      loadConfig(
        writeConfig(
          node(
            {
              type: 'universal',
              endpoint: { type: 'tcp', port: 70000 },
              rawsocket: {},
              websocket: { ws: { type: 'websocket', options: { auto_ping_interval: -1 } } },
              web: { paths: { lp: { type: 'longpoll', options: { request_timeout: 9999 } } } },
            },
            {
              type: 'websocket',
              endpoint: { type: 'tcp', port: 8080, tls: {} },
              auth: { tls: { type: 'static', principals: { x: { role: 'anonymous' } } }, cookie: {} },
            },
            { type: 'rawsocket', endpoint: { type: 'tcp', port: 8080 }, auth: { cookie: {} } },
          ),
        ),
      ),
    );
    const problems = error.problems;
    expect(problems.length).toBeGreaterThan(5);
    for (const problem of problems) {
      expect(problem).toMatch(/^\/workers\/0\/(transports|realms)\//);
      expect(problem).not.toMatch(/\/listeners\/|\/realms\/\d+\/[a-z]+[A-Z]|anyOf|oneOf|must match/);
      expect(problem).not.toMatch(/'(cert|ca|clientCertificates|requestTimeoutMs)'/);
    }
    expect(problems).toContain('/workers/0/transports/0/endpoint/port: must be <= 65535');
    // Crossbar's seconds, bounded to what we accept, with a warning rather than an error about our milliseconds.
    expect(error.warnings).toContain('/workers/0/transports/0/web/paths/lp/options/request_timeout: 9999 s is outside 0.1 s…300 s: 300 s is used');
    expect(problems).toContain('/workers/0/transports/2/endpoint/port: 0.0.0.0:8080 clashes with /workers/0/transports/1/endpoint (0.0.0.0:8080)');
    expect(problems).toContain(
      '/workers/0/transports/2/auth/cookie: cookie authentication needs a WebSocket transport (or a "websocket" path of a Web transport)',
    );
  });
});

describe('more Crossbar fields named as written', () => {
  it('event history, endpoint interface and max_message_size of the wrong type; a long-poll queue below our minimum', () => {
    const crossbar = node({
      type: 'web',
      endpoint: { type: 'tcp', port: 8080, interface: 5 },
      paths: { ws: { type: 'websocket', options: { max_message_size: 'big' } }, lp: { type: 'longpoll', options: { queue_limit_bytes: 5 } } },
    });
    ((crossbar['workers'] as Record<string, unknown>[])[0]!['realms'] as Record<string, unknown>[])[0]!['store'] = {
      type: 'memory',
      'event-history': [{ uri: 't', limit: -1 }],
    };
    const error = configError(() => loadConfig(writeConfig(crossbar)));
    expect(error.problems).toEqual([
      '/workers/0/transports/0/endpoint/interface: must be of type string',
      '/workers/0/transports/0/paths/ws/options/max_message_size: must be of type integer',
      '/workers/0/realms/0/store/event-history/0/limit: must be >= 1',
    ]);
    expect(error.warnings).toContain('/workers/0/transports/0/paths/lp/options/queue_limit_bytes: 5 is below 1024: 1024 is used');
  });
});

describe('validator noise in native configs too', () => {
  it('anyOf of required fields is one line; oneOf of types is one line', () => {
    const error = (() => {
      try {
        checkConfig({
          listeners: [
            {
              type: 'websocket',
              tls: { cert: 'c', key: 'k', ca: 7, clientCertificates: 'request' },
              auth: { tls: { type: 'static', principals: { x: { role: 'r' } } } },
            },
          ],
        });
      } catch (err) {
        return err as { problems: string[] };
      }
      throw new Error('accepted');
    })();
    expect(error.problems).toEqual([
      '/listeners/0/tls/ca: must be of type string or array',
      "/listeners/0/auth/tls/principals/x: needs 'certificate-sha1' or 'certificate-sha256'",
    ]);
  });
});
