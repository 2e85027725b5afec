/**
 * The node-services example: two service processes share `com.example.services.add` round-robin,
 * a worker process publishes progress events, the README's client prints both. The processes are
 * the built example (dist/, from `tsc -b`) against a router on an ephemeral port.
 */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { WampError, connect } from '@switchboard/client';
import type { Session } from '@switchboard/client';
import { startTestRouter, within } from '../../../router/test/helpers.js';
import { spawnProcess } from '../../../test/support/processes.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';
import type { Spawned } from '../../../test/support/processes.js';
import type { Api } from '../src/contract.js';

const dist = (name: string): string => fileURLToPath(new URL(`../dist/${name}.js`, import.meta.url));

async function start(script: string, name: string, url: string): Promise<Spawned> {
  const child = spawnProcess(process.execPath, [dist(script), name], { name, env: { ...process.env, WAMP_URL: url, STEP_MS: '10' } });
  await child.waitFor(new RegExp(`^${name} ready`, 'm'), 10_000);
  return child;
}

async function session(url: string): Promise<Session<Api>> {
  const s = await connect<Api>({ url, realm: 'realm1', reconnect: false });
  return s;
}

it('two processes share a procedure round-robin; the worker publishes progress; the README client prints both', { timeout: 30_000 }, async () => {
  const router = await startTestRouter();
  const [a, b, worker] = await Promise.all([start('service', 'A', router.url), start('service', 'B', router.url), start('worker', 'worker', router.url)]);
  const caller = await session(router.url);
  try {
    // One registration, two callees, invoked in turn.
    const servedBy: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { sum, servedBy: service } = await caller.call('com.example.services.add', [i, 2]);
      expect(sum).toBe(i + 2);
      servedBy.push(service);
    }
    expect(servedBy.filter((s) => s === 'A')).toHaveLength(5);
    expect(servedBy.filter((s) => s === 'B')).toHaveLength(5);
    for (let i = 1; i < servedBy.length; i++) expect(servedBy[i]).not.toBe(servedBy[i - 1]);
    const stats = [await caller.call('com.example.services.stats'), await caller.call('com.example.services.stats')];
    expect(stats.map((s) => s.service).sort()).toEqual(['A', 'B']);
    expect(stats.map((s) => s.served)).toEqual([5, 5]);
    expect(new Set(stats.map((s) => s.pid))).toEqual(new Set([a.child.pid, b.child.pid]));

    // A callee's application error reaches the caller with its URI.
    const refused = await caller.call('com.example.services.add', [1, Number.NaN]).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WampError);
    expect(refused instanceof WampError && [refused.uri, refused.args]).toEqual(['wamp.error.invalid_argument', ['add takes two finite numbers']]);

    // The worker's progress events, then its done event, for the job the call started.
    const progress = await caller.subscribe('com.example.jobs.progress');
    const done = await caller.subscribe('com.example.jobs.done');
    const receipt = await caller.call('com.example.jobs.start', [4], { label: 'test' });
    expect(receipt).toMatchObject({ worker: 'worker', steps: 4 });
    const seen: [number, number][] = [];
    await within(
      (async () => {
        for await (const { args, kwargs } of progress) {
          expect(kwargs).toEqual({ job: receipt.job, label: 'test', worker: 'worker' });
          seen.push(args);
          if (args[0] === args[1]) break;
        }
      })(),
      10_000,
      'the progress events',
    );
    expect(seen).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    const finished = await within(done[Symbol.asyncIterator]().next(), 5000, 'the done event');
    expect(finished.done !== true && finished.value.kwargs).toMatchObject({ job: receipt.job, label: 'test', worker: 'worker' });
    await expect(caller.call('com.example.jobs.start', [0])).rejects.toMatchObject({ uri: 'wamp.error.invalid_argument' });

    // The README's client, as a process of its own.
    const client = spawnProcess(process.execPath, [dist('client')], { name: 'client', env: { ...process.env, WAMP_URL: router.url, CALLS: '6' } });
    expect(await within(client.exited, 15_000, 'the client to finish')).toBe(0);
    const lines = client.output().trim().split('\n');
    expect(lines[0]).toBe('6 calls: A served 3, B served 3');
    expect(lines.slice(1, 7)).toEqual([
      'job started on worker: 5 steps',
      'thumbnails: 1/5',
      'thumbnails: 2/5',
      'thumbnails: 3/5',
      'thumbnails: 4/5',
      'thumbnails: 5/5',
    ]);
    expect(lines[7]).toMatch(/^job done in \d+ ms$/);

    // A service that stops (SIGTERM: it leaves the realm, exit 0) leaves the other serving everything.
    expect(await a.stop()).toBe(0);
    expect(a.output()).toMatch(/^A leaving after \d+ calls$/m);
    for (let i = 0; i < 3; i++) expect((await caller.call('com.example.services.add', [1, 1])).servedBy).toBe('B');
    expect(await worker.stop()).toBe(0);
  } finally {
    await caller.leave();
  }
});

it('runs as its README says (`npm start -w examples/node-services`: router, two services, worker, client in one terminal) and prints what the README shows', {
  timeout: 45_000,
}, async () => {
  const { command, expected } = readmeRun('node-services');
  expect(command).toBe('npm start -w examples/node-services');
  const run = runCommand(command, { SWITCHBOARD_PORT: '0' });
  expect(await within(run.exited, 40_000, command), run.stderr()).toBe(0);
  expectLines(run.stdout(), expected);
});
