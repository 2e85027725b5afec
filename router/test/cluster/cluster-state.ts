/**
 * What a cluster holds, read from outside for the partition and churn tests: every KV bucket's
 * live keys and records (over a NATS connection of the test's own), and what each node answers
 * through the meta API — so that a test compares both with the sessions that really exist.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { onTestFinished } from 'vitest';
import type { Session } from '@switchboard/client';
import { liveEntries } from '../../src/cluster/link.js';

export const BUCKETS = ['sessions', 'registrations', 'subscriptions', 'testaments', 'resumable'] as const;
export type BucketKind = (typeof BUCKETS)[number];

/** A registration record as the bucket holds it (cluster/stand-ins.ts), as far as the tests read it. */
export interface CalleeEntry {
  node: string;
  inc: number;
  session: number;
}

export interface KvState {
  /** Per bucket, its live keys and their records (JSON decoded where JSON). */
  readonly buckets: Record<BucketKind, Map<string, unknown>>;
  /** Session IDs in the sessions bucket (every realm). */
  sessionIds(): number[];
  /** Every callee of every registration key, with its key. */
  callees(): (CalleeEntry & { key: string })[];
  /** Node and subscriber IDs of every subscription record. */
  subscriptions(): { key: string; node: string; subscribers: number[] }[];
}

/** A NATS connection for reading the cluster's buckets (prefix `sb`, the default), closed when the test finishes. */
export async function kvReader(natsUrl: string, prefix = 'sb'): Promise<() => Promise<KvState>> {
  const nc: NatsConnection = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  onTestFinished(() => nc.close());
  const kvm = new Kvm(nc);
  const decoder = new TextDecoder();
  return async () => {
    const buckets = {} as Record<BucketKind, Map<string, unknown>>;
    for (const kind of BUCKETS) {
      const kv = await kvm.open(`${prefix}-${kind}`);
      const map = new Map<string, unknown>();
      // As a purge reads them. A listing can hang when keys are deleted while it runs (the NATS
      // client waits for more): given up after 5 s, so that waitFor reads again.
      for (const entry of await liveEntries(kv, undefined, 5000)) {
        let value: unknown = entry.value;
        try {
          value = JSON.parse(decoder.decode(entry.value));
        } catch {
          // testaments are MessagePack: the key is what the tests compare
        }
        map.set(entry.key, value);
      }
      buckets[kind] = map;
    }
    return {
      buckets,
      sessionIds: () => [...buckets.sessions.keys()].map((key) => Number(key.slice(key.lastIndexOf('.') + 1))).sort((a, b) => a - b),
      callees: () =>
        [...buckets.registrations].flatMap(([key, record]) =>
          ((record as { callees?: CalleeEntry[] }).callees ?? []).map((c) => ({ key, node: c.node, inc: c.inc, session: c.session })),
        ),
      subscriptions: () =>
        [...buckets.subscriptions].map(([key, record]) => {
          const r = record as { node: string; subscribers: number[] };
          return { key, node: r.node, subscribers: [...r.subscribers].sort((a, b) => a - b) };
        }),
    };
  };
}

/** The session IDs one node lists for the whole cluster (wamp.session.list), sorted. */
export async function listedSessions(observer: Session): Promise<number[]> {
  return ((await observer.call('wamp.session.list')) as number[]).slice().sort((a, b) => a - b);
}

/** Polls `check` every 25 ms until it holds, or fails after `ms` naming `what` (and the last failure, if it threw). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last === undefined ? '' : ` (last: ${String(last)})`}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sorted numbers, for set comparisons. */
export const sorted = (ids: Iterable<number | undefined>): number[] => [...ids].filter((id): id is number => id !== undefined).sort((a, b) => a - b);
