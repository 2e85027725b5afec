/**
 * A router without a `cluster` block is a single node with no NATS dependency at run time: the
 * NATS client is never even resolved. A module-resolution hook in a child process reports every
 * `@nats-io/*` import; loading the cluster module is the control that shows the hook sees them.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const routerDist = new URL('../../dist/', import.meta.url).href;

const script = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, n) { if (s.includes("@nats-io")) console.log("LOADED " + s); return n(s, c); }'));
const { Router } = await import(${JSON.stringify(`${routerDist}index.js`)});
if (process.argv[1] === 'control') await import(${JSON.stringify(`${routerDist}cluster/node.js`)});
const router = new Router({ config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], log: { level: 'silent' } } });
await router.start();
await router.stop();
console.log('STOPPED');
`;

async function loaded(mode: 'single' | 'control'): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, mode], { timeout: 20_000 });
  expect(stdout).toContain('STOPPED');
  return stdout.split('\n').filter((l) => l.startsWith('LOADED '));
}

describe('single node', () => {
  it('starts and stops without resolving any @nats-io module', async () => {
    expect(await loaded('single')).toEqual([]);
  });

  it('(control) the hook does see the NATS client when the cluster module is loaded', async () => {
    expect(await loaded('control')).toEqual(expect.arrayContaining(['LOADED @nats-io/transport-node', 'LOADED @nats-io/kv']));
  });
});
