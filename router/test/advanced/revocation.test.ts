/**
 * Subscription and registration revocation [ap_29, ap_rpc_registration_revocation] through the
 * router's admin procedures wamp.subscription.remove_subscriber and
 * wamp.registration.remove_callee: UNSUBSCRIBED/UNREGISTERED with request 0 only for peers that
 * announced the feature; the meta events fire either way.
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import { startTestRouter, within } from '../helpers.js';
import { SERIALIZERS, autobahnCallError, autobahnInbox, autobahnPublish, connectAutobahn, connectWampy, exactNumbers, wampyInbox } from '../interop/clients.js';
import { Raw } from './support.js';

describe('subscription revocation: frames', () => {
  it('a subscriber that announced subscription_revocation gets [UNSUBSCRIBED, 0, {subscription, reason}] and no more events', async () => {
    const router = await startTestRouter();
    const [admin, publisher] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const subscriber = await Raw.join(router.url, { subscriber: ['subscription_revocation'] });
    const revoked = await subscriber.subscribe('com.rev.topic');
    await subscriber.subscribe('com.rev.marker');
    await admin.subscribe('wamp.subscription.on_unsubscribe');
    await admin.subscribe('wamp.subscription.on_delete');
    const request = admin.call('wamp.subscription.remove_subscriber', [revoked, subscriber.session, 'no longer authorized']);
    expect(await subscriber.next()).toEqual([MessageCode.Unsubscribed, 0, { subscription: revoked, reason: 'no longer authorized' }]);
    // The meta events, then the procedure's empty RESULT.
    expect((await admin.event()).args).toEqual([subscriber.session, revoked]);
    expect((await admin.event()).args).toEqual([subscriber.session, revoked]);
    expect(await admin.next()).toEqual([MessageCode.Result, request, {}]);
    await publisher.publish('com.rev.topic', ['after']);
    await publisher.publish('com.rev.marker', ['marker']);
    expect((await subscriber.event()).args).toEqual(['marker']);
  });

  it('the reason may come as a keyword argument, or not at all', async () => {
    const router = await startTestRouter();
    const admin = await Raw.join(router.url);
    const subscriber = await Raw.join(router.url, { subscriber: ['subscription_revocation'] });
    const a = await subscriber.subscribe('com.rev.a');
    const b = await subscriber.subscribe('com.rev.b');
    await admin.callResult('wamp.subscription.remove_subscriber', [a, subscriber.session], { reason: 'by kwarg' });
    expect(await subscriber.next()).toEqual([MessageCode.Unsubscribed, 0, { subscription: a, reason: 'by kwarg' }]);
    await admin.callResult('wamp.subscription.remove_subscriber', [b, subscriber.session]);
    expect(await subscriber.next()).toEqual([MessageCode.Unsubscribed, 0, { subscription: b }]);
  });

  it('a subscriber that did not announce it is told nothing, but gets no more events; others on the subscription keep it', async () => {
    const router = await startTestRouter();
    const [admin, publisher, silent, other] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const subscription = await silent.subscribe('com.rev.shared');
    expect(await other.subscribe('com.rev.shared')).toBe(subscription);
    await silent.subscribe('com.rev.marker');
    await admin.callResult('wamp.subscription.remove_subscriber', [subscription, silent.session, 'quietly']);
    await publisher.publish('com.rev.shared', ['after']);
    await publisher.publish('com.rev.marker', ['marker']);
    expect((await silent.event()).args).toEqual(['marker']); // neither UNSUBSCRIBED nor the event came first
    expect((await other.event()).args).toEqual(['after']);
    expect(await admin.meta('wamp.subscription.list_subscribers', [subscription])).toEqual([other.session]);
  });

  it('errors: unknown session no_such_session; unknown subscription, or one the session does not hold, no_such_subscription', async () => {
    const router = await startTestRouter();
    const [admin, subscriber, bystander] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const subscription = await subscriber.subscribe('com.rev.err');
    expect(await admin.metaError('wamp.subscription.remove_subscriber', [subscription, 4242])).toBe(ErrorUri.NoSuchSession);
    expect(await admin.metaError('wamp.subscription.remove_subscriber', [4242, subscriber.session])).toBe(ErrorUri.NoSuchSubscription);
    expect(await admin.metaError('wamp.subscription.remove_subscriber', [subscription, bystander.session])).toBe(ErrorUri.NoSuchSubscription);
  });
});

describe('registration revocation: frames', () => {
  it('a callee that announced registration_revocation gets [UNREGISTERED, 0, {registration, reason}]; calls find no procedure', async () => {
    const router = await startTestRouter();
    const admin = await Raw.join(router.url);
    const callee = await Raw.join(router.url, { callee: ['registration_revocation'] });
    const registration = await callee.register('com.rev.proc');
    await admin.subscribe('wamp.registration.on_unregister');
    await admin.subscribe('wamp.registration.on_delete');
    const request = admin.call('wamp.registration.remove_callee', [registration, callee.session, 'moving endpoint to other callee']);
    expect(await callee.next()).toEqual([MessageCode.Unregistered, 0, { registration, reason: 'moving endpoint to other callee' }]);
    expect((await admin.event()).args).toEqual([callee.session, registration]);
    expect((await admin.event()).args).toEqual([callee.session, registration]);
    expect(await admin.next()).toEqual([MessageCode.Result, request, {}]);
    expect((await admin.callError('com.rev.proc'))[4]).toBe(ErrorUri.NoSuchProcedure);
  });

  it('a callee that did not announce it is told nothing; with a shared registration the others keep serving', async () => {
    const router = await startTestRouter();
    const [admin, silent, other] = await Promise.all([Raw.join(router.url), Raw.join(router.url), Raw.join(router.url)]);
    const registration = await silent.register('com.rev.shared', { invoke: 'roundrobin' });
    await other.register('com.rev.shared', { invoke: 'roundrobin' });
    await admin.callResult('wamp.registration.remove_callee', [registration, silent.session]);
    for (let i = 0; i < 2; i++) {
      const request = admin.call('com.rev.shared', [i]);
      const invocation = await other.invocation();
      other.yield(invocation.request, [i]);
      expect(await admin.next()).toEqual([MessageCode.Result, request, {}, [i]]);
    }
    expect(await silent.silentFor(50)).toBe(true);
    expect(await admin.metaError('wamp.registration.remove_callee', [registration, silent.session])).toBe(ErrorUri.NoSuchRegistration);
    expect(await admin.metaError('wamp.registration.remove_callee', [registration, 4242])).toBe(ErrorUri.NoSuchSession);
    expect(await admin.metaError('wamp.registration.remove_callee', [4242, other.session])).toBe(ErrorUri.NoSuchRegistration);
  });
});

describe.each(SERIALIZERS)('revocation with clients over %s', (serializer) => {
  it('autobahn (announces both features): on_unsubscribe and on_unregister resolve with the reason', async () => {
    const router = await startTestRouter();
    const [admin, client] = await Promise.all([Raw.join(router.url), connectAutobahn(router.url, serializer)]);
    const { subscription } = await autobahnInbox(client, 'com.rev.autobahn');
    const registration = await within(
      client.session.register('com.rev.autobahn', () => 'x'),
      3000,
      'REGISTERED',
    );
    await admin.callResult('wamp.subscription.remove_subscriber', [subscription.id, client.session.id, 'sub revoked']);
    await admin.callResult('wamp.registration.remove_callee', [registration.id, client.session.id, 'reg revoked']);
    expect(await within(subscription.on_unsubscribe, 3000, 'on_unsubscribe')).toBe('sub revoked');
    expect(await within(registration.on_unregister, 3000, 'on_unregister')).toBe('reg revoked');
    expect([subscription.active, registration.active]).toEqual([false, false]);
    expect((await autobahnCallError(client.session.call('com.rev.autobahn'))).error).toBe(ErrorUri.NoSuchProcedure);
  });

  it('wampy (announces neither): nothing is sent to it, its events stop', async () => {
    const router = await startTestRouter();
    const [admin, publisher, client] = await Promise.all([Raw.join(router.url), connectAutobahn(router.url, serializer), connectWampy(router.url, serializer)]);
    const revoked = await wampyInbox(client, 'com.rev.wampy');
    const marker = await wampyInbox(client, 'com.rev.marker');
    await admin.callResult('wamp.subscription.remove_subscriber', [exactNumbers(revoked.subscriptionId), exactNumbers(client.wampy.getSessionId()), 'gone']);
    await autobahnPublish(publisher, 'com.rev.wampy', ['after']);
    await autobahnPublish(publisher, 'com.rev.marker', ['marker']);
    expect((await marker.inbox.next()).argsList).toEqual(['marker']);
    expect(revoked.inbox.all).toEqual([]);
    expect(client.errors).toEqual([]);
  });
});
