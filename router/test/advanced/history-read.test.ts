/**
 * Reading event history (#17) end to end, raw frames against a router on an ephemeral port:
 * wamp.topic.history.last/since/after (the spec's, [ap_pubsub_event_history]) with pages of
 * `limits.maxHistoryPage` events and kwargs {more, gap}; history kept per topic; every read
 * authorized by the reader's subscribe permission on what it returns; the publications'
 * authid/authrole lists applied to the reader; session-ID-restricted publications never stored; a
 * topic without history adds nothing to the store. The durability acknowledgement's order is
 * proved against a store whose flush the test controls (test/unit/history-plugin.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode } from '@switchboard/schemas';
import type { RouterConfigFile } from '@switchboard/router';
import { RawPeer, startTestRouter } from '../helpers.js';
import { tick } from './support.js';

type Peer = Awaited<ReturnType<typeof RawPeer.join>>;

interface Stored {
  timestamp: string;
  subscription: number;
  publication: number;
  details: Record<string, unknown>;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
}

interface Read {
  events: Stored[];
  more: boolean;
  gap: boolean;
}

const CONFIG: RouterConfigFile = {
  metrics: { port: 0 },
  listeners: [{ type: 'websocket' }, { type: 'websocket', path: '/trusted', auth: { anonymous: { role: 'trusted' } } }],
  realms: [
    {
      name: 'realm1',
      eventHistory: [
        { topic: 'com.h.', match: 'prefix', limit: 3 },
        { topic: 'com.h.big', limit: 2000 },
        { topic: 'com.pub.', match: 'prefix', limit: 10 },
      ],
      roles: [
        {
          name: 'anonymous',
          permissions: [
            { uri: 'wamp.', match: 'prefix', allow: { call: true } },
            { uri: 'com.pub.open', allow: { subscribe: true } },
          ],
        },
        { name: 'trusted', permissions: [{ uri: '', match: 'prefix', allow: { call: true, register: true, subscribe: true, publish: true } }] },
      ],
    },
  ],
};

async function start() {
  const router = await startTestRouter(CONFIG);
  return {
    router,
    reader: (): Promise<Peer> => RawPeer.join(router.url),
    trusted: (): Promise<Peer> => RawPeer.join(router.addresses[1]!.url),
  };
}

async function answer(peer: Peer, procedure: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<unknown[]> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Call, request, {}, procedure, args, kwargs]);
  const reply = await peer.next((m) => m[1] === request || (m[0] === MessageCode.Error && m[2] === request));
  return reply;
}

async function read(peer: Peer, procedure: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<Read> {
  const reply = await answer(peer, procedure, args, kwargs);
  expect(reply[0], JSON.stringify(reply)).toBe(MessageCode.Result);
  const out = reply[4] as Record<string, unknown>;
  return { events: (reply[3] as unknown[])[0] as Stored[], more: out['more'] as boolean, gap: out['gap'] as boolean };
}

async function refused(peer: Peer, procedure: string, args: unknown[], kwargs: Record<string, unknown> = {}): Promise<unknown> {
  const reply = await answer(peer, procedure, args, kwargs);
  return reply[0] === MessageCode.Error ? reply[4] : `not an ERROR: ${JSON.stringify(reply)}`;
}

/** PUBLISH with acknowledge; the publication ID. */
async function publish(peer: Peer, topic: string, args: unknown[], options: Record<string, unknown> = {}): Promise<number> {
  const request = peer.nextRequest();
  peer.send([MessageCode.Publish, request, { ...options, acknowledge: true }, topic, args]);
  const reply = await peer.next((m) => m[1] === request || (m[0] === MessageCode.Error && m[2] === request));
  expect(reply[0], JSON.stringify(reply)).toBe(MessageCode.Published);
  return reply[2] as number;
}

async function metric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

const labels = (r: Read): unknown[] => r.events.map((e) => e.args?.[0]);

