/**
 * Secrets from the environment: `"$NAME"` and `"${NAME}"` string values, replaced before
 * validation; unset variables reported with their JSON pointer, together with schema errors.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigFile } from '@switchboard/router';
import { substituteEnv } from '../../src/config/env.js';
import { configError, setEnv, writeConfig } from './support.js';

describe('substituteEnv', () => {
  const env = { SB_A: 'alpha', SB_B: 'beta', EMPTY: '' };

  it('replaces whole "$NAME" and "${NAME}" strings, at any depth', () => {
    const input = { a: '$SB_A', list: ['${SB_B}', { deep: '$SB_A' }], n: 3, t: true, z: null };
    const { value, problems } = substituteEnv(input, env);
    expect(problems).toEqual([]);
    expect(value).toEqual({ a: 'alpha', list: ['beta', { deep: 'alpha' }], n: 3, t: true, z: null });
  });

  it('leaves the input untouched and returns it as is when nothing is replaced', () => {
    const input = { a: '$SB_A', b: { c: 'plain' } };
    const copy = structuredClone(input);
    const { value } = substituteEnv(input, env);
    expect(input).toEqual(copy);
    expect((value as { b: unknown }).b).toBe(input.b);
    const plain = { x: ['y'] };
    expect(substituteEnv(plain, env).value).toBe(plain);
  });

  it("replaces only whole values, and only capitalised names (Crossbar's rule)", () => {
    const input = ['prefix-$SB_A', '$SB_A-suffix', '$sb_a', '$ecret', '$', '${}', '${SB_A', '$$SB_A', '$1ABC', ' $SB_A'];
    expect(substituteEnv(input, env)).toEqual({ value: input, problems: [] });
  });

  it('an empty variable is set: it gives the empty string', () => {
    expect(substituteEnv({ a: '$EMPTY' }, env)).toEqual({ value: { a: '' }, problems: [] });
  });

  it('reports every unset variable with the JSON pointer where it is used, and keeps the value as written', () => {
    const input = { listeners: [{ auth: { ticket: { principals: { 'joe/x': { ticket: '$SB_NOPE' } } } } }], top: '${SB_MISSING}', ok: '$SB_A' };
    const { value, problems } = substituteEnv(input, env);
    expect(problems).toEqual([
      '/listeners/0/auth/ticket/principals/joe~1x/ticket: environment variable SB_NOPE is not set',
      '/top: environment variable SB_MISSING is not set',
    ]);
    expect(value).toEqual({ ...input, ok: 'alpha' });
  });

  it('a key named __proto__ stays an own key', () => {
    const input: unknown = JSON.parse('{"__proto__": "$SB_A"}');
    const { value } = substituteEnv(input, env);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toBe('alpha');
  });
});

describe('loadConfig with environment variables', () => {
  it('reads values from process.env before validation', () => {
    setEnv({ SB_TEST_REALM: 'com.example.secret', SB_TEST_HOST: '127.0.0.1' });
    const path = writeConfig({ listeners: [{ type: 'websocket', host: '${SB_TEST_HOST}', port: 0 }], realms: [{ name: '$SB_TEST_REALM' }] });
    const file = loadConfigFile(path);
    expect(file.realms).toEqual([{ name: 'com.example.secret' }]);
    expect(file.listeners?.[0]?.host).toBe('127.0.0.1');
  });

  it('a substituted value is validated like a written one', () => {
    setEnv({ SB_TEST_REALM: 'not a realm' });
    const path = writeConfig({ realms: [{ name: '$SB_TEST_REALM' }] });
    expect(configError(() => loadConfig(path)).problems).toEqual([
      `/realms/0/name: 'not a realm' is not a valid realm name: a WAMP URI such as "realm1" or "com.example.app", with no spaces, no '#' and no empty part (no leading, trailing or doubled '.')`,
    ]);
  });

  it('an unset variable is an error naming it and its pointer, reported with the schema errors in one ConfigError', () => {
    setEnv({ SB_TEST_UNSET: undefined, SB_TEST_UNSET_TOO: undefined });
    const path = writeConfig({
      listeners: [{ type: 'websocket', host: '$SB_TEST_UNSET', prot: 1 }],
      realms: [{ name: '${SB_TEST_UNSET_TOO}' }],
      log: { level: 'loud' },
    });
    const error = configError(() => loadConfig(path));
    expect(error.source).toBe(path);
    expect(error.problems).toEqual([
      '/listeners/0/host: environment variable SB_TEST_UNSET is not set',
      '/realms/0/name: environment variable SB_TEST_UNSET_TOO is not set',
      "/listeners/0: unknown field 'prot': did you mean 'port'?",
      '/log/level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
    ]);
    expect(error.message).toContain(path);
    expect(error.message).toContain('environment variable SB_TEST_UNSET is not set');
  });

  it('an explicit environment can be given instead of process.env', () => {
    const path = writeConfig({ realms: [{ name: '$REALM' }] });
    expect(loadConfig(path, { REALM: 'from.map' }).file.realms).toEqual([{ name: 'from.map' }]);
    expect(configError(() => loadConfig(path, {})).problems).toEqual(['/realms/0/name: environment variable REALM is not set']);
  });
});
