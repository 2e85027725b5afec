/**
 * The adversarial review's findings on the history plugin (#17, i17-review), fixed: pages bounded
 * in bytes (limits.maxHistoryPageBytes, F11) for wamp.topic.history.*, get_events and the
 * SUBSCRIBE catch-up; `more` counted on what the reader may read; get_events asking the gate about
 * a bounded number of topics; durability "ack" never acknowledging what the store will not keep
 * (F9). Raw frames against a router on an ephemeral port, the real engines. (F10, retained
 * events persisted as the broker keeps them, is proved on the plugin in unit/history-plugin.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { startTestRouter } from '../helpers.js';
import { Raw, asDict } from './support.js';

interface Stored {
  publication: number;
  args?: unknown[];
  details: Record<string, unknown>;
}

/** A RESULT's events and kwargs. */
function resultOf(reply: unknown[]): { events: Stored[]; kwargs: Record<string, unknown> } {
  expect(reply[0], JSON.stringify(reply).slice(0, 300)).toBe(MessageCode.Result);
  return { events: (reply[3] as unknown[])[0] as Stored[], kwargs: (reply[4] ?? {}) as Record<string, unknown> };
}

/** Events of 1000 characters, four of which (as the realm estimates them) pass 4096 bytes. */
const KB = 'x'.repeat(1000);

describe('F11: a history page is bounded in bytes (limits.maxHistoryPageBytes)', () => {
  it('one wamp.topic.history.last of 40 MiB of history answers at most 4 MiB (the default), the newest, with more: true', async () => {
    const router = await startTestRouter({ realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.big.t', limit: 100 }] }] });
    const [publisher, reader] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const mib = 'x'.repeat(1024 * 1024);
    const published: number[] = [];
    for (let i = 0; i < 40; i++) published.push(await publisher.publish('com.big.t', [i, mib]));
    const request = reader.call('wamp.topic.history.last', ['com.big.t', 100]);
    const reply = await reader.next(30_000);
    expect(reply[1]).toBe(request);
    expect(JSON.stringify(reply).length).toBeLessThanOrEqual(4 * 1024 * 1024);
    const { events, kwargs } = resultOf(reply);
    // Three events of 1 MiB and their estimate's overhead fit in 4 MiB: the newest three, oldest first.
    expect(events.map((e) => e.publication)).toEqual(published.slice(-3));
    expect(kwargs).toEqual({ more: true, gap: false });
  }, 60_000);

  it('since/after stop at the bytes and page on with after(last publication); an event larger than the page comes alone', async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.p.t', limit: 100 }], limits: { maxHistoryPageBytes: 4096 } }],
    });
    const [publisher, reader] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const published: number[] = [];
    for (let i = 0; i < 7; i++) published.push(await publisher.publish('com.p.t', [i, KB]));
    published.push(await publisher.publish('com.p.t', [7, 'y'.repeat(10_000)]));
    const pages: number[][] = [];
    let page = resultOf(await reader.callResult('wamp.topic.history.since', ['com.p.t', 0]));
    for (;;) {
      pages.push(page.events.map((e) => e.publication));
      if (page.kwargs['more'] !== true) break;
      page = resultOf(await reader.callResult('wamp.topic.history.after', ['com.p.t', page.events.at(-1)!.publication]));
    }
    expect(pages).toEqual([published.slice(0, 3), published.slice(3, 6), [published[6]], [published[7]]]);
  });

  it('get_events (the list only) is cut the same way', async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.p.', match: 'prefix', limit: 100 }], limits: { maxHistoryPageBytes: 4096 } }],
    });
    const [publisher, reader] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const published: number[] = [];
    for (let i = 0; i < 6; i++) published.push(await publisher.publish(`com.p.t${i % 2}`, [i, KB]));
    const subscription = await reader.subscribe('com.p.', { match: 'prefix' });
    const oldest = (await reader.meta('wamp.subscription.get_events', [subscription, 100])) as Stored[];
    expect(oldest.map((e) => e.publication)).toEqual(published.slice(0, 3));
    const newest = (await reader.meta('wamp.subscription.get_events', [subscription], { reverse: true })) as Stored[];
    expect(newest.map((e) => e.publication)).toEqual(published.slice(3).reverse());
  });

  it('a SUBSCRIBE catch-up replays the newest events that fit: {last: n} without a gap, {after} with history_gap', async () => {
    const router = await startTestRouter({
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.p.t', limit: 100 }], limits: { maxHistoryPageBytes: 4096 } }],
    });
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    const published: number[] = [];
    for (let i = 0; i < 8; i++) published.push(await publisher.publish('com.p.t', [i, KB]));
    const replay = async (history: Record<string, unknown>): Promise<{ publications: number[]; gap: boolean }> => {
      const request = subscriber.nextRequest();
      subscriber.send([MessageCode.Subscribe, request, { history }, 'com.p.t']);
      const subscribed = await subscriber.expect(MessageCode.Subscribed);
      expect(subscribed[1]).toBe(request);
      const marker = await publisher.publish('com.p.t', ['live']);
      const publications: number[] = [];
      let gap = false;
      for (;;) {
        const event = await subscriber.expect(MessageCode.Event);
        if (event[2] === marker) break;
        if (asDict(event[3])['history_gap'] === true) gap = true;
        publications.push(event[2] as number);
      }
      await subscriber.unsubscribe(subscribed[2] as number);
      published.push(marker);
      return { publications, gap };
    };
    expect(await replay({ last: 100 })).toEqual({ publications: published.slice(5, 8), gap: false });
    // After the first: seven events and the first marker follow it; the newest three and the marker fit, the rest is missed.
    expect(await replay({ after: published[0] })).toEqual({ publications: published.slice(5, 9), gap: true });
  });
});

