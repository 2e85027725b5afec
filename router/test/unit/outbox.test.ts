/**
 * The outbox: every message the router sends is encoded, handed to the transport and counted
 * here; an unserializable one is counted and logged here; a refusal by the transport (its outbound
 * budget, or a closed peer) is reported, not counted; an EVENT is encoded once per subscription
 * per serializer whatever the number of subscribers; an in-process peer gets objects.
 */
import { describe, expect, it } from 'vitest';
import type { Codec, Event, PublicationId, RegistrationId, RequestId, SubscriptionId, WampMessage } from '@switchboard/schemas';
import { MessageCode, jsonCodec, msgpackCodec, toWire } from '@switchboard/schemas';
import { FanOutEvent, Outbox } from '../../src/core/outbox.js';
import { silentLogger } from '../../src/log.js';
import { RouterStats } from '../../src/stats.js';
import { FakeLocalPeer, FakePeer, capturingLogger } from './fakes.js';

const RESULT: WampMessage = { code: MessageCode.Result, request: 7 as RequestId, details: {}, args: [1] };

/** JSON that refuses to encode anything carrying the string 'unencodable'. */
const picky: Codec = {
  ...jsonCodec,
  encode: (message) => {
    if (JSON.stringify(message).includes('unencodable')) throw new Error('cannot encode');
    return jsonCodec.encode(message);
  },
};

function event(): Event {
  return { code: MessageCode.Event, subscription: 5 as SubscriptionId, publication: 9 as PublicationId, details: {}, args: ['hi'] };
}

/** A FanOutEvent that counts its encodings. */
function fanOut(log = silentLogger()): { event: FanOutEvent; encodings: Codec[] } {
  const encodings: Codec[] = [];
  const shared = new FanOutEvent(
    log,
    'realm1',
    1 as SubscriptionId,
    1 as PublicationId,
    (codec) => {
      encodings.push(codec);
      return codec.encode(toWire(event()));
    },
    event,
  );
  return { event: shared, encodings };
}

describe('Outbox.send', () => {
  it('encodes, sends and counts', () => {
    const stats = new RouterStats();
    const peer = new FakePeer();
    const outbox = new Outbox(peer, stats, silentLogger());
    expect(outbox.send(RESULT)).toBe('sent');
    expect(outbox.send({ code: MessageCode.Invocation, request: 1 as RequestId, registration: 2 as RegistrationId, details: {} })).toBe('sent');
    expect(peer.received).toEqual([
      [MessageCode.Result, 7, {}, [1]],
      [MessageCode.Invocation, 1, 2, {}],
    ]);
    expect(stats.messagesOut[MessageCode.Result]).toBe(1);
    expect(stats.messagesOut[MessageCode.Invocation]).toBe(1);
  });

  it('reports an unserializable message: counted by serializer and type, logged once, nothing sent', () => {
    const stats = new RouterStats();
    const peer = new FakePeer(picky);
    const { log, lines } = capturingLogger();
    const outbox = new Outbox(peer, stats, log);
    outbox.session = 42;
    expect(outbox.send({ ...RESULT, args: ['unencodable'] } as WampMessage)).toBe('unserializable');
    expect(peer.received).toEqual([]);
    expect(stats.messagesOut[MessageCode.Result]).toBe(0);
    expect(stats.unserializable.get('json result')).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ session: 42, serializer: 'json', msg: 'cannot serialize RESULT' })]);
  });

  it('reports a refusal by the transport (budget or closed) as gone, uncounted', () => {
    const stats = new RouterStats();
    const peer = new FakePeer();
    peer.accepts = false;
    const outbox = new Outbox(peer, stats, silentLogger());
    expect(outbox.send(RESULT)).toBe('gone');
    expect(stats.messagesOut[MessageCode.Result]).toBe(0);
  });

  it('uses a custom encoder and may leave its messages uncounted (a cluster stand-in)', () => {
    const stats = new RouterStats();
    const sent: (string | Uint8Array)[] = [];
    const peer = Object.assign(new FakePeer(msgpackCodec), { send: (frame: string | Uint8Array) => (sent.push(frame), true) });
    const outbox = new Outbox(peer, stats, silentLogger(), { encode: () => new Uint8Array([1, 2, 3]), counted: false });
    expect(outbox.send(RESULT)).toBe('sent');
    expect(sent).toEqual([new Uint8Array([1, 2, 3])]);
    expect(stats.messagesOut[MessageCode.Result]).toBe(0);
  });

  it('hands an in-process peer the message object, never encoding it', () => {
    const stats = new RouterStats();
    const peer = new FakeLocalPeer(picky);
    const outbox = new Outbox(peer, stats, silentLogger());
    const msg = { ...RESULT, args: ['unencodable'] } as WampMessage;
    expect(outbox.send(msg)).toBe('sent');
    expect(peer.messages).toEqual([msg]);
    expect(peer.messages[0]).toBe(msg);
    expect(peer.received).toEqual([]);
    expect(stats.messagesOut[MessageCode.Result]).toBe(1);
  });
});

