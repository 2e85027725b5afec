// The Node example: register a procedure, call it, subscribe and publish, with @switchboard/client.
// WAMP_URL overrides the router URL (default ws://localhost:8080/ws).
import { connect, WampError } from '@switchboard/client';

const session = await connect({ url: process.env.WAMP_URL ?? 'ws://localhost:8080/ws', realm: 'realm1' });

await session.register('com.example.add', ([a, b]) => a + b);
console.log('2 + 3 =', await session.call('com.example.add', [2, 3]));

try {
  await session.call('com.example.missing');
} catch (err) {
  if (err instanceof WampError) console.log('error:', err.uri);
}

const greetings = await session.subscribe('com.example.greeting'); // an async iterator
await session.publish('com.example.greeting', ['hello'], { from: 'node' }, { acknowledge: true, exclude_me: false });
for await (const {
  args: [text],
  kwargs,
} of greetings) {
  console.log(`event: ${text} (from ${kwargs.from})`);
  break; // leaving the loop unsubscribes
}

await session.leave();
