/**
 * Issue #14, item 13: a CALL `timeout` of 2^31 ms or more overflowed Node's timer (which then
 * fires after 1 ms, with a TimeoutOverflowWarning on stderr), so the call failed at once with
 * wamp.error.timeout. The router clamps it to the longest timer Node accepts (2^31 - 1 ms, about
 * 24.8 days), for its own timer and for the timeout it forwards to a callee.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from '../helpers.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
const CALLEE_ROLES = { callee: { features: { call_timeout: true, call_canceling: true } }, caller: {} };

const warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);
process.on('warning', onWarning);
afterEach(() => {
  warnings.length = 0;
});

async function callee(url: string, procedure: string, options: Record<string, unknown> = {}): Promise<RawPeer> {
  const peer = await RawPeer.connect(url, 'json');
  peer.send([MessageCode.Hello, 'realm1', { roles: CALLEE_ROLES }]);
  expect((await peer.next())[0]).toBe(MessageCode.Welcome);
  peer.send([MessageCode.Register, peer.nextRequest(), options, procedure]);
  expect((await peer.next())[0]).toBe(MessageCode.Registered);
  return peer;
}

describe('CALL timeout beyond what a Node timer holds', () => {
  it.each([2 ** 31, 2 ** 32 + 5, 2 ** 53])('timeout %d does not fire at once', async (timeout) => {
    const router = await startTestRouter();
    const worker = await callee(router.url, 'com.slow');
    const caller = await RawPeer.join(router.url, 'msgpack');
    const huge = caller.nextRequest();
    caller.send([MessageCode.Call, huge, { timeout }, 'com.slow', []]);
    expect((await worker.next())[0]).toBe(MessageCode.Invocation);
    // A second call with a short timeout: its ERROR is the first thing the caller hears. With the
    // overflow, the first call's wamp.error.timeout came about a millisecond after its CALL.
    const short = caller.nextRequest();
    caller.send([MessageCode.Call, short, { timeout: 50 }, 'com.slow', []]);
    const first = await caller.next();
    expect(first.slice(0, 3)).toEqual([MessageCode.Error, MessageCode.Call, short]);
    expect(first[4]).toBe('wamp.error.timeout');
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });

  it('forwards a clamped timeout to a callee that asked for it (forward_timeout)', async () => {
    const router = await startTestRouter();
    const worker = await callee(router.url, 'com.forwarded', { forward_timeout: true });
    const caller = await RawPeer.join(router.url, 'json');
    caller.send([MessageCode.Call, caller.nextRequest(), { timeout: 2 ** 40 }, 'com.forwarded', []]);
    const invocation = await worker.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);
    expect((invocation[3] as { timeout: number }).timeout).toBe(MAX_TIMER_MS);
  });
});
