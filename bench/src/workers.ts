/** The orchestrator's side of one load-generator process (worker.ts), forked from bench/dist. */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { stopChild, track } from './children.js';
import { withTimeout } from './clock.js';
import type { FromWorker, Job, Schedule, ToWorker, WorkerReport } from './ipc.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class Worker {
  /** Called with each `progress` report of a subscriber worker. */
  onProgress: (seq: number) => void = () => {};
  readonly #child: ChildProcess;
  #ready: Waiter<number> | undefined;
  #report: Waiter<WorkerReport[]> | undefined;
  #failure: Error | undefined;

  private constructor(
    child: ChildProcess,
    readonly job: Job,
    readonly label: string,
  ) {
    this.#child = child;
    child.on('message', (raw: unknown) => this.#onMessage(raw as FromWorker));
    child.once('exit', (code, signal) => this.#fail(new Error(`worker ${label} exited (${signal ?? `code ${String(code)}`})`)));
    child.once('error', (error) => this.#fail(error));
  }

  /** Forks dist/worker.js and hands it `job`. */
  static start(benchDist: string, job: Job, label: string): Worker {
    const child = track(fork(join(benchDist, 'worker.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    const worker = new Worker(child, job, label);
    worker.#send({ type: 'job', job });
    return worker;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Resolves with the number of sessions once the job's sessions are open and set up. */
  ready(timeoutMs: number): Promise<number> {
    const promise = new Promise<number>((resolve, reject) => {
      if (this.#failure !== undefined) reject(this.#failure);
      else this.#ready = { resolve, reject };
    });
    return withTimeout(promise, timeoutMs, `setup of worker ${this.label}`);
  }

  go(schedule: Schedule): void {
    this.#send({ type: 'go', schedule });
  }

  /** Relays the subscribers' progress to a publisher. */
  progress(seq: number): void {
    this.#send({ type: 'progress', seq });
  }

  finish(timeoutMs: number): Promise<WorkerReport[]> {
    const promise = new Promise<WorkerReport[]>((resolve, reject) => {
      if (this.#failure !== undefined) reject(this.#failure);
      else this.#report = { resolve, reject };
    });
    this.#send({ type: 'finish' });
    return withTimeout(promise, timeoutMs, `report of worker ${this.label}`);
  }

  stop(): Promise<void> {
    return stopChild(this.#child, 1000);
  }

  #send(msg: ToWorker): void {
    if (this.#child.connected) this.#child.send(msg);
  }

  #onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
        this.#ready?.resolve(msg.sessions);
        this.#ready = undefined;
        return;
      case 'progress':
        this.onProgress(msg.seq);
        return;
      case 'report':
        this.#report?.resolve(msg.reports);
        this.#report = undefined;
        return;
      case 'error':
        this.#fail(new Error(`worker ${this.label}: ${msg.message}`));
        return;
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#ready?.reject(error);
    this.#report?.reject(error);
    this.#ready = undefined;
    this.#report = undefined;
  }
}
