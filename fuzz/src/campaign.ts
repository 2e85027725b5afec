/**
 * A fuzzing campaign: the router as a child process, witness sessions, sinks and the stall probe
 * around it, and generator lanes (several connections in parallel per layer) that fire shots
 * until the frame budget or the time limit is spent. A router exit is a crash: its stack is kept
 * with the shots in flight, the router is restarted, and the campaign goes on; afterwards each
 * distinct crash is replayed shot by shot against a fresh router to find a one-shot reproducer.
 */
import { bridgeLayer } from './layers/bridge.js';
import { longpollLayer } from './layers/longpoll.js';
import { rawsocketLayer } from './layers/rawsocket.js';
import type { Layer, LayerName, Shot } from './layers/shot.js';
import { LAYER_NAMES, sleep } from './layers/shot.js';
import { sseLayer } from './layers/sse.js';
import { websocketLayer } from './layers/websocket.js';
import { wsframeLayer } from './layers/wsframe.js';
import type { ProbeReport } from './probe.js';
import { Probe } from './probe.js';
import { Rng } from './rng.js';
import { Sinks } from './sinks.js';
import type { Endpoints } from './target.js';
import { RouterProcess } from './target.js';
import type { WitnessReport } from './witness.js';
import { Witnesses } from './witness.js';
import { disableGenerators } from './values.js';

export const LAYERS: Readonly<Record<LayerName, Layer>> = {
  websocket: websocketLayer,
  wsframe: wsframeLayer,
  rawsocket: rawsocketLayer,
  longpoll: longpollLayer,
  bridge: bridgeLayer,
  sse: sseLayer,
};

/** Share of the frame budget and parallel connections per layer. */
const PLAN: Readonly<Record<LayerName, { share: number; lanes: number }>> = {
  websocket: { share: 0.5, lanes: 4 },
  rawsocket: { share: 0.3, lanes: 3 },
  wsframe: { share: 0.06, lanes: 4 },
  longpoll: { share: 0.06, lanes: 8 },
  bridge: { share: 0.06, lanes: 6 },
  sse: { share: 0.02, lanes: 8 },
};

export interface CampaignOptions {
  frames: number;
  seed: number;
  layers: readonly LayerName[];
  timeLimitMs: number;
  /** Event-loop delay (inside the router) that counts as a stall. */
  stallMs: number;
  /** Generators switched off (values.ts `enabled`): known crashes fixed elsewhere. */
  disabledGenerators?: readonly string[];
  /** Most router restarts after crashes before the campaign gives up. */
  maxCrashes?: number;
  /** Replay crashes to find one-shot reproducers, and stalls to find inputs that block alone (bounded in time). */
  minimize?: boolean;
  /** Stalls replayed (default 3), and the time each replay may take (default 60 s). */
  stallReplays?: { stalls: number; budgetMs: number };
  log?: (line: string) => void;
}

export interface Crash {
  signature: string;
  stderr: string;
  /** Shots in flight or just sent when the router died. */
  candidates: Shot[];
  /** A shot that crashes a fresh router on its own, when one was found. */
  reproducer?: Shot;
}

/** A stall, with the shots sent during the scrape interval in which it happened. */
export interface Stall {
  ms: number;
  candidates: Shot[];
  /** Candidates that blocked a fresh router's event loop past the threshold on their own, with the delay. */
  culprits?: { shot: Shot; ms: number }[];
}

export interface CampaignReport {
  seed: number;
  framesSent: Record<string, number>;
  disabledGenerators: readonly string[];
  totalFrames: number;
  elapsedMs: number;
  crashes: Crash[];
  /** The first stalls (at most 20), with what was being sent around them. */
  stalls: Stall[];
  /** Distinct signatures with how often each happened. */
  crashCounts: Map<string, number>;
  witnesses: WitnessReport[];
  probe: ProbeReport[];
  rssBeforeBytes: number | undefined;
  rssAfterBytes: number | undefined;
  sinkCloses: Map<string, number>;
}

/**
 * The error line, its first stack frame, and the first frame in the router's own code (where the
 * first is in a library), as a stable key for telling crashes apart.
 */
