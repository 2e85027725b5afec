/**
 * Examples run as their README says: the README's "## Run it" section has the one command (the
 * first line of its first `sh` block) and what it prints (its first `text` block); a test runs
 * that command from the repository root, as a child process, and compares the output line by
 * line. A `…` in an expected line stands for any text (session IDs, times, ports); npm's own
 * header (`> start`, the script, blank lines) is not part of the comparison.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, onTestFinished } from 'vitest';
import { REPO_ROOT } from './processes.js';

const ROOT = fileURLToPath(REPO_ROOT);

export interface ReadmeRun {
  /** The command as written, e.g. `npm start -w examples/quickstart`. */
  command: string;
  /** The lines the README says it prints (its first `text` block). */
  expected: string[];
  /** Every `text` block of the section, in order (e.g. what a page then shows). */
  blocks: string[][];
}

/** The "## Run it" section of examples/NAME/README.md: its command and its expected output. */
export function readmeRun(example: string): ReadmeRun {
  const path = `${ROOT}examples/${example}/README.md`;
  const readme = readFileSync(path, 'utf8');
  const section = /^## Run it\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
  if (section === undefined) throw new Error(`${path} has no '## Run it' section`);
  const sh = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  const blocks = [...section.matchAll(/```text\n([\s\S]*?)```/g)].map((m) => (m[1] ?? '').replace(/\n$/, '').split('\n'));
  const text = blocks[0];
  if (sh === undefined || text === undefined) throw new Error(`${path}: '## Run it' needs a sh block (the command) and a text block (its output)`);
  const command = sh
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .find((l) => l !== '' && !l.startsWith('#'));
  if (command === undefined) throw new Error(`${path}: the sh block of '## Run it' has no command`);
  return { command, expected: text, blocks };
}

export interface RunningExample {
  /** stdout so far, without npm's header. */
  stdout(): string;
  /** stderr so far. */
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (past or future); rejects on exit or after `ms`. */
  waitFor(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM to the whole process group (npm, the runner, the example), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/** npm's header before a script's output: `> start`, `> the script`, blank lines. */
function withoutNpmHeader(text: string): string {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length - 1 && (lines[i] === '' || lines[i]!.startsWith('> '))) i++;
  return lines.slice(i).join('\n');
}

/**
 * Runs `command` (words split on spaces, no shell) from the repository root in a process group of
 * its own, so that stopping it stops npm and everything npm started. Stopped when the test ends.
 */
export function runCommand(command: string, env: NodeJS.ProcessEnv = {}): RunningExample {
  const [file = '', ...args] = command.split(/\s+/);
  const child = spawn(file, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    for (const w of watchers) w();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  let finished = false;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      err += `[spawn error] ${e.message}\n`;
      finished = true;
      resolve(null);
    });
    child.once('close', (code) => {
      finished = true;
      for (const w of watchers) w();
      resolve(code);
    });
  });
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const stop = async (graceMs = 5000): Promise<number | null> => {
    if (!finished) {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    signalGroup('SIGKILL'); // anything left in the group
    return exited;
  };
  onTestFinished(async () => {
    await stop();
  });
  const stdout = (): string => withoutNpmHeader(out);
  const waitFor = (pattern: RegExp, ms: number): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        watchers.delete(check);
        clearTimeout(timer);
      };
      const check = (): void => {
        const match = stdout().match(pattern);
        if (match !== null) {
          done();
          resolve(match);
        } else if (finished) {
          done();
          reject(new Error(`'${command}' ended before printing ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`'${command}' did not print ${pattern} within ${ms} ms; stdout:\n${out}\nstderr:\n${err}`));
      }, ms);
      watchers.add(check);
      check();
    });
  return { stdout, stderr: () => err, waitFor, exited, stop };
}

/** `actual`'s lines are `expected`'s, a `…` in an expected line matching any text. */
export function expectLines(actual: string, expected: readonly string[]): void {
  const lines = actual.replace(/\n$/, '').split('\n');
  const pattern = (line: string): RegExp =>
    new RegExp(
      `^${line
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
  const mismatch = lines.length !== expected.length || lines.some((line, i) => !pattern(expected[i]!).test(line));
  if (mismatch) expect(lines, `the output differs from the README (… matches anything)`).toEqual(expected);
}
