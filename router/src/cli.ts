/**
 * The `switchboard` command: flags → config → router; signals → graceful shutdown.
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { CLIENT_COMMANDS, CLIENT_HELP, parseArgsMessage, runClientCommand } from '@switchboard/client/cli';
import { ConfigError, checkConfig, embeddedListener, loadConfig } from './config/config.js';
import type { RouterConfigFile } from './config/config.js';
import { tlsProblems } from './config/tls.js';
import { runHistoryCommand } from './history/inspect.js';
import type { HistoryCommandDeps } from './history/inspect.js';
import { storeProblems } from './history/open.js';
import { LOG_LEVELS } from './log.js';
import type { LogLevel } from './log.js';
import { Router } from './router.js';
import { VERSION } from './version.js';

const DEFAULT_TEXT = `start the router; with no config: realm1, anonymous, and on port
                                  8080 every transport: ws://0.0.0.0:8080/ws (WebSocket),
                                  rs://0.0.0.0:8080 (RawSocket), http://0.0.0.0:8080/lp (long-poll)`;

const START_HELP = `Usage: switchboard start [options]     ${DEFAULT_TEXT}

Options for start:
  --config FILE       JSON config file (schema: @switchboard/schemas/schema/router-config.schema.json),
                      or a Crossbar.io config.json (its router workers are imported; the rest is listed)
  --host H            listen address of the first listener (default 0.0.0.0)
  --port N            port of the first listener (default 8080; 0 picks a free one)
  --realm NAME        serve this realm (repeat for several); replaces the config's realms
  --log-level L       fatal, error, warn, info, debug, trace or silent (default info)
  -h, --help          this text

Environment (used when the flag is absent): SWITCHBOARD_CONFIG (--config), SWITCHBOARD_PORT or
PORT (--port), LOG_LEVEL (--log-level).

SIGINT or SIGTERM: every session gets GOODBYE wamp.close.system_shutdown, then the router exits 0.
`;

const CHECK_HELP = `Usage: switchboard check FILE          validate a JSON config file (ours or Crossbar's) and exit
  Exit 0: valid (what a Crossbar import leaves out is listed on stderr); exit 2: invalid, each
  problem on stderr with its place in FILE.
`;

const EXIT_CODES = `Exit codes (every command): 0 done; 1 failed at run time (port in use, router unreachable,
WAMP error, credential refused); 2 usage or configuration error (nothing was started).
`;

const HELP = `switchboard ${VERSION}: a WAMP v2 router

Usage:
  switchboard start [options]     ${DEFAULT_TEXT}
  switchboard check FILE          validate a JSON config file (ours or Crossbar's) and exit
  switchboard history TOPIC       print a topic's event history (from a running router, or the
                                  config's store file): \`switchboard history --help\`
  switchboard version             print the version
  switchboard --help              this text; \`switchboard COMMAND --help\` for one command

${START_HELP.slice(START_HELP.indexOf('Options for start:'))}
${EXIT_CODES}
${CLIENT_HELP}`;

/**
 * How `switchboard history --config FILE` opens a durable store read-only: `{ openStore }` of
 * history/open.ts once the engines are in (without it the command reads through --url only).
 */
const HISTORY_STORES: HistoryCommandDeps = {
  openStore: async (store, deps) => {
    if (store.type === 'sqlite' && typeof store.path === 'string') {
      const { SqliteStore } = await import('./history/sqlite.js');
      // Read-only: no writes, no expiry; safe next to a running router (WAL).
      return SqliteStore.open({ path: resolvePath(deps.configDir, store.path), readonly: true, expiryIntervalMs: 0 });
    }
    throw new ConfigError(deps.configDir, [`a ${store.type} store is read through the running router: give --url`]);
  },
};

/** A usage error: one line saying what is wrong and where to read more (not the whole help), exit 2. */
function usageError(io: CliIo, command: string, message: string): number {
  io.err(`switchboard${command === '' ? '' : ` ${command}`}: ${message}\nRun 'switchboard${command === '' ? '' : ` ${command}`} --help' for usage.\n`);
  return 2;
}

