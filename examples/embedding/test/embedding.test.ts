import { it, expect } from 'vitest';
import { within } from '../../../router/test/helpers.js';
import { expectLines, readmeRun, runCommand } from '../../../test/support/examples.js';

it('runs as its README says (`npm start -w examples/embedding`) and prints what the README shows', { timeout: 30_000 }, async () => {
  const { command, expected } = readmeRun('embedding');
  expect(command).toBe('npm start -w examples/embedding');
  const run = runCommand(command, { SWITCHBOARD_PORT: '0' });
  expect(await within(run.exited, 25_000, command), run.stderr()).toBe(0);
  expectLines(run.stdout(), expected);
});
