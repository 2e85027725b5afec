/**
 * A plugin's hook that throws costs that plugin's answer only (realm-hooks.ts guards each one): the
 * session being served, the other plugins, the realm's own work and the process go on. And the
 * connection's transport handlers never throw: a session whose end fails still releases its ID.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { Dict } from '@switchboard/schemas';
import type { Authenticator } from '../../src/auth/types.js';
import { Connection } from '../../src/connection.js';
import type { Endpoint } from '../../src/core/endpoint.js';
import { RealmHookSet } from '../../src/realm-hooks.js';
import type { RealmHooks } from '../../src/realm-hooks.js';
import { RealmPlugins } from '../../src/realm-plugin.js';
import { ROUTER_ORIGIN } from '../../src/realm-hooks.js';
import { FakePeer, capturingLogger, fakeCore } from './fakes.js';

const ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };
const anonymous: Authenticator = {
  method: 'anonymous',
  authenticate: () => ({ kind: 'accept', principal: { authid: 'anon', authrole: 'anonymous', authprovider: 'static' } }),
};
const boom = (): never => {
  throw new Error('plugin bug');
};

/** Every hook, throwing. */
const throwing: Required<RealmHooks> = {
  onAttach: boom,
  onDetach: boom,
  onJoin: boom,
  onLeave: boom,
  onSubscriptionCreated: boom,
  onSubscribe: boom,
  onUnsubscribe: boom,
  onSubscriptionDeleted: boom,
  onRegistrationCreated: boom,
  onRegister: boom,
  onUnregister: boom,
  onRegistrationDeleted: boom,
  onPublished: boom,
  wantsEvent: boom,
  claimRegistration: () => Promise.reject(new Error('claim bug')),
  takeAnswer: boom,
  onTestaments: boom,
  testamentsOf: boom,
  adoptTestaments: boom,
  remoteSessions: boom,
  remoteSession: boom,
  remoteSubscriptions: boom,
  killRemote: boom,
};

/** A router core with `bad` (every hook throwing) and a recording plugin installed after it. */
async function withPlugins() {
  const core = fakeCore();
  const { log, lines } = capturingLogger();
  const seen: string[] = [];
  const good: RealmHooks = {
    onJoin: (s) => void seen.push(`join ${s.id}`),
    onLeave: (s) => void seen.push(`leave ${s.id}`),
    onSubscribe: () => void seen.push('subscribe'),
    onUnsubscribe: () => void seen.push('unsubscribe'),
    onRegister: () => void seen.push('register'),
    onUnregister: () => void seen.push('unregister'),
    onPublished: () => void seen.push('published'),
  };
  const plugins = new RealmPlugins(() => log);
  await plugins.install(
    [core.realm1],
    [
      { name: 'bad', install: (_realm, context) => void context.observe(throwing) },
      { name: 'good', install: (_realm, context) => void context.observe(good) },
    ],
  );
  const join = () => {
    const peer = new FakePeer();
    const connection = new Connection(peer, core, new Map([[anonymous.method, anonymous]]));
    connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES }]);
    return { peer, connection };
  };
  return { core, lines, seen, join };
}