describe('wamp.topic.history.last / since / after', () => {
  it('read one topic oldest first, its last `limit` events kept PER TOPIC, in get_events’ shape', async () => {
    const { trusted } = await start();
    const admin = await trusted();
    const p: number[] = [];
    for (const label of ['a', 'b', 'c', 'd']) {
      await tick();
      p.push(await publish(admin, 'com.h.t', [label]));
    }
    // Another topic of the same rule does not take com.h.t's places (the limit was per subscription before #17).
    for (const label of ['w', 'x', 'y', 'z']) await publish(admin, 'com.h.u', [label]);
    const last = await read(admin, 'wamp.topic.history.last', ['com.h.t', 2]);
    expect(labels(last)).toEqual(['c', 'd']);
    expect(last).toMatchObject({ more: true, gap: false });
    const rule = ((await answer(admin, 'wamp.subscription.lookup', ['com.h.', { match: 'prefix' }]))[3] as number[])[0];
    expect(last.events[0]).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      subscription: rule,
      publication: p[2],
      details: { topic: 'com.h.t' },
      args: ['c'],
    });
    expect(await read(admin, 'wamp.topic.history.last', ['com.h.t', 10])).toMatchObject({ more: false, gap: false });
    expect(labels(await read(admin, 'wamp.topic.history.last', ['com.h.t', 10]))).toEqual(['b', 'c', 'd']);
    const c = Date.parse(last.events[0]!.timestamp);
    expect(labels(await read(admin, 'wamp.topic.history.since', ['com.h.t', last.events[0]!.timestamp]))).toEqual(['c', 'd']);
    expect(labels(await read(admin, 'wamp.topic.history.since', ['com.h.t', c]))).toEqual(['c', 'd']);
    expect(labels(await read(admin, 'wamp.topic.history.since', ['com.h.t', c + 100_000]))).toEqual([]);
    const after = await read(admin, 'wamp.topic.history.after', ['com.h.t', p[1]]);
    expect(labels(after)).toEqual(['c', 'd']);
    expect(after).toMatchObject({ more: false, gap: false });
    // `a` is no longer kept: what follows it may be incomplete, and the answer says so.
    const gone = await read(admin, 'wamp.topic.history.after', ['com.h.t', p[0]]);
    expect(labels(gone)).toEqual(['b', 'c', 'd']);
    expect(gone.gap).toBe(true);
    // The rest of get_events' filters apply too.
    expect(labels(await read(admin, 'wamp.topic.history.since', ['com.h.t', c - 100_000], { limit: 1 }))).toEqual(['b']);
    expect(labels(await read(admin, 'wamp.topic.history.after', ['com.h.t', p[1]], { reverse: true }))).toEqual(['d', 'c']);
  });

  it('pages: at most maxHistoryPage (1000) events a read, `more` until the last page, paged with after(last publication)', async () => {
    const { trusted } = await start();
    const admin = await trusted();
    for (let n = 0; n < 1004; n++) admin.send([MessageCode.Publish, admin.nextRequest(), {}, 'com.h.big', [n]]);
    await publish(admin, 'com.h.big', [1004]);
    const newest = await read(admin, 'wamp.topic.history.last', ['com.h.big', 5000]);
    expect(newest.events.length).toBe(1000);
    expect(newest.more).toBe(true);
    expect(newest.events.at(-1)?.args).toEqual([1004]);
    expect(newest.events[0]?.args).toEqual([5]);
    // The exact rule (limit 2000) wins over the prefix rule's 3: the largest limit of the rules that match.
    const first = await read(admin, 'wamp.topic.history.since', ['com.h.big', 0]);
    expect(first.events.length).toBe(1000);
    expect(first).toMatchObject({ more: true, gap: false });
    expect(first.events[0]?.args).toEqual([0]);
    // The exact rule's subscription answers for its topic; no pattern topic in details.
    expect(first.events[0]?.details).toEqual({});
    const rest = await read(admin, 'wamp.topic.history.after', ['com.h.big', first.events.at(-1)!.publication]);
    expect(rest.events.map((e) => e.args?.[0])).toEqual([1000, 1001, 1002, 1003, 1004]);
    expect(rest.more).toBe(false);
  });

  it('errors: a topic no rule matches history_unavailable; bad arguments invalid_argument', async () => {
    const { trusted } = await start();
    const admin = await trusted();
    expect(await refused(admin, 'wamp.topic.history.last', ['com.nohist', 1])).toBe('wamp.error.history_unavailable');
    for (const [procedure, args] of [
      ['wamp.topic.history.last', ['com.h.t', 0]],
      ['wamp.topic.history.last', ['com.h.t']],
      ['wamp.topic.history.last', [42, 1]],
      ['wamp.topic.history.since', ['com.h.t', 'yesterday']],
      ['wamp.topic.history.since', ['com.h.t', 1.5]],
      ['wamp.topic.history.after', ['com.h.t', 'x']],
    ] as const) {
      expect({ procedure, args, error: await refused(admin, procedure, [...args]) }).toEqual({ procedure, args, error: ErrorUri.InvalidArgument });
    }
    expect(await refused(admin, 'wamp.topic.history.since', ['com.h.t', 0], { after_publication: 'x' })).toBe(ErrorUri.InvalidArgument);
  });
});

