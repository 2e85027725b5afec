/**
 * Event history in a cluster (#17), end to end: router processes (`switchboard start`) on one
 * nats-server with JetStream, `store: { type: 'jetstream' }`, realm1 keeping the test's topics
 * (`eventHistory`). What one node stores every other reads, in one order and exactly (binary,
 * unicode, kwargs); a node killed and replaced, or a nats-server restart, loses nothing; a
 * retained event outlives its publisher's node; a SUBSCRIBE with `history` on one node replays
 * what another stored, then goes live. Heavy tests (processes): few, each its own cluster.
 *
 * Durability "ack": PUBLISHED means JetStream acknowledged the event, so a read on another node
 * right after sees it (with "batched" the publishing node's write may still be on its way).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CallResult, EventDetails, PublicationId, Session } from '@switchboard/client';
import type { RealmFile, RouterConfigFile } from '@switchboard/router';
import { deferred, open, uri, within } from '../../../client/test/helpers.js';
import { startCluster } from '../../../test/support/cluster.js';
import type { ClusterOptions } from '../../../test/support/cluster.js';
import { main } from '../../src/cli.js';

/** An event as the history procedures answer it (get_events' shape). */
interface Stored {
  timestamp: string;
  subscription: number;
  publication: number;
  details: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

interface Page {
  events: Stored[];
  more: boolean;
  gap: boolean;
}

/** A cluster whose realm1 keeps `topics` (100 events each) in the JetStream store. */
function historyCluster(topics: readonly string[]): ClusterOptions {
  const realms: RealmFile[] = [{ name: 'realm1', eventHistory: topics.map((topic) => ({ topic, limit: 100 })) }];
  const store: RouterConfigFile['store'] = { type: 'jetstream', durability: 'ack' };
  return { realms, extra: { store } };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A history read (wamp.topic.history.* or get_events): the events and the page's flags. */
async function read(session: Session, procedure: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<Page> {
  const result = (await within(session.callResult(procedure, args, kwargs), 15_000, procedure)) as CallResult<unknown>;
  return { events: result.args[0] as Stored[], more: result.kwargs['more'] as boolean, gap: result.kwargs['gap'] as boolean };
}

/** Buffers (what the decoders give, Uint8Array subclasses) as plain Uint8Arrays, for toEqual. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** What the test published: one event's publication and payload. */
interface Published {
  publication: PublicationId;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

/** Event `i`: binary, unicode (outside the BMP too), numbers, nested kwargs. */
function payload(i: number): { args: unknown[]; kwargs: Record<string, unknown> } {
  return {
    args: [i, 'héllo ✓ 🎉 ünï 日本語', new Uint8Array([0, 1, 255, i])],
    kwargs: { i, text: `ключ ${i} — ✓`, bin: new Uint8Array([i, 0, 128]), nested: { list: [1.5, null, true, -(2 ** 40)] } },
  };
}

async function publishEvents(publisher: Session, topic: string, from: number, to: number): Promise<Published[]> {
  const out: Published[] = [];
  for (let i = from; i < to; i++) {
    const { args, kwargs } = payload(i);
    const publication = await publisher.publish(topic, args, kwargs, { acknowledge: true });
    out.push({ publication: publication!, args, kwargs });
  }
  return out;
}

/** The stored events as [publication, args, kwargs], buffers made plain. */
const contents = (events: readonly Stored[]): unknown[] => events.map((e) => plain([e.publication, e.args, e.kwargs]));
const expected = (events: readonly Published[]): unknown[] => events.map((e) => plain([e.publication, e.args, e.kwargs]));

/** Waits until a session on `url` gets the retained event of `topic` with get_retained; its args. */
async function retainedOn(url: string, topic: string): Promise<unknown[]> {
  let got: unknown[] | undefined;
  await waitFor(async () => {
    const probe = await open(url);
    const seen = deferred<unknown[]>();
    await probe.subscribe(
      topic,
      (args, _kwargs, details) => {
        if (details.retained === true) seen.resolve(args);
      },
      { get_retained: true },
    );
    got = await within(seen.promise, 500, 'the retained event').catch(() => undefined);
    await probe.leave();
    return got !== undefined;
  }, `the retained event of ${topic} on ${url}`);
  return got!;
}

describe('cluster: event history in JetStream', () => {
  it('events stored on one node are read on another exactly; a killed node replaced by a fresh one serves them, and so do the others; retained events outlive the node', async () => {
    const topic = uri('chist.read');
    const retainedTopic = uri('chist.retained');
    const cluster = await startCluster(3, historyCluster([topic]));
    const [a, b, c] = cluster.nodes;
    const publisher = await open(a!.url, 'msgpack');
    const written = await publishEvents(publisher, topic, 0, 12);
    await publisher.publish(retainedTopic, ['kept', new Uint8Array([9])], { v: 'ü' }, { retain: true, acknowledge: true });

    // (1) On node B: last, after and get_events, each every event in publication order.
    const reader = await open(b!.url, 'cbor');
    const last = await read(reader, 'wamp.topic.history.last', [topic, 100]);
    expect(contents(last.events)).toEqual(expected(written));
    expect(last).toMatchObject({ more: false, gap: false });
    const after = await read(reader, 'wamp.topic.history.after', [topic, written[3]!.publication]);
    expect(contents(after.events)).toEqual(expected(written.slice(4)));
    expect(after).toMatchObject({ more: false, gap: false });
    const paged = await read(reader, 'wamp.topic.history.last', [topic, 5]);
    expect(contents(paged.events)).toEqual(expected(written.slice(-5)));
    const subscription = (await reader.call('wamp.subscription.lookup', [topic])) as number;
    expect(subscription).toEqual(expect.any(Number));
    const viaGetEvents = await read(reader, 'wamp.subscription.get_events', [subscription, 100]);
    // One shape for both procedures: the same events, field for field.
    expect(plain(viaGetEvents.events)).toEqual(plain(last.events));
    expect(last.events.every((e) => e.subscription === subscription && typeof e.timestamp === 'string')).toBe(true);

    // (3) The retained event, on a subscriber joining node C.
    expect(plain(await retainedOn(c!.url, retainedTopic))).toEqual(plain(['kept', new Uint8Array([9])]));

    // (2) Node A dies without a word; a fresh process under its name serves the same history.
    await a!.kill('SIGKILL');
    const fresh = await cluster.addNode(a!.node);
    const freshReader = await open(fresh.url, 'json');
    const fromFresh = await read(freshReader, 'wamp.topic.history.last', [topic, 100]);
    expect(contents(fromFresh.events)).toEqual(expected(written));
    expect(contents((await read(reader, 'wamp.topic.history.last', [topic, 100])).events)).toEqual(expected(written));
    const freshAfter = await read(freshReader, 'wamp.topic.history.after', [topic, written[9]!.publication]);
    expect(contents(freshAfter.events)).toEqual(expected(written.slice(10)));
    // The fresh node records too: what is published on it follows, in one order, read on B.
    const more = await publishEvents(freshReader, topic, 12, 14);
    expect(contents((await read(reader, 'wamp.topic.history.last', [topic, 100])).events)).toEqual(expected([...written, ...more]));

    // (3) After node A is gone, the retained event is still delivered on node C and on the fresh node.
    expect(plain(await retainedOn(c!.url, retainedTopic))).toEqual(plain(['kept', new Uint8Array([9])]));
    expect(plain(await retainedOn(fresh.url, retainedTopic))).toEqual(plain(['kept', new Uint8Array([9])]));
  }, 60_000);

  it('SUBSCRIBE with history {last: n} on node C: the replay of what node A stored, then live events from node B, in order, no duplicate', async () => {
    const topic = uri('chist.catchup');
    const cluster = await startCluster(3, historyCluster([topic]));
    const [a, b, c] = cluster.nodes;
    const fromA = await open(a!.url, 'msgpack');
    const stored = await publishEvents(fromA, topic, 0, 6);

    const subscriber = await open(c!.url, 'cbor');
    expect(subscriber.supports('broker', 'history_catch_up')).toBe(true);
    const got: { n: unknown; publication: number; replayed: boolean; details: EventDetails; args: unknown[]; kwargs: unknown }[] = [];
    const subscription = await subscriber.subscribe(
      topic,
      (args, kwargs, details) => void got.push({ n: args[0], publication: details.publication, replayed: details.replayed, details, args, kwargs }),
      { history: { last: 4 } },
    );
    // The replay follows SUBSCRIBED (sent in one block with it by the router).
    await waitFor(() => got.length >= 4, 'the replay');
    expect(got.map((e) => [e.n, e.publication, e.replayed])).toEqual(stored.slice(2).map((e, i) => [i + 2, e.publication, true]));
    expect(got.map((e) => plain([e.publication, e.args, e.kwargs]))).toEqual(expected(stored.slice(2)));
    expect(got[0]!.details.gap).toBeUndefined();

    // Live events from node B, at once: every node listens on a history rule's topic from its start
    // (no waiting for the subscriber's interest to travel).
    const fromB = await open(b!.url, 'json');
    const live = await publishEvents(fromB, topic, 6, 10);
    await waitFor(() => got.length >= 8, 'the live events');
    // A last one from B: any stray copy of an earlier event would have come before it.
    const end = (await fromB.publish(topic, ['end'], {}, { acknowledge: true }))!;
    await waitFor(() => got.at(-1)?.publication === end, 'the last event');
    expect(got.map((e) => [e.n, e.publication, e.replayed])).toEqual([
      ...stored.slice(2).map((e, i) => [i + 2, e.publication, true]),
      ...live.map((e, i) => [i + 6, e.publication, false]),
      ['end', end, false],
    ]);
    expect(new Set(got.map((e) => e.publication)).size).toBe(got.length);
    expect(subscription.lastPublication).toBe(end);

    // And the history has it all, read on node A, in one order: A's six, B's four, the last.
    const everything = await read(fromA, 'wamp.topic.history.last', [topic, 100]);
    expect(everything.events.map((e) => e.publication)).toEqual([...stored, ...live].map((e) => e.publication).concat(end));
  }, 60_000);

  it('a nats-server restart on the same store directory keeps the history; the routers reconnect, read it and store again', async () => {
    const topic = uri('chist.outage');
    const cluster = await startCluster(2, historyCluster([topic]));
    const [a, b] = cluster.nodes;
    const publisher = await open(a!.url, 'msgpack');
    const written = await publishEvents(publisher, topic, 0, 5);
    const reader = await open(b!.url, 'json');
    expect(contents((await read(reader, 'wamp.topic.history.last', [topic, 100])).events)).toEqual(expected(written));

    await cluster.nats.kill('SIGKILL');
    // While NATS is down, a read fails with an ERROR (it does not hang, and the session stays).
    await expect(read(reader, 'wamp.topic.history.last', [topic, 100])).rejects.toMatchObject({ uri: expect.any(String) });
    await cluster.nats.restart();

    // Back: node B reads the history written before the outage.
    let events: Stored[] = [];
    await waitFor(
      async () => {
        events = (await read(reader, 'wamp.topic.history.last', [topic, 100]).catch(() => ({ events: [] as Stored[] }))).events;
        return events.length === written.length;
      },
      'the history on node B after the restart',
      20_000,
    );
    expect(contents(events)).toEqual(expected(written));
    // Node A stores again (an acknowledged PUBLISH fails with store_failed until JetStream is back).
    let again: Published[] = [];
    await waitFor(
      async () => {
        again = await publishEvents(publisher, topic, 5, 6).catch(() => []);
        return again.length === 1;
      },
      'a stored publication on node A after the restart',
      20_000,
    );
    const after = await read(reader, 'wamp.topic.history.last', [topic, 100]);
    // Events that failed to store while JetStream came back are not in it; the one acknowledged is, last.
    expect(contents(after.events.slice(0, written.length))).toEqual(expected(written));
    expect(contents(after.events.slice(-1))).toEqual(expected(again));
  }, 60_000);

  it('switchboard check accepts a cluster with the jetstream store and refuses the jetstream store without a cluster block', async () => {
    const { realms, extra } = historyCluster(['com.example.t']);
    const base: RouterConfigFile = { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], realms: realms!, ...extra };
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-check-'));
    try {
      const check = async (config: RouterConfigFile, name: string): Promise<{ exit: number; err: string }> => {
        const path = join(dir, name);
        writeFileSync(path, JSON.stringify(config));
        let err = '';
        const exit = await main(['check', path], { out: () => undefined, err: (t) => (err += t), env: {} });
        return { exit, err };
      };
      expect(await check({ ...base, cluster: { node: 'n1', nats: { servers: ['nats://127.0.0.1:4222'] } } }, 'good.json')).toEqual({ exit: 0, err: '' });
      const bad = await check(base, 'bad.json');
      expect(bad.exit).toBe(2);
      expect(bad.err).toMatch(/\/store\/type: 'jetstream' .*cluster/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
