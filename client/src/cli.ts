/**
 * `switchboard publish | subscribe | call | register`: a WAMP client on the command line, for
 * debugging. Positional arguments are JSON (a word that is not JSON is taken as a string); what
 * arrives is printed as one JSON line each. The `switchboard` binary (router/src/cli.ts) delegates
 * these four commands here.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isSerializerName } from '@switchboard/schemas/core';
import type { Dict } from '@switchboard/schemas/core';
import { cryptosignAuth, ticketAuth, wampcraAuth } from './auth.js';
import { SessionAbortedError, UnreachableError, WampError } from './errors.js';
import { Result } from './result.js';
import type { CallResult } from './result.js';
import type { AuthOptions } from './join.js';
import { connect } from './node.js';
import type { Session } from './session.js';

export interface ClientCliIo {
  out(text: string): void;
  err(text: string): void;
}

export const CLIENT_COMMANDS: readonly string[] = ['publish', 'subscribe', 'call', 'register'];

export const CLIENT_HELP = `Client commands (for debugging; arguments are JSON, a bare word is a string):
  switchboard publish TOPIC [ARG...] [--kwargs JSON]          publish (acknowledged), print the publication ID
  switchboard subscribe TOPIC [--match prefix|wildcard] [--count N]
                                                              print each event as a JSON line until Ctrl-C
  switchboard call PROCEDURE [ARG...] [--kwargs JSON] [--timeout MS] [--progress]
                                                              print the result (and progressive results)
  switchboard register PROCEDURE [--result JSON] [--count N]  print each invocation; answer with --result, or echo the args

Client options:
  --url URL           router WebSocket URL (default $SWITCHBOARD_URL or ws://127.0.0.1:8080/ws)
  --realm NAME        realm (default realm1)
  --serializer S      json, msgpack or cbor (default json)
  --options JSON      further WAMP options for the request (e.g. '{"exclude_me":false}')
  -h, --help          this text

Authentication (default: anonymous; give one credential, the method follows from it):
  --authid ID              HELLO authid (default $SWITCHBOARD_AUTHID); needed for ticket and wampcra,
                           optional for cryptosign (the router finds the principal by its key)
  --authrole ROLE          HELLO authrole to ask for (the router may ignore it)
  --ticket TICKET          WAMP-Ticket                       (or $SWITCHBOARD_TICKET)
  --ticket-env VAR         WAMP-Ticket read from environment variable VAR
  --secret SECRET          WAMP-CRA secret or password; a salt, if any, comes with the challenge
                                                             (or $SWITCHBOARD_SECRET)
  --secret-env VAR         WAMP-CRA secret read from environment variable VAR
  --private-key HEX        WAMP-Cryptosign Ed25519 private key, a 32-byte seed as 64 hex characters
                                                             (or $SWITCHBOARD_PRIVATE_KEY)
  --private-key-file FILE  the same seed read from FILE (64 hex characters, or 32 raw bytes)
  --authmethod M           ticket, wampcra or cryptosign: which $SWITCHBOARD_* credential to use
                           when several are set
  Prefer the environment variables or files: arguments are visible to other local users (ps).
  A refused credential prints the router's ABORT reason and exits 1; a usage error exits 2.

Output: \`call\` prints a single result as its JSON value (\`5\`, \`"hi"\`, \`{"a":1}\`); a result with
several positional values or keyword values as {"$args":[...],"$kwargs":{...}}; binary as
{"$bytes":"base64"}. Exit codes: 0 done, 1 failed (router unreachable or refused, WAMP error),
2 usage error.
`;

/** The synopsis of each client command, printed under a usage error. */
const SYNOPSIS: Record<string, string> = {
  publish: 'switchboard publish TOPIC [ARG...] [--kwargs JSON]',
  subscribe: 'switchboard subscribe TOPIC [--match prefix|wildcard] [--count N]',
  call: 'switchboard call PROCEDURE [ARG...] [--kwargs JSON] [--timeout MS] [--progress]',
  register: 'switchboard register PROCEDURE [--result JSON] [--count N]',
};

/**
 * node:util parseArgs explains at length how to pass a positional that starts with '-': the first
 * sentence says what is wrong.
 */
export function parseArgsMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\. To specify a positional argument.*$/s, '');
}

