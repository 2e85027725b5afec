/**
 * N subscriber sessions on one topic (or one pattern each); optionally slow consumers that stop
 * reading their sockets.
 */
import type { Event } from '@switchboard/schemas';
import type { Job, Schedule, SubscriptionSpec, WorkerReport } from '../ipc.js';
import type { RawPeer } from '../peer.js';
import { Counters, eventTopicOk, nowNs, openAll, sleep } from './common.js';
import type { ProgressSink, Role } from './common.js';

type SubscribersJob = Extract<Job, { kind: 'subscribers' }>;

/** After resuming a paused socket, how long to wait for the backlog (or the router's close). */
const RESUME_WAIT_MS = 3000;
const QUIET_MS = 300;
/** How often the lowest sequence number seen is reported, ms. */
const PROGRESS_MS = 2;

export class Subscribers implements Role {
  readonly #counters = new Counters('subscribers');
  #peers: RawPeer[] = [];
  /** Per session, the highest publication sequence number seen. */
  #seen = new Float64Array(0);
  #reported = 0;
  #progressTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly job: SubscribersJob,
    private readonly sink: ProgressSink,
  ) {}

  async setup(): Promise<number> {
    const started = nowNs();
    this.#peers = await openAll(this.job.endpoint, this.job.sessions, this.job.connectConcurrency);
    this.#counters.connectMs = (nowNs() - started) / 1e6;
    this.#seen = new Float64Array(this.#peers.length);
    const patterns = this.job.patterns;
    if (patterns !== undefined && patterns.length !== this.#peers.length) {
      throw new Error(`subscribers: ${patterns.length} patterns for ${this.#peers.length} sessions`);
    }
    const specs: SubscriptionSpec[] = patterns ?? this.#peers.map(() => ({ topic: this.job.topic, match: 'exact' }));
    for (const [i, peer] of this.#peers.entries()) {
      const spec = specs[i]!;
      // One handler per session, made once: it needs the session's slot in #seen.
      peer.onEvent =
        patterns === undefined
          ? (msg: Event): void => {
              const seq = msg.args?.[0];
              if (typeof seq === 'number' && seq > this.#seen[i]!) this.#seen[i] = seq;
              this.#counters.countReceived(nowNs(), msg.args?.[1]);
            }
          : (msg: Event): void => {
              const seq = msg.args?.[0];
              if (typeof seq === 'number' && seq > this.#seen[i]!) this.#seen[i] = seq;
              if (!eventTopicOk(msg, spec, this.job.topic)) this.#counters.errors++;
              this.#counters.countReceived(nowNs(), msg.args?.[1]);
            };
      peer.onClose = this.#onClose;
      peer.onDecodeError = this.#counters.countDecodeError;
    }
    await Promise.all(this.#peers.map((peer, i) => peer.subscribe(specs[i]!.topic, specs[i]!.match)));
    return this.#peers.length;
  }

  go(schedule: Schedule): void {
    this.#counters.setWindow(schedule);
    if (this.job.pause) for (const peer of this.#peers) peer.socket.pause();
    if (this.job.reportProgress) this.#progressTimer = setInterval(this.#reportProgress, PROGRESS_MS);
  }

  async finish(): Promise<WorkerReport[]> {
    clearInterval(this.#progressTimer);
    let resumed: WorkerReport['resumed'];
    if (this.job.pause) {
      const before = this.#counters.received;
      const lostBefore = this.#counters.sessionsLost;
      for (const peer of this.#peers) peer.socket.resume();
      // Bounded: stop once every session is closed, or nothing arrived for QUIET_MS.
      let last = -1;
      for (let waited = 0; waited < RESUME_WAIT_MS; waited += QUIET_MS) {
        if (this.#peers.every((p) => !p.isOpen) || this.#counters.received === last) break;
        last = this.#counters.received;
        await sleep(QUIET_MS);
      }
      resumed = {
        closedByRouter: this.#counters.sessionsLost > lostBefore || this.#peers.every((p) => !p.isOpen),
        receivedAfterResume: this.#counters.received - before,
      };
    }
    const report = this.#counters.report(this.#peers.length, resumed === undefined ? undefined : { resumed });
    for (const peer of this.#peers) peer.close();
    return [report];
  }

  /** The lowest sequence number over open sessions; a closed one no longer holds the publisher back. */
  readonly #reportProgress = (): void => {
    let low = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#peers.length; i++) if (this.#peers[i]!.isOpen && this.#seen[i]! < low) low = this.#seen[i]!;
    if (low === Number.POSITIVE_INFINITY || low <= this.#reported) return;
    this.#reported = low;
    this.sink(low);
  };

  readonly #onClose = (byUs: boolean): void => {
    if (!byUs) this.#counters.sessionsLost++;
  };
}
