/**
 * Static authorization by role: permissions with exact/prefix/wildcard URIs, the most specific
 * rule wins, {authid}/{authrole} placeholders, denial answers wamp.error.not_authorized.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter } from '../helpers.js';

const { Abort, Call, Error: ERROR, Hello, Publish, Published, Register, Registered, Subscribe, Subscribed } = MessageCode;

const config: RouterConfigFile = {
  realms: [
    {
      name: 'realm1',
      roles: [
        {
          name: 'anonymous',
          permissions: [
            { uri: 'com.public.', match: 'prefix', allow: { subscribe: true, call: true } },
            { uri: 'com.public.secret', match: 'exact', allow: {} },
            { uri: 'com.public.news', allow: { publish: true, subscribe: true }, disclose: { publisher: true } },
            { uri: 'com.app..status', match: 'wildcard', allow: { publish: true } },
            { uri: 'com.user.{authid}.', match: 'prefix', allow: { subscribe: true, publish: true, register: true } },
            { uri: 'com.role.{authrole}*', allow: { subscribe: true } },
          ],
        },
      ],
    },
  ],
};

async function expectAllowed(peer: RawPeer, frame: (request: number) => unknown[], reply: number): Promise<void> {
  const request = peer.nextRequest();
  peer.send(frame(request));
  const answer = await peer.next();
  expect(answer[0], JSON.stringify(answer)).toBe(reply);
}

async function expectDenied(peer: RawPeer, type: number, frame: (request: number) => unknown[]): Promise<void> {
  const request = peer.nextRequest();
  peer.send(frame(request));
  expect(await peer.next()).toEqual([ERROR, type, request, {}, 'wamp.error.not_authorized', [expect.any(String)]]);
}

describe('static permissions', () => {
  it('allows and denies by the most specific matching rule', async () => {
    const router = await startTestRouter(config);
    const peer = await RawPeer.join(router.url);
    await expectAllowed(peer, (r) => [Subscribe, r, {}, 'com.public.weather'], Subscribed);
    // The exact rule for com.public.secret beats the prefix rule and allows nothing.
    await expectDenied(peer, Subscribe, (r) => [Subscribe, r, {}, 'com.public.secret']);
    await expectDenied(peer, Publish, (r) => [Publish, r, { acknowledge: true }, 'com.public.weather']);
    await expectAllowed(peer, (r) => [Publish, r, { acknowledge: true }, 'com.public.news'], Published);
    await expectAllowed(peer, (r) => [Publish, r, { acknowledge: true }, 'com.app.kitchen.status'], Published);
    await expectDenied(peer, Publish, (r) => [Publish, r, { acknowledge: true }, 'com.app.kitchen.temperature']);
    await expectDenied(peer, Register, (r) => [Register, r, {}, 'com.public.proc']);
    await expectDenied(peer, Subscribe, (r) => [Subscribe, r, {}, 'com.other']);
    // An unacknowledged denied PUBLISH is dropped silently.
    peer.send([Publish, peer.nextRequest(), {}, 'com.other']);
    expect(await peer.silentFor(100)).toBe(true);
  });

  it('fills {authid} and {authrole}: a session reaches its own topics, not another user’s', async () => {
    const router = await startTestRouter(config);
    const alice = await RawPeer.join(router.url);
    const bob = await RawPeer.join(router.url);
    const aliceId = (alice.welcome[2] as { authid: string }).authid;
    const bobId = (bob.welcome[2] as { authid: string }).authid;
    expect(aliceId).not.toBe(bobId);
    await expectAllowed(alice, (r) => [Subscribe, r, {}, `com.user.${aliceId}.inbox`], Subscribed);
    await expectAllowed(alice, (r) => [Register, r, {}, `com.user.${aliceId}.rpc`], Registered);
    await expectDenied(alice, Subscribe, (r) => [Subscribe, r, {}, `com.user.${bobId}.inbox`]);
    await expectDenied(bob, Publish, (r) => [Publish, r, { acknowledge: true }, `com.user.${aliceId}.inbox`]);
    await expectAllowed(bob, (r) => [Subscribe, r, {}, 'com.role.anonymous.chat'], Subscribed);
    await expectDenied(bob, Subscribe, (r) => [Subscribe, r, {}, 'com.role.admin.chat']);
  });

  it('a permission with disclose.publisher reveals the publisher even when it did not ask', async () => {
    const router = await startTestRouter(config);
    const sub = await RawPeer.join(router.url);
    const pub = await RawPeer.join(router.url);
    await expectAllowed(sub, (r) => [Subscribe, r, {}, 'com.public.news'], Subscribed);
    await expectAllowed(pub, (r) => [Publish, r, { acknowledge: true }, 'com.public.news', ['hi']], Published);
    const event = await sub.next();
    expect(event[3]).toMatchObject({ publisher: pub.session, publisher_authrole: 'anonymous' });
  });

  it('CALL is authorized before routing, the meta API included', async () => {
    const router = await startTestRouter(config);
    const peer = await RawPeer.join(router.url);
    await expectDenied(peer, Call, (r) => [Call, r, {}, 'wamp.session.count']);
    await expectAllowed(peer, (r) => [Call, r, {}, 'com.public.nobody'], ERROR); // allowed, then no_such_procedure
  });

  it('a role the realm does not define gets ABORT wamp.error.no_such_role', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', roles: [{ name: 'admin', permissions: [] }] }] });
    const peer = await RawPeer.connect(router.url);
    peer.send([Hello, 'realm1', { roles: { subscriber: {} } }]);
    expect(await peer.next()).toEqual([Abort, { message: expect.stringContaining("no role 'anonymous'") }, 'wamp.error.no_such_role']);
    expect(router.sessionCount).toBe(0);
  });

  it('no method in common gets ABORT wamp.error.no_auth_method', async () => {
    const router = await startTestRouter();
    const peer = await RawPeer.connect(router.url);
    peer.send([Hello, 'realm1', { roles: { subscriber: {} }, authmethods: ['ticket'], authid: 'joe' }]);
    expect(await peer.next()).toEqual([Abort, { message: expect.stringContaining('no authentication method in common') }, 'wamp.error.no_auth_method']);
    expect(router.sessionCount).toBe(0);
  });
});
