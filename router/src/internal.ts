/**
 * The router's own client session in a realm, over the in-process transport: how the router calls
 * WAMP procedures (dynamic authenticators and authorizers are procedures registered by
 * components). It authenticates with an authmethod only in-process connections offer, and the
 * realm does not authorize it.
 */
import type { Args, Kwargs } from '@switchboard/schemas';
import { MessageCode, WampError, isDict } from '@switchboard/schemas';
import type { Authenticator } from './auth/types.js';
import type { LocalClient } from './transports/local.js';

export const ROUTER_AUTHMETHOD = 'x_switchboard_router';

/** The authenticator behind ROUTER_AUTHMETHOD; only ever attached to in-process connections. */
export const ROUTER_AUTHENTICATORS: ReadonlyMap<string, Authenticator> = new Map([
  [ROUTER_AUTHMETHOD, { method: ROUTER_AUTHMETHOD, authenticate: () => ({ kind: 'accept', principal: { authid: 'router', authrole: 'trusted', authprovider: 'router' } }) }],
]);

interface Pending {
  resolve(result: { args: Args; kwargs: Kwargs }): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export type Connect = (onMessage: (message: unknown) => void, onClose: () => void) => LocalClient;

export class InternalCaller {
  #client: LocalClient | undefined;
  #ready: Promise<void> | undefined;
  #request = 0;
  readonly #pending = new Map<number, Pending>();
  #welcome: (() => void) | undefined;
  #abort: ((err: Error) => void) | undefined;

  constructor(
    private readonly realm: string,
    private readonly connect: Connect,
  ) {}

  /** Calls a procedure as the router; rejects with WampError for an ERROR, Error on timeout. */
  async call(procedure: string, args: Args, kwargs: Kwargs, timeoutMs: number): Promise<{ args: Args; kwargs: Kwargs }> {
    await this.#open();
    const request = ++this.#request;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(request);
        reject(new Error(`${procedure} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(request, { resolve, reject, timer });
      try {
        this.#client!.send([MessageCode.Call, request, {}, procedure, args, kwargs]);
      } catch (err) {
        // Closed, or arguments the connection cannot carry: this call fails, nothing was sent.
        clearTimeout(timer);
        this.#pending.delete(request);
        this.#request--; // never sent: the router wants request IDs in sequence
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  close(): void {
    this.#client?.close();
  }

  #open(): Promise<void> {
    this.#ready ??= new Promise<void>((resolve, reject) => {
      this.#welcome = resolve;
      this.#abort = reject;
      this.#client = this.connect(
        (m) => this.#onMessage(m),
        () => this.#onClose(),
      );
      this.#client.send([MessageCode.Hello, this.realm, { roles: { caller: { features: {} } }, authmethods: [ROUTER_AUTHMETHOD] }]);
    });
    return this.#ready;
  }

  #onMessage(message: unknown): void {
    if (!Array.isArray(message)) return;
    const code = message[0] as number;
    if (code === MessageCode.Welcome) return this.#welcome?.();
    if (code === MessageCode.Abort) return this.#abort?.(new Error(`router session refused: ${String(message[2])}`));
    // [RESULT, CALL.Request, …] and [ERROR, CALL, CALL.Request, …]
    const request = (code === MessageCode.Error ? message[2] : message[1]) as number;
    const pending = this.#pending.get(request);
    if (pending === undefined) return;
    this.#pending.delete(request);
    clearTimeout(pending.timer);
    if (code === MessageCode.Result) {
      pending.resolve({ args: Array.isArray(message[3]) ? message[3] : [], kwargs: isDict(message[4]) ? message[4] : {} });
    } else if (code === MessageCode.Error) {
      pending.reject(new WampError(String(message[4]), Array.isArray(message[5]) ? message[5] : [], isDict(message[6]) ? message[6] : {}));
    }
  }

  #onClose(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error('router session closed'));
    }
    this.#pending.clear();
    this.#client = undefined;
    this.#ready = undefined;
  }
}
