/**
 * The `switchboard` command, run as a real process from the built dist/ (`npm test` builds first).
 * Ports are ephemeral: `start --port 0` and the URL read back from the JSON log. Every wait is
 * bounded and every process started here is killed when its test finishes.
 */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { CloseUri, ErrorUri, MessageCode } from '@switchboard/schemas';
import { RawPeer, within } from './helpers.js';
import { setEnv, tempDir, writeConfig } from './config/support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const BIN = 'router/bin/switchboard.js';
const DIST_CLI = `${root}router/dist/cli.js`;
const VERSION = (JSON.parse(readFileSync(`${root}router/package.json`, 'utf8')) as { version: unknown }).version;

type LogLine = Record<string, unknown>;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function parseLogLine(line: string): LogLine | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

/** One spawned process, its output so far, and bounded waits on it. */
class CliProcess {
  stdout = '';
  stderr = '';
  readonly closed: Promise<Exit>;
  readonly #onOutput = new Set<() => void>();

  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      this.stdout += chunk;
      for (const listener of this.#onOutput) listener();
    });
    proc.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // 'close', not 'exit': by then stdout and stderr have been read to the end.
    this.closed = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  logLines(): LogLine[] {
    return this.stdout
      .split('\n')
      .map(parseLogLine)
      .filter((line): line is LogLine => line !== undefined);
  }

  /** The first JSON log line matching `predicate`, waiting at most `ms`. */
  async waitForLog(predicate: (line: LogLine) => boolean, ms: number, what: string): Promise<LogLine> {
    let check: (() => void) | undefined;
    try {
      return await within(
        new Promise<LogLine>((resolve, reject) => {
          check = () => {
            const found = this.logLines().find(predicate);
            if (found !== undefined) resolve(found);
          };
          this.#onOutput.add(check);
          check();
          void this.closed.then(() => reject(new Error(`the process exited before logging ${what}`)));
        }),
        ms,
        what,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`, { cause: err });
    } finally {
      if (check !== undefined) this.#onOutput.delete(check);
    }
  }

  /** The exit status, waiting at most `ms`. */
  async exit(ms: number, what = 'the process to exit'): Promise<Exit> {
    try {
      return await within(this.closed, ms, what);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`, { cause: err });
    }
  }
}

