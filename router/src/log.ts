import { pino } from 'pino';
import type { DestinationStream, Logger as PinoLogger, Level } from 'pino';
import { PINO_PRETTY, installCommand, requireOptional } from './optional.js';

export type Logger = PinoLogger;
export type LogLevel = Level | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parts of the router that can log at a level of their own (config `log.modules`). */
export type LogModule = 'realm' | 'session' | 'auth' | 'transport' | 'bridge' | 'cluster' | 'history';
export const LOG_MODULES: readonly LogModule[] = ['realm', 'session', 'auth', 'transport', 'bridge', 'cluster', 'history'];

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
}

/**
 * JSON logs (one object a line) for machines; coloured lines when a person is watching, through
 * pino-pretty, an optional dependency loaded only then (optional.ts). Without it the logs stay
 * JSON lines, and the first logger that wanted it says so once.
 */
export function createLogger(options: LoggerOptions): Logger {
  const human = options.pretty ?? process.stdout.isTTY === true;
  const base = { level: options.level, base: { name: 'switchboard' } };
  if (!human) return pino(base);
  const pretty = loadPretty();
  if (pretty !== undefined) return pino(base, pretty({ colorize: true, sync: true }));
  const log = pino(base);
  if (!prettyMissingSaid) {
    prettyMissingSaid = true;
    log.warn(
      { missing: PINO_PRETTY.packages },
      `pretty logs need the optional package pino-pretty, which is not installed: logging JSON lines instead (install it: ${installCommand(PINO_PRETTY)})`,
    );
  }
  return log;
}

/** The part of pino-pretty used here (its types are not needed to build without it). */
type PrettyFactory = (options: { colorize: boolean; sync: boolean }) => DestinationStream;

/** pino-pretty's factory, loaded at the first pretty logger; undefined when it is not installed. */
let prettyFactory: PrettyFactory | undefined | null = null;
/** Whether the missing pino-pretty was already reported (once per process). */
let prettyMissingSaid = false;

function loadPretty(): PrettyFactory | undefined {
  if (prettyFactory === null) {
    // CommonJS, loaded synchronously: the logger exists before the router's constructor returns.
    const loaded = requireOptional(PINO_PRETTY, 'pino-pretty') as { default?: PrettyFactory } | PrettyFactory | undefined;
    prettyFactory = typeof loaded === 'function' ? loaded : loaded?.default;
  }
  return prettyFactory;
}

/** A logger that writes nothing, for embedding and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Default of config `log.refusalIntervalMs`: one line per reason per this many ms. */
export const DEFAULT_REFUSAL_INTERVAL_MS = 10_000;
/** Distinct reasons tracked per logger; past this, the rest share one (a bound on what a peer can make us keep). */
const MAX_REFUSAL_REASONS = 256;

interface ReasonState {
  /** When the last line for this reason was written. */
  last: number;
  /** Refusals for this reason since that line, not logged. */
  suppressed: number;
}

interface RefusalState {
  intervalMs: number;
  now: () => number;
  reasons: Map<string, ReasonState>;
  /** When reasons idle for an interval were last forgotten (at most once per interval). */
  swept: number;
}

/** Per logger (each router's module loggers are distinct objects): what each reason last logged. */
const refusalStates = new WeakMap<Logger, RefusalState>();

function refusalState(log: Logger): RefusalState {
  let state = refusalStates.get(log);
  if (state === undefined) {
    state = { intervalMs: DEFAULT_REFUSAL_INTERVAL_MS, now: Date.now, reasons: new Map(), swept: Date.now() };
    refusalStates.set(log, state);
  }
  return state;
}

/**
 * Sets how often `logRefusal` writes a line per reason on `log` (config `log.refusalIntervalMs`;
 * 0 logs every refusal). `now` is for tests.
 */
export function limitRefusalLog(log: Logger, intervalMs: number, now: () => number = Date.now): void {
  const state = refusalState(log);
  state.intervalMs = intervalMs;
  state.now = now;
  state.swept = now();
}

/**
 * Logs a refused connection or join at info: what a person needs to see why a client could not get
 * in (wrong path, origin, subprotocol, realm, credential, a bad frame). Whoever connects decides how
 * often this happens, so the log is rate-limited: the first refusal of a `reason` is written, the
 * next ones within `log.refusalIntervalMs` are only counted, and the first after it is written with
 * `suppressed`, the count of those not written. Returns whether the line was written.
 *
 * `level`: info for refusals; a repeated fault of ours (a plugin's hook that throws) logs at error.
 *
 * At most 256 reasons are remembered; past that, new ones share one line. Reasons idle for an
 * interval are forgotten (one O(256) pass at most once per interval), each with a line for its
 * count not yet written, so a count is never lost and the table does not stay full.
 */
export function logRefusal(log: Logger, reason: string, fields: Record<string, unknown>, message: string, level: 'info' | 'warn' | 'error' = 'info'): boolean {
  const state = refusalState(log);
  const now = state.now();
  if (state.intervalMs <= 0) {
    log[level]({ refusal: reason, ...fields }, message);
    return true;
  }
  if (now - state.swept >= state.intervalMs) forgetIdle(log, state, now, reason);
  let key = reason;
  if (!state.reasons.has(key) && state.reasons.size >= MAX_REFUSAL_REASONS) key = OTHER_REASONS;
  const seen = state.reasons.get(key);
  if (seen !== undefined && now - seen.last < state.intervalMs) {
    seen.suppressed++;
    return false;
  }
  const suppressed = seen?.suppressed ?? 0;
  state.reasons.set(key, { last: now, suppressed: 0 });
  const tail = suppressed > 0 ? ` (${suppressed} more like this in the last ${Math.round((now - seen!.last) / 1000)} s not logged)` : '';
  log[level]({ refusal: reason, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, `${message}${tail}`);
  return true;
}

/** The key the reasons past MAX_REFUSAL_REASONS share. */
const OTHER_REASONS = '(other)';

/**
 * Forgets the reasons idle for an interval, writing the count of each one's refusals not logged
 * (except `current`'s: the line about to be written for it carries its count).
 */
function forgetIdle(log: Logger, state: RefusalState, now: number, current: string): void {
  state.swept = now;
  for (const [reason, seen] of state.reasons) {
    if (reason === current || now - seen.last < state.intervalMs) continue;
    state.reasons.delete(reason);
    if (seen.suppressed === 0) continue;
    const what = reason === OTHER_REASONS ? 'refusals of other reasons' : `refusals '${reason}'`;
    log.info(
      { refusal: reason, suppressed: seen.suppressed },
      `${seen.suppressed} more ${what} in the last ${Math.round((now - seen.last) / 1000)} s not logged`,
    );
  }
}
