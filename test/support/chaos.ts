/**
 * The session-resumption chaos run (issue #18's proof), shared by the single-node and the cluster
 * test: a subscriber and a caller (our client, resumable by default) reach the router through
 * cutting proxies (test/support/proxy.ts); a publisher and a callee connect directly. The
 * publisher sends `events` events (their sequence number in args[0]) on a topic the realm keeps in
 * its event history, the caller makes `calls` calls that the callee echoes, and the proxies cut the
 * subscriber's and the caller's TCP connections `cuts` times at random moments (a seeded PRNG;
 * the seed is printed, and named in a failure's message: `CHAOS_SEED=n` replays it). Then it
 * checks what resumption promises:
 * every event received exactly once and in order, every call answered exactly once with its own
 * result (and invoked once), and each client's session ID never changing (every reopen a resume).
 *
 * The moments adapt to progress, not to the clock: cut k waits until the subscriber has received
 * a random fraction of the events (the cut points are sorted uniform draws) and until the clients
 * to cut are open again after the previous cut, then fires 0–4 ms later. The publisher stays at
 * most `ahead` events ahead of the subscriber and the calls are paced by the publications, so the
 * cuts land while events and calls are in flight in both directions.
 */
import { expect } from 'vitest';
import { Connection } from '@switchboard/client';
import type { CloseEvent, Session } from '@switchboard/client';
import type { CutMode, CuttingProxy } from './proxy.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The run's seed: CHAOS_SEED if set (to replay a run), else a fresh one; printed either way. */
export function chaosSeed(name: string): number {
  const given = process.env['CHAOS_SEED'];
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  console.log(`${name}: seed ${seed} (CHAOS_SEED=${seed} replays it)`);
  return seed;
}

/** Waiters on a condition, checked each time something happens (no polling, no sleep). */
interface Waiter {
  check: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

class Progress {
  #waiters: Waiter[] = [];
  #failed: Error | undefined;

  /** The run cannot succeed any more: every wait, now and later, rejects with `error`. */
  fail(error: Error): void {
    this.#failed ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failed);
  }

