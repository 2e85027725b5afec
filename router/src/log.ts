import { pino } from 'pino';
import type { Logger as PinoLogger, Level } from 'pino';
import pretty from 'pino-pretty';

export type Logger = PinoLogger;
export type LogLevel = Level | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parts of the router that can log at a level of their own (config `log.modules`). */
export type LogModule = 'realm' | 'session' | 'auth' | 'transport' | 'bridge' | 'cluster';
export const LOG_MODULES: readonly LogModule[] = ['realm', 'session', 'auth', 'transport', 'bridge', 'cluster'];

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
}

/** JSON logs (one object a line) for machines; coloured lines when a person is watching. */
export function createLogger(options: LoggerOptions): Logger {
  const human = options.pretty ?? process.stdout.isTTY === true;
  const base = { level: options.level, base: { name: 'switchboard' } };
  return human ? pino(base, pretty({ colorize: true, sync: true })) : pino(base);
}

/** A logger that writes nothing, for embedding and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
