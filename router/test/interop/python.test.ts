/**
 * Interop with autobahn-python (Debian's python3-autobahn, asyncio) over each serializer:
 * router/test/python/basic.py against a router started here, with an autobahn-js (msgpack) peer
 * on the Node side for the cross-language calls and events.
 *
 * The interpreter is Debian's /usr/bin/python3 (SWITCHBOARD_PYTHON overrides it), not whatever
 * python3 is first on PATH (../python/support.ts runs it). Without python3-autobahn, python3-cbor2
 * and python3-msgpack these tests FAIL, on purpose, naming what to install: .ci/run installs them.
 */
import { describe, expect, it } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter } from '../helpers.js';
import { SERIALIZERS, autobahnInbox, connectAutobahn, exactNumbers, plainBytes } from './clients.js';
import { NODE_EVENT_BLOB, asBytesJson, nodeCounterpart, requirePyNaCl, requirePythonAutobahn, runChecksProbe } from '../python/support.js';

describe.each(SERIALIZERS)('autobahn-python over %s', (serializer: SerializerName) => {
  it('basic.py: own RPC and pub/sub, calls and events to and from an autobahn-js peer, GOODBYE', { timeout: 40_000 }, async () => {
    const version = await requirePythonAutobahn();
    expect(version).toMatch(/^\d+\.\d+/);
    const router = await startTestRouter();
    const node = await connectAutobahn(router.url, 'msgpack');
    await nodeCounterpart(node);
    // The Node peer also hears what Python publishes to itself, through another serializer.
    const fromPython = await autobahnInbox(node, 'com.interop.py.topic');

    const results = await runChecksProbe('basic.py', router.url, serializer);

    expect(results['serializer']).toBe(serializer);
    expect(results['realm']).toBe('realm1');
    expect(Number.isSafeInteger(results['session'])).toBe(true);
    expect(results['own_call']).toEqual({ args: [42], kwargs: { echo: { tag: 'ü', big: 2 ** 53 }, product_of: [6, 7] } });
    expect(results['own_event']).toMatchObject({
      args: [1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', { nested: { deep: [1, 2, { x: null }] } }],
      kwargs: { big: 2 ** 53, blob: asBytesJson(Uint8Array.from({ length: 256 }, (_, i) => i)), text: 'Straße', empty: {}, flag: true },
    });
    expect(results['node_echo']).toEqual({
      args: [asBytesJson(Uint8Array.from([0, 1, 2, 253, 254, 255])), 'ü', 2 ** 53, -(2 ** 31) - 1, 0.5, [null, true, false]],
      kwargs: { blob: asBytesJson(Uint8Array.from([255, 255, 255])), deep: { a: { b: { c: 'd' } } }, n: 2 ** 40 },
    });
    expect(results['node_error']).toEqual({
      error: 'com.interop.error.node',
      args: ['node says no', 'why'],
      kwargs: { code: 7, detail: { ü: 'x', n: 2 ** 53 } },
    });
    expect(results['node_event']).toMatchObject({
      args: ['from node', 2 ** 53, asBytesJson(NODE_EVENT_BLOB)],
      kwargs: { text: '日本語', blob: asBytesJson(NODE_EVENT_BLOB), nested: { n: -(2 ** 53) } },
    });
    expect(Number.isSafeInteger((results['node_event'] as { publication: unknown }).publication)).toBe(true);
    expect(results['node_called_back']).toEqual([15]);
    expect(results['goodbye_reason']).toBe('wamp.close.goodbye_and_out');

    // Python's own event, as the msgpack Node peer received it.
    const event = await fromPython.inbox.next();
    expect(exactNumbers(event.args)).toEqual([1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', { nested: { deep: [1, 2, { x: null }] } }]);
    expect(plainBytes(event.kwargs['blob'])).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i));
    expect(event.details.publication).toBe((results['own_event'] as { publication: unknown }).publication);
    expect(router.sessionCount).toBe(1); // the Python session is gone; the Node peer remains
  });
});

// ---- issue #16, item 3: end-to-end encrypted payloads (WAMP-cryptobox, payload transparency) ----

describe.each(SERIALIZERS)('autobahn-python end-to-end encryption (cryptobox) over %s', (serializer: SerializerName) => {
  it('e2ee.py: encrypted PUBLISH → EVENT, CALL → INVOCATION → YIELD → RESULT and ERROR pass the router untouched', { timeout: 40_000 }, async () => {
    await requirePythonAutobahn();
    await requirePyNaCl();
    const router = await startTestRouter();
    // A Node peer (MessagePack) on the encrypted topic sees the EVENT as the router wrote it.
    const witness = await RawPeer.join(router.url, 'msgpack');
    witness.send([MessageCode.Subscribe, witness.nextRequest(), {}, 'com.e2ee.topic']);
    expect((await witness.next())[0]).toBe(MessageCode.Subscribed);

    const results = await runChecksProbe('e2ee.py', router.url, serializer);

    expect(results['event']).toEqual({
      args: ['secret', 2 ** 53, 'ünïcödé 🐍', { nested: [1, null, true] }],
      kwargs: { key: 'value', n: 7 },
      enc_algo: 'cryptobox',
      topic: 'com.e2ee.topic',
    });
    expect(results['plain_event']).toEqual({ args: ['plain'], kwargs: {}, enc_algo: null, topic: 'com.plain.topic' });
    expect(results['invocation']).toEqual({ args: ['hello', 2 ** 40], kwargs: { tag: 'ü' }, enc_algo: 'cryptobox' });
    expect(results['result']).toMatchObject({ args: ['hello', 2 ** 40], kwargs: { tag: 'ü', reply: 'encrypted too' } });
    expect(results['error']).toEqual({ uri: 'com.e2ee.error.refused', args: ['secret reason', 'why'], kwargs: { code: 7 }, enc_algo: 'cryptobox' });

    // On the wire: the payload is one opaque binary in place of Arguments, with enc_* in Details.
    const event = await witness.next();
    expect(event[0]).toBe(MessageCode.Event);
    expect(event).toHaveLength(5);
    expect(event[3]).toMatchObject({ enc_algo: 'cryptobox', enc_serializer: 'json' });
    expect(event[4]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(event[4] as Uint8Array).toString('utf8')).not.toContain('secret');
  });
});
