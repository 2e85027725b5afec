/**
 * Issue #16, item 1: a 1 MiB payload (a 1 048 576-character string) crosses the router with its
 * default limits — published to a subscriber, and through a call as argument and as result — with
 * autobahn-js and wampy over json, msgpack and cbor, and with autobahn-js over RawSocket and
 * long-poll on the same port. With the former 1 MiB default maxMessageBytes the envelope pushed
 * each such frame past the limit and the connection was closed (1009, or a RawSocket failure).
 * Crossbar and Nexus pass these.
 */
import { describe, expect, it } from 'vitest';
import type autobahn from 'autobahn';
import { OutboundBudget, OutboundCounters } from '../../src/transports/outbound.js';
import { startTestRouter, within } from '../helpers.js';
import { SERIALIZERS, autobahnInbox, autobahnPublish, connectAutobahn, connectWampy, uri, wampyInbox } from './clients.js';
import { connectAutobahnOver, installXMLHttpRequest } from '../transports/support.js';

const MiB = 1024 * 1024;

/**
 * 1 048 576 characters, not all alike (so a truncated or shifted copy cannot pass), ASCII so that
 * it is 1 MiB in every serializer: the frame that carries it is 1 MiB plus its envelope.
 */
const BIG = Array.from({ length: MiB / 16 }, (_, i) => `${i.toString(36).padStart(8, '.')}-payload`.slice(0, 16).padEnd(16, '_')).join('');

/** Compares without handing a megabyte to the diff printer. */
function expectBig(value: unknown, what: string): void {
  expect(typeof value, what).toBe('string');
  expect((value as string).length, `${what}: length`).toBe(MiB);
  expect(value === BIG, `${what}: the same characters`).toBe(true);
}

it('the payload is 1 048 576 characters', () => {
  expect(BIG.length).toBe(1_048_576);
});

/** An autobahn-js session: subscriber and publisher, callee and caller, all on `session`. */
async function roundTripAutobahn(session: autobahn.Session, subscriber: autobahn.Session): Promise<void> {
  const topic = uri('large');
  const events: unknown[][] = [];
  let got!: () => void;
  const arrived = new Promise<void>((resolve) => (got = resolve));
  await within(
    subscriber.subscribe(topic, (args) => {
      events.push(args);
      got();
    }),
    5000,
    'SUBSCRIBED',
  );
  const acked = session.publish(topic, [BIG], {}, { acknowledge: true });
  if (acked === undefined) throw new Error('autobahn returned no promise for an acknowledged publish');
  await within(acked, 15_000, 'PUBLISHED of 1 MiB');
  await within(arrived, 15_000, 'the 1 MiB EVENT');
  expectBig(events[0]?.[0], 'EVENT.Arguments[0]');

  const procedure = uri('large.echo');
  const received: unknown[] = [];
  await within(
    subscriber.register(procedure, (args) => {
      received.push(args?.[0]);
      return args?.[0];
    }),
    5000,
    'REGISTERED',
  );
  const result = await within(session.call(procedure, [BIG]), 15_000, 'the RESULT of a 1 MiB echo');
  expectBig(received[0], 'INVOCATION.Arguments[0]');
  expectBig(result, 'RESULT.Arguments[0]');
}

