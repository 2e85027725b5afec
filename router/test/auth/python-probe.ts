/**
 * Runs one of the authentication probes in ../python (cryptosign.py, scram.py) with Debian's
 * /usr/bin/python3 (SWITCHBOARD_PYTHON overrides it) and reads its one-line JSON report. A missing
 * package FAILS the test on purpose (.ci/run installs them). Killed when the test finishes; bounded.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';
import { within } from '../helpers.js';

export const PYTHON = process.env['SWITCHBOARD_PYTHON'] ?? '/usr/bin/python3';

export interface ProbeRun {
  code: number | null;
  report: Record<string, unknown>;
  stderr: string;
}

/** `packages`: the Debian packages the probe needs, named in the failure when one is missing. */
export async function runPythonProbe(script: string, args: string[], packages: string): Promise<ProbeRun> {
  const path = fileURLToPath(new URL(`../python/${script}`, import.meta.url));
  const child = spawn(PYTHON, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1' } });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await within(
    new Promise<number | null>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot run ${PYTHON}: ${err.message}. Debian's python3 with ${packages} is required (.ci/run installs them).`)));
      child.once('close', (c) => resolve(c));
    }),
    20_000,
    `${PYTHON} ${script} (stderr so far: ${stderr.slice(-500)})`,
  );
  const last = stdout.trim().split('\n').pop() ?? '';
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`${script} printed no report (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  if (code === 3) throw new Error(`${PYTHON} lacks a package ${script} needs: ${String(report['error'])}. Install ${packages} (.ci/run does).`);
  return { code, report, stderr };
}
