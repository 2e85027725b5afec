/**
 * The lock file that makes one router at a time the writer of a SQLite event store (#17 review
 * F8): two routers on one file would each keep their own counts in memory and trim the other's
 * events by them. `<file>.lock` holds the owner's pid, host and start time; a second writer is
 * refused with a message that names the owner. Readers (`switchboard history`) take no lock: WAL
 * lets them read while the router writes.
 *
 * The lock is a file, not an OS lock (Node has none), so a router killed with -9 leaves it
 * behind: a lock whose pid no longer runs on this host is stale and taken over, and so is one
 * with this process's own pid that this process does not hold (a container restarted: pid 1
 * again). A lock from another host (a shared volume) cannot be checked and is respected.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Lock files this process holds (a second open of the same file in one process is refused as well). */
const held = new Set<string>();

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

export interface FileLock {
  readonly path: string;
  /** Removes the lock file (when it is still this process's). */
  release(): void;
}

function readOwner(path: string): Owner | undefined {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { pid, host, since } = parsed as Record<string, unknown>;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
    return { pid, host: typeof host === 'string' ? host : '', since: typeof since === 'string' ? since : '' };
  } catch {
    return undefined;
  }
}

/** Whether `owner` may still hold its lock. */
function running(owner: Owner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return false; // not in `held`: an earlier run that had this pid
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Takes `<file>.lock` for `file`, or throws an error that says who holds it. The lock file
 * appears with its content in one step (written aside, then hard-linked into place), so a
 * concurrent opener never reads a half-written one.
 */
export function lockFile(file: string): FileLock {
  const path = `${file}.lock`;
  if (held.has(path)) throw new Error(`${file}: the event store is already open in this process`);
  const content = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  const aside = `${path}.${process.pid}.${Date.now()}`;
  writeFileSync(aside, content, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(aside, path);
        held.add(path);
        return {
          path,
          release: () => {
            if (!held.delete(path)) return;
            try {
              if (readFileSync(path, 'utf8') === content) unlinkSync(path);
            } catch {
              // Already gone.
            }
          },
        };
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err;
      }
      const owner = readOwner(path);
      if (owner !== undefined && running(owner)) {
        const where = owner.host === hostname() ? '' : ` on host ${owner.host}`;
        throw new Error(
          `${file}: the event store is in use by another Switchboard router (pid ${owner.pid}${where}, since ${owner.since}): ` +
            `two routers cannot share one SQLite store; stop that router, or point store.path at another file (if no router uses it, delete ${path})`,
        );
      }
      // Stale (its process is gone) or unreadable: taken over.
      try {
        unlinkSync(path);
      } catch (err) {
        if (code(err) !== 'ENOENT') throw err;
      }
    }
    throw new Error(`${file}: could not take the lock file ${path} (another router keeps taking it)`);
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // Nothing to remove.
    }
  }
}
