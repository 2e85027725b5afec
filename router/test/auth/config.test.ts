/**
 * A listener's `auth` block: Crossbar's shapes are accepted as they are, and every mistake is
 * reported with its JSON pointer and a plain reason (schema and semantic checks together).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, checkConfig } from '@switchboard/router';

function problems(value: unknown): string[] {
  try {
    checkConfig(value);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const realms = [{ name: 'realm1' }, { name: 'auth' }, { name: 'devices' }];
const listener = (auth: unknown): unknown => ({ realms, listeners: [{ type: 'websocket', auth }] });

describe('auth configuration', () => {
  it("accepts Crossbar's auth blocks as they are", () => {
    // From Crossbar's documentation and crossbar-examples (authentication/*/.crossbar/config.json).
    const crossbar = {
      anonymous: { type: 'static', role: 'public', realm: 'realm1' },
      ticket: { type: 'static', principals: { joe: { ticket: 'secret!!!', role: 'frontend' } } },
      wampcra: {
        type: 'static',
        users: {
          client1: { secret: 'secret123', role: 'frontend' },
          client2: { secret: 'prq7+YkJ1/KlW1X0YczMHw==', role: 'frontend', salt: 'salt123', iterations: 100, keylen: 16 },
        },
      },
      cryptosign: {
        type: 'static',
        principals: {
          'client01@example.com': { realm: 'devices', role: 'device', authorized_keys: ['545efb0a2192db8d43f118e9bf9aee081466e1ef36c708b96ee6f62dddad9122'] },
        },
      },
      // As autobahn-python's derive_scram_credential writes it (hex salt and keys).
      scram: {
        type: 'static',
        principals: {
          'alice@example.com': {
            role: 'frontend',
            kdf: 'argon2id-13',
            iterations: 4096,
            memory: 512,
            salt: '000102030405060708090a0b0c0d0e0f',
            'stored-key': 'c41008462a44093ac083367ec2262f3d8e72cdf558990cdbc0ef6ee94b9ee6e6',
            'server-key': 'b0661f8fcd786bd6a2c896b8271b56c62e3cf57ebc9be190d937e57427416c09',
          },
        },
      },
    };
    expect(problems(listener(crossbar))).toEqual([]);
    for (const method of ['ticket', 'wampcra', 'cryptosign']) {
      expect(problems(listener({ [method]: { type: 'dynamic', authenticator: 'com.example.authenticate' } })), method).toEqual([]);
      expect(problems(listener({ [method]: { type: 'dynamic', authenticator: 'com.example.authenticate', 'authenticator-realm': 'auth' } })), method).toEqual(
        [],
      );
      expect(
        problems(listener({ [method]: { type: 'webhook', url: 'https://auth.example.com/wamp', timeoutMs: 2000, headers: { authorization: 'Bearer x' } } })),
        method,
      ).toEqual([]);
    }
    expect(problems(listener({ ticket: { type: 'webhook', url: 'http://127.0.0.1:9000/' }, limits: { failuresPerMinute: 5, blockMs: 300_000 } }))).toEqual([]);
  });

  it('a webhook source takes maxAnswerBytes (1 KiB to 16 MiB)', () => {
    expect(problems(listener({ ticket: { type: 'webhook', url: 'http://127.0.0.1:9000/', maxAnswerBytes: 4096 } }))).toEqual([]);
    expect(problems(listener({ ticket: { type: 'webhook', url: 'http://127.0.0.1:9000/', maxAnswerBytes: 100 } })).join('\n')).toMatch(/maxAnswerBytes/);
    expect(problems(listener({ ticket: { type: 'webhook', url: 'http://127.0.0.1:9000/', maxAnswerBytes: 1 << 30 } })).join('\n')).toMatch(/maxAnswerBytes/);
  });

  it('names the field and the reason of every mistake, all at once', () => {
    expect(
      problems({
        realms,
        listeners: [
          {
            type: 'websocket',
            auth: {
              ticket: { type: 'static', principals: { joe: { ticket: 'x', role: 'r', realm: 'nowhere', extra: 1 } }, authenticator: 'com.x' },
              wampcra: { type: 'dynamic', authenticator: 3, 'authenticator-realm': 'missing' },
              cryptosign: { type: 'function', principals: {} },
              scram: { type: 'static' },
              limits: { failuresPerMinute: -1, blockMs: 10 },
            },
          },
          {
            type: 'websocket',
            port: 9001,
            auth: {
              wampcra: { type: 'static', users: { ann: { secret: 's', role: 'r', iterations: 5 }, bob: { role: 'r' } } },
              cryptosign: {
                type: 'static',
                principals: { a: { role: 'r', authorized_keys: ['zz', 'a'.repeat(64)] }, b: { role: 'r', authorized_keys: ['A'.repeat(64)] } },
              },
            },
          },
          { type: 'websocket', port: 9002, auth: { ticket: { type: 'webhook', url: 'ftp://x' } } },
          { type: 'websocket', port: 9003, auth: {} },
          { type: 'websocket', port: 9004, auth: { ticket: { principals: {} } } },
        ],
      }).sort(),
    ).toEqual(
      [
        "/listeners/0/auth/scram: missing required field 'principals'",
        "/listeners/0/auth/ticket: unknown field 'authenticator' (allowed here: type, principals)",
        "/listeners/0/auth/ticket/principals/joe: unknown field 'extra' (allowed here: ticket, role, realm)",
        '/listeners/0/auth/wampcra/authenticator: must be of type string',
        '/listeners/0/auth/cryptosign/type: must be one of "static", "dynamic", "webhook"',
        '/listeners/0/auth/limits/failuresPerMinute: must be >= 0',
        '/listeners/0/auth/limits/blockMs: must be >= 1000',
        "/listeners/1/auth/wampcra/users/ann: 'iterations' needs 'salt' beside it",
        "/listeners/1/auth/wampcra/users/bob: missing required field 'secret'",
        "/listeners/1/auth/cryptosign/principals/a/authorized_keys/0: 'zz' must be an Ed25519 public key: 64 hex characters",
        "/listeners/2/auth/ticket/url: 'ftp://x' must be an http:// or https:// URL",
        "/listeners/4/auth/ticket: missing required field 'type'",
        "/listeners/0/auth/ticket/principals/joe/realm: no realm named 'nowhere' is configured",
        "/listeners/0/auth/wampcra/authenticator-realm: no realm named 'missing' is configured",
        `/listeners/1/auth/cryptosign/principals/b/authorized_keys: key ${'A'.repeat(64)} also belongs to 'a'; a key must name one principal`,
        '/listeners/3/auth: names no authentication method (anonymous, ticket, wampcra, cryptosign, scram, wamp-scram, tls, cookie), so no session could join',
      ].sort(),
    );
  });

  it('checks realms against the default realm when none are configured', () => {
    expect(problems({ listeners: [{ type: 'websocket', auth: { anonymous: { realm: 'realm1' } } }] })).toEqual([]);
    expect(problems({ listeners: [{ type: 'websocket', auth: { anonymous: { realm: 'other' } } }] })).toEqual([
      "/listeners/0/auth/anonymous/realm: no realm named 'other' is configured",
    ]);
  });
});
