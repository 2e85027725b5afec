/**
 * What a realm's cluster modules need of their node (node.ts implements it): names, liveness,
 * the KV buckets and NATS subjects. An interface, so that the modules can be tested with a fake
 * node, without NATS; and the bucket helpers they share.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from '../log.js';
import type { RouterStats } from '../stats.js';
import type { ClusterNames } from './names.js';

export interface ClusterBuckets {
  registrations: KV;
  sessions: KV;
  retained: KV;
  subscriptions: KV;
  testaments: KV;
  /** One record per resumable session of the cluster (resume.ts). */
  resumable: KV;
}

/** A NATS subscription, as far as the modules use it. */
export interface Interest {
  unsubscribe(): void;
}

export interface NodeLink {
  /** This node's name, and when it started (a restarted node is a new incarnation). */
  readonly self: string;
  readonly incarnation: number;
  readonly names: ClusterNames;
  readonly log: Logger;
  /** The router's counters (what the cluster drops or refuses is counted there). */
  readonly stats: Pick<RouterStats, 'limitExceeded'>;
  readonly buckets: ClusterBuckets;
  /** Whether entries of `node` (from that incarnation) count. */
  isLive(node: string, incarnation: number): boolean;
  /** Whether a node (any incarnation) is alive for this node. */
  isAlive(node: string): boolean;
  /** Whether the NATS connection is up now (a bucket operation while it is down waits for its timeout). */
  connected(): boolean;
  /**
   * Whether this node's view of the others can be trusted: connected and, since the last
   * reconnect, every node it knew alive before the cut heard again (two heartbeats at the least), or
   * a node timeout passed (a node just back from a partition takes the others for dead until then,
   * and must not act on that).
   */
  settled(): boolean;
  /** A node seen in a bucket before any heartbeat of it: presumed alive for one timeout. */
  presume(node: string, incarnation: number): void;
  /** Publishes to a node's own subject; false when NATS cannot take it. */
  sendToNode(node: string, bytes: Uint8Array): boolean;
  /** Publishes on a subject (`now`: hand it to NATS at once); false (logged, counted) when it cannot. */
  publish(subject: string, bytes: Uint8Array, now?: boolean): boolean;
  /**
   * Publishes an acknowledged publication's event: resolves once NATS confirmed it, rejects with
   * the publisher's refusal (a RefusalError) when it cannot.
   */
  publishConfirmed(subject: string, bytes: Uint8Array): Promise<void>;
  /** The largest message NATS takes in one frame now (the server's max_payload). */
  readonly maxPayload: number;
  subscribe(subject: string, onData: (data: Uint8Array) => void): Interest;
  /** This node's publication counter (receivers drop copies they have seen). */
  nextSeq(): number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** A bucket record as JSON bytes. */
export const json = (value: unknown): Uint8Array => textEncoder.encode(JSON.stringify(value));

/** A bucket record, or undefined when it is not JSON (a record from a foreign writer costs itself). */
export function parseRecord<T>(entry: KvEntry): T | undefined {
  try {
    return JSON.parse(textDecoder.decode(entry.value)) as T;
  } catch {
    return undefined;
  }
}

/** A KV operation lost a compare-and-set race (or the key appeared meanwhile): read again. */
export function isConflict(err: unknown): boolean {
  const text = String((err as Error)?.message ?? err);
  return /wrong last sequence|exists|10071/i.test(text);
}

/** How long a bucket's key listing may take before it is given up (liveEntries). */
export const LIST_TIMEOUT_MS = 10_000;

/**
 * The keys of a bucket under `filter`, or undefined when listing them took over `timeoutMs`: the
 * NATS client's listing can wait for good when keys are deleted while it runs (measured: a listing
 * still open after 30 s).
 */
async function listKeys(kv: KV, filter: string | undefined, timeoutMs: number): Promise<string[] | undefined> {
  const keys: string[] = [];
  const listing = await kv.keys(filter);
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    listing.stop();
  }, timeoutMs);
  try {
    for await (const key of listing) keys.push(key);
  } finally {
    clearTimeout(timer);
  }
  return late ? undefined : keys;
}

/**
 * The live entries of a bucket under `filter` (a key pattern; all keys without one), read from the
 * bucket itself, one key at a time. A purge reads this, not the records a watch delivered: a watch
 * that lags or went quiet (a loaded machine, a stream leader moving) would leave a dead node's
 * entries behind for good.
 */
export async function liveEntries(kv: KV, filter?: string, timeoutMs = LIST_TIMEOUT_MS): Promise<KvEntry[]> {
  const keys = await listKeys(kv, filter, timeoutMs);
  if (keys === undefined) throw new Error(`listing the bucket's keys took over ${timeoutMs} ms`);
  const entries: KvEntry[] = [];
  for (const key of keys) {
    const entry = await kv.get(key);
    if (entry !== null && entry.operation === 'PUT') entries.push(entry);
  }
  return entries;
}

/**
 * Removes from a bucket the live records under `filter` (JSON, with the node and incarnation that
 * wrote them) that `dead` names, each at the revision read (a record rewritten meanwhile, say a
 * session resumed elsewhere, stays); a record that does not parse is left. Returns how many went.
 */
export async function purgeRecords(kv: KV, filter: string, dead: (record: { node: string; inc: number }) => boolean): Promise<number> {
  let removed = 0;
  for (const entry of await liveEntries(kv, filter)) {
    const record = parseRecord<{ node: string; inc: number }>(entry);
    if (typeof record?.node === 'string' && dead(record)) {
      await deleteAt(kv, entry.key, entry.revision);
      removed++;
    }
  }
  return removed;
}

/** Deletes a bucket entry read at `revision`; a newer write meanwhile (the key moved on) keeps it. */
export async function deleteAt(kv: KV, key: string, revision: number): Promise<void> {
  await kv.delete(key, { previousSeq: revision }).catch((err: unknown) => {
    if (!isConflict(err)) throw err;
  });
}

/** Something that stops following a bucket. */
export interface Watch {
  stop(): void;
}

/**
 * Watches the keys under `prefix` of a bucket, applying each entry (a failing one is logged);
 * resolves once the current values are in (or after 3 s: a key deleted between the count and the
 * watch would leave the count unreached).
 */
export async function followBucket(kv: KV, prefix: string, apply: (entry: KvEntry) => void, log: Logger): Promise<Watch> {
  const filter = `${prefix}>`;
  // How many values to wait for (at most 3 s, below). After a listing that hung, until the watch
  // says it has delivered what the bucket held (delta 0), or the 3 s.
  const count = (await listKeys(kv, filter, 3000))?.length ?? Number.POSITIVE_INFINITY;
  const watcher = await kv.watch({ key: filter });
  let seen = 0;
  let done: () => void = () => undefined;
  const loaded = new Promise<void>((resolve) => (done = resolve));
  if (count === 0) done();
  void (async () => {
    for await (const entry of watcher) {
      try {
        apply(entry);
      } catch (err) {
        log.error({ err, key: entry.key }, 'cluster: bucket entry handling failed');
      }
      if (++seen >= count || entry.delta === 0) done();
    }
  })().catch((err: unknown) => log.error({ err }, 'cluster: bucket watch ended'));
  await Promise.race([loaded, new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
  return watcher;
}
