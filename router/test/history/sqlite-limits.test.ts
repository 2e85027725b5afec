/**
 * History limits through the router with the SQLite store (#17): the per-topic count limit, age
 * expiry on the store's timer (`store.expiryIntervalMs`), the realm byte budget
 * (`limits.maxHistoryBytes`), and the /metrics series that report them
 * (switchboard_history_events / _bytes / _expired_total / _write_seconds). Raw frames against a
 * router on an ephemeral port, each test with its own database file. [ap_pubsub_event_history]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter } from '../helpers.js';

type Peer = Awaited<ReturnType<typeof RawPeer.join>>;

interface Stored {
  publication: number;
  args?: unknown[];
}

function database(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-limits-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'history.db');
}

async function start(realm: NonNullable<RouterConfigFile['realms']>[number], path = database(), expiryIntervalMs = 200) {
  const router = await startTestRouter({
    metrics: { port: 0 },
    store: { type: 'sqlite', path, expiryIntervalMs },
    realms: [realm],
  });
  return { router, peer: await RawPeer.join(router.url) };
}

/** PUBLISH with acknowledge; the publication ID. */
async function publish(peer: Peer, topic: string, args: unknown[], options: Record<string, unknown> = {}): Promise<number> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Publish, request, { ...options, acknowledge: true }, topic, args]);
  const reply = await peer.next((m) => m[1] === request || (m[0] === MessageCode.Error && m[2] === request));
  expect(reply[0], JSON.stringify(reply)).toBe(MessageCode.Published);
  return reply[2] as number;
}

/** SUBSCRIBE with get_retained, then a PUBLISH round trip; the retained EVENT if one came before the PUBLISHED. */
async function retainedOf(peer: Peer, topic: string): Promise<unknown[] | undefined> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Subscribe, request, { get_retained: true }, topic]);
  const subscribed = await peer.next((m) => m[1] === request || (m[0] === MessageCode.Error && m[2] === request));
  expect(subscribed[0], JSON.stringify(subscribed)).toBe(MessageCode.Subscribed);
  let event: unknown[] | undefined;
  const ping = peer.nextRequest();
  peer.send([MessageCode.Publish, ping, { acknowledge: true }, 'com.lim.ping', []]);
  for (;;) {
    const m = await peer.next((x) => (x[0] === MessageCode.Event && x[1] === subscribed[2]) || x[1] === ping);
    if (m[0] === MessageCode.Event) event = m;
    else return event;
  }
}

/** wamp.topic.history.last(topic, limit): the events (a read flushes the store's queue first). */
async function last(peer: Peer, topic: string, limit: number): Promise<Stored[]> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Call, request, {}, 'wamp.topic.history.last', [topic, limit]]);
  const reply = await peer.next((m) => m[1] === request || (m[0] === MessageCode.Error && m[2] === request));
  expect(reply[0], JSON.stringify(reply)).toBe(MessageCode.Result);
  return (reply[3] as unknown[])[0] as Stored[];
}

/** One sample of the Prometheus text at `url` (0 when absent). */
async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

/** Polls `check` every 50 ms until it holds, at most `ms`. */
async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const REALM = '{realm="realm1"}';

