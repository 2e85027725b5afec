/**
 * The SQLite event store through the router process (#17): `switchboard start` from the built
 * dist/ with `store: { type: "sqlite" }`, killed with SIGKILL (no graceful stop, nothing flushed
 * at exit) and started again on the same file and port. What a live subscriber received before
 * the kill is what history gives after the restart, exactly, on every serializer: binary, 64-bit
 * integers (as the router's codecs read them: past 2^53 not exact on the live path either, so the
 * assertion is live === history), unicode (astral, combining, NUL), nested kwargs, publisher
 * disclosure, authid/authrole lists; retained events come back too. [ap_pubsub_event_history]
 * [ap_pubsub_event_retention]
 *
 * Run `npx tsc -b` first: the router runs from router/dist.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Dict, SerializerName } from '@switchboard/schemas';
import type { EventDetails, Session } from '@switchboard/client';
import { SqliteStore } from '../../src/history/sqlite.js';
import { open, within } from '../../../client/test/helpers.js';
import { writeConfig } from '../config/support.js';
import { freePort, startRouterProcess } from '../../../test/support/processes.js';
import type { Spawned } from '../../../test/support/processes.js';

const SERIALIZERS: readonly SerializerName[] = ['json', 'msgpack', 'cbor'];
const EXACT = 'com.durable.exact';
const PREFIX = 'com.durable.p.';
const PREFIXED = ['com.durable.p.one', 'com.durable.p.two'];
const RETAINED = ['com.durable.r.one', 'com.durable.r.two', 'com.durable.p.one'];

/** A stored event as the history procedures answer it (get_events' shape). */
interface Stored {
  timestamp: string;
  subscription: number;
  publication: number;
  details: Dict;
  args?: unknown[];
  kwargs?: Dict;
}

/** An event reduced to what must survive: the topic, the publication, details as published, the payload. */
interface Seen {
  topic: string;
  publication: number;
  details: Dict;
  args: unknown[];
  kwargs: Dict;
}

/** What a live (or replayed, or retained) EVENT carried, without what the router adds per delivery. */
function seenLive(args: unknown[], kwargs: Dict, eventDetails: EventDetails): Seen {
  const { subscription: _s, publication, topic, replayed: _r, retained: _t, history: _h, ...details } = eventDetails;
  return { topic, publication: Number(publication), details, args, kwargs };
}

/** A handler that records each event it gets into `list`. */
function into(list: Seen[]): (args: unknown[], kwargs: Dict, details: EventDetails) => void {
  return (args, kwargs, details) => void list.push(seenLive(args, kwargs, details));
}

/** A stored event of `topic`, reduced the same way (`details.topic` is there for pattern rules). */
function seenStored(event: Stored, topic: string): Seen {
  const { topic: stored, ...details } = event.details;
  return { topic: typeof stored === 'string' ? stored : topic, publication: event.publication, details, args: event.args ?? [], kwargs: event.kwargs ?? {} };
}

interface RunningRouter {
  process: Spawned;
  url: string;
}

/** A directory and config for one router: sqlite store at a path relative to the config's directory. */
async function setup(durability: 'batched' | 'ack', realm: Dict = {}): Promise<{ config: string; db: string; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-durable-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const config = writeConfig(
    {
      shutdownTimeoutMs: 500,
      listeners: [{ type: 'websocket', host: '127.0.0.1', port }],
      store: { type: 'sqlite', path: 'data/history.db', durability },
      realms: [
        {
          name: 'realm1',
          eventHistory: [
            { topic: EXACT, limit: 1000 },
            { topic: PREFIX, match: 'prefix', limit: 1000, maxAgeMs: 3_600_000 },
          ],
          retention: { maxTopics: 100 },
          ...realm,
        },
      ],
    },
    'config.json',
    dir,
  );
  return { config, db: join(dir, 'data', 'history.db'), port };
}

async function start(config: string): Promise<RunningRouter> {
  const { router, url } = await startRouterProcess(['--config', config], { timeoutMs: 20_000 });
  return { process: router, url };
}

/** SIGKILL: the process gets no chance to write what it still queues or to close the file. */
async function kill(router: RunningRouter): Promise<void> {
  router.process.child.kill('SIGKILL');
  await within(router.process.exited, 10_000, 'the router to die');
  expect(router.process.child.signalCode).toBe('SIGKILL');
}

