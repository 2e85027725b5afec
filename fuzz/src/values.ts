/**
 * Hostile values and hostile bytes, per serializer: what a peer may put inside a well-formed
 * WAMP message (strings with NUL and control characters, lone surrogates, huge and fractional
 * numbers, deep nesting, prototype keys) and what it may send instead of one (random bytes,
 * truncated and mutated frames, CBOR tags and bignums, MessagePack extensions, lengths that
 * promise more than follows, invalid UTF-8).
 */
import type { SerializerName } from '@switchboard/schemas';
import { CODECS } from '@switchboard/schemas';
import type { Rng } from './rng.js';

/**
 * Generators that can be switched off by name, for findings that crash today's router and are
 * fixed on other branches (see known.ts): `nul-prefix` (strings that start with U+0000, which
 * WAMP's JSON reads as base64 binary) and `cbor-bignum` (CBOR tags 2 and 3, and BigInts past
 * 64 bits, which cbor-x writes as bignums), `deep-nesting` (well-formed values nested deeper than
 * 1000 levels, which close the in-process bridge session that carries them), `long-uri` (strings,
 * and so URIs, longer than 10 000 characters: a prefix SUBSCRIBE costs ~1 µs a character).
 */
const disabled = new Set<string>();

export function disableGenerators(ids: Iterable<string>): void {
  disabled.clear();
  for (const id of ids) disabled.add(id);
}

export type GeneratorSwitch = 'nul-prefix' | 'cbor-bignum' | 'deep-nesting' | 'long-uri';

export function enabled(id: GeneratorSwitch): boolean {
  return !disabled.has(id);
}

/** `s`, or with `nul-prefix` off, `s` with a U+0000 at its start moved away from it. */
function nul(s: string): string {
  return s.startsWith('\u0000') && !enabled('nul-prefix') ? `_${s}` : s;
}

const NASTY_STRINGS: readonly string[] = [
  '',
  '\u0000',
  '\u0000fuzz',
  'fuzz\u0000',
  '\u0001\u0002\u0003\u001f\u007f',
  '\ud800',
  '\udfff\ud800',
  '\u2028\u2029',
  '\ufeff',
  '\uffff\ufffe',
  '..',
  '.',
  'fuzz..t',
  'wamp.',
  'wamp.session.kill',
  'wamp.registration.list',
  'wamp.subscription.match',
  'wamp.error.protocol_violation',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '%00%ff',
  '../../etc/passwd',
  '\r\nX-Injected: 1',
  'data: forged\n\nid: 1',
  '𝔣𝔲𝔷𝔷',
  '\u0000'.repeat(64),
];

const NASTY_NUMBERS: readonly number[] = [
  0,
  -0,
  -1,
  1,
  0.5,
  -0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  2 ** 63,
  -(2 ** 63),
  2 ** 64,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Infinity,
  -Infinity,
  NaN,
];

export function nastyString(rng: Rng): string {
  return nul(anyString(rng));
}

function anyString(rng: Rng): string {
  const r = rng.next();
  // WAMP's JSON reads a string that starts with U+0000 as base64 binary: worth a share of its own.
  if (r < 0.1) return `\u0000${rng.pick(['', 'AAEC', 'not base64!', '==', rng.pick(NASTY_STRINGS)])}`;
  if (r < 0.5) return rng.pick(NASTY_STRINGS);
  if (r < 0.8) {
    // Random code units, surrogates and controls included.
    const n = rng.size(64) + 1;
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.3) ? rng.int(0x20) : rng.chance(0.2) ? 0xd800 + rng.int(0x800) : rng.int(0x10000));
    return s;
  }
  if (r < 0.95) return `fuzz.${rng.pick(NASTY_STRINGS)}.${rng.int(1000)}`;
  return 'x'.repeat(enabled('long-uri') ? rng.size(200_000) : rng.size(10_000));
}

export function nastyNumber(rng: Rng): number {
  return rng.chance(0.7) ? rng.pick(NASTY_NUMBERS) : (rng.next() - 0.5) * 10 ** rng.int(400);
}

