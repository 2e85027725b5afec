/** What every load-generator role shares: counters with a measurement window, and bulk connects. */
import type { Event } from '@switchboard/schemas';
import { nowNs, sleep } from '../clock.js';
import { Histogram } from '../histogram.js';
import type { JobKind, PayloadKind, Schedule, SubscriptionSpec, WorkerReport } from '../ipc.js';
import { RawPeer } from '../peer.js';
import type { Endpoint } from '../ipc.js';

const WORDS = [
  'id',
  'name',
  'value',
  'sensor',
  'temperature',
  'status',
  'ok',
  'error',
  'timestamp',
  'user',
  'order',
  'price',
  'quantity',
  'true',
  'false',
  'null',
  'device',
  'room',
  'level',
  'event',
];

/** `bytes` of padding of the given kind (see PayloadKind); the same for the same arguments. */
export function padding(bytes: number, kind: PayloadKind = 'repeat'): string {
  if (kind === 'repeat') return 'x'.repeat(bytes);
  let seed = 0x2545f491;
  let out = '';
  while (out.length < bytes) {
    // xorshift32: a fixed sequence, so every run and every target gets the same payload.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const r = seed >>> 0;
    out += `${WORDS[r % WORDS.length]!}:${r % 1000} `;
  }
  return out.slice(0, bytes);
}

/** One role in one worker process: set up, run on the shared schedule, report. */
export interface Role {
  /** Opens sessions and subscribes or registers; resolves with the number of sessions opened. */
  setup(): Promise<number>;
  go(schedule: Schedule): void;
  /** Stops sending, gathers numbers, closes sessions. */
  finish(): Promise<WorkerReport[]>;
  /** Publishers: the other subscriber workers' progress (see ipc.ts). */
  progress?(seq: number): void;
}

/** Where a subscriber worker sends its progress. */
export type ProgressSink = (seq: number) => void;

export class Counters {
  sent = 0;
  sentInWindow = 0;
  received = 0;
  receivedInWindow = 0;
  errors = 0;
  sessionsLost = 0;
  connectMs = 0;
  decodeErrors = 0;
  firstDecodeError: string | undefined;
  readonly latency = new Histogram();
  #fromNs = Number.POSITIVE_INFINITY;
  #toNs = Number.NEGATIVE_INFINITY;

  constructor(readonly kind: JobKind) {}

  setWindow(schedule: Schedule): void {
    this.#fromNs = schedule.measureFromNs;
    this.#toNs = schedule.measureToNs;
  }

  countSent(atNs: number): void {
    this.sent++;
    if (atNs >= this.#fromNs && atNs < this.#toNs) this.sentInWindow++;
  }

  /** One EVENT, RESULT or INVOCATION at `atNs`; `sentNs` is the sender's timestamp when the payload has one. */
  countReceived(atNs: number, sentNs: unknown): void {
    this.received++;
    if (atNs >= this.#fromNs && atNs < this.#toNs) {
      this.receivedInWindow++;
      if (typeof sentNs === 'number') this.latency.recordUs((atNs - sentNs) / 1000);
    }
  }

  /** Bound once, to hand to RawPeer.onDecodeError. */
  readonly countDecodeError = (reason: string): void => {
    this.decodeErrors++;
    this.firstDecodeError ??= reason;
  };

  report(sessions: number, extra?: Pick<WorkerReport, 'resumed'>): WorkerReport {
    return {
      kind: this.kind,
      sessions,
      sessionsLost: this.sessionsLost,
      sent: this.sent,
      sentInWindow: this.sentInWindow,
      received: this.received,
      receivedInWindow: this.receivedInWindow,
      errors: this.errors,
      decodeErrors: this.decodeErrors,
      ...(this.firstDecodeError === undefined ? {} : { firstDecodeError: this.firstDecodeError }),
      latency: this.latency.serialize(),
      connectMs: this.connectMs,
      ...extra,
    };
  }
}

export interface Opened {
  peers: RawPeer[];
  failures: number;
  firstError: string | undefined;
}

/**
 * Opens `count` sessions with at most `concurrency` handshakes in flight, so the router's listen
 * backlog is not flooded. Never rejects: failures are counted.
 */
export async function openMany(endpoint: Endpoint, count: number, concurrency: number): Promise<Opened> {
  const opened: Opened = { peers: [], failures: 0, firstError: undefined };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      try {
        opened.peers.push(await RawPeer.open({ ...endpoint, timeoutMs: 20_000 }));
      } catch (error) {
        opened.failures++;
        opened.firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, lane));
  return opened;
}

/** Like openMany, but any failure closes what opened and throws. */
export async function openAll(endpoint: Endpoint, count: number, concurrency: number): Promise<RawPeer[]> {
  const opened = await openMany(endpoint, count, concurrency);
  if (opened.failures > 0) {
    for (const peer of opened.peers) peer.close();
    throw new Error(`${opened.failures} of ${count} sessions failed to open: ${opened.firstError ?? '?'}`);
  }
  return opened.peers;
}

/**
 * Whether an EVENT names the concrete topic as it should for a subscription to `spec` when
 * `published` was published: a pattern subscriber gets it in Details.topic, an exact one does not.
 */
export function eventTopicOk(msg: Event, spec: SubscriptionSpec, published: string): boolean {
  return msg.details['topic'] === (spec.match === 'exact' ? undefined : published);
}

/** Runs `fn` at `atNs` on the shared clock. */
export function at(atNs: number, fn: () => void): NodeJS.Timeout {
  return setTimeout(fn, Math.max(0, (atNs - nowNs()) / 1e6));
}

export { nowNs, sleep };
