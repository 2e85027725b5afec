/**
 * Mixed sessions on Switchboard's router: this client with autobahn-js 22 (both directions of RPC,
 * pub/sub) and wampy 8 (wampy publishes, this client subscribes), over each serializer.
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import type { SerializerName } from '@switchboard/schemas';
import { WampError } from '@switchboard/client';
import { startTestRouter } from '../../../router/test/helpers.js';
import { ARGS, KWARGS, autobahnCallError, autobahnInbox, connectAutobahn, connectWampy, exactNumbers } from '../../../router/test/interop/clients.js';
import { Inbox } from '../../../router/test/interop/clients.js';
import { open, uri, within } from '../helpers.js';

const SERIALIZERS: SerializerName[] = ['json', 'msgpack', 'cbor'];
// Each client on a different serializer from the other, so the router translates too.
const OTHER: Record<SerializerName, SerializerName> = { json: 'cbor', msgpack: 'json', cbor: 'msgpack' };

describe.each(SERIALIZERS)('this client over %s', (serializer) => {
  it('calls a procedure registered by autobahn-js; args, kwargs and the result arrive untouched', async () => {
    const router = await startTestRouter();
    const callee = await connectAutobahn(router.url, OTHER[serializer]);
    const session = await open(router.url, serializer);
    const procedure = uri('ab.callee');
    await within(
      callee.session.register(procedure, (args, kwargs) => ({ args, kwargs })),
      3000,
      'REGISTERED',
    );
    const result = (await session.call(procedure, [...ARGS], { ...KWARGS })) as { args: unknown[]; kwargs: unknown };
    expect(exactNumbers(result.args)).toEqual(ARGS);
    expect(exactNumbers(result.kwargs)).toEqual(KWARGS);
  });

  it("gets an autobahn callee's application error as WampError with its URI, args and kwargs", async () => {
    const router = await startTestRouter();
    const callee = await connectAutobahn(router.url, OTHER[serializer]);
    const session = await open(router.url, serializer);
    const procedure = uri('ab.fails');
    await within(
      callee.session.register(procedure, () => {
        throw new autobahn.Error('com.example.error.invalid', ['bad', 1], { field: 'x' });
      }),
      3000,
      'REGISTERED',
    );
    const error = await session.call(procedure).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WampError);
    expect(error).toMatchObject({ uri: 'com.example.error.invalid', args: ['bad', 1], kwargs: { field: 'x' } });
  });

  it('autobahn-js calls a procedure registered by this client (value, multi-result, error)', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    const caller = await connectAutobahn(router.url, OTHER[serializer]);
    const add = uri('sb.add');
    const fail = uri('sb.fail');
    await session.register(add, (args: unknown[]) => (args as number[]).reduce((a, b) => a + b, 0));
    await session.register(fail, () => {
      throw new WampError('com.example.error.refused', ['no'], { why: 'because' });
    });
    expect(await within(caller.session.call(add, [2, 3, 2 ** 40]), 3000, 'RESULT')).toBe(5 + 2 ** 40);
    const error = await autobahnCallError(caller.session.call(fail));
    expect(error.error).toBe('com.example.error.refused');
    expect(error.args).toEqual(['no']);
    expect(error.kwargs).toEqual({ why: 'because' });
  });

  it('autobahn-js subscribes to what this client publishes, and the other way round', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    const other = await connectAutobahn(router.url, OTHER[serializer]);
    const toAutobahn = uri('sb.to.ab');
    const fromAutobahn = uri('ab.to.sb');
    const { inbox } = await autobahnInbox(other, toAutobahn);
    const mine = await session.subscribe(fromAutobahn);
    await session.publish(toAutobahn, ['hi'], { from: 'switchboard' }, { acknowledge: true });
    const got = await inbox.next();
    expect([got.args, got.kwargs]).toEqual([['hi'], { from: 'switchboard' }]);
    await within(other.session.publish(fromAutobahn, ['hello'], { from: 'autobahn' }, { acknowledge: true })!, 3000, 'PUBLISHED');
    const event = await within(mine[Symbol.asyncIterator]().next(), 3000, 'EVENT');
    expect(event.value).toMatchObject({ args: ['hello'], kwargs: { from: 'autobahn' } });
  });

  it('wampy publishes, this client subscribes', async () => {
    const router = await startTestRouter();
    const session = await open(router.url, serializer);
    const wampy = await connectWampy(router.url, OTHER[serializer]);
    const topic = uri('wampy.to.sb');
    const inbox = new Inbox<{ args: unknown[]; kwargs: unknown; publisher: unknown }>('event');
    await session.subscribe(topic, (args, kwargs, details) => inbox.push({ args, kwargs, publisher: details.publisher }));
    await within(wampy.wampy.publish(topic, { argsList: [...ARGS], argsDict: { ...KWARGS } }), 3000, 'PUBLISHED');
    const event = await inbox.next();
    expect(exactNumbers(event.args)).toEqual(ARGS);
    expect(exactNumbers(event.kwargs)).toEqual(KWARGS);
  });
});