/**
 * Where and as whom a client command connects: --url, --realm, --serializer and the
 * authentication flags, checked. Shared with `switchboard history --url` (router/src/history/inspect.ts).
 */
export interface ConnectTarget {
  url: string;
  realm: string;
  serializer: 'json' | 'msgpack' | 'cbor';
  auth: AuthSpec | undefined;
}

interface Flags extends ConnectTarget {
  kwargs: Dict | undefined;
  options: Dict;
  count: number;
  timeout: number | undefined;
  progress: boolean;
  match: string | undefined;
  result: unknown;
  hasResult: boolean;
}

const AUTH_METHODS = ['ticket', 'wampcra', 'cryptosign'] as const;
type CliAuthMethod = (typeof AUTH_METHODS)[number];

/** What the authentication flags asked for (checked; the key is turned into a signer at connect time). */
export interface AuthSpec {
  method: CliAuthMethod;
  /** The ticket, the wampcra secret, or the cryptosign seed as hex. */
  credential: string;
  authid: string | undefined;
  authrole: string | undefined;
}

/** A bad flag or argument: exit 2, one line saying what is wrong. */
export class UsageError extends Error {}

/** A positional argument: JSON when it parses, the plain word otherwise. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function parseDict(flag: string, text: string | undefined): Dict | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--${flag}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--${flag}: expected a JSON object`);
  return value as Dict;
}

function parseCount(flag: string, text: string | undefined): number {
  if (text === undefined) return Infinity;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag}: expected a positive integer, got '${text}'`);
  return n;
}

/** JSON for printing: binary as {"$bytes": base64}, BigInt as a number. */
function json(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
    if (typeof v === 'bigint') return Number(v);
    return v;
  });
}

/** The parseArgs options of the connection flags (see ConnectTarget). */
export const CONNECT_FLAGS = {
  url: { type: 'string' },
  realm: { type: 'string' },
  serializer: { type: 'string' },
  authid: { type: 'string' },
  authrole: { type: 'string' },
  authmethod: { type: 'string' },
  ticket: { type: 'string' },
  'ticket-env': { type: 'string' },
  secret: { type: 'string' },
  'secret-env': { type: 'string' },
  'private-key': { type: 'string' },
  'private-key-file': { type: 'string' },
} as const;

/** The values parseArgs gives for CONNECT_FLAGS. */
export interface ConnectValues extends AuthValues {
  url?: string | undefined;
  realm?: string | undefined;
  serializer?: string | undefined;
}

/** Checks the connection flags (their $SWITCHBOARD_* fallbacks from `env`); throws UsageError. */
export function connectTarget(values: ConnectValues, env: Record<string, string | undefined>): ConnectTarget {
  const serializer = values.serializer ?? 'json';
  if (!isSerializerName(serializer)) throw new UsageError(`--serializer: expected json, msgpack or cbor, got '${serializer}'`);
  return {
    url: values.url ?? env['SWITCHBOARD_URL'] ?? 'ws://127.0.0.1:8080/ws',
    realm: values.realm ?? 'realm1',
    serializer,
    auth: parseAuth(values, env),
  };
}

/** Connects to `target` (no reconnect: a command runs once). */
export async function connectTo(target: ConnectTarget): Promise<Session> {
  const auth = target.auth === undefined ? undefined : await authOptions(target.auth);
  return connect({ url: target.url, realm: target.realm, serializers: [target.serializer], reconnect: false, ...(auth !== undefined ? { auth } : {}) });
}

/** A failed connect, for stderr: the error, then what to do about it when the error tells. */
export function connectFailure(command: string, err: unknown, target: ConnectTarget): string {
  const hint = connectHint(err, target);
  return `switchboard ${command}: ${err instanceof Error ? err.message : String(err)}\n${hint !== undefined ? `hint: ${hint}\n` : ''}`;
}