const wantsHelp = (args: readonly string[]): boolean => args.includes('--help') || args.includes('-h');

/** Output streams (and the environment), injectable for tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Defaults to process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

const stdio: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Runs the CLI; resolves to the process exit code (for `start`, once the router has stopped). */
export async function main(argv: string[], io: CliIo = stdio): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.out(HELP);
      return 0;
    case 'version':
    case '--version':
    case '-v':
      if (wantsHelp(rest)) {
        io.out('Usage: switchboard version      print the version\n');
        return 0;
      }
      if (rest.length > 0) return usageError(io, 'version', `unexpected argument '${rest[0]!}'`);
      io.out(`${VERSION}\n`);
      return 0;
    case 'check':
      return check(rest, io);
    case 'start':
      return start(rest, io);
    case 'history':
      return runHistoryCommand(rest, io, HISTORY_STORES);
    default:
      if (CLIENT_COMMANDS.includes(command)) return runClientCommand([command, ...rest], io);
      return usageError(io, '', `unknown command '${command}' (commands: start, check, history, version, ${CLIENT_COMMANDS.join(', ')})`);
  }
}

function check(args: string[], io: CliIo): number {
  if (wantsHelp(args)) {
    io.out(CHECK_HELP);
    return 0;
  }
  if (args.length !== 1 || args[0]!.startsWith('-'))
    return usageError(io, 'check', args.length === 0 ? 'needs a FILE' : args.length > 1 ? 'takes one FILE' : `unknown option '${args[0]!}'`);
  const path = args[0]!;
  try {
    const loaded = loadConfig(path);
    printWarnings(io, path, loaded.warnings);
    const files = [...tlsProblems(loaded.file.listeners), ...storeProblems(loaded.file.store, dirname(path))].map(loaded.locate);
    if (files.length > 0) throw new ConfigError(path, files, loaded.warnings);
    io.out(
      `${path}: ${loaded.format === 'crossbar' ? 'Crossbar configuration imported' : 'configuration is valid'}${loaded.warnings.length > 0 ? ` (${loaded.warnings.length} warning${loaded.warnings.length === 1 ? '' : 's'})` : ''}\n`,
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      printWarnings(io, path, err.warnings);
      io.err(`${err.message}\n`);
      // A bad config is a configuration error whichever command reads it: 2, as for `start`.
      return 2;
    }
    throw err;
  }
  return 0;
}

/** What a Crossbar import left out, one line each, on stderr. */
function printWarnings(io: CliIo, path: string, warnings: readonly string[]): void {
  if (warnings.length === 0) return;
  io.err(`${path}: not imported from Crossbar:\n${warnings.map((w) => `  warning: ${w}\n`).join('')}`);
}

