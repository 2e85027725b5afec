/**
 * What every event store engine (router/src/history/store.ts) must do, as one suite each engine's
 * test file runs against a fresh store: order and paging, time and publication bounds (and the
 * gap they report), afterSeq, exact/prefix/wildcard selection, the per-topic count and age
 * limits, the realm byte budget, retained events, realm isolation, exact payloads, and for
 * durable engines, everything back after close and reopen.
 *
 * The suite owns the clock: `makeStore` gets `now()` and must hand it to the engine, so that age
 * limits are tested without waiting.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import type { EventStore, HistoryEvent, HistoryQuery, RealmStore, StoredEvent, TopicPolicy } from '../../src/history/store.js';

export interface StoreContext {
  /** The clock the engine must use (ms since the epoch); tests move it. */
  now(): number;
}

export interface ConformanceOptions {
  /** Durable engines: closes `store` and opens a new one on the same data (same clock). */
  reopen?: (store: EventStore) => Promise<EventStore>;
  /** Engines with an expiry pass: runs one now, so that `size` reflects age and byte expiry. */
  expire?: (store: EventStore) => Promise<void>;
  /** False for engines that leave retained events to someone else (memory: the broker; JetStream: the cluster's KV bucket). */
  persistsRetained?: boolean;
}

const LOOSE: TopicPolicy = { limit: 1000, maxAgeMs: 0 };
const BIG = 64 * 1024 * 1024;

