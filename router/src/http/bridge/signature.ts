/**
 * Crossbar's signed requests. The query carries key, timestamp, seq, nonce and signature, where
 *
 *   signature = base64url, with padding, of HMAC-SHA256(secret, key ‖ timestamp ‖ seq ‖ nonce ‖ body)
 *
 * over the URL-decoded query values and the raw body. [Crossbar: HTTP Bridge, signed requests]
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedParts {
  key: string | Uint8Array;
  timestamp: string | Uint8Array;
  seq: string | Uint8Array;
  nonce: string | Uint8Array;
  body: string | Uint8Array;
}

/** The signature of a request, as the client computes it. */
export function computeSignature(secret: string | Uint8Array, parts: SignedParts): string {
  const hmac = createHmac('sha256', secret);
  for (const part of [parts.key, parts.timestamp, parts.seq, parts.nonce, parts.body]) hmac.update(part);
  return hmac.digest('base64url') + '='; // 32 bytes: one padding character, which Python's urlsafe_b64encode writes
}

/** Constant-time comparison of two byte strings (the length is not secret). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Crossbar's timestamp: UTC ISO 8601, e.g. `2011-10-14T16:59:51.123Z`; the fraction may be absent or up to 9 digits. */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** Milliseconds since the epoch, or undefined if the text is not such a timestamp. */
export function parseTimestamp(text: string): number | undefined {
  const m = TIMESTAMP.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, f] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number((f ?? '0').padEnd(3, '0').slice(0, 3)));
  // Date.UTC rolls 2011-02-30 over to March: such a date is not valid.
  const back = new Date(ms);
  if (back.getUTCDate() !== Number(d) || back.getUTCMonth() !== Number(mo) - 1 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return ms;
}

/** `seq` and `nonce` are integers, as Crossbar requires (Python's int(): optional sign, digits, surrounding blanks). */
export function isIntegerText(text: string): boolean {
  return /^\s*[+-]?\d+\s*$/.test(text);
}
