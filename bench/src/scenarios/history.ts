/**
 * History (issue #17), switchboard only, per store engine (--history-stores):
 * - `last(100)`: the store holds --history-events events over --history-topics topics (default
 *   1 000 000 over 10 000), and 4 reader sessions call wamp.topic.history.last(topic, 100) on
 *   topics taken in turn, one call in flight each: reads/s and call → result p50/p99. A sqlite
 *   store is preloaded through the store API (router/dist/history/open.js) before the router
 *   starts; a memory store cannot be (it lives in the router), and a jetstream one is filled the
 *   same way, through PUBLISH on the running router before the measurement (slower; `preload s`).
 * - `publish`: one publisher, no subscribers, a window of 128 acknowledged PUBLISHes on a topic
 *   with history (limit 1000): publishes/s into history and the router's CPU per publish. With
 *   --history-durability ack, PUBLISHED waits until the event is stored.
 * Each case on a fresh router process; the sqlite file (and the NATS server) is shared by a
 * store's two cases, so `publish` writes into the preloaded store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nowNs, sleep } from '../clock.js';
import type { Job } from '../ipc.js';
import { startBenchNats } from '../nats.js';
import type { BenchNats } from '../nats.js';
import { RawPeer } from '../peer.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { TargetHistory, TargetOptions } from '../targets.js';
import type { ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { latency, runLoad, total } from './load.js';

const HOT = 'bench.history.hot';
const PREFIX = 'bench.history.t.';
const HOT_LIMIT = 1000;
/** At most this many distinct topics in the readers' rotation. */
const READ_TOPICS = 1000;
/** Preload: events per store-API batch (then flush), and PUBLISHes in flight when publishing. */
const PRELOAD_BATCH = 10_000;
const PRELOAD_WINDOW = 256;
/** Preload must not take the whole run: bounded. */
const PRELOAD_TIMEOUT_MS = 15 * 60_000;

const topicName = (i: number): string => `${PREFIX}${i}`;

