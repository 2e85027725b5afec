/**
 * `switchboard publish | subscribe | call | register`: a WAMP client on the command line, for
 * debugging. Positional arguments are JSON (a word that is not JSON is taken as a string); what
 * arrives is printed as one JSON line each. The `switchboard` binary (router/src/cli.ts) delegates
 * these four commands here.
 */
import { parseArgs } from 'node:util';
import { isSerializerName } from '@switchboard/schemas/core';
import type { Dict } from '@switchboard/schemas/core';
import { WampError } from './errors.js';
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
`;

interface Flags {
  url: string;
  realm: string;
  serializer: 'json' | 'msgpack' | 'cbor';
  kwargs: Dict | undefined;
  options: Dict;
  count: number;
  timeout: number | undefined;
  progress: boolean;
  match: string | undefined;
  result: unknown;
  hasResult: boolean;
}

class UsageError extends Error {}

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

function parse(rest: string[], env: Record<string, string | undefined>): { flags: Flags; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      realm: { type: 'string' },
      serializer: { type: 'string' },
      kwargs: { type: 'string' },
      options: { type: 'string' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      progress: { type: 'boolean' },
      match: { type: 'string' },
      result: { type: 'string' },
    },
  });
  const serializer = values.serializer ?? 'json';
  if (!isSerializerName(serializer)) throw new UsageError(`--serializer: expected json, msgpack or cbor, got '${serializer}'`);
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
      url: values.url ?? env['SWITCHBOARD_URL'] ?? 'ws://127.0.0.1:8080/ws',
      realm: values.realm ?? 'realm1',
      serializer,
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
  let parsed: ReturnType<typeof parse>;
  try {
    if (command === undefined || !CLIENT_COMMANDS.includes(command)) throw new UsageError(`unknown client command '${command ?? ''}'`);
    parsed = parse(rest, run.env ?? process.env);
    if (parsed.positionals.length === 0) throw new UsageError(`${command} needs a URI`);
    if ((command === 'subscribe' || command === 'register') && parsed.positionals.length > 1) throw new UsageError(`${command} takes one URI and no arguments`);
  } catch (err) {
    io.err(`switchboard ${command ?? ''}: ${err instanceof Error ? err.message : String(err)}\n\n${CLIENT_HELP}`);
    return 2;
  }
  const { flags, positionals } = parsed;
  const [uri, ...argTexts] = positionals as [string, ...string[]];
  const args = argTexts.map(parseValue);

  let session: Session;
  try {
    session = await connect({ url: flags.url, realm: flags.realm, serializers: [flags.serializer], reconnect: false });
  } catch (err) {
    io.err(`switchboard ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
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
        const stream = session.callStream(uri, args, flags.kwargs, { extra: flags.options, ...(flags.timeout !== undefined ? { timeout: flags.timeout } : {}) });
        if (flags.progress) for await (const item of stream) io.out(`${json({ progress: item.args, kwargs: item.kwargs })}\n`);
        const result = await stream.result;
        io.out(`${json(result.args.length <= 1 && Object.keys(result.kwargs).length === 0 ? result.value ?? null : { args: result.args, kwargs: result.kwargs })}\n`);
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
          return flags.hasResult ? flags.result : args.length === 1 ? args[0] : args;
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
