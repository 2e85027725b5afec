/**
 * Issue #14.12, WAMP-CRA: a CHALLENGE tells nothing about the authid it answers (known or not,
 * which role), unknown authids look the same on every probe and across restarts, and a probe
 * that reads the CHALLENGE and never answers counts in the brute-force limits. WAMP-SCRAM's
 * decoys for unknown authids follow the same rules.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { scramCredentials } from '@switchboard/router';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter, until } from '../helpers.js';
import { authenticatorComponent, autobahnCra } from '../auth/support.js';

const { Abort, Challenge, Hello } = MessageCode;
const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

function config(limits?: { failuresPerMinute: number; blockMs: number }): RouterConfigFile {
  return {
    realms: [{ name: 'realm1', roles: [{ name: 'frontend' }, { name: 'backend-admins' }] }],
    listeners: [
      {
        type: 'websocket',
        auth: {
          wampcra: {
            type: 'static',
            users: {
              joe: { secret: 'secret1', role: 'frontend' },
              peter: { secret: autobahnCra.derive_key('secret2', 'salt123', 100, 16), role: 'backend-admins', salt: 'salt123', iterations: 100, keylen: 16 },
            },
          },
          ...(limits !== undefined && { limits }),
        },
      },
    ],
  };
}

/** HELLO as `authid` by WAMP-CRA; the CHALLENGE's extra, its challenge text parsed, and the peer. */
async function probe(
  router: Router,
  authid: string,
): Promise<{ peer: RawPeer; text: string; challenge: Record<string, unknown>; extra: Record<string, unknown> }> {
  const peer = await RawPeer.connect(router.url);
  peer.send([Hello, 'realm1', { roles: ROLES, authmethods: ['wampcra'], authid }]);
  const msg = await peer.next();
  expect(msg[0], JSON.stringify(msg)).toBe(Challenge);
  const extra = msg[2] as Record<string, unknown>;
  const text = extra['challenge'] as string;
  return { peer, text, challenge: JSON.parse(text) as Record<string, unknown>, extra };
}

/** The CHALLENGE's extra without what changes on every probe (nonce, timestamp, session). */
function stable(p: { challenge: Record<string, unknown>; extra: Record<string, unknown> }): Record<string, unknown> {
  const { nonce: _n, timestamp: _t, session: _s, ...challenge } = p.challenge;
  return { ...p.extra, challenge };
}

function failures(router: Router): number {
  let n = 0;
  for (const [key, count] of router.stats.authFailures) if (key.startsWith('wampcra ')) n += count;
  return n;
}

describe('security: WAMP-CRA challenges reveal neither the authid’s existence nor its role (#14.12)', () => {
  it('known and unknown authids get challenges of one shape, without a role', async () => {
    const router = await startTestRouter(config());
    const joe = await probe(router, 'joe');
    const peter = await probe(router, 'peter');
    const ghosts = await Promise.all(['ghost', 'nobody', 'admin', 'root', 'x'].map((a) => probe(router, a)));
    for (const p of [joe, peter, ...ghosts]) {
      expect(p.text).not.toMatch(/frontend|backend-admins/);
      expect(Object.keys(p.challenge).sort()).toEqual(['authid', 'authmethod', 'authprovider', 'nonce', 'session', 'timestamp']);
      // Each looks like one of the real users: unsalted, or salted as the configuration salts.
      const keys = Object.keys(p.extra).sort();
      expect([['challenge'], ['challenge', 'iterations', 'keylen', 'salt']]).toContainEqual(keys);
      if (keys.length > 1) expect([p.extra['iterations'], p.extra['keylen']]).toEqual([100, 16]);
    }
    // Asking again shows nothing new.
    for (const g of ghosts) expect(stable(await probe(router, g.challenge['authid'] as string))).toEqual(stable(g));
  });

  it('an unknown authid is challenged the same way after a restart (no per-process secret)', async () => {
    const authids = ['ghost', 'nobody', 'admin', 'root', 'x', 'y', 'z', 'mallory'];
    const first = await startTestRouter(config());
    const before = await Promise.all(authids.map(async (a) => stable(await probe(first, a))));
    await first.stop();
    const second = await startTestRouter(config());
    const after = await Promise.all(authids.map(async (a) => stable(await probe(second, a))));
    expect(after).toEqual(before);
    // Some of them are salted like peter, some plain like joe.
    expect(before.some((e) => e['salt'] !== undefined)).toBe(true);
  });
});

