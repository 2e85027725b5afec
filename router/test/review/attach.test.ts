/**
 * Review finding 4: router.attach() on an application's server must not break the server's other
 * WebSocket endpoints. Whether a path is the router's is decided per upgrade request, by one
 * dispatcher per server for every attach(); a path not the router's is left to the server's other
 * 'upgrade' listeners, and answered 404 only when there is none.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it, onTestFinished } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createRouter, silentLogger } from '@switchboard/router';
import type { Router } from '@switchboard/router';
import { RawPeer } from '../helpers.js';

async function listening(): Promise<{ server: ReturnType<typeof createServer>; port: number }> {
  const server = createServer((_req, res) => res.end('the application'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port };
}

async function started(): Promise<Router> {
  const router = await createRouter({ logger: silentLogger(), config: { listeners: [], shutdownTimeoutMs: 300 } }).start();
  onTestFinished(() => router.stop());
  return router;
}

/** What a WebSocket client gets at `url`: the first message, an HTTP status, or an error. */
function firstAnswer(url: string): Promise<string> {
  return new Promise<string>((resolve) => {
    const ws = new WebSocket(url);
    onTestFinished(() => ws.terminate());
    ws.on('message', (d: Buffer) => resolve(`message: ${d.toString()}`));
    ws.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
    ws.on('error', (e) => resolve(`error: ${e.message}`));
  });
}

it("the application's own WebSocket endpoint, added after attach(), still gets its path", async () => {
  const { server, port } = await listening();
  const router = await started();
  router.attach(server, { path: '/ws' });
  const other = new WebSocketServer({ noServer: true });
  onTestFinished(() => void other.close());
  server.on('upgrade', (req, socket, head) => {
    if (req.url === '/other') other.handleUpgrade(req, socket, head, (ws) => ws.send('hello from the app'));
  });
  expect(await firstAnswer(`ws://127.0.0.1:${port}/other`)).toBe('message: hello from the app');
  // The router's own path still works beside it.
  await RawPeer.join(`ws://127.0.0.1:${port}/ws`, 'json');
});

it('two attach() on one server (/a and /b): both paths join', async () => {
  const { server, port } = await listening();
  const router = await started();
  router.attach(server, { path: '/a' });
  router.attach(server, { path: '/b' });
  await RawPeer.join(`ws://127.0.0.1:${port}/a`, 'json');
  await RawPeer.join(`ws://127.0.0.1:${port}/b`, 'json');
  // One dispatcher for both: the server has one 'upgrade' listener of the router's.
  expect(server.listeners('upgrade')).toHaveLength(1);
  expect(() => router.attach(server, { path: '/a' })).toThrow(/already attached to path \/a/);
});

it("a path nobody takes is refused with 404 (no socket left hanging); the router's listener goes at stop", async () => {
  const { server, port } = await listening();
  const router = await started();
  router.attach(server, { path: '/a' });
  router.attach(server, { path: '/b' });
  expect(await firstAnswer(`ws://127.0.0.1:${port}/elsewhere`)).toBe('status 404');
  await router.stop();
  expect(server.listeners('upgrade')).toHaveLength(0);
});
