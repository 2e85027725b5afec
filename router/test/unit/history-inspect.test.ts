/**
 * The pure parts of `switchboard history` (router/src/history/inspect.ts): the output lines, the
 * check of a router's answer, and the paging over a RealmStore. The store here is a plain array
 * behind the RealmStore interface, standing in for an engine: it pins what the command asks
 * (queries) and does with the answers; the engines have their own conformance suite.
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import { formatEvent, pageOfResult, parseTime, printJson, readStore } from '../../src/history/inspect.js';
import type { PrintedPage } from '../../src/history/inspect.js';
import type { HistoryPage, HistoryQuery, RealmStore, StoredEvent } from '../../src/history/store.js';

const AT = Date.parse('2026-01-02T03:04:05.000Z');

function stored(seq: number, publication = 1000 + seq): StoredEvent {
  return { seq, at: AT + seq, publication: publication as PublicationId, topic: 't', details: {}, args: [seq], kwargs: undefined, filter: {} };
}

/** An array behind RealmStore: exact topic, time and publication bounds, seq paging, reverse. */
function arrayStore(events: StoredEvent[]): RealmStore & { queries: HistoryQuery[] } {
  const queries: HistoryQuery[] = [];
  return {
    queries,
    append: () => 'queued',
    flush: async () => {},
    retain: () => {},
    unretain: () => {},
    retained: async () => [],
    size: { events: events.length, bytes: 0 },
    async query(q): Promise<HistoryPage> {
      queries.push(q);
      let list = events.filter((e) => e.topic === q.select.topic);
      let gap = false;
      if (q.fromTime !== undefined) list = list.filter((e) => e.at >= q.fromTime!);
      if (q.afterSeq !== undefined) list = list.filter((e) => e.seq > q.afterSeq!);
      if (q.afterPublication !== undefined) {
        const i = list.findIndex((e) => e.publication === q.afterPublication);
        gap = i === -1;
        list = list.slice(i + 1);
      }
      if (q.reverse === true) list = [...list].reverse();
      return { events: list.slice(0, q.limit), more: list.length > q.limit, gap };
    },
  };
}

async function pages(store: RealmStore, selection: Parameters<typeof readStore>[2]): Promise<PrintedPage[]> {
  const out: PrintedPage[] = [];
  await readStore(store, 't', selection, (page) => out.push(page));
  return out;
}

describe('printing', () => {
  it('text: time, publication, topic, args, kwargs; binary as {"$bytes"}, a bigint as its exact digits', () => {
    const line = formatEvent(
      { at: AT, publication: 7, topic: 'a.b', details: {}, args: [new Uint8Array([0, 255]), 2n ** 63n - 1n], kwargs: { n: -(2n ** 62n) } },
      false,
    );
    expect(line).toBe('2026-01-02T03:04:05.000Z  7  a.b  [{"$bytes":"AP8="},9223372036854775807] {"n":-4611686018427387904}\n');
  });

  it('text: no args or kwargs print as [] {}; a payload-passthru payload (bytes) as {"$bytes"}', () => {
    expect(formatEvent({ at: AT, publication: 1, topic: 't', details: {}, args: undefined, kwargs: undefined }, false)).toMatch(/ {2}\[\] \{\}\n$/);
    expect(formatEvent({ at: AT, publication: 1, topic: 't', details: { ppt_scheme: 'x' }, args: new Uint8Array([1]), kwargs: undefined }, false)).toMatch(
      / {2}\{"\$bytes":"AQ=="\} \{\}\n$/,
    );
  });

  it('--json: one object, bigints as strings, absent args/kwargs left out; a string that looks like the marker stays a string', () => {
    const line = formatEvent({ at: AT, publication: 7, topic: 't', details: { publisher: 5 }, args: [2n ** 60n, '\u0000bigint:1'], kwargs: undefined }, true);
    expect(line.endsWith('\n')).toBe(true);
    expect(JSON.parse(line)).toEqual({
      timestamp: '2026-01-02T03:04:05.000Z',
      publication: 7,
      topic: 't',
      details: { publisher: 5 },
      args: ['1152921504606846976', '\u0000bigint:1'],
    });
    // In the text form only a real bigint loses its quotes.
    expect(printJson(['\u0000bigint:1', 3n], false)).toBe('["\\u0000bigint:1",3]');
  });

  it('a Buffer (what a store decodes binary to) is bytes too, in both forms; a view prints only its own bytes', () => {
    const buffer = Buffer.from([1, 2, 255]);
    expect(printJson([buffer], true)).toBe('[{"$bytes":"AQL/"}]');
    expect(printJson({ b: buffer }, false)).toBe('{"b":{"$bytes":"AQL/"}}');
    const view = new Uint8Array([9, 9, 1, 2, 255, 9]).subarray(2, 5);
    expect(printJson(view, true)).toBe('{"$bytes":"AQL/"}');
  });
});