/** A JavaScript value as a codec can carry it (BigInt and bytes for the binary codecs). */
export function nastyValue(rng: Rng, depth = 0, binary = true): unknown {
  const r = rng.int(depth > 4 ? 7 : 10);
  switch (r) {
    case 0:
      return nastyString(rng);
    case 1:
      return nastyNumber(rng);
    case 2:
      return rng.pick([null, true, false]);
    case 3:
      return binary ? rng.bytes(rng.size(256)) : nastyString(rng);
    case 4:
      if (!binary) return nastyNumber(rng);
      return enabled('cbor-bignum')
        ? rng.pick([2n ** 64n, -(2n ** 64n) - 1n, 2n ** 200n, -(2n ** 63n), 2n ** 63n])
        : rng.pick([-(2n ** 63n), 2n ** 63n, 2n ** 64n - 1n]);
    case 5:
      return rng.int(2 ** 30);
    case 6:
      return deepArray(rng.size(3000) + 1);
    case 7: {
      const n = rng.size(12);
      return Array.from({ length: n }, () => nastyValue(rng, depth + 1, binary));
    }
    default: {
      const out: Record<string, unknown> = {};
      const n = rng.size(8);
      for (let i = 0; i < n; i++) out[nastyString(rng)] = nastyValue(rng, depth + 1, binary);
      return out;
    }
  }
}

/** Nesting at most 1000 deep with `deep-nesting` off. */
export function depth(n: number): number {
  return enabled('deep-nesting') ? n : Math.min(n, 1000);
}

export function deepArray(levels: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth(levels); i++) v = [v];
  return v;
}

/** A dict of options or details: known keys with wrong or extreme values, and unknown keys. */
export function nastyOptions(rng: Rng, binary: boolean): Record<string, unknown> {
  const keys = [
    'acknowledge',
    'exclude_me',
    'exclude',
    'eligible',
    'exclude_authid',
    'eligible_authid',
    'exclude_authrole',
    'eligible_authrole',
    'retain',
    'disclose_me',
    'match',
    'get_retained',
    'timeout',
    'receive_progress',
    'progress',
    'invoke',
    'mode',
    'authmethods',
    'authid',
    'authextra',
    'roles',
    'ppt_scheme',
    'ppt_serializer',
    'rkey',
    'forward_for',
    'concurrency',
    'force_reregister',
    'x_unknown',
    '__proto__',
  ];
  const out: Record<string, unknown> = {};
  const n = rng.size(6) + 1;
  for (let i = 0; i < n; i++) {
    const key = rng.pick(keys);
    const plausible: unknown[] = [
      true,
      false,
      'prefix',
      'wildcard',
      'exact',
      'roundrobin',
      'random',
      'last',
      'first',
      'killnowait',
      'kill',
      'skip',
      'mqtt',
      0,
      -1,
      1e9,
      [1, 2, 3],
      ['anonymous'],
      {},
    ];
    out[key] = rng.chance(0.6) ? rng.pick(plausible) : nastyValue(rng, 2, binary);
  }
  return out;
}

/** An encoded frame of `serializer`, as WebSocket and RawSocket carry it (JSON as text). */
export function encode(serializer: SerializerName, message: unknown[]): string | Uint8Array {
  try {
    return CODECS[serializer].encode(message);
  } catch {
    // A value this codec cannot write (nesting past its recursion, a BigInt for JSON): the
    // hand-made encodings in this module send those. Send the message's first element instead.
    return CODECS[serializer].encode([message[0] ?? 0]);
  }
}

/** UTF-8 bytes of a frame (text or binary). */
export function bytesOf(frame: string | Uint8Array): Uint8Array {
  return typeof frame === 'string' ? Buffer.from(frame, 'utf8') : frame;
}

/** Flips, deletes, inserts, duplicates or truncates at random. */
export function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  const bytes = Array.from(input);
  const n = rng.int(4) + 1;
  for (let i = 0; i < n; i++) {
    const at = bytes.length === 0 ? 0 : rng.int(bytes.length);
    switch (rng.int(6)) {
      case 0:
        if (bytes.length > 0) bytes[at] = rng.int(256);
        break;
      case 1:
        bytes.splice(at, rng.int(8) + 1);
        break;
      case 2:
        bytes.splice(at, 0, ...rng.bytes(rng.int(8) + 1));
        break;
      case 3:
        bytes.splice(at, 0, ...bytes.slice(at, at + rng.int(16)));
        break;
      case 4:
        bytes.length = at;
        break;
      default:
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << rng.int(8));
    }
  }
  return Uint8Array.from(bytes);
}

// --- Hand-made binary encodings, for what the codecs would never produce. ---