describe('security: a dynamic WAMP-CRA authenticator’s refusal is told after AUTHENTICATE (#14.12)', () => {
  it('an authid the authenticator refuses is challenged like one it knows, then refused as a wrong secret is', async () => {
    const router = await startTestRouter({
      realms: [
        { name: 'realm1', roles: [{ name: 'frontend' }] },
        { name: 'auth', roles: [{ name: 'trusted', permissions: [{ uri: '', match: 'prefix', allow: { register: true } }] }] },
      ],
      listeners: [
        { type: 'websocket', auth: { wampcra: { type: 'dynamic', authenticator: 'com.example.cra', 'authenticator-realm': 'auth' } } },
        { type: 'websocket', path: '/backend', auth: { anonymous: { role: 'trusted', realm: 'auth' } } },
      ],
    });
    await authenticatorComponent(router.addresses[1]!.url, 'auth', 'com.example.cra', ({ authid }) => {
      if (authid === 'joe') return { role: 'frontend', secret: 'secret1' };
      throw new Error('no such user');
    });
    const known = await probe(router, 'joe');
    const unknown = await probe(router, 'nobody');
    expect(Object.keys(unknown.extra)).toEqual(Object.keys(known.extra));
    expect(Object.keys(unknown.challenge).sort()).toEqual(Object.keys(known.challenge).sort());
    for (const p of [known, unknown]) {
      p.peer.send([MessageCode.Authenticate, 'AAAA', {}]);
      expect(await p.peer.next()).toEqual([Abort, { message: 'authentication failed' }, 'wamp.error.authentication_failed']);
    }
  });
});

describe('security: WAMP-CRA probes that never answer the CHALLENGE count as failures (#14.12)', () => {
  it('reading challenges and hanging up blocks the address like failed answers do', async () => {
    const router = await startTestRouter(config({ failuresPerMinute: 3, blockMs: 60_000 }));
    for (const [i, authid] of ['ghost1', 'ghost2', 'ghost3'].entries()) {
      const { peer } = await probe(router, authid);
      peer.close();
      await until(() => failures(router) === i + 1, 3000, `abandoned challenge ${i + 1} counted`);
    }
    // The address is blocked now: even a known authid is refused without a challenge.
    const peer = await RawPeer.connect(router.url);
    peer.send([Hello, 'realm1', { roles: ROLES, authmethods: ['wampcra'], authid: 'joe' }]);
    expect(await peer.next()).toEqual([Abort, expect.anything(), 'wamp.error.authentication_failed']);
  });
});

describe('security: WAMP-SCRAM decoys for unknown authids (#14.12)', () => {
  it('an unknown authid is challenged like one of the principals, the same way after a restart', async () => {
    const alice = { role: 'frontend', ...(await scramCredentials('wonderland', { kdf: 'argon2id-13', iterations: 2, memory: 256 })) };
    const bob = {
      role: 'frontend',
      ...(await scramCredentials('bob-pässword', { kdf: 'pbkdf2', iterations: 1000, salt: '00112233445566778899aabbccddeeff' })),
    };
    const scram: RouterConfigFile = {
      realms: [{ name: 'realm1', roles: [{ name: 'frontend' }] }],
      listeners: [{ type: 'websocket', auth: { scram: { type: 'static', principals: { alice, bob } } } }],
    };
    const challenge = async (router: Router, authid: string): Promise<Record<string, unknown>> => {
      const peer = await RawPeer.connect(router.url);
      peer.send([Hello, 'realm1', { roles: ROLES, authmethods: ['scram'], authid, authextra: { nonce: randomBytes(16).toString('base64') } }]);
      const msg = await peer.next();
      expect(msg[0], JSON.stringify(msg)).toBe(Challenge);
      const { nonce: _nonce, ...extra } = msg[2] as Record<string, unknown>;
      peer.close();
      return extra;
    };
    const authids = ['ghost', 'nobody', 'admin', 'root', 'x', 'y', 'z', 'mallory'];
    const first = await startTestRouter(scram);
    const real = [await challenge(first, 'alice'), await challenge(first, 'bob')];
    const before = await Promise.all(authids.map((a) => challenge(first, a)));
    await first.stop();
    const second = await startTestRouter(scram);
    expect(await Promise.all(authids.map((a) => challenge(second, a)))).toEqual(before);
    // Each decoy has one real principal's KDF parameters and salt length.
    const shape = (e: Record<string, unknown>): unknown => ({
      kdf: e['kdf'],
      iterations: e['iterations'],
      memory: e['memory'],
      salt: String(e['salt']).length,
    });
    for (const decoy of before) expect(real.map(shape)).toContainEqual(shape(decoy));
  });
});
