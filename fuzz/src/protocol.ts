/**
 * Protocol-level scripts: what one hostile connection sends, as WAMP messages or raw frames.
 * Frames before HELLO, after GOODBYE, every message type with wrong types, IDs and options,
 * router-to-client messages sent by a client, and bursts (hundreds of SUBSCRIBEs). Most frames
 * are plausible enough to get past the decoder and reach the realm; some are meant to end the
 * session, and each script ends at most once.
 */
import type { SerializerName } from '@switchboard/schemas';
import type { Rng } from './rng.js';
import { CODECS } from '@switchboard/schemas';
import { binaryPublish, enabled, encode, garbage, jsonText, mutate, bytesOf, nastyNumber, nastyOptions, nastyString, nastyValue } from './values.js';

/** One WebSocket/RawSocket/long-poll message: text (JSON) or bytes. */
export type Frame = string | Uint8Array;

export interface Script {
  /** Sent first, when present (otherwise the script starts before HELLO). */
  hello: Frame | undefined;
  frames: Frame[];
}

const ROLES = { publisher: {}, subscriber: {}, caller: {}, callee: {} };

function uri(rng: Rng): string {
  const r = rng.next();
  if (r < 0.5) return `fuzz.${rng.pick(['t', 'echo', 'a.b', 'x'])}${rng.chance(0.5) ? `.${rng.int(50)}` : ''}`;
  if (r < 0.85) return nastyString(rng);
  return rng.pick([
    'wamp.session.count',
    'wamp.session.list',
    'wamp.subscription.list',
    'wamp.registration.list',
    'wamp.session.get',
    'wamp.subscription.get_events',
    'wamp.session.kill_all',
    'wamp.session.kill',
  ]);
}

/** A value that is not what the slot expects, or an extreme one of the right type. */
function id(rng: Rng): unknown {
  return rng.chance(0.6) ? rng.int(100) : rng.chance(0.5) ? nastyNumber(rng) : nastyValue(rng, 3, false);
}

function args(rng: Rng, binary: boolean): unknown[] {
  const n = rng.size(6);
  return Array.from({ length: n }, () => nastyValue(rng, 0, binary));
}

function kwargs(rng: Rng, binary: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = rng.size(5);
  for (let i = 0; i < n; i++) out[rng.chance(0.5) ? `k${i}` : nastyString(rng)] = nastyValue(rng, 0, binary);
  return out;
}

function withPayload(rng: Rng, head: unknown[], binary: boolean): unknown[] {
  const r = rng.int(3);
  if (r === 0) return head;
  if (r === 1) return [...head, args(rng, binary)];
  return [...head, rng.chance(0.9) ? args(rng, binary) : nastyValue(rng, 2, binary), rng.chance(0.9) ? kwargs(rng, binary) : nastyValue(rng, 2, binary)];
}

/** A message of any type, mostly well-shaped; `request` is the next sequential request ID. */
export function message(rng: Rng, request: () => number, binary: boolean): unknown[] {
  const options = (): Record<string, unknown> => (rng.chance(0.5) ? {} : nastyOptions(rng, binary));
  const req = (): unknown => (rng.chance(0.9) ? request() : id(rng));
  switch (rng.int(22)) {
    case 0:
    case 1:
    case 2:
      return withPayload(rng, [16, req(), rng.chance(0.5) ? { acknowledge: true } : options(), uri(rng)], binary);
    case 3:
    case 4:
      return [32, req(), rng.chance(0.5) ? { match: rng.pick(['prefix', 'wildcard', 'exact']) } : options(), uri(rng)];
    case 5:
      return [34, req(), id(rng)];
    case 6:
    case 7:
      return withPayload(rng, [48, req(), options(), uri(rng)], binary);
    case 8:
      return [49, id(rng), options()];
    case 9:
      return [64, req(), options(), uri(rng)];
    case 10:
      return [66, req(), id(rng)];
    case 11:
      return withPayload(rng, [70, id(rng), options()], binary);
    case 12:
      return withPayload(rng, [8, rng.pick([68, 48, 16, 32, 64, 99]), id(rng), options(), uri(rng)], binary);
    case 13:
      // Router-to-client messages from a client: WELCOME, CHALLENGE, EVENT, RESULT, INVOCATION, INTERRUPT, PUBLISHED…
      return [rng.pick([2, 4, 17, 33, 35, 36, 50, 65, 67, 68, 69]), id(rng), options(), id(rng)];
    case 14:
      return [1, uri(rng), { roles: ROLES }];
    case 15:
      return [5, nastyString(rng), options()];
    case 16:
      return [6, {}, rng.pick(['wamp.close.normal', 'wamp.close.goodbye_and_out', nastyString(rng)])];
    case 17:
      return [3, options(), nastyString(rng)];
    case 18:
      // Unknown or out-of-range codes.
      return [rng.pick([0, 7, 9, 15, 71, 255, -1, 2 ** 53, 1.5]), req(), options()];
    case 19:
      // Wrong arity and wrong element types.
      return [rng.pick([16, 32, 48, 64, 70, 8]), ...Array.from({ length: rng.int(9) }, () => nastyValue(rng, 2, binary))];
    default:
      return withPayload(rng, [48, req(), options(), 'fuzz.echo'], binary);
  }
}

