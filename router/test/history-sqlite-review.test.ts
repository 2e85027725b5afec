/**
 * The adversarial review's findings on the SQLite store, through the router (#17, branch
 * i17-review: router/test/review/history-e2e.test.ts F8 and F10): a second router on the same
 * file is refused, and persisted retained events stay within the realm's maxRetainedBytes.
 * Ephemeral ports, a real file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startTestRouter } from './helpers.js';
import { Raw } from './advanced/support.js';

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-review-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('review: the SQLite store through the router', () => {
  it('F8: a second router on the same file refuses to start, saying so; the first goes on', async () => {
    const path = join(tempDir(), 'h.db');
    const config = { store: { type: 'sqlite' as const, path }, realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.s.t', limit: 2 }] }] };
    const first = await startTestRouter(config);
    const started = await startTestRouter(config).then(
      () => 'started',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    expect(started).toMatch(/event store is already open in this process/);
    const publisher = await Raw.join(first.url);
    await publisher.publish('com.s.t', ['still here'], {}, { acknowledge: true });
    expect(((await publisher.meta('wamp.topic.history.last', ['com.s.t', 10])) as unknown[]).length).toBe(1);
  });

  it('F10: retained publications persisted stay within maxRetainedBytes', async () => {
    const path = join(tempDir(), 'h.db');
    const router = await startTestRouter({ store: { type: 'sqlite', path }, realms: [{ name: 'realm1', limits: { maxRetainedBytes: 4096 } }] });
    const publisher = await Raw.join(router.url);
    // No history rule needed: any session that may publish, on topics it makes up.
    for (let i = 0; i < 50; i++) await publisher.publish(`com.ret.t${i}`, ['x'.repeat(2048)], {}, { retain: true });
    await router.stop();
    const { default: Database } = (await import('better-sqlite3' as string)) as {
      default: new (p: string) => { prepare(s: string): { get(): unknown }; close(): void };
    };
    const db = new Database(path);
    const row = db.prepare('SELECT count(*) AS n, sum(length(record)) AS bytes FROM retained').get() as { n: number; bytes: number };
    db.close();
    console.log(`F10: ${row.n} retained rows, ${row.bytes} bytes persisted (the broker holds at most 4096)`);
    expect(row.bytes).toBeLessThanOrEqual(4096);
    expect(row.n).toBe(1);
  });
});
