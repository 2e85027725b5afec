/**
 * The README's first screen works as written: its start command brings up the router described
 * next to it (realm1, anonymous, /ws, three serializers), and its 20-line example, run as shown
 * (only the URL pointed at this test's port), prints what the README says, and so does its typed
 * client example. `npm ci` and `npm test`
 * themselves are what CI runs on a fresh clone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { RawPeer, startTestRouter, until, within } from '../router/test/helpers.js';
import { requireSystem } from './support/system.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function block(lang: string): string {
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(readme);
  if (match === null) throw new Error(`README has no ${lang} block`);
  return match[1]!;
}

it('shows the two commands on its first screen', () => {
  const commands = block('sh')
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l.length > 0);
  expect(commands).toEqual(['npm ci && npm start', 'npm test']);
  expect(readme.split('\n').slice(0, 12).join('\n')).toContain('npm ci && npm start');
});

it('npm start serves realm1 anonymously on /ws with json, msgpack and cbor, and the README example runs against it', async () => {
  // `npm start` exactly as the README says; the port comes from the environment (container convention).
  const router = spawn('npm', ['start'], { cwd: root, env: { ...process.env, SWITCHBOARD_PORT: '0', NO_COLOR: '1' }, detached: true });
  onTestFinished(() => {
    if (router.exitCode === null && router.pid !== undefined) process.kill(-router.pid, 'SIGKILL');
  });
  let out = '';
  router.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await until(() => out.includes('router started'), 20_000, 'npm start');
  const port = /"url":"ws:\/\/[^:]+:(\d+)\/ws"/.exec(out)?.[1];
  expect(port).toBeDefined();
  const url = `ws://127.0.0.1:${port}/ws`;
  for (const serializer of ['json', 'msgpack', 'cbor'] as const) {
    const peer = await RawPeer.join(url, serializer, 'realm1');
    expect((peer.welcome[2] as { authmethod: string }).authmethod).toBe('anonymous');
    peer.close();
  }

  // The example, as printed, with only the URL changed; run from a folder that resolves `autobahn`.
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-readme-'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const script = join(dir, 'example.mjs');
  writeFileSync(script, block('js').replace('ws://localhost:8080/ws', url));
  const child = spawn(process.execPath, [script], { cwd: dir });
  let printed = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 10_000, 'the example');
  expect(code).toBe(0);
  // "It prints `2 + 3 = 5` and `event: hello (from quickstart)`": that and nothing else, on stderr
  // neither (autobahn-js warns "connection closed …" and "auto-reconnect disabled!" on every close).
  expect(printed).toBe('2 + 3 = 5\nevent: hello (from quickstart)\n');
  expect(errors).toBe('');
});

it("the README's typed-client example runs as printed (TypeScript stripped by esbuild) and prints the sum", async () => {
  const { transform } = await import('esbuild');
  const router = await startTestRouter();
  const url = router.addresses[0]!.url.replace('0.0.0.0', '127.0.0.1');
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-readme-'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const script = join(dir, 'typed.mjs');
  const { code } = await transform(block('ts').replace('ws://localhost:8080/ws', url), { loader: 'ts', format: 'esm' });
  writeFileSync(script, code);
  const child = spawn(process.execPath, [script], { cwd: dir });
  let printed = '';
  let errors = '';
  child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exit = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 10_000, 'the typed example');
  expect(exit, errors).toBe(0);
  expect(printed).toBe('2 + 3 = 5\n');
});

it("the README's Django snippet publishes through a signed HTTP bridge path (python3, examples/django on the path)", async () => {
  const python = requireSystem('python3');
  const router = await startTestRouter({
    listeners: [
      {
        type: 'websocket',
        http: { paths: { '/publish': { type: 'publisher', realm: 'realm1', role: 'anonymous', options: { key: 'django', secret: 'docs-secret' } } } },
      },
    ],
  });
  const port = router.addresses[0]!.port;
  const peer = await RawPeer.join(`ws://127.0.0.1:${port}/ws`, 'json', 'realm1');
  peer.send([32, 1, {}, 'com.example.chat']);
  await peer.next();
  const child = spawn(python, ['-c', block('python').replace('localhost:8080', `127.0.0.1:${port}`)], {
    env: { ...process.env, PYTHONPATH: join(root, 'examples/django'), SWITCHBOARD_SECRET: 'docs-secret' },
  });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exit = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 10_000, 'the Django snippet');
  expect(exit, errors).toBe(0);
  const event = await peer.next(10_000);
  expect(event[0]).toBe(36);
  expect(event.slice(4)).toEqual([['hello from Django'], { author: 'ada' }]);
  peer.close();
});
