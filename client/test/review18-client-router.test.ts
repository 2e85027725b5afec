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
    // The application gives up: it closes the connection for good (a user logs out, a process stops).
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
    await connection.session.subscribe(topic, (args, _k, details) => {
      got.push({ n: args[0] as number, details });
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
    await within(
      (async () => {
        while (!got.some((e) => e.n === total - 1)) await new Promise((r) => setTimeout(r, 10));
      })(),
      5000,
      'the last event',
    );
    const numbers = got.map((e) => e.n);
    const complete = numbers.join() === Array.from({ length: total }, (_, i) => i).join();
    const gapSaid = got.some((e) => e.details.gap === true);
    expect({ first: numbers.slice(0, 8), complete, gapSaid }).toEqual({ first: [0, 1, 2, 3, 4, 5, 6, 7], complete: true, gapSaid: false });
  });
});
