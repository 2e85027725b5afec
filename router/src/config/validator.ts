/**
 * The config schema's validate function. The schema is compiled ahead of time
 * (scripts/config-validator.mjs writes schemas/schema/router-config.validate.cjs next to the
 * schema): compiling it with ajv at run time took most of a start's CPU and left the idle process
 * about 40 MiB heavier for good (issue #20). The compiled module is used only when it was made
 * from the schema text as it is now (its `schemaSha256`); otherwise, and when it cannot be loaded,
 * the schema is compiled here as before, so a stale file costs time, never a wrong answer.
 * ajv itself is then loaded on demand: a router whose compiled validator is current never loads it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { schemaUrl } from '@switchboard/schemas';
import { PATTERN_DESCRIPTION } from './errors.js';

const require = createRequire(import.meta.url);

/** The compiled module, beside the schema in @switchboard/schemas' `schema/` folder. */
const COMPILED = 'router-config.validate.cjs';

/**
 * ajv's options for the config schema; scripts/config-validator.mjs compiles with the same
 * (router/test/unit/config-validator.test.ts checks both agree). allErrors: every problem in one
 * pass; verbose: each error carries its schema and value, for errors.ts's messages.
 */
export const CONFIG_AJV_OPTIONS = { allErrors: true, strict: true, verbose: true } as const;

interface CompiledModule {
  schemaSha256: string;
  create(runtime: (id: string) => unknown): ValidateFunction;
}

function isCompiledModule(value: unknown): value is CompiledModule {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m['schemaSha256'] === 'string' && typeof m['create'] === 'function';
}

let validator: ValidateFunction | undefined;
/** How the validator in use was made (for tests and the start's debug log). */
let origin: 'compiled ahead' | 'compiled at run time' | undefined;

/** The validate function for the config schema, made once per process. */
export function configValidator(): ValidateFunction {
  if (validator !== undefined) return validator;
  const text = readFileSync(schemaUrl('router-config'), 'utf8');
  const ahead = compiledAhead(text);
  validator = ahead ?? compileAtRunTime(text);
  origin = ahead === undefined ? 'compiled at run time' : 'compiled ahead';
  return validator;
}

/** Where the validator in use came from; undefined before the first config check. */
export function configValidatorOrigin(): typeof origin {
  return origin;
}

function compiledAhead(schemaText: string): ValidateFunction | undefined {
  let loaded: unknown;
  try {
    loaded = require(fileURLToPath(new URL(COMPILED, schemaUrl('router-config'))));
  } catch {
    return undefined; // not there (a bundle, an old package): compile at run time
  }
  if (!isCompiledModule(loaded)) return undefined;
  if (loaded.schemaSha256 !== createHash('sha256').update(schemaText).digest('hex')) return undefined;
  // ajv's runtime helpers (equal, ucs2length) resolve from the router's own dependencies.
  const validate = loaded.create((id) => require(id));
  return typeof validate === 'function' ? validate : undefined;
}

/** Compiles the schema with ajv here and now (exported for the test that compares both ways). */
export function compileAtRunTime(schemaText: string): ValidateFunction {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv(CONFIG_AJV_OPTIONS);
  ajv.addKeyword({ keyword: PATTERN_DESCRIPTION, schemaType: 'string' });
  return ajv.compile(JSON.parse(schemaText) as object);
}
