/**
 * The RealmPlugin seam (realm-plugin.ts) and the realm's hooks (realm-hooks.ts), without sockets:
 * install order, teardown in reverse, what a plugin registered undone for it, duplicate router
 * procedures refused, and how the hook set puts the realm's questions to its plugins.
 */
import { describe, expect, it, vi } from 'vitest';
import type { Dict, ErrorMessage, PublicationId, RequestId, Yield } from '@switchboard/schemas';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { NO_FILTER } from '../../src/broker/broker.js';
import type { DeliveryPlan } from '../../src/broker/broker.js';
import { refusal } from '../../src/core/outcome.js';
import { silentLogger } from '../../src/log.js';
import type { Logger } from '../../src/log.js';
import { Realm } from '../../src/realm.js';
import { REMOTE_ORIGIN, ROUTER_ORIGIN, RealmHookSet } from '../../src/realm-hooks.js';
import type { RealmHooks } from '../../src/realm-hooks.js';
import { historyPlugin, historySizeOf } from '../../src/meta/history.js';
import { MemoryStore } from '../../src/history/memory.js';
import { RealmPlugins } from '../../src/realm-plugin.js';
import type { RealmPlugin } from '../../src/realm-plugin.js';
import type { Endpoint } from '../../src/core/endpoint.js';

const realm = (name: string): Realm => new Realm({ name, uriCheck: 'loose' }, silentLogger());
const logs = (): { logFor: (plugin: string) => Logger; warnings: string[] } => {
  const warnings: string[] = [];
  const log = silentLogger();
  log.warn = ((fields: Dict, message: string) => void warnings.push(`${String(fields['plugin'])}: ${message}`)) as Logger['warn'];
  return { logFor: () => log, warnings };
};
const noop = async (): Promise<undefined> => undefined;

/** A plugin that records what happens to it in `trace`. */
function traced(name: string, trace: string[], extra?: (r: Realm, c: Parameters<RealmPlugin['install']>[1]) => void): RealmPlugin {
  return {
    name,
    install(r, context) {
      trace.push(`install ${name}@${r.name}`);
      extra?.(r, context);
      return () => void trace.push(`teardown ${name}@${r.name}`);
    },
  };
}

