/**
 * One session that holds many subscriptions the measured traffic must not match (the patterns
 * scenario's 10 000 near misses). SUBSCRIBEs are pipelined with a bounded number awaiting
 * SUBSCRIBED; every EVENT it receives afterwards is a stray, counted in `received`.
 */
import type { Job, Schedule, WorkerReport } from '../ipc.js';
import { RawPeer } from '../peer.js';
import { Counters, nowNs } from './common.js';
import type { Role } from './common.js';

type HolderJob = Extract<Job, { kind: 'holder' }>;

export class Holder implements Role {
  readonly #counters = new Counters('holder');
  #peer: RawPeer | undefined;

  constructor(private readonly job: HolderJob) {}

  async setup(): Promise<number> {
    const started = nowNs();
    const peer = await RawPeer.open({ ...this.job.endpoint, timeoutMs: 20_000 });
    this.#peer = peer;
    peer.onEvent = (msg): void => this.#counters.countReceived(nowNs(), msg.args?.[1]);
    peer.onDecodeError = this.#counters.countDecodeError;
    peer.onClose = (byUs: boolean): void => {
      if (!byUs) this.#counters.sessionsLost++;
    };
    const subscriptions = this.job.subscriptions;
    let next = 0;
    // Each lane keeps one SUBSCRIBE outstanding; a refusal (ERROR) rejects and fails the setup.
    const lane = async (): Promise<void> => {
      while (next < subscriptions.length) {
        const spec = subscriptions[next++]!;
        await peer.subscribe(spec.topic, spec.match);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.job.inFlight, subscriptions.length)) }, lane));
    this.#counters.connectMs = (nowNs() - started) / 1e6;
    return 1;
  }

  go(schedule: Schedule): void {
    this.#counters.setWindow(schedule);
  }

  finish(): Promise<WorkerReport[]> {
    const report = this.#counters.report(1);
    this.#peer?.close();
    return Promise.resolve([report]);
  }
}
