// Switchboard dashboard: the realm's live sessions, subscriptions and registrations (WAMP meta API),
// the router's message counters (switchboard.router.stats, polled every second) and a kill button
// per session (wamp.session.kill). Plain ES module, no build step; the client is the browser bundle
// of @switchboard/client that the router serves at /lib (router/dashboard/router.json).
//
// It logs in with ticket authentication. The realm's roles decide what it may do: with the sample
// config only role `admin` may call wamp.* and switchboard.*; any other role sees
// wamp.error.not_authorized on the page.
import { Connection } from '../lib/switchboard.js';
import { wampUrl } from './endpoint.js';

const POLL_MS = 1000;
const REFRESH_DEBOUNCE_MS = 100;

const $ = (selector) => document.querySelector(selector);
const params = new URLSearchParams(location.search);
// Only this router's own WebSocket: the login ticket goes wherever the page connects (endpoint.js).
let url;
let urlRefused;
try {
  url = wampUrl(location, params.get('ws'));
} catch (err) {
  urlRefused = err;
}

const state = {
  connection: undefined,
  session: undefined,
  /** session id → details (wamp.session.get / on_join) */
  sessions: new Map(),
  /** the previous stats sample, for rates */
  last: undefined,
  poll: undefined,
  refreshTimer: undefined,
};

$('#realm').value = params.get('realm') ?? $('#realm').value;
if (params.get('authid')) $('#authid').value = params.get('authid');
$('#login').addEventListener('submit', (e) => {
  e.preventDefault();
  void login($('#realm').value.trim(), $('#authid').value.trim(), $('#ticket').value);
});
$('#logout').addEventListener('click', () => void logout());
if (urlRefused !== undefined) $('#login-error').textContent = describe(urlRefused);

