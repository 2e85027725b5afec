/**
 * `switchboard history TOPIC`, in-process through the router CLI's main(): reading a running
 * router's history with --url (wamp.topic.history.last / since / after), the output forms, and
 * the usage and configuration errors (exit 2).
 *
 * STAND-IN: until the history plugin's wamp.topic.history.* procedures are merged (meta/history.ts,
 * #17), `historyStandIn` below records the topic's publications and answers those three
 * procedures with the design's shape (args [events], kwargs {more, gap}), two events per page
 * so that paging is exercised. It steps aside when the router already has the procedures; after
 * the merge, delete it and give the realm `limits.maxHistoryPage: 2` instead.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Dict } from '@switchboard/schemas';
import { WampError } from '@switchboard/schemas';
import { Router, silentLogger } from '@switchboard/router';
import type { RealmPlugin, RouterConfigFile } from '@switchboard/router';
import { main } from '../src/cli.js';
import { open } from '../../client/test/helpers.js';
import { within } from './helpers.js';

const TOPIC = 'com.example.history';
const PAGE = 2;

interface Recorded {
  at: number;
  publication: number;
  args: unknown;
  kwargs: unknown;
}

/** See the file comment: a stand-in for the history plugin's topic procedures, removed at merge. */
function historyStandIn(topic: string): RealmPlugin {
  return {
    name: 'history-stand-in',
    install(realm, context) {
      if (realm.routerProcedure('wamp.topic.history.last') !== undefined) return;
      const events: Recorded[] = [];
      context.observe({
        onPublished: (plan, _details, args, kwargs, origin) => {
          if (plan.topic === topic && origin.kind !== 'router') events.push({ at: Date.now(), publication: plan.publication, args, kwargs });
        },
      });
      const answer = (list: Recorded[], more: boolean, gap: boolean): { args: unknown[]; kwargs: Dict } => ({
        args: [
          list.map((e) => ({
            timestamp: new Date(e.at).toISOString(),
            subscription: 1,
            publication: e.publication,
            details: {},
            ...(e.args !== undefined ? { args: e.args } : {}),
            ...(e.kwargs !== undefined ? { kwargs: e.kwargs } : {}),
          })),
        ],
        kwargs: { more, gap },
      });
      const known = (args: unknown[]): void => {
        if (args[0] !== topic) throw new WampError('wamp.error.history_unavailable', [`no history for ${String(args[0])}`]);
      };
      const from = (start: number, gap: boolean): { args: unknown[]; kwargs: Dict } =>
        answer(events.slice(start, start + PAGE), events.length > start + PAGE, gap);
      context.procedure('wamp.topic.history.last', (_caller, args) => {
        known(args);
        // A limit past the page is clamped; `more`: older events than those returned exist.
        const n = Math.min(Number(args[1]), PAGE);
        return answer(events.slice(Math.max(0, events.length - n)), events.length > n, false);
      });
      context.procedure('wamp.topic.history.since', (_caller, args) => {
        known(args);
        const since = typeof args[1] === 'string' ? Date.parse(args[1]) : Number(args[1]);
        const start = events.findIndex((e) => e.at >= since);
        return from(start === -1 ? events.length : start, false);
      });
      context.procedure('wamp.topic.history.after', (_caller, args) => {
        known(args);
        const index = events.findIndex((e) => e.publication === args[1]);
        return from(index + 1, index === -1);
      });
    },
  };
}

async function startRouter(): Promise<Router> {
  const config: RouterConfigFile = {
    shutdownTimeoutMs: 500,
    listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }],
    realms: [{ name: 'realm1', eventHistory: [{ topic: TOPIC, limit: 100 }] }],
  };
  const router = new Router({ config, logger: silentLogger(), plugins: [historyStandIn(TOPIC)] });
  await router.start();
  onTestFinished(() => router.stop());
  return router;
}