describe('--since', () => {
  it('RFC 3339 or ms since the epoch; anything else is a usage error', () => {
    expect(parseTime('2026-01-02T03:04:05Z')).toBe(AT);
    expect(parseTime(String(AT))).toBe(AT);
    expect(() => parseTime('yesterday')).toThrow('--since');
    expect(() => parseTime('2026-13-45T99:00:00Z')).toThrow('--since');
    expect(() => parseTime('-5')).toThrow('--since');
  });
});

describe("a router's answer is checked", () => {
  it('events, more and gap; details.topic names the topic of a pattern rule', () => {
    const page = pageOfResult(
      't',
      [[{ timestamp: '2026-01-02T03:04:05Z', subscription: 1, publication: 9, details: { topic: 't.x' }, args: [1], kwargs: { a: 1 } }]],
      {
        more: true,
        gap: false,
      },
    );
    expect(page).toEqual({
      events: [{ at: AT, publication: 9, topic: 't.x', details: { topic: 't.x' }, args: [1], kwargs: { a: 1 } }],
      more: true,
      gap: false,
    });
  });

  it.each([
    [[], 'without a list'],
    [['x'], 'without a list'],
    [[[5]], 'not an object'],
    [[[{ publication: 1 }]], 'no RFC 3339 timestamp'],
    [[[{ timestamp: 'soon', publication: 1 }]], 'no RFC 3339 timestamp'],
    [[[{ timestamp: '2026-01-02T03:04:05Z', publication: -1 }]], 'no publication ID'],
  ])('%j is refused', (args, message) => {
    expect(() => pageOfResult('t', args, {})).toThrow(message);
  });
});

describe('reading a store', () => {
  const events = Array.from({ length: 2500 }, (_, i) => stored(i + 1));

  it('--last N: one newest-first read, printed oldest first', async () => {
    const store = arrayStore(events);
    const [page, ...rest] = await pages(store, { kind: 'last', n: 3 });
    expect(rest).toEqual([]);
    expect(page!.events.map((e) => e.publication)).toEqual([3498, 3499, 3500]);
    expect(store.queries).toEqual([{ select: { match: 'exact', topic: 't' }, reverse: true, limit: 3 }]);
  });

  it('--since: pages of 1000 by seq to the newest event', async () => {
    const store = arrayStore(events);
    const read = await pages(store, { kind: 'since', time: AT + 401 });
    expect(read.map((p) => p.events.length)).toEqual([1000, 1000, 100]);
    expect(read.flatMap((p) => p.events.map((e) => e.publication))).toEqual(events.slice(400).map((e) => e.publication));
    expect(store.queries.slice(1).map((q) => q.afterSeq)).toEqual([1400, 2400]);
  });

  it('--after a publication no longer stored: the gap is on the first page, the read starts at the oldest', async () => {
    const read = await pages(arrayStore(events.slice(0, 5)), { kind: 'after', publication: 1 });
    expect(read).toHaveLength(1);
    expect(read[0]!.gap).toBe(true);
    expect(read[0]!.events).toHaveLength(5);
  });

  it('stops on a page that says more but brings nothing (a store must not loop the command)', async () => {
    const store = arrayStore([]);
    store.query = async () => ({ events: [], more: true, gap: false });
    expect(await pages(store, { kind: 'since', time: 0 })).toHaveLength(1);
  });
});
