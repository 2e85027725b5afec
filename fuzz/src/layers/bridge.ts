/**
 * HTTP bridge bodies: POST /publish (single and batch), /call (to `fuzz.echo`, answered by a sink
 * callee, and to procedures nobody registered) and the /hook webhook, with hostile JSON (wrong
 * types for every field, NUL and control characters, deep nesting, huge numbers, invalid UTF-8),
 * odd content types, methods, Idempotency-Key and Authorization headers.
 */
import type { Rng } from '../rng.js';
import type { Endpoints } from '../target.js';
import { deepArray, enabled, nastyOptions, nastyString, nastyValue, percent } from '../values.js';
import { http } from './http.js';
import type { Layer, Shot } from './shot.js';
import { preview } from './shot.js';

function field(rng: Rng, plausible: () => unknown): unknown {
  return rng.chance(0.8) ? plausible() : nastyValue(rng, 2, false);
}

function payload(rng: Rng): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (rng.chance(0.8)) out['args'] = field(rng, () => Array.from({ length: rng.size(5) }, () => nastyValue(rng, 1, false)));
  if (rng.chance(0.5)) out['kwargs'] = field(rng, () => ({ k: nastyValue(rng, 1, false), [nastyString(rng)]: nastyValue(rng, 1, false) }));
  if (rng.chance(0.4)) out['options'] = field(rng, () => nastyOptions(rng, false));
  return out;
}

function topic(rng: Rng): unknown {
  return field(rng, () => (rng.chance(0.5) ? `fuzz.bridge.${rng.int(8)}` : nastyString(rng)));
}

/** A JSON body as text: mostly JSON.stringify of hostile values, sometimes text no serializer writes. */
function body(rng: Rng, path: string): Buffer {
  if (rng.chance(0.15)) {
    return Buffer.concat([
      Buffer.from(
        rng.pick([
          () => '{"topic":"fuzz.t","args":[' + '['.repeat(rng.size(100_000) + 1),
          () => `{"topic":"fuzz.t","args":[${JSON.stringify(deepArray(2000))}]}`,
          () => '{"topic":"fuzz.t","args":[1e999999, -0, 123456789012345678901234567890]}',
          () => (enabled('nul-prefix') ? '{"topic":"\\u0000fuzz","args":["\\u0000"]}' : '{"topic":"fuzz\\u0000","args":["x\\u0000"]}'),
          () => '{"procedure":"fuzz.echo","args":["\\ud800"]}',
          () => '{"topic":"fuzz.t","__proto__":{"args":[1]}}',
          () => '{"topic":',
          () => '',
          () => 'null',
          () => '[]',
          () => `[${Array.from({ length: 2000 }, (_, i) => `{"topic":"fuzz.b.${i}"}`).join(',')}]`,
        ])(),
      ),
      rng.chance(0.1) ? Buffer.from([0xff, 0xfe, 0xc0]) : Buffer.alloc(0),
    ]);
  }
  if (path === '/call')
    return Buffer.from(JSON.stringify({ procedure: field(rng, () => (rng.chance(0.7) ? 'fuzz.echo' : nastyString(rng))), ...payload(rng) }));
  if (path === '/publish' && rng.chance(0.1))
    return Buffer.from(JSON.stringify(Array.from({ length: rng.size(50) + 1 }, () => ({ topic: topic(rng), ...payload(rng) }))));
  return Buffer.from(JSON.stringify({ topic: topic(rng), ...payload(rng) }));
}

export const bridgeLayer: Layer = {
  name: 'bridge',
  generate(rng: Rng): Shot {
    const path = rng.pick(['/publish', '/publish', '/call', '/call', '/hook']);
    const data = body(rng, path);
    const headers: Record<string, string> = {
      'Content-Type': rng.chance(0.9)
        ? 'application/json'
        : rng.pick(['text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']),
    };
    if (rng.chance(0.1))
      headers['Idempotency-Key'] =
        nastyString(rng)
          .replace(/[^\x20-\x7e]/g, '_')
          .slice(0, 300) || 'k';
    if (rng.chance(0.05)) headers['Authorization'] = `Bearer ${'x'.repeat(rng.size(5000))}`;
    const method = rng.chance(0.97) ? 'POST' : rng.pick(['GET', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
    const query = rng.chance(0.05) ? `?key=${percent(nastyString(rng))}&timestamp=x&seq=-1&nonce=${'9'.repeat(40)}&signature=%00` : '';
    return {
      layer: 'bridge',
      frames: 1,
      describe: () => `bridge ${method} ${path}${query}: ${preview(data.toString('latin1'))}`,
      dump: () => ({ method, path: path + query, headers, body: data.toString('latin1').slice(0, 65536), bodyLength: data.length }),
      fire: async (target: Endpoints) => {
        await http(target.port, method, path + query, headers, data, { abortAfterMs: 3000 });
      },
    };
  },
};