async function history(...argv: string[]): Promise<{ code: number; out: string; err: string; lines: string[] }> {
  let out = '';
  let err = '';
  const code = await within(
    main(['history', ...argv], { out: (t) => (out += t), err: (t) => (err += t), env: {} }),
    15_000,
    `switchboard history ${argv.join(' ')}`,
  );
  return { code, out, err, lines: out.split('\n').filter((l) => l !== '') };
}

/** Publishes `payloads` in order (acknowledged), msgpack so that bytes and 64-bit integers travel exactly. */
async function publishAll(url: string, payloads: { args: unknown[]; kwargs?: Dict }[]): Promise<number[]> {
  const session = await open(url, 'msgpack');
  const ids: number[] = [];
  for (const p of payloads) ids.push(Number(await session.publish(TOPIC, p.args, p.kwargs ?? {}, { acknowledge: true })));
  return ids;
}

describe('switchboard history --url (a running router)', () => {
  it('prints the last N events oldest first, one line each: time, publication, topic, args, kwargs', async () => {
    const router = await startRouter();
    const ids = await publishAll(router.url, [{ args: ['one'] }, { args: [2], kwargs: { k: 'two' } }, { args: ['three'] }]);
    const { code, lines, err } = await history(TOPIC, '--last', '2', '--url', router.url);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(lines).toHaveLength(2);
    const fields = lines.map((l) => l.split('  '));
    expect(fields[0]![1]).toBe(String(ids[1]));
    expect(fields[0]![2]).toBe(TOPIC);
    expect(fields[0]![3]).toBe('[2] {"k":"two"}');
    expect(fields[1]![1]).toBe(String(ids[2]));
    expect(fields[1]![3]).toBe('["three"] {}');
    expect(Number.isNaN(Date.parse(fields[0]![0]!))).toBe(false);
  });

  it('--json: one object per line, binary as {"$bytes"}; the text form shows binary alike', async () => {
    const router = await startRouter();
    const [id] = await publishAll(router.url, [{ args: [new Uint8Array([1, 2, 255]), 7], kwargs: { text: 'grüße ✓' } }]);
    const json = await history(TOPIC, '--json', '--serializer', 'msgpack', '--url', router.url);
    expect(json.code).toBe(0);
    expect(json.lines).toHaveLength(1);
    const event = JSON.parse(json.lines[0]!) as Dict;
    expect(event).toEqual({
      timestamp: expect.any(String),
      publication: id,
      topic: TOPIC,
      details: {},
      args: [{ $bytes: 'AQL/' }, 7],
      kwargs: { text: 'grüße ✓' },
    });
    // JSON subscribers get binary too (the serializer's own form, decoded by the client).
    const text = await history(TOPIC, '--url', router.url);
    expect(text.lines[0]!.split('  ')[3]).toBe('[{"$bytes":"AQL/"},7] {"text":"grüße ✓"}');
  });

  it('--last past the page: the page, and a note on stderr', async () => {
    const router = await startRouter();
    const ids = await publishAll(
      router.url,
      [1, 2, 3].map((n) => ({ args: [n] })),
    );
    const { code, lines, err } = await history(TOPIC, '--last', '50', '--url', router.url);
    expect(code).toBe(0);
    expect(lines.map((l) => l.split('  ')[1])).toEqual(ids.slice(1).map(String));
    expect(err).toContain('--last asked for more events than one read returns');
  });

  it('--after follows the pages to the newest event; a publication no longer stored is reported as a gap', async () => {
    const router = await startRouter();
    const ids = await publishAll(
      router.url,
      [1, 2, 3, 4, 5].map((n) => ({ args: [n] })),
    );
    const after = await history(TOPIC, '--after', String(ids[0]), '--url', router.url);
    expect(after.code).toBe(0);
    expect(after.err).toBe('');
    // Four events over two pages of two.
    expect(after.lines.map((l) => l.split('  ')[1])).toEqual(ids.slice(1).map(String));
    const gone = await history(TOPIC, '--after', '1', '--url', router.url);
    expect(gone.code).toBe(0);
    expect(gone.err).toContain('publication 1 is no longer stored');
    expect(gone.lines).toHaveLength(5);
  });

  it('--since takes RFC 3339 or ms since the epoch and pages through', async () => {
    const router = await startRouter();
    const before = Date.now();
    await publishAll(
      router.url,
      [1, 2, 3].map((n) => ({ args: [n] })),
    );
    const iso = await history(TOPIC, '--since', new Date(before - 1000).toISOString(), '--url', router.url);
    expect(iso.code).toBe(0);
    expect(iso.lines.map((l) => l.split('  ')[3])).toEqual(['[1] {}', '[2] {}', '[3] {}']);
    const future = await history(TOPIC, '--since', String(Date.now() + 3_600_000), '--url', router.url);
    expect(future.code).toBe(0);
    expect(future.lines).toEqual([]);
    expect(future.err).toContain('no stored events');
  });

  it('a topic without history: the router error, exit 1', async () => {
    const router = await startRouter();
    const { code, err } = await history('com.example.other', '--url', router.url);
    expect(code).toBe(1);
    expect(err).toContain('wamp.error.history_unavailable');
  });

  it('an unreachable router: exit 1 with a hint', async () => {
    const { code, err } = await history(TOPIC, '--url', 'ws://127.0.0.1:1/ws');
    expect(code).toBe(1);
    expect(err).toContain('hint:');
  });
});

