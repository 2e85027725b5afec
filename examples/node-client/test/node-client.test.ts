import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { startTestRouter, within } from '../../../router/test/helpers.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';

it('the README Node example runs against the router (built dist/)', async () => {
  const router = await startTestRouter();
  const script = fileURLToPath(new URL('../client.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { env: { ...process.env, WAMP_URL: router.url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 10_000, 'the example to finish');
  expect(err).toBe('');
  expect(code).toBe(0);
  expect(out).toBe('2 + 3 = 5\nerror: wamp.error.no_such_procedure\nevent: hello (from node)\n');
});

it('runs as its README says (`npm start -w examples/node-client`, its own router) and prints what the README shows', { timeout: 30_000 }, async () => {
  const { command, expected } = readmeRun('node-client');
  expect(command).toBe('npm start -w examples/node-client');
  const run = runCommand(command, { SWITCHBOARD_PORT: '0' });
  expect(await within(run.exited, 25_000, command), run.stderr()).toBe(0);
  expectLines(run.stdout(), expected);
});