/** The payloads each publisher sends: every kind of value a serializer must keep. */
function payloads(serializer: SerializerName, topic: string, n: number): { args: unknown[]; kwargs: Dict }[] {
  const out: { args: unknown[]; kwargs: Dict }[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      args: [
        `${serializer} ${topic} #${i}`,
        new Uint8Array([0, 1, 2, 127, 128, 255, i]),
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        2 ** 53 + 2 * i,
        -(2 ** 62),
        0.5,
        '𝄞 astral 😀, e\u0301 combining, NUL:\u0000:end',
        // 64-bit integers past 2^53 (the binary serializers carry them; JSON has no such thing).
        ...(serializer === 'json' ? [] : [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]),
      ],
      kwargs: {
        nested: { list: [1, { deep: [true, null, 'ü'] }], bin: new Uint8Array([i, 255]) },
        big: 2 ** 53 - 1 - i,
        negative: -(2 ** 31) - i,
        'ключ 🔑': 'значение',
      },
    });
  }
  return out;
}

/** Live subscribers (one per serializer) to every durable topic; what each received, in order. */
async function liveSubscribers(url: string): Promise<Map<SerializerName, Seen[]>> {
  const seen = new Map<SerializerName, Seen[]>();
  for (const serializer of SERIALIZERS) {
    const list: Seen[] = [];
    seen.set(serializer, list);
    const session = await open(url, serializer);
    await session.subscribe('com.durable.', into(list), { match: 'prefix' });
  }
  return seen;
}

