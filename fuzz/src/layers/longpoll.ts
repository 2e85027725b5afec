/**
 * HTTP long-poll [ap_transport_http_longpoll]: hostile `open` bodies, unknown and malformed
 * transport IDs and methods, and sessions whose `send` bodies carry the protocol scripts and
 * bad frames of the websocket layer (batched too), with a receive request held open beside them.
 */
import type { SerializerName } from '@switchboard/schemas';
import { SERIALIZER_NAMES } from '@switchboard/schemas';
import type { Frame } from '../protocol.js';
import { script } from '../protocol.js';
import type { Rng } from '../rng.js';
import type { Endpoints } from '../target.js';
import { bytesOf, nastyString, nastyValue } from '../values.js';
import { http } from './http.js';
import type { Layer, Shot } from './shot.js';
import { dumpFrame, preview } from './shot.js';

function openBody(rng: Rng, serializer: SerializerName, batched: boolean): Buffer {
  if (rng.chance(0.9)) return Buffer.from(JSON.stringify({ protocols: [`wamp.2.${serializer}${batched ? '.batched' : ''}`] }));
  return Buffer.from(
    rng.pick([
      () => JSON.stringify({ protocols: nastyValue(rng, 2, false) }),
      () => JSON.stringify({ protocols: [nastyString(rng)] }),
      () => '{"protocols":',
      () => 'x'.repeat(5000),
      () => JSON.stringify(nastyValue(rng, 0, false)),
      () => '',
    ])(),
  );
}

function batch(frames: Frame[], binary: boolean): Buffer {
  if (!binary) return Buffer.from(frames.map((f) => (typeof f === 'string' ? f : Buffer.from(f).toString('latin1')) + '\u001e').join(''), 'latin1');
  const parts: Buffer[] = [];
  for (const f of frames) {
    const b = Buffer.from(bytesOf(f));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

export const longpollLayer: Layer = {
  name: 'longpoll',
  generate(rng: Rng, maxFrames: number): Shot {
    const serializer = rng.pick(SERIALIZER_NAMES);
    const batched = rng.chance(0.2);
    const open = openBody(rng, serializer, batched);
    // Long-poll sends one request per message: keep scripts short.
    const s = script(rng, serializer, Math.min(maxFrames, 12));
    const frames = s.hello === undefined ? s.frames : [s.hello, ...s.frames];
    const bodies: Buffer[] = batched ? [batch(frames, serializer !== 'json')] : frames.map((f) => Buffer.from(bytesOf(f)));
    const stray = rng.chance(0.1)
      ? {
          method: rng.pick(['GET', 'PUT', 'DELETE', 'POST', 'OPTIONS']),
          path: `/lp/${rng.pick([
            '',
            'x',
            '..',
            '%00',
            nastyString(rng)
              .replace(/[^\x21-\x7e]/g, '_')
              .slice(0, 200),
            'a'.repeat(5000),
          ])}/${rng.pick(['send', 'receive', 'close', ''])}`,
        }
      : undefined;
    const contentType = serializer === 'json' ? 'application/json' : serializer === 'msgpack' ? 'application/x-msgpack' : 'application/cbor';
    return {
      layer: 'longpoll',
      frames: bodies.length + 1,
      describe: () =>
        `longpoll ${serializer}${batched ? ' batched' : ''}: open ${preview(open)}, ${frames.length} messages, first ${frames
          .slice(0, 3)
          .map((f) => preview(f))
          .join(' ')}${stray ? `, stray ${stray.method} ${stray.path.slice(0, 60)}` : ''}`,
      dump: () => ({ open: open.toString('latin1'), bodies: bodies.map(dumpFrame), stray }),
      fire: async (target: Endpoints) => {
        if (stray !== undefined) await http(target.port, stray.method, stray.path, {}, undefined, { abortAfterMs: 500 });
        const opened = await http(target.port, 'POST', '/lp/open', { 'Content-Type': 'application/json' }, open);
        let id: string | undefined;
        try {
          const parsed: unknown = JSON.parse(opened.body.toString('utf8'));
          if (typeof parsed === 'object' && parsed !== null && 'transport' in parsed && typeof parsed.transport === 'string') id = parsed.transport;
        } catch {
          id = undefined;
        }
        if (id === undefined) return;
        // A receive request held beside the sends, as a client has.
        const receive = http(target.port, 'POST', `/lp/${id}/receive`, {}, undefined, { abortAfterMs: 100 });
        for (const body of bodies) {
          const res = await http(target.port, 'POST', `/lp/${id}/send`, { 'Content-Type': contentType }, body);
          if (res.status !== 202 && res.status !== 200 && res.status !== 204) break;
        }
        await receive;
        await http(target.port, 'POST', `/lp/${id}/close`, {}, undefined, { abortAfterMs: 500 });
      },
    };
  },
};