export function crashSignature(stderr: string): string {
  const lines = stderr.split('\n');
  const i = lines.findIndex((l) => /^(?:Uncaught )?[A-Za-z]*(?:Error|Exception)\b|^FATAL|JavaScript heap out of memory/.test(l));
  if (i === -1)
    return (
      lines
        .filter((l) => l.trim() !== '')
        .slice(-2)
        .join(' | ')
        .slice(0, 300) || '(no output)'
    );
  const short = (l: string): string => l.trim().replace(/file:\/\/\S*?\/(router|schemas|client|node_modules)\//, '$1/');
  const frames = lines.slice(i + 1).filter((l) => /^\s+at /.test(l));
  const own = frames.find((l) => /\/router\/dist\//.test(l));
  const parts = [
    lines[i]!.slice(0, 200),
    ...(frames[0] === undefined ? [] : [short(frames[0])]),
    ...(own !== undefined && own !== frames[0] ? [short(own)] : []),
  ];
  return parts.join(' ');
}

interface Epoch {
  router: RouterProcess;
  endpoints: Endpoints;
  probe: Probe;
  witnesses: Witnesses;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const deadline = started + options.timeLimitMs;
  const master = new Rng(options.seed);
  const sent: Record<string, number> = Object.fromEntries(options.layers.map((l) => [l, 0]));
  const crashes: Crash[] = [];
  const crashCounts = new Map<string, number>();
  const witnessReports: WitnessReport[] = [];
  const probeReports: ProbeReport[] = [];
  disableGenerators(options.disabledGenerators ?? []);
  const inFlight = new Set<Shot>();
  const recent: Shot[] = [];
  const stalls: Stall[] = [];
  /** Shots and when they finished, for the stalls' candidates. */
  const timed: { shot: Shot; end: number }[] = [];
  const onStall = (ms: number): void => {
    if (stalls.length >= 20) return;
    const since = Date.now() - 1000;
    stalls.push({ ms, candidates: [...new Set([...timed.filter((t) => t.end >= since).map((t) => t.shot), ...inFlight])] });
    log(`event loop blocked ${ms.toFixed(0)} ms inside the router`);
  };

  const startEpoch = async (): Promise<Epoch> => {
    const { process: router, endpoints } = await RouterProcess.start();
    const probe = new Probe(endpoints.port, endpoints.metricsUrl, options.stallMs, onStall);
    // The first scrape resets the delay histogram: start-up is not a stall.
    await probe.sample();
    probe.start();
    const witnesses = await Witnesses.start(endpoints.port);
    return { router, endpoints, probe, witnesses };
  };

  let epoch = await startEpoch();
  const rssProbe = new Probe(epoch.endpoints.port, epoch.endpoints.metricsUrl, options.stallMs);
  await rssProbe.sample();
  const rssBefore = (await rssProbe.stop()).rssBytes;
  const sinks = new Sinks(() => epoch.endpoints.port);
  sinks.start();

  // Lanes wait on this while the router is being restarted after a crash.
  let restarting: Promise<void> | undefined;
  let gaveUp = false;

  const onCrash = async (dead: Epoch): Promise<void> => {
    await dead.router.exited;
    const stderr = dead.router.output.slice(-8000);
    const signature = crashSignature(stderr);
    crashCounts.set(signature, (crashCounts.get(signature) ?? 0) + 1);
    log(`router crashed (${crashCounts.get(signature)}× so far): ${signature}`);
    if (crashCounts.get(signature) === 1) crashes.push({ signature, stderr, candidates: [...new Set([...recent, ...inFlight])] });
    dead.witnesses.abandon();
    probeReports.push(await dead.probe.stop());
    if ([...crashCounts.values()].reduce((a, b) => a + b, 0) >= (options.maxCrashes ?? 50)) {
      gaveUp = true;
      log('too many crashes: giving up');
    }
    epoch = await startEpoch();
  };

  const watch = (e: Epoch): void => {
    void e.router.exited.then(() => {
      if (!e.router.crashed) return;
      restarting = onCrash(e).then(
        () => {
          restarting = undefined;
          watch(epoch);
        },
        (err: unknown) => {
          gaveUp = true;
          log(`could not restart the router: ${(err as Error).message}`);
        },
      );
    });
  };
  watch(epoch);

  const lane = async (layer: Layer, rng: Rng, quota: number): Promise<void> => {
    while (sent[layer.name]! < quota && Date.now() < deadline && !gaveUp) {
      if (restarting !== undefined) {
        await restarting;
        continue;
      }
      const shot = layer.generate(rng, Math.max(1, quota - sent[layer.name]!));
      sent[layer.name]! += shot.frames;
      inFlight.add(shot);
      await shot.fire(epoch.endpoints);
      inFlight.delete(shot);
      recent.push(shot);
      if (recent.length > 64) recent.shift();
      timed.push({ shot, end: Date.now() });
      if (timed.length > 2000) timed.splice(0, 1000);
    }
  };

  const lanes: Promise<void>[] = [];
  const shareTotal = options.layers.reduce((sum, l) => sum + PLAN[l].share, 0);
  for (const name of options.layers) {
    const quota = Math.ceil((options.frames * PLAN[name].share) / shareTotal);
    for (let i = 0; i < PLAN[name].lanes; i++) lanes.push(lane(LAYERS[name], master.fork(), quota));
  }
  const progress = setInterval(() => {
    const total = Object.values(sent).reduce((a, b) => a + b, 0);
    const layers = Object.entries(sent)
      .map(([k, v]) => `${k} ${v}`)
      .join(' ');
    log(
      `${total} frames, ${Math.round((total * 1000) / Math.max(1, Date.now() - started))}/s, crashes ${[...crashCounts.values()].reduce((a, b) => a + b, 0)} (${layers})`,
    );
  }, 10_000);
  await Promise.all(lanes);
  clearInterval(progress);
  if (restarting !== undefined) await restarting;
  await sinks.stop();
  // Let the last shots' effects settle before the witnesses' last tally.
  await sleep(200);
  witnessReports.push(await epoch.witnesses.stop());
  probeReports.push(await epoch.probe.stop());
  const rssAfter = probeReports.at(-1)?.rssBytes;
  await epoch.router.stop();
  const elapsedMs = Date.now() - started;

  if (options.minimize === true) {
    for (const crash of crashes.slice(0, 8)) {
      crash.reproducer = await minimize(crash, log);
    }
    const replays = options.stallReplays ?? { stalls: 3, budgetMs: 60_000 };
    // The worst first: the likeliest to have a culprit.
    for (const stall of [...stalls].sort((a, b) => b.ms - a.ms).slice(0, replays.stalls)) {
      stall.culprits = await isolateStall(stall, options.stallMs, replays.budgetMs, log);
    }
  }

  return {
    seed: options.seed,
    framesSent: sent,
    disabledGenerators: options.disabledGenerators ?? [],
    totalFrames: Object.values(sent).reduce((a, b) => a + b, 0),
    elapsedMs,
    crashes,
    stalls,
    crashCounts,
    witnesses: witnessReports,
    probe: probeReports,
    rssBeforeBytes: rssBefore,
    rssAfterBytes: rssAfter,
    sinkCloses: sinks.closes,
  };
}

/** A fresh router with its sinks joined (a payload may crash the router only on its way to one). */
async function freshTarget(): Promise<{ router: RouterProcess; endpoints: Endpoints; sinks: Sinks }> {
  const { process: router, endpoints } = await RouterProcess.start();
  const sinks = new Sinks(() => endpoints.port);
  sinks.start();
  await sinks.ready(5000);
  return { router, endpoints, sinks };
}

/** Whether `shot` alone crashes a fresh router with sinks (checked 300 ms after it was sent). */
export async function crashesAlone(shot: Shot): Promise<string | undefined> {
  const { router, endpoints, sinks } = await freshTarget();
  try {
    await shot.fire(endpoints);
    await sleep(300);
    return router.crashed ? crashSignature(router.output) : undefined;
  } finally {
    await sinks.stop();
    await router.stop();
  }
}

/**
 * Replays a stall's candidates one at a time on a fresh router, reading the router's event-loop
 * delay around each: the ones that block it past `stallMs` alone (bounded to `budgetMs`).
 */
async function isolateStall(stall: Stall, stallMs: number, budgetMs: number, log: (line: string) => void): Promise<{ shot: Shot; ms: number }[]> {
  const { router, endpoints, sinks } = await freshTarget();
  const probe = new Probe(endpoints.port, endpoints.metricsUrl, stallMs);
  const culprits: { shot: Shot; ms: number }[] = [];
  const until = Date.now() + budgetMs;
  try {
    for (const shot of stall.candidates) {
      if (Date.now() > until || router.crashed) break;
      await probe.sample();
      await shot.fire(endpoints);
      await sleep(30);
      let lag = await probe.lastDelay();
      // Confirm twice, so that a moment without CPU (2 shared cores) is not taken for a culprit.
      for (let i = 0; i < 2 && lag !== undefined && lag > stallMs; i++) {
        await probe.sample();
        await shot.fire(endpoints);
        await sleep(30);
        const again = await probe.lastDelay();
        lag = again === undefined ? undefined : Math.min(lag, again);
      }
      if (lag !== undefined && lag > stallMs) {
        culprits.push({ shot, ms: lag });
        log(`blocks the event loop ${lag.toFixed(0)} ms alone: ${shot.describe()}`);
      }
    }
  } finally {
    await sinks.stop();
    await router.stop();
  }
  return culprits;
}

/** Replays the candidates in order on one fresh router; the first after which it dies is tried alone. */
async function minimize(crash: Crash, log: (line: string) => void): Promise<Shot | undefined> {
  const { router, endpoints, sinks } = await freshTarget();
  let suspect: Shot | undefined;
  const until = Date.now() + 60_000;
  try {
    for (const shot of crash.candidates) {
      if (Date.now() > until) break;
      await shot.fire(endpoints);
      await sleep(20);
      if (router.crashed) {
        suspect = shot;
        break;
      }
    }
  } finally {
    await sinks.stop();
    await router.stop();
  }
  if (suspect === undefined) {
    log(`no single reproducer found for: ${crash.signature}`);
    return undefined;
  }
  const alone = await crashesAlone(suspect);
  log(alone === undefined ? `suspect did not crash a fresh router alone: ${suspect.describe()}` : `reproducer for ${crash.signature}: ${suspect.describe()}`);
  return alone === undefined ? undefined : suspect;
}

export { LAYER_NAMES };