/** Resolves once every list in `seen` has `n` events (bounded). */
async function untilReceived(seen: Map<SerializerName, Seen[]>, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ([...seen.values()].some((l) => l.length < n)) {
    if (Date.now() > deadline) throw new Error(`live subscribers got ${[...seen.values()].map((l) => l.length).join('/')} of ${n} events`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function call(session: Session, procedure: string, args: unknown[], kwargs: Dict = {}): Promise<{ args: unknown[]; kwargs: Dict }> {
  const result = await within(session.callResult(procedure, args, kwargs), 10_000, procedure);
  return { args: result.args, kwargs: result.kwargs };
}

async function events(session: Session, procedure: string, args: unknown[], kwargs: Dict = {}): Promise<{ events: Stored[]; more: unknown; gap: unknown }> {
  const result = await call(session, procedure, args, kwargs);
  return { events: result.args[0] as Stored[], more: result.kwargs['more'], gap: result.kwargs['gap'] };
}

/** The history subscription of a rule (wamp.subscription.lookup). */
async function ruleSubscription(session: Session, topic: string, match: 'exact' | 'prefix'): Promise<number> {
  const { args } = await call(session, 'wamp.subscription.lookup', [topic, { match }]);
  expect(typeof args[0]).toBe('number');
  return args[0] as number;
}

describe('SQLite event store: kill -9 and restart', () => {
  it('history and retained events come back exactly, on json, msgpack and cbor', { timeout: 90_000 }, async () => {
    const { config } = await setup('batched');
    const first = await start(config);
    const live = await liveSubscribers(first.url);
    const topics = [EXACT, ...PREFIXED];
    let published = 0;
    for (const serializer of SERIALIZERS) {
      const publisher = await open(first.url, serializer);
      for (const topic of topics) {
        for (const [i, p] of payloads(serializer, topic, 3).entries()) {
          // Publisher disclosure on some, authid/authrole lists (that every reader here passes) on others.
          const options = i === 0 ? { disclose_me: true } : i === 1 ? { exclude_authid: ['nobody'], eligible_authrole: ['anonymous'] } : {};
          await publisher.publish(topic, p.args, p.kwargs, { acknowledge: true, ...options });
          published++;
        }
      }
    }
    // Retained events, the last of a topic wins (one of them is also in history).
    const retainedBy = new Map<string, SerializerName>();
    for (const [i, topic] of RETAINED.entries()) {
      for (const serializer of SERIALIZERS) {
        const publisher = await open(first.url, serializer);
        const p = payloads(serializer, topic, 1)[0]!;
        await publisher.publish(topic, [...p.args, 'retained', i], p.kwargs, { acknowledge: true, retain: true, disclose_me: serializer === 'cbor' });
        published++;
        retainedBy.set(topic, serializer);
      }
    }
    await untilReceived(live, published);
    const liveBefore = new Map([...live].map(([s, l]) => [s, [...l]]));
    // With "batched" an event is stored at most one turn after PUBLISHED: a read flushes the queue first.
    const flusher = await open(first.url, 'json');
    expect((await events(flusher, 'wamp.topic.history.last', [EXACT, 1])).events).toHaveLength(1);
    await kill(first);

    const second = await start(config);
    for (const serializer of SERIALIZERS) {
      const got = liveBefore.get(serializer)!;
      const reader = await open(second.url, serializer);
      const ofTopic = (topic: string): Seen[] => got.filter((e) => e.topic === topic);
      for (const topic of topics) {
        const expected = ofTopic(topic);
        // Nine published to it (com.durable.p.one: three more, retained ones).
        expect(expected).toHaveLength(topic === PREFIXED[0] ? 12 : 9);
        const last = await events(reader, 'wamp.topic.history.last', [topic, 100]);
        expect(last.events.map((e) => seenStored(e, topic))).toEqual(expected);
        expect(last).toMatchObject({ more: false, gap: false });
        // Binary stays binary on every serializer (JSON's "\0base64" form is the codec's business).
        expect(last.events.every((e) => e.args?.[1] instanceof Uint8Array)).toBe(true);
        const after = await events(reader, 'wamp.topic.history.after', [topic, expected[0]!.publication]);
        expect(after.events.map((e) => seenStored(e, topic))).toEqual(expected.slice(1));
        expect(after).toMatchObject({ more: false, gap: false });
        // The gapless catch-up through our client: the replay is exactly the stored events.
        const replayed: Seen[] = [];
        const subscription = await reader.subscribe(topic, into(replayed), { history: { last: 100 } });
        const deadline = Date.now() + 10_000;
        while (replayed.length < expected.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(replayed).toEqual(expected);
        await subscription.unsubscribe();
      }
      // get_events by the rules' history subscriptions: the exact rule, and the prefix rule across its topics.
      const exactRule = await ruleSubscription(reader, EXACT, 'exact');
      const exact = await events(reader, 'wamp.subscription.get_events', [exactRule, 100]);
      expect(exact.events.map((e) => seenStored(e, EXACT))).toEqual(ofTopic(EXACT));
      const prefixRule = await ruleSubscription(reader, PREFIX, 'prefix');
      const prefixed = await events(reader, 'wamp.subscription.get_events', [prefixRule, 100]);
      const prefixedLive = got.filter((e) => e.topic.startsWith(PREFIX));
      expect(prefixed.events.map((e) => seenStored(e, ''))).toEqual(prefixedLive);
      expect(await ruleSubscription(reader, EXACT, 'exact')).toBe(exactRule);
      // Retained events: a new subscriber with get_retained gets each topic's last one, exactly.
      for (const topic of RETAINED) {
        const expected = got.filter((e) => e.topic === topic && e.args.includes('retained')).at(-1)!;
        expect(expected.args).toContain(`${retainedBy.get(topic)} ${topic} #0`);
        const retained: Seen[] = [];
        const flags: unknown[] = [];
        const subscription = await reader.subscribe(
          topic,
          (args: unknown[], kwargs: Dict, details: EventDetails) => {
            flags.push(details.retained);
            retained.push(seenLive(args, kwargs, details));
          },
          { get_retained: true },
        );
        const deadline = Date.now() + 10_000;
        while (retained.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        expect(retained).toHaveLength(1);
        expect(flags).toEqual([true]);
        expect(retained[0]).toEqual(expected);
        await subscription.unsubscribe();
      }
    }
    await kill(second);
  });

  it('a second start on the file keeps counting seq, and after() pages through both runs in order', { timeout: 90_000 }, async () => {
    const { config, db } = await setup('batched', { limits: { maxHistoryPage: 4 } });
    const first = await start(config);
    const before = await open(first.url, 'msgpack');
    const run1: number[] = [];
    for (let i = 0; i < 6; i++) run1.push(Number(await before.publish(EXACT, ['run1', i], {}, { acknowledge: true })));
    // A read flushes the batch ("batched": stored at most one turn after PUBLISHED).
    expect((await events(before, 'wamp.topic.history.last', [EXACT, 1])).events[0]!.publication).toBe(run1[5]);
    await kill(first);

    const second = await start(config);
    const after = await open(second.url, 'cbor');
    const run2: number[] = [];
    for (let i = 0; i < 5; i++) run2.push(Number(await after.publish(EXACT, ['run2', i], {}, { acknowledge: true })));
    // Pages of four from a publication of the first run, each asked for after the last one returned.
    const pages: Stored[][] = [];
    let from = run1[1]!;
    for (;;) {
      const page = await events(after, 'wamp.topic.history.after', [EXACT, from]);
      expect(page.gap).toBe(false);
      pages.push(page.events);
      if (page.more !== true) break;
      expect(page.events).toHaveLength(4);
      from = page.events.at(-1)!.publication;
      expect(pages.length).toBeLessThan(5);
    }
    expect(pages.map((p) => p.length)).toEqual([4, 4, 1]);
    // An app that kept the last publication it saw before the kill resumes with the client's
    // catch-up. Seven events follow it, more than a page (4): the replay is the newest page and
    // says so with `gap` on its first event (the app reads the rest with history.after).
    const resumed: Seen[] = [];
    await after.subscribe(EXACT, into(resumed), { history: { after: run1[3]! } });
    const deadline = Date.now() + 10_000;
    while (resumed.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resumed.map((e) => e.publication)).toEqual(run2.slice(1));
    expect(resumed.map((e) => e.details['gap'])).toEqual([true, undefined, undefined, undefined]);
    // Within a page: exactly the events after it, no gap (a second local subscription gets its own replay).
    const caught: Seen[] = [];
    await after.subscribe(EXACT, into(caught), { history: { after: run2[0]! } });
    while (caught.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(caught.map((e) => e.publication)).toEqual(run2.slice(1));
    expect(caught.some((e) => e.details['gap'] !== undefined)).toBe(false);
    expect(pages.flat().map((e) => e.publication)).toEqual([...run1.slice(2), ...run2]);
    expect(pages.flat().map((e) => e.args)).toEqual([...[2, 3, 4, 5].map((i) => ['run1', i]), ...[0, 1, 2, 3, 4].map((i) => ['run2', i])]);
    // The file, read beside the running router (WAL): seq goes on increasing across the restart.
    const store = await SqliteStore.open({ path: db, readonly: true });
    onTestFinished(() => store.close());
    const realm = await store.realm('realm1', Number.MAX_SAFE_INTEGER);
    const stored = await realm.query({ select: { match: 'exact', topic: EXACT }, limit: 100 });
    expect(stored.events.map((e) => e.publication)).toEqual([...run1, ...run2]);
    const seqs = stored.events.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!);
    await kill(second);
  });

  /*
   * Durability "ack": PUBLISHED is sent once the event is committed, so an acknowledged publication
   * survives a SIGKILL that follows its PUBLISHED at once. With "batched" (the default) the same
   * kill may lose the last event-loop turn's events — those acknowledged in that turn — which is
   * why this is asserted for "ack" only. (In practice a SIGKILL rarely catches "batched" out: the
   * batch is written in the same loop iteration as the PUBLISHED, and a committed WAL write is in
   * the kernel's page cache, which a process kill does not lose; a power cut or an OS crash can.)
   */
  it('durability "ack": every publication acknowledged before the kill is in history after the restart', { timeout: 90_000 }, async () => {
    const { config } = await setup('ack');
    const first = await start(config);
    const publisher = await open(first.url, 'msgpack');
    const K = 150;
    const PAYLOAD = 4096;
    const acknowledged: number[] = [];
    let killedAfter: number[] | undefined;
    const sent: Promise<unknown>[] = [];
    // A stream of acknowledged publishes, at most 16 outstanding, until the K-th PUBLISHED kills the router.
    for (let i = 0; i < 1000 && killedAfter === undefined; i++) {
      sent.push(
        publisher.publish(EXACT, ['ack', i, new Uint8Array(PAYLOAD).fill(i % 256)], {}, { acknowledge: true }).then(
          (id) => {
            if (killedAfter !== undefined) return;
            acknowledged.push(Number(id));
            if (acknowledged.length === K) {
              first.process.child.kill('SIGKILL');
              killedAfter = [...acknowledged];
            }
          },
          () => undefined,
        ),
      );
      if (sent.length >= 16) await Promise.race(sent.slice(-16));
    }
    await within(first.process.exited, 10_000, 'the router to die');
    await within(Promise.allSettled(sent), 10_000, 'the outstanding publishes to settle');
    expect(killedAfter).toHaveLength(K);

    const second = await start(config);
    const reader = await open(second.url, 'json');
    const stored = await events(reader, 'wamp.topic.history.last', [EXACT, 1000]);
    const ids = stored.events.map((e) => e.publication);
    expect(ids.slice(0, K)).toEqual(killedAfter);
    expect(stored.events.map((e) => e.args?.[1])).toEqual(ids.map((_, i) => i));
    await kill(second);
  });
});
