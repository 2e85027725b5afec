/**
 * Every example keeps the promise of examples/README.md: a README with a "## Run it" section
 * whose command is `npm start -w examples/NAME`, an npm start script, a test that runs the README's
 * command (`readmeRun('NAME')`), and a row in the examples index.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readmeRun } from './support/examples.js';

const EXAMPLES = fileURLToPath(new URL('../examples/', import.meta.url));
const names = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(EXAMPLES, d.name, 'package.json')))
  .map((d) => d.name)
  .sort();

it('finds the examples', () => {
  expect(names).toEqual(['browser', 'chat', 'cluster', 'django', 'embedding', 'nginx', 'node-client', 'node-services', 'quickstart']);
});

describe.each(names)('examples/%s', (name) => {
  it('has a README whose "Run it" is npm start -w examples/NAME, with the output it prints', () => {
    const { command, expected } = readmeRun(name);
    expect(command).toBe(`npm start -w examples/${name}`);
    expect(expected.join('').trim()).not.toBe('');
  });

  it('has that npm start script', () => {
    const pkg = JSON.parse(readFileSync(join(EXAMPLES, name, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(pkg.scripts?.['start']).toBeDefined();
  });

  it('has a test that runs the README command as written', () => {
    const dir = join(EXAMPLES, name, 'test');
    const tests = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.test.ts')) : [];
    expect(
      tests.some((f) => readFileSync(join(dir, f), 'utf8').includes(`readmeRun('${name}')`)),
      `no test in examples/${name}/test calls readmeRun('${name}')`,
    ).toBe(true);
  });

  it('is in the index (examples/README.md)', () => {
    expect(readFileSync(join(EXAMPLES, 'README.md'), 'utf8')).toContain(`| [${name}](${name}/) |`);
  });
});
