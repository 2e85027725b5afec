/**
 * Picks and opens the event store the config's `store` block names (history/store.ts): memory (the
 * default), sqlite (one file, better-sqlite3 loaded only then; the file's lock refuses a second
 * router on it) or jetstream (the cluster's NATS
 * connection, which only the cluster code holds: the caller passes a factory). Also the checks
 * `switchboard check` runs on the block without opening anything (storeProblems).
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import type { StoreConfig } from '../config/config.js';
import type { Logger } from '../log.js';
import { logRefusal } from '../log.js';
import type { EventStore } from './store.js';

export interface OpenStoreDeps {
  /** What a relative sqlite path is relative to (the config file's directory; else the working directory). */
  readonly configDir: string;
  readonly log: Logger;
  /** The memory engine (history/memory.ts), made by the caller. */
  readonly memory: () => EventStore;
  /** The JetStream engine over the cluster's connection; absent on a single node. */
  readonly jetstream?: () => Promise<EventStore>;
  /** Each committed batch of a durable engine: its duration and size (the write latency histogram). */
  readonly onBatch?: (seconds: number, events: number) => void;
}

/**
 * The store `config` names, open. Throws what stops the router from starting: better-sqlite3 not
 * installed (a MissingDependencyError with the npm install line), a file it cannot open or of a
 * newer schema, jetstream without a cluster.
 */
export async function openStore(config: StoreConfig, deps: OpenStoreDeps): Promise<EventStore> {
  switch (config.type) {
    case 'memory':
      return deps.memory();
    case 'sqlite': {
      const path = resolvePath(deps.configDir, config.path);
      mkdirSync(dirname(path), { recursive: true });
      // Imported only now, so that a router without a sqlite store never loads it.
      const { SqliteStore } = await import('./sqlite.js');
      return SqliteStore.open({
        path,
        // "ack": synced to the disk before PUBLISHED (synchronous = FULL), so that it survives a power cut.
        durability: config.durability,
        expiryIntervalMs: config.expiryIntervalMs,
        ...(deps.onBatch !== undefined && { onBatch: deps.onBatch }),
        // A full disk fails every batch: one line per interval, with the count of the others.
        onError: (err, during) =>
          logRefusal(deps.log, `history_store_${during}`, { err, path }, `event store ${during === 'write' ? 'write' : 'expiry'} failed`, 'error'),
      });
    }
    case 'jetstream':
      if (deps.jetstream === undefined) throw new Error("store type 'jetstream' needs the cluster block (it uses the cluster's NATS connection)");
      return deps.jetstream();
  }
}

/**
 * What `switchboard check` reports about the store block beyond the schema and config.ts's own
 * checks (jetstream without a cluster is one of those): for sqlite, a file path whose directory
 * cannot be created or written (`/store/path: …`). Nothing is created.
 */
export function storeProblems(store: Partial<StoreConfig> | undefined, configDir: string): string[] {
  if (store?.type !== 'sqlite' || store.path === undefined) return [];
  const path = resolvePath(configDir, store.path);
  const problem = (what: string): string[] => [`/store/path: ${path}: ${what}`];
  const file = statOf(path);
  if (file !== undefined) {
    if (!file.isFile()) return problem('is not a file');
    return writable(path) ? [] : problem('the file is not writable');
  }
  // The nearest directory that exists must be one, and writable, for the rest to be created.
  let dir = dirname(path);
  for (;;) {
    const stat = statOf(dir);
    if (stat !== undefined) {
      if (!stat.isDirectory()) return problem(`cannot create its directory: ${dir} is not a directory`);
      if (!writable(dir)) return problem(`cannot ${dir === dirname(path) ? 'create the file' : 'create its directory'}: ${dir} is not writable`);
      return [];
    }
    const parent = dirname(dir);
    if (parent === dir) return problem('no part of its directory exists');
    dir = parent;
  }
}

function statOf(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
