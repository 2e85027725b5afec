#!/usr/bin/env node
/**
 * Writes router/src/config/schema-types.ts, the TypeScript types of the config FILE, from the
 * config's JSON Schema (schemas/schema/router-config.schema.json), so that the file's shape is
 * written once: ajv checks files against the schema, and the compiler checks the code against the
 * types made from it (router/src/config/config.ts). router/test/unit/schema-types.test.ts fails when
 * the committed file differs from what this renders.
 *
 *   node scripts/schema-types.mjs           write it (`npm run schema:types`, also run by `npm run docs`)
 *   node scripts/schema-types.mjs --check   change nothing; exit 1 when it is out of date
 *
 * json-schema-to-typescript turns draft-07 schemas into interfaces with the descriptions as doc
 * comments; it reads neither `if`/`then` nor the schema's own keywords, so the schema is adapted
 * first (adaptSchema) — on a copy: ajv and the docs read the schema as it is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
export const SCHEMA = 'schemas/schema/router-config.schema.json';
export const TYPES = 'router/src/config/schema-types.ts';

const BANNER = `/**
 * The config file's types, generated from ${SCHEMA} by \`npm run schema:types\`
 * (scripts/schema-types.mjs). Do not edit: change the schema and run it again
 * (router/test/unit/schema-types.test.ts fails while this file is out of date).
 */
/* eslint-disable */`;

/**
 * The schema as the generator can read it:
 * - a definition that dispatches on `type` with `allOf: [{if: {properties: {type: {const: X}}},
 *   then: {$ref}}…]` (listener, bridgePath) is the union of its `then`s, a tagged union;
 * - the root gets the name the code uses, RouterConfigFile, instead of its title;
 * - `patternDescription` (our keyword, for ajv's messages) is dropped.
 */
export function adaptSchema(schema) {
  const copy = structuredClone(schema);
  copy.title = 'RouterConfigFile';
  for (const def of Object.values(copy.definitions ?? {})) {
    const branches = Array.isArray(def.allOf) ? def.allOf : [];
    const tagged = branches.length > 0 && branches.every((b) => b.if?.properties?.type?.const !== undefined && typeof b.then?.$ref === 'string');
    if (!tagged) continue;
    const description = def.description;
    for (const key of Object.keys(def)) delete def[key];
    if (description !== undefined) def.description = description;
    def.anyOf = branches.map((b) => ({ $ref: b.then.$ref }));
  }
  const strip = (node) => {
    if (Array.isArray(node)) node.forEach(strip);
    else if (node !== null && typeof node === 'object') {
      delete node.patternDescription;
      Object.values(node).forEach(strip);
    }
  };
  strip(copy);
  return copy;
}

/** The text of router/src/config/schema-types.ts for a parsed schema. */
export async function renderSchemaTypes(schema) {
  const ts = await compile(adaptSchema(schema), 'RouterConfigFile', {
    bannerComment: BANNER,
    // Every definition, also those only the code names (a principal, a bridge path).
    unreachableDefinitions: true,
    // minItems as a non-empty tuple makes every array built in code a type error.
    ignoreMinAndMaxItems: true,
    additionalProperties: false,
    strictIndexSignatures: true,
    format: true,
    style: { singleQuote: true, printWidth: 140 },
  });
  return ts;
}

async function main(args) {
  const check = args.includes('--check');
  const schema = JSON.parse(readFileSync(join(root, SCHEMA), 'utf8'));
  const text = await renderSchemaTypes(schema);
  let now = '';
  try {
    now = readFileSync(join(root, TYPES), 'utf8');
  } catch {
    // not written yet
  }
  if (now === text) return 0;
  if (check) {
    console.log(`out of date: ${TYPES}\nrun \`npm run schema:types\` and commit the result`);
    return 1;
  }
  writeFileSync(join(root, TYPES), text);
  console.log(`wrote: ${TYPES}`);
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
