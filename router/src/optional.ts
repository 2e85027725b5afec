/**
 * Optional dependencies: packages only some configs need, in the router's `optionalDependencies`
 * (npm installs them by default; `npm install --omit=optional` leaves them out). Each is loaded
 * where it is used and only then, so a router that does not need one runs without it, and one
 * that does names what is missing and how to install it instead of failing on a module path.
 *
 * - NATS (`@nats-io/*`): only a config with a `cluster` block (cluster/node.ts, which router.ts
 *   imports only then);
 * - better-sqlite3: only a config with `store: { type: "sqlite" }` (history/sqlite.ts, which
 *   history/open.ts imports only then);
 * - pino-pretty: only when logs are pretty (config `log.pretty`, or stdout a terminal); without it
 *   the logger writes JSON lines and says so once (log.ts).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

/** What a config feature needs: the packages, and what to call the feature in a message. */
export interface OptionalDependency {
  /** Why it is needed, e.g. "the config's `cluster` block (a cluster over NATS)". */
  feature: string;
  packages: readonly string[];
}

export const NATS: OptionalDependency = {
  feature: "the config's `cluster` block (a cluster over NATS)",
  packages: ['@nats-io/transport-node', '@nats-io/kv', '@nats-io/jetstream'],
};

export const SQLITE: OptionalDependency = {
  feature: 'the config\'s `store: { type: "sqlite" }` (event history in a SQLite file)',
  packages: ['better-sqlite3'],
};

export const PINO_PRETTY: OptionalDependency = {
  feature: 'pretty logs (config `log.pretty`, or a terminal on stdout)',
  packages: ['pino-pretty'],
};

/** Thrown when a feature the config asks for needs packages that are not installed. */
export class MissingDependencyError extends Error {
  override name = 'MissingDependencyError';

  constructor(
    readonly dependency: OptionalDependency,
    /** The package found missing (the first one loaded that is not there). */
    readonly missing: string,
    /** The command that installs them, at the versions this router was built with. */
    readonly install: string,
    options?: ErrorOptions,
  ) {
    const needs = dependency.packages.length === 1 ? `the optional package ${missing}` : `the optional packages ${dependency.packages.join(', ')}`;
    super(`${dependency.feature} needs ${needs}; ${missing} is not installed: run \`${install}\``, options);
  }
}

/** The router's own optionalDependencies (router/package.json, one directory above src/ and dist/). */
function optionalVersions(): Record<string, string> {
  try {
    const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const optional = typeof manifest === 'object' && manifest !== null ? (manifest as Record<string, unknown>)['optionalDependencies'] : undefined;
    if (typeof optional !== 'object' || optional === null) return {};
    return Object.fromEntries(Object.entries(optional).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return {};
  }
}

/** `npm install <each package>@<its version>`. */
export function installCommand(dependency: OptionalDependency): string {
  const versions = optionalVersions();
  return `npm install ${dependency.packages.map((p) => (versions[p] !== undefined ? `${p}@${versions[p]}` : p)).join(' ')}`;
}

/**
 * Which of `packages` `err` says cannot be found (it, or a module inside it): Node's
 * ERR_MODULE_NOT_FOUND (import) or MODULE_NOT_FOUND (require) naming it. A package that is there
 * but fails to load for another reason is not this, and keeps its own error.
 */
export function missingPackage(err: unknown, packages: readonly string[]): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  return packages.find((p) => err.message.includes(`'${p}'`) || err.message.includes(`'${p}/`));
}

/**
 * Imports an optional package: `load` is `() => import('name')` (a literal, so the types and
 * bundlers see it). A missing package of `dependency` becomes a MissingDependencyError.
 */
export async function importOptional<T>(dependency: OptionalDependency, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const missing = missingPackage(err, dependency.packages);
    if (missing !== undefined) throw new MissingDependencyError(dependency, missing, installCommand(dependency), { cause: err });
    throw err;
  }
}

const require = createRequire(import.meta.url);

/**
 * Loads a CommonJS optional package synchronously (for what must be ready in a constructor, the
 * logger); undefined when it is not installed.
 */
export function requireOptional(dependency: OptionalDependency, name: string): unknown {
  try {
    return require(name) as unknown;
  } catch (err) {
    if (missingPackage(err, dependency.packages) !== undefined) return undefined;
    throw err;
  }
}
