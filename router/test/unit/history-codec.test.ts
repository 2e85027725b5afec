/**
 * The history record codec (router/src/history/codec.ts): what the durable engines store comes
 * back exactly — binary, integers past 2^53, unicode, nested kwargs, payload-passthru details,
 * publication filters — and a record that is not one decodes to undefined instead of throwing.
 */
import { describe, expect, it } from 'vitest';
import type { PublicationId } from '@switchboard/schemas';
import { msgpackCodec } from '@switchboard/schemas';
import { decodeRecord, encodeRecord } from '../../src/history/codec.js';
import type { HistoryEvent } from '../../src/history/store.js';

function event(over: Partial<HistoryEvent> = {}): HistoryEvent {
  return {
    at: 1_733_000_000_123,
    publication: 4_503_599_627_370_497 as PublicationId,
    topic: 'com.example.feed',
    details: {},
    args: undefined,
    kwargs: undefined,
    filter: {},
    ...over,
  };
}

function roundTrip(e: HistoryEvent): HistoryEvent {
  const decoded = decodeRecord(encodeRecord(e));
  expect(decoded).toBeDefined();
  return decoded!;
}

describe('history record codec', () => {
  it('an event without payload round-trips, absent args and kwargs stay absent', () => {
    const e = event();
    expect(roundTrip(e)).toStrictEqual(e);
  });

  it('binary payloads come back as the same bytes (in args, kwargs, and as a passthru payload)', () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255]);
    const out = roundTrip(event({ args: [bytes, { nested: bytes }], kwargs: { blob: new Uint8Array(0) } }));
    const args = out.args as unknown[];
    expect(args[0]).toBeInstanceOf(Uint8Array);
    expect([...(args[0] as Uint8Array)]).toEqual([0, 1, 2, 254, 255]);
    expect([...((args[1] as { nested: Uint8Array }).nested as Uint8Array)]).toEqual([0, 1, 2, 254, 255]);
    expect(out.kwargs?.['blob']).toBeInstanceOf(Uint8Array);
    expect((out.kwargs?.['blob'] as Uint8Array).length).toBe(0);

    // Payload passthru (ppt_*, enc_algo): the opaque payload in Arguments' place, and its details.
    const ppt = roundTrip(
      event({ args: new Uint8Array([9, 8, 7]), details: { ppt_scheme: 'x_custom', ppt_serializer: 'cbor', ppt_cipher: 'xsalsa20poly1305', ppt_keyid: 'k1' } }),
    );
    expect(ppt.args).toBeInstanceOf(Uint8Array);
    expect([...(ppt.args as Uint8Array)]).toEqual([9, 8, 7]);
    expect(ppt.details).toStrictEqual({ ppt_scheme: 'x_custom', ppt_serializer: 'cbor', ppt_cipher: 'xsalsa20poly1305', ppt_keyid: 'k1' });
  });

  it('integers past 2^53 and up to 64 bits come back as the same values the router holds', () => {
    // The router holds every decoded integer as a number (its codecs read 64-bit integers so):
    // each of these is an exact double, and comes back the same double.
    const values = [2 ** 53, 2 ** 53 + 2, 2 ** 60, 2 ** 63, 2 ** 64 - 2048, -(2 ** 62), -(2 ** 63), 2 ** 70, -1, 0, 2 ** 32, 0.1, -1.5e-300];
    const out = roundTrip(event({ args: values, kwargs: { deep: { n: 2 ** 60 + 2 ** 10 } } }));
    expect(out.args).toStrictEqual(values);
    expect(out.kwargs).toStrictEqual({ deep: { n: 2 ** 60 + 2 ** 10 } });
    // A BigInt (an in-process caller's) is written as a 64-bit integer and read as the router reads
    // one from any peer: the nearest double, as a live subscriber gets it.
    const big = roundTrip(event({ args: [2n ** 62n + 1n, -(2n ** 63n)] }));
    expect(big.args).toStrictEqual([Number(2n ** 62n + 1n), Number(-(2n ** 63n))]);
    expect(msgpackCodec.decode(encodeRecord(event({ args: [2n ** 62n] })))).toBeDefined();
  });

  it('unicode text comes back byte for byte: astral characters, NUL, lone combining marks', () => {
    const text = 'a\u0000b 😀 \u{10FFFF} e\u0301 日本語 \u2028';
    const out = roundTrip(event({ topic: 'com.例え.😀', args: [text], kwargs: { [text]: text } }));
    expect(out.topic).toBe('com.例え.😀');
    expect(out.args).toStrictEqual([text]);
    expect(out.kwargs).toStrictEqual({ [text]: text });
  });

  it('nested kwargs, details with publisher disclosure and filters round-trip exactly', () => {
    const e = event({
      details: { publisher: 123, publisher_authid: 'alice', publisher_authrole: 'user', x_custom: [1, { a: null }] },
      args: [[], {}, null, true, false, 'x'],
      kwargs: { a: { b: { c: [1, [2, [3, { d: 'e' }]]] } }, empty: {}, list: [] },
      filter: { excludeAuthid: ['mallory'], eligibleAuthrole: ['user', 'admin'], eligibleAuthid: [] },
    });
    expect(roundTrip(e)).toStrictEqual(e);
    // Each filter key on its own.
    for (const key of ['excludeAuthid', 'eligibleAuthid', 'excludeAuthrole', 'eligibleAuthrole'] as const) {
      const one = event({ filter: { [key]: ['x'] } });
      expect(roundTrip(one).filter).toStrictEqual({ [key]: ['x'] });
    }
  });

  it("a record's size is its encoded length, larger with a larger payload", () => {
    const small = encodeRecord(event());
    const large = encodeRecord(event({ args: ['x'.repeat(1000)] }));
    expect(large.length).toBeGreaterThan(small.length + 1000);
  });

  it('bytes that are not a record decode to undefined, never throw', () => {
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([0xc1]),
      new Uint8Array([0x93, 0x01, 0x02]), // truncated
      msgpackCodec.encode([1, 2, 3]) as Uint8Array,
      msgpackCodec.encode(['at', 1, 't', {}, null, null, null]) as Uint8Array,
      msgpackCodec.encode([1, 1, 't', [], null, null, null]) as Uint8Array,
      msgpackCodec.encode([1, 1, 't', {}, 'args', null, null]) as Uint8Array,
      msgpackCodec.encode([1, 1, 't', {}, null, [], null]) as Uint8Array,
      msgpackCodec.encode([1, 1, 't', {}, null, null, [1, 2]]) as Uint8Array,
      msgpackCodec.encode([1, 1, 't', {}, null, null, [[1], null, null, null]]) as Uint8Array,
      encodeRecord(event()).subarray(0, 10),
    ];
    for (const bytes of bad) expect(decodeRecord(bytes)).toBeUndefined();
  });
});