describe('reads count what the reader may read', () => {
  const config = {
    listeners: [{ type: 'websocket' as const }, { type: 'websocket' as const, path: '/trusted', auth: { anonymous: { role: 'trusted' } } }],
    realms: [
      {
        name: 'realm1',
        eventHistory: [{ topic: 'com.r.', match: 'prefix' as const, limit: 100 }],
        roles: [
          {
            name: 'anonymous',
            permissions: [
              { uri: 'wamp.', match: 'prefix' as const, allow: { call: true } },
              { uri: 'com.r.', match: 'prefix' as const, allow: { subscribe: true } },
              { uri: 'com.r.open', allow: { subscribe: true } },
            ],
          },
          { name: 'trusted', permissions: [{ uri: '', match: 'prefix' as const, allow: { call: true, subscribe: true, publish: true } }] },
        ],
      },
    ],
  };

  it('last(n) returns the newest n the reader may read, and more: false when only restricted events are older', async () => {
    const router = await startTestRouter(config);
    const [publisher, reader] = await Promise.all([Raw.join(router.addresses[1]!.url), Raw.join(router.url)]);
    const open: number[] = [];
    for (let i = 0; i < 3; i++) open.push(await publisher.publish('com.r.t', [i]));
    // Newer events the anonymous reader may not read (another authrole only).
    for (let i = 0; i < 5; i++) await publisher.publish('com.r.t', ['secret', i], {}, { eligible_authrole: ['trusted'] });
    const last = resultOf(await reader.callResult('wamp.topic.history.last', ['com.r.t', 2]));
    expect(last.events.map((e) => e.publication)).toEqual(open.slice(1));
    expect(last.kwargs).toEqual({ more: true, gap: false });
    const all = resultOf(await reader.callResult('wamp.topic.history.last', ['com.r.t', 3]));
    expect(all.events.map((e) => e.publication)).toEqual(open);
    expect(all.kwargs).toEqual({ more: false, gap: false });
    const since = resultOf(await reader.callResult('wamp.topic.history.since', ['com.r.t', 0], { limit: 3 }));
    expect(since.kwargs).toEqual({ more: false, gap: false });
  });
});

