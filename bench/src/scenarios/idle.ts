/**
 * Idle sessions: open many sessions (HELLO → WELCOME, then nothing) from several generator
 * processes and weigh the target: RSS growth ÷ sessions. The target's RSS is read before any
 * session and again after a settle time with all of them open.
 */
import type { Job } from '../ipc.js';
import { openFileLimit } from '../procfs.js';
import type { Result } from '../results.js';
import { REALM } from '../targets.js';
import type { ScenarioContext } from './context.js';
import { measureOn, timing } from './context.js';
import { runLoad, split, total } from './load.js';

const SESSIONS_PER_PROCESS = 2500;
const SETTLE_MS = 1500;
/** File descriptors a process needs besides its sockets. */
const FD_MARGIN = 256;

export async function idle(ctx: ScenarioContext): Promise<Result[]> {
  const results: Result[] = [];
  const sessions = ctx.options.idleSessions;
  const limit = openFileLimit();
  const notes: string[] = [`open files: soft ${limit.soft}, hard ${limit.hard}`];
  const problems: string[] = [];
  const needFds = sessions + FD_MARGIN;
  // Node cannot raise its own limit: the target is started under `ulimit -n` when the hard limit
  // allows, and the generators stay under the soft limit by taking fewer sessions each.
  if (needFds > limit.hard)
    problems.push(`open-file hard limit ${limit.hard} < ${needFds} needed by the target: expect failed connects (raise it as root: ulimit -Hn)`);
  else if (needFds > limit.soft) notes.push(`target started with ulimit -n ${needFds}`);
  const perProcess = Math.max(1, Math.min(SESSIONS_PER_PROCESS, limit.soft - FD_MARGIN));
  for (const targetName of ctx.options.targets) {
    results.push(
      await measureOn(ctx, 'idle', `${sessions} sessions`, targetName, { needFds }, async (target) => {
        const endpoint = { url: target.url, realm: REALM, deflate: target.deflate };
        const jobs: Job[] = split(sessions, Math.max(2, Math.ceil(sessions / perProcess))).map((count) => ({
          kind: 'idle',
          endpoint,
          sessions: count,
          connectConcurrency: 25,
        }));
        const run = await runLoad(ctx.benchDist, target, [jobs], timing(ctx, { warmupMs: SETTLE_MS, measureMs: 500, drainMs: 0, setupTimeoutMs: 120_000 }));
        const opened = total(run.reports, 'idle', 'sessions');
        const connectS = Math.max(...run.reports.map((r) => r.connectMs)) / 1000;
        const delta = run.rssWindowEndBytes - run.rssIdleBytes;
        const failed = total(run.reports, 'idle', 'errors');
        return {
          values: {
            sessions: opened,
            idleRssBytes: run.rssIdleBytes,
            rssDeltaBytes: delta,
            rssPerSessionBytes: opened > 0 ? delta / opened : Number.NaN,
            connectsPerSec: connectS > 0 ? opened / connectS : Number.NaN,
            cpuUsPerConnect: opened > 0 ? run.setupCpuUs / opened : Number.NaN,
            sessionsLost: total(run.reports, 'idle', 'sessionsLost'),
            errors: failed,
            otherCpuPct: run.otherCpuUsPerS / 1e4,
          },
          notes,
          problems: [...problems, ...(failed > 0 ? [`${failed} of ${sessions} sessions failed to open`] : []), ...run.problems],
        };
      }),
    );
  }
  return results;
}
