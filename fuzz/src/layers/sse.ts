/**
 * SSE query strings: GET /events with hostile `topic`, `match`, `events`, `lastEventId` and
 * `get_retained` values (percent-encoded NUL, invalid UTF-8 octets, long values, repeated names),
 * and a hostile Last-Event-ID header. Each stream is read briefly and dropped.
 */
import type { Rng } from '../rng.js';
import type { Endpoints } from '../target.js';
import { enabled, nastyString, percent } from '../values.js';
import { http } from './http.js';
import type { Layer, Shot } from './shot.js';

function enc(rng: Rng, text: string): string {
  if (rng.chance(0.7)) return percent(text);
  // Raw percent escapes of octets that are not UTF-8, and stray '%'.
  const raw = ['%ff%fe', '%c0%80', '%ed%a0%80', '%', '%zz', '+', '%2B%00', text.replace(/[^\x21-\x7e]/g, '_')];
  // A value that decodes to a U+0000-prefixed topic is the known crash (see known.ts).
  return rng.pick(enabled('nul-prefix') ? ['%00', '%00%ff', ...raw] : raw);
}

export const sseLayer: Layer = {
  name: 'sse',
  generate(rng: Rng): Shot {
    const params: string[] = [];
    params.push(`topic=${rng.chance(0.6) ? `fuzz.${rng.int(8)}` : enc(rng, nastyString(rng))}`);
    if (rng.chance(0.5)) params.push(`match=${rng.chance(0.6) ? rng.pick(['prefix', 'wildcard', 'exact']) : enc(rng, nastyString(rng))}`);
    if (rng.chance(0.2)) params.push(`events=${rng.pick(['message', '', enc(rng, nastyString(rng))])}`);
    if (rng.chance(0.2))
      params.push(`lastEventId=${rng.pick(['0', '1', '9999999999999999', '99999999999999999999', '-1', '1e5', enc(rng, nastyString(rng))])}`);
    if (rng.chance(0.2)) params.push(`get_retained=${rng.pick(['true', 'false', ''])}`);
    if (rng.chance(0.1)) params.push(...params);
    if (rng.chance(0.02)) params.push(`pad=${'a'.repeat(rng.size(60_000))}`);
    const path = `/events?${params.join('&')}`;
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    if (rng.chance(0.1)) headers['Last-Event-ID'] = rng.pick(['1', '0', '18446744073709551616', 'abc', ' 7 ', '9'.repeat(300)]);
    const readMs = rng.pick([5, 15, 40]);
    return {
      layer: 'sse',
      frames: 1,
      describe: () => `sse GET ${path.slice(0, 200)}`,
      dump: () => ({ path, headers }),
      fire: async (target: Endpoints) => {
        await http(target.port, 'GET', path, headers, undefined, { abortAfterMs: readMs, maxReadBytes: 1 << 16 });
      },
    };
  },
};
