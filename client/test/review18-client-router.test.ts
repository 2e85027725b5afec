/**
 * Adversarial review of the client's session resumption (#18) against the real router: F8 of
 * /work/prompts18/findings-client.md (F1 and F8). FAIL on main.
 */
import { describe, expect, it } from 'vitest';
import { startTestRouter } from '../../router/test/helpers.js';
import type { EventDetails } from '@switchboard/client';
import { Proxy, open, openConnection, uri, within } from './helpers.js';

const FAST = { initialDelayMs: 30, maxDelayMs: 100, jitter: 0 };

describe('review of the client’s session resumption with the router (#18)', () => {
  it('F8: close() while reconnecting leaves the session detached on the router for resumeWindowMs: its single registration blocks every other callee', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const port = router.addresses[0]!.port;
    const proxy = await Proxy.start(port);
    const proxied = router.url.replace(`:${port}`, `:${proxy.port}`);
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const procedure = uri('owned');
    await connection.session.register(procedure, () => 'old');
    const lost = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    proxy.refuseNew = true;
    proxy.cut();
    await within(lost, 3000, 'the cut');
    // The router is reachable again, the client waits for its next attempt: the application closes
    // the connection for good (a user logs out, a process stops).
    proxy.refuseNew = false;
    expect(connection.state).toBe('reconnecting');
    await within(connection.close(), 5000, 'close');
    // Its replacement registers the same procedure: the old session should be gone.
    const other = await open(router.url);
    const outcome = await other
      .register(procedure, () => 'new')
      .then(
        () => 'registered',
        (err: unknown) => (err as { uri?: string }).uri ?? String(err),
      );
    expect(outcome).toBe('registered');
  });

  it('F8: close() while reconnecting to a router that cannot be reached: one bounded attempt, then closed anyway', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1' }] });
    const port = router.addresses[0]!.port;
    const proxy = await Proxy.start(port);
    const connection = await openConnection({ url: router.url.replace(`:${port}`, `:${proxy.port}`), realm: 'realm1', reconnect: FAST, goodbyeTimeoutMs: 500 });
    const lost = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    proxy.refuseNew = true;
    proxy.cut();
    await within(lost, 3000, 'the cut');
    const closed = new Promise<unknown>((resolve) => connection.once('close', resolve));
    await within(connection.close(), 3000, 'close');
    expect(connection.state).toBe('closed');
    expect(await closed).toMatchObject({ reason: 'left', willReconnect: false });
  });
  it('F1 (with the router): no event seen before the cut, a publisher that keeps publishing: the catch-up `{last: missed}` replays the newest, the oldest missed are lost without a gap notice', async () => {
    const KEPT = 'com.client.kept';
    const router = await startTestRouter({ realms: [{ name: 'realm1', eventHistory: [{ topic: KEPT, match: 'prefix', limit: 1000 }] }] });
    const port = router.addresses[0]!.port;
    const proxy = await Proxy.start(port);
    const proxied = router.url.replace(`:${port}`, `:${proxy.port}`);
    const other = await open(router.url);
    const connection = await openConnection({ url: proxied, realm: 'realm1', reconnect: FAST });
    const topic = uri('kept').replace('com.client', KEPT);
    const got: { n: number; details: EventDetails }[] = [];
    let wanted = -1;
    let arrived: () => void = () => {};
    const last = new Promise<void>((resolve) => (arrived = resolve));
    await connection.session.subscribe(topic, (args, _k, details) => {
      got.push({ n: args[0] as number, details });
      if (args[0] === wanted) arrived();
    });
    const lost = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    proxy.refuseNew = true;
    proxy.cut();
    await within(lost, 3000, 'the cut');
    // Missed for sure: published while the client cannot come back.
    let n = 0;
    for (; n < 5; n++) await other.publish(topic, [n], {}, { acknowledge: true });
    // The publisher goes on while the client resumes and catches up.
    let resumed = false;
    connection.once('resumed', () => {
      resumed = true;
    });
    proxy.refuseNew = false;
    const until = Date.now() + 5000;
    while (!resumed && Date.now() < until) await other.publish(topic, [n++], {}, { acknowledge: true });
    for (let i = 0; i < 20; i++) await other.publish(topic, [n++], {}, { acknowledge: true });
    const total = n;
    wanted = total - 1;
    if (got.some((e) => e.n === wanted)) arrived();
    await within(last, 5000, 'the last event');
    // The lead's decision: the router has no position for a subscription that saw no event, so the
    // catch-up asks `{last: missed}`; the live events that reached the client before the replay
    // pushed as many of the oldest missed ones out of it. Every event from the first delivered on,
    // once, in order; those before it said (gap, missed: how many), never a silent hole.
    const numbers = got.map((e) => e.n);
    const first = numbers[0]!;
    expect(numbers).toEqual(Array.from({ length: total - first }, (_, i) => first + i));
    if (first > 0) expect(got[0]!.details).toMatchObject({ gap: true, missed: first });
    else expect(got[0]!.details.gap).toBeUndefined();
    expect(got.slice(1).some((e) => e.details.gap === true)).toBe(false);
  });
});
