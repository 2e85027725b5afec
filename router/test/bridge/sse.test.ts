/**
 * Server-Sent Events, read by a real HTTP client (fetch streaming): events as id/event/data,
 * keep-alive comments, Last-Event-ID resume from event history or the retained event, pattern
 * subscriptions, authorization.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Router, RouterConfigFile } from '@switchboard/router';
import { within } from '../helpers.js';
import { bridgeRouter, httpBase, post, request } from './support.js';

interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** An open event stream: its status, and its messages (and comments) one at a time. */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';

  constructor(
    readonly status: number,
    readonly headers: Headers,
    body: ReadableStream<Uint8Array>,
  ) {
    this.#reader = body.getReader();
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const ac = new AbortController();
    onTestFinished(() => ac.abort());
    const res = await within(fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: ac.signal }), 5000, `GET ${url}`);
    return new SseReader(res.status, res.headers, res.body!);
  }

  async next(ms = 3000): Promise<SseMessage> {
    return within(this.#next(), ms, 'a server-sent event');
  }

  /** The next data-carrying event, skipping comments. */
  async nextEvent(
    ms = 3000,
  ): Promise<SseMessage & { json: { topic: string; args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> } }> {
    for (;;) {
      const m = await this.next(ms);
      if (m.data !== undefined)
        return { ...m, json: JSON.parse(m.data) as { topic: string; args: unknown[]; kwargs: Record<string, unknown>; details: Record<string, unknown> } };
    }
  }

  async #next(): Promise<SseMessage> {
    for (;;) {
      const end = this.#buffer.indexOf('\n\n');
      if (end !== -1) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const m: SseMessage = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) m.comment = line.slice(1).trim();
          else {
            const colon = line.indexOf(':');
            const field = line.slice(0, colon) as 'id' | 'event' | 'data';
            m[field] = line.slice(colon + 1).replace(/^ /, '');
          }
        }
        return m;
      }
      const { value, done } = await this.#reader.read();
      if (done === true) throw new Error('the stream ended');
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }
}

const SSE = { type: 'sse' as const, realm: 'realm1', role: 'anonymous', keepAliveMs: 150 };
const PUBLISH = { type: 'publisher' as const, realm: 'realm1', role: 'anonymous' };

async function publish(r: Router, body: Record<string, unknown>): Promise<number> {
  const res = await post(`${httpBase(r)}/publish`, body);
  expect(res.status).toBe(200);
  return (res.json as { id: number }).id;
}

