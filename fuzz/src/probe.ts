/**
 * Stall detection. From outside: GET /health every 20 ms, its latency recorded (the fuzzer's own
 * event loop is busy too, so this is an upper bound). From inside: the router's
 * `switchboard_nodejs_eventloop_lag_max_seconds` (prom-client's monitorEventLoopDelay, reset at
 * every scrape) read every 500 ms, which is what counts as a stall; and its resident memory.
 */
import { http } from './layers/http.js';

export interface ProbeReport {
  healthRequests: number;
  healthFailures: number;
  healthWorstMs: number;
  healthP99Ms: number;
  /** Scrape intervals in which the router's event loop was blocked longer than the threshold. */
  stalls: number;
  worstLoopDelayMs: number;
  rssBytes: number | undefined;
}

export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

export async function scrape(port: number, metricsUrl: string): Promise<string | undefined> {
  const url = new URL(metricsUrl);
  const res = await http(Number(url.port), 'GET', url.pathname, {}, undefined, { abortAfterMs: 5000, maxReadBytes: 4 << 20 });
  void port;
  return res.status === 200 ? res.body.toString('utf8') : undefined;
}

export class Probe {
  readonly #latencies: number[] = [];
  #failures = 0;
  #stalls = 0;
  #worstDelay = 0;
  #rss: number | undefined;
  #stopped = false;
  readonly #loops: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    private readonly metricsUrl: string,
    private readonly stallMs: number,
    private readonly onStall: (ms: number) => void = () => {},
  ) {}

  start(): void {
    this.#loops.push(this.#health(), this.#metrics());
  }

  async #health(): Promise<void> {
    while (!this.#stopped) {
      const t0 = performance.now();
      const res = await http(this.port, 'GET', '/health', {}, undefined, { abortAfterMs: 5000 });
      const ms = performance.now() - t0;
      if (res.status === 200) this.#latencies.push(ms);
      else this.#failures++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async #metrics(): Promise<void> {
    while (!this.#stopped) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await this.sample();
    }
  }

  /** One scrape: the event-loop delay since the last one, and RSS. */
  async sample(): Promise<void> {
    const text = await scrape(this.port, this.metricsUrl);
    if (text === undefined) return;
    const lag = metricValue(text, 'switchboard_nodejs_eventloop_lag_max_seconds');
    if (lag !== undefined) {
      const ms = lag * 1000;
      if (ms > this.stallMs) {
        this.#stalls++;
        this.onStall(ms);
      }
      this.#worstDelay = Math.max(this.#worstDelay, ms);
    }
    this.#rss = metricValue(text, 'switchboard_process_resident_memory_bytes') ?? this.#rss;
  }

  /** One scrape, returning the event-loop delay since the previous one, in ms. */
  async lastDelay(): Promise<number | undefined> {
    const text = await scrape(this.port, this.metricsUrl);
    const lag = text === undefined ? undefined : metricValue(text, 'switchboard_nodejs_eventloop_lag_max_seconds');
    return lag === undefined ? undefined : lag * 1000;
  }

  async stop(): Promise<ProbeReport> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    await this.sample();
    const sorted = [...this.#latencies].sort((x, y) => x - y);
    return {
      healthRequests: sorted.length + this.#failures,
      healthFailures: this.#failures,
      healthWorstMs: sorted.at(-1) ?? 0,
      healthP99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
      stalls: this.#stalls,
      worstLoopDelayMs: this.#worstDelay,
      rssBytes: this.#rss,
    };
  }
}
