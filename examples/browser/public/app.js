// The browser example: the client's browser bundle (served by the router at /lib) in a page, a
// subscription, a publication and a call to a procedure a Node process registered (callee.mjs).
// The router is the one that served this page; index.html?url=ws://HOST:PORT/ws picks another.
import { connect } from '/lib/switchboard.js';

const url = new URLSearchParams(location.search).get('url') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
document.querySelector('#url').textContent = url;
const log = (line) => {
  document.querySelector('#log').textContent += `${line}\n`;
};

try {
  const session = await connect({ url, realm: 'realm1' });
  log(`joined realm1 as session ${session.id}`);

  let greeted;
  const greeting = new Promise((resolve) => (greeted = resolve));
  await session.subscribe('com.example.greeting', ([text], { from }) => {
    log(`event: ${text} (from ${from})`);
    greeted();
  });
  await session.publish('com.example.greeting', ['hello'], { from: 'browser' }, { acknowledge: true, exclude_me: false });
  await greeting;

  const sum = await session.call('com.example.add', [2, 3]);
  log(`2 + 3 = ${sum}`);
  await session.leave();
  log('left');
} catch (err) {
  log(`error: ${err.message}`);
}
