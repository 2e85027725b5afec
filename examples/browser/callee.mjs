// The Node side of the browser example: registers com.example.add, which the page calls, and stays
// registered until Ctrl-C (SIGINT) or SIGTERM, then leaves the realm. WAMP_URL is the router
// (with-router.mjs sets it; default ws://127.0.0.1:8080/ws).
import { connect } from '@switchboard/client';

const url = process.env.WAMP_URL ?? 'ws://127.0.0.1:8080/ws';
const session = await connect({ url, realm: 'realm1' });
await session.register('com.example.add', ([a, b]) => a + b);

const page = new URL('/', url.replace(/^ws/, 'http')).href;
console.log(`com.example.add is registered; open ${page} in a browser (Ctrl-C stops)`);

// Ctrl-C in a terminal reaches every process of the group, and with-router.mjs passes it on too:
// the first signal is enough.
let leaving = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (leaving) return;
    leaving = true;
    await session.leave();
    console.log('callee left');
  });
}
