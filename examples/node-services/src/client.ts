/**
 * A caller: `node dist/client.js`. Calls the shared procedure CALLS times (default 10) and prints
 * which service process answered how often, then starts a job on the worker and prints its
 * progress events until it is done.
 */
import { connect } from '@switchboard/client';
import { ROUTER } from './contract.js';
import type { Api } from './contract.js';

const calls = Number(process.env['CALLS'] ?? 10);
const session = await connect<Api>({ ...ROUTER });

const servedBy = new Map<string, number>();
for (let i = 0; i < calls; i++) {
  const { sum, servedBy: service } = await session.call('com.example.services.add', [i, 1]);
  if (sum !== i + 1) throw new Error(`${service} says ${i} + 1 = ${sum}`);
  servedBy.set(service, (servedBy.get(service) ?? 0) + 1);
}
const tally = [...servedBy].sort(([a], [b]) => a.localeCompare(b)).map(([service, n]) => `${service} served ${n}`);
console.log(`${calls} calls: ${tally.join(', ')}`);

// Subscribe before starting the job, so that no event is missed; the job ID tells ours apart.
let job: string | undefined;
const progress = await session.subscribe('com.example.jobs.progress');
let jobDone: (elapsedMs: number) => void = () => undefined;
const finished = new Promise<number>((resolve) => (jobDone = resolve));
await session.subscribe('com.example.jobs.done', (_args, { job: id, elapsedMs }) => {
  if (id === job) jobDone(elapsedMs);
});
const receipt = await session.call('com.example.jobs.start', [5], { label: 'thumbnails' });
job = receipt.job;
console.log(`job started on ${receipt.worker}: ${receipt.steps} steps`);
for await (const {
  args: [done, total],
  kwargs,
} of progress) {
  if (kwargs.job !== job) continue;
  console.log(`${kwargs.label}: ${done}/${total}`);
  if (done === total) break;
}
console.log(`job done in ${await finished} ms`);
await session.leave();