describe('history limits with the SQLite store', () => {
  it('count per topic: each topic keeps its last `limit` events; the rest counted as expired by count', async () => {
    const { router, peer } = await start({ name: 'realm1', eventHistory: [{ topic: 'com.lim.', match: 'prefix', limit: 3 }] });
    const url = router.metricsUrl!;
    const a: number[] = [];
    for (let i = 0; i < 5; i++) a.push(await publish(peer, 'com.lim.a', ['a', i]));
    const b = [await publish(peer, 'com.lim.b', ['b', 0])];
    expect((await last(peer, 'com.lim.a', 10)).map((e) => e.publication)).toEqual(a.slice(2));
    // Per topic: com.lim.b's event did not take one of com.lim.a's places.
    expect((await last(peer, 'com.lim.b', 10)).map((e) => e.publication)).toEqual(b);
    expect(await metric(url, 'switchboard_history_events', REALM)).toBe(4);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="count"}')).toBe(2);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="age"}')).toBe(0);
    expect(await metric(url, 'switchboard_history_bytes', REALM)).toBeGreaterThan(0);
    // Every batch was timed: at least one, at most one per publication.
    const batches = await metric(url, 'switchboard_history_write_seconds_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(6);
    expect(await metric(url, 'switchboard_history_write_failures_total')).toBe(0);
    expect(await metric(url, 'switchboard_history_lost_total{reason="refused"}')).toBe(0);
  });

  it('age: events past maxAgeMs are deleted on the expiry timer, counted as expired by age; others stay', async () => {
    const { router, peer } = await start({
      name: 'realm1',
      eventHistory: [
        { topic: 'com.lim.old', limit: 100, maxAgeMs: 2000 },
        { topic: 'com.lim.kept', limit: 100 },
      ],
    });
    const url = router.metricsUrl!;
    const old: number[] = [];
    for (let i = 0; i < 3; i++) old.push(await publish(peer, 'com.lim.old', ['old', i]));
    const kept = await publish(peer, 'com.lim.kept', ['kept']);
    expect((await last(peer, 'com.lim.old', 10)).map((e) => e.publication)).toEqual(old);
    // The store's expiry pass (every 200 ms) deletes them once 2 s have passed: the rows go,
    // not only the reads (which never return an expired event).
    await until('the old events to be deleted', async () => (await metric(url, 'switchboard_history_events', REALM)) === 1);
    expect(await last(peer, 'com.lim.old', 10)).toEqual([]);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="age"}')).toBe(3);
    expect((await last(peer, 'com.lim.kept', 10)).map((e) => e.publication)).toEqual([kept]);
    // A topic whose events expired keeps recording.
    const fresh = await publish(peer, 'com.lim.old', ['fresh']);
    expect((await last(peer, 'com.lim.old', 10)).map((e) => e.publication)).toEqual([fresh]);
    expect(await metric(url, 'switchboard_history_events', REALM)).toBe(2);
  });

  it('bytes: the realm budget holds its newest events over every topic, oldest first out, counted as expired by bytes', async () => {
    const budget = 8192;
    const { router, peer } = await start({
      name: 'realm1',
      eventHistory: [{ topic: 'com.lim.', match: 'prefix', limit: 1000 }],
      limits: { maxHistoryBytes: budget },
    });
    const url = router.metricsUrl!;
    const published: number[] = [];
    // About 1 KiB each, alternating two topics: the budget is the realm's, not a topic's.
    for (let i = 0; i < 20; i++) published.push(await publish(peer, i % 2 === 0 ? 'com.lim.x' : 'com.lim.y', [i, new Uint8Array(1000).fill(i)]));
    const x = (await last(peer, 'com.lim.x', 100)).map((e) => e.args?.[0] as number);
    const y = (await last(peer, 'com.lim.y', 100)).map((e) => e.args?.[0] as number);
    const kept = [...x, ...y].sort((p, q) => p - q);
    // The newest survive, with no hole: every event after the oldest kept one is kept.
    expect(kept.length).toBeGreaterThanOrEqual(4);
    expect(kept.length).toBeLessThan(9);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 20 - kept.length + i));
    const bytes = await metric(url, 'switchboard_history_bytes', REALM);
    expect(bytes).toBeGreaterThan(kept.length * 1000);
    expect(bytes).toBeLessThanOrEqual(budget);
    expect(await metric(url, 'switchboard_history_events', REALM)).toBe(kept.length);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="bytes"}')).toBe(20 - kept.length);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="count"}')).toBe(0);
  });

  it('rules changed across a restart: the stored topics take the new limit and age at start, not at their next event', async () => {
    const path = database();
    const first = await start(
      {
        name: 'realm1',
        eventHistory: [
          { topic: 'com.lim.count', limit: 10 },
          { topic: 'com.lim.age', limit: 10 },
          { topic: 'com.lim.wide', limit: 2 },
        ],
      },
      path,
    );
    const count: number[] = [];
    for (let i = 0; i < 6; i++) count.push(await publish(first.peer, 'com.lim.count', [i]));
    const aged = await publish(first.peer, 'com.lim.age', ['aged']);
    const wide = [await publish(first.peer, 'com.lim.wide', [0]), await publish(first.peer, 'com.lim.wide', [1])];
    expect(await last(first.peer, 'com.lim.count', 10)).toHaveLength(6);
    expect((await last(first.peer, 'com.lim.age', 10)).map((e) => e.publication)).toEqual([aged]);
    await first.router.stop();

    const second = await start(
      {
        name: 'realm1',
        eventHistory: [
          { topic: 'com.lim.count', limit: 3 },
          { topic: 'com.lim.age', limit: 10, maxAgeMs: 100 },
          { topic: 'com.lim.wide', limit: 5 },
        ],
      },
      path,
    );
    // Nothing published since the restart: the new limits apply all the same.
    expect((await last(second.peer, 'com.lim.count', 10)).map((e) => e.publication)).toEqual(count.slice(3));
    await until('the aged event to be past its new maxAgeMs', async () => (await last(second.peer, 'com.lim.age', 10)).length === 0, 5000);
    // A wider limit keeps what there is and then more.
    const more = await publish(second.peer, 'com.lim.wide', [2]);
    expect((await last(second.peer, 'com.lim.wide', 10)).map((e) => e.publication)).toEqual([...wide, more]);
    const url = second.router.metricsUrl!;
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="count"}')).toBe(3);
    await until('the aged event to be deleted', async () => (await metric(url, 'switchboard_history_events', REALM)) === 6);
  });

  it('a byte budget lowered across a restart holds from the start, not from the next batch or expiry pass', async () => {
    const path = database();
    const rule = { topic: 'com.lim.big', limit: 10 };
    // No expiry pass during the test: only the start may bring the realm within its new budget.
    const first = await start({ name: 'realm1', eventHistory: [rule] }, path, 600_000);
    for (let i = 0; i < 6; i++) await publish(first.peer, 'com.lim.big', [i, new Uint8Array(1000).fill(i)]);
    expect(await last(first.peer, 'com.lim.big', 10)).toHaveLength(6);
    await first.router.stop();

    const second = await start({ name: 'realm1', eventHistory: [rule], limits: { maxHistoryBytes: 2500 } }, path, 600_000);
    const kept = (await last(second.peer, 'com.lim.big', 10)).map((e) => e.args?.[0]);
    expect(kept).toEqual([4, 5]);
    const url = second.router.metricsUrl!;
    expect(await metric(url, 'switchboard_history_bytes', REALM)).toBeLessThanOrEqual(2500);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="bytes"}')).toBe(4);
  });

  it('retained events loaded at start keep their original time: ttlMs counts from the publication, not the restart', async () => {
    const path = database();
    const realm = { name: 'realm1', retention: { maxTopics: 100, ttlMs: 2000 } };
    const first = await start(realm, path);
    const publishedAt = Date.now();
    await publish(first.peer, 'com.lim.retained', ['old'], { retain: true });
    // Half the ttl between the publication and the restart, so that the two times differ enough to tell apart.
    await until('half the ttl to pass', () => Promise.resolve(Date.now() > publishedAt + 1000), 5000);
    await first.router.stop();

    const second = await start(realm, path);
    const restartedAt = Date.now();
    const loaded = await retainedOf(second.peer, 'com.lim.retained');
    expect(loaded?.[4]).toEqual(['old']);
    // Past the event's ttl, while an event stamped with the restart's time would still be live.
    await until('the retained event to be past its ttl', () => Promise.resolve(Date.now() > publishedAt + 2100), 5000);
    const atCheck = Date.now();
    expect(await retainedOf(second.peer, 'com.lim.retained')).toBeUndefined();
    // The check proves something only if it ran before the restart's time plus the ttl.
    expect(atCheck).toBeLessThan(restartedAt + 2000);
  });
});
