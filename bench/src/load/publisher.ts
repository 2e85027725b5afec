/**
 * One publisher session. Window mode is closed-loop: at most `window` PUBLISHes (acknowledge:
 * true) awaiting PUBLISHED, and at most `maxLead` publications ahead of the slowest subscriber
 * session (the probe here, and the other workers' `progress`), so the target's outbound queues
 * stay bounded when subscribers lag, and latency is the target's, not a backlog's.
 * Rate mode sends at a fixed rate without acknowledgements.
 */
import type { Event } from '@switchboard/schemas';
import type { Job, Schedule, SubscriptionSpec, WorkerReport } from '../ipc.js';
import { RawPeer } from '../peer.js';
import { Counters, at, eventTopicOk, nowNs, padding } from './common.js';
import type { Role } from './common.js';

type PublisherJob = Extract<Job, { kind: 'publisher' }>;

/** Rate mode never sends more than this in one timer tick, so a stalled loop cannot burst. */
const MAX_BURST = 1000;

export class Publisher implements Role {
  readonly #counters = new Counters('publisher');
  readonly #probeCounters = new Counters('subscribers');
  readonly #pad: string;
  readonly #probeSpec: SubscriptionSpec;
  #peer: RawPeer | undefined;
  #probe: RawPeer | undefined;
  #seq = 0;
  #probeSeq = 0;
  /** Round-robin position in `job.topics`. */
  #nextTopic = 0;
  /** The lowest sequence number every subscriber session in other workers has seen. */
  #othersSeq: number;
  #outstanding = 0;
  #running = false;
  #startNs = 0;
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(private readonly job: PublisherJob) {
    this.#pad = padding(job.payloadBytes, job.payloadKind);
    this.#probeSpec = job.probeSubscription ?? { topic: job.topic, match: 'exact' };
    this.#othersSeq = job.pacedByProgress ? 0 : Number.POSITIVE_INFINITY;
  }

  progress(seq: number): void {
    if (seq > this.#othersSeq) this.#othersSeq = seq;
    this.#pump();
  }

  async setup(): Promise<number> {
    const options = this.job.endpoint;
    const started = nowNs();
    this.#peer = await RawPeer.open(options);
    this.#peer.onPublished = this.#onPublished;
    this.#peer.onRequestError = this.#onError;
    this.#peer.onClose = this.#onClose;
    this.#peer.onDecodeError = this.#counters.countDecodeError;
    if (this.job.probe) {
      this.#probe = await RawPeer.open(this.job.probeEndpoint ?? options);
      this.#probe.onEvent = this.#onProbeEvent;
      this.#probe.onDecodeError = this.#probeCounters.countDecodeError;
      await this.#probe.subscribe(this.#probeSpec.topic, this.#probeSpec.match);
    }
    this.#counters.connectMs = (nowNs() - started) / 1e6;
    return 1;
  }

  go(schedule: Schedule): void {
    this.#counters.setWindow(schedule);
    this.#probeCounters.setWindow(schedule);
    this.#timers.push(
      at(schedule.startNs, () => {
        this.#running = true;
        this.#startNs = nowNs();
        if (this.job.mode.kind === 'window') this.#pump();
        else this.#timers.push(setInterval(this.#tick, 1));
      }),
      at(schedule.stopNs, this.#stop),
    );
  }

  async finish(): Promise<WorkerReport[]> {
    this.#stop();
    for (const timer of this.#timers) clearTimeout(timer);
    const reports = [this.#counters.report(1)];
    if (this.#probe !== undefined) reports.push(this.#probeCounters.report(1));
    this.#peer?.close();
    this.#probe?.close();
    return reports;
  }

  #publish(): void {
    const now = nowNs();
    const topics = this.job.topics;
    let topic = this.job.topic;
    if (topics !== undefined) {
      topic = topics[this.#nextTopic]!;
      this.#nextTopic = this.#nextTopic + 1 === topics.length ? 0 : this.#nextTopic + 1;
    }
    this.#peer?.publish(topic, [++this.#seq, now, this.#pad], this.job.mode.kind === 'window');
    this.#counters.countSent(now);
  }

  #pump(): void {
    const mode = this.job.mode;
    if (mode.kind !== 'window') return;
    const slowest = Math.min(this.#probe === undefined ? Number.POSITIVE_INFINITY : this.#probeSeq, this.#othersSeq);
    while (this.#running && this.#outstanding < mode.window && this.#seq - slowest < mode.maxLead) {
      this.#outstanding++;
      this.#publish();
    }
  }

  readonly #tick = (): void => {
    const mode = this.job.mode;
    if (!this.#running || mode.kind !== 'rate') return;
    const due = Math.floor(((nowNs() - this.#startNs) / 1e9) * mode.perSecond) - this.#seq;
    for (let i = Math.min(due, MAX_BURST); i > 0; i--) this.#publish();
  };

  readonly #stop = (): void => {
    this.#running = false;
  };

  readonly #onPublished = (): void => {
    this.#outstanding--;
    this.#pump();
  };

  readonly #onError = (): void => {
    this.#counters.errors++;
    this.#outstanding--;
    this.#pump();
  };

  readonly #onClose = (byUs: boolean): void => {
    if (!byUs) this.#counters.sessionsLost++;
    this.#running = false;
  };

  readonly #onProbeEvent = (msg: Event): void => {
    const seq = msg.args?.[0];
    if (typeof seq === 'number' && seq > this.#probeSeq) this.#probeSeq = seq;
    if (!eventTopicOk(msg, this.#probeSpec, this.job.topic)) this.#probeCounters.errors++;
    this.#probeCounters.countReceived(nowNs(), msg.args?.[1]);
    this.#pump();
  };
}