function cborHead(major: number, n: number | bigint): number[] {
  const big = BigInt(n);
  const m = major << 5;
  if (big < 24n) return [m | Number(big)];
  if (big < 0x100n) return [m | 24, Number(big)];
  if (big < 0x10000n) return [m | 25, Number(big >> 8n), Number(big & 0xffn)];
  if (big < 0x100000000n) return [m | 26, ...[24n, 16n, 8n, 0n].map((s) => Number((big >> s) & 0xffn))];
  return [m | 27, ...[56n, 48n, 40n, 32n, 24n, 16n, 8n, 0n].map((s) => Number((big >> s) & 0xffn))];
}

function cborText(s: string): number[] {
  const b = Buffer.from(s, 'utf8');
  return [...cborHead(3, b.length), ...b];
}

/** A hostile CBOR data item (not necessarily well-formed). */
export function cborItem(rng: Rng): number[] {
  switch (rng.int(14)) {
    case 0: {
      if (!enabled('cbor-bignum')) return cborText('fuzz');
      // Bignum (tag 2/3): mostly small, now and then 64 KiB (decoding one is quadratic in cbor-x).
      const body = rng.bytes(rng.chance(0.03) ? 65536 : rng.size(4096) + 1);
      return [...cborHead(6, rng.pick([2, 3])), ...cborHead(2, body.length), ...body];
    }
    case 1:
      // Any tag around a small item: dates, decimal fractions, shared refs, sets, typed arrays, self-describe.
      return [...cborHead(6, rng.pick([0, 1, 4, 5, 21, 24, 28, 29, 32, 35, 64, 70, 85, 256, 258, 259, 55799, 0xffffffff, 2n ** 64n - 1n])), ...cborItem(rng)];
    case 2:
      // Indefinite-length array, maybe never terminated.
      return [0x9f, ...cborItem(rng), ...cborItem(rng), ...(rng.chance(0.7) ? [0xff] : [])];
    case 3:
      // A length that promises far more than follows.
      return [...cborHead(rng.pick([2, 3, 4, 5]), rng.pick([2 ** 31, 2 ** 32 - 1, 2n ** 63n, 2n ** 64n - 1n, 100_000])), 0];
    case 4:
      return Array(depth(rng.size(20_000) + 1))
        .fill(0x81)
        .concat([0x80]);
    case 5:
      // undefined, simple values, half/single/double floats (NaN, Infinity).
      return rng.pick([
        [0xf7],
        [0xf0],
        [0xf8, 0xff],
        [0xf9, 0x7c, 0x00],
        [0xf9, 0x7e, 0x00],
        [0xfa, 0x7f, 0xc0, 0, 0],
        [0xfb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
        [0xff],
        [0x1c],
        [0xfc],
      ]);
    case 6:
      // Map with non-string keys.
      return [0xa2, ...cborItem(rng), 0x01, 0x80, 0x02];
    case 7:
      // Text with invalid UTF-8 or a NUL.
      return rng.chance(0.5) ? [0x63, 0xff, 0xfe, 0xc0] : cborText(nul('\u0000fuzz'));
    case 8:
      // Large 64-bit integers.
      return rng.chance(0.5) ? cborHead(0, 2n ** 64n - 1n) : cborHead(1, 2n ** 63n);
    case 9:
      return [0x5f, 0x41, 0x00, 0x61, 0x61, 0xff];
    default:
      return cborText(nul(rng.pick(NASTY_STRINGS)));
  }
}

function mpInt(n: number): number[] {
  if (n >= 0 && n < 128) return [n];
  return [0xce, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function mpStr(s: string): number[] {
  const b = Buffer.from(s, 'utf8');
  if (b.length < 32) return [0xa0 | b.length, ...b];
  return [0xda, b.length >> 8, b.length & 0xff, ...b];
}

/** A hostile MessagePack object (not necessarily well-formed). */
export function msgpackItem(rng: Rng): number[] {
  switch (rng.int(12)) {
    case 0: {
      // Extension types: timestamp (-1) with odd lengths, and application types.
      const type = rng.pick([0xff, 0x00, 0x01, 0x7f, 0x80]);
      const len = rng.pick([1, 2, 4, 8, 16, 12, 3]);
      const head = len === 1 ? [0xd4] : len === 2 ? [0xd5] : len === 4 ? [0xd6] : len === 8 ? [0xd7] : len === 16 ? [0xd8] : [0xc7, len];
      return [...head, type, ...rng.bytes(len)];
    }
    case 1:
      // Lengths that promise more than follows.
      return rng.pick([
        [0xdd, 0xff, 0xff, 0xff, 0xff],
        [0xdf, 0x7f, 0xff, 0xff, 0xff],
        [0xdb, 0xff, 0xff, 0xff, 0xff],
        [0xc6, 0xff, 0xff, 0xff, 0xff],
        [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01],
      ]);
    case 2:
      return Array(depth(rng.size(20_000) + 1))
        .fill(0x91)
        .concat([0x90]);
    case 3:
      // uint64 max, int64 min.
      return rng.chance(0.5) ? [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0];
    case 4:
      // The never-used byte, and reserved-looking bytes.
      return [rng.pick([0xc1, 0xc1, 0xc0])];
    case 5:
      // Maps with array/map keys.
      return [0x81, 0x91, 0x01, 0x02];
    case 6:
      // Invalid UTF-8 in a str.
      return [0xa3, 0xff, 0xfe, 0xc0];
    case 7:
      // float64 NaN / Infinity.
      return rng.pick([
        [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
        [0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
        [0xca, 0x7f, 0x80, 0, 0],
      ]);
    case 8:
      return [0xc4, 0x03, 1, 2, 3];
    default:
      return mpStr(nul(rng.pick(NASTY_STRINGS)));
  }
}

/**
 * A PUBLISH to a `fuzz.` topic whose payload is a hand-made hostile item: the envelope is right,
 * so the frame reaches the code that relays payloads to other serializers.
 */
export function binaryPublish(rng: Rng, serializer: 'cbor' | 'msgpack', request: number): Uint8Array {
  const topic = `fuzz.bin.${rng.int(4)}`;
  if (serializer === 'cbor') {
    const item = cborItem(rng);
    return Uint8Array.from([0x85, 0x10, ...cborHead(0, request), 0xa1, ...cborText('acknowledge'), 0xf5, ...cborText(topic), 0x81, ...item]);
  }
  const item = msgpackItem(rng);
  return Uint8Array.from([0x95, 0x10, ...mpInt(request), 0x81, ...mpStr('acknowledge'), 0xc3, ...mpStr(topic), 0x91, ...item]);
}

/** Hostile JSON text: deep nesting, huge numbers, escapes for NUL and lone surrogates, duplicate keys. */
export function jsonText(rng: Rng, request: number): string {
  const topic = `"fuzz.json.${rng.int(4)}"`;
  const payloads = [
    '['.repeat(rng.size(100_000) + 1),
    `${'['.repeat(depth(5000))}${']'.repeat(depth(5000))}`,
    '1e999999',
    '-1e999999',
    '123456789012345678901234567890123456789',
    '"\\u0000"',
    '"\\u0000abc"',
    '"\\ud800"',
    '"\\udc00\\ud800"',
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}',
    '{"a":1,"a":2}',
    '"\\u0000\\u0001\\u001f"',
    '0.000000000000000000000000000000000000000000001',
    '-0',
    '"' + '\\\\'.repeat(1000) + '"',
  ];
  const payload = rng.pick(enabled('nul-prefix') ? payloads : payloads.filter((p) => !p.startsWith('"\\u0000')));
  switch (rng.int(4)) {
    case 0:
      return `[16,${request},{"acknowledge":true},${topic},[${payload}]]`;
    case 1:
      return `[16,${request},{"acknowledge":true},${topic},[],{"k":${payload}}]`;
    case 2:
      return `[48,${request},{},"fuzz.echo",[${payload}]]`;
    default:
      return `[16,${request},{},${payload}]`;
  }
}

/** Random bytes that look a little like a frame of `serializer`. */
export function garbage(rng: Rng, serializer: SerializerName): Uint8Array {
  const n = rng.size(2048);
  const out = rng.bytes(n);
  if (n > 0 && rng.chance(0.5)) out[0] = serializer === 'json' ? 0x5b : serializer === 'cbor' ? 0x80 | rng.int(24) : 0x90 | rng.int(16);
  return out;
}

/** Percent-encodes the UTF-8 octets of `text` (lone surrogates become U+FFFD; encodeURIComponent throws on them). */
export function percent(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8'))
    out += /[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}