describe('history reads are authorized and filtered like the events themselves', () => {
  it('a role that may call but not subscribe gets not_authorized; a pattern reader gets only the topics it may subscribe to', async () => {
    const { trusted, reader } = await start();
    const admin = await trusted();
    await publish(admin, 'com.h.t', ['secret']);
    await publish(admin, 'com.pub.open', [1]);
    await publish(admin, 'com.pub.closed', [2]);
    await publish(admin, 'com.pub.open', [3]);
    const peer = await reader();
    expect(await refused(peer, 'wamp.topic.history.last', ['com.h.t', 10])).toBe(ErrorUri.NotAuthorized);
    expect(await refused(peer, 'wamp.topic.history.after', ['com.pub.closed', 1])).toBe(ErrorUri.NotAuthorized);
    expect(labels(await read(peer, 'wamp.topic.history.last', ['com.pub.open', 10]))).toEqual([1, 3]);
    // By the pattern rule's subscription ID: only the topics this reader may subscribe to.
    const rule = ((await answer(admin, 'wamp.subscription.lookup', ['com.pub.', { match: 'prefix' }]))[3] as number[])[0];
    const theirs = (await answer(peer, 'wamp.subscription.get_events', [rule]))[3] as Stored[][];
    expect(theirs[0]!.map((e) => e.args?.[0])).toEqual([1, 3]);
    const all = (await answer(admin, 'wamp.subscription.get_events', [rule]))[3] as Stored[][];
    expect(all[0]!.map((e) => e.args?.[0])).toEqual([1, 2, 3]);
  });

  it('authid/authrole lists are applied to the reader; publications restricted to session IDs are never stored', async () => {
    const { trusted, reader } = await start();
    // Each listener numbers its anonymous authids: a first trusted session takes anonymous-1, so the admin's differs from the reader's.
    await trusted();
    const admin = await trusted();
    const peer = await reader();
    expect(admin.welcome[2]).not.toMatchObject({ authid: (peer.welcome[2] as Record<string, unknown>)['authid'] });
    await publish(admin, 'com.pub.open', ['for all']);
    await publish(admin, 'com.pub.open', ['trusted only'], { eligible_authrole: ['trusted'] });
    await publish(admin, 'com.pub.open', ['not trusted'], { exclude_authrole: ['trusted'] });
    await publish(admin, 'com.pub.open', ['not this reader'], { exclude_authid: [String((peer.welcome[2] as Record<string, unknown>)['authid'])] });
    await publish(admin, 'com.pub.open', ['excluded a session'], { exclude: [admin.session] });
    await publish(admin, 'com.pub.open', ['one session'], { eligible: [peer.session] });
    expect(labels(await read(peer, 'wamp.topic.history.last', ['com.pub.open', 10]))).toEqual(['for all', 'not trusted']);
    expect(labels(await read(admin, 'wamp.topic.history.last', ['com.pub.open', 10]))).toEqual(['for all', 'trusted only', 'not this reader']);
  });
});

describe('what history costs', () => {
  it('a topic without history adds nothing to the store; the gauges count what a realm keeps', async () => {
    const { router, trusted } = await start();
    const admin = await trusted();
    const url = router.metricsUrl!;
    for (let n = 0; n < 20; n++) await publish(admin, 'com.nohist', [n]);
    expect(await metric(url, 'switchboard_history_events', '{realm="realm1"}')).toBe(0);
    expect(await metric(url, 'switchboard_history_bytes', '{realm="realm1"}')).toBe(0);
    for (let n = 0; n < 5; n++) await publish(admin, 'com.h.t', [n]);
    expect(await metric(url, 'switchboard_history_events', '{realm="realm1"}')).toBe(3);
    expect(await metric(url, 'switchboard_history_bytes', '{realm="realm1"}')).toBeGreaterThan(0);
    expect(await metric(url, 'switchboard_history_expired_total', '{reason="count"}')).toBe(2);
    expect(await metric(url, 'switchboard_history_write_failures_total')).toBe(0);
    // The memory engine writes no batches; a durable engine reports each through onBatch (RouterStats.historyBatch).
    expect(await metric(url, 'switchboard_history_write_seconds_count')).toBe(0);
    router.stats.historyBatch(0.002);
    expect(await metric(url, 'switchboard_history_write_seconds_count')).toBe(1);
    expect(await metric(url, 'switchboard_history_write_seconds_bucket', '{le="0.0025"}')).toBe(1);
  });
});
