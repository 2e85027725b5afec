/**
 * The router's own client sessions: how it calls WAMP procedures (dynamic authenticators and
 * authorizers are procedures registered by components). A caller is a `router.session(realm)`,
 * the in-process `@switchboard/client` Session: it authenticates with an authmethod only
 * in-process connections offer, and the realm does not authorize it.
 */
import type { Args, Kwargs } from '@switchboard/schemas';
import type { Session } from '@switchboard/client';
import type { Principal } from './auth/types.js';

/** The authmethod of the router's own sessions; no listener offers it. */
export const ROUTER_AUTHMETHOD = 'x_switchboard_router';
/** The authmethod of `router.session(realm, { authrole })`; no listener offers it either. */
export const EMBEDDED_AUTHMETHOD = 'x_switchboard_embedded';

/** Who the router's own sessions are: `authprovider: 'router'` is what the realm does not authorize. */
export const ROUTER_PRINCIPAL: Principal = { authid: 'router', authrole: 'trusted', authprovider: 'router' };

/** Calls procedures in one realm as the router, over one session opened on first use (and again after it closed). */
export class InternalCaller {
  #session: Promise<Session> | undefined;

  constructor(private readonly open: () => Promise<Session>) {}

  /** Calls a procedure as the router; rejects with WampError for an ERROR, Error on timeout. */
  async call(procedure: string, args: Args, kwargs: Kwargs, timeoutMs: number): Promise<{ args: Args; kwargs: Kwargs }> {
    const session = await this.#open();
    const gaveUp = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // The call is canceled (CANCEL killnowait): its late answer is not waited for.
        gaveUp.abort();
        reject(new Error(`${procedure} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
    });
    try {
      const result = await Promise.race([session.callResult(procedure, args, kwargs, { signal: gaveUp.signal }), timeout]);
      return { args: result.args, kwargs: result.kwargs };
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    void this.#session?.then(
      (s) => s.leave(),
      () => undefined,
    );
  }

  #open(): Promise<Session> {
    const current = this.#session;
    if (current !== undefined) {
      // A session that ended (killed, say) is replaced by a new one.
      return current.then(
        (s) => (s.isOpen ? s : this.#reopen()),
        () => this.#reopen(),
      );
    }
    return this.#reopen();
  }

  #reopen(): Promise<Session> {
    const opening = this.open();
    this.#session = opening;
    // A failed join is not kept: the next call tries again.
    opening.catch(() => {
      if (this.#session === opening) this.#session = undefined;
    });
    return opening;
  }
}