function describe(err) {
  if (err && typeof err.uri === 'string') return err.message.startsWith(err.uri) ? err.message : `${err.uri}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function showError(err) {
  $('#error').textContent = describe(err);
}

async function login(realm, authid, ticket) {
  $('#login-error').textContent = '';
  if (url === undefined) {
    $('#login-error').textContent = `Login failed: ${describe(urlRefused)}`;
    return;
  }
  const connection = new Connection({
    url,
    realm,
    auth: { authmethods: ['ticket'], authid, onChallenge: () => ticket },
  });
  connection.on('close', ({ reason }) => setStatus(`offline (${reason})`, false));
  let session;
  try {
    session = await connection.open();
  } catch (err) {
    $('#login-error').textContent = `Login failed: ${describe(err)}`;
    return;
  }
  state.connection = connection;
  state.session = session;
  $('#login').hidden = true;
  $('#dash').hidden = false;
  $('#realm-name').textContent = realm;
  $('#who').textContent = `${authid} (${session.details?.authrole ?? '?'})`;
  setStatus('online', true);
  try {
    await watch();
  } catch (err) {
    showError(err);
    return;
  }
  state.poll = setInterval(() => void pollStats(), POLL_MS);
  await pollStats();
}

async function logout() {
  clearInterval(state.poll);
  const connection = state.connection;
  state.connection = undefined;
  state.session = undefined;
  state.sessions.clear();
  state.last = undefined;
  if (connection) await connection.close().catch(() => undefined);
  $('#dash').hidden = true;
  $('#login').hidden = false;
  $('#error').textContent = '';
}

function setStatus(text, online) {
  $('#status').textContent = text;
  $('#status').classList.toggle('online', online);
}

// ---- sessions ----------------------------------------------------------------------------------

async function watch() {
  const { session } = state;
  // Meta events first, then the lists, so nothing that happens in between is missed.
  await session.subscribe('wamp.session.on_join', ([details]) => {
    state.sessions.set(details.session, details);
    renderSessions();
  });
  await session.subscribe('wamp.session.on_leave', ([id]) => {
    state.sessions.delete(id);
    renderSessions();
    scheduleRefresh();
  });
  for (const kind of ['subscription', 'registration']) {
    for (const event of [
      'on_create',
      'on_delete',
      kind === 'subscription' ? 'on_subscribe' : 'on_register',
      kind === 'subscription' ? 'on_unsubscribe' : 'on_unregister',
    ]) {
      await session.subscribe(`wamp.${kind}.${event}`, () => scheduleRefresh());
    }
  }
  const ids = await session.call('wamp.session.list');
  for (const id of ids) {
    try {
      state.sessions.set(id, await session.call('wamp.session.get', [id]));
    } catch {
      // gone in between
    }
  }
  renderSessions();
  await refreshRoutes();
}

function renderSessions() {
  const tbody = $('#sessions tbody');
  tbody.replaceChildren();
  const own = state.session?.id;
  for (const d of [...state.sessions.values()].sort((a, b) => a.session - b.session)) {
    const tr = row([
      d.session,
      d.authid ?? '',
      d.authrole ?? '',
      d.authmethod ?? '',
      `${d.transport?.type ?? ''} ${d.transport?.protocol ?? ''}`,
      d.transport?.peer ?? '',
    ]);
    tr.dataset.session = String(d.session);
    const td = document.createElement('td');
    if (d.session === own) {
      td.textContent = '(this page)';
    } else {
      const button = document.createElement('button');
      button.className = 'kill';
      button.type = 'button';
      button.textContent = 'kill';
      button.addEventListener('click', () => void kill(d.session));
      td.append(button);
    }
    tr.append(td);
    tbody.append(tr);
  }
}

async function kill(id) {
  try {
    await state.session.call('wamp.session.kill', [id], { reason: 'wamp.close.killed', message: 'killed from the dashboard' });
    $('#error').textContent = '';
  } catch (err) {
    showError(err);
  }
}

// ---- subscriptions and registrations -------------------------------------------------------------

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => void refreshRoutes().catch(showError), REFRESH_DEBOUNCE_MS);
}

/** wamp.{subscription|registration}.list answers {exact: [ids], prefix: [ids], wildcard: [ids]}. */
async function routes(kind, members) {
  const { session } = state;
  const lists = await session.call(`wamp.${kind}.list`);
  const ids = Object.values(lists ?? {}).flat();
  const out = [];
  for (const id of ids) {
    try {
      const details = await session.call(`wamp.${kind}.get`, [id]);
      const sessions = await session.call(`wamp.${kind}.list_${members}`, [id]);
      out.push({ ...details, sessions });
    } catch {
      // deleted in between
    }
  }
  return out.sort((a, b) => String(a.uri).localeCompare(String(b.uri)));
}

async function refreshRoutes() {
  if (!state.session) return;
  const subscriptions = await routes('subscription', 'subscribers');
  fillTable(
    '#subscriptions',
    subscriptions.map((s) => [s.id, s.uri, s.match, s.sessions.join(', ')]),
  );
  const registrations = await routes('registration', 'callees');
  fillTable(
    '#registrations',
    registrations.map((r) => [r.id, r.uri, r.match, r.invoke ?? 'single', r.sessions.join(', ')]),
  );
}

// ---- message counters ----------------------------------------------------------------------------

async function pollStats() {
  if (!state.session) return;
  let stats;
  try {
    stats = await state.session.call('switchboard.router.stats');
  } catch (err) {
    clearInterval(state.poll);
    showError(err);
    return;
  }
  const now = performance.now();
  const last = state.last;
  state.last = { at: now, stats };
  const seconds = last ? (now - last.at) / 1000 : 0;
  const rate = (counts, type, previous) => (last && seconds > 0 ? (((counts[type] ?? 0) - (previous[type] ?? 0)) / seconds).toFixed(1) : '–');
  const types = [...new Set([...Object.keys(stats.messagesIn), ...Object.keys(stats.messagesOut)])].sort();
  fillTable(
    '#stats',
    types.map((type) => [
      type,
      stats.messagesIn[type] ?? 0,
      rate(stats.messagesIn, type, last?.stats.messagesIn ?? {}),
      stats.messagesOut[type] ?? 0,
      rate(stats.messagesOut, type, last?.stats.messagesOut ?? {}),
    ]),
  );
  $('#stat-sessions').textContent = String(stats.sessions);
  $('#stat-dropped').textContent = String(stats.eventsDropped);
  $('#stat-cutoff').textContent = String(stats.slowConsumersCutOff);
  $('#stat-violations').textContent = String(stats.protocolViolations);
}

// ---- helpers -----------------------------------------------------------------------------------

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    td.textContent = String(cell);
    tr.append(td);
  }
  return tr;
}

function fillTable(selector, rows) {
  $(`${selector} tbody`).replaceChildren(...rows.map(row));
}
