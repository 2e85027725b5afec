// Switchboard chat: rooms, nicknames, presence, recent messages and a typing indicator, with the
// browser build of @switchboard/client (lib/switchboard.js, served by the router itself).
//
// WAMP URIs (realm1):
//   chat.room.<room>         a message: args [text], kwargs { nick, at }. The router keeps the last
//                            500 of all rooms (router.json: eventHistory on the prefix chat.room.);
//                            a page entering a room reads them with wamp.subscription.get_events.
//   chat.typing.<room>       "I am typing": kwargs { nick, session }; not kept.
//   chat.presence.<session>  who a session is: kwargs { nick, room, session }, retained (event
//                            retention), so a page that subscribes to the prefix gets everyone's.
// Who is online comes from the session meta API: wamp.session.list when the page joins, then
// wamp.session.on_join / on_leave. A presence entry shows only while its session is live.
import { Connection, WampError } from './lib/switchboard.js';

const HISTORY_LIMIT = 50;
const TYPING_SHOWN_MS = 3000;
const TYPING_SENT_EVERY_MS = 1500;
const ROOM = /^[a-z0-9_-]{1,32}$/;

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
// The page's own origin: the router serves both the page and the WebSocket (or a proxy in front does).
const url = params.get('ws') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const state = {
  nick: '',
  room: '',
  /** The Session (one object across reconnects). */
  session: undefined,
  me: undefined,
  /** Session IDs in the realm right now (session meta API). */
  live: new Set(),
  /** session → { nick, room } (retained presence events). */
  people: new Map(),
  /** session → { nick, until } */
  typing: new Map(),
  /** Publication IDs shown in this room, so history and live events never show one twice. */
  shown: new Set(),
  roomSubscriptions: [],
  lastTypingSent: 0,
};

// ---- the join form ---------------------------------------------------------------------------

$('#nick').value = params.get('nick') ?? localStorage.getItem('chat.nick') ?? '';
$('#room').value = params.get('room') ?? 'lobby';
$('#join').addEventListener('submit', (e) => {
  e.preventDefault();
  void join($('#nick').value.trim(), $('#room').value.trim().toLowerCase());
});
// A reload (or a shared link with both) joins at once.
if (params.get('nick') && params.get('room')) void join(params.get('nick'), params.get('room'));

async function join(nick, room) {
  if (!nick || !ROOM.test(room)) {
    $('#join-error').textContent = 'Pick a nickname and a room (lower-case letters, digits, - and _).';
    return;
  }
  state.nick = nick;
  localStorage.setItem('chat.nick', nick);
  const connection = new Connection({ url, realm: 'realm1', reconnect: { maxRetries: 20 } });
  connection.on('open', ({ reconnected }) => {
    setStatus('online', true);
    // A new WAMP session after a reconnect: say who we are again (subscriptions come back by themselves).
    if (reconnected) void announce();
  });
  connection.on('reconnecting', ({ attempt }) => setStatus(`reconnecting (attempt ${attempt})…`, false));
  connection.on('close', ({ reason }) => setStatus(`offline (${reason})`, false));
  try {
    state.session = await connection.open();
  } catch (err) {
    $('#join-error').textContent = `Cannot reach the router at ${url}: ${err.message}`;
    return;
  }
  $('#join').hidden = true;
  $('#chat').hidden = false;
  await watchPresence();
  await enterRoom(room);
  $('#text').focus();
}

function setStatus(text, online) {
  $('#status').textContent = text;
  $('#status').classList.toggle('online', online);
}

// ---- presence --------------------------------------------------------------------------------

async function watchPresence() {
  const { session } = state;
  state.me = session.id;
  // Meta events first, then the list: nobody who joins in between is missed.
  await session.subscribe('wamp.session.on_join', ([details]) => {
    state.live.add(details.session);
    renderPeople();
  });
  await session.subscribe('wamp.session.on_leave', ([id]) => {
    state.live.delete(id);
    state.people.delete(id);
    state.typing.delete(id);
    renderPeople();
    renderTyping();
  });
  for (const id of await session.call('wamp.session.list')) state.live.add(id);
  await session.subscribe(
    'chat.presence.',
    (_args, { session: id, nick, room }) => {
      state.people.set(id, { nick, room });
      renderPeople();
    },
    { match: 'prefix', get_retained: true },
  );
}

/** Publishes (and the router retains) who this session is and where. */
function announce() {
  state.me = state.session.id;
  state.live.add(state.me);
  return state.session.publish(
    `chat.presence.${state.me}`,
    [],
    { session: state.me, nick: state.nick, room: state.room },
    { retain: true, acknowledge: true, exclude_me: false },
  );
}

function renderPeople() {
  const here = [];
  const elsewhere = [];
  for (const [id, person] of state.people) {
    if (!state.live.has(id)) continue; // a retained entry of a session that has left
    (person.room === state.room ? here : elsewhere).push({ id, ...person });
  }
  const byNick = (a, b) => a.nick.localeCompare(b.nick);
  fill($('#here'), here.sort(byNick), (p) => [p.nick]);
  fill(
    $('#elsewhere'),
    elsewhere.sort(byNick),
    (p) => [p.nick, ` in #${p.room}`],
    (li, p) => {
      li.style.cursor = 'pointer';
      li.title = `go to #${p.room}`;
      li.addEventListener('click', () => void enterRoom(p.room));
    },
  );
}

