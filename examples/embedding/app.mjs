// @ts-check
/**
 * The router embedded in an Express app: one HTTP server for the app's routes and for WAMP over
 * WebSocket (`router.attach(server)`), a router-side async procedure registered through
 * `router.session('realm1')` (an in-process @switchboard/client session: no socket, nothing
 * encoded), a typed contract (contract.d.ts), and a Node client calling it over the WebSocket.
 *
 * SWITCHBOARD_PORT (default 8080; 0 for any free port) moves it; `--serve` keeps it running for a
 * browser or another client (Ctrl-C stops it).
 */
import express from 'express';
import { connect } from '@switchboard/client';
import { createRouter, createLogger } from '@switchboard/router';

const port = Number(process.env['SWITCHBOARD_PORT'] ?? 8080);
const serve = process.argv.includes('--serve');

// The application: its own routes, its own server.
const app = express();
app.get('/', (_req, res) => res.send('Hello from Express'));
const server = await new Promise((resolve) => {
  const s = app.listen(port, '127.0.0.1', () => resolve(s));
});
const { port: bound } = /** @type {import('node:net').AddressInfo} */ (server.address());

// The router: no listener of its own (`listeners: []`), WAMP on the app's server at /ws.
const router = await createRouter({ config: { listeners: [] }, logger: createLogger({ level: 'warn', pretty: false }) }).start();
router.attach(server, { path: '/ws' });
console.log(`Express and WAMP on http://127.0.0.1:${bound} (WebSocket at /ws)`);

// The router's own session: an async procedure, typed by the contract.
/** @type {import('@switchboard/client').Session<import('./contract.js').Api>} */
const inside = await router.session('realm1');
await inside.register('com.example.greet', async ([name], _kwargs, call) => {
  call.progress(['looking up']);
  const greeting = await new Promise((resolve) => setTimeout(() => resolve(`Hello, ${name}`), 10));
  await inside.publish('com.example.greeted', [name]);
  return greeting;
});

// A client over the WebSocket, as a browser or another service would be.
/** @type {import('@switchboard/client').Session<import('./contract.js').Api>} */
const client = await connect({ url: `ws://127.0.0.1:${bound}/ws`, realm: 'realm1', reconnect: false });
/** @type {(name: string) => void} */
let onGreeted = () => undefined;
const greeted = new Promise((resolve) => (onGreeted = resolve));
await client.subscribe('com.example.greeted', ([name]) => onGreeted(name));
console.log(`GET / -> ${await (await fetch(`http://127.0.0.1:${bound}/`)).text()}`);
const result = await client.call('com.example.greet', ['Ada'], undefined, { onProgress: ([step]) => console.log(`progress: ${step}`) });
console.log(`com.example.greet("Ada") -> ${result}`);
console.log(`event: com.example.greeted ${await greeted}`);

if (serve) {
  console.log('serving until Ctrl-C');
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
} else await shutdown();

async function shutdown() {
  await client.leave();
  await router.stop();
  await new Promise((resolve) => server.close(resolve));
  console.log('stopped');
}
