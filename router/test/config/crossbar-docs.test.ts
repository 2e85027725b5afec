/**
 * docs/crossbar.md shows what `switchboard check` prints for the file `crossbar init` writes, and
 * an error block: both are what the import really says (so the page cannot drift).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@switchboard/router';
import { configError, writeConfig } from './support.js';

const page = readFileSync(fileURLToPath(new URL('../../../docs/crossbar.md', import.meta.url)), 'utf8');
const blocks = [...page.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const template = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/crossbar/crossbar-init.json', import.meta.url)), 'utf8')) as unknown;

describe('docs/crossbar.md', () => {
  it('the check output shown for the crossbar init template: its count and each warning line', () => {
    const shown = blocks.find((b) => b.includes('Crossbar configuration imported'));
    expect(shown).toBeDefined();
    const { warnings } = loadConfig(writeConfig(template));
    expect(shown).toContain(`.crossbar/config.json: Crossbar configuration imported (${warnings.length} warnings)`);
    const lines = shown!.split('\n').filter((l) => l.startsWith('  warning: '));
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(warnings).toContain(line.slice('  warning: '.length));
  });

  it('the error block shown is what a file with those mistakes gets', () => {
    const shown = blocks.find((b) => b.startsWith('invalid configuration in'));
    expect(shown).toBeDefined();
    const problems = configError(() =>
      loadConfig(
        writeConfig({
          version: 2,
          workers: [
            {
              type: 'router',
              realms: [{ name: 'realm1', roles: [{ name: 'device' }] }],
              transports: [
                { type: 'websocket', endpoint: { type: 'tcp', port: 70000 } },
                {
                  type: 'websocket',
                  endpoint: { type: 'tcp', port: 8443, tls: { key: 'server.key' } },
                  auth: { tls: { type: 'static', principals: { device: { role: 'device' } } } },
                },
              ],
            },
          ],
        }),
      ),
    ).problems;
    const lines = shown!
      .split('\n')
      .filter((l) => l.startsWith('  - '))
      .map((l) => l.slice(4));
    expect(lines.sort()).toEqual([...problems].sort());
  });
});