function fill(list, people, parts, decorate) {
  list.replaceChildren(
    ...people.map((p) => {
      const li = document.createElement('li');
      const [name, suffix] = parts(p);
      li.append(name);
      if (suffix) li.append(Object.assign(document.createElement('small'), { textContent: suffix }));
      li.dataset.session = String(p.id);
      if (p.id === state.me) li.className = 'me';
      decorate?.(li, p);
      return li;
    }),
  );
}

// ---- rooms, messages and history -------------------------------------------------------------

async function enterRoom(room) {
  const { session } = state;
  for (const sub of state.roomSubscriptions.splice(0)) await sub.unsubscribe();
  state.room = room;
  state.shown.clear();
  state.typing.clear();
  $('#messages').replaceChildren();
  $('#room-name').textContent = room;
  window.history.replaceState(null, '', `?${new URLSearchParams({ ...Object.fromEntries(params), nick: state.nick, room })}`);

  // Live messages are buffered until the history is shown, then deduplicated against it.
  let early = [];
  state.roomSubscriptions.push(
    await session.subscribe(`chat.room.${room}`, ([text], kwargs, details) => {
      const message = { text, nick: kwargs.nick, at: kwargs.at, publication: details.publication, old: false };
      if (early !== undefined) early.push(message);
      else showMessage(message);
    }),
    await session.subscribe(`chat.typing.${room}`, (_args, { session: id, nick }) => {
      state.typing.set(id, { nick, until: Date.now() + TYPING_SHOWN_MS });
      renderTyping();
      setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
    }),
  );
  await announce();
  renderPeople();
  for (const message of await recentMessages(room)) showMessage(message);
  for (const message of early) showMessage(message);
  early = undefined;
}

/** The room's last messages, oldest first, from the router's event history. */
async function recentMessages(room) {
  const { session } = state;
  try {
    const subscription = await session.call('wamp.subscription.lookup', ['chat.room.', { match: 'prefix' }]);
    if (subscription === null) return [];
    const events = await session.call('wamp.subscription.get_events', [subscription], { topic: `chat.room.${room}`, limit: HISTORY_LIMIT, reverse: true });
    return events.reverse().map((e) => ({ text: e.args?.[0], nick: e.kwargs?.nick, at: e.kwargs?.at ?? e.timestamp, publication: e.publication, old: true }));
  } catch (err) {
    // A router without eventHistory for chat.room. answers wamp.error.history_unavailable.
    if (err instanceof WampError) return [];
    throw err;
  }
}

function showMessage({ text, nick, at, publication, old }) {
  if (typeof text !== 'string' || state.shown.has(publication)) return;
  state.shown.add(publication);
  const li = document.createElement('li');
  li.dataset.publication = String(publication);
  li.dataset.nick = nick;
  if (old) li.className = 'history';
  const time = new Date(at);
  li.append(
    Object.assign(document.createElement('span'), { className: 'time', textContent: Number.isNaN(time.getTime()) ? '' : time.toLocaleTimeString() }),
    Object.assign(document.createElement('span'), { className: 'nick', textContent: nick }),
    Object.assign(document.createElement('span'), { className: 'text', textContent: text }),
  );
  const list = $('#messages');
  list.append(li);
  list.scrollTop = list.scrollHeight;
  // Whoever sent a message has stopped typing it.
  for (const [id, typist] of state.typing) if (typist.nick === nick) state.typing.delete(id);
  renderTyping();
}

$('#send').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = $('#text').value.trim();
  if (!text || !state.session) return;
  $('#text').value = '';
  state.lastTypingSent = 0;
  // exclude_me: false, so our own message comes back like everyone else's (one rendering path).
  await state.session.publish(`chat.room.${state.room}`, [text], { nick: state.nick, at: new Date().toISOString() }, { acknowledge: true, exclude_me: false });
});

$('#switch').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('#next-room').value.trim().toLowerCase();
  if (!ROOM.test(room) || room === state.room) return;
  $('#next-room').value = '';
  void enterRoom(room);
});

// ---- typing indicator ------------------------------------------------------------------------

$('#text').addEventListener('input', () => {
  const now = Date.now();
  if (!state.session || $('#text').value === '' || now - state.lastTypingSent < TYPING_SENT_EVERY_MS) return;
  state.lastTypingSent = now;
  void state.session.publish(`chat.typing.${state.room}`, [], { session: state.me, nick: state.nick });
});

function renderTyping() {
  const now = Date.now();
  const nicks = [];
  for (const [id, { nick, until }] of state.typing) {
    if (until < now || !state.live.has(id)) state.typing.delete(id);
    else nicks.push(nick);
  }
  $('#typing').textContent = nicks.length === 0 ? '' : `${nicks.sort().join(', ')} ${nicks.length === 1 ? 'is' : 'are'} typing…`;
}
