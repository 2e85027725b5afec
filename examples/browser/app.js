// The browser example: pub/sub and a call to a procedure a Node process registered
// (examples/node-client registers com.example.add). Open index.html?url=ws://HOST:PORT/ws
import { connect } from './switchboard.js';

const url = new URLSearchParams(location.search).get('url') ?? 'ws://localhost:8080/ws';
document.querySelector('#url').textContent = url;
const log = (line) => {
  document.querySelector('#log').textContent += `${line}\n`;
};

try {
  const session = await connect({ url, realm: 'realm1' });
  log(`joined realm1 as session ${session.id}`);

  await session.subscribe('com.example.greeting', ([text], { from }) => log(`event: ${text} (from ${from})`));
  await session.publish('com.example.greeting', ['hello'], { from: 'browser' }, { acknowledge: true, exclude_me: false });

  const sum = await session.call('com.example.add', [2, 3]);
  log(`2 + 3 = ${sum}`);
} catch (err) {
  log(`error: ${err.message}`);
}