describe('HTTP bridge Server-Sent Events', () => {
  it('streams events as id / event / data JSON, with keep-alive comments', async () => {
    const r = await bridgeRouter({ '/events': SSE, '/publish': PUBLISH });
    const stream = await SseReader.open(`${httpBase(r)}/events?topic=com.example.live`);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-cache');
    expect((await stream.next()).comment).toMatch(/^subscribed \d+$/);
    const id = await publish(r, { topic: 'com.example.live', args: ['hi'], kwargs: { n: 1 } });
    const event = await stream.nextEvent();
    expect(event.id).toBe(String(id));
    expect(event.event).toBe('com.example.live');
    expect(event.json).toEqual({ topic: 'com.example.live', args: ['hi'], kwargs: { n: 1 }, details: {} });
    expect((await stream.next(2000)).comment).toBe('keep-alive');
  });

  it('prefix subscriptions name each concrete topic; events=message leaves the event line out', async () => {
    const r = await bridgeRouter({ '/events': SSE, '/publish': PUBLISH });
    const stream = await SseReader.open(`${httpBase(r)}/events?topic=com.example.chat.&match=prefix&events=message`);
    await stream.next();
    await publish(r, { topic: 'com.example.chat.room1', args: [1] });
    const event = await stream.nextEvent();
    expect(event.event).toBeUndefined();
    expect(event.json.topic).toBe('com.example.chat.room1');
  });

  it('Last-Event-ID resumes from event history: what was missed, in order', async () => {
    const config: RouterConfigFile = { realms: [{ name: 'realm1', eventHistory: [{ topic: 'com.example.feed', limit: 10 }] }] };
    const r = await bridgeRouter({ '/events': SSE, '/publish': PUBLISH }, config);
    const first = await publish(r, { topic: 'com.example.feed', args: [1] });
    await publish(r, { topic: 'com.example.feed', args: [2] });
    await publish(r, { topic: 'com.example.feed', args: [3] });
    const stream = await SseReader.open(`${httpBase(r)}/events?topic=com.example.feed`, { 'Last-Event-ID': String(first) });
    await stream.next();
    expect((await stream.nextEvent()).json.args).toEqual([2]);
    expect((await stream.nextEvent()).json.args).toEqual([3]);
    await publish(r, { topic: 'com.example.feed', args: [4] });
    expect((await stream.nextEvent()).json.args).toEqual([4]);
  });

  it('Last-Event-ID without history: the retained event, unless it is the one last seen', async () => {
    const r = await bridgeRouter({ '/events': SSE, '/publish': PUBLISH });
    const old = await publish(r, { topic: 'com.example.state', args: ['old'], options: { retain: true } });
    const current = await publish(r, { topic: 'com.example.state', args: ['current'], options: { retain: true } });
    const behind = await SseReader.open(`${httpBase(r)}/events?topic=com.example.state`, { 'Last-Event-ID': String(old) });
    await behind.next();
    const caught = await behind.nextEvent();
    expect(caught.id).toBe(String(current));
    expect(caught.json.details).toMatchObject({ retained: true });
    const upToDate = await SseReader.open(`${httpBase(r)}/events?topic=com.example.state`, { 'Last-Event-ID': String(current) });
    await upToDate.next();
    await publish(r, { topic: 'com.example.state', args: ['newer'] });
    expect((await upToDate.nextEvent()).json.args).toEqual(['newer']);
  });

  it('get_retained=true gives a first connection the retained event', async () => {
    const r = await bridgeRouter({ '/events': SSE, '/publish': PUBLISH });
    await publish(r, { topic: 'com.example.state', args: ['now'], options: { retain: true } });
    const stream = await SseReader.open(`${httpBase(r)}/events?topic=com.example.state&get_retained=true`);
    await stream.next();
    expect((await stream.nextEvent()).json.args).toEqual(['now']);
  });

  it('400 without a topic or with an unknown match; 405 for POST; 403 when the role may not subscribe', async () => {
    const r = await bridgeRouter(
      { '/events': SSE },
      { realms: [{ name: 'realm1', roles: [{ name: 'anonymous', permissions: [{ uri: 'com.example.public', allow: { subscribe: true } }] }] }] },
    );
    expect((await request(`${httpBase(r)}/events`)).status).toBe(400);
    expect((await request(`${httpBase(r)}/events?topic=a.b&match=regex`)).status).toBe(400);
    expect((await request(`${httpBase(r)}/events?topic=a.b`, { method: 'POST' })).status).toBe(405);
    const denied = await request(`${httpBase(r)}/events?topic=com.example.private`);
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ error: 'wamp.error.not_authorized' });
    const allowed = await SseReader.open(`${httpBase(r)}/events?topic=com.example.public`);
    expect(allowed.status).toBe(200);
  });

  it('a bearer token picks the role the stream subscribes as', async () => {
    const config: RouterConfigFile = {
      realms: [
        {
          name: 'realm1',
          roles: [
            { name: 'anonymous', permissions: [{ uri: '', match: 'prefix', allow: { publish: true } }] },
            { name: 'viewer', permissions: [{ uri: 'com.example.', match: 'prefix', allow: { subscribe: true } }] },
          ],
        },
      ],
    };
    const r = await bridgeRouter({ '/events': { ...SSE, tokens: [{ token: 'viewer-token-0123456789', role: 'viewer' }] }, '/publish': PUBLISH }, config);
    expect((await request(`${httpBase(r)}/events?topic=com.example.x`)).status).toBe(401);
    const stream = await SseReader.open(`${httpBase(r)}/events?topic=com.example.x`, { Authorization: 'Bearer viewer-token-0123456789' });
    expect(stream.status).toBe(200);
    await stream.next();
    await publish(r, { topic: 'com.example.x', args: [1] });
    expect((await stream.nextEvent()).json.args).toEqual([1]);
  });

  it('closing the stream ends its WAMP session; stopping the router ends the stream', async () => {
    const r = await bridgeRouter({ '/events': SSE });
    const before = r.realm('realm1')!.sessions.size;
    const stream = await SseReader.open(`${httpBase(r)}/events?topic=com.example.bye`);
    await stream.next();
    expect(r.realm('realm1')!.sessions.size).toBe(before + 1);
    await r.stop();
    await expect(stream.next()).rejects.toThrow(/ended|terminated|aborted/);
  });
});
