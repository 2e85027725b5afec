/**
 * Config errors say what a newcomer needs: where a JSON syntax error is (line, column, the line
 * itself and a caret), which field an unknown name was probably meant to be, what a pattern allows
 * in words, and one line for a value that fits none of a field's alternatives. Checked through the
 * loader and through `switchboard check` run as a process (from router/dist: build first).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkConfig, loadConfig } from '@switchboard/router';
import { MAX_CONFIG_FILE_BYTES } from '../../src/config/config.js';
import { configError, writeConfig } from './support.js';
import { within } from '../helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The problems loadConfig reports for a file with this text. */
function fileProblems(text: string): string[] {
  const path = writeConfig(text);
  return configError(() => loadConfig(path)).problems;
}

/** The problems checkConfig reports for this value. */
function problems(value: unknown): string[] {
  return configError(() => checkConfig(value)).problems;
}

/** `switchboard check FILE` as a process: exit code and output. */
async function check(text: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const path = writeConfig(text);
  const proc = spawn(process.execPath, ['router/bin/switchboard.js', 'check', path], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await within(new Promise<number | null>((resolve) => proc.once('close', resolve)), 15_000, 'switchboard check to exit');
  return { code, stdout, stderr };
}

describe('JSON syntax errors: line, column, the line and a caret', () => {
  it('a trailing comma', () => {
    const [problem, ...rest] = fileProblems('{\n  "realms": [\n    { "name": "realm1" },\n  ]\n}\n');
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^not valid JSON: line 3, column 25: a trailing comma: .* before the '\]' at line 4, column 3/);
    expect(problem).toContain('\n    3 |     { "name": "realm1" },\n      |                         ^');
    expect(problem).not.toMatch(/position/);
  });

  it('a missing comma, a comment, single quotes, an unquoted name, a bad word, an early end', () => {
    expect(fileProblems('{\n  "realms": [{ "name": "a" }]\n  "log": {}\n}')[0]).toMatch(/^not valid JSON: line 3, column 3: .*missing ','/);
    expect(fileProblems('{\n  // the realms\n  "realms": []\n}')[0]).toMatch(/^not valid JSON: line 2, column 3: .*comments/);
    expect(fileProblems("{ 'realms': [] }")[0]).toMatch(/^not valid JSON: line 1, column 3: .*double quotes/);
    expect(fileProblems('{ realms: [] }')[0]).toMatch(/^not valid JSON: line 1, column 3: .*double quotes/);
    expect(fileProblems('{ "log": { "pretty": ture } }')[0]).toMatch(/^not valid JSON: line 1, column 22: .*'ture'/);
    expect(fileProblems('{\n  "realms": [\n    { "name": "a" }\n')[0]).toMatch(/^not valid JSON: line 4, column 1: .*ends .*'\[' opened at line 2, column 13/);
    expect(fileProblems('{}\n}')[0]).toMatch(/^not valid JSON: line 2, column 1: .*after the end/);
  });

  it('a byte order mark (as some Windows editors write) is not an error', () => {
    const path = writeConfig('\uFEFF{ "realms": [{ "name": "realm1" }] }');
    expect(loadConfig(path).file).toEqual({ realms: [{ name: 'realm1' }] });
  });

  it('a hostile file: deep nesting and a huge line cost no stack and print a short excerpt', () => {
    const deep = fileProblems('['.repeat(200_000))[0]!;
    expect(deep).toMatch(/^not valid JSON: line 1, column 200001: the file ends before the '\[' opened at line 1, column 200000/);
    expect(deep.length).toBeLessThan(500);
    const long = fileProblems(`{"realms": [${'{"name": "r"}, '.repeat(10_000)}]}`)[0]!;
    expect(long).toMatch(/^not valid JSON: line 1, column \d+: a trailing comma/);
    expect(long.length).toBeLessThan(500);
  });

  it('switchboard check prints it: exit 2', async () => {
    const { code, stdout, stderr } = await check('{\n  "realms": [\n    { "name": "realm1" },\n  ]\n}\n');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('not valid JSON: line 3, column 25: a trailing comma');
    expect(stderr).toContain('    3 |     { "name": "realm1" },\n');
    expect(stderr).toContain('      |                         ^\n');
    expect(stderr).not.toContain('position');
  });
});

describe('unknown fields: did you mean …?', () => {
  it('suggests the known field nearest an unknown one, at any depth', () => {
    expect(problems({ realm: [{ name: 'realm1' }] })).toEqual(["(top level): unknown field 'realm': did you mean 'realms'?"]);
    expect(problems({ listeners: [{ type: 'websocket', prot: 8080 }] })).toEqual(["/listeners/0: unknown field 'prot': did you mean 'port'?"]);
    expect(problems({ listeners: [{ type: 'rawsocket', serialisers: ['json'] }] })).toEqual([
      "/listeners/0: unknown field 'serialisers': did you mean 'serializers'?",
    ]);
    expect(problems({ realms: [{ name: 'r', roles: [{ name: 'x', permisions: [] }] }] })).toEqual([
      "/realms/0/roles/0: unknown field 'permisions': did you mean 'permissions'?",
    ]);
    expect(problems({ log: { levle: 'info' } })).toEqual(["/log: unknown field 'levle': did you mean 'level'?"]);
    expect(problems({ listeners: [{ type: 'websockets' }] })).toEqual([
      '/listeners/0/type: must be one of "websocket", "rawsocket": did you mean "websocket"?',
    ]);
  });

  it('names the allowed fields when none is near', () => {
    const [problem] = problems({ log: { colour: true } });
    expect(problem).toMatch(/^\/log: unknown field 'colour' \(allowed here: level, pretty, refusalIntervalMs, modules\)$/);
  });
});

