/**
 * msgpackr and cbor-x write a JS number that does not fit 32 bits as a float64, so an ID like
 * 2^40 would reach Python or C++ peers as 1099511627776.0, which they reject as an ID. This walk
 * turns integral numbers outside the 32-bit range into BigInt, which both encoders write as
 * 64-bit integers. It also turns NaN and ±Infinity (JSON.parse reads 1e400 as Infinity) into
 * null, as JSON.stringify writes them: they are not in the data model, and the MessagePack and
 * CBOR decoders refuse them, so relaying one would cost every binary subscriber its session. It
 * copies only the containers on the path to such a number; the common message without one comes
 * back as the same reference.
 */
export function widenLargeIntegers<T>(value: T, minimum: number = INT64_MIN): T {
  return widen(value, 0, minimum) as T;
}

// biome-ignore lint/correctness/noPrecisionLoss: -2^63 is exactly a double
const INT64_MIN = -9223372036854775808;

/** Deeper than any decoder lets in (ROUTER_FRAME_LIMITS: 1024), so every decoded payload is walked whole. */
const MAX_WALK_DEPTH = 1100;

// Integral doubles in [-2^63, 2^64) convert to BigInt exactly and fit (u)int64; `minimum` can
// raise the lower bound, so that more negative numbers stay float64.
function isLargeInteger(v: number, minimum: number): boolean {
  // biome-ignore lint/correctness/noPrecisionLoss: 2^64 is exactly a double
  return (v > 0xffffffff || v < -0x80000000) && Number.isInteger(v) && v >= minimum && v < 18446744073709551616;
}

function widen(value: unknown, depth: number, minimum: number): unknown {
  if (typeof value === 'number') return isLargeInteger(value, minimum) ? BigInt(value) : Number.isFinite(value) ? value : null;
  if (typeof value !== 'object' || value === null || depth > MAX_WALK_DEPTH || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const next = widen(item, depth + 1, minimum);
      if (next !== item) {
        copy ??= value.slice();
        copy[i] = next;
      }
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const item = record[key];
    const next = widen(item, depth + 1, minimum);
    if (next !== item) {
      copy ??= { ...record };
      copy[key] = next;
    }
  }
  return copy ?? value;
}
