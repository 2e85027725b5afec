/**
 * Broker unit tests: pure, no sockets. Sessions are plain objects; IDs and the clock are injected
 * where a test needs to pin them.
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId, SessionId, SubscriptionId } from '@switchboard/schemas';
import { MAX_ID, isId } from '@switchboard/schemas';
import { Broker } from '../../src/broker/broker.js';
// Not (yet) re-exported by the package entry point.
import { NO_FILTER, isRecipient } from '../../src/broker/broker.js';
import type { RecipientFilter, RetainedEvent, RetentionOptions, Subscription } from '../../src/broker/broker.js';

interface FakeSession {
  readonly id: SessionId;
  readonly name: string;
}

let nextSession = 0;
function session(name = 'session'): FakeSession {
  nextSession += 1;
  return { id: nextSession as SessionId, name };
}

function counter<T extends number>(start: number, step = 1): { next(): T; calls: number } {
  let value = start - step;
  const gen = {
    calls: 0,
    next(): T {
      gen.calls += 1;
      value += step;
      return value as T;
    },
  };
  return gen;
}

describe('Broker.subscribe', () => {
  it('gives every subscriber of a topic the same subscription ID', () => {
    const broker = new Broker<FakeSession>();
    const [a, b, c] = [session('a'), session('b'), session('c')];

    const first = broker.subscribe(a, 'com.example.tick');
    const second = broker.subscribe(b, 'com.example.tick');
    const third = broker.subscribe(c, 'com.example.tick');

    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(third.created).toBe(false);
    expect(second.subscription.id).toBe(first.subscription.id);
    expect(third.subscription.id).toBe(first.subscription.id);
    expect([...first.subscription.subscribers]).toEqual([a, b, c]);
    expect(broker.subscriptionCount).toBe(1);
  });

  it('gives different topics different subscription IDs', () => {
    const broker = new Broker<FakeSession>();
    const a = session();
    const one = broker.subscribe(a, 'com.example.one');
    const two = broker.subscribe(a, 'com.example.two');
    expect(one.subscription.id).not.toBe(two.subscription.id);
    expect(broker.subscriptionCount).toBe(2);
    expect(broker.subscriptionsOf(a).size).toBe(2);
  });

  it('is idempotent: subscribing twice returns the same subscription and adds the session once', () => {
    const broker = new Broker<FakeSession>();
    const a = session();

    const first = broker.subscribe(a, 'com.example.tick');
    const again = broker.subscribe(a, 'com.example.tick');

    expect(again.subscription).toBe(first.subscription);
    expect(again.created).toBe(false);
    expect(first.subscription.subscribers.size).toBe(1);
    expect(broker.subscriptionsOf(a).size).toBe(1);
    // One unsubscribe is enough to leave, since the session was only added once.
    expect(broker.unsubscribe(a, first.subscription.id)?.deleted).toBe(true);
    expect(broker.subscriptionCount).toBe(0);
  });

  it('uses the injected subscription ID generator and clock', () => {
    const subscriptionIds = counter<SubscriptionId>(100, 10);
    let now = 1_700_000_000_000;
    const broker = new Broker<FakeSession>({ subscriptionIds, clock: () => now });
    const a = session();

    const one = broker.subscribe(a, 'com.example.one');
    now += 5;
    const two = broker.subscribe(a, 'com.example.two');
    broker.subscribe(session(), 'com.example.one'); // existing subscription: no new ID

    expect(one.subscription.id).toBe(100);
    expect(one.subscription.created).toBe(1_700_000_000_000);
    expect(two.subscription.id).toBe(110);
    expect(two.subscription.created).toBe(1_700_000_000_005);
    expect(subscriptionIds.calls).toBe(2);
    expect(broker.getSubscription(110 as SubscriptionId)).toBe(two.subscription);
  });

  it('records topic and match policy on the subscription', () => {
    const broker = new Broker<FakeSession>();
    const { subscription } = broker.subscribe(session(), 'com.example.tick');
    expect(subscription.topic).toBe('com.example.tick');
    expect(subscription.match).toBe('exact');
  });
});

describe('Broker.unsubscribe', () => {
  it('returns undefined for a subscription ID that does not exist', () => {
    const broker = new Broker<FakeSession>();
    const a = session();
    broker.subscribe(a, 'com.example.tick');
    expect(broker.unsubscribe(a, 9999 as SubscriptionId)).toBeUndefined();
    expect(broker.subscriptionCount).toBe(1);
  });

  it('returns undefined for a session that never subscribed anything', () => {
    const broker = new Broker<FakeSession>();
    const { subscription } = broker.subscribe(session(), 'com.example.tick');
    expect(broker.unsubscribe(session(), subscription.id)).toBeUndefined();
  });

  it("returns undefined for someone else's subscription and leaves it intact", () => {
    const broker = new Broker<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    const { subscription } = broker.subscribe(a, 'com.example.tick');
    broker.subscribe(b, 'com.example.other'); // b holds subscriptions, just not this one

    expect(broker.unsubscribe(b, subscription.id)).toBeUndefined();
    expect(subscription.subscribers.has(a)).toBe(true);
    expect(broker.getSubscription(subscription.id)).toBe(subscription);
    expect(broker.publish(b, 'com.example.tick').subscriptions).toEqual([subscription]);
  });

  it('returns undefined when unsubscribing twice', () => {
    const broker = new Broker<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    const { subscription } = broker.subscribe(a, 'com.example.tick');
    broker.subscribe(b, 'com.example.tick');
    expect(broker.unsubscribe(a, subscription.id)).toBeDefined();
    expect(broker.unsubscribe(a, subscription.id)).toBeUndefined();
    expect([...subscription.subscribers]).toEqual([b]);
  });

  it('reports deleted only when the last subscriber leaves', () => {
    const broker = new Broker<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    const { subscription } = broker.subscribe(a, 'com.example.tick');
    broker.subscribe(b, 'com.example.tick');

    const first = broker.unsubscribe(a, subscription.id);
    expect(first).toEqual({ subscription, deleted: false });
    expect(broker.getSubscription(subscription.id)).toBe(subscription);
    expect(broker.publish(b, 'com.example.tick', { excludeMe: false }).subscriptions).toEqual([subscription]);

    const last = broker.unsubscribe(b, subscription.id);
    expect(last).toEqual({ subscription, deleted: true });
    expect(broker.getSubscription(subscription.id)).toBeUndefined();
    expect(broker.subscriptionCount).toBe(0);
    expect(broker.publish(b, 'com.example.tick').subscriptions).toEqual([]);
    expect(broker.subscriptionsOf(a).size).toBe(0);
    expect(broker.subscriptionsOf(b).size).toBe(0);
  });

  it('creates a fresh subscription (new ID, created) after the old one was deleted', () => {
    const broker = new Broker<FakeSession>();
    const a = session();
    const old = broker.subscribe(a, 'com.example.tick').subscription;
    broker.unsubscribe(a, old.id);

    const again = broker.subscribe(a, 'com.example.tick');
    expect(again.created).toBe(true);
    expect(again.subscription.id).not.toBe(old.id);
    expect(broker.unsubscribe(a, old.id)).toBeUndefined();
  });
});

describe('Broker.publish', () => {
  it('plans delivery to the subscription on the topic, excluding the publisher by default', () => {
    const broker = new Broker<FakeSession>();
    const [pub, sub1, sub2] = [session('pub'), session('sub1'), session('sub2')];
    const { subscription } = broker.subscribe(sub1, 'com.example.tick');
    broker.subscribe(sub2, 'com.example.tick');
    broker.subscribe(sub1, 'com.example.other');

    const plan = broker.publish(pub, 'com.example.tick');

    expect(plan.publisher).toBe(pub);
    expect(plan.subscriptions).toEqual([subscription]);
    expect([...plan.subscriptions[0]!.subscribers]).toEqual([sub1, sub2]);
    // [bp_pubsub] exclude_me defaults to true.
    expect(plan.filter.excludeMe).toBe(true);
    expect(isRecipient(plan, pub)).toBe(false);
    expect(isRecipient(plan, sub1)).toBe(true);
    expect(isRecipient(plan, sub2)).toBe(true);
  });

  it('excludes the publisher with excludeMe: true and nobody with excludeMe: false', () => {
    const broker = new Broker<FakeSession>();
    const pub = session();
    broker.subscribe(pub, 'com.example.tick');
    expect(isRecipient(broker.publish(pub, 'com.example.tick', { excludeMe: true }), pub)).toBe(false);
    // No filter given: exclude_me defaults to true.
    expect(isRecipient(broker.publish(pub, 'com.example.tick'), pub)).toBe(false);
    expect(isRecipient(broker.publish(pub, 'com.example.tick', { excludeMe: false }), pub)).toBe(true);
  });

  it('plans no delivery for a topic nobody subscribed to (but still assigns a publication ID)', () => {
    const broker = new Broker<FakeSession>();
    broker.subscribe(session(), 'com.example.tick');
    const plan = broker.publish(session(), 'com.example.tock');
    expect(plan.subscriptions).toEqual([]);
    expect(isId(plan.publication)).toBe(true);
  });

  it('matches topics exactly: no prefix or case folding', () => {
    const broker = new Broker<FakeSession>();
    broker.subscribe(session(), 'com.example');
    expect(broker.publish(session(), 'com.example.tick').subscriptions).toEqual([]);
    expect(broker.publish(session(), 'COM.EXAMPLE').subscriptions).toEqual([]);
    expect(broker.publish(session(), 'com.example').subscriptions).toHaveLength(1);
  });

  it('draws publication IDs from [1, 2^53], all different', () => {
    const broker = new Broker<FakeSession>();
    const pub = session();
    const ids = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const { publication } = broker.publish(pub, 'com.example.tick');
      expect(Number.isInteger(publication)).toBe(true);
      expect(publication).toBeGreaterThanOrEqual(1);
      expect(publication).toBeLessThanOrEqual(MAX_ID);
      ids.add(publication);
    }
    expect(ids.size).toBe(10_000);
  });

  it('uses the injected publication ID generator', () => {
    const publicationIds = counter<PublicationId>(MAX_ID - 1);
    const broker = new Broker<FakeSession>({ publicationIds });
    const pub = session();
    expect(broker.publish(pub, 'a').publication).toBe(MAX_ID - 1);
    expect(broker.publish(pub, 'b').publication).toBe(MAX_ID);
    expect(publicationIds.calls).toBe(2);
  });
});

describe('Broker.removeSession', () => {
  it('returns nothing for a session the broker does not know', () => {
    const broker = new Broker<FakeSession>();
    broker.subscribe(session(), 'com.example.tick');
    expect(broker.removeSession(session())).toEqual([]);
    expect(broker.subscriptionCount).toBe(1);
  });

  it("drops the session's subscriptions, deleting only those it was the last subscriber of", () => {
    const broker = new Broker<FakeSession>();
    const [leaver, stayer] = [session('leaver'), session('stayer')];
    const shared = broker.subscribe(leaver, 'com.example.shared').subscription;
    broker.subscribe(stayer, 'com.example.shared');
    const own = broker.subscribe(leaver, 'com.example.own').subscription;
    const other = broker.subscribe(stayer, 'com.example.other').subscription;

    const outcomes = broker.removeSession(leaver);

    expect(outcomes).toHaveLength(2);
    expect(outcomes).toContainEqual({ subscription: shared, deleted: false });
    expect(outcomes).toContainEqual({ subscription: own, deleted: true });
    expect([...shared.subscribers]).toEqual([stayer]);
    expect(broker.getSubscription(own.id)).toBeUndefined();
    expect(broker.getSubscription(shared.id)).toBe(shared);
    expect(broker.getSubscription(other.id)).toBe(other);
    expect([...broker.subscriptionsOf(stayer)]).toEqual([shared, other]);
    expect(broker.subscriptionsOf(leaver).size).toBe(0);
    // Leaving twice is harmless.
    expect(broker.removeSession(leaver)).toEqual([]);
    // The leaver can no longer unsubscribe from what it held.
    expect(broker.unsubscribe(leaver, shared.id)).toBeUndefined();
  });

  it('with 10 000 sessions × 1 topic each, removing one leaves the other 9 999 subscriptions intact', () => {
    const broker = new Broker<FakeSession>();
    const sessions = Array.from({ length: 10_000 }, (_, i) => session(`s${i}`));
    for (const [i, s] of sessions.entries()) broker.subscribe(s, `com.example.topic.${i}`);
    expect(broker.subscriptionCount).toBe(10_000);

    const leaver = sessions[4321]!;
    const outcomes = broker.removeSession(leaver);

    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.deleted).toBe(true);
    expect(outcomes[0]!.subscription.topic).toBe('com.example.topic.4321');
    expect(broker.subscriptionCount).toBe(9_999);
    expect(broker.publish(leaver, 'com.example.topic.4321').subscriptions).toEqual([]);
    sessions.forEach((s, i) => {
      if (s === leaver) return;
      const [subscription] = broker.subscriptionsOf(s);
      expect(subscription?.topic).toBe(`com.example.topic.${i}`);
      expect(subscription?.subscribers.has(s)).toBe(true);
    });
    expect(broker.publish(leaver, 'com.example.topic.0').subscriptions).toHaveLength(1);
    expect(broker.publish(leaver, 'com.example.topic.9999').subscriptions).toHaveLength(1);
  });

  it('with 10 000 sessions on one shared topic, removing one leaves 9 999 subscribers', () => {
    const broker = new Broker<FakeSession>();
    const sessions = Array.from({ length: 10_000 }, () => session());
    for (const s of sessions) broker.subscribe(s, 'com.example.shared');

    const outcomes = broker.removeSession(sessions[0]!);

    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]!.deleted).toBe(false);
    expect(broker.subscriptionCount).toBe(1);
    expect(outcomes[0]!.subscription.subscribers.size).toBe(9_999);
    expect(outcomes[0]!.subscription.subscribers.has(sessions[0]!)).toBe(false);
  });

  it('does not draw IDs or read the clock while removing', () => {
    const subscriptionIds = counter<SubscriptionId>(1);
    const publicationIds = counter<PublicationId>(1);
    let clockReads = 0;
    const broker = new Broker<FakeSession>({
      subscriptionIds,
      publicationIds,
      clock: () => {
        clockReads += 1;
        return 0;
      },
    });
    const a = session();
    broker.subscribe(a, 'x');
    broker.subscribe(a, 'y');
    const before = { sub: subscriptionIds.calls, pub: publicationIds.calls, clock: clockReads };
    broker.removeSession(a);
    expect({ sub: subscriptionIds.calls, pub: publicationIds.calls, clock: clockReads }).toEqual(before);
  });
});

/** A session as the filters see it: an ID, and once authenticated an authid and authrole. */
interface Member {
  readonly id: SessionId;
  readonly name: string;
  readonly authid?: string;
  readonly authrole?: string;
}

