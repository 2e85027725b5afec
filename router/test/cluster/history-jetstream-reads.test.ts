/**
 * The JetStream engine's reads, bounded (review 2, R6): a reverse read with no lower bound
 * fetches about its page from the stream's end, not the whole topic, and a store runs at most
 * maxConcurrentReads reads at once, failing fast past maxQueuedReads waiting ones.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PublicationId } from '@switchboard/schemas';
import { JetStreamStore } from '../../src/history/jetstream.js';
import type { JetStreamStoreOptions } from '../../src/history/jetstream.js';
import type { HistoryEvent } from '../../src/history/store.js';
import { startNats } from '../../../test/support/cluster.js';

async function open(options: Partial<JetStreamStoreOptions> = {}): Promise<{ store: JetStreamStore; nc: NatsConnection }> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url });
  onTestFinished(async () => {
    if (!nc.isClosed()) await nc.close();
  });
  const store = await JetStreamStore.connect(nc, { prefix: 'sbr', ...options });
  onTestFinished(() => store.close());
  return { store, nc };
}

function event(publication: number, topic: string, extra: unknown[] = []): HistoryEvent {
  return { at: Date.now(), publication: publication as PublicationId, topic, details: {}, args: [publication, ...extra], kwargs: undefined, filter: {} };
}

describe('JetStream reads are bounded', () => {
  it('the newest event of a 20 MB topic fetches about one event, and 20 such reads at once all succeed (R6)', async () => {
    const { store, nc } = await open();
    const realm = await store.realm('realm1', 0);
    const big = 'x'.repeat(10_000);
    for (let i = 0; i < 2000; i++) realm.append(event(i + 1, 'com.js.t', [big]), { limit: 100_000, maxAgeMs: 0 });
    await realm.flush();
    const before = nc.stats().inBytes;
    const page = await realm.query({ select: { match: 'exact', topic: 'com.js.t' }, reverse: true, limit: 1 });
    const fetched = nc.stats().inBytes - before;
    expect(page.events.map((e) => e.publication)).toEqual([2000]);
    expect(page.more).toBe(true);
    expect(fetched).toBeLessThan(1_000_000);
    const reads = await Promise.allSettled(
      Array.from({ length: 20 }, () => realm.query({ select: { match: 'exact', topic: 'com.js.t' }, reverse: true, limit: 1 })),
    );
    expect(reads.filter((r) => r.status === 'rejected')).toEqual([]);
  }, 120_000);

  it('last(n) from the end gives what the whole read gives, across interleaved topics and per-topic limits', async () => {
    const { store } = await open();
    const realm = await store.realm('realm1', 0);
    // Topic a is sparse among b's events: its window must double past them.
    let p = 0;
    for (let i = 0; i < 600; i++) {
      realm.append(event(++p, 'com.w.b'), { limit: 1000, maxAgeMs: 0 });
      if (i % 50 === 0) realm.append(event(++p, 'com.w.a'), { limit: 1000, maxAgeMs: 0 });
    }
    realm.append(event(++p, 'com.w.c'), { limit: 3, maxAgeMs: 0 });
    for (let i = 0; i < 5; i++) realm.append(event(++p, 'com.w.c'), { limit: 3, maxAgeMs: 0 });
    await realm.flush();
    const ids = async (q: Parameters<typeof realm.query>[0]): Promise<{ ids: number[]; more: boolean }> => {
      const page = await realm.query(q);
      return { ids: page.events.map((e) => e.publication as number), more: page.more };
    };
    for (const [match, topic, limit] of [
      ['exact', 'com.w.a', 5],
      ['exact', 'com.w.a', 50],
      ['exact', 'com.w.c', 10],
      ['prefix', 'com.w.', 20],
      ['prefix', 'com.w.', 2000],
    ] as const) {
      const select = { match, topic };
      const all = await ids({ select, limit: 100_000 });
      const last = await ids({ select, reverse: true, limit });
      const expected = all.ids.slice(-limit).reverse();
      expect(last, `${match} ${topic} ${limit}`).toEqual({ ids: expected, more: all.ids.length > limit });
    }
  }, 60_000);

  it('a read past maxQueuedReads waiting ones fails at once; the others complete', async () => {
    const { store } = await open({ maxConcurrentReads: 1, maxQueuedReads: 2 });
    const realm = await store.realm('realm1', 0);
    realm.append(event(1, 'com.q.t'), { limit: 10, maxAgeMs: 0 });
    await realm.flush();
    const reads = await Promise.allSettled(Array.from({ length: 4 }, () => realm.query({ select: { match: 'exact', topic: 'com.q.t' }, limit: 10 })));
    expect(reads.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const again = await realm.query({ select: { match: 'exact', topic: 'com.q.t' }, limit: 10 });
    expect(again.events).toHaveLength(1);
  }, 60_000);
});
