/**
 * Operations: /metrics (Prometheus, off by default, on a port of its own), /ready, and the
 * container environment variables of `switchboard start`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { MessageCode } from '@switchboard/schemas';
import { Router } from '@switchboard/router';
import { RawPeer, startTestRouter, until, within } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/switchboard.js', import.meta.url));

function metricValue(text: string, line: string): number | undefined {
  for (const l of text.split('\n')) if (l.startsWith(line + ' ')) return Number(l.slice(line.length + 1));
  return undefined;
}

describe('/metrics', () => {
  it('is off unless configured', async () => {
    const router = await startTestRouter();
    expect(router.metricsUrl).toBeUndefined();
    const res = await fetch(router.url.replace('ws://', 'http://').replace('/ws', '/metrics'));
    expect(res.status).toBe(404);
  });

  it('reports sessions, messages by type, drops, cut-offs, violations, auth failures, call latency and process metrics', async () => {
    const router = await startTestRouter({ metrics: { port: 0 } });
    expect(router.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const sub = await RawPeer.join(router.url, 'json');
    const pub = await RawPeer.join(router.url, 'msgpack');
    sub.send([MessageCode.Subscribe, sub.nextRequest(), {}, 'com.m']);
    await sub.next();
    pub.send([MessageCode.Publish, pub.nextRequest(), { acknowledge: true }, 'com.m', [1]]);
    await pub.next();
    await sub.next();
    sub.send([MessageCode.Register, sub.nextRequest(), {}, 'com.proc']);
    await sub.next();
    pub.send([MessageCode.Call, pub.nextRequest(), {}, 'com.proc']);
    const [, invocation] = await sub.next();
    sub.send([MessageCode.Yield, invocation, {}, ['ok']]);
    await pub.next();
    const bad = await RawPeer.join(router.url, 'cbor');
    bad.send([MessageCode.Hello, 'realm1', {}]);
    await bad.waitClosed();
    const refused = await RawPeer.connect(router.url);
    refused.send([MessageCode.Hello, 'realm1', { roles: { caller: {} }, authmethods: ['ticket'] }]);
    await refused.waitClosed();

    const res = await fetch(router.metricsUrl!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(metricValue(text, 'switchboard_sessions{realm="realm1",transport="websocket",serializer="json"}')).toBe(1);
    expect(metricValue(text, 'switchboard_sessions{realm="realm1",transport="websocket",serializer="msgpack"}')).toBe(1);
    expect(metricValue(text, 'switchboard_messages_in_total{type="publish"}')).toBe(1);
    // sub, pub and bad joined; bad sent a second HELLO (the violation); refused sent one.
    expect(metricValue(text, 'switchboard_messages_in_total{type="hello"}')).toBe(5);
    expect(metricValue(text, 'switchboard_messages_out_total{type="event"}')).toBe(1);
    expect(metricValue(text, 'switchboard_messages_out_total{type="welcome"}')).toBe(3);
    // A routed call's INVOCATION and RESULT go through the session's one send path: counted.
    expect(metricValue(text, 'switchboard_messages_out_total{type="invocation"}')).toBe(1);
    expect(metricValue(text, 'switchboard_messages_out_total{type="result"}')).toBe(1);
    expect(metricValue(text, 'switchboard_protocol_violations_total')).toBe(1);
    expect(metricValue(text, 'switchboard_bytes_in_total')).toBeGreaterThan(100);
    expect(metricValue(text, 'switchboard_bytes_out_total')).toBeGreaterThan(100);
    expect(metricValue(text, 'switchboard_events_dropped_total')).toBe(0);
    expect(metricValue(text, 'switchboard_slow_consumers_cut_off_total')).toBe(0);
    expect(metricValue(text, 'switchboard_call_duration_seconds_count')).toBe(1);
    expect(metricValue(text, 'switchboard_auth_failures_total{method="none",reason="wamp.error.no_auth_method"}')).toBe(1);
    expect(text).toContain('switchboard_process_cpu_user_seconds_total');
    // Health and readiness live on the metrics port too.
    expect((await fetch(router.metricsUrl!.replace('/metrics', '/ready'))).status).toBe(200);
  });
});

describe('/ready', () => {
  it('is 200 with the realms once listening, and false once stopping', async () => {
    const router = await startTestRouter({ realms: [{ name: 'a' }, { name: 'b' }] });
    const res = await fetch(router.url.replace('ws://', 'http://').replace('/ws', '/ready'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ready: true, listeners: 1, realms: ['a', 'b'] });
    await router.stop();
    expect(router.readiness().ready).toBe(false);
  });
});

describe('switchboard start and the environment', () => {
  it('takes SWITCHBOARD_CONFIG, SWITCHBOARD_PORT (or PORT) and LOG_LEVEL when the flags are absent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchboard-env-'));
    const config = join(dir, 'router.json');
    writeFileSync(config, JSON.stringify({ listeners: [{ type: 'websocket', host: '127.0.0.1', port: 1 }], realms: [{ name: 'from-env' }] }));
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: { ...process.env, SWITCHBOARD_CONFIG: config, SWITCHBOARD_PORT: '0', PORT: '1', LOG_LEVEL: 'debug', NO_COLOR: '1' },
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await until(() => /"msg":"router started"/.test(out), 10_000, 'the router to start');
    const url = /"url":"(ws:[^"]+)"/.exec(out)?.[1];
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    expect(url).not.toMatch(/:1\/ws$/); // SWITCHBOARD_PORT wins over PORT and over the file
    const peer = await RawPeer.join(url!, 'json', 'from-env');
    expect(peer.session).toBeGreaterThan(0);
    // LOG_LEVEL=debug: the join is logged at debug (level 20).
    await until(() => /"level":20[^\n]*session joined/.test(out), 5000, 'a debug line');
    child.kill('SIGTERM');
    const code = await within(new Promise<number | null>((resolve) => child.once('exit', resolve)), 5000, 'exit');
    expect(code).toBe(0);
  });
});

describe('per-module log levels', () => {
  it('log.modules gives a part of the router its own level', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const router = new Router({
      config: { listeners: [{ type: 'websocket', host: '127.0.0.1', port: 0 }], log: { level: 'info', modules: { session: 'silent', realm: 'debug' } } },
      logger,
    });
    await router.start();
    onTestFinished(() => router.stop());
    const peer = await RawPeer.join(router.url);
    peer.send([MessageCode.Hello, 'realm1', { roles: { caller: {} } }]); // a protocol violation: logged by `session` at info
    await peer.waitClosed();
    await until(() => lines.some((l) => l.includes('"module":"realm"') && l.includes('session left')), 2000, 'the realm debug line');
    expect(lines.some((l) => l.includes('"module":"realm"') && l.includes('"level":20'))).toBe(true);
    expect(lines.some((l) => l.includes('protocol violation'))).toBe(false);
  });
});
