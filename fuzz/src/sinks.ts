/**
 * Sinks: sessions that receive what the fuzzer publishes (a `fuzz.` prefix subscription per
 * serializer and transport, an SSE stream) and a `fuzz.echo` callee that yields back whatever it
 * was called with, so hostile payloads are relayed and re-encoded across serializers. A sink may
 * be closed by the router (that is not a failure); why it closed is reported, and it rejoins.
 */
import type { SerializerName } from '@switchboard/schemas';
import { http } from './layers/http.js';
import { Peer } from './peer.js';
import type { Transport } from './peer.js';

export class Sinks {
  #stopped = false;
  /** Why sinks closed, with counts. */
  readonly closes = new Map<string, number>();
  eventsReceived = 0;
  readonly #peers = new Set<Peer>();
  readonly #loops: Promise<void>[] = [];

  #joined = 0;

  constructor(private readonly port: () => number) {}

  /** Resolves once every WAMP sink has joined and subscribed or registered once (or after `ms`). */
  async ready(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#joined < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  start(): void {
    const kinds: [Transport, SerializerName, boolean][] = [
      ['websocket', 'json', false],
      ['websocket', 'msgpack', false],
      ['websocket', 'cbor', false],
      ['rawsocket', 'cbor', false],
      ['websocket', 'json', true],
      ['rawsocket', 'msgpack', true],
    ];
    for (const [transport, serializer, callee] of kinds) this.#loops.push(this.#run(transport, serializer, callee));
    this.#loops.push(this.#sse());
  }

  #note(why: string): void {
    const key = why.replace(/\d+/g, 'N').slice(0, 160);
    this.closes.set(key, (this.closes.get(key) ?? 0) + 1);
  }

  async #run(transport: Transport, serializer: SerializerName, callee: boolean): Promise<void> {
    while (!this.#stopped) {
      let peer: Peer;
      try {
        peer = await Peer.join(this.port(), transport, serializer, { subscriber: {}, callee: {} });
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      this.#peers.add(peer);
      peer.onMessage = (m) => {
        if (m[0] === 33 || m[0] === 65) this.#joined++;
        else if (m[0] === 36) this.eventsReceived++;
        else if (m[0] === 68) peer.send(m.length > 5 ? [70, m[1], {}, m[4], m[5]] : m.length > 4 ? [70, m[1], {}, m[4]] : [70, m[1], {}]);
      };
      peer.send(callee ? [64, 1, {}, 'fuzz.echo'] : [32, 1, { match: 'prefix' }, 'fuzz.']);
      const why = await peer.closed;
      this.#peers.delete(peer);
      if (!this.#stopped) this.#note(`${transport}/${serializer}${callee ? ' callee' : ''}: ${why}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async #sse(): Promise<void> {
    while (!this.#stopped) {
      await http(this.port(), 'GET', '/events?topic=fuzz.&match=prefix', { Accept: 'text/event-stream' }, undefined, {
        abortAfterMs: 2000,
        maxReadBytes: 4 << 20,
      });
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const p of this.#peers) p.close();
    await Promise.all(this.#loops);
  }
}
