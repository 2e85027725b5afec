/**
 * The python3-autobahn RawSocket probe (router/test/python/rawsocket.py) against a running router:
 * an autobahn-js peer on WebSocket registers the procedures the probe calls back, the probe runs
 * over RawSocket, and every result is checked here. Shared by python-rawsocket.test.ts and the
 * embedded-default test.
 *
 * The Node side is basic.py's counterpart (rawsocket.py runs basic.py's Probe), from
 * ../python/support.ts. FAILS, never skips, without python3-autobahn, python3-cbor2 and
 * python3-msgpack, naming what to install (.ci/run installs them); SWITCHBOARD_PYTHON overrides
 * /usr/bin/python3.
 */
import { expect } from 'vitest';
import type { SerializerName } from '@switchboard/schemas';
import { autobahnInbox, connectAutobahn, exactNumbers } from '../interop/clients.js';
import { NODE_EVENT_BLOB, asBytesJson, nodeCounterpart, runChecksProbe } from '../python/support.js';

/** Runs rawsocket.py over `rsUrl` with an autobahn-js counterpart on `wsUrl` (same router, realm1). */
export async function pythonRawSocketProbe(wsUrl: string, rsUrl: string, serializer: SerializerName, cafile?: string): Promise<void> {
  const node = await connectAutobahn(wsUrl, 'msgpack');
  await nodeCounterpart(node);
  const fromPython = await autobahnInbox(node, 'com.interop.py.topic');
  const results = await runChecksProbe('rawsocket.py', rsUrl, serializer, cafile === undefined ? [] : [cafile]);
  expect(results['serializer']).toBe(serializer);
  expect(results['transport']).toBe('rawsocket');
  expect(results['own_call']).toEqual({ args: [42], kwargs: { echo: { tag: 'ü', big: 2 ** 53 }, product_of: [6, 7] } });
  expect(results['node_error']).toMatchObject({ error: 'com.interop.error.node', args: ['node says no', 'why'] });
  expect(results['node_event']).toMatchObject({
    args: ['from node', 2 ** 53, asBytesJson(NODE_EVENT_BLOB)],
    kwargs: { text: '日本語', blob: asBytesJson(NODE_EVENT_BLOB) },
  });
  expect(results['node_called_back']).toEqual([15]);
  expect(results['goodbye_reason']).toBe('wamp.close.goodbye_and_out');
  // What Python published to itself also reached the WebSocket peer, through another serializer.
  const event = await fromPython.inbox.next();
  expect(exactNumbers(event.args)).toEqual([1, 'two', 2 ** 53, -(2 ** 53), 'ünïcödé 🐍 𝄞', { nested: { deep: [1, 2, { x: null }] } }]);
}
