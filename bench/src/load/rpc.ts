/** The RPC roles: one callee that echoes its arguments, and callers that each keep a window of calls. */
import type { Invocation, Result } from '@switchboard/schemas';
import { listArgs } from '@switchboard/schemas';
import type { Job, Schedule, WorkerReport } from '../ipc.js';
import { RawPeer } from '../peer.js';
import { Counters, at, nowNs, openAll, padding } from './common.js';
import type { Role } from './common.js';

type CalleeJob = Extract<Job, { kind: 'callee' }>;
type CallersJob = Extract<Job, { kind: 'callers' }>;

export class Callee implements Role {
  readonly #counters = new Counters('callee');
  #peer: RawPeer | undefined;

  constructor(private readonly job: CalleeJob) {}

  async setup(): Promise<number> {
    const started = nowNs();
    this.#peer = await RawPeer.open(this.job.endpoint);
    this.#counters.connectMs = (nowNs() - started) / 1e6;
    this.#peer.onInvocation = this.#onInvocation;
    this.#peer.onClose = this.#onClose;
    this.#peer.onDecodeError = this.#counters.countDecodeError;
    await this.#peer.register(this.job.procedure);
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

  readonly #onInvocation = (msg: Invocation): void => {
    this.#counters.countReceived(nowNs(), undefined);
    this.#peer?.yield(msg.request, msg.args === undefined ? undefined : listArgs(msg.args));
  };

  readonly #onClose = (byUs: boolean): void => {
    if (!byUs) this.#counters.sessionsLost++;
  };
}

export class Callers implements Role {
  readonly #counters = new Counters('callers');
  readonly #pad: string;
  #peers: RawPeer[] = [];
  #running = false;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #sent = new Map<RawPeer, Map<number, number>>();
  /** The next of `job.calls` to send. */
  #next = 0;

  constructor(private readonly job: CallersJob) {
    this.#pad = padding(job.payloadBytes, job.payloadKind);
  }

  async setup(): Promise<number> {
    const started = nowNs();
    this.#peers = await openAll(this.job.endpoint, this.job.callers, 50);
    this.#counters.connectMs = (nowNs() - started) / 1e6;
    for (const peer of this.#peers) {
      // With `calls`, when each request was sent (request IDs are per session).
      const sent = new Map<number, number>();
      this.#sent.set(peer, sent);
      // One handler per session, made once here, not per call.
      peer.onResult = (msg: Result): void => {
        const sentNs = this.job.calls === undefined ? msg.args?.[0] : sent.get(msg.request);
        sent.delete(msg.request);
        this.#counters.countReceived(nowNs(), sentNs);
        this.#call(peer);
      };
      peer.onRequestError = (request): void => {
        sent.delete(request);
        this.#counters.errors++;
        this.#call(peer);
      };
      peer.onDecodeError = this.#counters.countDecodeError;
      peer.onClose = (byUs: boolean): void => {
        if (!byUs) this.#counters.sessionsLost++;
      };
    }
    return this.#peers.length;
  }

  go(schedule: Schedule): void {
    this.#counters.setWindow(schedule);
    this.#timers.push(
      at(schedule.startNs, () => {
        this.#running = true;
        for (const peer of this.#peers) for (let i = 0; i < this.job.window; i++) this.#call(peer);
      }),
      at(schedule.stopNs, () => {
        this.#running = false;
      }),
    );
  }

  finish(): Promise<WorkerReport[]> {
    this.#running = false;
    for (const timer of this.#timers) clearTimeout(timer);
    const report = this.#counters.report(this.#peers.length);
    for (const peer of this.#peers) peer.close();
    return Promise.resolve([report]);
  }

  #call(peer: RawPeer): void {
    if (!this.#running || !peer.isOpen) return;
    const now = nowNs();
    const calls = this.job.calls;
    if (calls === undefined || calls.length === 0) peer.call(this.job.procedure, [now, this.#pad]);
    else {
      const request = peer.call(this.job.procedure, calls[this.#next++ % calls.length]!);
      this.#sent.get(peer)?.set(request, now);
    }
    this.#counters.countSent(now);
  }
}
