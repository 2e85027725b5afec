/** Sessions that join the realm and then do nothing, to weigh the router's memory per session. */
import type { Job, Schedule, WorkerReport } from '../ipc.js';
import type { RawPeer } from '../peer.js';
import { Counters, nowNs, openMany } from './common.js';
import type { Role } from './common.js';

type IdleJob = Extract<Job, { kind: 'idle' }>;

export class Idle implements Role {
  readonly #counters = new Counters('idle');
  #peers: RawPeer[] = [];

  constructor(private readonly job: IdleJob) {}

  async setup(): Promise<number> {
    const started = nowNs();
    const opened = await openMany(this.job.endpoint, this.job.sessions, this.job.connectConcurrency);
    this.#counters.connectMs = (nowNs() - started) / 1e6;
    this.#peers = opened.peers;
    this.#counters.errors = opened.failures;
    if (opened.failures > 0) {
      process.stderr.write(`idle: ${opened.failures} of ${this.job.sessions} sessions failed: ${opened.firstError ?? '?'}\n`);
    }
    for (const peer of this.#peers) {
      peer.onDecodeError = this.#counters.countDecodeError;
      peer.onClose = (byUs: boolean): void => {
        if (!byUs) this.#counters.sessionsLost++;
      };
    }
    return this.#peers.length;
  }

  go(schedule: Schedule): void {
    this.#counters.setWindow(schedule);
  }

  finish(): Promise<WorkerReport[]> {
    const report = this.#counters.report(this.#peers.length);
    for (const peer of this.#peers) peer.close();
    return Promise.resolve([report]);
  }
}
