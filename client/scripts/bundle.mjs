#!/usr/bin/env node
/**
 * The browser ESM bundle: dist/bundle/switchboard.js from the compiled browser entry (run after
 * `tsc -b`). JSON only: the build fails if msgpackr or cbor-x end up in it. The auth helpers
 * (auth.js) and SCRAM (auth-scram.js, with hash-wasm's argon2id) are bundles of their own. Prints the size
 * (minified and gzip) and writes it to dist/bundle/size.json for the test that holds the budget.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
mkdirSync(outdir, { recursive: true });

const bundles = [
  { name: 'switchboard.js', entry: 'dist/browser.js', forbid: ['msgpackr', 'cbor-x', 'ws'] },
  { name: 'msgpack.js', entry: 'dist/msgpack.js', forbid: ['cbor-x', 'ws'] },
  { name: 'cbor.js', entry: 'dist/cbor.js', forbid: ['msgpackr', 'ws'] },
  { name: 'auth.js', entry: 'dist/auth.js', forbid: ['msgpackr', 'cbor-x', 'ws'] },
  { name: 'auth-scram.js', entry: 'dist/auth/scram.js', forbid: ['msgpackr', 'cbor-x', 'ws'] },
];

const sizes = {};
for (const bundle of bundles) {
  const outfile = join(outdir, bundle.name);
  const result = await build({
    entryPoints: [join(root, bundle.entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs);
  for (const name of bundle.forbid) {
    const found = inputs.filter((input) => input.includes(`node_modules/${name}/`));
    if (found.length > 0) throw new Error(`${bundle.name} must not contain ${name}, but has ${found.join(', ')}`);
  }
  const code = readFileSync(outfile);
  sizes[bundle.name] = { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}
writeFileSync(join(outdir, 'size.json'), `${JSON.stringify(sizes, null, 2)}\n`);
for (const [name, size] of Object.entries(sizes)) {
  console.log(`client bundle ${name}: ${(size.minified / 1024).toFixed(1)} kB minified, ${(size.gzip / 1024).toFixed(1)} kB gzip`);
}