async function start(args: string[], io: CliIo): Promise<number> {
  if (wantsHelp(args)) {
    io.out(START_HELP);
    return 0;
  }
  // biome-ignore lint/suspicious/noImplicitAnyLet: TypeScript infers it from the parseArgs assignment in the try block
  let flags;
  try {
    flags = parseArgs({
      args,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        realm: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
      },
    }).values;
  } catch (err) {
    return usageError(io, 'start', parseArgsMessage(err));
  }
  // Container convention: the environment fills in what the command line leaves out.
  const env = io.env ?? process.env;
  flags.config ??= nonEmpty(env['SWITCHBOARD_CONFIG']);
  flags.port ??= nonEmpty(env['SWITCHBOARD_PORT']) ?? nonEmpty(env['PORT']);
  flags['log-level'] ??= nonEmpty(env['LOG_LEVEL']);

  let file: RouterConfigFile;
  let warnings: string[] = [];
  let locate = (problem: string): string => problem;
  try {
    if (flags.config !== undefined) {
      const loaded = loadConfig(flags.config);
      file = loaded.file;
      warnings = loaded.warnings;
      locate = loaded.locate;
    } else file = {};
    file = applyFlags(file, flags);
    checkConfig(file, flags.config ?? 'command line');
    const dir = flags.config !== undefined ? dirname(flags.config) : process.cwd();
    const files = [...tlsProblems(file.listeners), ...storeProblems(file.store, dir)].map(locate);
    if (files.length > 0) throw new ConfigError(flags.config ?? 'command line', files, warnings);
  } catch (err) {
    if (err instanceof ConfigError) {
      if (flags.config !== undefined) printWarnings(io, flags.config, err.warnings);
      io.err(`${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const router = new Router({ config: file });
  for (const warning of warnings) router.log.warn({ config: flags.config }, `not imported from Crossbar: ${warning}`);
  try {
    await router.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      // A config problem found while starting (a TLS file, a static directory): a configuration error, as in check.
      // A field named in the message is named as in the file (a Crossbar file's own pointers).
      io.err(`${locate(err.message)}\n`);
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    const message = locate(startFailure(e));
    router.log.fatal({ err: e.message, code: e.code }, message);
    io.err(`switchboard: ${message}\n`);
    return 1;
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      router.log.info({ signal }, 'shutting down');
      // Hard deadline: whatever happens, exit within 5 s of the signal.
      const deadline = setTimeout(() => resolve(0), 4500);
      deadline.unref();
      router.stop().then(
        () => {
          clearTimeout(deadline);
          resolve(0);
        },
        (err: unknown) => {
          router.log.error({ err }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  }).then((code) => {
    // Anything still holding the event loop (a stuck socket) must not keep the process alive.
    setTimeout(() => process.exit(code), 100).unref();
    return code;
  });
}

interface StartFlags {
  host?: string;
  port?: string;
  realm?: string[];
  'log-level'?: string;
}

/** Command-line flags override the first listener's host and port, the realm list and the log level. */
function applyFlags(file: RouterConfigFile, flags: StartFlags): RouterConfigFile {
  const out: RouterConfigFile = { ...file };
  const problems: string[] = [];
  if (flags.host !== undefined || flags.port !== undefined) {
    const listeners = [...(out.listeners ?? [embeddedListener()])];
    const first = { ...listeners[0]! };
    if (flags.host !== undefined) first.host = flags.host;
    if (flags.port !== undefined) {
      const port = Number(flags.port);
      if (!/^\d+$/.test(flags.port) || port > 65535) problems.push(`--port: '${flags.port}' is not a port number (0 to 65535)`);
      else first.port = port;
    }
    listeners[0] = first;
    out.listeners = listeners;
  }
  if (flags.realm !== undefined) out.realms = flags.realm.map((name) => ({ name }));
  if (flags['log-level'] !== undefined) {
    const level = flags['log-level'];
    if (!(LOG_LEVELS as readonly string[]).includes(level)) problems.push(`--log-level: '${level}' is not one of ${LOG_LEVELS.join(', ')}`);
    else out.log = { ...out.log, level: level as LogLevel };
  }
  if (problems.length > 0) throw new ConfigError('command line', problems);
  return out;
}

/**
 * Why the router could not start, the cause first and what to do about it: `port 8080 is in use`,
 * not a stack of what was undone. Errors of listen() carry the address and port.
 */
export function startFailure(err: NodeJS.ErrnoException & { address?: string; port?: number }): string {
  const where = err.port !== undefined ? `${err.address ?? ''}:${err.port}` : (err.address ?? '');
  switch (err.code) {
    case 'EADDRINUSE':
      return err.port !== undefined
        ? `port ${err.port} is in use (${where}): another process listens there (another switchboard?). Stop it, or start on another port: --port N, or the config's listeners[].port (cannot start: ${err.message})`
        : `${where} is in use by another process: stop it or choose another path (cannot start: ${err.message})`;
    case 'EACCES':
      return `not allowed to listen on ${where}: ports below 1024 need privileges; use a port above 1023 (--port 8080) or give node the capability (cannot start: ${err.message})`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${where}: no network interface has that address; check --host or listeners[].host (cannot start: ${err.message})`;
    default:
      return `cannot start: ${err.message}`;
  }
}