/** Spawns `command args` in the repo root; killed when the test finishes if still running. */
function spawnProcess(command: string, args: string[]): CliProcess {
  const proc = spawn(command, args, { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
  const cli = new CliProcess(proc);
  onTestFinished(async () => {
    if (cli.running) proc.kill('SIGKILL');
    await within(cli.closed, 5000, 'a killed process to close').catch(() => undefined);
  });
  return cli;
}

const switchboard = (...args: string[]): CliProcess => spawnProcess(process.execPath, [BIN, ...args]);

/** Runs a command that should finish by itself. */
async function run(...args: string[]): Promise<{ exit: Exit; stdout: string; stderr: string }> {
  const cli = switchboard(...args);
  const exit = await cli.exit(10_000, `switchboard ${args.join(' ')} to exit`);
  return { exit, stdout: cli.stdout, stderr: cli.stderr };
}

interface Started {
  cli: CliProcess;
  url: string;
  port: number;
}

/** `switchboard start --port 0 --host 127.0.0.1 --log-level info …`, once it logs its URL. */
async function start(...extra: string[]): Promise<Started> {
  const cli = switchboard('start', '--port', '0', '--host', '127.0.0.1', '--log-level', 'info', ...extra);
  const listening = await cli.waitForLog((line) => typeof line['url'] === 'string', 10_000, 'the listening URL');
  // Signal handlers are installed right after 'router started'; wait for it before any signal.
  await cli.waitForLog((line) => line['msg'] === 'router started', 5000, "'router started'");
  const url = String(listening['url']);
  const match = /^ws:\/\/127\.0\.0\.1:(\d+)\/ws$/.exec(url);
  if (match === null) throw new Error(`unexpected listening URL ${url}`);
  return { cli, url, port: Number(match[1]) };
}

/** Expects `message` to be GOODBYE with `reason`. */
function expectGoodbye(message: unknown[], reason: string): void {
  expect(message[0]).toBe(MessageCode.Goodbye);
  expect(message[1]).toBeTypeOf('object');
  expect(message[2]).toBe(reason);
}

beforeAll(() => {
  if (!existsSync(DIST_CLI)) {
    throw new Error(`${DIST_CLI} is missing: run npx tsc -b at the repo root first (npm test builds before testing)`);
  }
});

describe('switchboard version and help', () => {
  it('version prints the version from router/package.json', async () => {
    expect(VERSION).toBeTypeOf('string');
    const { exit, stdout, stderr } = await run('version');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(stdout).toBe(`${String(VERSION)}\n`);
    expect(stderr).toBe('');
  });

  it('--help lists every command', async () => {
    const { exit, stdout } = await run('--help');
    expect(exit.code).toBe(0);
    for (const command of ['switchboard start', 'switchboard check FILE', 'switchboard version', 'switchboard --help']) {
      expect(stdout).toContain(command);
    }
    for (const flag of ['--config', '--host', '--port', '--realm', '--log-level']) expect(stdout).toContain(flag);
  });

  it('an unknown command exits 2: one line naming it and a hint, not the whole help', async () => {
    const { exit, stdout, stderr } = await run('frobnicate');
    expect(exit.code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      "switchboard: unknown command 'frobnicate' (commands: start, check, history, version, publish, subscribe, call, register)\nRun 'switchboard --help' for usage.\n",
    );
  });

  it('every command takes --help (exit 0, its usage on stdout); --help documents the exit codes', async () => {
    for (const [command, needle] of [
      ['start', '--log-level'],
      ['check', 'Usage: switchboard check FILE'],
      ['version', 'Usage: switchboard version'],
      ['call', 'switchboard call PROCEDURE'],
      ['subscribe', 'switchboard subscribe TOPIC'],
    ] as const) {
      const { exit, stdout, stderr } = await run(command, '--help');
      expect(exit.code, `switchboard ${command} --help: ${stderr}`).toBe(0);
      expect(stdout).toContain(needle);
      expect(stderr).toBe('');
    }
    const { stdout } = await run('--help');
    expect(stdout).toContain('Exit codes');
    expect(stdout).toContain('2 usage or configuration error');
  });

  it('a bad option of start is one line and a hint, exit 2', async () => {
    const { exit, stderr } = await run('start', '--prot', '8080');
    expect(exit.code).toBe(2);
    expect(stderr).toBe("switchboard start: Unknown option '--prot'\nRun 'switchboard start --help' for usage.\n");
  });

  it('npx switchboard version works from the repo root (bin linked into node_modules/.bin)', async () => {
    expect(realpathSync(`${root}node_modules/.bin/switchboard`)).toBe(realpathSync(`${root}${BIN}`));
    // --no: never fetch a package of that name from the registry; only the linked bin may run.
    const cli = spawnProcess('npx', ['--no', 'switchboard', 'version']);
    const exit = await cli.exit(30_000, 'npx switchboard version to exit');
    expect(exit.code).toBe(0);
    expect(cli.stdout).toBe(`${String(VERSION)}\n`);
  });
});

describe('switchboard check', () => {
  it('accepts a valid file: exit 0 and "valid"', async () => {
    const { exit, stdout } = await run('check', 'router/test/fixtures/good.json');
    expect(exit.code).toBe(0);
    expect(stdout).toContain('router/test/fixtures/good.json');
    expect(stdout).toContain('valid');
  });

  it("rejects an invalid file: exit 2 (as start does on the same file) and stderr names each bad field's pointer", async () => {
    const { exit, stdout, stderr } = await run('check', 'router/test/fixtures/bad.json');
    expect(exit.code).toBe(2);
    const started = await run('start', '--config', 'router/test/fixtures/bad.json');
    expect(started.exit.code).toBe(2);
    expect(started.stderr).toBe(stderr);
    expect(stdout).toBe('');
    expect(stderr).toContain('router/test/fixtures/bad.json');
    expect(stderr).toContain("(top level): unknown field 'listenres': did you mean 'listeners'?");
    for (const pointer of ['/listeners/0/port:', '/listeners/0/host:', '/listeners/0/serializers/1:', '/realms/0:', '/log/level:', '/shutdownTimeoutMs:']) {
      expect(stderr).toContain(`  - ${pointer}`);
    }
  });

  it('names the file when it is missing or not JSON: exit 2', async () => {
    const missing = await run('check', 'router/test/fixtures/no-such-file.json');
    expect(missing.exit.code).toBe(2);
    expect(missing.stderr).toContain('router/test/fixtures/no-such-file.json');
    expect(missing.stderr).toContain('cannot read file');

    const syntax = await run('check', 'router/test/fixtures/bad-syntax.json');
    expect(syntax.exit.code).toBe(2);
    expect(syntax.stderr).toContain('router/test/fixtures/bad-syntax.json');
    expect(syntax.stderr).toContain('not valid JSON');
  });

  it('without a file: exit 2, one line and a hint', async () => {
    const { exit, stderr } = await run('check');
    expect(exit.code).toBe(2);
    expect(stderr).toBe("switchboard check: needs a FILE\nRun 'switchboard check --help' for usage.\n");
  });
});

describe('switchboard start', () => {
  it('logs its URL as JSON, answers /health and WAMP, and on SIGTERM says GOODBYE and exits 0', async () => {
    const { cli, url, port } = await start();

    const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', sessions: 0 });

    const peer = await RawPeer.join(url, 'json', 'realm1');
    expect(peer.ws.protocol).toBe('wamp.2.json');
    expect(peer.welcome[0]).toBe(MessageCode.Welcome);
    expect(peer.session).toBeGreaterThanOrEqual(1);
    const busy = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
    expect(await busy.json()).toEqual({ status: 'ok', sessions: 1 });

    cli.proc.kill('SIGTERM');
    const exited = cli.exit(5000, 'exit within 5 s of SIGTERM');
    exited.catch(() => undefined); // awaited below; keeps an early failure from going unhandled

    expectGoodbye(await peer.next(3000), CloseUri.SystemShutdown);
    peer.send([MessageCode.Goodbye, {}, CloseUri.GoodbyeAndOut]);
    expect((await peer.waitClosed(3000)).code).toBe(1000);

    expect(await exited).toEqual({ code: 0, signal: null });
    const messages = cli.logLines().map((line) => line['msg']);
    expect(messages).toContain('shutting down');
    expect(messages).toContain('router stopped');
    expect(cli.logLines().find((line) => line['msg'] === 'shutting down')?.['signal']).toBe('SIGTERM');
  });

  it('on SIGINT exits 0 within 5 s even when a client never answers GOODBYE', async () => {
    const { cli, url } = await start();
    const peer = await RawPeer.join(url, 'json', 'realm1');

    cli.proc.kill('SIGINT');
    const exited = cli.exit(5000, 'exit within 5 s of SIGINT');
    exited.catch(() => undefined);

    // The client hears GOODBYE but stays silent; the router drops it after its shutdown timeout.
    expectGoodbye(await peer.next(3000), CloseUri.SystemShutdown);
    expect(await exited).toEqual({ code: 0, signal: null });
    await peer.waitClosed(1000);
  });

  it('--realm a --realm b serves exactly those realms', async () => {
    const { cli, url } = await start('--realm', 'a', '--realm', 'b');
    expect(cli.logLines().find((line) => line['msg'] === 'router started')?.['realms']).toEqual(['a', 'b']);

    const a = await RawPeer.join(url, 'json', 'a');
    const b = await RawPeer.join(url, 'json', 'b');
    expect(a.welcome[0]).toBe(MessageCode.Welcome);
    expect(b.welcome[0]).toBe(MessageCode.Welcome);

    const stranger = await RawPeer.connect(url, 'json');
    stranger.send([MessageCode.Hello, 'realm1', { roles: { subscriber: {} } }]);
    const abort = await stranger.next(3000);
    expect(abort[0]).toBe(MessageCode.Abort);
    expect(abort[2]).toBe(ErrorUri.NoSuchRealm);
    await stranger.waitClosed(3000);
  });

  it('--port 99999 exits 2 with a message naming --port', async () => {
    const { exit, stderr } = await run('start', '--port', '99999');
    expect(exit.code).toBe(2);
    expect(stderr).toContain('--port');
    expect(stderr).toContain('99999');
  });

  it('a port already in use exits 1, the error first: "port N is in use", no "router stopped"', async () => {
    const blocker = createServer();
    await within(
      new Promise<void>((resolve, reject) => {
        blocker.once('error', reject);
        blocker.listen(0, '127.0.0.1', () => resolve());
      }),
      3000,
      'a blocking server to listen',
    );
    onTestFinished(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const address = blocker.address();
    if (address === null || typeof address === 'string') throw new Error('blocking server has no port');

    const { exit, stdout, stderr } = await run('start', '--port', String(address.port), '--host', '127.0.0.1', '--log-level', 'info');

    expect(exit.code).toBe(1);
    // The error first and clear, on stderr and as the log's fatal line; no 'router stopped' noise.
    expect(stderr).toMatch(new RegExp(`^switchboard: port ${address.port} is in use \\(127\\.0\\.0\\.1:${address.port}\\): another process listens there`));
    expect(stderr).toContain('--port N');
    expect(stderr).toMatch(/EADDRINUSE|address already in use/);
    const log = stdout
      .split('\n')
      .map(parseLogLine)
      .filter((l): l is LogLine => l !== undefined);
    expect(log.map((l) => l['msg'])).not.toContain('router stopped');
    const fatal = log.find((l) => l['level'] === 60);
    expect(fatal?.['msg']).toMatch(new RegExp(`^port ${address.port} is in use`));
    expect(fatal?.['code']).toBe('EADDRINUSE');
  });
});

/** A Crossbar.io node config: a Web transport with ticket, wampcra and anonymous auth, roles, a static path and a component. */
const CROSSBAR = {
  version: 2,
  controller: {},
  workers: [
    {
      type: 'router',
      realms: [
        {
          name: 'realm1',
          roles: [
            { name: 'backend', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, publish: true, subscribe: true } }] },
            {
              name: 'frontend',
              permissions: [
                { uri: 'com.example.', match: 'prefix', allow: { publish: true, subscribe: true, call: true } },
                { uri: 'com.example.topic2', match: 'exact', allow: { publish: false } },
              ],
            },
          ],
        },
      ],
      transports: [
        {
          type: 'web',
          endpoint: { type: 'tcp', port: 8080 },
          paths: {
            '/': { type: 'static', directory: '../web' },
            ws: {
              type: 'websocket',
              serializers: ['json'],
              auth: {
                anonymous: { type: 'static', role: 'frontend' },
                ticket: { type: 'static', principals: { joe: { ticket: '${SB_CLI_TICKET}', role: 'frontend' } } },
                wampcra: { type: 'static', users: { backend1: { secret: '$SB_CLI_CRA_SECRET', role: 'backend' } } },
              },
            },
          },
        },
      ],
      components: [{ type: 'class', classname: 'backend.BackendSession', realm: 'realm1', role: 'backend' }],
    },
  ],
};

