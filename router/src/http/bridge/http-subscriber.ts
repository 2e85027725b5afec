/**
 * An HTTP subscriber: a session with the configured role subscribes to a topic and POSTs each
 * event to a URL as `{"args": [...], "kwargs": {...}}` (Crossbar's MessageForwarder body), one
 * request at a time so the receiver sees the publisher's order. A failed delivery (network error,
 * 5xx, 408, 429, or another status than expectedCode) is retried with exponential backoff; the
 * queue of waiting events is bounded in count (maxQueue) and bytes (maxQueueBytes), and what does
 * not fit is dropped, counted (also in switchboard_limits_exceeded_total{limit}) and logged.
 */
import { timerMs } from '@switchboard/schemas';
import type { Logger } from '../../log.js';
import type { RouterStats } from '../../stats.js';
import { DEFAULT_SUBSCRIBER_MAX_QUEUE_BYTES } from './config.js';
import type { HttpSubscriberFile } from './config.js';
import type { BridgeSession, EventMessage } from './local-session.js';
import { bridgeJson } from './respond.js';
import type { SessionPool } from './sessions.js';

export interface SubscriberCounters {
  delivered: number;
  /** Gave up after the last retry. */
  failed: number;
  /** Did not fit in the queue (maxQueue or maxQueueBytes). */
  dropped: number;
  retried: number;
}

interface Delivery {
  body: string;
  /** UTF-8 bytes of body. */
  bytes: number;
  topic: string;
  publication: number;
}

function retryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export class HttpSubscriber {
  readonly counters: SubscriberCounters = { delivered: 0, failed: 0, dropped: 0, retried: 0 };
  readonly #queue: Delivery[] = [];
  /** Bytes of the queued bodies (UTF-8). */
  #queueBytes = 0;
  readonly #stop = new AbortController();
  #session: BridgeSession | undefined;
  #busy = false;
  #idle: (() => void)[] = [];

  constructor(
    private readonly config: HttpSubscriberFile,
    private readonly log: Logger,
    private readonly stats?: RouterStats,
  ) {}

  async start(pool: SessionPool): Promise<void> {
    const c = this.config;
    this.#session = await pool.open({ realm: c.realm, authid: c.authid ?? 'http-integration', authrole: c.role });
    await this.#session.subscribe(c.topic, { match: c.match ?? 'exact' }, (e) => this.#enqueue(e));
  }

  /** Resolves when nothing waits for delivery (tests, shutdown). */
  drained(): Promise<void> {
    if (!this.#busy && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    this.#stop.abort();
    this.#session?.close();
  }

  /** Counts and (at the first and every 1000th) logs an event that does not fit. */
  #drop(limit: 'maxQueue' | 'maxQueueBytes'): void {
    this.counters.dropped++;
    this.stats?.limitExceeded(limit);
    if (this.counters.dropped === 1 || this.counters.dropped % 1000 === 0) {
      this.log.warn({ url: this.config.url, topic: this.config.topic, dropped: this.counters.dropped, limit }, 'HTTP subscriber queue full: events dropped');
    }
  }

  #enqueue(e: EventMessage): void {
    if (this.#queue.length >= (this.config.maxQueue ?? 1000)) return this.#drop('maxQueue');
    const topic = typeof e.details['topic'] === 'string' ? e.details['topic'] : this.config.topic;
    let body: string;
    try {
      // Binary as "\0" + base64, like the bridge's other JSON. [bp_binary_conversion_of_json]
      body = bridgeJson({ args: e.args, kwargs: e.kwargs });
    } catch (err) {
      // A string that starts with U+0000 has no JSON form: this event cannot be delivered.
      this.counters.failed++;
      this.log.warn(
        { url: this.config.url, topic, publication: e.publication, err: (err as Error).message },
        'HTTP subscriber: event cannot be written as JSON: not delivered',
      );
      return;
    }
    const bytes = Buffer.byteLength(body, 'utf8');
    if (this.#queueBytes + bytes > (this.config.maxQueueBytes ?? DEFAULT_SUBSCRIBER_MAX_QUEUE_BYTES)) return this.#drop('maxQueueBytes');
    this.#queueBytes += bytes;
    this.#queue.push({ body, bytes, topic, publication: e.publication });
    this.#pump().catch((err: unknown) => {
      // A bug of ours: the queue stops here, logged; the router goes on.
      this.#busy = false;
      this.log.error({ err, url: this.config.url }, 'HTTP subscriber: delivery loop failed');
    });
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
      const next = this.#queue.shift()!;
      this.#queueBytes -= next.bytes;
      const ok = await this.#deliver(next);
      if (ok) this.counters.delivered++;
      else this.counters.failed++;
    }
    this.#busy = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #deliver(d: Delivery): Promise<boolean> {
    const c = this.config;
    const retries = c.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(c.url, {
          method: c.method ?? 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Switchboard-Topic': d.topic, 'X-Switchboard-Publication': String(d.publication), ...c.headers },
          body: d.body,
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(c.timeoutMs ?? 10_000)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        const ok = c.expectedCode !== undefined ? res.status === c.expectedCode : res.status >= 200 && res.status < 300;
        if (ok) return true;
        why = `HTTP ${res.status}`;
        if (!retryable(res.status)) {
          this.log.warn({ url: c.url, topic: d.topic, status: res.status }, 'HTTP subscriber: delivery refused');
          return false;
        }
      } catch (err) {
        if (this.#stop.signal.aborted) return false;
        why = (err as Error).message;
      }
      if (attempt >= retries) {
        this.log.warn({ url: c.url, topic: d.topic, attempts: attempt + 1, why }, 'HTTP subscriber: delivery failed');
        return false;
      }
      this.counters.retried++;
      // Clamped: the backoff doubles up to 100 times, past what a timer holds (it would fire at once).
      await this.#sleep(timerMs((c.retryDelayMs ?? 500) * 2 ** attempt));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#stop.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
