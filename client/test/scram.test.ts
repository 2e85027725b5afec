/**
 * scramAuth (`@switchboard/client/auth/scram`) on its own: RFC 7677's SCRAM-SHA-256 vector for
 * the wamp-scram AuthMessage, salted password and proof; and against a fake router, that a WELCOME
 * with a wrong, missing or unearned server signature, or a CHALLENGE whose nonce is not the
 * client's, ends the join with wamp.error.authentication_failed.
 */
import { describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { SessionAbortedError, connect } from '@switchboard/client';
import { scramAuth, scramAuthMessage, scramProof, scramSaltedPassword } from '@switchboard/client/auth/scram';
import type { ScramDialect } from '@switchboard/client/auth/scram';
import { FakeRouter } from './fake-router.js';
import { within } from './helpers.js';

describe('RFC 7677 SCRAM-SHA-256 test vector', () => {
  it('gives the RFC’s AuthMessage, ClientProof and ServerSignature (wamp-scram, pbkdf2)', async () => {
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const salt = 'W22ZaJ0SNY7soEsUEjb6gQ==';
    const message = scramAuthMessage('wamp-scram', { authid: 'user', clientNonce: 'rOprNGfwEbeRWgbNEkqO', nonce, salt, iterations: 4096 });
    expect(message).toBe(`n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=${salt},i=4096,c=biws,r=${nonce}`);
    const salted = await scramSaltedPassword('wamp-scram', 'pencil', { kdf: 'pbkdf2', salt: Buffer.from(salt, 'base64'), iterations: 4096 });
    expect(await scramProof(salted, message)).toEqual({
      proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      serverSignature: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    });
  });

  it('escapes the authid in wamp-scram, not in the crossbar dialect', () => {
    const parts = { authid: 'a=b,c', clientNonce: 'x', nonce: 'xy', salt: 's', iterations: 1 };
    expect(scramAuthMessage('wamp-scram', parts)).toBe('n=a=3Db=2Cc,r=x,r=xy,s=s,i=1,c=biws,r=xy');
    expect(scramAuthMessage('crossbar', parts)).toBe('n=a=b,c,r=x,r=xy,s=s,i=1,c=,r=xy');
  });
});

const METHOD: Record<ScramDialect, string> = { crossbar: 'scram', 'wamp-scram': 'wamp-scram' };
const SALT = Buffer.from('0123456789abcdef').toString('base64');

/** connect with scramAuth to a fake router; `script` plays the router's side after HELLO. */
async function against(dialect: ScramDialect, script: (peer: Awaited<ReturnType<FakeRouter['peer']>>, hello: unknown[]) => Promise<void>): Promise<unknown> {
  const router = await FakeRouter.start();
  const joining = connect({ url: router.url, realm: 'realm1', reconnect: false, auth: scramAuth({ authid: 'alice', password: 'wonderland', dialect }) }).then(
    async (session) => {
      await session.leave().catch(() => undefined);
      return new Error('joined');
    },
    (err: unknown) => err,
  );
  const peer = await router.peer();
  const hello = await peer.expect(MessageCode.Hello);
  await script(peer, hello);
  return within(joining, 5000, 'the join to end');
}

/** HELLO's client nonce → a CHALLENGE that extends it (pbkdf2, cheap); the AUTHENTICATE that answers it. */
async function challenge(peer: Awaited<ReturnType<FakeRouter['peer']>>, hello: unknown[], dialect: ScramDialect): Promise<unknown[]> {
  const clientNonce = String(((hello[2] as Record<string, unknown>)['authextra'] as Record<string, unknown>)['nonce']);
  const nonce =
    dialect === 'crossbar'
      ? Buffer.concat([Buffer.from(clientNonce, 'base64'), Buffer.alloc(16, 7)]).toString('base64')
      : clientNonce + Buffer.alloc(16, 7).toString('base64');
  peer.send([MessageCode.Challenge, METHOD[dialect], { nonce, salt: SALT, kdf: 'pbkdf2', iterations: 1000 }]);
  return peer.expect(MessageCode.Authenticate);
}

function expectAuthFailed(error: unknown, message: RegExp): void {
  expect(error).toBeInstanceOf(SessionAbortedError);
  expect((error as SessionAbortedError).reason).toBe('wamp.error.authentication_failed');
  expect(String((error as SessionAbortedError).details['message'])).toMatch(message);
}

describe.each(['crossbar', 'wamp-scram'] as const)('scramAuth against a fake router (%s)', (dialect) => {
  const field = dialect === 'crossbar' ? 'scram_server_signature' : 'verifier';

  it('sends a fresh nonce per HELLO and the spec’s AUTHENTICATE extra', async () => {
    const nonces: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      await against(dialect, async (peer, hello) => {
        const details = hello[2] as Record<string, unknown>;
        expect(details['authmethods']).toEqual([METHOD[dialect]]);
        nonces.push((details['authextra'] as Record<string, unknown>)['nonce']);
        const authenticate = await challenge(peer, hello, dialect);
        if (dialect === 'wamp-scram') expect(authenticate[2]).toMatchObject({ nonce: expect.any(String), channel_binding: null, cbind_data: null });
        peer.send([MessageCode.Abort, { message: 'bye' }, 'wamp.error.authentication_failed']);
      });
    }
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it('a WELCOME with a wrong server signature fails the join (and is ABORTed)', async () => {
    let abort: unknown[] | undefined;
    const error = await against(dialect, async (peer, hello) => {
      await challenge(peer, hello, dialect);
      peer.send([
        MessageCode.Welcome,
        77,
        {
          roles: { broker: {}, dealer: {} },
          authid: 'alice',
          authrole: 'frontend',
          authmethod: METHOD[dialect],
          authextra: { [field]: Buffer.alloc(32, 1).toString('base64') },
        },
      ]);
      abort = await peer.expect(MessageCode.Abort);
    });
    expectAuthFailed(error, /server signature is wrong/);
    expect(abort?.[2]).toBe('wamp.error.authentication_failed');
  });

  it('a WELCOME without a server signature, or without any CHALLENGE, fails the join', async () => {
    const missing = await against(dialect, async (peer, hello) => {
      await challenge(peer, hello, dialect);
      peer.send([MessageCode.Welcome, 77, { roles: { broker: {} }, authid: 'alice', authrole: 'frontend', authmethod: METHOD[dialect], authextra: {} }]);
    });
    expectAuthFailed(missing, /no SCRAM server signature/);
    const unearned = await against(dialect, async (peer) => {
      peer.send([MessageCode.Welcome, 77, { roles: { broker: {} }, authid: 'alice', authrole: 'frontend', authmethod: METHOD[dialect], authextra: {} }]);
    });
    expectAuthFailed(unearned, /without a SCRAM exchange/);
  });

  it('a CHALLENGE whose nonce does not extend the client nonce is refused before any KDF', async () => {
    const error = await against(dialect, async (peer) => {
      peer.send([MessageCode.Challenge, METHOD[dialect], { nonce: Buffer.alloc(32, 9).toString('base64'), salt: SALT, kdf: 'pbkdf2', iterations: 1000 }]);
    });
    expectAuthFailed(error, /nonce does not extend/);
  });
});