export async function history(ctx: ScenarioContext): Promise<Result[]> {
  const o = ctx.options;
  const h = o.history;
  const results: Result[] = [];
  if (!o.targets.includes('switchboard')) {
    ctx.log('history: runs on the switchboard target only');
    return results;
  }
  const perTopic = Math.ceil(h.events / h.topics);
  // Room for every preloaded event and what the publish case adds, whatever the engine counts.
  const maxHistoryBytes = Math.max(64 * 1024 * 1024, (h.events + 10 * HOT_LIMIT) * (o.payloadBytes + 256) * 2);
  for (const store of h.stores) {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-history-'));
    let nats: BenchNats | undefined;
    try {
      if (store === 'jetstream') nats = await startBenchNats();
      const targetHistory: TargetHistory = {
        eventHistory: [
          { topic: HOT, limit: HOT_LIMIT },
          { topic: PREFIX, match: 'prefix', limit: perTopic },
        ],
        maxHistoryBytes,
        ...(store !== 'memory' && {
          store: { type: store, durability: h.durability, ...(store === 'sqlite' && { path: join(dir, 'history.db') }) },
        }),
      };
      const extra: Partial<TargetOptions> = {
        history: targetHistory,
        ...(nats !== undefined && { cluster: { node: 'a', natsUrl: nats.url, heartbeatMs: 1000, nodeTimeoutMs: 5000 } }),
      };
      let preloadS = Number.NaN;
      let preloadError: string | undefined;
      if (store === 'sqlite' && targetHistory.store !== undefined) {
        ctx.log(`history: preloading ${h.events} events over ${h.topics} topics into ${store} …`);
        try {
          preloadS = await preloadThroughStore(o.routerBin, targetHistory.store, dir, maxHistoryBytes, h.events, h.topics, perTopic, o.payloadBytes);
        } catch (error) {
          preloadError = `preload through the store API failed: ${error instanceof Error ? error.message : String(error)}`;
        }
      }
      const read = await measureOn(ctx, 'history', `last(${h.readLimit}) ${store}`, 'switchboard', extra, async (target) => {
        if (preloadError !== undefined) throw new Error(preloadError);
        if (store !== 'sqlite') {
          ctx.log(`history: preloading ${h.events} events over ${h.topics} topics through PUBLISH …`);
          preloadS = await preloadThroughRouter(target.url, h.events, h.topics, o.payloadBytes);
        }
        const step = Math.max(1, Math.floor(h.topics / READ_TOPICS));
        const calls: unknown[][] = [];
        for (let i = 0; i < h.topics && calls.length < READ_TOPICS; i += step) calls.push([topicName(i), h.readLimit]);
        const readers: Job = {
          kind: 'callers',
          endpoint: { url: target.url, realm: REALM },
          procedure: 'wamp.topic.history.last',
          callers: h.readers,
          window: 1,
          payloadBytes: 0,
          calls,
        };
        const run = await runLoad(ctx.benchDist, target, [[readers]], timing(ctx));
        const callsPerSec = total(run.reports, 'callers', 'receivedInWindow') / run.windowS;
        const lat = latency(run.reports, 'callers');
        const errors = total(run.reports, 'callers', 'errors');
        // RESULTs only count: a router without the procedure (or refusing it) answers ERROR, fast.
        if (errors > 0) run.problems.push(`${errors} history reads answered ERROR (is wamp.topic.history.last there, and the topics' history stored?)`);
        return {
          values: {
            callsPerSec,
            p50Us: lat.percentileUs(0.5),
            p99Us: lat.percentileUs(0.99),
            cpuUsPerOp: run.targetCpuUsPerS / callsPerSec,
            targetCpuPct: run.targetCpuUsPerS / 1e4,
            otherCpuPct: run.otherCpuUsPerS / 1e4,
            storedEvents: h.events,
            preloadS,
            errors,
            sessionsLost: total(run.reports, 'callers', 'sessionsLost'),
          },
          notes: [
            `${h.readers} readers, 1 call in flight each, over ${calls.length} topics of ${perTopic} events`,
            `preloaded ${store === 'sqlite' ? 'through the store API before start' : 'through PUBLISH on the running router'}`,
          ],
          problems: run.problems,
        };
      });
      results.push(read);
      const publish = await measureOn(ctx, 'history', `publish ${store}`, 'switchboard', extra, async (target) => {
        const publisher: Job = {
          kind: 'publisher',
          endpoint: { url: target.url, realm: REALM },
          topic: HOT,
          mode: { kind: 'window', window: 128, maxLead: Number.MAX_SAFE_INTEGER },
          payloadBytes: o.payloadBytes,
          payloadKind: o.payloadKind,
          probe: false,
          pacedByProgress: false,
        };
        const run = await runLoad(ctx.benchDist, target, [[publisher]], timing(ctx));
        const publishesPerSec = total(run.reports, 'publisher', 'sentInWindow') / run.windowS;
        return {
          values: {
            publishesPerSec,
            cpuUsPerOp: run.targetCpuUsPerS / publishesPerSec,
            targetCpuPct: run.targetCpuUsPerS / 1e4,
            otherCpuPct: run.otherCpuUsPerS / 1e4,
            errors: total(run.reports, 'publisher', 'errors'),
            sessionsLost: total(run.reports, 'publisher', 'sessionsLost'),
          },
          notes: [`window of 128 acknowledged PUBLISHes, no subscribers, durability ${store === 'memory' ? 'n/a' : h.durability}`],
          problems: run.problems,
        };
      });
      results.push(publish);
    } catch (error) {
      results.push({
        scenario: 'history',
        case: store,
        target: 'switchboard',
        values: {},
        ratios: {},
        notes: [],
        problems: [],
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      await nats?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

// ---- preload -------------------------------------------------------------------------------------

/** What the bench uses of the router's EventStore (router/src/history/store.ts), checked at run time. */
interface PreloadRealm {
  append(event: Record<string, unknown>, policy: { limit: number; maxAgeMs: number }): void;
  flush(): Promise<void>;
}
interface PreloadStore {
  realm(name: string, maxBytes: number): Promise<PreloadRealm>;
  close(): Promise<void>;
}
type OpenStore = (store: Record<string, unknown>, deps: Record<string, unknown>) => Promise<PreloadStore>;

/** A logger that says nothing, for the store engine (pino's shape, the methods an engine calls). */
const quiet: Record<string, unknown> = {};
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) quiet[level] = () => {};
quiet['child'] = () => quiet;

/**
 * Fills the store through the router's own engine (router/dist/history/open.js, loaded at run
 * time: the bench does not build against the router's internals), `events` events over `topics`
 * topics, oldest first, one flush per batch. Resolves to the seconds it took.
 */
async function preloadThroughStore(
  routerBin: string,
  store: Record<string, unknown>,
  dir: string,
  maxBytes: number,
  events: number,
  topics: number,
  perTopic: number,
  payloadBytes: number,
): Promise<number> {
  const file = resolve(dirname(routerBin), '../dist/history/open.js');
  let loaded: unknown;
  try {
    loaded = await import(pathToFileURL(file).href);
  } catch (error) {
    throw new Error(`cannot load ${file} (the router's store engines, #17): ${error instanceof Error ? error.message : String(error)}`);
  }
  const openStore = typeof loaded === 'object' && loaded !== null ? (loaded as Record<string, unknown>)['openStore'] : undefined;
  if (typeof openStore !== 'function') throw new Error(`${file} has no openStore function`);
  const started = nowNs();
  const opened = await (openStore as OpenStore)(store, { configDir: dir, log: quiet });
  try {
    const realm = await opened.realm(REALM, maxBytes);
    const pad = 'x'.repeat(payloadBytes);
    const now = Date.now();
    // Publication IDs as the router draws them (random, global scope): a random base, then in order.
    const base = 1 + Math.floor(Math.random() * 2 ** 52);
    const policy = { limit: perTopic, maxAgeMs: 0 };
    for (let i = 0; i < events; i++) {
      realm.append(
        { at: now - (events - i), publication: base + i, topic: topicName(i % topics), details: {}, args: [i, pad], kwargs: undefined, filter: {} },
        policy,
      );
      if ((i + 1) % PRELOAD_BATCH === 0) await realm.flush();
      if (nowNs() - started > PRELOAD_TIMEOUT_MS * 1e6) throw new Error(`preload stopped after ${PRELOAD_TIMEOUT_MS / 1000} s at ${i + 1} events`);
    }
    await realm.flush();
  } finally {
    await opened.close();
  }
  return (nowNs() - started) / 1e9;
}

/** Fills the store through the running router: acknowledged PUBLISHes, a window in flight. Resolves to the seconds it took. */
async function preloadThroughRouter(url: string, events: number, topics: number, payloadBytes: number): Promise<number> {
  const started = nowNs();
  const peer = await RawPeer.open({ url, realm: REALM, timeoutMs: 5000 });
  try {
    const pad = 'x'.repeat(payloadBytes);
    let sent = 0;
    let acked = 0;
    let errors = 0;
    let closed = false;
    const pump = (): void => {
      while (sent < events && sent - acked < PRELOAD_WINDOW) {
        peer.publish(topicName(sent % topics), [sent, pad], true);
        sent++;
      }
    };
    peer.onPublished = () => {
      acked++;
      pump();
    };
    peer.onRequestError = () => {
      acked++;
      errors++;
      pump();
    };
    peer.onClose = () => {
      closed = true;
    };
    pump();
    // Bounded: poll the count, never longer than the timeout.
    while (acked < events) {
      if (closed) throw new Error(`the router closed the preloading session after ${acked} events`);
      if (nowNs() - started > PRELOAD_TIMEOUT_MS * 1e6) throw new Error(`preload stopped after ${PRELOAD_TIMEOUT_MS / 1000} s at ${acked} events`);
      await sleep(50);
    }
    if (errors > 0) throw new Error(`${errors} of ${events} preload PUBLISHes were refused`);
  } finally {
    peer.close();
  }
  return (nowNs() - started) / 1e9;
}