export function describeStoreConformance(name: string, makeStore: (ctx: StoreContext) => Promise<EventStore>, options: ConformanceOptions = {}): void {
  describe(`event store conformance: ${name}`, () => {
    let clock = 1_700_000_000_000;
    let nextPublication = 1_000_000;
    const ctx: StoreContext = { now: () => clock };

    async function open(): Promise<EventStore> {
      clock = 1_700_000_000_000;
      const store = await makeStore(ctx);
      onTestFinished(() => store.close());
      return store;
    }

    function event(topic: string, over: Partial<HistoryEvent> = {}): HistoryEvent {
      return {
        at: clock,
        publication: nextPublication++ as PublicationId,
        topic,
        details: {},
        args: [nextPublication],
        kwargs: undefined,
        filter: {},
        ...over,
      };
    }

    async function put(realm: RealmStore, events: HistoryEvent[], policy: TopicPolicy = LOOSE): Promise<HistoryEvent[]> {
      for (const e of events) realm.append(e, policy);
      await realm.flush();
      return events;
    }

    const exact = (topic: string, over: Partial<HistoryQuery> = {}): HistoryQuery => ({ select: { match: 'exact', topic }, limit: 100, ...over });
    const pubs = (events: readonly { publication: number }[]): number[] => events.map((e) => e.publication);

    it('append, flush, query: every event, oldest first, seq increasing; reverse gives newest first', async () => {
      const realm = await (await open()).realm('r', BIG);
      const events = await put(realm, [event('t'), event('t'), event('t'), event('other')]);
      const page = await realm.query(exact('t'));
      expect(pubs(page.events)).toEqual(pubs(events.slice(0, 3)));
      expect(page.more).toBe(false);
      expect(page.gap).toBe(false);
      const seqs = page.events.map((e) => e.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(3);
      const reverse = await realm.query(exact('t', { reverse: true }));
      expect(pubs(reverse.events)).toEqual(pubs(events.slice(0, 3)).reverse());
      expect(realm.size.events).toBe(4);
      expect(realm.size.bytes).toBeGreaterThan(0);
      expect((await realm.query(exact('nothing'))).events).toEqual([]);
    });

    it('limit: at most that many, and more says whether others match (both directions)', async () => {
      const realm = await (await open()).realm('r', BIG);
      const events = await put(realm, [event('t'), event('t'), event('t'), event('t'), event('t')]);
      const first = await realm.query(exact('t', { limit: 2 }));
      expect(pubs(first.events)).toEqual(pubs(events.slice(0, 2)));
      expect(first.more).toBe(true);
      const last = await realm.query(exact('t', { limit: 2, reverse: true }));
      expect(pubs(last.events)).toEqual(pubs(events.slice(3)).reverse());
      expect(last.more).toBe(true);
      const all = await realm.query(exact('t', { limit: 5 }));
      expect(all.events).toHaveLength(5);
      expect(all.more).toBe(false);
    });

    it('time bounds: from (>=), after (>), before (<), until (<=), combined with AND', async () => {
      const realm = await (await open()).realm('r', BIG);
      const base = clock;
      const events = await put(
        realm,
        [100, 200, 300, 400].map((d) => event('t', { at: base + d })),
      );
      const at = async (q: Partial<HistoryQuery>): Promise<number[]> => pubs((await realm.query(exact('t', q))).events);
      expect(await at({ fromTime: base + 200 })).toEqual(pubs(events.slice(1)));
      expect(await at({ afterTime: base + 200 })).toEqual(pubs(events.slice(2)));
      expect(await at({ beforeTime: base + 300 })).toEqual(pubs(events.slice(0, 2)));
      expect(await at({ untilTime: base + 300 })).toEqual(pubs(events.slice(0, 3)));
      expect(await at({ fromTime: base + 200, untilTime: base + 300 })).toEqual(pubs(events.slice(1, 3)));
    });

    it('publication bounds: from/after/before/until name stored events; an unknown one is a gap', async () => {
      const realm = await (await open()).realm('r', BIG);
      const events = await put(realm, [event('t'), event('t'), event('t'), event('t')]);
      const p = pubs(events);
      const q = async (over: Partial<HistoryQuery>): Promise<{ p: number[]; gap: boolean }> => {
        const page = await realm.query(exact('t', over));
        return { p: pubs(page.events), gap: page.gap };
      };
      expect(await q({ fromPublication: events[1]!.publication })).toEqual({ p: p.slice(1), gap: false });
      expect(await q({ afterPublication: events[1]!.publication })).toEqual({ p: p.slice(2), gap: false });
      expect(await q({ beforePublication: events[2]!.publication })).toEqual({ p: p.slice(0, 2), gap: false });
      expect(await q({ untilPublication: events[2]!.publication })).toEqual({ p: p.slice(0, 3), gap: false });
      expect(await q({ afterPublication: events[0]!.publication, untilPublication: events[2]!.publication })).toEqual({ p: p.slice(1, 3), gap: false });
      // Not stored: after/from start at the oldest stored event; before/until select nothing.
      const unknown = 42 as PublicationId;
      expect(await q({ afterPublication: unknown })).toEqual({ p, gap: true });
      expect(await q({ fromPublication: unknown })).toEqual({ p, gap: true });
      expect(await q({ beforePublication: unknown })).toEqual({ p: [], gap: true });
      expect(await q({ untilPublication: unknown })).toEqual({ p: [], gap: true });
    });

    it('a publication dropped by the count limit is a gap: the read starts at the oldest kept', async () => {
      const realm = await (await open()).realm('r', BIG);
      const events = await put(realm, [event('t'), event('t'), event('t'), event('t')], { limit: 2, maxAgeMs: 0 });
      const page = await realm.query(exact('t', { afterPublication: events[0]!.publication }));
      expect(pubs(page.events)).toEqual(pubs(events.slice(2)));
      expect(page.gap).toBe(true);
    });

    it('afterSeq: only events stored after that position', async () => {
      const realm = await (await open()).realm('r', BIG);
      const events = await put(realm, [event('t'), event('t'), event('t')]);
      const stored = (await realm.query(exact('t'))).events;
      expect(pubs((await realm.query(exact('t', { afterSeq: stored[0]!.seq }))).events)).toEqual(pubs(events.slice(1)));
      expect((await realm.query(exact('t', { afterSeq: stored[2]!.seq }))).events).toEqual([]);
      const later = await put(realm, [event('t')]);
      expect(pubs((await realm.query(exact('t', { afterSeq: stored[2]!.seq }))).events)).toEqual(pubs(later));
    });

    it('selection: exact is one topic; prefix and wildcard cover every stored topic they match, in store order', async () => {
      const realm = await (await open()).realm('r', BIG);
      const names = ['com.a.x', 'com.b.x', 'com.a.y', 'com.ab', 'com.a.x.deep', 'org.a.x', 'com.a.x'];
      const events = await put(
        realm,
        names.map((t) => event(t)),
      );
      const byTopic = (pick: (t: string) => boolean): number[] => pubs(events.filter((e) => pick(e.topic)));
      const read = async (match: 'exact' | 'prefix' | 'wildcard', topic: string, reverse = false): Promise<number[]> =>
        pubs((await realm.query({ select: { match, topic }, limit: 100, reverse })).events);
      expect(await read('exact', 'com.a.x')).toEqual(byTopic((t) => t === 'com.a.x'));
      expect(await read('prefix', 'com.a.')).toEqual(byTopic((t) => t.startsWith('com.a.')));
      expect(await read('prefix', 'com.a')).toEqual(byTopic((t) => t.startsWith('com.a')));
      expect(await read('prefix', 'com.a', true)).toEqual(byTopic((t) => t.startsWith('com.a')).reverse());
      // Wildcard: an empty component matches exactly one component.
      expect(await read('wildcard', 'com..x')).toEqual(byTopic((t) => t === 'com.a.x' || t === 'com.b.x'));
      expect(await read('wildcard', '.a.x')).toEqual(byTopic((t) => t === 'com.a.x' || t === 'org.a.x'));
      expect(await read('wildcard', 'com.a.')).toEqual(byTopic((t) => t === 'com.a.x' || t === 'com.a.y'));
      expect(await read('wildcard', 'net..x')).toEqual([]);
      // Paging across topics.
      const page = await realm.query({ select: { match: 'prefix', topic: 'com.' }, limit: 2 });
      expect(pubs(page.events)).toEqual(byTopic((t) => t.startsWith('com.')).slice(0, 2));
      expect(page.more).toBe(true);
    });

    it('per-topic count limit: a topic keeps its newest `limit` events, other topics are not touched; a larger limit later keeps more', async () => {
      const store = await open();
      const realm = await store.realm('r', BIG);
      const policy = { limit: 3, maxAgeMs: 0 };
      const a = await put(realm, [event('a'), event('a'), event('a'), event('a'), event('a')], policy);
      const b = await put(realm, [event('b'), event('b')], policy);
      expect(pubs((await realm.query(exact('a'))).events)).toEqual(pubs(a.slice(2)));
      expect(pubs((await realm.query(exact('b'))).events)).toEqual(pubs(b));
      expect(realm.size.events).toBe(5);
      expect(store.stats.expired.count).toBe(2);
      const more = await put(realm, [event('a'), event('a')], { limit: 10, maxAgeMs: 0 });
      expect(pubs((await realm.query(exact('a'))).events)).toEqual([...pubs(a.slice(2)), ...pubs(more)]);
    });

    it('age limit: events older than the topic maxAgeMs are never returned, and expire', async () => {
      const store = await open();
      const realm = await store.realm('r', BIG);
      const policy = { limit: 100, maxAgeMs: 1000 };
      const old = await put(realm, [event('t')], policy);
      clock += 600;
      const young = await put(realm, [event('t')], policy);
      const forever = await put(realm, [event('u')], LOOSE);
      expect(pubs((await realm.query(exact('t'))).events)).toEqual(pubs([...old, ...young]));
      clock += 600; // old is 1200 ms old, young 600
      expect(pubs((await realm.query(exact('t'))).events)).toEqual(pubs(young));
      expect(pubs((await realm.query({ select: { match: 'prefix', topic: '' }, limit: 100 })).events)).toEqual(pubs([...young, ...forever]));
      // The expired event is no bound either.
      expect((await realm.query(exact('t', { afterPublication: old[0]!.publication }))).gap).toBe(true);
      clock += 10_000_000;
      expect((await realm.query(exact('t'))).events).toEqual([]);
      expect(pubs((await realm.query(exact('u'))).events)).toEqual(pubs(forever));
      if (options.expire !== undefined) {
        await options.expire(store);
        expect(realm.size.events).toBe(1);
        expect(store.stats.expired.age).toBe(2);
      }
    });

    it("realm byte budget: the realm's oldest events go first, across topics", async () => {
      const store = await open();
      // One event's size as this engine counts it (every event below has the same shape).
      // An engine may count a cost per topic kept besides its events (#17 review F5): the second event's growth is one event.
      const probe = await store.realm('probe', BIG);
      await put(probe, [event('com.t.a', { args: ['x'.repeat(200)] })]);
      const first = probe.size.bytes;
      await put(probe, [event('com.t.a', { args: ['x'.repeat(200)] })]);
      const one = probe.size.bytes - first;
      const topic = first - one;
      expect(one).toBeGreaterThan(200);
      expect(topic).toBeGreaterThanOrEqual(0);
      const budget = 2 * topic + one * 5 + Math.floor(one / 2);
      const realm = await store.realm('budget', budget);
      const events: HistoryEvent[] = [];
      for (let i = 0; i < 8; i++) events.push(event(i % 2 === 0 ? 'com.t.a' : 'com.t.b', { args: ['x'.repeat(200)] }));
      await put(realm, events);
      if (options.expire !== undefined) await options.expire(store);
      const kept = await realm.query({ select: { match: 'prefix', topic: 'com.t.' }, limit: 100 });
      expect(pubs(kept.events)).toEqual(pubs(events.slice(3)));
      expect(realm.size.events).toBe(5);
      expect(realm.size.bytes).toBeLessThanOrEqual(budget);
      expect(store.stats.expired.bytes).toBe(3);
    });

    // Not registered at all for engines that do not persist retained events (nothing skipped).
    if (options.persistsRetained !== false)
      it('retained: one per topic (the latest replaces), read back oldest first', async () => {
        const realm = await (await open()).realm('r', BIG);
        const a1 = event('a', { args: ['a1'] });
        realm.retain(a1);
        clock += 10;
        const b = event('b', { args: ['b'] });
        realm.retain(b);
        clock += 10;
        const a2 = event('a', { args: ['a2'], kwargs: { k: 1 } });
        realm.retain(a2);
        await realm.flush();
        const retained = await realm.retained();
        expect(retained).toStrictEqual([b, a2]);
      });

    it('realms are apart: events, sizes, retained', async () => {
      const store = await open();
      const one = await store.realm('one', BIG);
      const two = await store.realm('two', BIG);
      const e1 = await put(one, [event('t'), event('t')]);
      const e2 = await put(two, [event('t')]);
      two.retain(event('r'));
      await two.flush();
      expect(pubs((await one.query(exact('t'))).events)).toEqual(pubs(e1));
      expect(pubs((await two.query(exact('t'))).events)).toEqual(pubs(e2));
      expect((await one.query(exact('t', { afterPublication: e2[0]!.publication }))).gap).toBe(true);
      expect(one.size.events).toBe(2);
      expect(two.size.events).toBe(1);
      expect(await one.retained()).toEqual([]);
      expect(await two.retained()).toHaveLength(options.persistsRetained === false ? 0 : 1);
      expect(store.stats.events).toBe(3);
    });

    it('payloads come back exactly: binary, large integers, unicode, nested kwargs, details, filters', async () => {
      const realm = await (await open()).realm('r', BIG);
      const e = event('com.例.😀', {
        details: { publisher: 7, publisher_authid: 'ä\u0000😀', ppt_scheme: 'x_s', ppt_serializer: 'cbor' },
        args: [new Uint8Array([0, 255, 1]), 2 ** 60, -(2 ** 63), 2 ** 53 + 2, 'a\u0000\u{1F600}', null, 1.5],
        kwargs: { nested: { list: [{ deep: [new Uint8Array([7])] }] }, '😀': true },
        filter: { eligibleAuthrole: ['user'], excludeAuthid: ['bob'] },
      });
      await put(realm, [e]);
      const [stored] = (await realm.query(exact('com.例.😀'))).events;
      const { seq, ...back } = stored as StoredEvent;
      expect(typeof seq).toBe('number');
      const args = back.args as unknown[];
      expect([...(args[0] as Uint8Array)]).toEqual([0, 255, 1]);
      expect(args.slice(1)).toStrictEqual((e.args as unknown[]).slice(1));
      const deep = (back.kwargs as { nested: { list: { deep: Uint8Array[] }[] } }).nested.list[0]!.deep[0]!;
      expect([...deep]).toEqual([7]);
      expect(back.kwargs?.['😀']).toBe(true);
      expect(back.details).toStrictEqual(e.details);
      expect(back.filter).toStrictEqual(e.filter);
      expect(back.topic).toBe(e.topic);
      expect(back.at).toBe(e.at);
      expect(back.publication).toBe(e.publication);
      // A passthru payload (binary in Arguments' place).
      const ppt = event('ppt', { args: new Uint8Array([1, 2, 3]), details: { ppt_scheme: 'x' } });
      await put(realm, [ppt]);
      const [p] = (await realm.query(exact('ppt'))).events;
      expect(p!.args).toBeInstanceOf(Uint8Array);
      expect([...(p!.args as Uint8Array)]).toEqual([1, 2, 3]);
      expect(p!.kwargs).toBeUndefined();
    });

    if (options.reopen !== undefined) {
      const reopen = options.reopen;
      it('durable: after close and reopen, events, retained events and sizes are back, and seq goes on increasing', async () => {
        clock = 1_700_000_000_000;
        const store = await makeStore(ctx);
        const realm = await store.realm('r', BIG);
        const events = await put(realm, [event('t', { args: [new Uint8Array([1]), 2 ** 60] }), event('t'), event('u')], { limit: 2, maxAgeMs: 0 });
        await put(realm, [event('t')], { limit: 2, maxAgeMs: 0 }); // drops the first 't'
        realm.retain(event('kept', { args: ['r'] }));
        await realm.flush();
        const before = (await realm.query({ select: { match: 'prefix', topic: '' }, limit: 100 })).events;
        const size = realm.size;
        const retained = await realm.retained();
        const again = await reopen(store);
        onTestFinished(() => again.close());
        const realm2 = await again.realm('r', BIG);
        const after = (await realm2.query({ select: { match: 'prefix', topic: '' }, limit: 100 })).events;
        expect(after.map((e) => [e.seq, e.publication])).toEqual(before.map((e) => [e.seq, e.publication]));
        expect(after.some((e) => e.topic === 'u')).toBe(true);
        expect(realm2.size).toEqual(size);
        expect(await realm2.retained()).toStrictEqual(retained);
        // Still limited per topic, and seq beyond every seq given before (even those expired).
        const more = await put(realm2, [event('t')], { limit: 2, maxAgeMs: 0 });
        const now = (await realm2.query(exact('t'))).events;
        expect(now).toHaveLength(2);
        expect(now[1]!.publication).toBe(more[0]!.publication);
        expect(now[1]!.seq).toBeGreaterThan(Math.max(...before.map((e) => e.seq)));
        expect(pubs(events)).toHaveLength(3);
      });
    }
  });
}
