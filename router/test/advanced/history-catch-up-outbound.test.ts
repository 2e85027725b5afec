/**
 * R1 of #17's second review: a catch-up answers in one synchronous block (SUBSCRIBED, replay,
 * retained event, held live events), all must-arrive. Within every catch-up limit that block could
 * still pass the connection's outbound hard limit and cut the subscriber off (1006, SUBSCRIBED
 * lost). The SUBSCRIBE is refused instead when it will not fit; the session goes on.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '../../src/config/config.js';
import { startTestRouter } from '../helpers.js';
import { Raw } from './support.js';
import { TestHistory } from '../../../test/support/catch-up.js';

/** The review's scenario: a 3.9 MB retained event, a 4 MB replay, 15 × 1 MB published during the read. */
async function bigCatchUp(config: RouterConfigFile): Promise<{ answer: unknown[]; subscriber: Raw; publisher: Raw; metrics: string }> {
  const history = new TestHistory();
  history.snapshot = 'early';
  const router = await startTestRouter({ metrics: { port: 0 }, ...config }, [history]);
  const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
  const mb = 'x'.repeat(1_000_000);
  await publisher.publish('com.cu.t', ['retained', 'y'.repeat(3_900_000)], {}, { retain: true });
  for (let i = 0; i < 4; i++) await publisher.publish('com.cu.t', [i, mb]);
  const release = history.pause();
  const reading = history.reading();
  const request = subscriber.nextRequest();
  subscriber.send([MessageCode.Subscribe, request, { history: { last: 4 }, get_retained: true }, 'com.cu.t']);
  await reading;
  for (let i = 0; i < 15; i++) await publisher.publish('com.cu.t', [`live${i}`, mb]);
  release();
  const first = await Promise.race([subscriber.next(20_000), subscriber.peer.closed.then((c) => ({ closed: c }))]);
  if (!Array.isArray(first)) throw new Error(`the subscriber was cut off: ${JSON.stringify(first.closed)}`);
  expect(first.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Subscribe, request, {}, 'switchboard.error.limit_exceeded']);
  const metrics = await (await fetch(router.metricsUrl!)).text();
  return { answer: first, subscriber, publisher, metrics };
}

describe('a catch-up that would pass the outbound hard limit (R1 of the second review)', () => {
  it('within maxCatchUpBytes but past outbound.hardLimitBytes: ERROR limit_exceeded {limit: outboundHardLimitBytes}, counted, undone, the session lives on', async () => {
    const { answer, subscriber, publisher, metrics } = await bigCatchUp({ realms: [{ name: 'realm1', limits: { maxCatchUpBytes: 16 * 1024 * 1024 } }] });
    const kwargs = answer[6] as { limit: string; value: number };
    expect(kwargs.limit).toBe('outboundHardLimitBytes');
    expect(kwargs.value).toBeGreaterThan(0);
    expect(kwargs.value).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(metrics).toContain('switchboard_limits_exceeded_total{limit="outboundHardLimitBytes"} 1');
    expect(await subscriber.meta('wamp.subscription.lookup', ['com.cu.t'])).toBeNull();
    // The connection is still open: a small catch-up-less SUBSCRIBE works, and its events arrive.
    const subscription = await subscriber.subscribe('com.cu.small');
    const publication = await publisher.publish('com.cu.small', ['hi']);
    const event = await subscriber.next(5_000);
    expect(event.slice(0, 3)).toEqual([MessageCode.Event, subscription, publication]);
  }, 90_000);

  it('with the defaults (maxCatchUpBytes 8 MiB): the review scenario is refused, not cut off', async () => {
    const { answer } = await bigCatchUp({});
    expect(answer[6]).toEqual({ limit: 'maxCatchUpBytes', value: 8 * 1024 * 1024 });
  }, 90_000);
});
