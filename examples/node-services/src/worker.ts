/**
 * A worker process: `node dist/worker.js [NAME]`. `com.example.jobs.start(steps)` answers at once
 * with a job ID; the work then runs in the background and every step publishes
 * `com.example.jobs.progress`, the end `com.example.jobs.done`, for whoever subscribes (the caller,
 * a dashboard, a logger).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WampError, connect } from '@switchboard/client';
import type { Session } from '@switchboard/client';
import { ROUTER, leaveOnSignal } from './contract.js';
import type { Api } from './contract.js';

const name = process.argv[2] ?? 'worker';
/** Milliseconds per step of the pretend work. */
const STEP_MS = Number(process.env['STEP_MS'] ?? 50);
const MAX_STEPS = 1000;

const session = await connect<Api>({ ...ROUTER });

async function run(s: Session<Api>, job: string, label: string, steps: number): Promise<void> {
  const started = Date.now();
  for (let done = 1; done <= steps; done++) {
    await sleep(STEP_MS);
    // Acknowledged, so a router that refuses the publication (authorization) is noticed here.
    await s.publish('com.example.jobs.progress', [done, steps], { job, label, worker: name }, { acknowledge: true });
  }
  await s.publish('com.example.jobs.done', [], { job, label, worker: name, elapsedMs: Date.now() - started }, { acknowledge: true });
}

await session.register('com.example.jobs.start', ([steps], { label }) => {
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)
    throw new WampError('wamp.error.invalid_argument', [`steps must be an integer from 1 to ${MAX_STEPS}`]);
  const job = randomUUID();
  run(session, job, label ?? 'job', steps).catch((err: unknown) => console.error(`${name}: job ${job} failed:`, err));
  return { job, worker: name, steps };
});

console.log(`${name} ready (session ${session.id})`);
leaveOnSignal(() => session.leave());
