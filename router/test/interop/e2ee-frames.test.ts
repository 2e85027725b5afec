/**
 * Issue #16, item 3, at the frame level: payload transparency as autobahn-python's end-to-end
 * encryption writes it — `enc_algo`/`enc_key`/`enc_serializer` in Options/Details and one binary
 * in place of Arguments — passes the router as ppt_* does (PUBLISH → EVENT, CALL → INVOCATION,
 * YIELD → RESULT, ERROR → ERROR), under the same rules: the sender must announce passthru
 * (`payload_transparency` or `payload_passthru_mode`), the callee and the caller must take it.
 * The end-to-end test with autobahn-python's cryptobox is in python.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ErrorUri, MessageCode, parseMessage } from '@switchboard/schemas';
import { startTestRouter } from '../helpers.js';
import { Raw, asDict } from '../advanced/support.js';
import { SERIALIZERS } from './clients.js';

/** As autobahn-python announces it (role.py: payload_transparency, payload_encryption_cryptobox). */
const AUTOBAHN_PY = ['payload_transparency', 'payload_encryption_cryptobox'];
const E2EE = { publisher: AUTOBAHN_PY, subscriber: AUTOBAHN_PY, caller: AUTOBAHN_PY, callee: AUTOBAHN_PY };
const ENC = { enc_algo: 'cryptobox', enc_serializer: 'json' };
const SEALED = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);

describe('the parser', () => {
  it('takes one binary in place of Arguments when enc_algo is set, and nothing after it', () => {
    expect(parseMessage([MessageCode.Publish, 1, ENC, 'com.t', SEALED])).toMatchObject({ args: SEALED });
    expect(parseMessage([MessageCode.Event, 1, 2, ENC, SEALED])).toMatchObject({ args: SEALED });
    expect(parseMessage([MessageCode.Yield, 1, ENC, SEALED])).toMatchObject({ args: SEALED });
    expect(parseMessage([MessageCode.Error, MessageCode.Invocation, 1, ENC, 'com.e', SEALED])).toMatchObject({ args: SEALED });
    expect(() => parseMessage([MessageCode.Publish, 1, ENC, 'com.t', SEALED, {}])).toThrow(/\(ArgumentsKw\): expected nothing after a transparent/);
  });

  it('still refuses a binary Arguments without enc_algo', () => {
    expect(() => parseMessage([MessageCode.Publish, 1, {}, 'com.t', SEALED])).toThrow(/\(Arguments\): expected a list/);
    expect(() => parseMessage([MessageCode.Call, 1, { enc_algo: '' }, 'com.p', SEALED])).toThrow(/\(Arguments\): expected a list/);
  });
});

describe.each(SERIALIZERS)('encrypted payloads through the router over %s', (serializer) => {
  it('PUBLISH → EVENT: enc_* reach the subscriber, the binary is untouched', async () => {
    const router = await startTestRouter();
    const subscriber = await Raw.join(router.url, E2EE, { serializer });
    const publisher = await Raw.join(router.url, E2EE, { serializer });
    const subscription = await subscriber.subscribe('com.e2ee.t');
    publisher.send([MessageCode.Publish, publisher.nextRequest(), { ...ENC, enc_key: 'k1', acknowledge: true }, 'com.e2ee.t', SEALED]);
    expect((await publisher.next())[0]).toBe(MessageCode.Published);
    const event = await subscriber.expect(MessageCode.Event);
    expect(event).toHaveLength(5);
    expect(event.slice(0, 2)).toEqual([MessageCode.Event, subscription]);
    expect(event[3]).toEqual({ ...ENC, enc_key: 'k1' }); // acknowledge is the publisher's, not the event's
    expect(Buffer.from(event[4] as Uint8Array).equals(Buffer.from(SEALED))).toBe(true);
  });

  it('CALL → INVOCATION → YIELD → RESULT, and ERROR → ERROR', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, E2EE, { serializer });
    const caller = await Raw.join(router.url, E2EE, { serializer });
    await callee.register('com.e2ee.p');
    let request = caller.nextRequest();
    caller.send([MessageCode.Call, request, ENC, 'com.e2ee.p', SEALED]);
    const invocation = await callee.expect(MessageCode.Invocation);
    expect(invocation[3]).toEqual(ENC);
    expect(invocation).toHaveLength(5);
    expect(Buffer.from(invocation[4] as Uint8Array).equals(Buffer.from(SEALED))).toBe(true);
    callee.send([MessageCode.Yield, invocation[1], ENC, SEALED.subarray(8)]);
    const result = await caller.next();
    expect(result.slice(0, 3)).toEqual([MessageCode.Result, request, ENC]);
    expect(Buffer.from(result[3] as Uint8Array).equals(Buffer.from(SEALED.subarray(8)))).toBe(true);

    request = caller.nextRequest();
    caller.send([MessageCode.Call, request, ENC, 'com.e2ee.p', SEALED]);
    const second = await callee.expect(MessageCode.Invocation);
    callee.send([MessageCode.Error, MessageCode.Invocation, second[1], ENC, 'com.e2ee.error', SEALED.subarray(16)]);
    const error = await caller.next();
    expect(error.slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, ENC, 'com.e2ee.error']);
    expect(Buffer.from(error[5] as Uint8Array).equals(Buffer.from(SEALED.subarray(16)))).toBe(true);
  });
});

