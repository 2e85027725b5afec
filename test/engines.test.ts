/**
 * `npm ci` prints no EBADENGINE warning on the Node.js versions the project says it runs on. npm
 * warns when a package's `engines.node` does not admit the running Node, so every package in
 * package-lock.json is checked against the versions promised: the published packages (router,
 * client, schemas: `engines.node` `>=20`) and what they pull in at run time must admit every Node 20
 * release; the development tools (vitest's vite, wampy's yargs) need Node 20.19, which is what the
 * docs state for working on Switchboard itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface LockedPackage {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  engines?: unknown;
}

const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };

/** The lowest Node release the published packages admit (`engines.node` of router, client and schemas). */
const RUNTIME_NODE = '20.0.0';
/** The lowest Node release for development (npm ci, the tests): vite 7 needs ^20.19. */
const DEVELOPMENT_NODE = '20.19.0';

/** `engines.node` as npm reads it: a range string (an array form or none means no constraint). */
function nodeRange(engines: unknown): string | undefined {
  if (typeof engines !== 'object' || engines === null || Array.isArray(engines)) return undefined;
  const node = (engines as Record<string, unknown>)['node'];
  return typeof node === 'string' ? node : undefined;
}

/** Each locked package whose `engines.node` does not admit `version`, as `path@version requires range`. */
function refusing(version: string, include: (p: LockedPackage) => boolean): string[] {
  const out: string[] = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    const range = nodeRange(pkg.engines);
    if (range === undefined || !include(pkg)) continue;
    if (!semver.satisfies(version, range, { includePrerelease: true })) out.push(`${path}@${pkg.version ?? '?'} requires node ${range}`);
  }
  return out;
}

it('the published packages declare Node 20 or later', () => {
  for (const dir of ['', 'schemas', 'router', 'client']) {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { engines?: unknown };
    expect(semver.minVersion(nodeRange(manifest.engines) ?? '*')?.version, `${dir || 'root'} package.json engines.node`).toBe(RUNTIME_NODE);
  }
});

it('every package installed at run time admits every Node 20 release (no EBADENGINE from npm ci)', () => {
  expect(refusing(RUNTIME_NODE, (p) => p.dev !== true && p.devOptional !== true)).toEqual([]);
  expect(refusing('20.20.2', (p) => p.dev !== true && p.devOptional !== true)).toEqual([]);
});

it('every package, development tools included, admits Node 20.19 and later 20.x (no EBADENGINE from npm ci)', () => {
  expect(refusing(DEVELOPMENT_NODE, () => true)).toEqual([]);
  expect(refusing('20.20.2', () => true)).toEqual([]);
  expect(refusing('22.12.0', () => true)).toEqual([]);
});