describe('switchboard history: usage and configuration errors (exit 2)', () => {
  it.each([
    [[], 'needs a TOPIC'],
    [[TOPIC, 'other'], 'takes one TOPIC'],
    [[TOPIC, '--last', '0'], '--last: expected 1 to 100000'],
    [[TOPIC, '--last', 'ten'], '--last: expected a positive integer'],
    [[TOPIC, '--last', '2', '--after', '5'], 'give one of --last, --since, --after'],
    [[TOPIC, '--since', 'yesterday'], '--since: expected an RFC 3339 time'],
    [[TOPIC, '--after', '-3'], '--after'],
    [[TOPIC, '--after', '9007199254740993'], '--after: expected a publication ID'],
    [[TOPIC, '--bogus'], "Unknown option '--bogus'"],
    [[TOPIC, '--serializer', 'xml'], '--serializer: expected json, msgpack or cbor'],
  ])('%j', async (argv, message) => {
    const { code, err, out } = await history(...argv);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(message);
    expect(err).toContain("Run 'switchboard history --help'");
  });

  it('--help prints the synopsis and both ways of reading', async () => {
    const { code, out } = await history('--help');
    expect(code).toBe(0);
    expect(out).toContain('Usage: switchboard history TOPIC');
    expect(out).toContain('--url URL');
    expect(out).toContain('--config FILE');
    let top = '';
    expect(await main(['--help'], { out: (t) => (top += t), err: () => {} })).toBe(0);
    expect(top).toContain('switchboard history TOPIC');
  });

  describe('with --config', () => {
    const configFile = (config: RouterConfigFile): string => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-history-'));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify(config));
      return path;
    };

    it('a memory store (the default) without --url: says to use --url', async () => {
      const path = configFile({ realms: [{ name: 'realm1', eventHistory: [{ topic: TOPIC }] }] });
      const { code, err } = await history(TOPIC, '--config', path);
      expect(code).toBe(2);
      expect(err).toContain('only the running router can read: give --url');
    });

    it('an unknown realm: names the realms the file has', async () => {
      const path = configFile({ realms: [{ name: 'a' }, { name: 'b' }] });
      const { code, err } = await history(TOPIC, '--config', path, '--realm', 'c');
      expect(code).toBe(2);
      expect(err).toContain("realm 'c' is not in");
      expect(err).toContain('(realms: a, b)');
    });

    it('an invalid config file: its problems, exit 2', async () => {
      const path = configFile({ realms: [{ name: 'realm1', bogus: true }] as unknown as RouterConfigFile['realms'] });
      const { code, err } = await history(TOPIC, '--config', path);
      expect(code).toBe(2);
      expect(err).toContain('bogus');
    });
  });
});