describe('the passthru rules apply to enc_algo as to ppt_scheme', () => {
  it('JSON carries the binary as "\\0" + base64, as autobahn-python writes it', async () => {
    const router = await startTestRouter();
    const subscriber = await Raw.join(router.url, E2EE, { serializer: 'json' });
    const publisher = await Raw.join(router.url, E2EE, { serializer: 'json' });
    await subscriber.subscribe('com.e2ee.json');
    const text = JSON.stringify([MessageCode.Publish, publisher.nextRequest(), ENC, 'com.e2ee.json', '\u0000' + Buffer.from(SEALED).toString('base64')]);
    expect(text).toContain('"\\u0000'); // the form autobahn-python's JSON serializer writes
    publisher.peer.sendRaw(text, false);
    // The JSON codec reads a "\0" + base64 string as binary: the router wrote the same form.
    const event = await subscriber.expect(MessageCode.Event);
    expect(event[3]).toEqual(ENC);
    expect(Buffer.from(event[4] as Uint8Array).equals(Buffer.from(SEALED))).toBe(true);
  });

  it('a publisher that announced neither payload_transparency nor payload_passthru_mode is aborted', async () => {
    const router = await startTestRouter();
    const publisher = await Raw.join(router.url, {}, { serializer: 'cbor' });
    publisher.send([MessageCode.Publish, 1, ENC, 'com.e2ee.t', SEALED]);
    const abort = await publisher.expectAbort(ErrorUri.ProtocolViolation);
    expect(String(asDict(abort[1])['message'])).toMatch(/enc_algo.*payload_transparency/);
  });

  it('a callee that cannot take it: the caller gets feature_not_supported; a router procedure: invalid_argument', async () => {
    const router = await startTestRouter();
    const plain = await Raw.join(router.url, {}, { serializer: 'msgpack' });
    const caller = await Raw.join(router.url, E2EE, { serializer: 'msgpack' });
    await plain.register('com.e2ee.plain');
    let request = caller.nextRequest();
    caller.send([MessageCode.Call, request, ENC, 'com.e2ee.plain', SEALED]);
    expect((await caller.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.FeatureNotSupported]);
    request = caller.nextRequest();
    caller.send([MessageCode.Call, request, ENC, 'wamp.session.count', SEALED]);
    expect((await caller.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.InvalidArgument]);
  });

  it('an ERROR with enc_algo from a callee that announced neither is a protocol violation, as a YIELD is (#16)', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, {}, { serializer: 'json' });
    const caller = await Raw.join(router.url, {}, { serializer: 'json' });
    await callee.register('com.e2ee.plainerr');
    const request = caller.nextRequest();
    caller.send([MessageCode.Call, request, {}, 'com.e2ee.plainerr', []]);
    const invocation = await callee.expect(MessageCode.Invocation);
    callee.send([MessageCode.Error, MessageCode.Invocation, invocation[1], { enc_algo: 'cryptobox' }, 'x.err', SEALED]);
    const abort = await callee.expectAbort(ErrorUri.ProtocolViolation);
    expect(String(asDict(abort[1])['message'])).toMatch(/ERROR with ppt_scheme or enc_algo/);
    // The caller never sees the binary: its call ends with an error of the router's.
    const answer = await caller.next();
    expect(answer.slice(0, 3)).toEqual([MessageCode.Error, MessageCode.Call, request]);
    expect(answer[3]).not.toHaveProperty('enc_algo');
    expect(answer[4]).not.toBe('x.err');
  });

  it('an ERROR with enc_algo for a caller that did not announce it: the caller gets feature_not_supported (#16)', async () => {
    const router = await startTestRouter();
    const callee = await Raw.join(router.url, E2EE, { serializer: 'cbor' });
    const caller = await Raw.join(router.url, {}, { serializer: 'cbor' });
    await callee.register('com.e2ee.err');
    const request = caller.nextRequest();
    caller.send([MessageCode.Call, request, {}, 'com.e2ee.err', []]);
    const invocation = await callee.expect(MessageCode.Invocation);
    callee.send([MessageCode.Error, MessageCode.Invocation, invocation[1], ENC, 'com.e2ee.error', SEALED]);
    expect((await caller.next()).slice(0, 5)).toEqual([MessageCode.Error, MessageCode.Call, request, {}, ErrorUri.FeatureNotSupported]);
  });
});