function hasNulPrefix(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.startsWith('\u0000');
  if (depth > 64 || typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some((v) => hasNulPrefix(v, depth + 1));
  return Object.entries(value).some(([k, v]) => k.startsWith('\u0000') || hasNulPrefix(v, depth + 1));
}

/**
 * With the `nul-prefix` generator off, a frame of a binary serializer that random bytes or a
 * mutation happened to turn into one carrying a U+0000-prefixed string is replaced by a plain
 * PUBLISH (JSON reads such strings as binary, so JSON frames are left alone).
 */
export function clean(serializer: SerializerName, frame: Frame): Frame {
  if (enabled('nul-prefix') || serializer === 'json' || typeof frame === 'string') return frame;
  let value: unknown;
  try {
    value = CODECS[serializer].decode(frame);
  } catch {
    return frame;
  }
  return hasNulPrefix(value) ? encode(serializer, [16, 1, {}, 'fuzz.t']) : frame;
}

/** A frame that is not a WAMP message of this serializer (or not even a list). */
export function badFrame(rng: Rng, serializer: SerializerName, request: number): Frame {
  return clean(serializer, anyBadFrame(rng, serializer, request));
}

function anyBadFrame(rng: Rng, serializer: SerializerName, request: number): Frame {
  const binary = serializer !== 'json';
  switch (rng.int(8)) {
    case 0:
      return garbage(rng, serializer);
    case 1: {
      const valid = bytesOf(encode(serializer, [16, request, {}, 'fuzz.t', ['x', 1, { a: [] }]]));
      const mutated = mutate(rng, valid);
      return serializer === 'json' && rng.chance(0.7) ? Buffer.from(mutated).toString('latin1') : mutated;
    }
    case 2:
      return serializer === 'json' ? jsonText(rng, request) : binaryPublish(rng, serializer, request);
    case 3:
      return serializer === 'json' ? jsonText(rng, request) : binaryPublish(rng, serializer, request);
    case 4:
      // Not a list: a number, a string, a map, null.
      return serializer === 'json'
        ? rng.pick(['1', '"x"', '{}', 'null', '', ' ', 'true', '[]'])
        : Uint8Array.from(rng.pick([[0x01], [0xa0], [0xc0], [0xf6], [0x80], [0x90], []]));
    case 5:
      // A JSON session sent a binary frame, or a binary one a text frame.
      return binary ? JSON.stringify([16, request, {}, 'fuzz.t']) : Buffer.from(JSON.stringify([16, request, {}, 'fuzz.t']));
    case 6:
      // Invalid UTF-8 inside an otherwise valid frame.
      return serializer === 'json'
        ? Uint8Array.from([...Buffer.from(`[16,${request},{},"fuzz.t",["`), 0xff, 0xc0, 0xed, 0xa0, 0x80, ...Buffer.from('"]]')])
        : binaryPublish(rng, serializer, request);
    default:
      return encode(
        serializer,
        message(rng, () => request, binary),
      );
  }
}

function hello(rng: Rng, serializer: SerializerName): Frame {
  if (rng.chance(0.85)) return encode(serializer, [1, 'realm1', { roles: ROLES }]);
  const binary = serializer !== 'json';
  return rng.pick<() => Frame>([
    () => encode(serializer, [1, nastyString(rng), { roles: ROLES }]),
    () => encode(serializer, [1, 'realm1', nastyOptions(rng, binary)]),
    () =>
      encode(serializer, [
        1,
        'realm1',
        { roles: nastyValue(rng, 2, binary), authmethods: ['ticket', 'wampcra', 'cryptosign', 'scram', nastyString(rng)], authid: nastyString(rng) },
      ]),
    () =>
      encode(serializer, [
        1,
        'realm1',
        {
          roles: ROLES,
          authextra: { pubkey: nastyString(rng), channel_binding: nastyString(rng), nonce: nastyString(rng) },
          authmethods: ['cryptosign', 'wamp-scram'],
        },
      ]),
    () => encode(serializer, [1, 'realm1']),
    () => badFrame(rng, serializer, 1),
  ])();
}

/**
 * One connection's script. Kinds: before HELLO; a session with hostile messages; a burst of one
 * message type; frames after GOODBYE; decoder-level bad frames inside a session.
 */
export function script(rng: Rng, serializer: SerializerName, maxFrames: number): Script {
  const binary = serializer !== 'json';
  let next = 0;
  const request = (): number => ++next;
  const frames: Frame[] = [];
  const kind = rng.int(10);
  const n = Math.max(1, Math.min(maxFrames, rng.size(64) + 1));
  if (kind === 0) {
    for (let i = 0; i < Math.min(n, 4); i++) frames.push(rng.chance(0.5) ? badFrame(rng, serializer, 1) : encode(serializer, message(rng, request, binary)));
    return { hello: undefined, frames };
  }
  const first = hello(rng, serializer);
  if (kind === 1) {
    // A burst: hundreds of SUBSCRIBEs (or REGISTERs, CALLs, PUBLISHes) without waiting.
    const code = rng.pick([32, 64, 48, 16]);
    const count = Math.min(maxFrames, 100 + rng.int(900));
    for (let i = 0; i < count; i++) {
      const req = request();
      const u = `fuzz.burst.${rng.int(1_000_000)}`;
      frames.push(
        encode(
          serializer,
          code === 16 ? [16, req, {}, u, [i]] : code === 48 ? [48, req, {}, 'fuzz.echo', [i]] : [code, req, rng.chance(0.3) ? { match: 'prefix' } : {}, u],
        ),
      );
    }
    return { hello: first, frames };
  }
  if (kind === 2) {
    frames.push(encode(serializer, [6, {}, 'wamp.close.normal']));
    for (let i = 0; i < Math.min(n, 8); i++) frames.push(encode(serializer, message(rng, request, binary)));
    return { hello: first, frames };
  }
  for (let i = 0; i < n; i++) {
    frames.push(rng.chance(kind === 3 ? 0.5 : 0.03) ? badFrame(rng, serializer, next + 1) : encode(serializer, message(rng, request, binary)));
  }
  return { hello: first, frames };
}