describe('isRecipient: publisher exclusion and black/white listing', () => {
  // [ap_pubsub_subscriber_blackwhite_listing]
  const pub: Member = { id: 101 as SessionId, name: 'pub', authid: 'alice', authrole: 'admin' };
  const bob: Member = { id: 102 as SessionId, name: 'bob', authid: 'bob', authrole: 'user' };
  const carol: Member = { id: 103 as SessionId, name: 'carol', authid: 'carol', authrole: 'user' };
  const dave: Member = { id: 104 as SessionId, name: 'dave', authid: 'dave', authrole: 'guest' };
  const erin: Member = { id: 105 as SessionId, name: 'erin', authid: 'erin', authrole: 'user' };
  const anon: Member = { id: 106 as SessionId, name: 'anon' }; // not authenticated: no authid, no authrole
  const everyone = [pub, bob, carol, dave, erin, anon];

  type List = 'excludeMe' | 'exclude' | 'eligible' | 'excludeAuthid' | 'eligibleAuthid' | 'excludeAuthrole' | 'eligibleAuthrole';
  // Each list on its own, and (written out by hand) who passes it.
  const lists: Record<List, { filter: Partial<RecipientFilter>; passes: string[] }> = {
    excludeMe: { filter: { excludeMe: true }, passes: ['bob', 'carol', 'dave', 'erin', 'anon'] },
    exclude: { filter: { exclude: new Set([102, 999]) }, passes: ['pub', 'carol', 'dave', 'erin', 'anon'] },
    eligible: { filter: { eligible: new Set([101, 103, 105, 106]) }, passes: ['pub', 'carol', 'erin', 'anon'] },
    // A session without an authid is in no authid list: never excluded, never eligible.
    excludeAuthid: { filter: { excludeAuthid: new Set(['carol', 'zed']) }, passes: ['pub', 'bob', 'dave', 'erin', 'anon'] },
    eligibleAuthid: { filter: { eligibleAuthid: new Set(['alice', 'bob', 'dave', 'erin']) }, passes: ['pub', 'bob', 'dave', 'erin'] },
    excludeAuthrole: { filter: { excludeAuthrole: new Set(['guest']) }, passes: ['pub', 'bob', 'carol', 'erin', 'anon'] },
    eligibleAuthrole: { filter: { eligibleAuthrole: new Set(['admin', 'user']) }, passes: ['pub', 'bob', 'carol', 'erin'] },
  };
  const names = Object.keys(lists) as List[];

  // Every combination of set and unset lists (2^7): a subscriber receives when it passes each list set.
  const combinations = Array.from({ length: 1 << names.length }, (_, mask) => names.filter((_, bit) => (mask & (1 << bit)) !== 0));
  it.each(combinations.map((set) => [set.length === 0 ? '(no list, exclude_me false)' : set.join(' + '), set] as const))('%s', (_label, set) => {
    const filter: RecipientFilter = { excludeMe: false };
    for (const list of set) Object.assign(filter, lists[list].filter);
    const expected = everyone.filter((s) => set.every((list) => lists[list].passes.includes(s.name))).map((s) => s.name);
    expect(everyone.filter((s) => isRecipient({ publisher: pub, filter }, s)).map((s) => s.name)).toEqual(expected);
  });

  it.each<[string, RecipientFilter, Member | undefined, string[]]>([
    ['exclude_me beats eligible: the publisher listed as eligible still gets nothing', { excludeMe: true, eligible: new Set([101, 102]) }, pub, ['bob']],
    [
      'exclude beats exclude_me false: the publisher can exclude itself by ID',
      { excludeMe: false, exclude: new Set([101]) },
      pub,
      ['bob', 'carol', 'dave', 'erin', 'anon'],
    ],
    ['an ID both eligible and excluded is excluded', { excludeMe: false, eligible: new Set([102, 103]), exclude: new Set([103]) }, pub, ['bob']],
    [
      'an authid both eligible and excluded is excluded',
      { excludeMe: false, eligibleAuthid: new Set(['bob', 'carol']), excludeAuthid: new Set(['bob']) },
      pub,
      ['carol'],
    ],
    [
      'an authrole both eligible and excluded is excluded',
      { excludeMe: false, eligibleAuthrole: new Set(['user']), excludeAuthrole: new Set(['user']) },
      pub,
      [],
    ],
    [
      'lists of different kinds combine with AND',
      { excludeMe: false, eligible: new Set([102, 104, 105]), eligibleAuthrole: new Set(['user']) },
      pub,
      ['bob', 'erin'],
    ],
    ['an empty eligible list lets nobody through', { excludeMe: false, eligible: new Set() }, pub, []],
    ['an empty eligible_authid list lets nobody through', { excludeMe: false, eligibleAuthid: new Set() }, pub, []],
    [
      'empty exclude lists exclude nobody',
      { excludeMe: false, exclude: new Set(), excludeAuthid: new Set(), excludeAuthrole: new Set() },
      pub,
      ['pub', 'bob', 'carol', 'dave', 'erin', 'anon'],
    ],
    [
      'a router-originated event (no publisher) with exclude_me reaches everyone',
      { excludeMe: true },
      undefined,
      ['pub', 'bob', 'carol', 'dave', 'erin', 'anon'],
    ],
    ['NO_FILTER: everyone but the publisher', NO_FILTER, pub, ['bob', 'carol', 'dave', 'erin', 'anon']],
    ['NO_FILTER without a publisher: everyone', NO_FILTER, undefined, ['pub', 'bob', 'carol', 'dave', 'erin', 'anon']],
  ])('%s', (_label, filter, publisher, expected) => {
    expect(everyone.filter((s) => isRecipient({ publisher, filter }, s)).map((s) => s.name)).toEqual(expected);
  });

  it('the broker puts the filter it was given on the plan, and NO_FILTER when given none', () => {
    const broker = new Broker<Member>();
    for (const s of everyone) broker.subscribe(s, 'com.example.tick');
    const filter: RecipientFilter = { excludeMe: false, eligibleAuthrole: new Set(['user']) };
    const plan = broker.publish(pub, 'com.example.tick', filter);
    expect(plan.filter).toBe(filter);
    expect(plan.topic).toBe('com.example.tick');
    expect([...plan.subscriptions[0]!.subscribers].filter((s) => isRecipient(plan, s)).map((s) => s.name)).toEqual(['bob', 'carol', 'erin']);
    expect(broker.publish(pub, 'com.example.tick').filter).toBe(NO_FILTER);
    const fromRouter = broker.publish(undefined, 'com.example.tick');
    expect(fromRouter.publisher).toBeUndefined();
    expect(everyone.every((s) => isRecipient(fromRouter, s))).toBe(true);
  });
});

