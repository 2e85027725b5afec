/**
 * Replay protection for signed requests, which Crossbar leaves open (its FIXME): a nonce already
 * seen with this key is refused while its timestamp is still acceptable, and, where configured,
 * seq must increase from request to request. Only requests whose signature checked out are
 * recorded, so only holders of the secret can fill the memory; it is bounded all the same.
 */
export interface ReplayOptions {
  /** Most nonces remembered per key (oldest forgotten first). */
  maxNonces: number;
  requireIncreasingSeq: boolean;
}

interface KeyState {
  /** nonce → until when (ms since the epoch) it must be refused; insertion order ≈ expiry order. */
  readonly nonces: Map<string, number>;
  lastSeq: bigint | undefined;
}

export type ReplayVerdict = 'ok' | 'replayed_nonce' | 'stale_seq';

export class ReplayGuard {
  readonly #keys = new Map<string, KeyState>();

  constructor(private readonly options: ReplayOptions) {}

  /** Checks and, if accepted, records one request. `until`: when the timestamp stops being accepted (Infinity: never). */
  admit(key: string, nonce: string, seq: string, until: number, now: number): ReplayVerdict {
    let state = this.#keys.get(key);
    if (state === undefined) this.#keys.set(key, (state = { nonces: new Map(), lastSeq: undefined }));
    this.#expire(state, now);
    const seen = state.nonces.get(nonce);
    if (seen !== undefined && seen >= now) return 'replayed_nonce';
    const n = BigInt(seq.trim());
    if (this.options.requireIncreasingSeq && state.lastSeq !== undefined && n <= state.lastSeq) return 'stale_seq';
    state.lastSeq = state.lastSeq === undefined || n > state.lastSeq ? n : state.lastSeq;
    state.nonces.delete(nonce);
    state.nonces.set(nonce, until);
    if (state.nonces.size > this.options.maxNonces) state.nonces.delete(state.nonces.keys().next().value!);
    return 'ok';
  }

  #expire(state: KeyState, now: number): void {
    for (const [nonce, until] of state.nonces) {
      if (until >= now) break;
      state.nonces.delete(nonce);
    }
  }
}
