/**
 * Bearer tokens (`Authorization: Bearer <token>`), each mapped to an authid and role. Tokens are
 * looked up by their SHA-256, so the time a lookup takes tells nothing about the token.
 */
import { createHash } from 'node:crypto';
import type { BridgeToken } from './config.js';

export interface TokenIdentity {
  authid: string;
  role: string;
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

export class TokenTable {
  readonly #byDigest = new Map<string, TokenIdentity>();

  constructor(tokens: readonly BridgeToken[]) {
    for (const t of tokens) this.#byDigest.set(digest(t.token), { authid: t.authid, role: t.role });
  }

  get size(): number {
    return this.#byDigest.size;
  }

  /** The token of an Authorization header: undefined if it has none, null if it is not a Bearer token. */
  static bearer(header: string | undefined): string | undefined | null {
    if (header === undefined) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m === null ? null : m[1];
  }

  lookup(token: string): TokenIdentity | undefined {
    return this.#byDigest.get(digest(token));
  }
}