describe('Broker with prefix and wildcard subscriptions', () => {
  it('keeps one subscription per (topic, match policy), reported by lookup', () => {
    const broker = new Broker<FakeSession>();
    const a = session();
    const exact = broker.subscribe(a, 'com.example', 'exact').subscription;
    const prefix = broker.subscribe(a, 'com.example', 'prefix').subscription;
    const wildcard = broker.subscribe(a, 'com..tick', 'wildcard').subscription;
    expect(new Set([exact.id, prefix.id, wildcard.id]).size).toBe(3);
    expect([prefix.match, wildcard.match]).toEqual(['prefix', 'wildcard']);
    expect(broker.lookup('com.example', 'exact')).toBe(exact);
    expect(broker.lookup('com.example', 'prefix')).toBe(prefix);
    expect(broker.lookup('com..tick', 'wildcard')).toBe(wildcard);
    expect(broker.lookup('com..tick', 'exact')).toBeUndefined();
    expect(broker.lookup('com.example.tick', 'prefix')).toBeUndefined();
    expect([...broker.subscriptions()]).toEqual([exact, prefix, wildcard]);
    expect(broker.subscriptionCount).toBe(3);
  });

  it('reports added: true the first time a session joins a subscription, false when it subscribes again', () => {
    const broker = new Broker<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    expect(broker.subscribe(a, 'com.example', 'prefix')).toMatchObject({ created: true, added: true });
    expect(broker.subscribe(a, 'com.example', 'prefix')).toMatchObject({ created: false, added: false });
    expect(broker.subscribe(b, 'com.example', 'prefix')).toMatchObject({ created: false, added: true });
  });

  it('plans delivery to every matching subscription: exact, then prefixes shortest first, then wildcards', () => {
    const broker = new Broker<FakeSession>();
    const a = session();
    const wildcard = broker.subscribe(a, 'com..tick', 'wildcard').subscription;
    const longPrefix = broker.subscribe(a, 'com.example.t', 'prefix').subscription;
    const exact = broker.subscribe(a, 'com.example.tick').subscription;
    const shortPrefix = broker.subscribe(a, 'com.ex', 'prefix').subscription;
    broker.subscribe(a, 'com.example.tock');
    broker.subscribe(a, 'org', 'prefix');
    broker.subscribe(a, 'com..tick.more', 'wildcard');

    expect(broker.publish(a, 'com.example.tick').subscriptions).toEqual([exact, shortPrefix, longPrefix, wildcard]);
    expect(broker.match('com.example.tick')).toEqual([exact, shortPrefix, longPrefix, wildcard]);
    expect(broker.match('com.exa')).toEqual([shortPrefix]); // a prefix is a plain string prefix
    expect(broker.match('com.other.tick')).toEqual([wildcard]);
    expect(broker.match('net.example.tick')).toEqual([]);
    expect(broker.hasSubscribers('com.exa')).toBe(true);
    expect(broker.hasSubscribers('com.other.tick')).toBe(true);
    expect(broker.hasSubscribers('com.example.tock')).toBe(true);
    expect(broker.hasSubscribers('net.example.tick')).toBe(false);
  });

  it('unsubscribing or leaving removes pattern subscriptions from matching', () => {
    const broker = new Broker<FakeSession>();
    const [a, b] = [session('a'), session('b')];
    const prefix = broker.subscribe(a, 'com.example', 'prefix').subscription;
    const wildcard = broker.subscribe(a, 'com..tick', 'wildcard').subscription;
    broker.subscribe(b, 'com..tick', 'wildcard');

    expect(broker.unsubscribe(a, prefix.id)).toEqual({ subscription: prefix, deleted: true });
    expect(broker.match('com.example.tick')).toEqual([wildcard]);
    expect(broker.removeSession(a)).toEqual([{ subscription: wildcard, deleted: false }]);
    expect(broker.match('com.example.tick')).toEqual([wildcard]);
    expect(broker.removeSession(b)).toEqual([{ subscription: wildcard, deleted: true }]);
    expect(broker.match('com.example.tick')).toEqual([]);
    expect(broker.hasSubscribers('com.example.tick')).toBe(false);
    expect(broker.lookup('com..tick', 'wildcard')).toBeUndefined();
    expect(broker.subscriptionCount).toBe(0);
  });

  it('ensureSubscription keeps a subscription with no subscribers, which survives its last subscriber', () => {
    const broker = new Broker<FakeSession>();
    const kept = broker.ensureSubscription('com.example', 'prefix');
    expect(kept.persistent).toBe(true);
    expect(kept.subscribers.size).toBe(0);
    expect(broker.match('com.example.tick')).toEqual([kept]);
    expect(broker.ensureSubscription('com.example', 'prefix')).toBe(kept);

    const a = session();
    expect(broker.subscribe(a, 'com.example', 'prefix')).toEqual({ subscription: kept, created: false, added: true });
    expect(broker.unsubscribe(a, kept.id)).toEqual({ subscription: kept, deleted: false });
    expect(broker.getSubscription(kept.id)).toBe(kept);

    // Making an existing subscription persistent keeps it too.
    const tick = broker.subscribe(a, 'com.example.tick').subscription;
    expect(broker.ensureSubscription('com.example.tick', 'exact')).toBe(tick);
    expect(broker.removeSession(a)).toEqual([{ subscription: tick, deleted: false }]);
    expect(broker.match('com.example.tick')).toEqual([tick, kept]);
  });
});

