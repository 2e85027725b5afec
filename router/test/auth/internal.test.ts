import { describe, expect, it } from 'vitest';
import { MessageCode, WampError } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from '../helpers.js';

describe('the router’s own caller', () => {
  it('calls a procedure registered by a component, gets its result or its error, and stays out of the meta API', async () => {
    const router = await startTestRouter({
      realms: [
        {
          name: 'realm1',
          roles: [
            {
              name: 'anonymous',
              permissions: [
                { uri: 'com.', match: 'prefix', allow: { register: true, call: true } },
                { uri: 'wamp.session.', match: 'prefix', allow: { call: true } },
              ],
            },
          ],
        },
      ],
    });
    const component = await RawPeer.join(router.url, 'cbor');
    component.send([MessageCode.Register, component.nextRequest(), {}, 'com.auth.check']);
    expect((await component.next())[0]).toBe(MessageCode.Registered);
    const caller = router.internalCaller('realm1');
    const answered = caller.call('com.auth.check', ['realm1', 'joe'], { ticket: 'x' }, 2000);
    const invocation = await component.next();
    expect(invocation[4]).toEqual(['realm1', 'joe']);
    expect(invocation[5]).toEqual({ ticket: 'x' });
    component.send([MessageCode.Yield, invocation[1], {}, ['user'], { extra: 1 }]);
    expect(await answered).toEqual({ args: ['user'], kwargs: { extra: 1 } });

    const refused = caller.call('com.auth.check', [], {}, 2000);
    const second = await component.next();
    component.send([MessageCode.Error, MessageCode.Invocation, second[1], {}, 'com.auth.denied', ['no']]);
    await expect(refused).rejects.toEqual(new WampError('com.auth.denied', ['no']));
    await expect(caller.call('com.nobody', [], {}, 2000)).rejects.toMatchObject({ uri: 'wamp.error.no_such_procedure' });

    // The meta API does not list the router's own session.
    component.send([MessageCode.Call, component.nextRequest(), {}, 'wamp.session.count']);
    expect((await component.next())[3]).toEqual([1]);
  });
});
