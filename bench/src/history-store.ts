/**
 * The SQLite event store alone (router/src/history/sqlite.ts), in this process: a benchmark
 * script, not a test (it asserts nothing). Two figures of issue #17:
 *
 * - appends/s: `--events` (200 000) small events (a topic of 100, args [i]) appended `--per-turn`
 *   (1000) per event-loop turn, as a burst of publishes arrives, until the last flush() resolved:
 *   wall time from the first append, the engine writing one transaction per turn;
 * - `history.last(100)` latency: a file of `--stored` (1 000 000) events over `--topics` (10 000)
 *   topics (100 per topic, the default limit), then `--queries` (1000) reads of the newest 100 of
 *   a random topic (query reverse, limit 100, as the history plugin reads last()), each timed:
 *   p50, p99, max.
 *
 *   npx tsc -b && node bench/dist/history-store.js [--events N] [--per-turn N] [--stored N] [--topics N] [--queries N] [--dir DIR]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PublicationId } from '@switchboard/schemas';
import { SqliteStore } from '@switchboard/router';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const dirFlag = process.argv.indexOf('--dir');
const dir = dirFlag >= 0 ? process.argv[dirFlag + 1]! : mkdtempSync(join(tmpdir(), 'switchboard-history-bench-'));
const events = flag('events', 200_000);
const perTurn = flag('per-turn', 1000);
const stored = flag('stored', 1_000_000);
const topics = flag('topics', 10_000);
const queries = flag('queries', 1000);

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
let publication = 1;

/** What a realm's append takes (the router exports the engine, not the store's types). */
type HistoryEvent = Parameters<Awaited<ReturnType<SqliteStore['realm']>>['append']>[0];

function event(topic: string, i: number): HistoryEvent {
  return { at: Date.now(), publication: publication++ as PublicationId, topic, details: {}, args: [i], kwargs: undefined, filter: {} };
}

async function fill(store: SqliteStore, count: number, topicCount: number, batch: number): Promise<number> {
  const realm = await store.realm('realm1', Number.MAX_SAFE_INTEGER);
  const policy = { limit: Math.max(100, Math.ceil(count / topicCount)), maxAgeMs: 0 };
  const started = performance.now();
  for (let i = 0; i < count; ) {
    const end = Math.min(count, i + batch);
    for (; i < end; i++) realm.append(event(`bench.topic.${i % topicCount}`, i), policy);
    await turn();
  }
  await realm.flush();
  return performance.now() - started;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const batchTimes: number[] = [];
  const appendStore = await SqliteStore.open({ path: join(dir, 'append.db'), expiryIntervalMs: 0, onBatch: (s) => batchTimes.push(s * 1000) });
  const ms = await fill(appendStore, events, 100, perTurn);
  await appendStore.close();
  batchTimes.sort((a, b) => a - b);
  console.log(
    `append: ${events} events, ${perTurn} per turn, ${ms.toFixed(0)} ms: ${Math.round(events / (ms / 1000))} events/s; ` +
      `batch (${perTurn} events) p50 ${percentile(batchTimes, 50).toFixed(2)} ms, p99 ${percentile(batchTimes, 99).toFixed(2)} ms`,
  );

  const path = join(dir, 'read.db');
  const readStore = await SqliteStore.open({ path, expiryIntervalMs: 0 });
  const fillMs = await fill(readStore, stored, topics, 10_000);
  console.log(`read: ${stored} events over ${topics} topics stored in ${(fillMs / 1000).toFixed(1)} s, file ${(statSync(path).size / 1e6).toFixed(0)} MB`);
  const realm = await readStore.realm('realm1', Number.MAX_SAFE_INTEGER);
  const times: number[] = [];
  let returned = 0;
  for (let q = 0; q < queries; q++) {
    const topic = `bench.topic.${Math.floor(Math.random() * topics)}`;
    const started = performance.now();
    const page = await realm.query({ select: { match: 'exact', topic }, limit: 100, reverse: true });
    page.events.reverse();
    times.push(performance.now() - started);
    returned += page.events.length;
  }
  times.sort((a, b) => a - b);
  console.log(
    `last(100): ${queries} queries, ${returned / queries} events each: p50 ${percentile(times, 50).toFixed(3)} ms, p99 ${percentile(times, 99).toFixed(3)} ms, max ${times[times.length - 1]!.toFixed(3)} ms`,
  );
  const reopenStarted = performance.now();
  await readStore.close();
  const reopened = await SqliteStore.open({ path, expiryIntervalMs: 0 });
  console.log(`reopen (loading topic counts and sizes): ${(performance.now() - reopenStarted).toFixed(0)} ms`);
  await reopened.close();
  if (dirFlag < 0) rmSync(dir, { recursive: true, force: true });
}

await main();
