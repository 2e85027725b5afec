/**
 * The bare-`ws` baseline: the obvious forwarder someone would write in an afternoon, so the router
 * is measured against "what does a plain WebSocket relay cost on this machine".
 *
 * It speaks just enough WAMP for the bench's load generator: WELCOME for HELLO, SUBSCRIBED and
 * REGISTERED with counters for IDs, PUBLISH → EVENT to each subscriber of the topic (the
 * publisher excluded, as WAMP does) plus PUBLISHED when asked, CALL → INVOCATION to the one callee,
 * YIELD → RESULT to the caller. No validation, no realms, no auth, no backpressure.
 *
 * Each PUBLISH is JSON.parse'd once and its EVENT JSON.stringify'd ONCE; the same string then
 * goes to every subscriber with one ws.send each (so the baseline already serializes once, like
 * the router's design).
 *
 * It speaks the three WAMP serializers (`wamp.2.json`, `wamp.2.msgpack`, `wamp.2.cbor`) the
 * obvious way: each session's frames are decoded and encoded with that serializer's library
 * (JSON.parse/stringify, msgpackr, cbor-x: the libraries the router's codecs build on, without
 * their validation), so a msgpack run compares the router with a msgpack forwarder. Sessions of
 * different serializers on one topic each get the EVENT in their own (encoded once per serializer).
 *
 *   node dist/baseline.js --port N [--host 127.0.0.1] [--mode plain|corked]
 *
 * --mode corked: before the first send to a socket in a turn of the event loop the socket is
 * corked, and every corked socket is uncorked in one setImmediate, so a burst of frames to one
 * peer leaves in one write(2) instead of one per frame.
 */
import type { Socket } from 'node:net';
import { Encoder } from 'cbor-x';
import { Packr } from 'msgpackr';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const host = flag('host', '127.0.0.1');
const port = Number(flag('port', '0'));
const corked = flag('mode', 'plain') === 'corked';

/** One serializer: frames in, a value out, and back. */
interface Serializer {
  readonly index: number;
  decode(data: Buffer): unknown;
  encode(message: unknown[]): string | Uint8Array;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false, pack: false });

const SERIALIZERS: Record<string, Serializer> = {
  'wamp.2.json': { index: 0, decode: (data) => JSON.parse(data.toString()), encode: (message) => JSON.stringify(message) },
  'wamp.2.msgpack': { index: 1, decode: (data) => packr.unpack(data), encode: (message) => packr.pack(message) },
  'wamp.2.cbor': { index: 2, decode: (data) => cbor.decode(data), encode: (message) => cbor.encode(message) },
};

interface Peer {
  readonly ws: WebSocket;
  readonly socket: Socket;
  readonly topics: Set<string>;
  readonly serializer: Serializer;
}

interface Topic {
  readonly id: number;
  readonly subscribers: Set<Peer>;
}

interface Pending {
  readonly caller: Peer;
  readonly request: unknown;
}

const topics = new Map<string, Topic>();
const procedures = new Map<string, { id: number; callee: Peer }>();
const invocations = new Map<number, Pending>();
let lastId = 0;

const corkedSockets = new Set<Socket>();
let uncorkScheduled = false;

function uncorkAll(): void {
  uncorkScheduled = false;
  for (const socket of corkedSockets) socket.uncork();
  corkedSockets.clear();
}

function send(peer: Peer, text: string | Uint8Array): void {
  if (corked && !corkedSockets.has(peer.socket)) {
    peer.socket.cork();
    corkedSockets.add(peer.socket);
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      setImmediate(uncorkAll);
    }
  }
  peer.ws.send(text);
}

/** Encodes `message` for `peer`, once per serializer per message (`frames` caches it). */
function frameFor(peer: Peer, message: unknown[], frames: (string | Uint8Array | undefined)[]): string | Uint8Array {
  const i = peer.serializer.index;
  return (frames[i] ??= peer.serializer.encode(message));
}

function reply(peer: Peer, message: unknown[]): void {
  send(peer, peer.serializer.encode(message));
}

