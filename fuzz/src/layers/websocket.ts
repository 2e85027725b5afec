/**
 * WebSocket, every serializer, plain and batched subprotocols: protocol scripts (before HELLO,
 * hostile sessions, bursts, after GOODBYE) and serializer-level bad frames, sent without waiting
 * for answers. The connection ends when the router closes it or shortly after the last frame.
 */
import WebSocket from 'ws';
import type { SerializerName } from '@switchboard/schemas';
import { SERIALIZER_NAMES } from '@switchboard/schemas';
import type { Frame } from '../protocol.js';
import { script } from '../protocol.js';
import type { Rng } from '../rng.js';
import type { Endpoints } from '../target.js';
import type { Layer, Shot } from './shot.js';
import { dumpFrame, preview } from './shot.js';

/** A batched frame: JSON elements each followed by 0x1E; binary ones each after a 4-octet length. */
function batch(frames: Frame[], binary: boolean): Frame {
  if (!binary) return frames.map((f) => (typeof f === 'string' ? f : Buffer.from(f).toString('latin1')) + '\u001e').join('');
  const parts: Buffer[] = [];
  for (const f of frames) {
    const b = typeof f === 'string' ? Buffer.from(f) : Buffer.from(f);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

export function sendOver(ws: WebSocket, frame: Frame): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  ws.send(frame, { binary: typeof frame !== 'string' });
}

/** Opens `url` with `protocol`, sends `frames`, then waits (bounded) for the router to answer or close. */
export function runWebSocket(url: string, protocol: string, frames: Frame[], lingerMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, [protocol], { maxPayload: 64 * 1024 * 1024 });
    } catch {
      // ws refuses to offer an invalid subprotocol; the wsframe layer sends those by hand.
      resolve();
      return;
    }
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(overall);
      ws.terminate();
      resolve();
    };
    const overall = setTimeout(finish, 5000);
    ws.on('error', finish);
    ws.on('close', finish);
    ws.on('unexpected-response', finish);
    ws.on('open', () => {
      for (const f of frames) sendOver(ws, f);
      // Let the router read what was sent before the connection goes away.
      const wait = (): void => {
        if (done) return;
        if (ws.bufferedAmount > 0) setTimeout(wait, 5);
        else setTimeout(() => ws.close(1000), lingerMs);
      };
      wait();
    });
  });
}

export const websocketLayer: Layer = {
  name: 'websocket',
  generate(rng: Rng, maxFrames: number): Shot {
    const serializer: SerializerName = rng.pick(SERIALIZER_NAMES);
    const batched = rng.chance(0.1);
    const s = script(rng, serializer, maxFrames);
    const all = s.hello === undefined ? s.frames : [s.hello, ...s.frames];
    const frames = batched ? [batch(all, serializer !== 'json')] : all;
    // Now and then a protocol the router does not speak.
    const protocol = rng.chance(0.02)
      ? rng.pick(['wamp.2.xml', '', 'wamp.2.json, wamp.2.cbor', 'wamp.2.json.batched.x'])
      : `wamp.2.${serializer}${batched ? '.batched' : ''}`;
    return {
      layer: 'websocket',
      frames: all.length,
      describe: () =>
        `websocket ${protocol}: ${all.length} frames, first ${all
          .slice(0, 3)
          .map((f) => preview(f))
          .join(' ')}`,
      dump: () => ({ protocol, frames: frames.map(dumpFrame) }),
      fire: (target: Endpoints) => runWebSocket(`ws://127.0.0.1:${target.port}/ws`, protocol, frames, 10),
    };
  },
};
