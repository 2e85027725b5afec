// Checks a Switchboard deployment from the outside, through whatever proxy is in front:
//   node check.mjs https://chat.example.com        (default https://localhost:8443)
// GET /health, GET / (a static page), then WAMP over wss://…/ws with @switchboard/client: a call
// to a procedure this script registers, and an event it publishes to itself. Exit 0 when all work.
// For a self-signed certificate: NODE_EXTRA_CA_CERTS=cert.pem node check.mjs https://localhost:8443
import { connect } from '@switchboard/client';

const base = new URL(process.argv[2] ?? process.env.SWITCHBOARD_BASE ?? 'https://localhost:8443');
const realm = process.env.WAMP_REALM ?? 'realm1';
const wsUrl = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}/ws`;

const health = await fetch(new URL('/health', base));
console.log(`GET /health: ${health.status} ${JSON.stringify(await health.json())}`);
const page = await fetch(new URL('/', base));
console.log(`GET /: ${page.status} ${page.headers.get('content-type')}`);

const session = await connect({ url: wsUrl, realm, reconnect: false });
console.log(`WAMP over ${wsUrl}: session ${session.id}, ${session.serializer}`);
await session.register('com.example.check.echo', (args) => args);
const echoed = await session.call('com.example.check.echo', ['ping']);
console.log(`call: ${JSON.stringify(echoed)}`);
const events = await session.subscribe('com.example.check.event');
await session.publish('com.example.check.event', ['pong'], {}, { acknowledge: true, exclude_me: false });
for await (const { args } of events) {
  console.log(`event: ${JSON.stringify(args)}`);
  break;
}
await session.leave();