describe('a plugin hook that throws', () => {
  it('costs the other sessions, the other plugins and the realm nothing, in each observer event', async () => {
    const { core, seen, join } = await withPlugins();
    const a = join();
    const b = join();
    expect(a.peer.codes()).toEqual([MessageCode.Welcome]);
    expect(b.peer.codes()).toEqual([MessageCode.Welcome]);
    a.connection.onFrame([MessageCode.Subscribe, 1, {}, 'com.example.t']);
    a.connection.onFrame([MessageCode.Register, 2, {}, 'com.example.p']);
    // The failing claim refuses this one REGISTER (a cluster cannot be asked): the session stays.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(a.peer.received.slice(1).map((m) => m[0])).toEqual([MessageCode.Subscribed, MessageCode.Error]);
    expect(a.peer.received[2]).toEqual([
      MessageCode.Error,
      MessageCode.Register,
      2,
      {},
      'wamp.error.internal_error',
      ['plugin bad failed to claim the registration'],
    ]);
    b.connection.onFrame([MessageCode.Publish, 1, { acknowledge: true }, 'com.example.t', [1]]);
    expect(b.peer.codes()).toEqual([MessageCode.Welcome, MessageCode.Published]);
    expect(a.peer.codes().at(-1)).toBe(MessageCode.Event);
    a.connection.onFrame([MessageCode.Unsubscribe, 3, a.peer.received[1]![2]]);
    expect(a.peer.codes().at(-1)).toBe(MessageCode.Unsubscribed);
    const bId = b.connection.session!.id;
    b.connection.onClose();
    expect(core.realm1.sessions.has(bId)).toBe(false);
    expect(core.released).toContain(bId);
    expect(seen).toEqual([`join ${a.connection.session!.id}`, `join ${bId}`, 'subscribe', 'published', 'unsubscribe', `leave ${bId}`]);
    expect(a.peer.closed).toBeUndefined();
  });

  it('at disconnect: the registration and subscription go, the ID is released, the procedure can be registered again', async () => {
    const { core, join } = await withPlugins();
    // Without a claim (a failing claim refuses REGISTER, tested above): a set of only observer hooks.
    core.realm1.hooks.list.length = 0;
    const plugins = new RealmPlugins(() => capturingLogger().log);
    await plugins.install(
      [core.realm1],
      [{ name: 'bad', install: (_realm, context) => void context.observe({ onUnsubscribe: boom, onUnregister: boom, onLeave: boom }) }],
    );
    const callee = join();
    callee.connection.onFrame([MessageCode.Register, 1, {}, 'com.example.p']);
    callee.connection.onFrame([MessageCode.Subscribe, 2, {}, 'com.example.t']);
    expect(callee.peer.codes()).toEqual([MessageCode.Welcome, MessageCode.Registered, MessageCode.Subscribed]);
    const id = callee.connection.session!.id;
    expect(() => callee.connection.onClose()).not.toThrow();
    expect(core.released).toEqual([id]);
    expect(core.realm1.sessions.size).toBe(0);
    const other = join();
    other.connection.onFrame([MessageCode.Register, 1, {}, 'com.example.p']);
    expect(other.peer.codes()).toEqual([MessageCode.Welcome, MessageCode.Registered]);
  });

  it('is logged with the plugin and hook names, once per interval however often it throws', async () => {
    const { lines, join } = await withPlugins();
    const a = join();
    for (let i = 1; i <= 5; i++) a.connection.onFrame([MessageCode.Publish, i, {}, 'com.example.t', [i]]);
    const published = lines.filter((l) => l['hook'] === 'onPublished');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ level: 50, plugin: 'bad', hook: 'onPublished', err: 'plugin bug' });
    expect(String(published[0]!['msg'])).toContain('plugin bad: onPublished failed');
    expect(lines.filter((l) => l['hook'] === 'onJoin')).toHaveLength(1);
  });

  it('answers the realm’s questions with a neutral fallback and asks the other hooks', async () => {
    const set = new RealmHookSet();
    const { log } = capturingLogger();
    set.add(throwing, { name: 'bad', log });
    set.add({
      wantsEvent: () => true,
      takeAnswer: () => true,
      remoteSessions: () => [{ session: 7 } as Dict],
      remoteSession: () => ({ session: 7 }),
      killRemote: () => true,
    });
    const session = { id: 1 } as unknown as Endpoint;
    expect(set.wantsEvent('t')).toBe(true);
    expect(set.takeAnswer(session, { code: MessageCode.Yield, request: 1, options: {} } as never)).toBe(true);
    expect(set.remoteSessions()).toEqual([{ session: 7 }]);
    expect(set.remoteSession(7)).toEqual({ session: 7 });
    expect(set.remoteSubscriptions()).toEqual([]);
    expect(set.killRemote(7, 'r', 'm')).toBe(true);
    expect(() => set.published({ subscribers: [], excluded: 0, eligible: 0 } as never, {}, undefined, undefined, ROUTER_ORIGIN)).not.toThrow();
    expect(() => set.testaments(session, [])).not.toThrow();
    await expect(set.claim(session, 'p', 'exact', 'single', { discloseCaller: false, forwardTimeout: false })).resolves.toMatchObject({
      error: 'wamp.error.internal_error',
    });
  });
});

describe('the connection’s transport handlers', () => {
  it('never throw: a session whose leaving fails still releases its ID and the router forgets the connection', () => {
    const core = fakeCore();
    const peer = new FakePeer();
    const connection = new Connection(peer, core, new Map([[anonymous.method, anonymous]]));
    let forgotten = false;
    connection.onClosed = () => void (forgotten = true);
    connection.onFrame([MessageCode.Hello, 'realm1', { roles: ROLES }]);
    const id = connection.session!.id;
    core.realm1.leave = boom;
    expect(() => connection.onClose()).not.toThrow();
    expect(core.released).toEqual([id]);
    expect(forgotten).toBe(true);
  });
});
