/**
 * The lock that makes one router at a time the writer of a SQLite event store (#17 review F8):
 * two routers on one file would each keep their own counts in memory and trim the other's events
 * by them. Readers (`switchboard history`) take no lock: WAL lets them read while the router writes.
 *
 * The lock is an OS lock, not a file's presence (#17 review 2, R2): `<file>-lock` is a small SQLite
 * database that the writer opens with `locking_mode=EXCLUSIVE` inside a `BEGIN EXCLUSIVE`
 * transaction it keeps open while it runs. SQLite takes that lock with fcntl, which the kernel
 * releases when the process dies, so a router killed with -9, a recreated container (new hostname)
 * or a reboot (its pid now another process's) leaves nothing to delete by hand; and no opener ever
 * unlinks a lock another one took. `<file>.lock` only says who holds it (pid, host, start time),
 * for the error message: it is written after the OS lock is taken and never decides anything.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Lock files this process holds (a second open of the same file in one process is refused as well). */
const held = new Set<string>();

/** What lockFile needs of a better-sqlite3 connection (the package has no types). */
export interface LockDatabase {
  pragma(source: string): unknown;
  exec(sql: string): unknown;
  close(): void;
}

export type LockDatabaseConstructor = new (path: string, options?: { timeout?: number }) => LockDatabase;

export interface FileLock {
  readonly path: string;
  /** Drops the OS lock and removes the owner file (when it is still this process's). */
  release(): void;
}

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
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

function code(err: unknown): string | undefined {
  return (err as { code?: unknown } | undefined)?.code as string | undefined;
}

/**
 * Takes the OS lock `<file>-lock` for `file` and writes `<file>.lock` (the owner), or throws an
 * error that says who holds it. Never waits: a held lock is refused at once.
 */
export function lockFile(file: string, Sqlite: LockDatabaseConstructor): FileLock {
  const path = `${file}.lock`;
  const osLock = `${file}-lock`;
  if (held.has(path)) throw new Error(`${file}: the event store is already open in this process`);
  const db = new Sqlite(osLock, { timeout: 0 });
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if (code(err) !== 'SQLITE_BUSY' && code(err) !== 'SQLITE_LOCKED') throw err;
    const owner = readOwner(path);
    const who = owner === undefined ? 'another process' : `pid ${owner.pid}${owner.host === hostname() ? '' : ` on host ${owner.host}`}, since ${owner.since}`;
    throw new Error(
      `${file}: the event store is in use by another Switchboard router (${who}): ` +
        `two routers cannot share one SQLite store; stop that router, or point store.path at another file`,
    );
  }
  // Whatever an earlier holder left here is stale: the OS lock is ours.
  const content = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  try {
    writeFileSync(path, content, { mode: 0o644 });
  } catch (err) {
    db.close();
    throw err;
  }
  held.add(path);
  return {
    path,
    release: () => {
      if (!held.delete(path)) return;
      // The owner file goes first, while the OS lock still keeps the next holder out.
      try {
        if (readFileSync(path, 'utf8') === content) unlinkSync(path);
      } catch {
        // Already gone.
      }
      db.close();
    },
  };
}
