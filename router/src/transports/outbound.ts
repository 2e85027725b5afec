/**
 * Outbound backpressure policy, shared by every transport. Past the soft limit, droppable frames
 * (EVENTs) are dropped for that peer and counted; a frame that would take the queue past the hard
 * limit, or a peer that keeps dropping for longer than the drain timeout, gets the peer cut off.
 * One slow consumer never grows the router's memory without bound.
 */

export interface OutboundLimits {
  /** Queued bytes above which EVENTs to this peer are dropped. */
  softLimitBytes: number;
  /** Queued bytes above which the peer is disconnected. */
  hardLimitBytes: number;
  /** A peer that is still over the soft limit this long after its first drop is disconnected. 0: never. */
  drainTimeoutMs: number;
}

export const DEFAULT_OUTBOUND_LIMITS: Readonly<OutboundLimits> = {
  softLimitBytes: 4 * 1024 * 1024,
  hardLimitBytes: 16 * 1024 * 1024,
  drainTimeoutMs: 60_000,
};

/** Counters the router exposes (later as /metrics). */
export class OutboundCounters {
  /** Bytes of messages accepted for sending (framing included where the transport frames). */
  bytesOut = 0;
  /** Bytes of messages received, before decoding. */
  bytesIn = 0;
  eventsDropped = 0;
  bytesDropped = 0;
  peersCutOff = 0;
  /** Messages longer than the receiving peer accepts (a RawSocket client's announced maximum): never truncated. */
  messagesTooLarge = 0;
}

export type Verdict = 'send' | 'drop' | 'cutoff';

/** Reason given when a peer is cut off (logged, and the WebSocket close reason where one can be sent). */
export const SLOW_CONSUMER_REASON = 'switchboard.close.slow_consumer';

/** Per-peer state of the policy. */
export class OutboundBudget {
  #overSoftSince = 0;

  constructor(
    private readonly limits: OutboundLimits,
    private readonly counters: OutboundCounters,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * `full`: the queue is past a limit of its own other than bytes (long-poll's message count), so
   * a droppable frame is treated as over the soft limit.
   */
  /**
   * Bytes of must-arrive messages that can still be queued after `queuedBytes` before the hard
   * limit cuts the peer off. A catch-up asks before it queues its replay and held events in one
   * synchronous block (realm/pubsub.ts), so it can refuse the SUBSCRIBE instead of losing the peer.
   */
  room(queuedBytes: number): number {
    return Math.max(0, this.limits.hardLimitBytes - queuedBytes);
  }

  judge(queuedBytes: number, frameBytes: number, droppable: boolean, full = false): Verdict {
    const after = queuedBytes + frameBytes;
    // The limits bound a backlog: a frame on an empty queue is sent whatever its size (it is no
    // larger than a message some listener accepted, plus its envelope), so one EVENT past the soft
    // limit or one RESULT past the hard limit (up to maxMessageBytes, 16 MiB by default) gets
    // through to a peer that keeps up. Memory per peer stays under the hard limit plus one message.
    const lone = queuedBytes === 0;
    if (!droppable) {
      if (after > this.limits.hardLimitBytes && !lone) return 'cutoff';
      this.counters.bytesOut += frameBytes;
      return 'send';
    }
    if ((after <= this.limits.softLimitBytes || lone) && !full) {
      this.#overSoftSince = 0;
      this.counters.bytesOut += frameBytes;
      return 'send';
    }
    const now = this.clock();
    if (this.#overSoftSince === 0) this.#overSoftSince = now;
    else if (this.limits.drainTimeoutMs > 0 && now - this.#overSoftSince > this.limits.drainTimeoutMs) return 'cutoff';
    this.counters.eventsDropped++;
    this.counters.bytesDropped += frameBytes;
    return 'drop';
  }
}
