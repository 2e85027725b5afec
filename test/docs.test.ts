/**
 * The docs (README.md and docs/) say only what is true, and stay so:
 *
 * - docs/configuration-reference.md is exactly what `npm run docs:config` renders from the JSON
 *   Schema, and every `<!-- figure:NAME -->` (bundle sizes, the /health body) is what the built
 *   product measures now (`npm run docs` rewrites both);
 * - every relative link in the docs, and in the other Markdown files of the repository, reaches
 *   a file that exists and, with `#anchor`, a heading in it;
 * - every ```json block is a config the router's loader accepts, unless marked otherwise on its
 *   fence: `json` alone is a whole config file (Switchboard's or Crossbar's); `json at=/POINTER`
 *   is the value at that JSON pointer of an otherwise empty config (a listener fragment gets
 *   `"type": "websocket"`), `members` added when the block is object members without braces
 *   (`"auth": {…}`); `json example` is JSON that is not a config (it must still parse). `$NAME`
 *   values are set to a stand-in secret;
 * - every ```sh run block runs (bash -e, repository root, node_modules/.bin on PATH) and exits 0;
 *   a ```text output block right after it is what it prints (… matches any text). With
 *   `router=ID` it runs against a router started from the page's ```json id=ID block
 *   (`router=default`: no config, as `npm start`), with `localhost:8080` (and `$WAMP_URL`) pointed
 *   at it; `callee` also registers the first app's `com.example.add` there.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { connect } from '@switchboard/client';
import { ConfigError, loadConfig } from '@switchboard/router';
import type { RouterConfigFile } from '@switchboard/router';
import { renderConfigReference, slug } from '../scripts/docs/config-reference.mjs';
import { bundleSizes, figuresIn, renderBundleSizes, renderHealth } from '../scripts/docs/figures.mjs';
import { startTestRouter, within } from '../router/test/helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCHEMA = 'schemas/schema/router-config.schema.json';

/**
 * Pages written on another branch of the same issue, linked before they land: a link to one is
 * accepted while the file is absent, and checked like any other once it exists.
 */
const PAGES_FROM_OTHER_BRANCHES = new Set(['docs/crossbar.md']);

/** The published docs: README.md and docs/ (not docs/_pending/, drafts waiting to be moved in). */
function docPages(): string[] {
  const docs = readdirSync(join(root, 'docs'), { recursive: true })
    .map(String)
    .filter((p) => p.endsWith('.md') && !p.startsWith('_pending'))
    .map((p) => join('docs', p));
  return ['README.md', ...docs.sort()];
}

/** Every Markdown file whose links are checked: the docs and the other pages of the repository. */
function linkedPages(): string[] {
  const examples = readdirSync(join(root, 'examples'))
    .map((e) => join('examples', e, 'README.md'))
    .filter((p) => existsSync(join(root, p)));
  const others = ['ARCHITECTURE.md', 'SECURITY.md', 'CHANGELOG.md', 'bench/README.md', 'router/dashboard/README.md', 'examples/README.md'];
  return [...docPages(), ...others.filter((p) => existsSync(join(root, p))), ...examples];
}

const read = (page: string): string => readFileSync(join(root, page), 'utf8');

interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  attrs: Map<string, string>;
  text: string;
}

