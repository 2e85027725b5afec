/**
 * Config for the transports: rawsocket listeners, and rawsocket / longpoll / batched on websocket
 * listeners. The JSON Schema names the field of every mistake; defaults fill in the rest.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, checkConfig, resolveConfig } from '@switchboard/router';
import { DEFAULT_LONGPOLL } from '../../src/config/config.js';

function problemsOf(value: unknown): string[] {
  try {
    checkConfig(value);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the config was accepted');
}

describe('resolveConfig: transports', () => {
  it('a rawsocket listener takes port 8081, 16 MiB (the largest RawSocket length), every serializer, no connection limit and no pings by default', () => {
    const [listener] = resolveConfig({ listeners: [{ type: 'rawsocket' }] }).listeners;
    expect(listener).toMatchObject({
      type: 'rawsocket',
      host: '0.0.0.0',
      port: 8081,
      serializers: ['json', 'msgpack', 'cbor'],
      maxMessageBytes: 16777216,
      minPeerMaxMessageBytes: 512,
      maxConnections: 0,
      pingIntervalMs: 0,
    });
    expect(listener).not.toHaveProperty('path');
  });

  it('a websocket listener offers batched subprotocols by default; rawsocket and longpoll are off until set', () => {
    // A listener written in the config (the embedded default has both: embedded-default.test.ts).
    const [plain] = resolveConfig({ listeners: [{ type: 'websocket' }] }).listeners;
    expect(plain).toMatchObject({ type: 'websocket', batched: true });
    expect(plain).not.toHaveProperty('rawsocket');
    expect(plain).not.toHaveProperty('longpoll');
    const [full] = resolveConfig({ listeners: [{ type: 'websocket', rawsocket: true, batched: false, longpoll: { requestTimeoutMs: 5000 } }] }).listeners;
    expect(full).toMatchObject({ rawsocket: true, batched: false, longpoll: { ...DEFAULT_LONGPOLL, requestTimeoutMs: 5000 } });
    expect(DEFAULT_LONGPOLL).toEqual({ path: '/lp', requestTimeoutMs: 10_000, sessionTimeoutMs: 30_000, queueMaxBytes: 4194304, queueMaxMessages: 10_000 });
  });

  it('accepts every documented field', () => {
    expect(() =>
      checkConfig({
        listeners: [
          {
            type: 'websocket',
            port: 8080,
            rawsocket: true,
            batched: true,
            longpoll: { path: '/longpoll', requestTimeoutMs: 10000, sessionTimeoutMs: 30000, queueMaxBytes: 65536, queueMaxMessages: 100 },
          },
          {
            type: 'rawsocket',
            port: 8081,
            maxMessageBytes: 16777216,
            minPeerMaxMessageBytes: 65536,
            maxConnections: 100,
            pingIntervalMs: 10000,
            serializers: ['cbor'],
            outbound: { softLimitBytes: 65536 },
          },
          { type: 'rawsocket', path: '/run/switchboard.sock', maxMessageBytes: 512 },
        ],
      }),
    ).not.toThrow();
  });
});

describe('checkConfig: transports', () => {
  it.each<[string, unknown, string[]]>([
    ['an unknown listener type', { listeners: [{ type: 'mqtt' }] }, ['/listeners/0/type: must be one of "websocket", "rawsocket"']],
    [
      'a max length that is not a power of two',
      { listeners: [{ type: 'rawsocket', maxMessageBytes: 1000 }] },
      [expect.stringMatching(/^\/listeners\/0\/maxMessageBytes: must be one of 512, 1024, 2048, .*, 16777216$/) as unknown as string],
    ],
    [
      'a max length beyond 2^24',
      { listeners: [{ type: 'rawsocket', maxMessageBytes: 33554432 }] },
      [expect.stringMatching(/^\/listeners\/0\/maxMessageBytes: must be one of/) as unknown as string],
    ],
    ['a WebSocket-only field on a rawsocket listener', { listeners: [{ type: 'rawsocket', longpoll: {} }] }, ["/listeners/0: unknown field 'longpoll'"]],
    [
      'a RawSocket-only field on a websocket listener',
      { listeners: [{ type: 'websocket', maxConnections: 5 }] },
      ["/listeners/0: unknown field 'maxConnections'"],
    ],
    ['maxConnections 0', { listeners: [{ type: 'rawsocket', maxConnections: 0 }] }, ['/listeners/0/maxConnections: must be >= 1']],
    ['rawsocket not a boolean', { listeners: [{ type: 'websocket', rawsocket: 'yes' }] }, ['/listeners/0/rawsocket: must be of type boolean']],
    [
      'a long-poll path without its slash',
      { listeners: [{ type: 'websocket', longpoll: { path: 'lp' } }] },
      [`/listeners/0/longpoll/path: 'lp' must start with '/' and not end with '/' (e.g. "/lp")`],
    ],
    [
      'a long-poll path ending in a slash',
      { listeners: [{ type: 'websocket', longpoll: { path: '/lp/' } }] },
      [`/listeners/0/longpoll/path: '/lp/' must start with '/' and not end with '/' (e.g. "/lp")`],
    ],
    [
      'an unknown long-poll field',
      { listeners: [{ type: 'websocket', longpoll: { timeout: 5 } }] },
      ["/listeners/0/longpoll: unknown field 'timeout' (allowed here: path, requestTimeoutMs, sessionTimeoutMs, queueMaxBytes, queueMaxMessages)"],
    ],
    [
      'a tiny request timeout',
      { listeners: [{ type: 'websocket', longpoll: { requestTimeoutMs: 10 } }] },
      ['/listeners/0/longpoll/requestTimeoutMs: must be >= 100'],
    ],
    [
      'an empty message queue',
      { listeners: [{ type: 'websocket', longpoll: { queueMaxMessages: 0 } }] },
      ['/listeners/0/longpoll/queueMaxMessages: must be >= 1'],
    ],
    ['tls without its key', { listeners: [{ type: 'rawsocket', tls: { cert: 'c.pem' } }] }, ["/listeners/0/tls: missing required field 'key'"]],
    [
      'a Unix socket path with a port',
      { listeners: [{ type: 'rawsocket', path: '/tmp/a.sock', port: 9000 }] },
      ['/listeners/0: give either path (a Unix socket) or host and port, not both'],
    ],
    [
      'one Unix socket path twice',
      {
        listeners: [
          { type: 'rawsocket', path: '/tmp/a.sock' },
          { type: 'rawsocket', path: '/tmp/a.sock' },
        ],
      },
      ['/listeners/1/path: Unix socket /tmp/a.sock is also /listeners/0/path'],
    ],
    [
      'a rawsocket listener on the default WebSocket port',
      { listeners: [{ type: 'websocket' }, { type: 'rawsocket', port: 8080 }] },
      ['/listeners/1/port: 0.0.0.0:8080 clashes with /listeners/0 (0.0.0.0:8080)'],
    ],
    [
      'two rawsocket listeners on the default RawSocket port',
      { listeners: [{ type: 'rawsocket' }, { type: 'rawsocket', host: '127.0.0.1' }] },
      ['/listeners/1/port: 127.0.0.1:8081 clashes with /listeners/0 (0.0.0.0:8081)'],
    ],
  ])('explains %s', (_name, value, problems) => {
    expect(problemsOf(value)).toEqual(problems);
  });
});