describe('get_events on a pattern rule for a caller without permission on the pattern', () => {
  const config = (topics: number) => ({
    listeners: [{ type: 'websocket' as const }, { type: 'websocket' as const, path: '/trusted', auth: { anonymous: { role: 'trusted' } } }],
    realms: [
      {
        name: 'realm1',
        eventHistory: [{ topic: 'com.g.', match: 'prefix' as const, limit: 100 }],
        roles: [
          {
            name: 'anonymous',
            permissions: [
              { uri: 'wamp.', match: 'prefix' as const, allow: { call: true } },
              { uri: 'com.g.t0', allow: { subscribe: true, publish: true } },
              // Every topic may be published to, none but com.g.t0 read.
              ...Array.from({ length: topics - 1 }, (_, i) => ({ uri: `com.g.t${i + 1}`, allow: { publish: true } })),
            ],
          },
          { name: 'trusted', permissions: [{ uri: '', match: 'prefix' as const, allow: { call: true, subscribe: true } }] },
        ],
      },
    ],
  });

  it('asks the gate per topic up to 64 topics (and returns what it may read), refuses past it with a clear ERROR', async () => {
    const router = await startTestRouter(config(70));
    const peer = await Raw.join(router.url);
    for (let i = 0; i < 64; i++) await peer.publish(`com.g.t${i}`, [i]);
    // The rule's subscription ID, learned by a session that may know it.
    const trusted = await Raw.join(router.addresses[1]!.url);
    const id = (await trusted.meta('wamp.subscription.lookup', ['com.g.', { match: 'prefix' }])) as number;
    const readable = (await peer.meta('wamp.subscription.get_events', [id, 100])) as Stored[];
    expect(readable.map((e) => e.args?.[0])).toEqual([0]);
    for (let i = 64; i < 70; i++) await peer.publish(`com.g.t${i}`, [i]);
    const refused = await peer.callError('wamp.subscription.get_events', [id, 100]);
    expect(refused[4]).toBe('switchboard.error.limit_exceeded');
    expect(refused[6]).toEqual({ limit: 'maxHistoryReadTopics', value: 64 });
    expect(String((refused[5] as unknown[])[0])).toMatch(/more than 64 topics.*keyword argument topic/);
    // One topic at a time still reads.
    const one = (await peer.meta('wamp.subscription.get_events', [id, 100], { topic: 'com.g.t0' })) as Stored[];
    expect(one.map((e) => e.args?.[0])).toEqual([0]);
  });
});

describe('F9: durability "ack" acknowledges only what the store will keep', () => {
  it("with the SQLite store too (the review's case): ERROR, and nothing stored", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-history-review-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const router = await startTestRouter({
      store: { type: 'sqlite', path: join(dir, 'h.db'), durability: 'ack' },
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.s.t', limit: 10 }], limits: { maxHistoryBytes: 4096 } }],
    });
    const publisher = await Raw.join(router.url);
    const request = publisher.nextRequest();
    publisher.send([MessageCode.Publish, request, { acknowledge: true }, 'com.s.t', ['x'.repeat(8192)]]);
    const reply = await publisher.next();
    expect(reply.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Publish, request, {}, 'switchboard.error.limit_exceeded']);
    expect(reply[6]).toEqual({ limit: 'maxHistoryBytes', value: 4096 });
    expect(await publisher.meta('wamp.topic.history.last', ['com.s.t', 10])).toEqual([]);
  });

  it('an event larger than maxHistoryBytes gets ERROR limit_exceeded {limit: maxHistoryBytes, value}, is delivered, and is counted', async () => {
    const router = await startTestRouter({
      metrics: { port: 0 },
      store: { type: 'memory', durability: 'ack' },
      realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.s.t', limit: 10 }], limits: { maxHistoryBytes: 4096 } }],
    });
    const [publisher, subscriber] = await Promise.all([Raw.join(router.url), Raw.join(router.url)]);
    await subscriber.subscribe('com.s.t');
    const request = publisher.nextRequest();
    publisher.send([MessageCode.Publish, request, { acknowledge: true }, 'com.s.t', ['x'.repeat(8192)]]);
    const reply = await publisher.next();
    expect(reply.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Publish, request, {}, 'switchboard.error.limit_exceeded']);
    expect(reply[6]).toEqual({ limit: 'maxHistoryBytes', value: 4096 });
    // Delivered live all the same, and not stored.
    expect((await subscriber.expect(MessageCode.Event))[4]).toEqual(['x'.repeat(8192)]);
    expect(await publisher.meta('wamp.topic.history.last', ['com.s.t', 10])).toEqual([]);
    // One that fits is acknowledged.
    await publisher.publish('com.s.t', ['small']);
    const metrics = await (await fetch(router.metricsUrl!)).text();
    expect(metrics).toContain('switchboard_limits_exceeded_total{limit="maxHistoryBytes"} 1');
  });
});
