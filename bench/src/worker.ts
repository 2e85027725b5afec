/**
 * A load-generator process, forked by the orchestrator; never runs in a target's process.
 * Protocol (ipc.ts): `job` → set up → `ready`; `go` with the shared schedule; `finish` → `report`,
 * then the process exits. It also exits when the orchestrator goes away.
 */
import type { FromWorker, Job, ToWorker } from './ipc.js';
import type { Role } from './load/common.js';
import { Holder } from './load/holder.js';
import { Idle } from './load/idle.js';
import { Publisher } from './load/publisher.js';
import { Callee, Callers } from './load/rpc.js';
import { Subscribers } from './load/subscribers.js';

function send(msg: FromWorker): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) resolve();
    else process.send(msg, undefined, {}, () => resolve());
  });
}

function roleFor(job: Job): Role {
  switch (job.kind) {
    case 'subscribers':
      return new Subscribers(job, (seq) => void send({ type: 'progress', seq }));
    case 'publisher':
      return new Publisher(job);
    case 'callee':
      return new Callee(job);
    case 'callers':
      return new Callers(job);
    case 'idle':
      return new Idle(job);
    case 'holder':
      return new Holder(job);
  }
}

async function fail(error: unknown): Promise<never> {
  await send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

let role: Role | undefined;

process.on('message', (raw: unknown) => {
  const msg = raw as ToWorker;
  switch (msg.type) {
    case 'job': {
      const started = Date.now();
      role = roleFor(msg.job);
      role.setup().then((sessions) => send({ type: 'ready', sessions, connectMs: Date.now() - started }), fail);
      return;
    }
    case 'go':
      role?.go(msg.schedule);
      return;
    case 'progress':
      role?.progress?.(msg.seq);
      return;
    case 'finish':
      (role?.finish() ?? Promise.resolve([])).then((reports) => send({ type: 'report', reports })).then(() => process.exit(0), fail);
      return;
  }
});

// Orphaned (the orchestrator died): leave at once, taking our sockets with us.
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (error) => void fail(error));