describe('patterns in words', () => {
  it('a realm name, a path, a cluster node name, a hex key', () => {
    const [realm] = problems({ realms: [{ name: 'my realm' }] });
    expect(realm).toMatch(/^\/realms\/0\/name: 'my realm' is not a valid realm name: /);
    expect(realm).toContain('no spaces');
    expect(realm).not.toContain('^[');
    const [path] = problems({ listeners: [{ type: 'websocket', path: 'ws' }] });
    expect(path).toMatch(/^\/listeners\/0\/path: 'ws' .*must start with '\/' \(e\.g\. "\/ws"\)/);
    const [node] = problems({ cluster: { node: 'node 1', nats: { servers: ['nats://localhost:4222'] } } });
    expect(node).toMatch(/^\/cluster\/node: 'node 1' .*letters, digits, '_' and '-'/);
    for (const p of [realm, path, node]) expect(p).not.toMatch(/must match pattern/);
  });

  it('switchboard check prints them: exit 2', async () => {
    const { code, stderr } = await check(JSON.stringify({ realm: [], listeners: [{ type: 'websocket', path: 'ws' }] }));
    expect(code).toBe(2);
    expect(stderr).toContain("(top level): unknown field 'realm': did you mean 'realms'?");
    expect(stderr).toContain("/listeners/0/path: 'ws' ");
    expect(stderr).not.toContain('must match pattern');
  });
});

describe('alternatives (oneOf / anyOf): one line, from the most relevant one', () => {
  it('a value of no allowed type', () => {
    expect(problems({ listeners: [{ type: 'websocket', tls: { cert: 'a', key: 'b', ca: 5 } }] })).toEqual([
      '/listeners/0/tls/ca: must be of type string or array',
    ]);
  });

  it('a value of the right type that breaks its alternative', () => {
    const out = problems({ listeners: [{ type: 'websocket', http: { paths: {}, openapi: 'x' } }] });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\/listeners\/0\/http\/openapi: 'x' .*must start with '\/'/);
  });

  it('none of the required fields of an anyOf', () => {
    const out = problems({
      listeners: [
        {
          type: 'websocket',
          tls: { cert: 'c', key: 'k', ca: 'ca', clientCertificates: 'request' },
          auth: { tls: { type: 'static', principals: { p: { role: 'user' } } } },
        },
      ],
      realms: [{ name: 'realm1', roles: [{ name: 'user' }] }],
    });
    expect(out.join('\n')).not.toMatch(/anyOf|oneOf|must match a schema/);
    expect(out).toContain("/listeners/0/auth/tls/principals/p: needs 'certificate-sha1' or 'certificate-sha256'");
  });

  it('switchboard check never prints anyOf/oneOf', async () => {
    const { code, stderr } = await check(JSON.stringify({ listeners: [{ type: 'websocket', tls: { cert: 'a', key: 'b', ca: 5 } }] }));
    expect(code).toBe(2);
    expect(stderr).toContain('/listeners/0/tls/ca: must be of type string or array');
    expect(stderr).not.toMatch(/anyOf|oneOf/);
  });
});

describe('a hostile config file is answered quickly and briefly (#16)', () => {
  /** n websocket listeners on distinct ports, each with a `path` of no allowed type (fails an anyOf). */
  const badPaths = (n: number): unknown => ({ listeners: Array.from({ length: n }, (_, i) => ({ type: 'websocket', port: 10_000 + i, path: 5 })) });

  it('each listener gets its own line for its own alternative', () => {
    expect(problems(badPaths(3))).toEqual([
      '/listeners/0/path: must be of type string or array',
      '/listeners/1/path: must be of type string or array',
      '/listeners/2/path: must be of type string or array',
    ]);
  });

  it('4000 listeners failing an anyOf: switchboard check answers within its timeout, the first 100 problems and how many more', async () => {
    // Before: 4000 such listeners took 190 s (collapsing alternatives was worse than quadratic).
    const { code, stderr } = await check(JSON.stringify(badPaths(4000)));
    expect(code).toBe(2);
    expect(stderr).toContain('/listeners/0/path: must be of type string or array');
    expect(stderr).toContain('/listeners/99/path: must be of type string or array');
    expect(stderr).not.toContain('/listeners/100/path');
    expect(stderr).toContain('… and 3900 more problems');
  });

  it('a config file larger than 16 MiB is refused before it is parsed', () => {
    const out = fileProblems(`{}${' '.repeat(MAX_CONFIG_FILE_BYTES)}`);
    expect(out).toEqual([`cannot read file: larger than ${MAX_CONFIG_FILE_BYTES} bytes (16 MiB), the most a config file may be`]);
  });
});