describe('Broker retention', () => {
  // [ap_pubsub_event_retention]
  function retaining(retention?: RetentionOptions): { broker: Broker<FakeSession>; clock: { now: number } } {
    const clock = { now: 1_000 };
    const broker = new Broker<FakeSession>({
      clock: () => clock.now,
      publicationIds: counter<PublicationId>(1),
      ...(retention !== undefined ? { retention } : {}),
    });
    return { broker, clock };
  }
  function publishRetained(broker: Broker<FakeSession>, topic: string, value: number, publisher: FakeSession | undefined = undefined): void {
    broker.retain(broker.publish(publisher, topic), [value], { value }, { note: `v${value}` });
  }
  const argsOf = (events: readonly RetainedEvent<FakeSession>[]): unknown[] => events.map((e) => e.args?.[0]);
  const exactSub = (broker: Broker<FakeSession>, topic: string): Subscription<FakeSession> => broker.subscribe(session(), topic).subscription;

  it('keeps the event with everything needed to send it later', () => {
    const { broker, clock } = retaining();
    const pub = session('pub');
    const filter: RecipientFilter = { excludeMe: false, eligibleAuthid: new Set(['bob']) };
    clock.now = 5_000;
    const plan = broker.publish(pub, 'com.example.state', filter);
    broker.retain(plan, [1, 2], { k: 'v' }, { publisher: pub.id });

    expect(broker.retainedCount).toBe(1);
    expect(broker.retainedFor(exactSub(broker, 'com.example.state'))).toEqual([
      {
        publication: plan.publication,
        topic: 'com.example.state',
        args: [1, 2],
        kwargs: { k: 'v' },
        details: { publisher: pub.id },
        publisher: pub,
        filter,
        at: 5_000,
        bytes: 0,
      },
    ]);
    expect(broker.retainedFor(exactSub(broker, 'com.example.other'))).toEqual([]);
  });

  it('retains for a topic nobody subscribes to yet, and without a publisher (router-originated)', () => {
    const { broker } = retaining();
    publishRetained(broker, 'com.example.state', 1);
    const [event] = broker.retainedFor(exactSub(broker, 'com.example.state'));
    expect(event?.publisher).toBeUndefined();
    expect(event?.args).toEqual([1]);
  });

  it('replaces the retained event of a topic', () => {
    const { broker } = retaining();
    publishRetained(broker, 'com.example.state', 1);
    publishRetained(broker, 'com.example.state', 2);
    expect(broker.retainedCount).toBe(1);
    expect(argsOf(broker.retainedFor(exactSub(broker, 'com.example.state')))).toEqual([2]);
  });

  it('drops the oldest topic past maxTopics; replacing an event makes its topic the newest', () => {
    const { broker } = retaining({ maxTopics: 3, ttlMs: 0 });
    publishRetained(broker, 't.a', 1);
    publishRetained(broker, 't.b', 2);
    publishRetained(broker, 't.c', 3);
    publishRetained(broker, 't.a', 4); // a is now the newest, b the oldest
    publishRetained(broker, 't.d', 5);

    expect(broker.retainedCount).toBe(3);
    const prefix = broker.subscribe(session(), 't.', 'prefix').subscription;
    expect(broker.retainedFor(prefix).map((e) => [e.topic, e.args?.[0]])).toEqual([
      ['t.c', 3],
      ['t.a', 4],
      ['t.d', 5],
    ]);
    expect(broker.retainedFor(exactSub(broker, 't.b'))).toEqual([]);

    publishRetained(broker, 't.e', 6);
    expect(broker.retainedFor(prefix).map((e) => e.topic)).toEqual(['t.a', 't.d', 't.e']);

    // Replacing at the limit evicts nothing else; it only makes the topic the newest.
    publishRetained(broker, 't.d', 7);
    expect(broker.retainedCount).toBe(3);
    expect(broker.retainedFor(prefix).map((e) => [e.topic, e.args?.[0]])).toEqual([
      ['t.a', 4],
      ['t.e', 6],
      ['t.d', 7],
    ]);
  });

  it('refreshes the age of a replaced topic below the limit too', () => {
    const { broker } = retaining({ maxTopics: 3, ttlMs: 0 });
    publishRetained(broker, 't.a', 1);
    publishRetained(broker, 't.b', 2);
    publishRetained(broker, 't.a', 3); // below the limit: a becomes the newest
    publishRetained(broker, 't.c', 4);
    publishRetained(broker, 't.d', 5); // evicts b, the oldest
    const prefix = broker.subscribe(session(), 't.', 'prefix').subscription;
    expect(broker.retainedFor(prefix).map((e) => e.topic)).toEqual(['t.a', 't.c', 't.d']);
  });

  it('keeps at most 10 000 topics by default', () => {
    const { broker } = retaining();
    for (let i = 0; i <= 10_000; i++) publishRetained(broker, `com.example.${i}`, i);
    expect(broker.retainedCount).toBe(10_000);
    expect(broker.retainedFor(exactSub(broker, 'com.example.0'))).toEqual([]);
    expect(argsOf(broker.retainedFor(exactSub(broker, 'com.example.1')))).toEqual([1]);
    expect(argsOf(broker.retainedFor(exactSub(broker, 'com.example.10000')))).toEqual([10_000]);
  });

  it('retains nothing with maxTopics 0', () => {
    const { broker } = retaining({ maxTopics: 0, ttlMs: 0 });
    publishRetained(broker, 'com.example.state', 1);
    expect(broker.retainedCount).toBe(0);
    expect(broker.retainedFor(exactSub(broker, 'com.example.state'))).toEqual([]);
  });

  it("says which topics it evicted (maxTopics, maxBytes, a restricted event pushing out the topic's own) and what it refused", () => {
    const { broker } = retaining({ maxTopics: 2, ttlMs: 0, maxBytes: 100 });
    const keep = (topic: string, bytes: number, filter?: RecipientFilter) => {
      const plan = broker.publish(undefined, topic, filter);
      return broker.retain(plan, [1], undefined, {}, bytes);
    };
    expect(keep('t.a', 40)).toEqual({ retained: true, evicted: 0, tooLarge: false, evictedTopics: [] });
    expect(keep('t.b', 40).evictedTopics).toEqual([]);
    // A third topic: the oldest goes for maxTopics.
    expect(keep('t.c', 40)).toEqual({ retained: true, evicted: 0, tooLarge: false, evictedTopics: ['t.a'] });
    // t.b goes for maxTopics, then t.c for maxBytes (40 + 90 > 100: counted).
    expect(keep('t.d', 90)).toEqual({ retained: true, evicted: 1, tooLarge: false, evictedTopics: ['t.b', 't.c'] });
    expect(keep('t.e', 101)).toEqual({ retained: false, evicted: 0, tooLarge: true, evictedTopics: [] });
    // A restricted event too large beside t.d's event for everybody takes its place.
    expect(keep('t.d', 60, { excludeMe: false, eligibleAuthrole: new Set(['x']) }).evictedTopics).toEqual(['t.d']);
  });

  it('delivers an event up to ttlMs old (inclusive) and not after, by the injected clock', () => {
    const { broker, clock } = retaining({ maxTopics: 10, ttlMs: 1_000 });
    const exact = exactSub(broker, 'com.example.state');
    const prefix = broker.subscribe(session(), 'com.example', 'prefix').subscription;
    const wildcard = broker.subscribe(session(), 'com..state', 'wildcard').subscription;
    publishRetained(broker, 'com.example.state', 1); // at 1 000

    clock.now = 2_000;
    for (const s of [exact, prefix, wildcard]) expect(argsOf(broker.retainedFor(s))).toEqual([1]);
    clock.now = 2_001;
    for (const s of [exact, prefix, wildcard]) expect(broker.retainedFor(s)).toEqual([]);

    // A newer event on the topic is fresh again.
    publishRetained(broker, 'com.example.state', 2);
    clock.now = 3_001;
    expect(argsOf(broker.retainedFor(exact))).toEqual([2]);
  });

  it('keeps an event until replaced with ttlMs 0', () => {
    const { broker, clock } = retaining({ maxTopics: 10, ttlMs: 0 });
    publishRetained(broker, 'com.example.state', 1);
    clock.now += 365 * 24 * 3_600_000;
    expect(argsOf(broker.retainedFor(exactSub(broker, 'com.example.state')))).toEqual([1]);
  });

  it('gives a prefix subscription the retained events of every topic it matches (plain string prefix), oldest first', () => {
    const { broker } = retaining();
    publishRetained(broker, 'com.ab.c', 1);
    publishRetained(broker, 'com.b', 2);
    publishRetained(broker, 'com.a', 3);
    publishRetained(broker, 'com.a.x', 4);
    publishRetained(broker, 'org.com.a', 5);
    const prefix = broker.subscribe(session(), 'com.a', 'prefix').subscription;
    expect(broker.retainedFor(prefix).map((e) => e.topic)).toEqual(['com.ab.c', 'com.a', 'com.a.x']);
  });

  it('gives a wildcard subscription the retained events of the topics it matches, component for component', () => {
    const { broker } = retaining();
    for (const [i, topic] of ['com.x.update', 'com.x.y.update', 'com.update', 'com.y.update', 'org.x.update', 'com.x.updated'].entries())
      publishRetained(broker, topic, i);
    const wildcard = broker.subscribe(session(), 'com..update', 'wildcard').subscription;
    expect(broker.retainedFor(wildcard).map((e) => e.topic)).toEqual(['com.x.update', 'com.y.update']);
  });

  it('leaves recipient filtering to the caller: the event carries the filter it was published with', () => {
    const { broker } = retaining();
    const pub = session('pub');
    const filter: RecipientFilter = { excludeMe: true, exclude: new Set([pub.id]) };
    broker.retain(broker.publish(pub, 'com.example.state', filter), undefined, undefined, {});
    const [event] = broker.retainedFor(broker.subscribe(pub, 'com.example.state').subscription);
    expect(event?.filter).toBe(filter);
    expect(event?.publisher).toBe(pub);
    expect(event?.args).toBeUndefined();
    expect(event?.kwargs).toBeUndefined();
  });
});
