#!/usr/bin/env node
/**
 * Writes what the docs generate instead of stating by hand (test/docs.test.ts fails when the
 * committed pages differ):
 *
 *   node scripts/docs.mjs config    docs/configuration-reference.md, router/src/config/schema-types.ts
 *                                   (the config file's TypeScript types) and
 *                                   schemas/schema/router-config.validate.cjs (the schema compiled
 *                                   ahead of time) from the config's JSON Schema
 *   node scripts/docs.mjs figures   bundle sizes and the /health body (after `npm run build`)
 *   node scripts/docs.mjs           both (`npm run docs`)
 *   … --check                       change nothing; list what is out of date and exit 1
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from './docs/config-reference.mjs';
import { TYPES, renderSchemaTypes } from './schema-types.mjs';
import { VALIDATOR, renderConfigValidator } from './config-validator.mjs';
import { bundleSizes, figuresIn, renderBundleSizes, renderHealth, withFigures } from './docs/figures.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
export const SCHEMA = 'schemas/schema/router-config.schema.json';
export const REFERENCE = 'docs/configuration-reference.md';

/** The pages that may hold figures: README.md and docs/ (not docs/_pending/, notes for the lead). */
export function pages() {
  const docs = readdirSync(join(root, 'docs'), { recursive: true })
    .map(String)
    .filter((p) => p.endsWith('.md') && !p.startsWith('_pending'))
    .map((p) => join('docs', p));
  return ['README.md', ...docs.sort()];
}

function healthBody() {
  const dist = join(root, 'router/dist/index.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` first`);
  return import(dist).then(async ({ Router, silentLogger }) => {
    const router = new Router({ config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }] }, logger: silentLogger() });
    await router.start();
    try {
      const port = router.addresses[0].port;
      return await new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/health' }, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve(body));
        })
          .on('error', reject)
          .end();
      });
    } finally {
      await router.stop();
    }
  });
}

async function main(args) {
  const check = args.includes('--check');
  const what = args.find((a) => !a.startsWith('--')) ?? 'all';
  if (!['all', 'config', 'figures'].includes(what)) {
    console.error(`usage: node scripts/docs.mjs [config|figures] [--check]`);
    return 2;
  }
  const outputs = new Map();
  if (what !== 'figures') {
    const schemaText = readFileSync(join(root, SCHEMA), 'utf8');
    const schema = JSON.parse(schemaText);
    outputs.set(REFERENCE, renderConfigReference(schema, SCHEMA));
    outputs.set(TYPES, await renderSchemaTypes(schema));
    outputs.set(VALIDATOR, renderConfigValidator(schemaText));
  }
  if (what !== 'config') {
    const figures = {
      'bundle-sizes': renderBundleSizes(bundleSizes(join(root, 'client/dist/bundle'))),
      health: renderHealth(await healthBody()),
    };
    for (const page of pages()) {
      const text = outputs.get(page) ?? readFileSync(join(root, page), 'utf8');
      if (figuresIn(text).length > 0) outputs.set(page, withFigures(text, figures));
    }
  }
  const stale = [];
  for (const [page, text] of outputs) {
    let now = '';
    try {
      now = readFileSync(join(root, page), 'utf8');
    } catch {
      // a page not written yet
    }
    if (now === text) continue;
    stale.push(page);
    if (!check) writeFileSync(join(root, page), text);
  }
  for (const page of stale) console.log(`${check ? 'out of date' : 'wrote'}: ${relative(root, join(root, page))}`);
  if (check && stale.length > 0) {
    console.log('run `npm run docs` (after `npm run build`) and commit the result');
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.slice(2));
}
