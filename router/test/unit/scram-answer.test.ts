/**
 * A principal source's SCRAM answer (auth/scram.ts `scramAnswer`): usable keys, or a refusal
 * saying what is wrong (the router logs it and challenges with a decoy).
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri } from '@switchboard/schemas';
import { scramAnswer } from '../../src/auth/scram.js';

const KEY = 'ab'.repeat(32);
const GOOD = { role: 'user', kdf: 'pbkdf2', iterations: 4096, salt: '00ff', storedKey: KEY, serverKey: KEY.toUpperCase() };

describe('scramAnswer', () => {
  it('turns a complete answer into parameters and key bytes', () => {
    const keys = scramAnswer(GOOD);
    expect(keys.ok).toBe(true);
    if (!keys.ok) return;
    expect(keys.params).toEqual({ kdf: 'pbkdf2', iterations: 4096, salt: '00ff' });
    expect(keys.storedKey.toString('hex')).toBe(KEY);
    expect(keys.serverKey).toHaveLength(32);
    expect(scramAnswer({ ...GOOD, kdf: 'argon2id-13', memory: 1024 })).toMatchObject({ ok: true, params: { memory: 1024 } });
  });

  it.each([
    [{ kdf: 'md5' }, 'kdf must be one of argon2id-13, argon2id13, pbkdf2'],
    [{ iterations: undefined }, 'iterations missing'],
    [{ kdf: 'argon2id13' }, 'argon2id needs memory (KiB)'],
    [{ salt: 'xyz' }, 'salt must be hex'],
    [{ storedKey: 'ab' }, 'stored-key must be 64 hex characters'],
    [{ serverKey: undefined }, 'server-key must be 64 hex characters'],
  ])('refuses %j: %s', (change, message) => {
    expect(scramAnswer({ ...GOOD, ...change })).toEqual({ ok: false, error: ErrorUri.AuthenticationFailed, message });
  });
});
