/**
 * The outbound budget (transports/outbound.ts), the one backpressure policy of every transport:
 * past the soft limit EVENTs are dropped and counted, a backlog past the hard limit or a peer that
 * keeps dropping for longer than the drain timeout is cut off, and a lone frame on an empty queue
 * always goes. An injected clock: no sockets, no sleeps.
 */
import { describe, expect, it } from 'vitest';
import { OutboundBudget, OutboundCounters } from '../../src/transports/outbound.js';
import type { OutboundLimits } from '../../src/transports/outbound.js';

const LIMITS: OutboundLimits = { softLimitBytes: 1000, hardLimitBytes: 4000, drainTimeoutMs: 500 };

/** A budget on a clock the test moves (it starts far from 0, as Date.now does). */
function budget(limits: OutboundLimits = LIMITS): { budget: OutboundBudget; counters: OutboundCounters; advance: (ms: number) => void } {
  let now = 1_700_000_000_000;
  const counters = new OutboundCounters();
  return { budget: new OutboundBudget(limits, counters, () => now), counters, advance: (ms) => (now += ms) };
}

describe('OutboundBudget: frames that cannot be dropped (RESULT, INVOCATION, ERROR…)', () => {
  it('are sent while the backlog stays within the hard limit, and counted in bytesOut', () => {
    const { budget: b, counters } = budget();
    expect(b.judge(0, 100, false)).toBe('send');
    expect(b.judge(3900, 100, false)).toBe('send');
    expect(counters.bytesOut).toBe(200);
    expect(counters.eventsDropped).toBe(0);
  });

  it('cut the peer off when they would take a backlog past the hard limit; nothing is counted as sent', () => {
    const { budget: b, counters } = budget();
    expect(b.judge(3901, 100, false)).toBe('cutoff');
    expect(counters.bytesOut).toBe(0);
  });

  it('go through on an empty queue whatever their size (a lone frame is not a backlog)', () => {
    const { budget: b, counters } = budget();
    expect(b.judge(0, 10_000, false)).toBe('send');
    expect(counters.bytesOut).toBe(10_000);
  });

  it('room: what can still be queued before the hard limit (a catch-up asks before it queues at once)', () => {
    const { budget: b } = budget();
    expect(b.room(0)).toBe(4000);
    expect(b.room(3900)).toBe(100);
    expect(b.room(5000)).toBe(0);
    // What room allows is sent; one byte more is cut off.
    expect(b.judge(3900, b.room(3900), false)).toBe('send');
    expect(b.judge(3900, b.room(3900) + 1, false)).toBe('cutoff');
  });
});

describe('OutboundBudget: droppable frames (EVENT)', () => {
  it('are sent up to the soft limit, dropped past it, and the drops are counted', () => {
    const { budget: b, counters } = budget();
    expect(b.judge(900, 100, true)).toBe('send');
    expect(b.judge(901, 100, true)).toBe('drop');
    expect(b.judge(2000, 50, true)).toBe('drop');
    expect(counters).toMatchObject({ bytesOut: 100, eventsDropped: 2, bytesDropped: 150, peersCutOff: 0 });
  });

  it('go through on an empty queue even past the soft limit', () => {
    const { budget: b } = budget();
    expect(b.judge(0, 5000, true)).toBe('send');
  });

  it('are dropped when the queue says it is full by a measure of its own (long-poll message count), even when empty', () => {
    const { budget: b, counters } = budget();
    expect(b.judge(0, 10, true, true)).toBe('drop');
    expect(b.judge(10, 10, true, true)).toBe('drop');
    expect(counters.eventsDropped).toBe(2);
  });

  it('get a peer that keeps dropping for longer than drainTimeoutMs after its first drop cut off', () => {
    const { budget: b, advance } = budget();
    expect(b.judge(2000, 10, true)).toBe('drop');
    advance(500);
    expect(b.judge(2000, 10, true)).toBe('drop'); // exactly the timeout: not yet
    advance(1);
    expect(b.judge(2000, 10, true)).toBe('cutoff');
  });

  it('restart the drain timer once an EVENT is sent again (the peer caught up)', () => {
    const { budget: b, advance } = budget();
    expect(b.judge(2000, 10, true)).toBe('drop');
    advance(400);
    expect(b.judge(0, 10, true)).toBe('send');
    advance(400);
    expect(b.judge(2000, 10, true)).toBe('drop'); // a new first drop
    advance(400);
    expect(b.judge(2000, 10, true)).toBe('drop');
    advance(101);
    expect(b.judge(2000, 10, true)).toBe('cutoff');
  });

  it('never cut a peer off for slowness when drainTimeoutMs is 0', () => {
    const { budget: b, advance } = budget({ ...LIMITS, drainTimeoutMs: 0 });
    expect(b.judge(2000, 10, true)).toBe('drop');
    advance(3_600_000);
    expect(b.judge(2000, 10, true)).toBe('drop');
  });

  it('keep one peer’s drain timer to itself: another budget on the same counters is unaffected', () => {
    let now = 1_700_000_000_000;
    const counters = new OutboundCounters();
    const slow = new OutboundBudget(LIMITS, counters, () => now);
    const fast = new OutboundBudget(LIMITS, counters, () => now);
    expect(slow.judge(2000, 10, true)).toBe('drop');
    now += 600;
    expect(fast.judge(2000, 10, true)).toBe('drop');
    expect(slow.judge(2000, 10, true)).toBe('cutoff');
    expect(counters.eventsDropped).toBe(2);
  });
});
