/**
 * The nesting depth of a JSON text, checked before JSON.parse (see limits.ts): V8 parses deep
 * nesting without complaint, but every encoder after it (JSON.stringify, msgpackr, cbor-x) is
 * recursive. One linear pass: strings are skipped with indexOf, brackets counted outside them.
 * Malformed text is left to JSON.parse to refuse.
 */
import { tooDeep } from './limits.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function scanJsonDepth(text: string, maxDepth: number): void {
  let depth = 0;
  const end = text.length;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote: the next one not escaped by an odd run of backslashes.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q === -1) return; // unterminated: JSON.parse refuses it
        let b = q - 1;
        while (b > i && text.charCodeAt(b) === BACKSLASH) b--;
        i = q;
        if ((q - 1 - b) % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      // [ {
      if (++depth > maxDepth) tooDeep('JSON', maxDepth, i);
    } else if (c === 0x5d || c === 0x7d) depth--; // ] }
  }
}
