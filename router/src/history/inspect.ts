/**
 * `switchboard history TOPIC`: what a topic's event history holds, for an operator. Two ways to
 * read it:
 * - from a running router (`--url`, or no config given): the history procedures
 *   wamp.topic.history.last / since / after, as every WAMP client calls them, authorized like one
 *   (the connection and authentication flags are the client commands', client/src/cli.ts);
 * - from the store of a config file (`--config FILE` whose `store.type` is sqlite or jetstream),
 *   opened read-only through the EventStore interface (store.ts), with no router running. A
 *   memory store lives only inside the router: that case is told to use `--url`.
 * Both print the same lines (or `--json` objects), oldest first. `--since` and `--after` follow
 * the pages to the newest event; `--last N` is one read.
 */
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { CONNECT_FLAGS, UsageError, connectFailure, connectTarget, connectTo, parseArgsMessage } from '@switchboard/client/cli';
import type { ConnectTarget } from '@switchboard/client/cli';
import type { Session } from '@switchboard/client';
import type { Dict, PublicationId } from '@switchboard/schemas';
import { MAX_ID, WampError, isId } from '@switchboard/schemas';
import { ConfigError, loadConfig, resolveConfig } from '../config/config.js';
import type { RouterConfigFile } from '../config/config.js';
import type { Logger } from '../log.js';
import type { EventStore, HistoryQuery, RealmStore, StoredEvent } from './store.js';

export const HISTORY_SYNOPSIS = 'switchboard history TOPIC [--last N | --since TIME | --after PUBLICATION] [--realm NAME] [--config FILE | --url URL] [--json]';

export const HISTORY_HELP = `Usage: ${HISTORY_SYNOPSIS}

Print the event history a router keeps for TOPIC, oldest first: one line per event
  TIME  PUBLICATION  TOPIC  ARGS KWARGS
(time in RFC 3339, args and kwargs as JSON, binary as {"$bytes":"base64"}), or with --json one JSON
object per line: {"timestamp","publication","topic","details","args","kwargs"} (binary as
{"$bytes":"base64"}, 64-bit integers as strings).

Which events (one of):
  --last N            the last N events (default: the last 10)
  --since TIME        every event at or after TIME: RFC 3339 (2026-01-02T03:04:05Z) or ms since the epoch
  --after PUBLICATION every event after that publication ID (a gap is reported on stderr when it
                      is no longer stored)

Where from:
  --url URL           a running router (default $SWITCHBOARD_URL or ws://127.0.0.1:8080/ws): calls
                      wamp.topic.history.last/since/after, authorized like any subscriber's read.
                      Also --serializer and the authentication flags of the client commands
                      (--authid, --ticket, --secret, --private-key, ...; see 'switchboard --help').
  --config FILE       the router's config (default $SWITCHBOARD_CONFIG): without --url, its store is
                      opened read-only (store.type sqlite: the file; jetstream: the cluster's NATS),
                      no router needs to run. A memory store can only be read through the running
                      router: give --url.
  --realm NAME        the realm (default realm1)
  --json              one JSON object per line
  -h, --help          this text

Exit codes: 0 done; 1 failed (router unreachable, WAMP error, store unreadable); 2 usage or
configuration error (bad flag, unknown realm, a memory store without --url).
`;

/** The events one read asks for. */
export type HistorySelection =
  | { readonly kind: 'last'; readonly n: number }
  | { readonly kind: 'since'; readonly time: number }
  | { readonly kind: 'after'; readonly publication: number };

/** The largest --last: the largest page a realm may be configured to return (limits.maxHistoryPage). */
export const MAX_LAST = 100_000;
/** Events per read when the CLI pages through a store itself (the default limits.maxHistoryPage). */
export const STORE_PAGE = 1000;
const DEFAULT_LAST = 10;

/** One event as printed: from the store (StoredEvent) or from a history procedure's answer. */
export interface PrintedEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly publication: number;
  readonly topic: string;
  readonly details: Dict;
  /** Positional values, or a payload-passthru (ppt) payload as bytes. */
  readonly args: readonly unknown[] | Uint8Array | undefined;
  readonly kwargs: Dict | undefined;
}

/** One page of a read, whichever way it was read. */
export interface PrintedPage {
  readonly events: readonly PrintedEvent[];
  readonly more: boolean;
  readonly gap: boolean;
}

/**
 * Whether a `--last N` read was cut short by the page size: fewer than N came back and the store
 * holds more (`more` alone only says that older events exist).
 */
function clamped(selection: HistorySelection, page: PrintedPage): boolean {
  return selection.kind === 'last' && page.more && page.events.length < selection.n;
}

