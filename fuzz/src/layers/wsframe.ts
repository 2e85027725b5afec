/**
 * WebSocket framing by hand, over raw TCP: garbled upgrade requests, then frames with reserved
 * opcodes and RSV bits, unmasked client frames, control frames over 125 octets or fragmented,
 * continuations with nothing to continue, lengths of 2^63, invalid close codes and invalid UTF-8
 * in text frames. [RFC 6455 §5]
 */
import { randomBytes } from 'node:crypto';
import type { Rng } from '../rng.js';
import type { Endpoints } from '../target.js';
import { encode, nastyString } from '../values.js';
import type { Layer, Shot } from './shot.js';
import { dumpFrame, preview } from './shot.js';
import { runTcp } from './tcp.js';

function upgrade(rng: Rng): Buffer {
  const key = randomBytes(16).toString('base64');
  const protocol = rng.chance(0.9)
    ? rng.pick(['wamp.2.json', 'wamp.2.msgpack', 'wamp.2.cbor', 'wamp.2.json.batched'])
    : nastyString(rng).replace(/[\r\n]/g, '');
  let lines = [
    'GET /ws HTTP/1.1',
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Protocol: ${protocol}`,
  ];
  if (rng.chance(0.1)) {
    // A garbled request: a header removed or doubled, a bad version, a huge header, a bad request line.
    switch (rng.int(6)) {
      case 0:
        lines.splice(1 + rng.int(lines.length - 1), 1);
        break;
      case 1:
        lines.push(`Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 8');
        break;
      case 2:
        lines.push(`X-Big: ${'a'.repeat(rng.pick([8000, 20_000, 70_000]))}`);
        break;
      case 3:
        lines[0] = rng.pick(['GET /ws HTTP/1.0', 'GET  HTTP/1.1', 'GET /ws?\u0000 HTTP/1.1', 'POST /ws HTTP/1.1', 'GET /ws HTTP/9.9', 'GET /%ZZ HTTP/1.1']);
        break;
      case 4:
        lines.push(`Origin: ${nastyString(rng).replace(/[\r\n]/g, '')}`, 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99');
        break;
      default:
        lines = lines.map((l) => (rng.chance(0.2) ? l.toUpperCase() : l));
    }
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** One frame: FIN/RSV/opcode byte, mask bit and length (7, 16 or 64 bits), masking key, payload. */
function frame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array, masked: boolean, lengthOverride?: bigint): Buffer {
  const head: number[] = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f)];
  const len = lengthOverride ?? BigInt(payload.length);
  const m = masked ? 0x80 : 0;
  if (len < 126n) head.push(m | Number(len));
  else if (len < 65536n) head.push(m | 126, Number(len >> 8n), Number(len & 0xffn));
  else {
    head.push(m | 127);
    for (let s = 56n; s >= 0n; s -= 8n) head.push(Number((len >> s) & 0xffn));
  }
  const out = Buffer.from(payload);
  if (masked) {
    const key = randomBytes(4);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ key[i % 4]!;
    return Buffer.concat([Buffer.from(head), key, out]);
  }
  return Buffer.concat([Buffer.from(head), out]);
}

function hostileFrame(rng: Rng): Buffer {
  const hello = Buffer.from(encode('json', [1, 'realm1', { roles: { publisher: {} } }]) as string);
  switch (rng.int(12)) {
    case 0:
      return frame(true, 0, rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), rng.bytes(rng.size(200)), true);
    case 1:
      return frame(true, 1 + rng.int(7), 1, hello, true);
    case 2:
      return frame(true, 0, 1, hello, false);
    case 3:
      return frame(true, 0, rng.pick([8, 9, 10]), rng.bytes(126 + rng.int(500)), true);
    case 4:
      return frame(false, 0, rng.pick([8, 9, 10]), rng.bytes(4), true);
    case 5:
      return frame(rng.chance(0.5), 0, 0, rng.bytes(rng.size(100)), true);
    case 6:
      return frame(true, 0, rng.pick([1, 2]), rng.bytes(8), true, rng.pick([2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 31n, 70_000n]));
    case 7: {
      const code = rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]);
      return frame(true, 0, 8, Uint8Array.from([code >> 8, code & 0xff, ...Buffer.from(rng.chance(0.5) ? 'bye' : '\xff\xfe', 'latin1')]), true);
    }
    case 8:
      return frame(true, 0, 1, Uint8Array.from([0x5b, 0xff, 0xc0, 0xed, 0xa0, 0x80, 0x5d]), true);
    case 9:
      // A fragmented message whose fragments switch opcode.
      return Buffer.concat([frame(false, 0, 1, hello.subarray(0, 5), true), frame(true, 0, 2, hello.subarray(5), true)]);
    case 10:
      // Many tiny fragments.
      return Buffer.concat([
        frame(false, 0, 1, hello.subarray(0, 1), true),
        ...Array.from(hello.subarray(1, -1), (b) => frame(false, 0, 0, Uint8Array.of(b), true)),
        frame(true, 0, 0, hello.subarray(-1), true),
      ]);
    default:
      return frame(true, 0, 9, rng.bytes(rng.int(126)), true);
  }
}

export const wsframeLayer: Layer = {
  name: 'wsframe',
  generate(rng: Rng, maxFrames: number): Shot {
    const n = Math.max(1, Math.min(maxFrames, rng.size(24) + 1));
    const frames: Buffer[] = [];
    const withHello = rng.chance(0.6);
    if (withHello) frames.push(frame(true, 0, 1, Buffer.from(encode('json', [1, 'realm1', { roles: { publisher: {}, subscriber: {} } }]) as string), true));
    while (frames.length < n) frames.push(hostileFrame(rng));
    const drip = rng.chance(0.05) ? 5 : 0;
    const request = upgrade(rng);
    return {
      layer: 'wsframe',
      frames: frames.length,
      describe: () =>
        `wsframe: ${frames.length} frames${drip > 0 ? ' (dripped)' : ''}, first ${frames
          .slice(0, 3)
          .map((f) => preview(f))
          .join(' ')}`,
      dump: () => ({ request: request.toString('latin1').slice(0, 2000), frames: frames.map(dumpFrame), drip }),
      fire: (target: Endpoints) => runTcp(target.port, [request, ...frames], { dripMs: drip, lingerMs: 20 }),
    };
  },
};
