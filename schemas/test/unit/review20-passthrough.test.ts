/**
 * Review of payload passthrough (#20): defects found by an adversarial review. Each test fails on
 * 63d697a and states what a fix must give. See findings.md at the repository root.
 */
import { describe, expect, it } from 'vitest';
import { CODECS, PASSTHROUGH, carryPayload, encodeMessage, joined, parseMessage, rawPayloadOf } from '../../src/index.js';
import type { DecodeOptions, Event, Publish } from '../../src/index.js';

const PASS: DecodeOptions = { passthrough: PASSTHROUGH };
const json = CODECS.json;

/** The bytes a JSON payload passed through keeps for the splice (JsonRaw's suffix). */
function suffixOf(msg: object): Uint8Array {
  const raw = rawPayloadOf(msg);
  expect(raw).toBeDefined();
  return (raw!.tail as unknown as { suffix: Uint8Array }).suffix;
}

describe('review #20: memory held by a JSON payload passed through', () => {
  it('a small payload behind a large head does not keep the whole frame alive (JSON, as the binary codecs do)', () => {
    // A PUBLISH whose options are 200 kB and whose payload is `[1]`: the payload is all a queued
    // EVENT, a catch-up hold or a resume ring counts, so it must not pin the 200 kB frame.
    const frame = Buffer.from(`[16,1,{"note":"${'y'.repeat(200_000)}"},"com.example.topic",[1]]`);
    const msg = parseMessage(json.decode(frame, PASS));
    const suffix = suffixOf(msg);
    expect(Buffer.from(suffix).toString()).toBe(',[1]]');
    // ownBytes's rule: a view is kept only while it is at least half of its buffer.
    expect(suffix.buffer.byteLength).toBeLessThanOrEqual(Math.max(2 * suffix.byteLength, 8192));
    // MessagePack, the same message: the split copies the small tail (the rule JSON misses).
    const packed = CODECS.msgpack.encode([16, 1, { note: 'y'.repeat(200_000) }, 'com.example.topic', [1]]) as Uint8Array;
    const binary = rawPayloadOf(parseMessage(CODECS.msgpack.decode(packed, PASS)))!.tail.encoded as Uint8Array;
    expect(binary.buffer.byteLength).toBeLessThanOrEqual(8192);
  });

  it('a JSON payload passed through from bytes is held once (the frame), not also as its text', () => {
    // Mostly ASCII with one character outside Latin-1: the decoded text is a two-byte string,
    // twice the frame's bytes, and `encoded` (a slice of it) keeps all of it beside the frame.
    const payload = `${'z'.repeat(300_000)}€`;
    const frame = Buffer.from(`[16,1,{},"com.example.topic",["${payload}"]]`);
    const msg = parseMessage(json.decode(frame, PASS));
    const raw = rawPayloadOf(msg)!;
    const suffix = suffixOf(msg);
    expect(suffix.byteLength).toBeGreaterThan(300_000);
    // No text is kept beside the bytes: the elements' text is read from them when asked for (a
    // change to the bytes shows in it), so the payload is held once.
    suffix[10] = 0x79; // 'y'
    const encoded = raw.tail.encoded as string;
    expect(encoded.charCodeAt(9)).toBe(0x79);
    expect((msg as Publish).args![0]).toBe(`${'z'.repeat(7)}y${'z'.repeat(300_000 - 8)}€`);
  });
});

describe('review #20: a message whose raw payload holds Arguments only', () => {
  const frame = Buffer.from(`[16,1,{},"com.example.topic",["${'a'.repeat(1100)}"]]`);

  it('assigning kwargs drops the raw bytes (payload.ts promises it) and the kwargs go on the wire', () => {
    const msg = parseMessage(json.decode(frame, PASS)) as Publish;
    expect(rawPayloadOf(msg)).toBeDefined();
    msg.kwargs = { added: true };
    expect(rawPayloadOf(msg)).toBeUndefined();
    for (const codec of [json, CODECS.msgpack]) {
      const again = parseMessage(codec.decode(joined(encodeMessage(codec, msg)))) as Publish;
      expect(again.kwargs).toEqual({ added: true });
      expect(again.args).toEqual(['a'.repeat(1100)]);
    }
  });

  it('an EVENT carrying that payload (carryPayload) keeps kwargs assigned to it', () => {
    const publish = parseMessage(json.decode(frame, PASS)) as Publish;
    const event = carryPayload<Event>({ code: 36, subscription: 5, publication: 6, details: {} } as Event, publish);
    event.kwargs = { added: true };
    const again = parseMessage(json.decode(joined(encodeMessage(json, event)))) as Event;
    expect(again.kwargs).toEqual({ added: true });
  });
});

describe('review #20: JSON numbers outside the WAMP data model', () => {
  // [bp_serializations] integers are 64-bit at most. The full decode reads a longer integer as a
  // double and the router writes that double; MessagePack and CBOR refuse one. Passed through, the
  // publisher's digits reach every JSON subscriber as they are: a Python or Go client reads an
  // integer no 64-bit type holds (and fails to re-serialize it), what the router itself, its
  // history and its msgpack/CBOR subscribers read is the rounded double.
  for (const digits of ['123456789012345678901234567890', '18446744073709551616', '-9223372036854775809']) {
    it(`an integer of ${digits.length} digits (${digits}) is not passed on verbatim`, () => {
      const frame = Buffer.from(`[16,1,{},"com.example.topic",["${'a'.repeat(1100)}",${digits}]]`);
      const msg = parseMessage(json.decode(frame, PASS));
      const out = Buffer.from(joined(encodeMessage(json, msg))).toString();
      expect(out).toContain(`,${JSON.stringify(Number(digits))}]`);
    });
  }
});