function parse(rest: string[], env: Record<string, string | undefined>): { flags: Flags; positionals: string[] } | 'help' {
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...CONNECT_FLAGS,
      kwargs: { type: 'string' },
      options: { type: 'string' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      progress: { type: 'boolean' },
      match: { type: 'string' },
      result: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  const target = connectTarget(values, env);
  let timeout: number | undefined;
  if (values.timeout !== undefined) {
    timeout = Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout: expected milliseconds, got '${values.timeout}'`);
  }
  let result: unknown;
  if (values.result !== undefined) {
    try {
      result = JSON.parse(values.result);
    } catch {
      throw new UsageError('--result: not JSON');
    }
  }
  return {
    positionals,
    flags: {
      ...target,
      kwargs: parseDict('kwargs', values.kwargs),
      options: parseDict('options', values.options) ?? {},
      count: parseCount('count', values.count),
      timeout,
      progress: values.progress === true,
      match: values.match,
      result,
      hasResult: values.result !== undefined,
    },
  };
}

export interface AuthValues {
  authid?: string | undefined;
  authrole?: string | undefined;
  authmethod?: string | undefined;
  ticket?: string | undefined;
  'ticket-env'?: string | undefined;
  secret?: string | undefined;
  'secret-env'?: string | undefined;
  'private-key'?: string | undefined;
  'private-key-file'?: string | undefined;
}

const ENV_CREDENTIAL: Record<CliAuthMethod, string> = { ticket: 'SWITCHBOARD_TICKET', wampcra: 'SWITCHBOARD_SECRET', cryptosign: 'SWITCHBOARD_PRIVATE_KEY' };
const CREDENTIAL_FLAG: Record<CliAuthMethod, string> = { ticket: '--ticket', wampcra: '--secret', cryptosign: '--private-key' };

/** A credential from `--flag VALUE` or `--flag-env VAR` (never both). */
function fromFlagOrEnvVar(
  flag: string,
  value: string | undefined,
  envFlag: string,
  envVar: string | undefined,
  env: Record<string, string | undefined>,
): string | undefined {
  if (value !== undefined && envVar !== undefined) throw new UsageError(`give --${flag} or --${envFlag}, not both`);
  if (envVar === undefined) return value;
  const text = env[envVar];
  if (text === undefined || text === '') throw new UsageError(`--${envFlag}: environment variable ${envVar} is not set`);
  return text;
}

function readKeyFile(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UsageError(`--private-key-file: cannot read ${path} (${err instanceof Error ? err.message : String(err)})`);
  }
  const text = bytes.toString('utf8').trim();
  if (bytes.length === 32 && !/^[0-9a-fA-F]+$/.test(text)) return bytes.toString('hex');
  return text;
}

/** The authentication flags (and their $SWITCHBOARD_* fallbacks) → one method, or anonymous. */
function parseAuth(values: AuthValues, env: Record<string, string | undefined>): AuthSpec | undefined {
  const explicit: Partial<Record<CliAuthMethod, string>> = {};
  const ticket = fromFlagOrEnvVar('ticket', values.ticket, 'ticket-env', values['ticket-env'], env);
  if (ticket !== undefined) explicit.ticket = ticket;
  const secret = fromFlagOrEnvVar('secret', values.secret, 'secret-env', values['secret-env'], env);
  if (secret !== undefined) explicit.wampcra = secret;
  if (values['private-key'] !== undefined && values['private-key-file'] !== undefined)
    throw new UsageError('give --private-key or --private-key-file, not both');
  const key = values['private-key'] ?? (values['private-key-file'] !== undefined ? readKeyFile(values['private-key-file']) : undefined);
  if (key !== undefined) explicit.cryptosign = key;

  if (values.authmethod !== undefined && !(AUTH_METHODS as readonly string[]).includes(values.authmethod))
    throw new UsageError(`--authmethod: expected ticket, wampcra or cryptosign, got '${values.authmethod}'`);
  const wanted = values.authmethod as CliAuthMethod | undefined;
  const given = Object.keys(explicit) as CliAuthMethod[];
  if (given.length > 1) throw new UsageError(`give one credential, not ${given.map((m) => CREDENTIAL_FLAG[m]).join(' and ')}`);
  let method: CliAuthMethod | undefined = given[0];
  let credential = method === undefined ? undefined : explicit[method];
  if (method !== undefined && wanted !== undefined && wanted !== method)
    throw new UsageError(`--authmethod ${wanted} does not go with the ${method} credential given`);
  if (method === undefined) {
    // No credential flag: the environment, for the method asked for or the only one set.
    const set = AUTH_METHODS.filter((m) => (env[ENV_CREDENTIAL[m]] ?? '') !== '');
    if (wanted !== undefined) {
      if (!set.includes(wanted)) throw new UsageError(`--authmethod ${wanted} needs a credential (${CREDENTIAL_FLAG[wanted]} or $${ENV_CREDENTIAL[wanted]})`);
      method = wanted;
    } else if (set.length > 1) {
      throw new UsageError(`${set.map((m) => `$${ENV_CREDENTIAL[m]}`).join(' and ')} are all set: choose one with --authmethod`);
    } else method = set[0];
    if (method !== undefined) credential = env[ENV_CREDENTIAL[method]];
  }
  const authid = values.authid ?? (env['SWITCHBOARD_AUTHID'] || undefined);
  if (method === undefined || credential === undefined) {
    if (values.authid !== undefined || values.authrole !== undefined)
      throw new UsageError(
        `--${values.authid !== undefined ? 'authid' : 'authrole'} needs a credential: --ticket, --secret or --private-key (or their $SWITCHBOARD_* variables)`,
      );
    return undefined;
  }
  if (method !== 'cryptosign' && authid === undefined) throw new UsageError(`${method} needs --authid (or $SWITCHBOARD_AUTHID)`);
  if (method === 'cryptosign') {
    credential = credential.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(credential)) throw new UsageError('the cryptosign private key must be a 32-byte seed as 64 hex characters');
  }
  return { method, credential, authid, authrole: values.authrole };
}

/** The `auth` option of connect for an AuthSpec. */
async function authOptions(spec: AuthSpec): Promise<AuthOptions> {
  const role = spec.authrole !== undefined ? { authrole: spec.authrole } : {};
  switch (spec.method) {
    case 'ticket':
      return ticketAuth({ authid: spec.authid!, ticket: spec.credential, ...role });
    case 'wampcra':
      return wampcraAuth({ authid: spec.authid!, secret: spec.credential, ...role });
    case 'cryptosign':
      return cryptosignAuth({ seed: spec.credential, ...(spec.authid !== undefined ? { authid: spec.authid } : {}), ...role });
  }
}

export interface RunOptions {
  /** Ends subscribe/register (as Ctrl-C does). */
  signal?: AbortSignal;
  env?: Record<string, string | undefined>;
  /** Listen to SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
}

/**
 * Runs one client command (`argv[0]` is publish, subscribe, call or register); resolves to the
 * exit code: 0 done, 1 failed (connection, WAMP error), 2 usage.
 */
export async function runClientCommand(argv: string[], io: ClientCliIo, run: RunOptions = {}): Promise<number> {
  const [command, ...rest] = argv;
  let parsed: Exclude<ReturnType<typeof parse>, 'help'>;
  try {
    if (command === undefined || !CLIENT_COMMANDS.includes(command)) throw new UsageError(`unknown client command '${command ?? ''}'`);
    const result = parse(rest, run.env ?? process.env);
    if (result === 'help') {
      io.out(CLIENT_HELP);
      return 0;
    }
    parsed = result;
    if (parsed.positionals.length === 0) throw new UsageError(`needs a ${command === 'publish' || command === 'subscribe' ? 'TOPIC' : 'PROCEDURE'} URI`);
    if ((command === 'subscribe' || command === 'register') && parsed.positionals.length > 1) throw new UsageError('takes one URI and no arguments');
  } catch (err) {
    // One line for what is wrong, the synopsis, and where the options are: not 40 lines of help.
    const name = command !== undefined && CLIENT_COMMANDS.includes(command) ? command : undefined;
    const usage = name === undefined ? '' : `Usage: ${SYNOPSIS[name] ?? ''} [options]\n`;
    io.err(
      `switchboard${name === undefined ? '' : ` ${name}`}: ${parseArgsMessage(err)}\n${usage}Run 'switchboard ${name ?? ''}${name === undefined ? '' : ' '}--help' for the options.\n`,
    );
    return 2;
  }
  const { flags, positionals } = parsed;
  const [uri, ...argTexts] = positionals as [string, ...string[]];
  const args = argTexts.map(parseValue);

  let session: Session;
  try {
    session = await connectTo(flags);
  } catch (err) {
    io.err(connectFailure(command ?? '', err, flags));
    return 1;
  }
  try {
    switch (command) {
      case 'publish': {
        const publication = await session.publish(uri, args, flags.kwargs, { acknowledge: true, extra: flags.options });
        io.out(`${json({ published: uri, publication })}\n`);
        return 0;
      }
      case 'call': {
        const stream = session.callStream(uri, args, flags.kwargs, {
          extra: flags.options,
          ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}),
        });
        if (flags.progress) for await (const item of stream) io.out(`${json({ progress: item.args, kwargs: item.kwargs })}\n`);
        io.out(`${json(printable(await stream.result))}\n`);
        return 0;
      }
      case 'subscribe':
      case 'register':
        return await serve(command, session, uri, flags, io, run);
      default:
        return 2;
    }
  } catch (err) {
    if (err instanceof WampError) io.err(`switchboard ${command}: ${err.uri} ${json(err.args)} ${json(err.kwargs)}\n`);
    else io.err(`switchboard ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await session.leave().catch(() => {});
  }
}

/**
 * What `call` prints for a result: a single positional value as itself (the common case: `5`); no
 * value as null; several positional values or any keyword values as {"$args", "$kwargs"}, so that
 * they never print like a plain object result that happens to have keys args and kwargs.
 */
export function printable(result: Pick<CallResult, 'args' | 'kwargs'>): unknown {
  if (Object.keys(result.kwargs).length === 0 && result.args.length <= 1) return result.args[0] ?? null;
  return { $args: result.args, $kwargs: result.kwargs };
}

/** subscribe / register: print what arrives until --count is reached, the signal, or Ctrl-C. */
async function serve(command: 'subscribe' | 'register', session: Session, uri: string, flags: Flags, io: ClientCliIo, run: RunOptions): Promise<number> {
  let seen = 0;
  let stop!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (stop = resolve));
  const count = (): void => {
    if (++seen >= flags.count) stop(0);
  };
  const onSignal = (): void => stop(0);
  const handleSignals = run.handleSignals ?? true;
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  run.signal?.addEventListener('abort', onSignal, { once: true });
  const offClose = session.connection.on('close', (event) => {
    io.err(`switchboard ${command}: ${event.message}\n`);
    stop(1);
  });
  try {
    const options = { ...flags.options, ...(flags.match !== undefined ? { match: flags.match } : {}) };
    if (command === 'subscribe') {
      await session.subscribe(
        uri,
        (args, kwargs, details) => {
          io.out(`${json({ topic: details.topic, args, kwargs, publication: details.publication })}\n`);
          count();
        },
        { extra: options },
      );
    } else {
      await session.register(
        uri,
        (args, kwargs, details) => {
          io.out(`${json({ procedure: details.procedure, args, kwargs })}\n`);
          setTimeout(count, 0); // answer first, then maybe stop
          // Echo: the same positional and keyword arguments back, as they came.
          return flags.hasResult ? flags.result : new Result(args, kwargs);
        },
        { extra: options },
      );
    }
    io.err(`switchboard ${command}: ${command === 'subscribe' ? 'subscribed to' : 'registered'} ${uri} on ${flags.url} (realm ${flags.realm})\n`);
    return await stopped;
  } finally {
    offClose();
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    run.signal?.removeEventListener('abort', onSignal);
  }
}

/** What to do about a failed connect, when the error tells (the error itself is printed first). */
function connectHint(err: unknown, flags: ConnectTarget): string | undefined {
  if (err instanceof SessionAbortedError) {
    switch (err.reason) {
      case 'wamp.error.no_such_realm':
        return `check --realm (now '${flags.realm}'): the router lists its realms when it starts`;
      case 'wamp.error.authentication_failed':
      case 'wamp.error.no_auth_method':
      case 'wamp.error.no_such_principal':
        return 'check the credential and --authid (see --help, Authentication)';
      default:
        return undefined;
    }
  }
  if (!(err instanceof UnreachableError)) return undefined;
  const status = err.refusal?.status;
  if (status === 404) return `check the path in --url (now ${flags.url}): the router lists its WebSocket URLs when it starts (default ws://HOST:8080/ws)`;
  if (status === 400 || err.refusal?.rawSocketError === 1) return 'try another --serializer (json, msgpack or cbor)';
  if (/ECONNREFUSED/.test(err.message)) return `nothing listens at ${flags.url}: is the router running? (switchboard start)`;
  return undefined;
}