describe.each(SERIALIZERS)('a 1 MiB payload with the default limits over WebSocket, %s', (serializer) => {
  it('autobahn-js: publish → subscriber, call → callee → result', async () => {
    const router = await startTestRouter();
    const [a, b] = await Promise.all([connectAutobahn(router.url, serializer), connectAutobahn(router.url, serializer)]);
    const topic = uri('large');
    const { inbox } = await autobahnInbox(b, topic);
    await autobahnPublish(a, topic, [BIG]);
    expectBig((await inbox.next(15_000)).args[0], 'EVENT.Arguments[0]');

    const procedure = uri('large.echo');
    const received: unknown[] = [];
    await within(
      b.session.register(procedure, (args) => {
        received.push(args?.[0]);
        return args?.[0];
      }),
      5000,
      'REGISTERED',
    );
    const result = await within(a.session.call(procedure, [BIG]), 15_000, 'the RESULT of a 1 MiB echo');
    expectBig(received[0], 'INVOCATION.Arguments[0]');
    expectBig(result, 'RESULT.Arguments[0]');
    expect(router.sessionCount).toBe(2);
  });

  it('wampy: publish → subscriber, call → callee → result', async () => {
    const router = await startTestRouter();
    const [a, b] = await Promise.all([connectWampy(router.url, serializer), connectWampy(router.url, serializer)]);
    const topic = uri('large');
    const { inbox } = await wampyInbox(b, topic);
    await within(a.wampy.publish(topic, { argsList: [BIG] }), 15_000, 'PUBLISHED of 1 MiB');
    expectBig((await inbox.next(15_000)).argsList?.[0], 'EVENT.Arguments[0]');

    const procedure = uri('large.echo');
    const received: unknown[] = [];
    await within(
      b.wampy.register(procedure, ({ argsList }) => {
        received.push(argsList?.[0]);
        return { argsList: [argsList?.[0]] };
      }),
      5000,
      'REGISTERED',
    );
    const result = await within(a.wampy.call(procedure, [BIG]), 15_000, 'the RESULT of a 1 MiB echo');
    expectBig(received[0], 'INVOCATION.Arguments[0]');
    expectBig(result.argsList?.[0], 'RESULT.Arguments[0]');
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
    expect(router.sessionCount).toBe(2);
  });
});

describe('a 1 MiB payload with the default limits over RawSocket and long-poll (autobahn-js, JSON)', () => {
  it('RawSocket on the WebSocket port: publish → subscriber, call → callee → result', async () => {
    const router = await startTestRouter({ listeners: [{ type: 'websocket', rawsocket: true }] });
    const { port } = router.addresses[0]!;
    const a = await connectAutobahnOver({ type: 'rawsocket', host: '127.0.0.1', port });
    const b = await connectAutobahnOver({ type: 'rawsocket', host: '127.0.0.1', port });
    await roundTripAutobahn(a.session, b.session);
  });

  it('long-poll: publish → subscriber, call → callee → result', async () => {
    installXMLHttpRequest();
    const router = await startTestRouter({ listeners: [{ type: 'websocket', longpoll: {} }] });
    const { port } = router.addresses[0]!;
    const base = `http://127.0.0.1:${port}/lp`;
    const a = await connectAutobahnOver({ type: 'longpoll', url: base, request_timeout: 10_000 });
    const b = await connectAutobahnOver({ type: 'longpoll', url: base, request_timeout: 10_000 });
    await roundTripAutobahn(a.session, b.session);
  });
});

describe('the outbound budget bounds a backlog, not one message', () => {
  const MiB4 = 4 * MiB;
  const limits = { softLimitBytes: MiB4, hardLimitBytes: 16 * MiB, drainTimeoutMs: 0 };

  it('a lone EVENT past the soft limit, or a lone RESULT past the hard limit, is sent to a peer whose queue is empty', () => {
    const budget = new OutboundBudget(limits, new OutboundCounters());
    expect(budget.judge(0, 5 * MiB, true)).toBe('send');
    expect(budget.judge(0, 16 * MiB + 64, false)).toBe('send');
  });

  it('behind a backlog the same frames are dropped, and a RESULT past the hard limit cuts the peer off', () => {
    const counters = new OutboundCounters();
    const budget = new OutboundBudget(limits, counters);
    expect(budget.judge(1, 5 * MiB, true)).toBe('drop');
    expect(counters.eventsDropped).toBe(1);
    expect(budget.judge(1, 16 * MiB + 64, false)).toBe('cutoff');
    expect(budget.judge(MiB4, 1024, true, true)).toBe('drop'); // long-poll's message count is full
  });
});
