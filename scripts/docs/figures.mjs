/**
 * Figures the docs quote from the built product, kept true by generating them: the browser
 * bundles' sizes (client/dist/bundle, as `npm run build` writes them) and the body of GET /health.
 * A page marks each one with `<!-- figure:NAME -->…<!-- /figure -->` (inline or around a block);
 * `npm run docs` rewrites what is between the markers, and test/docs.test.ts fails when a page
 * holds anything else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The bundles the docs list, in the order of their table, with what each is. */
export const BUNDLES = [
  ['switchboard.js', 'client, JSON only, with long-poll fallback'],
  ['msgpack.js', 'MessagePack codec, optional'],
  ['cbor.js', 'CBOR codec, optional'],
  ['auth.js', 'ticket, wampcra, cryptosign helpers, optional'],
  ['auth-scram.js', 'SCRAM helper with argon2id, optional'],
];

/** Minified and gzip (level 9, as client/scripts/bundle.mjs measures) bytes of each bundle in `dir`. */
export function bundleSizes(dir) {
  const sizes = {};
  for (const [name] of BUNDLES) {
    let code;
    try {
      code = readFileSync(join(dir, name));
    } catch {
      throw new Error(`${join(dir, name)} is missing: run \`npm run build\` first (it writes the browser bundles)`);
    }
    sizes[name] = { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
  }
  return sizes;
}

const kB = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

/** The bundle table, as the client guide shows it. */
export function renderBundleSizes(sizes) {
  const rows = BUNDLES.map(([name, what]) => `| \`${name}\` (${what}) | ${kB(sizes[name].minified)} | ${kB(sizes[name].gzip)} |`);
  return ['', '| bundle | minified | gzip |', '| --- | --- | --- |', ...rows, ''].join('\n');
}

/** GET /health's body on a router with no sessions, inline. */
export function renderHealth(body) {
  return `\`${body}\``;
}

const MARKER = /<!-- figure:([a-z-]+) -->([\s\S]*?)<!-- \/figure -->/g;

/** Every figure marked in a page: its name and what the page says now. */
export function figuresIn(text) {
  return [...text.matchAll(MARKER)].map((m) => ({ name: m[1], content: m[2] }));
}

/** The page with each marked figure replaced by `figures[name]`; an unknown name is an error. */
export function withFigures(text, figures) {
  return text.replace(MARKER, (_all, name) => {
    if (!(name in figures)) throw new Error(`unknown figure '${name}' (known: ${Object.keys(figures).join(', ')})`);
    return `<!-- figure:${name} -->${figures[name]}<!-- /figure -->`;
  });
}
