/**
 * A role whose decisions come from a WAMP procedure (Crossbar's contract):
 * authorize(session, uri, action, options) → bool or {allow, disclose, cache}.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter } from '../helpers.js';

const { Error: ERROR, Invocation, Publish, Published, Register, Registered, Subscribe, Subscribed, Yield } = MessageCode;

const config: RouterConfigFile = {
  listeners: [
    { type: 'websocket', auth: { anonymous: { role: 'user' } } },
    { type: 'websocket', path: '/backend', auth: { anonymous: { role: 'backend' } } },
  ],
  realms: [
    {
      name: 'realm1',
      roles: [
        { name: 'user', authorizer: 'com.example.authorize' },
        { name: 'backend', permissions: [{ uri: 'com.example.', match: 'prefix', allow: { register: true } }] },
      ],
    },
  ],
};

describe('dynamic authorizer', () => {
  it('asks the procedure, applies allow/deny/disclose, caches only what it may, and fails closed', async () => {
    const router = await startTestRouter(config);
    const backend = await RawPeer.join(router.addresses[1]!.url, 'msgpack');
    backend.send([Register, backend.nextRequest(), {}, 'com.example.authorize']);
    expect((await backend.next())[0]).toBe(Registered);
    const user = await RawPeer.join(router.url);

    // 1. subscribe: the authorizer sees (session details, uri, action, options) and allows, cacheable.
    let request = user.nextRequest();
    user.send([Subscribe, request, {}, 'com.news']);
    const [, inv1, , , args1] = await backend.next();
    expect(args1).toEqual([expect.objectContaining({ session: user.session, authrole: 'user' }), 'com.news', 'subscribe', {}]);
    backend.send([Yield, inv1, {}, [true]]);
    expect((await user.next())[0]).toBe(Subscribed);

    // 2. publish: denied with a dict answer, not cached, so asked again next time.
    for (let i = 0; i < 2; i++) {
      request = user.nextRequest();
      user.send([Publish, request, { acknowledge: true }, 'com.news', [i]]);
      const [, inv, , , args] = await backend.next();
      expect(args).toEqual([expect.anything(), 'com.news', 'publish', expect.anything()]);
      backend.send([Yield, inv, {}, [{ allow: false }]]);
      expect(await user.next()).toEqual([ERROR, Publish, request, {}, 'wamp.error.not_authorized', [expect.any(String)]]);
    }

    // 3. the cached subscribe decision: no second question.
    request = user.nextRequest();
    user.send([Subscribe, request, { match: 'exact' }, 'com.news']);
    expect((await user.next())[0]).toBe(Subscribed);
    expect(await backend.silentFor(50)).toBe(true);

    // 4. the authorizer fails → wamp.error.authorization_failed; messages after it keep their order.
    request = user.nextRequest();
    user.send([Publish, request, { acknowledge: true }, 'com.fail']);
    const next = user.nextRequest();
    user.send([Publish, next, { acknowledge: true }, 'com.after']);
    const [, inv3] = await backend.next();
    backend.send([ERROR, Invocation, inv3, {}, 'com.example.oops']);
    expect(await user.next()).toEqual([ERROR, Publish, request, {}, 'wamp.error.authorization_failed', [expect.any(String)]]);
    const [, inv4, , , args4] = await backend.next();
    expect(args4).toEqual([expect.anything(), 'com.after', 'publish', expect.anything()]);
    backend.send([Yield, inv4, {}, [{ allow: true, disclose: true }]]);
    expect(await user.next()).toEqual([Published, next, expect.any(Number)]);
  });
});
