/**
 * Witness sessions: well-behaved peers that keep publishing and calling while the fuzzer runs,
 * and must see every event and every answer. One subscriber-and-callee over WebSocket/JSON, one
 * publisher-and-caller over RawSocket/MessagePack (so a payload crosses serializers), and an HTTP
 * bridge caller that POSTs to the webhook path every 100 ms (bridge paths of one identity share a
 * session: a hostile request must not fail another's). Losing a session, a missing or reordered
 * event, a call without an answer within 5 s, or a webhook POST not answered 202 is a failure.
 */
import { http } from './layers/http.js';
import { Peer } from './peer.js';

const TOPIC = 'witness.ticks';
const PROCEDURE = 'witness.echo';

export interface WitnessReport {
  published: number;
  eventsSeen: number;
  calls: number;
  answers: number;
  /** Webhook POSTs sent, and answered 202. */
  hooks: number;
  hooksOk: number;
  /** Everything that went wrong, in words. */
  failures: string[];
}

export class Witnesses {
  readonly #failures: string[] = [];
  #published = 0;
  #acked = 0;
  #seen = 0;
  #calls = 0;
  #answers = 0;
  readonly #pendingCalls = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(
    private readonly a: Peer,
    private readonly b: Peer,
  ) {}

  static async start(port: number, intervalMs = 20): Promise<Witnesses> {
    const a = await Peer.join(port, 'websocket', 'json', { subscriber: {}, callee: {} });
    const b = await Peer.join(port, 'rawsocket', 'msgpack', { publisher: {}, caller: {} });
    const w = new Witnesses(a, b);
    await w.#setUp();
    w.#timer = setInterval(() => w.#tick(), intervalMs);
    w.#hooks = w.#hookLoop(port);
    return w;
  }

  #hooks: Promise<void> = Promise.resolve();
  #hooksSent = 0;
  #hooksOk = 0;

  async #hookLoop(port: number): Promise<void> {
    while (!this.#stopped && !this.#abandoned) {
      const n = ++this.#hooksSent;
      const res = await http(port, 'POST', '/hook', { 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify({ witness: n })), {
        abortAfterMs: 5000,
      });
      if (this.#abandoned) return;
      if (res.status === 202) this.#hooksOk++;
      else
        this.#fail(
          `bridge witness: POST /hook ${n} answered ${res.status === 0 ? 'nothing within 5 s' : `${res.status} ${res.body.toString('utf8').slice(0, 100)}`}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  #abandoned = false;

  #fail(text: string): void {
    if (this.#failures.length < 20) this.#failures.push(text);
  }

  async #setUp(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      let n = 0;
      const timer = setTimeout(() => reject(new Error('witness: SUBSCRIBED/REGISTERED did not arrive')), 5000);
      this.a.onMessage = (m) => {
        if (m[0] === 33 || m[0] === 65) {
          if (++n === 2) {
            clearTimeout(timer);
            resolve();
          }
        } else reject(new Error(`witness: unexpected ${JSON.stringify(m).slice(0, 200)}`));
      };
    });
    this.a.send([32, 1, {}, TOPIC]);
    this.a.send([64, 2, {}, PROCEDURE]);
    await ready;
    this.a.onMessage = (m) => this.#onA(m);
    this.b.onMessage = (m) => this.#onB(m);
    for (const [name, peer] of [
      ['subscriber/callee (WebSocket JSON)', this.a],
      ['publisher/caller (RawSocket MessagePack)', this.b],
    ] as const) {
      void peer.closed.then((why) => {
        if (!this.#stopped) this.#fail(`${name} lost its session: ${why}`);
      });
    }
  }

  #onA(m: unknown[]): void {
    if (m[0] === 36) {
      const n = (m[4] as unknown[] | undefined)?.[0];
      if (n !== this.#seen + 1) this.#fail(`event ${String(n)} arrived, ${this.#seen + 1} expected`);
      this.#seen = typeof n === 'number' ? n : this.#seen + 1;
    } else if (m[0] === 68) {
      this.a.send([70, m[1], {}, (m[4] as unknown[] | undefined) ?? []]);
    } else this.#fail(`subscriber/callee got ${JSON.stringify(m).slice(0, 200)}`);
  }

  #onB(m: unknown[]): void {
    if (m[0] === 17) this.#acked++;
    else if (m[0] === 50) {
      const request = Number(m[1]);
      const sent = this.#pendingCalls.get(request);
      const args = m[3] as unknown[] | undefined;
      if (sent === undefined || args?.[0] !== request) this.#fail(`unexpected RESULT ${JSON.stringify(m).slice(0, 200)}`);
      this.#pendingCalls.delete(request);
      this.#answers++;
    } else this.#fail(`publisher/caller got ${JSON.stringify(m).slice(0, 200)}`);
  }

  #request = 0;

  #tick(): void {
    if (this.a.isClosed || this.b.isClosed) return;
    const now = Date.now();
    for (const [request, at] of this.#pendingCalls) {
      if (now - at > 5000) {
        this.#fail(`call ${request} unanswered after 5 s`);
        this.#pendingCalls.delete(request);
      }
    }
    this.#published++;
    this.b.send([16, ++this.#request, { acknowledge: true }, TOPIC, [this.#published]]);
    const call = ++this.#request;
    this.#pendingCalls.set(call, now);
    this.#calls++;
    this.b.send([48, call, {}, PROCEDURE, [call]]);
  }

  /** Stops sending, waits (bounded) for what is in flight, and reports. */
  async stop(): Promise<WitnessReport> {
    clearInterval(this.#timer);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (this.#seen < this.#published || this.#pendingCalls.size > 0) && !this.a.isClosed && !this.b.isClosed) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.#stopped = true;
    await this.#hooks;
    if (this.#seen < this.#published) this.#fail(`${this.#published - this.#seen} of ${this.#published} events never arrived`);
    if (this.#pendingCalls.size > 0) this.#fail(`${this.#pendingCalls.size} calls never answered`);
    this.a.close();
    this.b.close();
    return {
      published: this.#published,
      eventsSeen: this.#seen,
      calls: this.#calls,
      answers: this.#answers,
      hooks: this.#hooksSent,
      hooksOk: this.#hooksOk,
      failures: [...this.#failures],
    };
  }

  /** Abandons them (the router crashed): no report. */
  abandon(): void {
    clearInterval(this.#timer);
    this.#stopped = true;
    this.#abandoned = true;
    this.a.close();
    this.b.close();
  }
}
