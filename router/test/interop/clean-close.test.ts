/**
 * Leaving cleanly is quiet (#16 item 11). After GOODBYE, autobahn-js closes the WebSocket with a
 * close frame that has no status code; Crossbar (autobahn-python's WebSocket, echoCloseCodeReason
 * off) answers it with 1000, and autobahn-js on Node reports `closed` only for code 1000
 * (`wasClean: code === 1000`). ws would echo the absent code (1005), and autobahn then printed
 * "connection closed lost" and "auto-reconnect disabled!" on every run of the README's first app.
 *
 * autobahn-js 22 still logs every close (clean too) with console.warn; the quickstart, which closes
 * on purpose, silences that. Each client runs in a child process, as a user runs it: what it
 * prints is what is asserted.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runProcess, startTestRouter, within } from '../helpers.js';
import type { ProcessRun } from '../helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs `node <args>` from the repository root (so `autobahn` and `@switchboard/client` resolve). */
function runNode(args: string[], env: Record<string, string>): Promise<ProcessRun> {
  return runProcess(process.execPath, args, { cwd: ROOT, env, ms: 15_000, what: `node ${args.join(' ').slice(0, 60)} to exit` });
}

/** An autobahn-js app as a newcomer writes it: open, call, close; prints onclose's reason. */
const AUTOBAHN_APP = `
import autobahn from 'autobahn';
const connection = new autobahn.Connection({ url: process.env.WAMP_URL, realm: 'realm1', serializers: [new autobahn.serializer.${'${SERIALIZER}'}()] });
connection.onopen = async (session) => {
  await session.register('com.example.add', ([a, b]) => a + b);
  console.log('sum', await session.call('com.example.add', [2, 3]));
  connection.close();
};
connection.onclose = (reason, details) => {
  console.log('onclose', reason, details.reason);
};
connection.open();
`;

/** The same app with our client (the README's typed client, untyped here). */
const SWITCHBOARD_APP = `
import { connect } from '@switchboard/client';
const session = await connect({ url: process.env.WAMP_URL, realm: 'realm1' });
await session.register('com.example.add', ([a, b]) => a + b);
console.log('sum', await session.call('com.example.add', [2, 3]));
await session.leave();
`;

describe('a clean leave prints nothing to stderr', () => {
  it.each(['JSONSerializer', 'MsgpackSerializer', 'CBORSerializer'])('autobahn-js (%s): onclose reports closed, not lost', async (serializer) => {
    const router = await startTestRouter();
    const run = await runNode(['--input-type=module', '-e', AUTOBAHN_APP.replace('${SERIALIZER}', serializer)], { WAMP_URL: router.url });
    expect(run.stdout).toBe('sum 5\nonclose closed wamp.close.goodbye_and_out\n');
    // autobahn-js 22 logs every close with console.warn, a clean one too and whatever the router
    // (its connection.js has no switch for it): what matters is that it is not a lost connection.
    expect(run.stderr).not.toContain('lost');
    expect(run.stderr).toContain('connection closed closed');
    expect(run.code).toBe(0);
  });

  it("the quickstart (the README's first app) prints only its own output", async () => {
    const router = await startTestRouter();
    const run = await runNode([fileURLToPath(new URL('../../../examples/quickstart/quickstart.mjs', import.meta.url))], { WAMP_URL: router.url });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('2 + 3 = 5\nevent: hello (from quickstart)\n');
    expect(run.code).toBe(0);
  });

  it('our client: connect, call, leave prints only its own output and exits at once', async () => {
    const router = await startTestRouter();
    const run = await runNode(['--input-type=module', '-e', SWITCHBOARD_APP], { WAMP_URL: router.url });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('sum 5\n');
    expect(run.code).toBe(0);
  });

  it('a close frame without a status code is answered with 1000, as Crossbar does', async () => {
    const router = await startTestRouter();
    const ws = new WebSocket(router.url, ['wamp.2.json']);
    await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, 'the WebSocket to open');
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.close();
    expect(await within(closed, 5000, 'the close handshake')).toBe(1000);
  });

  it('a close frame with a status code is still echoed as it came', async () => {
    const router = await startTestRouter();
    const ws = new WebSocket(router.url, ['wamp.2.json']);
    await within(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, 'the WebSocket to open');
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    ws.close(4001, 'mine');
    expect(await within(closed, 5000, 'the close handshake')).toBe(4001);
  });
});