describe('Outbox.sendEvent (shared frames)', () => {
  it('encodes an EVENT once per serializer for all subscribers; every one of them gets the same SharedFrame', () => {
    const stats = new RouterStats();
    const json = [new FakePeer(), new FakePeer(), new FakePeer()];
    const msgpack = [new FakePeer(msgpackCodec), new FakePeer(msgpackCodec)];
    const { event: shared, encodings } = fanOut();
    for (const peer of [...json, ...msgpack]) expect(new Outbox(peer, stats, silentLogger()).sendEvent(shared)).toBe('sent');
    expect(encodings).toEqual([jsonCodec, msgpackCodec]);
    expect(new Set(json.map((p) => p.shared[0]))).toHaveLength(1);
    expect(new Set(msgpack.map((p) => p.shared[0]))).toHaveLength(1);
    expect(json[0]!.shared[0]).not.toBe(msgpack[0]!.shared[0]);
    for (const peer of [...json, ...msgpack]) expect(peer.received).toEqual([[MessageCode.Event, 5, 9, {}, ['hi']]]);
    expect(stats.messagesOut[MessageCode.Event]).toBe(5);
  });

  it('counts an unserializable EVENT per subscriber, logs it once per serializer', () => {
    const stats = new RouterStats();
    const { log, lines } = capturingLogger();
    let encodings = 0;
    const shared = new FanOutEvent(
      log,
      'realm1',
      1 as SubscriptionId,
      1 as PublicationId,
      () => {
        encodings++;
        throw new Error('cannot encode');
      },
      event,
    );
    const peers = [new FakePeer(), new FakePeer()];
    for (const peer of peers) expect(new Outbox(peer, stats, silentLogger()).sendEvent(shared)).toBe('unserializable');
    expect(encodings).toBe(1);
    expect(stats.unserializable.get('json event')).toBe(2);
    expect(stats.messagesOut[MessageCode.Event]).toBe(0);
    expect(lines).toEqual([
      expect.objectContaining({ realm: 'realm1', serializer: 'json', msg: 'cannot serialize EVENT: not delivered to these subscribers' }),
    ]);
  });

  it('reports an EVENT the transport drops (over its soft limit) as gone, uncounted', () => {
    const stats = new RouterStats();
    const peer = new FakePeer();
    peer.accepts = false;
    expect(new Outbox(peer, stats, silentLogger()).sendEvent(fanOut().event)).toBe('gone');
    expect(stats.messagesOut[MessageCode.Event]).toBe(0);
  });

  it('gives in-process subscribers one shared EVENT object and encodes nothing', () => {
    const stats = new RouterStats();
    const { event: shared, encodings } = fanOut();
    const peers = [new FakeLocalPeer(), new FakeLocalPeer()];
    for (const peer of peers) expect(new Outbox(peer, stats, silentLogger()).sendEvent(shared)).toBe('sent');
    expect(encodings).toEqual([]);
    expect(peers[0]!.messages[0]).toBe(peers[1]!.messages[0]);
    expect(peers[0]!.messages[0]).toEqual(event());
    expect(stats.messagesOut[MessageCode.Event]).toBe(2);
  });
});

describe('Outbox.sendEventSurely and eventBytes (a catch-up hold)', () => {
  it('sends the shared encoding through the must-arrive path, not the droppable one, and counts it', () => {
    const stats = new RouterStats();
    const peer = new FakePeer();
    const outbox = new Outbox(peer, stats, silentLogger());
    const { event, encodings } = fanOut();
    expect(outbox.eventBytes(event)).toBe(jsonCodec.encode(toWire(event.message())).length);
    expect(outbox.sendEventSurely(event)).toBe('sent');
    expect(peer.shared).toEqual([]);
    expect(peer.received).toEqual([toWire(event.message())]);
    // Measured, then sent: encoded once.
    expect(encodings).toEqual([jsonCodec]);
    expect(stats.messagesOut[MessageCode.Event]).toBe(1);
    peer.accepts = false;
    expect(outbox.sendEventSurely(event)).toBe('gone');
  });

  it('an in-process peer gets the shared object; its cost is the payload estimate', () => {
    const peer = new FakeLocalPeer();
    const outbox = new Outbox(peer, new RouterStats(), silentLogger());
    const { event, encodings } = fanOut();
    expect(outbox.eventBytes(event)).toBeGreaterThan(0);
    expect(outbox.sendEventSurely(event)).toBe('sent');
    expect(peer.messages).toEqual([event.message()]);
    expect(encodings).toEqual([]);
  });
});
