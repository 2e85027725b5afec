/**
 * `switchboard history TOPIC`, in-process through the router CLI's main(): reading a running
 * router's history with --url (wamp.topic.history.last / since / after), the output forms, and
 * the usage and configuration errors (exit 2).
 * With a SQLite store: the file read read-only with --config, no router running. The realm's
 * pages are two events (limits.maxHistoryPage) so that paging is exercised.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Dict, PublicationId } from '@switchboard/schemas';
import { Router, silentLogger } from '@switchboard/router';
import type { RouterConfigFile } from '@switchboard/router';
import { SqliteStore } from '../src/history/sqlite.js';
import { main } from '../src/cli.js';
import { open } from '../../client/test/helpers.js';
import { within } from './helpers.js';

const TOPIC = 'com.example.history';

async function startRouter(): Promise<Router> {
  const config: RouterConfigFile = {
    shutdownTimeoutMs: 500,
    listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }],
    realms: [{ name: 'realm1', eventHistory: [{ topic: TOPIC, limit: 100 }], limits: { maxHistoryPage: 2 } }],
  };
  const router = new Router({ config, logger: silentLogger() });
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

describe('switchboard history --config with a sqlite store (read-only, no router)', () => {
  it('prints --last and pages --after from the file; binary and unicode exact; the file stays as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-history-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const store = await SqliteStore.open({ path: join(dir, 'history.db'), expiryIntervalMs: 0 });
    const realm = await store.realm('realm1', 1 << 20);
    for (let i = 1; i <= 5; i++) {
      const event = { at: Date.UTC(2026, 0, 2, 3, 4, 5, i), publication: (100 + i) as PublicationId, topic: TOPIC, details: {}, filter: {} };
      realm.append({ ...event, args: [i, new Uint8Array([i, 255])], kwargs: { text: 'grüße ✓' } }, { limit: 100, maxAgeMs: 0 });
    }
    await store.close();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { type: 'sqlite', path: './history.db' }, realms: [{ name: 'realm1', eventHistory: [{ topic: TOPIC }] }] }));

    const last = await history(TOPIC, '--last', '2', '--config', config);
    expect(last.err).toBe('');
    expect(last.code).toBe(0);
    expect(last.lines).toEqual([
      `2026-01-02T03:04:05.004Z  104  ${TOPIC}  [4,{"$bytes":"BP8="}] {"text":"grüße ✓"}`,
      `2026-01-02T03:04:05.005Z  105  ${TOPIC}  [5,{"$bytes":"Bf8="}] {"text":"grüße ✓"}`,
    ]);
    const after = await history(TOPIC, '--after', '101', '--json', '--config', config);
    expect(after.code).toBe(0);
    expect(after.lines.map((l) => (JSON.parse(l) as Dict)['publication'])).toEqual([102, 103, 104, 105]);
    expect(JSON.parse(after.lines[0]!)).toEqual({
      timestamp: '2026-01-02T03:04:05.002Z',
      publication: 102,
      topic: TOPIC,
      details: {},
      args: [2, { $bytes: 'Av8=' }],
      kwargs: { text: 'grüße ✓' },
    });
    // Read-only: a second read sees the same five.
    expect((await history(TOPIC, '--since', '0', '--config', config)).lines).toHaveLength(5);
  });

  it('a sqlite file that is not there: exit 1, named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-history-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { type: 'sqlite', path: './none.db' } }));
    const { code, err } = await history(TOPIC, '--config', config);
    expect(code).toBe(1);
    expect(err).toContain('cannot open the sqlite store');
  });
});
