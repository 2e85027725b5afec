/**
 * One bridge session per identity, opened on first use and opened again after it closed (a
 * `wamp.session.kill`, say). Identities come from the configuration (paths and their tokens), so
 * the pool is bounded by it.
 */
import { BridgeSession } from './local-session.js';
import type { BridgeIdentity, OpenBridgeSession } from './local-session.js';

export class SessionPool {
  readonly #sessions = new Map<string, Promise<BridgeSession>>();
  #closed = false;

  constructor(private readonly connect: OpenBridgeSession) {}

  get(identity: BridgeIdentity): Promise<BridgeSession> {
    if (this.#closed) return Promise.reject(new Error('the HTTP bridge is closed'));
    const key = `${identity.realm}\0${identity.authid}\0${identity.authrole}`;
    let session = this.#sessions.get(key);
    if (session === undefined) {
      const opening = BridgeSession.open(this.connect, identity);
      session = opening;
      this.#sessions.set(key, opening);
      const forget = (): void => {
        if (this.#sessions.get(key) === opening) this.#sessions.delete(key);
      };
      opening.then((s) => s.closed.then(forget), forget);
    }
    return session;
  }

  /** A session of its own (an SSE stream, an integration), closed by whoever asked for it. */
  open(identity: BridgeIdentity): Promise<BridgeSession> {
    if (this.#closed) return Promise.reject(new Error('the HTTP bridge is closed'));
    return BridgeSession.open(this.connect, identity);
  }

  close(): void {
    this.#closed = true;
    for (const session of this.#sessions.values())
      session.then(
        (s) => s.close(),
        () => undefined,
      );
    this.#sessions.clear();
  }
}