/** The fenced blocks of a page, with their fence's info string split into a language and attributes. */
export function blocksOf(page: string, markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const [lang = '', ...words] = open[3]!.trim().split(/\s+/);
    const attrs = new Map(words.map((w) => [w.split('=')[0]!, w.includes('=') ? w.slice(w.indexOf('=') + 1) : ''] as [string, string]));
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j]!.trim().startsWith(open[2]!); j++) body.push(lines[j]!.slice(open[1]!.length));
    blocks.push({ page, line: i + 1, lang, attrs, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** A page without its fenced blocks and code spans, where links and headings are looked for. */
function prose(markdown: string): string {
  return markdown.replace(/^(\s*)(`{3,})[^\n]*\n[\s\S]*?^\s*\2\s*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The anchors a page offers: its headings as GitHub slugs them (repeats get -1, -2…), and `<a id>`s. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const text = markdown.replace(/^(\s*)(`{3,})[^\n]*\n[\s\S]*?^\s*\2\s*$/gm, '');
  for (const [, heading] of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const plain = heading!
      .replace(/\[([^\]]*(?:\[[^\]]*\][^\]]*)*)\]\([^)]*\)/g, '$1')
      .replace(/\\(.)/g, '$1')
      .replace(/`/g, '');
    const base = slug(plain);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const [, id] of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id!);
  return anchors;
}

/** What is wrong with the relative links of `page` (given its text): one line per broken link. */
export function brokenLinks(page: string, markdown: string, readPage: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  const text = prose(markdown);
  const targets = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), ...text.matchAll(/^ {0,3}\[[^\]]+\]:\s*(\S+)(?:\s+"[^"]*")?\s*$/gm)].map(
    (m) => m[1]!,
  );
  for (const target of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [path = '', anchor] = target.split('#', 2);
    const file = path === '' ? page : relative(root, resolvePath(root, dirname(page), decodeURIComponent(path)));
    if (path !== '' && !existsSync(join(root, file))) {
      if (PAGES_FROM_OTHER_BRANCHES.has(file)) continue;
      problems.push(`${page}: link to ${target}: ${file} does not exist`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (!file.endsWith('.md') || (path !== '' && statSync(join(root, file)).isDirectory())) {
      problems.push(`${page}: link to ${target}: only a Markdown page has anchors`);
      continue;
    }
    const other = readPage(file);
    if (other === undefined || !anchorsOf(other).has(decodeURIComponent(anchor)))
      problems.push(`${page}: link to ${target}: ${file} has no heading #${anchor}`);
  }
  return problems;
}

/** Sets `value` at a JSON pointer in `into`, making objects (and arrays, for numeric segments) on the way. */
function setAt(into: Record<string, unknown>, pointer: string, value: unknown): void {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: Record<string, unknown> | unknown[] = into;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const key = Array.isArray(node) ? Number(part) : part;
    const container = node as Record<string | number, unknown>;
    if (last) container[key] = value;
    else {
      container[key] ??= /^\d+$/.test(parts[i + 1]!) ? [] : {};
      node = container[key] as Record<string, unknown> | unknown[];
    }
  });
}

/** The whole config a ```json block stands for (see the file's comment for the fence attributes). */
export function configOf(block: Block): unknown {
  const at = block.attrs.get('at');
  const value: unknown = JSON.parse(block.attrs.has('members') ? `{${block.text}}` : block.text);
  if (at === undefined) return value;
  if (!at.startsWith('/')) throw new Error(`at=${at}: a JSON pointer starts with /`);
  const config: Record<string, unknown> = {};
  setAt(config, at, value);
  const listeners = config['listeners'];
  if (Array.isArray(listeners))
    for (const l of listeners) if (typeof l === 'object' && l !== null && !('type' in l)) (l as Record<string, unknown>)['type'] = 'websocket';
  return config;
}

/** Every `$NAME` / `${NAME}` value of a block, set to a stand-in secret long enough for any field. */
function envFor(text: string): Record<string, string> {
  const names = [...text.matchAll(/"\$\{?([A-Z_][A-Z0-9_]*)\}?"/g)].map((m) => m[1]!);
  return Object.fromEntries(names.map((n) => [n, 'docs-test-stand-in-secret-0123456789']));
}