describe('RealmPlugins', () => {
  it("installs realm by realm, each realm's plugins in list order, and tears down in reverse", async () => {
    const trace: string[] = [];
    const host = new RealmPlugins(logs().logFor);
    await host.install([realm('a'), realm('b')], [traced('meta', trace), traced('history', trace), traced('cluster', trace)]);
    expect(trace).toEqual(['install meta@a', 'install history@a', 'install cluster@a', 'install meta@b', 'install history@b', 'install cluster@b']);
    trace.length = 0;
    await host.teardown();
    expect(trace).toEqual(['teardown cluster@b', 'teardown history@b', 'teardown meta@b', 'teardown cluster@a', 'teardown history@a', 'teardown meta@a']);
    trace.length = 0;
    await host.teardown(); // once only
    expect(trace).toEqual([]);
  });

  it('waits for an asynchronous install before the next plugin', async () => {
    const trace: string[] = [];
    let release: () => void = () => undefined;
    const slow: RealmPlugin = {
      name: 'slow',
      async install() {
        trace.push('slow started');
        await new Promise<void>((resolve) => (release = resolve));
        trace.push('slow done');
      },
    };
    const installing = new RealmPlugins(logs().logFor).install([realm('a')], [slow, traced('next', trace)]);
    await vi.waitFor(() => expect(trace).toEqual(['slow started']));
    release();
    await installing;
    expect(trace).toEqual(['slow started', 'slow done', 'install next@a']);
  });

  it('undoes what a plugin registered through its context: its procedures and hooks go at teardown', async () => {
    const r = realm('a');
    const host = new RealmPlugins(logs().logFor);
    const hooks: RealmHooks = { wantsEvent: () => true };
    await host.install([r], [{ name: 'p', install: (_r, c) => void (c.procedure('com.example.p', noop), c.observe(hooks)) }]);
    expect(r.routerProcedure('com.example.p')).toBe(noop);
    expect(r.hooks.list).toHaveLength(1);
    expect(r.hooks.wantsEvent('any')).toBe(true);
    expect(r.pubsub.wantsEvent('com.example.nobody')).toBe(true);
    await host.teardown();
    expect(r.routerProcedure('com.example.p')).toBeUndefined();
    expect(r.hooks.list).toEqual([]);
    expect(r.pubsub.wantsEvent('com.example.nobody')).toBe(false);
  });

  it('refuses a second router procedure with the same URI: the install fails, and what was installed is still torn down', async () => {
    const r = realm('a');
    const trace: string[] = [];
    const host = new RealmPlugins(logs().logFor);
    const first = traced('first', trace, (_r, c) => void c.procedure('wamp.session.count', noop));
    const second = traced('second', trace, (_r, c) => void c.procedure('wamp.session.count', noop));
    await expect(host.install([r], [first, second])).rejects.toThrow("realm 'a' already has a router procedure 'wamp.session.count'");
    expect(trace).toEqual(['install first@a', 'install second@a']);
    await host.teardown();
    expect(trace).toContain('teardown first@a');
    expect(r.routerProcedure('wamp.session.count')).toBeUndefined();
  });

  it('a failing teardown is logged and the others still run', async () => {
    const trace: string[] = [];
    const { logFor, warnings } = logs();
    const host = new RealmPlugins(logFor);
    const broken: RealmPlugin = {
      name: 'broken',
      install: () => () => {
        throw new Error('boom');
      },
    };
    await host.install([realm('a')], [traced('before', trace), broken]);
    await host.teardown();
    expect(warnings).toEqual(['broken: plugin teardown failed']);
    expect(trace).toContain('teardown before@a');
  });
});

describe('Realm.procedure', () => {
  it('refuses a duplicate URI and removes only its own handler', () => {
    const r = realm('a');
    const remove = r.procedure('com.example.x', noop);
    expect(() => r.procedure('com.example.x', noop)).toThrow(/already has a router procedure/);
    remove();
    const other = async (): Promise<undefined> => undefined;
    r.procedure('com.example.x', other);
    remove(); // the first one's removal does not take the second
    expect(r.routerProcedure('com.example.x')).toBe(other);
  });
});

