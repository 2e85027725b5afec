/**
 * `switchboard publish | subscribe | call | register`: in-process through runClientCommand, and
 * once through the real `switchboard` binary (built dist/) to prove the router CLI delegates.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { craDeriveKey, ed25519Signer, ticketAuth } from '@switchboard/client';
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

const run = (
  argv: string[],
  io: { out: (t: string) => void; err: (t: string) => void },
  signal?: AbortSignal,
  env: Record<string, string> = {},
): Promise<number> => within(runClientCommand(argv, io, { handleSignals: false, env, ...(signal ? { signal } : {}) }), 10_000, `switchboard ${argv.join(' ')}`);

/** Runs the real `switchboard` binary (built dist/) with `env` added; resolves to its exit code and output. */
async function spawnCli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  const bin = fileURLToPath(new URL('../../router/bin/switchboard.js', import.meta.url));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
  const child = spawn(process.execPath, [bin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...clean, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await within(new Promise<number | null>((resolve) => child.once('close', resolve)), 10_000, `switchboard ${argv[0] ?? ''} to exit`);
  return { code, out, err };
}

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
    expect(call.lines()).toEqual([{ $args: [2, 3], $kwargs: {} }, 'one']);
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
    expect(usage.err()).toContain('needs a PROCEDURE URI');
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

describe('client commands: output, echo, usage', () => {
  it('register echoes keyword arguments too; call prints several values or kwargs as $args/$kwargs, a plain object result as itself', async () => {
    const router = await startTestRouter();
    const echo = uri('cli.echo');
    const reg = capture();
    const registering = run(['register', echo, '--url', router.url, '--count', '3'], reg.io);
    await waitFor(reg.err, 'registered');
    const call = capture();
    expect(await run(['call', echo, 'hi', '--kwargs', '{"n":1}', '--url', router.url], call.io)).toBe(0);
    expect(await run(['call', echo, '2', '3', '--url', router.url], call.io)).toBe(0);
    expect(await run(['call', echo, '5', '--url', router.url, '--serializer', 'cbor'], call.io)).toBe(0);
    expect(call.lines()).toEqual([{ $args: ['hi'], $kwargs: { n: 1 } }, { $args: [2, 3], $kwargs: {} }, 5]);
    expect(await registering).toBe(0);
    // A callee whose single result is an object that looks like {args, kwargs}: printed as that object.
    const callee = await open(router.url);
    const plain = uri('cli.plain');
    await callee.register(plain, () => ({ args: [2, 3], kwargs: {} }));
    const out = capture();
    expect(await run(['call', plain, '--url', router.url], out.io)).toBe(0);
    expect(out.lines()).toEqual([{ args: [2, 3], kwargs: {} }]);
  });

  it('a usage error is one line, the synopsis and a hint, not the whole help; exit 2', async () => {
    for (const [argv, message] of [
      [['call'], 'switchboard call: needs a PROCEDURE URI'],
      [['publish', 'com.t', '--frobnicate'], "switchboard publish: Unknown option '--frobnicate'"],
      [['subscribe', 'com.t', '--count', '0'], 'switchboard subscribe: --count: expected a positive integer'],
    ] as [string[], string][]) {
      const out = capture();
      expect(await run(argv, out.io)).toBe(2);
      const lines = out.err().trimEnd().split('\n');
      expect(lines[0]).toContain(message);
      expect(lines).toHaveLength(3);
      expect(lines[1]).toMatch(new RegExp(`^Usage: switchboard ${argv[0]!} `));
      expect(lines[2]).toBe(`Run 'switchboard ${argv[0]!} --help' for the options.`);
      expect(out.out()).toBe('');
    }
  });
});

/** The docs page holding the tested CLI session (marker `<!-- tested: cli-session -->`), wherever under docs/ it lives. */
function findCliSession(): { file: string; blocks: string[][] } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const files: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(join(dir, entry.name));
      else if (entry.name.endsWith('.md')) files.push(join(dir, entry.name));
    }
  };
  walk(join(root, 'docs'));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('<!-- tested: cli-session -->');
    if (at < 0) continue;
    const blocks = [...text.slice(at).matchAll(/```console\n([\s\S]*?)```/g)].slice(0, 3).map((m) => m[1]!.trimEnd().split('\n'));
    return { file: relative(root, file), blocks };
  }
  throw new Error('no docs/**/*.md file has the marker <!-- tested: cli-session --> followed by three ```console blocks (the CLI session of the docs)');
}

/** A command line as a shell splits it (single and double quotes; no expansions). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/** IDs the router draws at random are compared as placeholders. */
const normalize = (line: string): string => line.replace(/"publication":\d+/g, '"publication":ID');