function onMessage(peer: Peer, data: Buffer): void {
  const parsed: unknown = peer.serializer.decode(data);
  if (!Array.isArray(parsed)) return;
  const m: unknown[] = parsed;
  switch (m[0]) {
    case 1: // HELLO
      reply(peer, [2, ++lastId, { roles: { broker: {}, dealer: {} } }]);
      return;
    case 32: {
      // SUBSCRIBE [32, Request, Options, Topic]
      const name = String(m[3]);
      let topic = topics.get(name);
      if (topic === undefined) {
        topic = { id: ++lastId, subscribers: new Set() };
        topics.set(name, topic);
      }
      topic.subscribers.add(peer);
      peer.topics.add(name);
      reply(peer, [33, m[1], topic.id]);
      return;
    }
    case 16: {
      // PUBLISH [16, Request, Options, Topic, Arguments?, ArgumentsKw?]
      const publication = ++lastId;
      const topic = topics.get(String(m[3]));
      if (topic !== undefined) {
        const event: unknown[] = [36, topic.id, publication, {}];
        if (m.length > 4) event.push(...m.slice(4));
        const frames: (string | Uint8Array | undefined)[] = [];
        for (const subscriber of topic.subscribers) if (subscriber !== peer) send(subscriber, frameFor(subscriber, event, frames));
      }
      const options = m[2];
      if (typeof options === 'object' && options !== null && 'acknowledge' in options && options.acknowledge === true) {
        reply(peer, [17, m[1], publication]);
      }
      return;
    }
    case 64: {
      // REGISTER [64, Request, Options, Procedure]
      const id = ++lastId;
      procedures.set(String(m[3]), { id, callee: peer });
      reply(peer, [65, m[1], id]);
      return;
    }
    case 48: {
      // CALL [48, Request, Options, Procedure, Arguments?, ArgumentsKw?] → INVOCATION
      const procedure = procedures.get(String(m[3]));
      if (procedure === undefined) {
        reply(peer, [8, 48, m[1], {}, 'wamp.error.no_such_procedure']);
        return;
      }
      const invocation = ++lastId;
      invocations.set(invocation, { caller: peer, request: m[1] });
      const out: unknown[] = [68, invocation, procedure.id, {}];
      if (m.length > 4) out.push(...m.slice(4));
      reply(procedure.callee, out);
      return;
    }
    case 70: {
      // YIELD [70, INVOCATION.Request, Options, Arguments?, ArgumentsKw?] → RESULT
      const invocation = Number(m[1]);
      const pending = invocations.get(invocation);
      if (pending === undefined) return;
      invocations.delete(invocation);
      const out: unknown[] = [50, pending.request, {}];
      if (m.length > 3) out.push(...m.slice(3));
      reply(pending.caller, out);
      return;
    }
    case 6: // GOODBYE
      reply(peer, [6, {}, 'wamp.close.goodbye_and_out']);
      peer.ws.close(1000);
      return;
    default:
      return;
  }
}

function onClose(peer: Peer): void {
  for (const name of peer.topics) topics.get(name)?.subscribers.delete(peer);
  for (const [name, procedure] of procedures) if (procedure.callee === peer) procedures.delete(name);
  corkedSockets.delete(peer.socket);
}

const server = new WebSocketServer({
  host,
  port,
  perMessageDeflate: false,
  handleProtocols: (protocols) => {
    for (const p of protocols) if (SERIALIZERS[p] !== undefined) return p;
    return false;
  },
});

server.on('connection', (ws, request) => {
  // The upgrade request's socket is the one `ws` writes to, so corking it corks the frames.
  const serializer = SERIALIZERS[ws.protocol];
  if (serializer === undefined) {
    ws.close(1002);
    return;
  }
  const peer: Peer = { ws, socket: request.socket, topics: new Set(), serializer };
  ws.on('message', (data) => {
    // binaryType is the default 'nodebuffer': one Buffer per message.
    if (!Buffer.isBuffer(data)) return;
    try {
      onMessage(peer, data);
    } catch {
      ws.close(1007);
    }
  });
  ws.on('close', () => onClose(peer));
  ws.on('error', () => ws.terminate());
});

// The orchestrator holds our stdin: when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
