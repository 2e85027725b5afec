/**
 * The storage form of a history event (what the durable engines write: SQLite's `record` column,
 * a JetStream message's data): the schemas' MessagePack codec over the array
 * `[at, publication, topic, details, args|null, kwargs|null, filter|null]`. MessagePack keeps
 * binary (Uint8Array) and integers up to 64 bits as the router holds them, and text (astral
 * characters, NUL) byte for byte, so a stored event replays exactly what was delivered live.
 * A record's size in bytes is its encoded length: what the byte budgets count.
 *
 * Decoding uses the router's frame limits (ROUTER_FRAME_LIMITS): the payload was bounded by the
 * limits of the listener it came in on, so every record the router wrote decodes. A record that
 * does not (a damaged file, another program's message on the stream) is skipped by the reader and
 * counted, never thrown at it: one bad row must not cost a history read.
 */
import type { Dict, Kwargs, PublicationId, WireArgs } from '@switchboard/schemas';
import { ROUTER_FRAME_LIMITS, msgpackCodec } from '@switchboard/schemas';
import type { HistoryEvent, StoredFilter } from './store.js';

const FILTER_KEYS = ['excludeAuthid', 'eligibleAuthid', 'excludeAuthrole', 'eligibleAuthrole'] as const;

/** The filter as [excludeAuthid, eligibleAuthid, excludeAuthrole, eligibleAuthrole] (null: absent), or null when it has none. */
function filterToRecord(filter: StoredFilter): (readonly string[] | null)[] | null {
  if (FILTER_KEYS.every((k) => filter[k] === undefined)) return null;
  return FILTER_KEYS.map((k) => filter[k] ?? null);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === 'string');
}

function filterFromRecord(value: unknown): StoredFilter | undefined {
  if (value === null) return {};
  if (!Array.isArray(value) || value.length !== FILTER_KEYS.length) return undefined;
  const filter: { -readonly [K in keyof StoredFilter]: string[] } = {};
  for (let i = 0; i < FILTER_KEYS.length; i++) {
    const list: unknown = value[i];
    if (list === null) continue;
    if (!isStringList(list)) return undefined;
    filter[FILTER_KEYS[i]!] = list;
  }
  return filter;
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The record of `event`: its stored bytes (their length is what a byte budget counts). */
export function encodeRecord(event: HistoryEvent): Uint8Array {
  return msgpackCodec.encode([
    event.at,
    event.publication,
    event.topic,
    event.details,
    event.args ?? null,
    event.kwargs ?? null,
    filterToRecord(event.filter),
  ]) as Uint8Array;
}

/** The event a record holds; undefined when `bytes` is not a record (the caller skips it and counts it). */
export function decodeRecord(bytes: Uint8Array): HistoryEvent | undefined {
  let value: unknown;
  try {
    value = msgpackCodec.decode(bytes, ROUTER_FRAME_LIMITS);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 7) return undefined;
  const [at, publication, topic, details, args, kwargs, rawFilter] = value as unknown[];
  if (typeof at !== 'number' || typeof publication !== 'number' || typeof topic !== 'string' || !isDict(details)) return undefined;
  if (args !== null && !Array.isArray(args) && !(args instanceof Uint8Array)) return undefined;
  if (kwargs !== null && !isDict(kwargs)) return undefined;
  const filter = filterFromRecord(rawFilter);
  if (filter === undefined) return undefined;
  return {
    at,
    publication: publication as PublicationId,
    topic,
    details,
    args: args === null ? undefined : (args as WireArgs),
    kwargs: kwargs === null ? undefined : (kwargs as Kwargs),
    filter,
  };
}
