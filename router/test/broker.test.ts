/**
 * Broker unit tests: pure, no sockets. Sessions are plain objects; IDs and the clock are injected
 * where a test needs to pin them.
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId, SessionId, SubscriptionId } from '@switchboard/schemas';
import { MAX_ID, isId } from '@switchboard/schemas';
import { Broker } from '@switchboard/router';

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
    expect(plan.exclude).toBe(pub);
  });

  it('excludes the publisher with excludeMe: true and nobody with excludeMe: false', () => {
    const broker = new Broker<FakeSession>();
    const pub = session();
    broker.subscribe(pub, 'com.example.tick');
    expect(broker.publish(pub, 'com.example.tick', { excludeMe: true }).exclude).toBe(pub);
    expect(broker.publish(pub, 'com.example.tick', {}).exclude).toBe(pub);
    expect(broker.publish(pub, 'com.example.tick', { excludeMe: false }).exclude).toBeUndefined();
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
    sessions.forEach((s, i) => broker.subscribe(s, `com.example.topic.${i}`));
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
