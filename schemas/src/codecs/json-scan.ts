/**
 * The nesting depth and value count of a JSON text, checked before JSON.parse (see limits.ts): V8
 * parses deep nesting without complaint, but every encoder after it (JSON.stringify, msgpackr,
 * cbor-x) is recursive; and a megabyte of `{},` is a third of a million objects. One linear
 * pass: strings are skipped (with indexOf where they hold no escaped quote), brackets and
 * separators counted outside them (a value is an opening bracket, or follows a `,` or `:`); a
 * binary (a string starting with \u0000) counts as four values, the cost of its base64 decoding
 * and its own byte array. Malformed text is left to JSON.parse to refuse. Returns the count,
 * counted on from `counted` (the values of the messages before this one in its batch).
 */
import type { TopLevel } from './limits.js';
import { tooDeep, tooMany } from './limits.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** What a binary costs beyond the one value its separator counted. */
const BINARY_EXTRA = 3;

export function scanJson(text: string, maxDepth: number, maxItems: number, counted = 0, top?: TopLevel): number {
  top?.reset();
  let depth = 0;
  let items = counted;
  const end = text.length;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (text.startsWith('\\u0000', i + 1)) {
        items += BINARY_EXTRA;
        if (items > maxItems) tooMany('JSON', maxItems, i, counted);
      }
      // The closing quote: found with indexOf (fast on plain text); when the first quote found is
      // escaped, the string is walked character by character from its start instead, so that a
      // string full of \" costs one pass, not one indexOf per quote.
      let q = text.indexOf('"', i + 1);
      if (q === -1) return items; // unterminated: JSON.parse refuses it
      if (text.charCodeAt(q - 1) === BACKSLASH) {
        q = i + 1;
        for (;;) {
          if (q >= end) return items;
          const d = text.charCodeAt(q);
          if (d === QUOTE) break;
          q += d === BACKSLASH ? 2 : 1;
        }
      }
      i = q;
    } else if (c === 0x5b || c === 0x7b) {
      // [ {
      if (++depth > maxDepth) tooDeep('JSON', maxDepth, i);
      if (++items > maxItems) tooMany('JSON', maxItems, i, counted);
      if (depth === 1 && top !== undefined) top.add(i);
    } else if (c === 0x5d || c === 0x7d)
      depth--; // ] }
    else if (c === 0x2c || c === 0x3a) {
      // , :
      if (++items > maxItems) tooMany('JSON', maxItems, i, counted);
      if (depth === 1 && top !== undefined) top.add(i);
    }
  }
  return items;
}
