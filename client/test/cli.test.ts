/**
 * `switchboard publish | subscribe | call | register`: in-process through runClientCommand, and
 * once through the real `switchboard` binary (built dist/) to prove the router CLI delegates.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runClientCommand } from '@switchboard/client/cli';
import { startTestRouter } from '../../router/test/helpers.js';
import { open, uri, within } from './helpers.js';

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string; lines: () => unknown[] } {
  let out = '';
  let err = '';
  return {
    io: { out: (t) => (out += t), err: (t) => (err += t) },
    out: () => out,
    err: () => err,
    lines: () =>
      out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as unknown),
  };
}

const run = (argv: string[], io: { out: (t: string) => void; err: (t: string) => void }, signal?: AbortSignal): Promise<number> =>
  within(runClientCommand(argv, io, { handleSignals: false, env: {}, ...(signal ? { signal } : {}) }), 10_000, `switchboard ${argv.join(' ')}`);

describe('client commands', () => {
  it('subscribe prints each event as a JSON line; publish prints the publication', async () => {
    const router = await startTestRouter();
    const topic = uri('cli.sub');
    const sub = capture();
    const subscribing = run(['subscribe', topic, '--url', router.url, '--count', '2'], sub.io);
    await within(
      (async () => {
        while (!sub.err().includes('subscribed')) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'subscribed',
    );
    const pub = capture();
    expect(await run(['publish', topic, '1', 'hello', '{"a":[1,2]}', '--kwargs', '{"from":"cli"}', '--url', router.url], pub.io)).toBe(0);
    expect(pub.lines()[0]).toMatchObject({ published: topic, publication: expect.any(Number) });
    expect(await run(['publish', topic, '--url', router.url, '--serializer', 'cbor'], capture().io)).toBe(0);
    expect(await subscribing).toBe(0);
    expect(sub.lines()).toEqual([
      { topic, args: [1, 'hello', { a: [1, 2] }], kwargs: { from: 'cli' }, publication: expect.any(Number) },
      { topic, args: [], kwargs: {}, publication: expect.any(Number) },
    ]);
  });

  it('register answers calls (echo or --result); call prints the result', async () => {
    const router = await startTestRouter();
    const proc = uri('cli.reg');
    const reg = capture();
    const registering = run(['register', proc, '--url', router.url, '--serializer', 'msgpack', '--count', '2'], reg.io);
    await within(
      (async () => {
        while (!reg.err().includes('registered')) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'registered',
    );
    const call = capture();
    expect(await run(['call', proc, '2', '3', '--url', router.url], call.io)).toBe(0);
    expect(await run(['call', proc, '"one"', '--url', router.url], call.io)).toBe(0);
    expect(call.lines()).toEqual([[2, 3], 'one']);
    expect(await registering).toBe(0);
    expect(reg.lines()).toEqual([
      { procedure: proc, args: [2, 3], kwargs: {} },
      { procedure: proc, args: ['one'], kwargs: {} },
    ]);
  });

  it('call --progress prints progressive results; an error prints its URI and exits 1', async () => {
    const router = await startTestRouter();
    const callee = await open(router.url);
    const proc = uri('cli.progress');
    await callee.register(proc, (_a, _k, details) => {
      details.progress([1]);
      details.progress([2]);
      return 'done';
    });
    const ok = capture();
    expect(await run(['call', proc, '--progress', '--url', router.url], ok.io)).toBe(0);
    expect(ok.lines()).toEqual([{ progress: [1], kwargs: {} }, { progress: [2], kwargs: {} }, 'done']);
    const failed = capture();
    expect(await run(['call', uri('cli.nobody'), '--url', router.url], failed.io)).toBe(1);
    expect(failed.err()).toContain('wamp.error.no_such_procedure');
  });

  it('usage errors exit 2 with help; an unreachable router exits 1', async () => {
    const usage = capture();
    expect(await run(['call'], usage.io)).toBe(2);
    expect(usage.err()).toContain('needs a URI');
    expect(await run(['publish', 't', '--kwargs', '[1]'], usage.io)).toBe(2);
    expect(usage.err()).toContain('--kwargs: expected a JSON object');
    const down = capture();
    expect(await run(['publish', 'com.t', '--url', 'ws://127.0.0.1:1/ws'], down.io)).toBe(1);
    expect(down.err()).toContain('cannot connect');
  });

  it('the switchboard binary delegates the client commands (built dist/)', async () => {
    const router = await startTestRouter();
    const callee = await open(router.url);
    const proc = uri('cli.bin');
    await callee.register(proc, (args) => (args as number[]).reduce((a, b) => a + b, 0));
    const bin = fileURLToPath(new URL('../../router/bin/switchboard.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'call', proc, '2', '3', '--url', router.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await within(new Promise<number | null>((resolve) => child.once('close', resolve)), 10_000, 'the binary to exit');
    expect(code).toBe(0);
    expect(out.trim()).toBe('5');
  });
});