  /** Something changed: resolves the waiters whose condition now holds. */
  notify(): void {
    if (this.#waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.check()) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  /** Resolves once `check()` holds; rejects after `ms` with `what()` (the state when it gave up). */
  until(check: () => boolean, ms: number, what: () => string): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${ms} ms waiting for ${what()}`));
      }, ms);
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

export interface ChaosOptions {
  /** Printed with the seed and the summary. */
  name: string;
  seed: number;
  /** Where the proxies forward to: the URL path and realm of the router (`/ws`, `realm1`). */
  path?: string;
  realm?: string;
  /** The publisher and the callee: sessions connected directly (never cut). */
  publisher: Session;
  callee: Session;
  /** One proxy per client: the subscriber's and the caller's (each cut cuts what goes through it). */
  subscriberProxy: CuttingProxy;
  callerProxy: CuttingProxy;
  /** A topic kept by the realm's event history (its rule's limit ≥ `ahead`). */
  topic: string;
  procedure: string;
  events?: number;
  calls?: number;
  cuts?: number;
  /** Events the publisher may be ahead of the subscriber (default 200). */
  ahead?: number;
  /** Calls in flight at once (default 8). */
  concurrency?: number;
  /** The bound on the whole run (default 150 s). */
  timeoutMs?: number;
  /**
   * The realm's session count, where the test can see it (one router): checked at the end to be
   * 4 (publisher, callee, subscriber, caller) — no resume made a new session, none was left over.
   */
  sessions?: () => number;
  /**
   * What the router(s) know of the two cut sessions (their IDs given), appended to a failure's
   * message: where a stalled call's answer or a lost event went (the cluster test: each node's
   * log trail of those sessions).
   */
  diagnose?: (sessions: { subscriber: number | undefined; caller: number | undefined }) => string;
}

export interface ChaosReport {
  seed: number;
  /** Cuts of each client's connection. */
  subscriberCuts: number;
  callerCuts: number;
  /** Milliseconds from each cut to the client's next open (resumed) session. */
  reopenMs: number[];
  elapsedMs: number;
}

interface Client {
  readonly name: string;
  readonly connection: Connection;
  readonly proxy: CuttingProxy;
  /** Whether the client has a session open now (set by its open/close events). */
  open: boolean;
  /** Its session ID at the first open: every later open must keep it. */
  firstId: number | undefined;
  cuts: number;
  reopens: number;
  /** When the last cut happened (performance.now()). */
  cutAt: number | undefined;
  closes: CloseEvent[];
  /** What went wrong (a new session ID, a reopen that was not a resume…), checked at the end. */
  faults: string[];
  /** cut / close / open, in order, for the failure message. */
  trace: string[];
}

/** Runs the chaos scenario and asserts its outcome; resolves to the figures of the run. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const EVENTS = options.events ?? 10_000;
  const CALLS = options.calls ?? 1000;
  const CUTS = options.cuts ?? 100;
  const AHEAD = options.ahead ?? 200;
  const CONCURRENCY = options.concurrency ?? 8;
  const timeoutMs = options.timeoutMs ?? 150_000;
  const started = performance.now();
  const deadline = started + timeoutMs;
  // Every wait is a step of a run that moves on: past STALL_MS without it the run is stuck
  // (a lost event, a call never answered, a client that never came back) and fails at once,
  // saying where, instead of at the end of the whole run's bound.
  const STALL_MS = 30_000;
  const left = (): number => Math.max(1, Math.min(STALL_MS, deadline - performance.now()));
  const random = prng(options.seed);
  const progress = new Progress();
  const reopenMs: number[] = [];
  const errors: string[] = [];

  // ---- the callee: echoes, and counts invocations per call ----------------------------------
  const invoked = new Map<number, number>();
  await options.callee.register(options.procedure, (args) => {
    const token = String(args[0]);
    const i = Number(token.split(':')[0]);
    invoked.set(i, (invoked.get(i) ?? 0) + 1);
    return token;
  });

  // ---- the subscriber and the caller, through their proxies -------------------------------
  /** A broken promise (a new session, a reopen that is not a resume): the run stops at once. */
  const fault = (client: Client, what: string): void => {
    client.faults.push(what);
    progress.fail(new Error(`${client.name}: ${what}`));
  };
  const connect = async (name: string, proxy: CuttingProxy): Promise<Client> => {
    const connection = new Connection({
      url: proxy.url(options.path ?? '/ws'),
      realm: options.realm ?? 'realm1',
      serializers: ['json'],
      reconnect: { initialDelayMs: 5, maxDelayMs: 100, jitter: 0 },
      keepalive: false,
    });
    const client: Client = {
      name,
      connection,
      proxy,
      open: false,
      firstId: undefined,
      cuts: 0,
      reopens: 0,
      cutAt: undefined,
      closes: [],
      faults: [],
      trace: [],
    };
    connection.on('open', (e) => {
      client.trace.push(`open resumed=${String(e.details['resumed'])}`);
      const id = connection.session.id;
      if (client.firstId === undefined) {
        client.firstId = id;
      } else {
        client.reopens++;
        if (client.cutAt !== undefined) reopenMs.push(performance.now() - client.cutAt);
        if (id !== client.firstId) fault(client, `reopen #${client.reopens}: session ${id}, was ${client.firstId}`);
        const { resumed, resumable } = e.details;
        if (resumed !== true) fault(client, `reopen #${client.reopens} was not a resume: WELCOME.Details ${JSON.stringify({ resumed, resumable })}`);
      }
      client.open = true;
      progress.notify();
    });
    connection.on('close', (e) => {
      client.trace.push(`close ${e.reason}`);
      client.open = false;
      client.closes.push(e);
      if (!e.willReconnect) fault(client, `closed for good: ${e.reason} ${e.message}`);
    });
    connection.on('error', (e) => void errors.push(`${name}: ${e.context}: ${String(e.error)}`));
    // A resumed session subscribes and registers nothing again; a restore that failed is a fault.
    connection.on('restored', (e) => {
      if (e.failed.length > 0) fault(client, `restore failed: ${JSON.stringify(e.failed)}`);
    });
    await connection.open();
    return client;
  };
  const subscriber = await connect('subscriber', options.subscriberProxy);
  const caller = await connect('caller', options.callerProxy);
  const clientState = (c: Client): string =>
    `${c.name}: ${c.open ? 'open' : 'not open'}, ${c.cuts} cuts, ${c.reopens} reopens, faults ${JSON.stringify(c.faults.slice(0, 3))}`;
  try {
    expect(subscriber.connection.session.id).toBeGreaterThan(0);
    expect(caller.connection.session.id).toBeGreaterThan(0);

    // ---- events: received in order, once ------------------------------------------------
    const received: number[] = [];
    let firstDisorder: string | undefined;
    let replayed = 0;
    await subscriber.connection.session.subscribe(options.topic, (args, _kwargs, details) => {
      if (details.replayed === true) replayed++;
      // The topic has history: the catch-up must close every hole, never announce one.
      if (details.gap === true) fault(subscriber, `a gap notice at event ${String(args[0])}`);
      const n = args[0] as number;
      if (firstDisorder === undefined && n !== received.length) firstDisorder = `event #${received.length} was ${n}`;
      received.push(n);
      progress.notify();
    });

    let published = 0;
    const answers = new Array<number>(CALLS).fill(0);
    const wrong: string[] = [];
    let inFlight = 0;
    /** The calls in flight: the caller's cuts when each started, and whether it was away then. */
    const pending = new Map<number, { cut: number; away: boolean }>();
    const pendingCalls = (): string =>
      [...pending]
        .slice(0, 8)
        .map(([i, p]) => `call ${i} started after cut ${p.cut}${p.away ? ' while away' : ''}, invoked ${invoked.get(i) ?? 0}×`)
        .join('; ');
    const state = (): string =>
      `published ${published}, received ${received.length}, answered ${answers.filter((n) => n > 0).length}, ${inFlight} calls in flight [${pendingCalls()}]; ${clientState(subscriber)}; ${clientState(caller)}`;
    const publishing = (async () => {
      const acks: Promise<unknown>[] = [];
      for (let i = 0; i <= EVENTS; i++) {
        // Event EVENTS is the end mark: sent after every other, it comes last (a duplicate
        // delivered late would come before it).
        if (i - received.length >= AHEAD) {
          await Promise.all(acks.splice(0));
          await progress.until(
            () => i - received.length < AHEAD,
            left(),
            () => `the subscriber to catch up (${state()})`,
          );
        }
        acks.push(options.publisher.publish(options.topic, [i], {}, { acknowledge: true }));
        published = i + 1;
        if (acks.length >= 32) await Promise.all(acks.splice(0));
        progress.notify();
      }
      await Promise.all(acks);
    })();

    // ---- calls: paced by the publications, a few in flight ----------------------------------
    const calling = (async () => {
      const calls: Promise<void>[] = [];
      for (let i = 0; i < CALLS; i++) {
        await progress.until(
          () => inFlight < CONCURRENCY && published >= Math.floor(((i + 1) * EVENTS) / CALLS),
          left(),
          () => `room for call ${i} (${state()})`,
        );
        const token = `${i}:${Math.floor(random() * 1e9)}`;
        inFlight++;
        pending.set(i, { cut: caller.cuts, away: !caller.open });
        calls.push(
          caller.connection.session
            .call(options.procedure, [token], {}, { waitForConnectionMs: timeoutMs })
            .then(
              (result) => {
                answers[i] = (answers[i] ?? 0) + 1;
                if (result !== token) wrong.push(`call ${i}: ${JSON.stringify(result)}, expected ${token}`);
              },
              (err: unknown) => void wrong.push(`call ${i} failed: ${String(err)}`),
            )
            .finally(() => {
              pending.delete(i);
              inFlight--;
              progress.notify();
            }),
        );
      }
      await Promise.all(calls);
    })();

    // ---- the cuts ----------------------------------------------------------------------------
    let cutsWithCallsInFlight = 0;
    const points = Array.from({ length: CUTS }, () => 0.005 + random() * 0.94).sort((a, b) => a - b);
    const cutting = (async () => {
      for (const [k, point] of points.entries()) {
        const pick = random();
        const targets = pick < 1 / 3 ? [subscriber] : pick < 2 / 3 ? [caller] : [subscriber, caller];
        const mode: CutMode = random() < 0.5 ? 'destroy' : 'reset';
        const delayMs = Math.floor(random() * 5);
        await progress.until(
          () => received.length >= point * EVENTS && targets.every((c) => c.open && c.proxy.links.length > 0),
          left(),
          () => `cut #${k + 1} of ${targets.map((c) => c.name).join(' and ')} at ${Math.ceil(point * EVENTS)} events (${state()})`,
        );
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        for (const client of targets) {
          client.cuts++;
          client.cutAt = performance.now();
          client.trace.push(`cut ${client.proxy.cutAll(mode)} ${mode}`);
          if (client === caller && inFlight > 0) cutsWithCallsInFlight++;
        }
      }
    })();

    await Promise.all([publishing, calling, cutting]);
    await progress.until(
      () => received.length >= EVENTS + 1,
      left(),
      () => `every event (${EVENTS + 1}; first disorder: ${firstDisorder ?? 'none'}; ${state()})`,
    );
    // The last cut may be of a client that had every event already: let it come back.
    await progress.until(
      () => [subscriber, caller].every((c) => c.reopens >= c.cuts && c.open),
      left(),
      () => `both clients open again (${state()})`,
    );
    const elapsedMs = performance.now() - started;

    // ---- the outcome -------------------------------------------------------------------------
    expect(firstDisorder, 'events out of order, duplicated or missing').toBeUndefined();
    expect(received.length).toBe(EVENTS + 1);
    expect(wrong.slice(0, 10), 'calls with a wrong answer or failed').toEqual([]);
    expect(answers.every((n) => n === 1)).toBe(true);
    const invokedTwice = [...invoked].filter(([, n]) => n !== 1);
    expect(invokedTwice.slice(0, 10), 'calls invoked more than once').toEqual([]);
    expect(invoked.size).toBe(CALLS);
    for (const client of [subscriber, caller]) {
      expect(client.faults, `${client.name}: every reopen a resume of the same session`).toEqual([]);
      expect(client.connection.session.id).toBe(client.firstId);
      expect(client.reopens, `${client.name}: one resume per cut (${client.trace.slice(-12).join(', ')})`).toBe(client.cuts);
      expect(client.closes.every((e) => e.reason === 'lost')).toBe(true);
    }
    expect(subscriber.cuts + caller.cuts).toBeGreaterThanOrEqual(CUTS);
    expect(errors).toEqual([]);
    // The run did what it is for: events published while the subscriber was away came back
    // through the catch-up (the router never resends an EVENT).
    if (subscriber.cuts > 10) expect(replayed, 'events replayed by the catch-up').toBeGreaterThan(0);
    if (options.sessions !== undefined) expect(options.sessions(), 'sessions in the realm').toBe(4);

    const sorted = [...reopenMs].sort((a, b) => a - b);
    const at = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
    console.log(
      `${options.name}: seed ${options.seed}: ${EVENTS} events, ${CALLS} calls, ${CUTS} cuts (subscriber ${subscriber.cuts}, caller ${caller.cuts}, ${cutsWithCallsInFlight} with calls in flight; ${replayed} events replayed) in ${(elapsedMs / 1000).toFixed(1)} s; cut → resumed p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`,
    );
    return { seed: options.seed, subscriberCuts: subscriber.cuts, callerCuts: caller.cuts, reopenMs, elapsedMs };
  } catch (err) {
    // The failure names the seed that replays it, and what the routers know of the sessions.
    let diagnosis = '';
    try {
      diagnosis = options.diagnose?.({ subscriber: subscriber.firstId, caller: caller.firstId }) ?? '';
    } catch (e) {
      diagnosis = `(the diagnosis failed: ${String(e)})`;
    }
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${options.name}: CHAOS_SEED=${options.seed} replays this run: ${why}${diagnosis === '' ? '' : `\n--- ${diagnosis}`}`, { cause: err });
  } finally {
    await Promise.all([subscriber.connection.close(), caller.connection.close()]);
  }
}