const CROSSBAR_WARNINGS = ['/workers/0/components/0: router components are not supported: run backend.BackendSession as a separate WAMP client'];

/** A Crossbar node directory as `crossbar init` lays it out: CROSSBAR in .crossbar/config.json, its static files in web/. */
function crossbarNode(): string {
  const dir = tempDir();
  mkdirSync(join(dir, '.crossbar'));
  mkdirSync(join(dir, 'web'));
  writeFileSync(join(dir, 'web', 'index.html'), '<p>static from web/</p>\n');
  return writeConfig(CROSSBAR, 'config.json', join(dir, '.crossbar'));
}

/** HELLO with `authmethods` and `authid`, then the CHALLENGE's extra. */
async function challenged(url: string, method: string, authid: string): Promise<{ peer: RawPeer; extra: Record<string, unknown> }> {
  const peer = await RawPeer.connect(url, 'json');
  peer.send([MessageCode.Hello, 'realm1', { roles: { publisher: {}, callee: {} }, authmethods: [method], authid }]);
  const challenge = await peer.next();
  expect(challenge.slice(0, 2)).toEqual([MessageCode.Challenge, method]);
  return { peer, extra: challenge[2] as Record<string, unknown> };
}

describe('a Crossbar config.json', () => {
  it('check imports it: exit 0, each part not imported on stderr with its JSON pointer', async () => {
    setEnv({ SB_CLI_TICKET: 'secret!!!', SB_CLI_CRA_SECRET: 'cra-secret' });
    const path = crossbarNode();
    const { exit, stdout, stderr } = await run('check', path);
    expect(exit.code).toBe(0);
    expect(stdout).toBe(`${path}: Crossbar configuration imported (1 warning)\n`);
    expect(stderr).toBe(`${path}: not imported from Crossbar:\n${CROSSBAR_WARNINGS.map((w) => `  warning: ${w}\n`).join('')}`);
  });

  it('check names an unset secret variable and where it is used: exit 2, with the warnings', async () => {
    setEnv({ SB_CLI_TICKET: undefined, SB_CLI_CRA_SECRET: 'cra-secret' });
    const path = crossbarNode();
    const { exit, stdout, stderr } = await run('check', path);
    expect(exit.code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('  - /workers/0/transports/0/paths/ws/auth/ticket/principals/joe/ticket: environment variable SB_CLI_TICKET is not set');
    for (const warning of CROSSBAR_WARNINGS) expect(stderr).toContain(`  warning: ${warning}`);
  });

  it('check reads the TLS files and names the Crossbar field of one it cannot read: exit 2', async () => {
    const crossbar = {
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'realm1', roles: [] }],
          transports: [
            {
              type: 'websocket',
              endpoint: { type: 'tcp', port: 8443, tls: { certificate: 'missing.crt', key: 'missing.key' } },
              url: 'wss://localhost:8443/ws',
            },
          ],
        },
      ],
    };
    const path = writeConfig(crossbar);
    const { exit, stderr } = await run('check', path);
    expect(exit.code).toBe(2);
    expect(stderr).toMatch(/  - \/workers\/0\/transports\/0\/endpoint\/tls\/certificate: cannot read \/.*\/missing\.crt: ENOENT/);
    expect(stderr).toMatch(/  - \/workers\/0\/transports\/0\/endpoint\/tls\/key: cannot read \/.*\/missing\.key: ENOENT/);
    expect(stderr).toContain('  warning: /workers/0/transports/0: Crossbar accepts this WebSocket transport on any URL path; Switchboard only on /ws');
  });

  it('start names a missing static directory by its place in the Crossbar file: exit 1', async () => {
    const crossbar = {
      version: 2,
      workers: [
        {
          type: 'router',
          realms: [{ name: 'realm1' }],
          transports: [
            { type: 'web', endpoint: { type: 'tcp', port: 0 }, paths: { '/': { type: 'static', directory: 'no-such-dir' }, ws: { type: 'websocket' } } },
          ],
        },
      ],
    };
    const { exit, stderr } = await run('start', '--config', writeConfig(crossbar));
    expect(exit.code).toBe(1);
    expect(stderr).toMatch(
      /switchboard: cannot start: static files: \/workers\/0\/transports\/0\/paths\/~1\/directory: cannot serve \/.*\/no-such-dir: ENOENT/,
    );
  });

  it('start runs it: warnings logged; anonymous, ticket and wampcra sessions join with their roles, and the roles apply', async () => {
    setEnv({ SB_CLI_TICKET: 'secret!!!', SB_CLI_CRA_SECRET: 'cra-secret' });
    const { cli, url } = await start('--config', crossbarNode());
    const logged = cli.logLines().filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('not imported from Crossbar: '));
    expect(logged.map((l) => l['msg'])).toEqual(CROSSBAR_WARNINGS.map((w) => `not imported from Crossbar: ${w}`));
    expect(logged.every((l) => l['level'] === 40)).toBe(true);
    // The static path "/" of the Web transport serves ../web (relative to .crossbar, as in Crossbar).
    const page = await fetch(url.replace(/^ws:/, 'http:').replace(/\/ws$/, '/'));
    expect(await page.text()).toBe('<p>static from web/</p>\n');

    // Anonymous: the role the Crossbar auth block gives it, and that role's permissions.
    const anonymous = await RawPeer.join(url, 'json', 'realm1');
    expect(anonymous.welcome[2]).toMatchObject({ authmethod: 'anonymous', authrole: 'frontend' });
    anonymous.send([MessageCode.Publish, anonymous.nextRequest(), { acknowledge: true }, 'com.example.topic1', []]);
    expect((await anonymous.next())[0]).toBe(MessageCode.Published);
    const denied = anonymous.nextRequest();
    anonymous.send([MessageCode.Publish, denied, { acknowledge: true }, 'com.example.topic2', []]);
    expect((await anonymous.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Publish, denied, expect.any(Object), ErrorUri.NotAuthorized]);

    // Ticket, with the ticket from the environment.
    const ticket = await challenged(url, 'ticket', 'joe');
    ticket.peer.send([MessageCode.Authenticate, 'secret!!!', {}]);
    const welcome = await ticket.peer.next();
    expect(welcome[0]).toBe(MessageCode.Welcome);
    expect(welcome[2]).toMatchObject({ authid: 'joe', authrole: 'frontend', authmethod: 'ticket' });

    // WAMP-CRA: base64(HMAC-SHA256(secret, challenge)).
    const cra = await challenged(url, 'wampcra', 'backend1');
    const signature = createHmac('sha256', 'cra-secret').update(String(cra.extra['challenge'])).digest('base64');
    cra.peer.send([MessageCode.Authenticate, signature, {}]);
    const backend = await cra.peer.next();
    expect(backend[0]).toBe(MessageCode.Welcome);
    expect(backend[2]).toMatchObject({ authid: 'backend1', authrole: 'backend', authmethod: 'wampcra' });
    cra.peer.send([MessageCode.Register, 1, {}, 'com.example.add2']);
    expect((await cra.peer.next())[0]).toBe(MessageCode.Registered);

    // A wrong ticket does not get in.
    const wrong = await challenged(url, 'ticket', 'joe');
    wrong.peer.send([MessageCode.Authenticate, 'guess', {}]);
    expect((await wrong.peer.next())[0]).toBe(MessageCode.Abort);
  });
});
