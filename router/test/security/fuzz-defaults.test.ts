/**
 * Issue #14 (SECURITY.md, "What the defaults expose"): the embedded default — realm1 without
 * roles, on a listener that admits anonymous clients — lets anyone do everything, the meta API's
 * wamp.session.kill_all included. That is for development, and the startup log says so.
 */
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Router } from '@switchboard/router';
import type { RouterConfigFile } from '@switchboard/router';

async function startupLog(config: RouterConfigFile): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info', base: { name: 'switchboard' } },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const listeners = (config.listeners ?? [{ type: 'websocket' as const }]).map((l) => ({ ...l, host: '127.0.0.1', port: 0 }));
  const router = new Router({ config: { shutdownTimeoutMs: 200, ...config, listeners }, logger });
  await router.start();
  onTestFinished(() => router.stop());
  return lines;
}

const warnings = (lines: Record<string, unknown>[]): Record<string, unknown>[] =>
  lines.filter((l) => l['level'] === 40 && /development/.test(String(l['msg'])));

describe('startup log: the open development default (issue #14)', () => {
  it('warns when a realm without roles is reachable by anonymous clients (the embedded default)', async () => {
    const found = warnings(await startupLog({}));
    expect(found).toHaveLength(1);
    expect(found[0]!['realms']).toEqual(['realm1']);
    expect(String(found[0]!['msg'])).toContain('anonymous');
  });

  it('also with an explicit anonymous auth block and a realm without roles', async () => {
    const found = warnings(await startupLog({ realms: [{ name: 'dev' }], listeners: [{ type: 'websocket', auth: { anonymous: {} } }] }));
    expect(found.map((l) => l['realms'])).toEqual([['dev']]);
  });

  it('stays quiet when every realm has roles', async () => {
    const roles = [{ name: 'anonymous', permissions: [{ uri: 'com.example.', match: 'prefix' as const, allow: { call: true } }] }];
    expect(warnings(await startupLog({ realms: [{ name: 'realm1', roles }] }))).toEqual([]);
  });

  it('stays quiet when no listener admits anonymous clients', async () => {
    const auth = { ticket: { type: 'static' as const, principals: { alice: { ticket: 'secret', role: 'user' } } } };
    expect(warnings(await startupLog({ listeners: [{ type: 'websocket', auth }] }))).toEqual([]);
  });
});
