/**
 * Fakes for unit tests of the connection, the WAMP session and the outbox: a Peer that keeps what
 * it is sent (decoded), a RouterCore with one real (pure) Realm, and a logger whose lines can be
 * read. No sockets, no timers of their own.
 */
import { pino } from 'pino';
import type { Codec, SessionId, WampMessage } from '@switchboard/schemas';
import { jsonCodec } from '@switchboard/schemas';
import type { RouterCore } from '../../src/core.js';
import { Resumption } from '../../src/resumption.js';
import type { ResumeClock } from '../../src/resumption.js';
import { silentLogger } from '../../src/log.js';
import type { Logger } from '../../src/log.js';
import { Realm } from '../../src/realm.js';
import { RouterStats } from '../../src/stats.js';
import type { Peer, SharedFrame, TransportDetails } from '../../src/transports/peer.js';

export class FakePeer implements Peer {
  readonly transport: TransportDetails = { type: 'test', protocol: 'wamp.2.json', peer: 'test:1' };
  /** Every frame the peer took, decoded, in order (EVENTs included). */
  readonly received: unknown[][] = [];
  /** The SharedFrames handed to sendDroppable, as they were. */
  readonly shared: SharedFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  /** False: the transport refuses (gone, or cut off by its outbound budget). */
  accepts = true;
  bufferedBytes = 0;

  constructor(readonly codec: Codec = jsonCodec) {}

  send(frame: string | Uint8Array): boolean {
    if (!this.accepts || this.closed !== undefined) return false;
    this.received.push(this.codec.decode(frame) as unknown[]);
    return true;
  }

  sendDroppable(frame: SharedFrame): boolean {
    if (!this.accepts || this.closed !== undefined) return false;
    this.shared.push(frame);
    this.received.push(this.codec.decode(frame.source) as unknown[]);
    return true;
  }

  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }

  /** The codes of what was received, in order. */
  codes(): number[] {
    return this.received.map((m) => m[0] as number);
  }
}

/** An in-process peer: takes message objects, never frames. */
export class FakeLocalPeer extends FakePeer {
  readonly messages: WampMessage[] = [];

  sendMessage(msg: WampMessage): boolean {
    if (!this.accepts) return false;
    this.messages.push(msg);
    return true;
  }
}

export interface FakeCore extends RouterCore {
  readonly realm1: Realm;
  readonly released: SessionId[];
}

export function fakeCore(options: { authTimeoutMs?: number } = {}): FakeCore {
  const stats = new RouterStats();
  const realm1 = new Realm({ name: 'realm1', uriCheck: 'loose' }, silentLogger(), undefined, stats);
  let next = 100;
  const released: SessionId[] = [];
  return {
    sessionLog: silentLogger(),
    sequentialRequestIds: true,
    authTimeoutMs: options.authTimeoutMs ?? 10_000,
    stats,
    realm1,
    released,
    realm: (name) => (name === 'realm1' ? realm1 : undefined),
    newSessionId: () => ++next as SessionId,
    releaseSessionId: (id) => void released.push(id),
    resumption: new Resumption({ stats, log: silentLogger() }),
  };
}

/** A logger at `warn` whose lines are kept, parsed. */
export function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

/** Timers that fire only when the test says the time has come. */
export class ManualClock implements ResumeClock {
  time = 1_000;
  readonly #timers = new Set<{ at: number; fn: () => void }>();
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, fn };
    this.#timers.add(timer);
    return timer;
  }
  clearTimeout(timer: unknown): void {
    this.#timers.delete(timer as { at: number; fn: () => void });
  }
  advance(ms: number): void {
    this.time += ms;
    for (const t of [...this.#timers]) {
      if (t.at <= this.time) {
        this.#timers.delete(t);
        t.fn();
      }
    }
  }
}
