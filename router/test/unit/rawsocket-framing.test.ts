/**
 * The pure framing code behind the transports, without sockets: RawSocket handshake octets, frame
 * headers (with the X bit for exactly 2^24 octets), the incremental parser under any chunking,
 * and batch splitting.
 */
import { describe, expect, it } from 'vitest';
import { BatchError, batchElement, batchElementOfString, splitBatch } from '../../src/transports/batch.js';
import {
  FrameParser,
  FrameType,
  frame,
  handshakeErrorReply,
  handshakeReply,
  lengthExponentFor,
  parseHandshake,
  writeFrameHeader,
} from '../../src/transports/rawsocket-framing.js';
import type { FrameTypeCode } from '../../src/transports/rawsocket-framing.js';

function collect(max: number): { parser: FrameParser; frames: { type: FrameTypeCode; payload: Buffer }[]; errors: string[] } {
  const frames: { type: FrameTypeCode; payload: Buffer }[] = [];
  const errors: string[] = [];
  const parser = new FrameParser(max, {
    onFrame: (type, payload) => frames.push({ type, payload: Buffer.from(payload) }),
    onFramingError: (reason) => errors.push(reason),
  });
  return { parser, frames, errors };
}

describe('RawSocket handshake octets', () => {
  it('parses serializer, maximum length and reserved octets', () => {
    expect(parseHandshake(Uint8Array.from([0x7f, 0xf2, 0, 0]))).toEqual({ magic: true, serializerId: 2, maxMessageBytes: 2 ** 24, reservedBits: false });
    expect(parseHandshake(Uint8Array.from([0x7f, 0x01, 0, 1]))).toEqual({ magic: true, serializerId: 1, maxMessageBytes: 512, reservedBits: true });
    expect(parseHandshake(Uint8Array.from([0x47, 0x45, 0x54, 0x20])).magic).toBe(false); // "GET "
  });

  it('builds replies: the serializer echoed with our maximum, or an error code in the upper nibble', () => {
    expect([...handshakeReply(3, 20)]).toEqual([0x7f, 0xb3, 0, 0]);
    expect([...handshakeErrorReply(4)]).toEqual([0x7f, 0x40, 0, 0]);
  });

  it.each([
    [100, 9],
    [512, 9],
    [1000, 9],
    [1024, 10],
    [1048576, 20],
    [2 ** 24, 24],
    [2 ** 26, 24],
  ])('announces 2^e ≤ %i octets: e = %i', (bytes, exponent) => {
    expect(lengthExponentFor(bytes)).toBe(exponent);
  });
});

describe('RawSocket frames', () => {
  it('sets the X bit, and only it, for a payload of exactly 2^24 octets', () => {
    const header = Buffer.alloc(4);
    writeFrameHeader(header, 0, FrameType.Message, 2 ** 24);
    expect([...header]).toEqual([0x08, 0, 0, 0]);
    writeFrameHeader(header, 0, FrameType.Ping, 2 ** 24 - 1);
    expect([...header]).toEqual([0x01, 0xff, 0xff, 0xff]);
  });

  it('reads a 2^24-octet frame announced with the X bit', () => {
    const { parser, frames, errors } = collect(2 ** 24);
    const payload = Buffer.alloc(2 ** 24, 0x61);
    parser.push(frame(FrameType.Message, payload));
    expect(errors).toEqual([]);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.length).toBe(2 ** 24);
  });

  it('yields the same frames however the stream is cut into chunks', () => {
    const sent = [Buffer.from('[1,"realm1",{}]'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('pong')];
    const types: FrameTypeCode[] = [FrameType.Message, FrameType.Ping, FrameType.Message, FrameType.Pong];
    const stream = Buffer.concat(sent.map((p, i) => frame(types[i]!, p)));
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 50; round++) {
      const { parser, frames, errors } = collect(1 << 20);
      let at = 0;
      while (at < stream.length) {
        const size = round === 0 ? 1 : 1 + Math.floor(random() * 9000);
        parser.push(stream.subarray(at, at + size));
        at += size;
      }
      expect(errors).toEqual([]);
      expect(frames.map((f) => f.type)).toEqual(types);
      // Buffer#equals: vitest's deep equality walks a 70 kB buffer one element at a time.
      expect(frames.map((f, i) => f.payload.equals(sent[i]!))).toEqual([true, true, true, true]);
    }
  });

  it('stops at the first broken header and ignores everything after it', () => {
    const { parser, frames, errors } = collect(1024);
    parser.push(
      Buffer.concat([frame(FrameType.Message, Buffer.from('[1]')), Buffer.from([0x40, 0, 0, 1, 0x5b]), frame(FrameType.Message, Buffer.from('[2]'))]),
    );
    expect(frames).toHaveLength(1);
    expect(errors).toEqual(['reserved bits set in a frame header (first octet 0x40)']);
    expect(parser.failed).toBe(true);
    parser.push(frame(FrameType.Message, Buffer.from('[3]')));
    expect(frames).toHaveLength(1);
  });
});

describe('batches', () => {
  it('frames and splits JSON and binary batches', () => {
    const json = Buffer.concat([batchElementOfString('[1]'), batchElement(Buffer.from('[2,"ü"]'), true)]);
    expect(json.toString()).toBe('[1]\x1e[2,"ü"]\x1e');
    expect(splitBatch(json, true).map((m) => Buffer.from(m).toString())).toEqual(['[1]', '[2,"ü"]']);
    const binary = Buffer.concat([batchElement(Uint8Array.from([0x91, 1]), false), batchElement(Uint8Array.from([0x90]), false)]);
    expect([...binary]).toEqual([0, 0, 0, 2, 0x91, 1, 0, 0, 0, 1, 0x90]);
    expect(splitBatch(binary, false).map((m) => [...m])).toEqual([[0x91, 1], [0x90]]);
  });

  it.each<[string, Buffer, boolean, RegExp]>([
    ['an empty batch', Buffer.alloc(0), true, /empty batch/],
    ['a missing separator', Buffer.from('[1]\x1e[2]'), true, /does not end with the record separator 0x1E \(3 octets after the last one\)/],
    ['an empty message', Buffer.from('\x1e'), true, /empty message at octet 0/],
    ['a truncated prefix', Buffer.from([0, 0, 0, 1, 0x90, 0, 0]), false, /truncated length prefix at octet 5/],
    ['an overrun', Buffer.from([0, 0, 1, 0, 0x90]), false, /message of 256 octets at octet 0 overruns a batch of 5 octets/],
  ])('rejects %s', (_name, bytes, text, reason) => {
    expect(() => splitBatch(bytes, text)).toThrow(BatchError);
    expect(() => splitBatch(bytes, text)).toThrow(reason);
  });
});