describe('RealmHookSet', () => {
  const session = { id: 1 } as unknown as Endpoint;
  const plan = { publication: 7 as PublicationId, publisher: undefined, topic: 'com.t', subscriptions: [], filter: NO_FILTER } as DeliveryPlan<Endpoint>;

  it('hands publications only to hooks that observe them, with their origin', () => {
    const set = new RealmHookSet();
    expect(set.observesPublications).toBe(false);
    const seen: string[] = [];
    set.add({ onJoin: () => undefined });
    const remove = set.add({ onPublished: (_p, _d, args, _k, origin) => void seen.push(`${origin.kind}:${JSON.stringify(args)}`) });
    expect(set.observesPublications).toBe(true);
    set.published(plan, {}, [1], undefined, ROUTER_ORIGIN);
    set.published(plan, {}, [2], undefined, REMOTE_ORIGIN);
    set.published(plan, {}, [3], undefined, { kind: 'session', retain: true, acknowledged: false });
    expect(seen).toEqual(['router:[1]', 'remote:[2]', 'session:[3]']);
    remove();
    expect(set.observesPublications).toBe(false);
  });

  it('asks claimers in order and stops at the first refusal', async () => {
    const set = new RealmHookSet();
    expect(set.claims).toBe(false);
    const asked: string[] = [];
    set.add({ claimRegistration: async () => void asked.push('first') });
    set.add({ claimRegistration: async () => (asked.push('second'), refusal(ErrorUri.ProcedureAlreadyExists, 'taken')) });
    set.add({ claimRegistration: async () => void asked.push('third') });
    expect(set.claims).toBe(true);
    expect(await set.claim(session, 'com.p', 'exact', 'single', { discloseCaller: false, forwardTimeout: false })).toEqual(
      refusal(ErrorUri.ProcedureAlreadyExists, 'taken'),
    );
    expect(asked).toEqual(['first', 'second']);
  });

  it('gives an unknown answer to the first hook that takes it', () => {
    const set = new RealmHookSet();
    const answer: Yield = { code: MessageCode.Yield, request: 5 as RequestId, options: {} };
    expect(set.takeAnswer(session, answer)).toBe(false);
    const taken: (Yield | ErrorMessage)[] = [];
    set.add({ takeAnswer: () => false });
    set.add({ takeAnswer: (_s, msg) => (taken.push(msg), true) });
    expect(set.takeAnswer(session, answer)).toBe(true);
    expect(taken).toEqual([answer]);
  });

  it('merges what the hooks know of other nodes; a realm spans nodes once one lists remote subscriptions', () => {
    const set = new RealmHookSet();
    expect(set.spansNodes).toBe(false);
    expect(set.remoteSessions()).toEqual([]);
    const kills: number[] = [];
    set.add({
      remoteSessions: () => [{ session: 9 }],
      remoteSession: (id) => (id === 9 ? { session: 9 } : undefined),
      remoteSubscriptions: () => [{ id: 3, topic: 'com.t', match: 'exact', created: 0, subscribers: [9] }],
      killRemote: (id) => (kills.push(id), id === 9),
    });
    expect(set.spansNodes).toBe(true);
    expect(set.remoteSessions()).toEqual([{ session: 9 }]);
    expect(set.remoteSession(9)).toEqual({ session: 9 });
    expect(set.remoteSession(8)).toBeUndefined();
    expect(set.remoteSubscriptions().map((s) => s.id)).toEqual([3]);
    expect(set.killRemote(9, 'wamp.close.normal', '')).toBe(true);
    expect(set.killRemote(8, 'wamp.close.normal', '')).toBe(false);
    expect(kills).toEqual([9, 8]);
  });
});

describe('the history plugin', () => {
  it("keeps what was delivered here from sessions and other nodes (not the router's own events), and goes at teardown", async () => {
    const r = realm('a');
    const host = new RealmPlugins(logs().logFor);
    const store = new MemoryStore();
    await host.install([r], [historyPlugin(store, (name) => (name === 'a' ? [{ topic: 'com.kept', match: 'exact', limit: 2 }] : undefined))]);
    expect(r.broker.lookup('com.kept', 'exact')?.persistent).toBe(true);
    r.pubsub.deliverRemote('com.kept', 1 as PublicationId, {}, NO_FILTER, [1], undefined);
    r.pubsub.publishFromRouter('com.kept', [2]);
    r.pubsub.deliverRemote('com.kept', 3 as PublicationId, {}, NO_FILTER, [3], undefined);
    r.pubsub.deliverRemote('com.other', 4 as PublicationId, {}, NO_FILTER, [4], undefined);
    r.pubsub.deliverRemote('com.kept', 5 as PublicationId, {}, NO_FILTER, [5], undefined);
    const kept = store.realmNow('a', Infinity).read({ select: { match: 'exact', topic: 'com.kept' }, limit: 10 });
    expect(kept.events.map((e) => e.args)).toEqual([[3], [5]]);
    expect(historySizeOf(r)?.events).toBe(2);
    expect(r.routerProcedure('wamp.subscription.get_events')).toBeDefined();
    expect(r.routerProcedure('wamp.topic.history.last')).toBeDefined();
    await host.teardown();
    expect(historySizeOf(r)).toBeUndefined();
    expect(r.routerProcedure('wamp.subscription.get_events')).toBeUndefined();
    expect(r.routerProcedure('wamp.topic.history.last')).toBeUndefined();
    expect(r.hooks.observesPublications).toBe(false);
  });
});