/** The store block of a config file, as far as this command needs it (config.ts owns its checks). */
export interface StoreBlock {
  readonly type: string;
  readonly path?: string;
  readonly [key: string]: unknown;
}

/** Opens a config's store read-only: router/src/history/open.ts `openStore`. */
export type OpenStore = (
  store: StoreBlock,
  deps: { readonly configDir: string; readonly log: Logger; readonly readonly: true; readonly config: RouterConfigFile },
) => Promise<EventStore>;

export interface HistoryCommandIo {
  out(text: string): void;
  err(text: string): void;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface HistoryCommandDeps {
  /** How a durable store is opened; without it, reading a store file is refused (use --url). */
  readonly openStore?: OpenStore;
}

interface HistoryFlags {
  readonly topic: string;
  readonly selection: HistorySelection;
  readonly realm: string;
  readonly json: boolean;
  readonly config: string | undefined;
  readonly url: boolean;
  readonly target: ConnectTarget;
}

function positiveInteger(flag: string, text: string, max: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag}: expected a positive integer, got '${text}'`);
  const n = Number(text);
  if (n < 1 || n > max) throw new UsageError(`--${flag}: expected 1 to ${max}, got '${text}'`);
  return n;
}

/** --since: RFC 3339, or an integer of milliseconds since the epoch. */
export function parseTime(text: string): number {
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    if (Number.isSafeInteger(ms)) return ms;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`--since: expected an RFC 3339 time (2026-01-02T03:04:05Z) or milliseconds since the epoch, got '${text}'`);
}

/** The flags, checked; throws UsageError. */
export function parseHistoryArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): HistoryFlags | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      ...CONNECT_FLAGS,
      last: { type: 'string' },
      since: { type: 'string' },
      after: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return 'help';
  if (positionals.length === 0) throw new UsageError('needs a TOPIC');
  if (positionals.length > 1) throw new UsageError(`takes one TOPIC, got also '${positionals[1]!}'`);
  const topic = positionals[0]!;
  if (topic === '') throw new UsageError('TOPIC is empty');
  const chosen = (['last', 'since', 'after'] as const).filter((k) => values[k] !== undefined);
  if (chosen.length > 1) throw new UsageError(`give one of --last, --since, --after, not ${chosen.map((k) => `--${k}`).join(' and ')}`);
  let selection: HistorySelection = { kind: 'last', n: DEFAULT_LAST };
  if (values.last !== undefined) selection = { kind: 'last', n: positiveInteger('last', values.last, MAX_LAST) };
  if (values.since !== undefined) selection = { kind: 'since', time: parseTime(values.since) };
  if (values.after !== undefined) {
    // Compared exactly: Number() would round 2^53 + 1 down to a valid ID.
    const exact = /^\d{1,20}$/.test(values.after) ? BigInt(values.after) : 0n;
    const publication = exact <= BigInt(MAX_ID) ? Number(exact) : 0;
    if (!isId(publication)) throw new UsageError(`--after: expected a publication ID (1 to 2^53), got '${values.after}'`);
    selection = { kind: 'after', publication };
  }
  return {
    topic,
    selection,
    realm: values.realm ?? 'realm1',
    json: values.json === true,
    config: values.config ?? (env['SWITCHBOARD_CONFIG'] || undefined),
    url: values.url !== undefined,
    target: connectTarget(values, { ...env }),
  };
}

// ---- printing ----------------------------------------------------------------------------------

/**
 * JSON for a line: binary as {"$bytes": base64}; a bigint as a string (`--json`: every JSON parser
 * reads it) or, in the text form, as its bare digits (exact, where a number would round). Written
 * by hand: JSON.stringify cannot write a bigint, and turns a Buffer (what a store decodes binary
 * to) into {"type":"Buffer"} before a replacer sees it.
 */
export function printJson(value: unknown, bigintAsString: boolean): string {
  if (typeof value === 'bigint') return bigintAsString ? `"${value.toString()}"` : value.toString();
  if (value instanceof Uint8Array) return `{"$bytes":${JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'))}}`;
  if (Array.isArray(value))
    return `[${value.map((v: unknown) => (v === undefined || typeof v === 'function' ? 'null' : printJson(v, bigintAsString))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const fields: string[] = [];
    for (const [k, v] of Object.entries(value))
      if (v !== undefined && typeof v !== 'function') fields.push(`${JSON.stringify(k)}:${printJson(v, bigintAsString)}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** One output line (with its newline). */
export function formatEvent(event: PrintedEvent, json: boolean): string {
  const timestamp = new Date(event.at).toISOString();
  if (json) {
    const record: Dict = { timestamp, publication: event.publication, topic: event.topic, details: event.details };
    if (event.args !== undefined) record['args'] = event.args;
    if (event.kwargs !== undefined) record['kwargs'] = event.kwargs;
    return `${printJson(record, true)}\n`;
  }
  return `${timestamp}  ${event.publication}  ${event.topic}  ${printJson(event.args ?? [], false)} ${printJson(event.kwargs ?? {}, false)}\n`;
}

// ---- reading -----------------------------------------------------------------------------------

/** Reads pages from one source until the selection is complete; `first` and `next` are the source's reads. */
async function readAll(
  selection: HistorySelection,
  first: () => Promise<PrintedPage>,
  next: (last: PrintedEvent) => Promise<PrintedPage>,
  print: (page: PrintedPage, index: number) => void,
): Promise<void> {
  let page = await first();
  print(page, 0);
  if (selection.kind === 'last') return;
  for (let index = 1; page.more && page.events.length > 0; index++) {
    page = await next(page.events[page.events.length - 1]!);
    print(page, index);
  }
}

/** The store's pages for a selection: `--last` one newest-first read turned around, the others forward by seq. */
export async function readStore(
  store: RealmStore,
  topic: string,
  selection: HistorySelection,
  print: (page: PrintedPage, index: number) => void,
): Promise<void> {
  const select = { match: 'exact', topic } as const;
  const asPage = (events: StoredEvent[], more: boolean, gap: boolean): PrintedPage & { last: number } => ({
    events: events.map(printedOf),
    more,
    gap,
    last: events.length > 0 ? events[events.length - 1]!.seq : 0,
  });
  let lastSeq = 0;
  const query = async (q: HistoryQuery): Promise<PrintedPage> => {
    const page = await store.query(q);
    const events = q.reverse === true ? [...page.events].reverse() : page.events;
    const out = asPage(events, page.more, page.gap);
    if (out.events.length > 0) lastSeq = out.last;
    return out;
  };
  const first = (): Promise<PrintedPage> => {
    switch (selection.kind) {
      case 'last':
        return query({ select, reverse: true, limit: selection.n });
      case 'since':
        return query({ select, fromTime: selection.time, limit: STORE_PAGE });
      case 'after':
        return query({ select, afterPublication: selection.publication as PublicationId, limit: STORE_PAGE });
    }
  };
  // Paging by seq, not by publication: exact even when the last publication printed expires meanwhile.
  await readAll(selection, first, () => query({ select, afterSeq: lastSeq, limit: STORE_PAGE }), print);
}

function printedOf(e: StoredEvent): PrintedEvent {
  return { at: e.at, publication: e.publication, topic: e.topic, details: e.details, args: e.args, kwargs: e.kwargs };
}

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** A history procedure's answer (args [events], kwargs {more, gap}), checked: the router is a peer too. */
export function pageOfResult(topic: string, args: readonly unknown[], kwargs: Dict): PrintedPage {
  const list = args[0];
  if (!Array.isArray(list)) throw new Error('the router answered without a list of events');
  const events = list.map((item: unknown, i): PrintedEvent => {
    if (!isDict(item)) throw new Error(`event ${i} of the answer is not an object`);
    const at = typeof item['timestamp'] === 'string' ? Date.parse(item['timestamp']) : Number.NaN;
    if (Number.isNaN(at)) throw new Error(`event ${i} of the answer has no RFC 3339 timestamp`);
    if (!isId(item['publication'])) throw new Error(`event ${i} of the answer has no publication ID`);
    const details = isDict(item['details']) ? item['details'] : {};
    const args = Array.isArray(item['args']) ? (item['args'] as unknown[]) : undefined;
    const kwargs = isDict(item['kwargs']) ? item['kwargs'] : undefined;
    return { at, publication: item['publication'], topic: typeof details['topic'] === 'string' ? details['topic'] : topic, details, args, kwargs };
  });
  return { events, more: kwargs['more'] === true, gap: kwargs['gap'] === true };
}

/** The pages of a running router, through wamp.topic.history.*. */
export async function readRouter(
  session: Session,
  topic: string,
  selection: HistorySelection,
  print: (page: PrintedPage, index: number) => void,
): Promise<void> {
  const call = async (procedure: string, arg: number | string): Promise<PrintedPage> => {
    const result = await session.callResult(procedure as never, [topic, arg]);
    return pageOfResult(topic, result.args, result.kwargs);
  };
  const first = (): Promise<PrintedPage> => {
    switch (selection.kind) {
      case 'last':
        return call('wamp.topic.history.last', selection.n);
      case 'since':
        return call('wamp.topic.history.since', selection.time);
      case 'after':
        return call('wamp.topic.history.after', selection.publication);
    }
  };
  await readAll(selection, first, (last) => call('wamp.topic.history.after', last.publication), print);
}

// ---- the command -------------------------------------------------------------------------------

function usage(io: HistoryCommandIo, message: string): number {
  io.err(`switchboard history: ${message}\nUsage: ${HISTORY_SYNOPSIS}\nRun 'switchboard history --help' for the options.\n`);
  return 2;
}

/** The store block of a config file, if it has one (read as unknown: config.ts types and checks it). */
function storeOf(file: RouterConfigFile): StoreBlock | undefined {
  const raw: unknown = Reflect.get(file, 'store');
  if (!isDict(raw) || typeof raw['type'] !== 'string') return undefined;
  return raw as StoreBlock;
}

/** Runs `switchboard history ARGS`; resolves to the exit code (0 done, 1 failed, 2 usage/config). */
export async function runHistoryCommand(argv: readonly string[], io: HistoryCommandIo, deps: HistoryCommandDeps = {}): Promise<number> {
  let flags: HistoryFlags;
  try {
    const parsed = parseHistoryArgs(argv, io.env ?? process.env);
    if (parsed === 'help') {
      io.out(HISTORY_HELP);
      return 0;
    }
    flags = parsed;
  } catch (err) {
    return usage(io, parseArgsMessage(err));
  }

  let printed = 0;
  const print = (page: PrintedPage, index: number): void => {
    if (page.gap)
      io.err(
        index === 0 && flags.selection.kind === 'after'
          ? `switchboard history: publication ${flags.selection.publication} is no longer stored: events before the first printed may be missing\n`
          : 'switchboard history: events expired while paging: some may be missing\n',
      );
    for (const event of page.events) io.out(formatEvent(event, flags.json));
    printed += page.events.length;
  };
  const done = (more: boolean): number => {
    if (printed === 0) io.err(`switchboard history: no stored events of ${flags.topic} in realm ${flags.realm} match\n`);
    if (more)
      io.err(
        "switchboard history: --last asked for more events than one read returns (the realm's limits.maxHistoryPage): use --after or --since to read on\n",
      );
    return 0;
  };

  if (flags.config === undefined || flags.url) return fromRouter(flags, io, print, done);

  // A config file and no --url: read its store, or say why not.
  let file: RouterConfigFile;
  try {
    file = loadConfig(flags.config, io.env ?? process.env).file;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const realms = resolveConfig(file).realms;
  const realm = realms.find((r) => r.name === flags.realm);
  if (realm === undefined) return usage(io, `realm '${flags.realm}' is not in ${flags.config} (realms: ${realms.map((r) => r.name).join(', ')})`);
  const store = storeOf(file);
  if (store === undefined || store.type === 'memory')
    return usage(
      io,
      `${flags.config} keeps history in memory (store.type ${store === undefined ? 'not set: memory' : 'memory'}), which only the running router can read: give --url ws://HOST:PORT/ws`,
    );
  if (deps.openStore === undefined) {
    io.err(`switchboard history: this build cannot open a ${store.type} store file; read it through the running router with --url\n`);
    return 1;
  }
  let opened: EventStore;
  try {
    opened = await deps.openStore(store, { configDir: dirname(flags.config), log: stderrLogger(), readonly: true, config: file });
  } catch (err) {
    io.err(`switchboard history: cannot open the ${store.type} store of ${flags.config}: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
  let more = false;
  try {
    const realmStore = await opened.realm(realm.name, realm.limits.maxHistoryBytes);
    await readStore(realmStore, flags.topic, flags.selection, (page, index) => {
      more = clamped(flags.selection, page);
      print(page, index);
    });
  } catch (err) {
    io.err(`switchboard history: cannot read the ${store.type} store: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await opened.close().catch(() => {});
  }
  return done(more);
}

async function fromRouter(
  flags: HistoryFlags,
  io: HistoryCommandIo,
  print: (page: PrintedPage, index: number) => void,
  done: (more: boolean) => number,
): Promise<number> {
  let session: Session;
  try {
    session = await connectTo(flags.target);
  } catch (err) {
    io.err(connectFailure('history', err, flags.target));
    return 1;
  }
  let more = false;
  try {
    await readRouter(session, flags.topic, flags.selection, (page, index) => {
      more = clamped(flags.selection, page);
      print(page, index);
    });
    return done(more);
  } catch (err) {
    if (err instanceof WampError) io.err(`switchboard history: ${err.uri} ${printJson(err.args, false)}\n`);
    else io.err(`switchboard history: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await session.leave().catch(() => {});
  }
}

/** Warnings of the store engine on stderr (stdout is the events). */
function stderrLogger(): Logger {
  return pino({ level: 'warn', base: { name: 'switchboard' } }, pino.destination(2));
}
