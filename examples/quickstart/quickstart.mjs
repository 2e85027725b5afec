// Register a procedure, call it, subscribe and publish — with the Autobahn client, against Switchboard.
import autobahn from 'autobahn';

const url = process.env.WAMP_URL ?? 'ws://localhost:8080/ws';
// autobahn-js reports every close on stderr, a clean one too ("connection closed closed",
// "auto-reconnect disabled!"); this script closes on purpose, so it does without.
autobahn.log.warn = () => {};

const connection = new autobahn.Connection({ url, realm: 'realm1', max_retries: 0 });

connection.onopen = async (session) => {
  await session.register('com.example.add', ([a, b]) => a + b);
  const sum = await session.call('com.example.add', [2, 3]);
  console.log('2 + 3 =', sum);

  await session.subscribe('com.example.greeting', ([text], { from }) => {
    console.log(`event: ${text} (from ${from})`);
    connection.close();
  });
  await session.publish('com.example.greeting', ['hello'], { from: 'quickstart' }, { acknowledge: true, exclude_me: false });
};

connection.open();
