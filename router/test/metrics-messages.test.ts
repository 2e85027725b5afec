/**
 * Issue #15, item 4: /metrics counts every WAMP message type a router receives and every one it
 * sends — INVOCATION and RESULT included, which once bypassed the counters (they were sent by
 * calls.ts straight to the peer). One router, raw peers, every message type on the wire exactly
 * once per direction where the test can make it so; then the scrape is compared type by type.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from './helpers.js';

const ROLES = {
  publisher: {},
  subscriber: {},
  caller: { features: { call_canceling: true } },
  callee: { features: { call_canceling: true } },
};

/** Every sample of a metric family, by its `type` label. */
async function byType(url: string, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(url)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{type="([a-z_]+)"\\} (\\d+)`).exec(line);
    if (m !== null) counts[m[1]!] = Number(m[2]);
  }
  return counts;
}

describe('/metrics counts every message type', () => {
  it('in and out, one of each', async () => {
    const router = await startTestRouter({
      metrics: { port: 0 },
      listeners: [
        {
          type: 'websocket',
          auth: { anonymous: { type: 'static', role: 'anonymous' }, ticket: { type: 'static', principals: { joe: { ticket: 'secret', role: 'anonymous' } } } },
        },
      ],
    });

    // HELLO → ABORT (no such realm).
    const refused = await RawPeer.connect(router.url);
    refused.send([MessageCode.Hello, 'nowhere', { roles: ROLES }]);
    expect((await refused.next())[0]).toBe(MessageCode.Abort);
    await refused.waitClosed();

    // HELLO → CHALLENGE → AUTHENTICATE → WELCOME: the callee.
    const callee = await RawPeer.connect(router.url);
    callee.send([MessageCode.Hello, 'realm1', { roles: ROLES, authmethods: ['ticket'], authid: 'joe' }]);
    expect((await callee.next())[0]).toBe(MessageCode.Challenge);
    callee.send([MessageCode.Authenticate, 'secret', {}]);
    expect((await callee.next())[0]).toBe(MessageCode.Welcome);

    // HELLO → WELCOME: the caller (anonymous).
    const caller = await RawPeer.connect(router.url);
    caller.send([MessageCode.Hello, 'realm1', { roles: ROLES, authmethods: ['anonymous'] }]);
    expect((await caller.next())[0]).toBe(MessageCode.Welcome);

    // REGISTER → REGISTERED.
    callee.send([MessageCode.Register, callee.nextRequest(), {}, 'com.example.echo']);
    const registered = await callee.next();
    expect(registered[0]).toBe(MessageCode.Registered);

    // CALL → INVOCATION → YIELD → RESULT.
    const call1 = caller.nextRequest();
    caller.send([MessageCode.Call, call1, {}, 'com.example.echo', [1]]);
    const invocation = await callee.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    callee.send([MessageCode.Yield, invocation[1], {}, [1]]);
    expect(await caller.next()).toEqual([MessageCode.Result, call1, {}, [1]]);

    // CALL → INVOCATION, CANCEL (kill) → INTERRUPT, callee ERROR → caller ERROR.
    const call2 = caller.nextRequest();
    caller.send([MessageCode.Call, call2, {}, 'com.example.echo', [2]]);
    const invocation2 = await callee.next();
    expect(invocation2[0]).toBe(MessageCode.Invocation);
    caller.send([MessageCode.Cancel, call2, { mode: 'kill' }]);
    const interrupt = await callee.next();
    expect(interrupt[0]).toBe(MessageCode.Interrupt);
    callee.send([MessageCode.Error, MessageCode.Invocation, invocation2[1], {}, 'wamp.error.canceled']);
    expect(await caller.next()).toEqual([MessageCode.Error, MessageCode.Call, call2, {}, 'wamp.error.canceled']);

    // UNREGISTER → UNREGISTERED.
    callee.send([MessageCode.Unregister, callee.nextRequest(), registered[2]]);
    expect((await callee.next())[0]).toBe(MessageCode.Unregistered);

    // SUBSCRIBE → SUBSCRIBED; PUBLISH (acknowledged) → PUBLISHED and EVENT.
    callee.send([MessageCode.Subscribe, callee.nextRequest(), {}, 'com.example.topic']);
    const subscribed = await callee.next();
    expect(subscribed[0]).toBe(MessageCode.Subscribed);
    caller.send([MessageCode.Publish, caller.nextRequest(), { acknowledge: true }, 'com.example.topic', ['hi']]);
    expect((await caller.next())[0]).toBe(MessageCode.Published);
    expect((await callee.next())[0]).toBe(MessageCode.Event);

    // UNSUBSCRIBE → UNSUBSCRIBED.
    callee.send([MessageCode.Unsubscribe, callee.nextRequest(), subscribed[2]]);
    expect((await callee.next())[0]).toBe(MessageCode.Unsubscribed);

    // GOODBYE → GOODBYE.
    caller.send([MessageCode.Goodbye, {}, 'wamp.close.close_realm']);
    expect((await caller.next())[0]).toBe(MessageCode.Goodbye);

    const received = await byType(router.metricsUrl!, 'switchboard_messages_in_total');
    const sent = await byType(router.metricsUrl!, 'switchboard_messages_out_total');
    expect(received).toMatchObject({
      hello: 3,
      authenticate: 1,
      register: 1,
      call: 2,
      yield: 1,
      cancel: 1,
      error: 1,
      unregister: 1,
      subscribe: 1,
      publish: 1,
      unsubscribe: 1,
      goodbye: 1,
    });
    expect(sent).toMatchObject({
      abort: 1,
      challenge: 1,
      welcome: 2,
      registered: 1,
      invocation: 2,
      result: 1,
      interrupt: 1,
      error: 1,
      unregistered: 1,
      subscribed: 1,
      published: 1,
      event: 1,
      unsubscribed: 1,
      goodbye: 1,
    });
  });
});