/** Loads a block's config as `switchboard check` and `start` would: undefined when accepted, else why not. */
export function configProblems(block: Block): string | undefined {
  let config: unknown;
  try {
    config = configOf(block);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-docs-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  try {
    loadConfig(file, envFor(block.text));
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('; ');
    throw err;
  }
}

const where = (b: Block): string => `${b.page}:${b.line}`;
const allBlocks = (): Block[] => docPages().flatMap((page) => blocksOf(page, read(page)));

describe('generated', () => {
  it('docs/configuration-reference.md is what `npm run docs:config` renders from the JSON Schema', () => {
    const schema: unknown = JSON.parse(read(SCHEMA));
    const expected = renderConfigReference(schema, SCHEMA);
    const committed = existsSync(join(root, 'docs/configuration-reference.md')) ? read('docs/configuration-reference.md') : '';
    expect(committed === expected, 'docs/configuration-reference.md is out of date: run `npm run docs:config` and commit it').toBe(true);
  });

  it('names every key of the schema, with its default', () => {
    const reference = read('docs/configuration-reference.md');
    for (const key of ['maxMessageBytes', 'helloTimeoutMs', 'requireIncreasingSeq', 'nodeTimeoutMs', 'authorized_keys', 'maxAgeSeconds']) {
      expect(reference).toContain(`\`${key}\``);
    }
    expect(reference).toMatch(/\| `port` \| integer, 0–65535 \| `8080` \|/);
  });

  it("quotes the browser bundles' sizes as the build measures them", () => {
    const expected = renderBundleSizes(bundleSizes(join(root, 'client/dist/bundle')));
    const quoted = docPages().flatMap((page) =>
      figuresIn(read(page))
        .filter((f) => f.name === 'bundle-sizes')
        .map((f) => ({ page, ...f })),
    );
    expect(quoted.length).toBeGreaterThan(0);
    for (const figure of quoted)
      expect(figure.content, `${figure.page}: bundle sizes differ from client/dist/bundle: run \`npm run build && npm run docs\``).toBe(expected);
  });

  it('quotes the body GET /health answers', async () => {
    const router = await startTestRouter();
    const port = router.addresses[0]!.port;
    const body = await (await fetch(`http://127.0.0.1:${port}/health`)).text();
    const quoted = docPages().flatMap((page) =>
      figuresIn(read(page))
        .filter((f) => f.name === 'health')
        .map((f) => ({ page, ...f })),
    );
    expect(quoted.length).toBeGreaterThan(0);
    for (const figure of quoted) expect(figure.content, `${figure.page}: the /health body differs: run \`npm run docs\``).toBe(renderHealth(body));
  });

  it('marks only figures it knows', () => {
    const names = docPages().flatMap((page) => figuresIn(read(page)).map((f) => `${page}: ${f.name}`));
    expect(names.filter((n) => !/: (bundle-sizes|health)$/.test(n))).toEqual([]);
  });
});

describe('links', () => {
  it('every relative link reaches a file and, with #anchor, a heading in it', () => {
    const cache = new Map<string, string | undefined>();
    const readPage = (path: string): string | undefined => {
      if (!cache.has(path)) cache.set(path, existsSync(join(root, path)) ? read(path) : undefined);
      return cache.get(path);
    };
    const problems = linkedPages().flatMap((page) => brokenLinks(page, read(page), readPage));
    expect(problems).toEqual([]);
  });

  it('the link check finds a missing file, a missing anchor and a link into a non-Markdown file', () => {
    const page = 'docs/example.md';
    const text = '# Title\n\n[a](missing.md) [b](configuration.md#no-such-heading) [c](#title) [d](../package.json#x) `[e](nowhere.md)`\n';
    const problems = brokenLinks(page, text, (p) => (p === page ? text : existsSync(join(root, p)) ? read(p) : undefined));
    expect(problems, problems.join('\n')).toHaveLength(3);
    expect(problems[0]).toContain('docs/missing.md does not exist');
    expect(problems[1]).toContain('no heading #no-such-heading');
    expect(problems[2]).toContain('only a Markdown page has anchors');
  });

  it('slugs headings as GitHub does, repeats numbered', () => {
    expect([...anchorsOf('# The client: `@switchboard/client`\n## Failures\n### Failures\n## listeners[].static.\\*\n')]).toEqual([
      'the-client-switchboardclient',
      'failures',
      'failures-1',
      'listenersstatic',
    ]);
  });

  it('docs/README.md indexes every page of docs/', () => {
    const index = read('docs/README.md');
    const pages = docPages().filter((p) => p.startsWith('docs/') && p !== 'docs/README.md');
    for (const page of pages) expect(index, `docs/README.md does not link ${page}`).toContain(`](${page.slice('docs/'.length)}`);
    for (const page of PAGES_FROM_OTHER_BRANCHES) expect(index).toContain(`](${page.slice('docs/'.length)}`);
  });
});

describe('config blocks', () => {
  it('every ```json block is a config the loader accepts (or is marked `example`)', () => {
    const blocks = allBlocks().filter((b) => b.lang === 'json');
    expect(blocks.length).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const block of blocks) {
      if (block.attrs.has('example')) {
        try {
          JSON.parse(block.text);
        } catch (err) {
          problems.push(`${where(block)}: not JSON: ${(err as Error).message}`);
        }
        continue;
      }
      const problem = configProblems(block);
      if (problem !== undefined) problems.push(`${where(block)}: ${problem}`);
    }
    expect(problems).toEqual([]);
  });

  it('the check refuses a wrong key, a wrong value and a fragment put in the wrong place', () => {
    const block = (text: string, attrs: [string, string][] = []): Block => ({ page: 'x.md', line: 1, lang: 'json', attrs: new Map(attrs), text });
    expect(configProblems(block('{ "realm": [] }'))).toContain("unknown field 'realm'");
    expect(configProblems(block('{ "type": "websocket", "port": 70000 }', [['at', '/listeners/0']]))).toContain('/listeners/0/port');
    expect(
      configProblems(
        block('"auth": { "ticket": { "type": "static" } }', [
          ['at', '/listeners/0'],
          ['members', ''],
        ]),
      ),
    ).toContain('principals');
    expect(configProblems(block('{ "name": "realm1" }', [['at', '/listeners/0']]))).toBeDefined();
    expect(
      configProblems(
        block('"ticket": "$T"', [
          ['at', '/listeners/0/auth/ticket/principals/joe'],
          ['members', ''],
        ]),
      ),
    ).toBeDefined();
    expect(
      configProblems(block('{ "type": "static", "principals": { "joe": { "ticket": "$JOE", "role": "user" } } }', [['at', '/listeners/0/auth/ticket']])),
    ).toBeUndefined();
  });
});

