/**
 * The config schema compiled ahead of time (schemas/schema/router-config.validate.cjs, written by
 * `npm run schema:types` through scripts/config-validator.mjs): it must be what the script renders
 * from the schema as committed, the router must use it (not compile the schema at start: issue
 * #20, idle RSS and start CPU), and it must find the same problems as ajv compiling the schema at
 * run time, which is what a stale file falls back to.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, checkConfig } from '../../src/config/config.js';
import { CONFIG_AJV_OPTIONS, compileAtRunTime, configValidator, configValidatorOrigin } from '../../src/config/validator.js';
import { AJV_OPTIONS, SCHEMA, VALIDATOR, renderConfigValidator, schemaSha256 } from '../../../scripts/config-validator.mjs';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const schemaText = (): string => readFileSync(join(root, SCHEMA), 'utf8');

/** Configs with problems of each kind errors.ts words differently. */
const BAD: unknown[] = [
  { listeners: [{ type: 'websocket', port: 'eighty' }] },
  { listeners: [{ type: 'websocket', port: 8080, pathh: '/ws' }] },
  { realms: [{ name: 'Not A Uri!' }] },
  { listeners: [{ type: 'carrier-pigeon' }] },
  { realms: [{ name: 'realm1', roles: [{ name: 'r', permissions: [{ uri: 'a.b', match: 'sometimes' }] }] }] },
  [],
];

describe('config validator compiled ahead of time', () => {
  it(`${VALIDATOR} is what \`npm run schema:types\` renders from the schema`, () => {
    const committed = readFileSync(join(root, VALIDATOR), 'utf8');
    expect(committed === renderConfigValidator(schemaText()), `${VALIDATOR} is out of date: run \`npm run schema:types\` and commit it`).toBe(true);
  });

  it('is the one the router uses, and the script compiles with the router’s ajv options', () => {
    expect(AJV_OPTIONS).toEqual(CONFIG_AJV_OPTIONS);
    checkConfig({});
    expect(configValidatorOrigin()).toBe('compiled ahead');
    expect(readFileSync(join(root, VALIDATOR), 'utf8')).toContain(schemaSha256(schemaText()));
  });

  it('finds the same problems as the schema compiled at run time', () => {
    const ahead = configValidator();
    const now = compileAtRunTime(schemaText());
    for (const config of BAD) {
      expect(ahead(config)).toBe(false);
      expect(now(config)).toBe(false);
      expect(ahead.errors).toEqual(now.errors);
    }
    expect(ahead({ listeners: [{ type: 'websocket', port: 8080 }], realms: [{ name: 'realm1' }] })).toBe(true);
    expect(() => checkConfig(BAD[1])).toThrow(ConfigError);
    expect(() => checkConfig(BAD[1])).toThrow(/pathh.*path/);
  });
});
