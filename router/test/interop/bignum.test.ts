/**
 * CBOR bignums (tags 2 and 3, RFC 8949 §3.4.3) relayed to a JSON peer.
 *
 * autobahn-js's CBOR codec (node-cbor) writes every BigInt as a bignum, and it decodes the
 * router's own uint64 2^53 into a BigInt, so an autobahn CBOR peer that echoes a value it received
 * sends `c2 47 20 00 00 00 00 00 00`. The router's CBOR decoder turns that into a BigInt, and
 * JSON.stringify throws on BigInt, so before the JSON codec mapped BigInt to a number the throw
 * landed in the *sender's* frame handler: the sender was aborted, the JSON peer got nothing, and a
 * caller's call was never answered.
 *
 * These tests state what the spec asks: the value arrives and nobody is aborted.
 */
import { describe, expect, it } from 'vitest';
import autobahn from 'autobahn';
import { CODECS, MessageCode } from '@switchboard/schemas';
import { RawPeer, startTestRouter, within } from '../helpers.js';
import { autobahnInbox, connectAutobahn, uri } from './clients.js';

/** One CBOR data item, as the router's codec writes it (strips the array(1) head byte). */
function cborItem(value: unknown): Uint8Array {
  return (CODECS.cbor.encode([value]) as Uint8Array).subarray(1);
}

/** CBOR tag 2 (unsigned bignum) for 2^53: `c2 47 20 00 00 00 00 00 00`. */
const BIGNUM_2_53 = Uint8Array.from([0xc2, 0x47, 0x20, 0, 0, 0, 0, 0, 0]);

/** A CBOR array of `items`, each already encoded. */
function cborArray(...items: Uint8Array[]): Uint8Array {
  if (items.length > 23) throw new Error('short arrays only');
  return Buffer.concat([Uint8Array.of(0x80 + items.length), ...items]);
}

describe('CBOR bignums relayed to JSON peers', () => {
  it('PUBLISH from CBOR with a bignum 2^53: the JSON subscriber gets 9007199254740992 and the publisher its PUBLISHED', async () => {
    const router = await startTestRouter();
    const topic = uri('bignum');
    const subscriber = await RawPeer.join(router.url, 'json');
    subscriber.send([MessageCode.Subscribe, subscriber.nextRequest(), {}, topic]);
    expect((await subscriber.next())[0]).toBe(MessageCode.Subscribed);
    const publisher = await RawPeer.join(router.url, 'cbor');

    // [PUBLISH, 1, {acknowledge: true}, topic, [2^53 as tag-2 bignum]]
    publisher.sendRaw(cborArray(cborItem(MessageCode.Publish), cborItem(1), cborItem({ acknowledge: true }), cborItem(topic), cborArray(BIGNUM_2_53)), true);

    const reply = await publisher.next(1000);
    expect(reply[0], `publisher got ${JSON.stringify(reply)}`).toBe(MessageCode.Published);
    const event = await subscriber.next();
    expect(event[0]).toBe(MessageCode.Event);
    expect(event[4]).toEqual([2 ** 53]);
  });

  it('YIELD from CBOR with a bignum 2^53: the JSON caller gets its RESULT', async () => {
    const router = await startTestRouter();
    const procedure = uri('bignum');
    const callee = await RawPeer.join(router.url, 'cbor');
    callee.send([MessageCode.Register, callee.nextRequest(), {}, procedure]);
    expect((await callee.next())[0]).toBe(MessageCode.Registered);
    const caller = await RawPeer.join(router.url, 'json');
    caller.send([MessageCode.Call, caller.nextRequest(), {}, procedure, []]);
    const invocation = await callee.next();
    expect(invocation[0]).toBe(MessageCode.Invocation);

    // [YIELD, INVOCATION.Request, {}, [2^53 as tag-2 bignum]]
    callee.sendRaw(cborArray(cborItem(MessageCode.Yield), cborItem(invocation[1]), cborItem({}), cborArray(BIGNUM_2_53)), true);

    const result = await caller.next(1000);
    expect(result[0], `caller got ${JSON.stringify(result)}`).toBe(MessageCode.Result);
    expect(result[3]).toEqual([2 ** 53]);
    expect(await callee.silentFor(100), 'the callee must not be aborted').toBe(true);
  });

  it('autobahn-js: a CBOR callee echoing 2^53 back to a JSON caller (node-cbor sends it as a bignum)', async () => {
    const router = await startTestRouter();
    const [caller, callee] = await Promise.all([connectAutobahn(router.url, 'json'), connectAutobahn(router.url, 'cbor')]);
    const procedure = uri('echo');
    await within(
      callee.session.register(procedure, (args) => new autobahn.Result(args)),
      3000,
      'REGISTERED',
    );
    const result = await within(caller.session.call(procedure, [2 ** 53, 2 ** 53 - 1]), 1000, 'RESULT');
    expect((result as autobahn.Result).args).toEqual([2 ** 53, 2 ** 53 - 1]);
  });

  it('the same through pub/sub: an autobahn CBOR peer republishing 2^53 reaches a JSON subscriber', async () => {
    const router = await startTestRouter();
    const [publisher, subscriber] = await Promise.all([connectAutobahn(router.url, 'cbor'), connectAutobahn(router.url, 'json')]);
    const topic = uri('republish');
    const { inbox } = await autobahnInbox(subscriber, topic);
    const acked = publisher.session.publish(topic, [BigInt(2 ** 53)], {}, { acknowledge: true });
    await within(acked!, 1000, 'PUBLISHED');
    expect((await inbox.next(1000)).args).toEqual([2 ** 53]);
  });
});