/** Runs a shell block; resolves to its exit code and what it printed. */
function run(script: string, env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd: root,
    env: { ...process.env, ...env, PATH: `${join(root, 'node_modules/.bin')}:${process.env['PATH'] ?? ''}`, NO_COLOR: '1' },
    detached: true,
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return within(new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err }))), 30_000, 'a docs command');
}

/** `expected` (a ```text output block) as a pattern: each … matches any text within its line. */
function outputPattern(expected: string): RegExp {
  const escaped = expected
    .trimEnd()
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('[^\\n]*')}$`);
}

describe('commands', () => {
  const runnable = allBlocks().filter((b) => ['sh', 'bash'].includes(b.lang) && b.attrs.has('run'));

  it('the docs mark commands to run', () => {
    expect(runnable.length).toBeGreaterThan(0);
  });

  for (const block of runnable) {
    it(`${where(block)} runs as written`, { timeout: 60_000 }, async () => {
      let script = block.text;
      const id = block.attrs.get('router');
      let env: Record<string, string> = {};
      if (id !== undefined) {
        let file: RouterConfigFile = {};
        if (id !== 'default') {
          const config = allBlocks().find((b) => b.page === block.page && b.lang === 'json' && b.attrs.get('id') === id);
          if (config === undefined) throw new Error(`${where(block)}: no \`\`\`json id=${id} block on ${block.page}`);
          env = envFor(config.text);
          const dir = mkdtempSync(join(tmpdir(), 'switchboard-docs-'));
          writeFileSync(join(dir, 'config.json'), JSON.stringify(configOf(config)));
          file = loadConfig(join(dir, 'config.json'), env).file;
        }
        const router = await startTestRouter(file);
        const port = router.addresses[0]!.port;
        if (block.attrs.has('callee')) {
          const session = await connect({ url: `ws://127.0.0.1:${port}${router.addresses[0]!.path}`, realm: 'realm1' });
          onTestFinished(() => session.leave());
          await session.register('com.example.add', (args) => (args as number[]).reduce((a, b) => a + b, 0));
        }
        script = script.replaceAll('localhost:8080', `127.0.0.1:${port}`);
        env['WAMP_URL'] = `ws://127.0.0.1:${port}/ws`;
      }
      check(block, await run(script, env));
    });
  }

  function check(block: Block, result: { code: number | null; out: string; err: string }): void {
    expect(result.code, `${where(block)} exited ${result.code}:\n${result.err}${result.out}`).toBe(0);
    const all = allBlocks();
    const next = all[all.indexOf(all.find((b) => b.page === block.page && b.line === block.line)!) + 1];
    if (next !== undefined && next.page === block.page && next.lang === 'text' && next.attrs.has('output')) {
      expect(result.out.trimEnd()).toMatch(outputPattern(next.text));
    }
  }
});
