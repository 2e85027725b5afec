/**
 * The SQLite store's writer lock after a crash (#17 review 2, R2; branch i17-review2,
 * router/test/review/history-review2-store.test.ts R2a, R2b): a lock is an OS lock the kernel
 * drops with its process, so what a dead router left never keeps the next one from starting, and
 * a live holder is still refused.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname, tmpdir, uptime } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SqliteStore } from '../../src/history/sqlite.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-lock-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const openStore = async (path: string): Promise<SqliteStore> => {
  const store = await SqliteStore.open({ path, expiryIntervalMs: 0 });
  onTestFinished(() => store.close());
  return store;
};

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'opened',
    (err: unknown) => (err instanceof Error ? err.message : String(err)),
  );

/** Another process that holds the OS lock of `file` the way a router does, until it is killed. */
async function holder(file: string): Promise<ChildProcess> {
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `
    const Database = require(${JSON.stringify(sqlite)});
    const db = new Database(${JSON.stringify(`${file}-lock`)}, { timeout: 0 });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    require('node:fs').writeFileSync(${JSON.stringify(`${file}.lock`)}, JSON.stringify({ pid: process.pid, host: require('node:os').hostname(), since: '2026-01-01T00:00:00.000Z' }));
    process.stdout.write('held\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (status) => reject(new Error(`the lock holder exited (${status})`)));
  });
  return child;
}

describe('review 2 R2: the SQLite writer lock after a crash', () => {
  it('R2a: a lock file left by a router killed -9 in a recreated container (another hostname) does not stop the next one', async () => {
    const path = join(tempDir(), 'h.db');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 1, host: '3f2a9c1b7d4e', since: '2026-12-01T00:00:00.000Z' }));
    expect(await outcome(openStore(path))).toBe('opened');
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
  });

  it('R2b: a lock file from before a reboot whose pid now runs another process does not stop the next one', async () => {
    const path = join(tempDir(), 'h.db');
    const beforeBoot = new Date(Date.now() - uptime() * 1000 - 3_600_000).toISOString();
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: 1, host: hostname(), since: beforeBoot }));
    expect(await outcome(openStore(path))).toBe('opened');
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
  });

  it('another process holding the OS lock is refused and named; once it is killed -9 the lock is free', async () => {
    const path = join(tempDir(), 'h.db');
    const child = await holder(path);
    const refused = await outcome(openStore(path));
    expect(refused).toMatch(new RegExp(`in use by another Switchboard router \\(pid ${child.pid}, since 2026-01-01T00:00:00.000Z\\)`));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(await outcome(openStore(path))).toBe('opened');
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ pid: process.pid });
  });
});
