/**
 * WELCOME announces exactly the Advanced Profile features the router implements, on both roles,
 * over every serializer; the clients see them too. [ap_02_features]
 */
import { describe, expect, it } from 'vitest';
import { startTestRouter } from '../helpers.js';
import { SERIALIZERS, connectAutobahn, connectWampy } from '../interop/clients.js';
import { Raw, asDict } from './support.js';

const BROKER_FEATURES = [
  'publisher_identification',
  'publisher_exclusion',
  'subscriber_blackwhite_listing',
  'pattern_based_subscription',
  'event_retention',
  'event_history',
  'subscription_revocation',
  'payload_passthru_mode',
  'payload_transparency',
  'session_meta_api',
  'subscription_meta_api',
  'testament_meta_api',
  'session_resumption_meta_api',
];

const DEALER_FEATURES = [
  'caller_identification',
  'pattern_based_registration',
  'shared_registration',
  'progressive_call_results',
  'progressive_call_invocations',
  'call_timeout',
  'call_canceling',
  'registration_revocation',
  'payload_passthru_mode',
  'payload_transparency',
  'session_meta_api',
  'registration_meta_api',
  'testament_meta_api',
];

const announced = (names: string[]): Record<string, boolean> => Object.fromEntries(names.map((n) => [n, true]));

describe.each(SERIALIZERS)('WELCOME over %s', (serializer) => {
  it('announces exactly the broker and dealer features implemented, and nothing else', async () => {
    const router = await startTestRouter();
    const peer = await Raw.join(router.url, {}, { serializer });
    const roles = asDict(peer.welcome['roles'], 'WELCOME.Details.roles');
    expect(Object.keys(roles).sort()).toEqual(['broker', 'dealer']);
    expect(roles['broker']).toEqual({ features: announced(BROKER_FEATURES) });
    expect(roles['dealer']).toEqual({ features: announced(DEALER_FEATURES) });
    // Anonymous identity: authid unique in the realm, authrole 'anonymous'.
    expect(peer.welcome).toMatchObject({ realm: 'realm1', authid: expect.stringMatching(/^anonymous-\d+$/), authrole: 'anonymous', authmethod: 'anonymous' });
  });

  it('autobahn-js sees the features it shares with the router', async () => {
    const router = await startTestRouter();
    const peer = await connectAutobahn(router.url, serializer);
    const roles = asDict(asDict(peer.welcome['roles'])['broker']);
    expect(roles['features']).toEqual(announced(BROKER_FEATURES));
    // autobahn computes the intersection of its own features and the router's.
    const features = asDict((peer.session as unknown as { features: unknown }).features, 'autobahn session.features');
    expect(features['subscriber']).toMatchObject({ pattern_based_subscription: true, subscription_revocation: true, publisher_identification: true });
    expect(features['caller']).toMatchObject({ call_canceling: true, progressive_call_results: true, caller_identification: true });
    expect(features['callee']).toMatchObject({ shared_registration: true, registration_revocation: true, pattern_based_registration: true });
  });

  it('wampy accepts the announcement (it checks dealer features before cancel and progressive calls)', async () => {
    const router = await startTestRouter();
    const peer = await connectWampy(router.url, serializer);
    const server = (peer.wampy as unknown as { _cache: { server_wamp_features: { roles: Record<string, { features: Record<string, boolean> }> } } })._cache
      .server_wamp_features;
    expect(server.roles['broker']?.features).toEqual(announced(BROKER_FEATURES));
    expect(server.roles['dealer']?.features).toEqual(announced(DEALER_FEATURES));
  });
});
