/**
 * Adversarial review of the client's session resumption (#18) against the real router: F8 of
 * /work/prompts18/findings-client.md. FAILS on main.
 */
import { describe, expect, it } from 'vitest';
import { startTestRouter } from '../../router/test/helpers.js';
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
});
