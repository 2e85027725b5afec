/**
 * Half-sent HTTP requests and connection floods cannot escape the per-address limits: a listener
 * bounds the time to receive a request's headers (httpHeadersTimeoutMs) and the whole request
 * (httpRequestTimeoutMs), a connection that has said nothing yet on a port shared with RawSocket
 * waits no longer than the headers, and every accepted TCP connection counts against
 * maxSocketsPerIp before any byte is read. A long-poll receive held by the router and an SSE
 * stream are responses, not requests: those timeouts never cut them.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { checkConfig, resolveConfig } from '@switchboard/router';
import type { Router, WebSocketListenerFile } from '@switchboard/router';
import { startTestRouter, within } from '../helpers.js';
import { HELLO_DETAILS, longPollOpen, post } from '../transports/support.js';

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

async function listener(options: Partial<WebSocketListenerFile>): Promise<{ router: Router; port: number }> {
  const router = await startTestRouter({
    metrics: { port: 0 },
    listeners: [
      {
        type: 'websocket',
        ...options,
        http: {
          paths: {
            '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous' },
            '/events': { type: 'sse', realm: 'realm1', role: 'anonymous', keepAliveMs: 100 },
          },
        },
      },
    ],
  });
  return { router, port: router.addresses[0]!.port };
}

interface Probe {
  socket: Socket;
  /** What the router wrote before it closed the connection. */
  closed: Promise<string>;
  received(): string;
}

/** A raw TCP connection that sends `first` (if any) at once and then `drip` every 100 ms. */
function probe(port: number, first?: string, drip?: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const closed = new Promise<string>((done) => {
      socket.once('close', () => {
        clearInterval(timer);
        done(Buffer.concat(chunks).toString('latin1'));
      });
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    onTestFinished(() => {
      clearInterval(timer);
      socket.destroy();
    });
    socket.once('connect', () => {
      if (first !== undefined) socket.write(first);
      if (drip !== undefined) timer = setInterval(() => socket.write(drip), 100);
      resolve({ socket, closed, received: () => Buffer.concat(chunks).toString('latin1') });
    });
    socket.once('error', reject);
  });
}

describe('slow HTTP requests', () => {
  it('httpHeadersTimeoutMs: headers that never end get 408 and the connection is closed', async () => {
    const { router, port } = await listener({ httpHeadersTimeoutMs: 300 });
    const started = Date.now();
    const p = await probe(port, 'GET /health HTTP/1.1\r\nHost: x\r\n', 'X-A: b\r\n');
    expect(await within(p.closed, 5000, 'the dripping headers to be cut')).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="httpHeadersTimeoutMs"}')).toBe(1);
  });

  it('httpHeadersTimeoutMs: a connection that sends nothing is closed, also on a port shared with RawSocket', async () => {
    for (const rawsocket of [false, true]) {
      const { port } = await listener({ httpHeadersTimeoutMs: 300, rawsocket });
      const p = await probe(port);
      await within(p.closed, 5000, `an idle connection to be closed (rawsocket: ${rawsocket})`);
    }
  });

  it('httpRequestTimeoutMs: a body dripped to a bridge path gets 408 and the connection is closed', async () => {
    const { router, port } = await listener({ httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 600 });
    const p = await probe(port, 'POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{', ' ');
    expect(await within(p.closed, 5000, 'the dripping body to be cut')).toMatch(/^HTTP\/1\.1 408 /);
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="httpRequestTimeoutMs"}')).toBe(1);
  });

  it('an SSE stream outlives httpRequestTimeoutMs (a long response, not a slow request)', async () => {
    const { port } = await listener({ httpHeadersTimeoutMs: 200, httpRequestTimeoutMs: 200 });
    const p = await probe(port, 'GET /events?topic=com.example.t HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    const started = Date.now();
    // keepAliveMs 100: eight comment lines take 800 ms, four request timeouts.
    await within(
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if ((p.received().match(/\n:/g) ?? []).length >= 8) resolve();
        };
        p.socket.on('data', check);
        void p.closed.then(() => reject(new Error(`the stream was closed: ${p.received()}`)));
      }),
      5000,
      'eight keep-alive comments',
    );
    expect(p.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });

  it('a long-poll receive held past httpRequestTimeoutMs is answered as usual', async () => {
    const router = await startTestRouter({
      listeners: [{ type: 'websocket', httpHeadersTimeoutMs: 200, httpRequestTimeoutMs: 200, longpoll: { requestTimeoutMs: 800 } }],
    });
    const base = router.addresses[0]!.longpollUrl!;
    const { transport } = await longPollOpen(base, ['wamp.2.json']);
    const url = `${base}/${transport}`;
    expect((await post(`${url}/send`, JSON.stringify([MessageCode.Hello, 'realm1', HELLO_DETAILS]))).status).toBe(204);
    expect((await post(`${url}/receive`)).status).toBe(200);
    const started = Date.now();
    const held = await post(`${url}/receive`);
    expect(held.status).toBe(204);
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
  });
});

describe('maxSocketsPerIp', () => {
  it('an address holding that many TCP connections has its next one closed at once, counted; a closed one frees a slot', async () => {
    const { router, port } = await listener({ maxSocketsPerIp: 3 });
    const held = [await probe(port), await probe(port), await probe(port)];
    const refused = await probe(port);
    expect(await within(refused.closed, 2000, 'the fourth connection to be closed')).toBe('');
    expect(await metric(router.metricsUrl!, 'switchboard_limits_exceeded_total', '{limit="maxSocketsPerIp"}')).toBe(1);
    held[0]!.socket.destroy();
    await held[0]!.closed;
    // The router hears of the close asynchronously: retry until the slot is back (bounded).
    let answer = '';
    for (let i = 0; i < 20 && !answer.startsWith('HTTP/1.1 200'); i++) {
      const p = await probe(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      answer = await within(p.closed, 5000, 'the health answer');
    }
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('defaults: 1024 sockets per address (or maxConnectionsPerIp when larger), 10 s for headers, 30 s for a request', () => {
    const resolved = resolveConfig({ listeners: [{ type: 'websocket' }, { type: 'websocket', maxConnectionsPerIp: 2000 }] }).listeners;
    expect(resolved[0]).toMatchObject({ maxSocketsPerIp: 1024, httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000 });
    expect(resolved[1]).toMatchObject({ maxSocketsPerIp: 2000 });
    for (const key of ['maxSocketsPerIp', 'httpHeadersTimeoutMs', 'httpRequestTimeoutMs']) {
      expect(() => checkConfig({ listeners: [{ type: 'websocket', [key]: 0 }] })).toThrow(new RegExp(key));
    }
  });
});
