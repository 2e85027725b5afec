/**
 * router/src/config/schema-types.ts (the config file's TypeScript types) is what
 * `npm run schema:types` generates from the config's JSON Schema, so the types the compiler
 * checks the code against (config.ts's Agrees/SameKeys assertions) are the schema's as committed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config/config.js';
import { LOG_MODULES } from '../../src/log.js';
import { SCHEMA, TYPES, adaptSchema, renderSchemaTypes } from '../../../scripts/schema-types.mjs';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const schema = (): Record<string, unknown> => JSON.parse(readFileSync(join(root, SCHEMA), 'utf8')) as Record<string, unknown>;

describe('config types from the JSON Schema', () => {
  it('router/src/config/schema-types.ts is what `npm run schema:types` renders from the schema', async () => {
    const expected = await renderSchemaTypes(schema());
    const committed = readFileSync(join(root, TYPES), 'utf8');
    expect(committed === expected, `${TYPES} is out of date: run \`npm run schema:types\` and commit it`).toBe(true);
  });

  it('reads the if/then dispatch on `type` as a tagged union, on a copy of the schema', async () => {
    const original = schema();
    const before = JSON.stringify(original);
    const adapted = adaptSchema(original) as { definitions: Record<string, Record<string, unknown>> };
    expect(JSON.stringify(original)).toBe(before);
    expect(adapted.definitions['listener']!['anyOf']).toEqual([{ $ref: '#/definitions/websocketListener' }, { $ref: '#/definitions/rawsocketListener' }]);
    expect(adapted.definitions['listener']!['allOf']).toBeUndefined();
    const text = await renderSchemaTypes(original);
    expect(text).toContain('export type Listener = WebsocketListener | RawsocketListener;');
    expect(text).toContain('export interface RouterConfigFile {');
    expect(text).not.toContain('patternDescription');
  });

  it('turns a field added to the schema into a member of the generated type', async () => {
    const changed = schema() as { definitions: Record<string, { properties: Record<string, unknown> }> };
    changed.definitions['realm']!.properties['someNewLimitMs'] = { type: 'integer', description: 'A field the code does not know yet.' };
    const text = await renderSchemaTypes(changed);
    expect(text).toMatch(/A field the code does not know yet\.\n\s*\*\/\n\s*someNewLimitMs\?: number;/);
  });

  it('accepts a level for every module the router logs as (log.modules.cluster was missing from the schema)', () => {
    for (const module of LOG_MODULES) expect(() => checkConfig({ log: { modules: { [module]: 'debug' } } })).not.toThrow();
    expect(() => checkConfig({ log: { modules: { nosuch: 'debug' } } })).toThrow(/nosuch/);
  });
});