describe('the documented CLI session', () => {
  it('the documented CLI session runs as written (the docs page, three terminals, the real binary)', async () => {
    const { file, blocks } = findCliSession();
    const router = await startTestRouter();
    const bin = fileURLToPath(new URL('../../router/bin/switchboard.js', import.meta.url));
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
    const env = { ...clean, SWITCHBOARD_URL: router.url };
    /** Each command with the stdout lines shown under it. */
    const steps = blocks.map((block) => {
      const out: { argv: string[]; expected: string[] }[] = [];
      for (const line of block) {
        if (line.startsWith('$ ')) {
          const words = shellWords(line.slice(2));
          expect(words[0], `${file}: a command of the session must start with switchboard`).toBe('switchboard');
          out.push({ argv: words.slice(1), expected: [] });
        } else out.at(-1)?.expected.push(line);
      }
      return out;
    });
    expect(steps.flat().length, `${file}: the session's commands`).toBeGreaterThanOrEqual(5);
    // subscribe and register run until Ctrl-C: started first, each in a terminal of its own.
    const background: { argv: string[]; expected: string[]; child: ReturnType<typeof spawn>; out: () => string; err: () => string }[] = [];
    for (const [step] of steps.filter((s) => s.length === 1 && ['subscribe', 'register'].includes(s[0]!.argv[0]!))) {
      const child = spawn(process.execPath, [bin, ...step!.argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
      onTestFinished(() => void child.kill('SIGKILL'));
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      background.push({ ...step!, child, out: () => out, err: () => err });
      await within(
        (async () => {
          while (!/subscribed|registered/.test(err)) {
            if (child.exitCode !== null) throw new Error(`switchboard ${step!.argv.join(' ')} exited: ${err}`);
            await new Promise((r) => setTimeout(r, 10));
          }
        })(),
        10_000,
        `switchboard ${step!.argv.join(' ')} to be ready`,
      );
    }
    expect(background.map((b) => b.argv[0])).toEqual(['subscribe', 'register']);
    for (const step of steps.flat().filter((s) => !background.some((b) => b.argv === s.argv))) {
      const result = await spawnCli(step.argv, { SWITCHBOARD_URL: router.url });
      expect(result.code, `switchboard ${step.argv.join(' ')}: ${result.err}`).toBe(0);
      expect(result.out.trimEnd().split('\n').map(normalize), `switchboard ${step.argv.join(' ')}`).toEqual(step.expected.map(normalize));
    }
    for (const b of background) {
      await within(
        (async () => {
          while (b.out().trimEnd().split('\n').length < b.expected.length) await new Promise((r) => setTimeout(r, 10));
        })(),
        5000,
        `switchboard ${b.argv.join(' ')} to print ${b.expected.length} lines`,
      );
      const closed = new Promise<number | null>((resolve) => b.child.once('close', resolve));
      b.child.kill('SIGINT');
      expect(await within(closed, 5000, `switchboard ${b.argv[0]!} to exit on SIGINT`)).toBe(0);
      expect(b.out().trimEnd().split('\n').map(normalize), `switchboard ${b.argv.join(' ')}`).toEqual(b.expected.map(normalize));
    }
  });
});

// Ed25519 seeds (any 32 bytes); the router lists their public keys.
const CAROL_SEED = '4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510';
const DAVE_SEED = '9e4a6f2d1c3b5a7e8f0d2c4b6a8e0f1d3c5b7a9e1f3d5c7b9a1e3f5d7c9b1a3e';
const EVERYTHING = { call: true, register: true, publish: true, subscribe: true };

/** A router that admits ticket, wampcra (plain and salted) and cryptosign principals only. */
async function authRouter(): ReturnType<typeof startTestRouter> {
  const [carol, dave] = await Promise.all([ed25519Signer(CAROL_SEED), ed25519Signer(DAVE_SEED)]);
  return startTestRouter({
    realms: [
      {
        name: 'realm1',
        roles: [
          { name: 'user', permissions: [{ uri: 'com.', match: 'prefix', allow: EVERYTHING }] },
          { name: 'ops', permissions: [{ uri: 'com.', match: 'prefix', allow: EVERYTHING }] },
        ],
      },
    ],
    listeners: [
      {
        type: 'websocket',
        auth: {
          ticket: { type: 'static', principals: { joe: { ticket: 'joe-ticket', role: 'user' } } },
          wampcra: {
            type: 'static',
            users: {
              peter: { secret: 'peter-secret', role: 'user' },
              salty: { secret: await craDeriveKey('salty-password', 'nacl', 100, 16), salt: 'nacl', iterations: 100, keylen: 16, role: 'ops' },
            },
          },
          cryptosign: {
            type: 'static',
            principals: { carol: { role: 'ops', authorized_keys: [carol.publicKey] }, dave: { role: 'user', authorized_keys: [dave.publicKey] } },
          },
        },
      },
    ],
  });
}

/** A callee (joined by ticket) that answers com.cli.whoami with the caller's authid and role. */
async function whoami(url: string): Promise<string> {
  const callee = await open(url, 'json', { auth: ticketAuth({ authid: 'joe', ticket: 'joe-ticket' }) });
  const proc = 'com.cli.whoami';
  await callee.register(proc, (_args, _kwargs, details) => `${details.caller_authid ?? '?'}/${details.caller_authrole ?? '?'}`, { disclose_caller: true });
  return proc;
}

async function waitFor(text: () => string, needle: string): Promise<void> {
  await within(
    (async () => {
      while (!text().includes(needle)) await new Promise((r) => setTimeout(r, 5));
    })(),
    5000,
    needle,
  );
}

describe('client commands: authentication', () => {
  it('ticket: --ticket-env for subscribe, $SWITCHBOARD_TICKET for publish, --ticket for call', async () => {
    const router = await authRouter();
    const proc = await whoami(router.url);
    const topic = uri('cli.auth.ticket');
    const sub = capture();
    const subscribing = run(['subscribe', topic, '--url', router.url, '--count', '1', '--authid', 'joe', '--ticket-env', 'JOE'], sub.io, undefined, {
      JOE: 'joe-ticket',
    });
    await waitFor(sub.err, 'subscribed');
    expect(
      await run(['publish', topic, 'hi', '--url', router.url], capture().io, undefined, { SWITCHBOARD_AUTHID: 'joe', SWITCHBOARD_TICKET: 'joe-ticket' }),
    ).toBe(0);
    expect(await subscribing).toBe(0);
    expect(sub.lines()).toEqual([{ topic, args: ['hi'], kwargs: {}, publication: expect.any(Number) }]);
    const call = capture();
    expect(await run(['call', proc, '--url', router.url, '--authid', 'joe', '--ticket', 'joe-ticket'], call.io)).toBe(0);
    expect(call.lines()).toEqual(['joe/user']);
  });

  it('wampcra: --secret (plain), $SWITCHBOARD_SECRET for a salted user (salt from the challenge), register with --secret-env', async () => {
    const router = await authRouter();
    const proc = await whoami(router.url);
    const plain = capture();
    expect(await run(['call', proc, '--url', router.url, '--authid', 'peter', '--secret', 'peter-secret'], plain.io)).toBe(0);
    expect(plain.lines()).toEqual(['peter/user']);
    const salted = capture();
    expect(await run(['call', proc, '--url', router.url, '--authid', 'salty'], salted.io, undefined, { SWITCHBOARD_SECRET: 'salty-password' })).toBe(0);
    expect(salted.lines()).toEqual(['salty/ops']);
    const echo = uri('cli.auth.cra');
    const reg = capture();
    const registering = run(['register', echo, '--url', router.url, '--count', '1', '--authid', 'salty', '--secret-env', 'PW'], reg.io, undefined, {
      PW: 'salty-password',
    });
    await waitFor(reg.err, 'registered');
    const call = capture();
    expect(await run(['call', echo, '7', '--url', router.url, '--authid', 'peter', '--secret', 'peter-secret'], call.io)).toBe(0);
    expect(call.lines()).toEqual([7]);
    expect(await registering).toBe(0);
  });

  it('cryptosign: --private-key with --authid, --private-key-file and $SWITCHBOARD_PRIVATE_KEY without (the router finds the key)', async () => {
    const router = await authRouter();
    const proc = await whoami(router.url);
    const withId = capture();
    expect(await run(['call', proc, '--url', router.url, '--authid', 'carol', '--private-key', CAROL_SEED], withId.io)).toBe(0);
    expect(withId.lines()).toEqual(['carol/ops']);
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const hexFile = join(dir, 'dave.key');
    writeFileSync(hexFile, `${DAVE_SEED}\n`, { mode: 0o600 });
    const rawFile = join(dir, 'carol.bin');
    writeFileSync(rawFile, Buffer.from(CAROL_SEED, 'hex'), { mode: 0o600 });
    const fromFile = capture();
    expect(await run(['call', proc, '--url', router.url, '--private-key-file', hexFile], fromFile.io)).toBe(0);
    expect(await run(['call', proc, '--url', router.url, '--private-key-file', rawFile], fromFile.io)).toBe(0);
    const fromEnv = capture();
    expect(await run(['call', proc, '--url', router.url], fromEnv.io, undefined, { SWITCHBOARD_PRIVATE_KEY: DAVE_SEED })).toBe(0);
    expect([...fromFile.lines(), ...fromEnv.lines()]).toEqual(['dave/user', 'carol/ops', 'dave/user']);
  });

  it('a wrong secret (the real binary, secret from the environment) exits 1 and prints the ABORT reason', async () => {
    const router = await authRouter();
    const wrong = await spawnCli(['call', 'com.cli.whoami', '--url', router.url, '--authid', 'peter'], { SWITCHBOARD_SECRET: 'not-the-secret' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('wamp.error.authentication_failed');
    expect(wrong.out).toBe('');
    // The same binary with the right secret gets through (no callee: no_such_procedure, after WELCOME).
    const right = await spawnCli(['call', 'com.cli.whoami', '--url', router.url, '--authid', 'peter'], { SWITCHBOARD_SECRET: 'peter-secret' });
    expect(right.code).toBe(1);
    expect(right.err).toContain('wamp.error.no_such_procedure');
    // A wrong ticket and an unknown key are refused the same way.
    const ticket = capture();
    expect(await run(['publish', 'com.t', '--url', router.url, '--authid', 'joe', '--ticket', 'nope'], ticket.io)).toBe(1);
    expect(ticket.err()).toContain('wamp.error.authentication_failed');
    const key = capture();
    expect(await run(['publish', 'com.t', '--url', router.url, '--private-key', '11'.repeat(32)], key.io)).toBe(1);
    expect(key.err()).toContain('wamp.error.authentication_failed');
  });

  it.each([
    [['--ticket', 't', '--secret', 's', '--authid', 'a'], {}, 'give one credential, not --ticket and --secret'],
    [['--ticket', 't'], {}, 'ticket needs --authid'],
    [['--secret', 's'], {}, 'wampcra needs --authid'],
    [['--authid', 'joe'], {}, '--authid needs a credential'],
    [['--authrole', 'admin'], {}, '--authrole needs a credential'],
    [['--ticket', 't', '--ticket-env', 'T', '--authid', 'a'], { T: 'x' }, 'give --ticket or --ticket-env, not both'],
    [['--ticket-env', 'MISSING', '--authid', 'a'], {}, 'environment variable MISSING is not set'],
    [['--private-key', 'abcd'], {}, '64 hex characters'],
    [['--private-key', CAROL_SEED, '--private-key-file', '/nonexistent'], {}, 'not both'],
    [['--private-key-file', '/nonexistent/key'], {}, '--private-key-file: cannot read'],
    [['--authmethod', 'scram'], {}, '--authmethod: expected ticket, wampcra or cryptosign'],
    [['--authmethod', 'wampcra', '--ticket', 't', '--authid', 'a'], {}, 'does not go with the ticket credential'],
    [['--authmethod', 'wampcra'], { SWITCHBOARD_TICKET: 't' }, '--authmethod wampcra needs a credential'],
    [[], { SWITCHBOARD_TICKET: 't', SWITCHBOARD_SECRET: 's' }, 'choose one with --authmethod'],
  ] as [string[], Record<string, string>, string][])('usage: %j %j exits 2 (%s)', async (flags, env, message) => {
    const out = capture();
    expect(await run(['publish', 'com.t', '--url', 'ws://127.0.0.1:1/ws', ...flags], out.io, undefined, env)).toBe(2);
    expect(out.err()).toContain(message);
    expect(out.err()).toContain("Run 'switchboard publish --help' for the options.");
    expect(out.err()).not.toContain('Authentication');
  });

  it('--authmethod picks one of several $SWITCHBOARD_* credentials; --help documents the options', async () => {
    const router = await authRouter();
    const proc = await whoami(router.url);
    const picked = capture();
    const env = { SWITCHBOARD_AUTHID: 'peter', SWITCHBOARD_TICKET: 'joe-ticket', SWITCHBOARD_SECRET: 'peter-secret' };
    expect(await run(['call', proc, '--url', router.url, '--authmethod', 'wampcra'], picked.io, undefined, env)).toBe(0);
    expect(picked.lines()).toEqual(['peter/user']);
    const help = capture();
    expect(await run(['call', '--help'], help.io)).toBe(0);
    for (const flag of [
      '--authid',
      '--authrole',
      '--ticket',
      '--ticket-env',
      '--secret',
      '--secret-env',
      '--private-key',
      '--private-key-file',
      '--authmethod',
      'SWITCHBOARD_TICKET',
      'SWITCHBOARD_SECRET',
      'SWITCHBOARD_PRIVATE_KEY',
    ]) {
      expect(help.out()).toContain(flag);
    }
  });
});
